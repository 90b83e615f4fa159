"""docs/math.md §1: the loss and its gradient, positive and signed models, per coordinate.

Nothing depends on N: the loss is ``ℓ(x) = ½‖Ax − y‖²`` with ``x`` a vector of coordinates
``x_i = w_i^L`` (positive) or ``x_i = w_{+,i}^L − w_{−,i}^L`` (signed); sympy's chain rule on an
opaque ``ℓ`` gives ``∂ℒ/∂w_i = (∂ℓ/∂x_i) · ∂x_i/∂w_i``, and sympy's matrix calculus gives
``∇_x ℓ = Aᵀ(Ax − y) = g`` for symbolic sizes ``M × N``.
"""

from __future__ import annotations

import sympy as sp

from theory._core import CheckResult, Derivation, cached, psimp, zero_check

w = sp.Symbol("w", positive=True)
w_plus = sp.Symbol("w_plus", positive=True)
w_minus = sp.Symbol("w_minus", positive=True)
g = sp.Symbol("g", real=True)

_ell = sp.Function("ell")


def _replace_outer_derivative(expr, func, value):
    """Replace every (Subs of a) first derivative of the opaque ``func`` by ``value``."""

    def is_target(e):
        if isinstance(e, sp.Subs):
            e = e.expr
        return isinstance(e, sp.Derivative) and e.expr.func == func

    return expr.replace(is_target, lambda e: value)


@cached
def loss_gradient(Lv):
    """``∂ℒ/∂w_i`` of the positive model, from the chain rule on ``ℓ(w_i^L)``; ``g`` = ∂ℓ/∂x_i."""
    raw = sp.diff(_ell(w ** Lv), w)
    return psimp(_replace_outer_derivative(raw, _ell, g))


@cached
def signed_gradient(Lv):
    """``(∂ℒ/∂w_{+,i}, ∂ℒ/∂w_{−,i})`` of the signed model, ``x_i = w_+^L − w_−^L``."""
    x = w_plus ** Lv - w_minus ** Lv
    dp = psimp(_replace_outer_derivative(sp.diff(_ell(x), w_plus), _ell, g))
    dm = psimp(_replace_outer_derivative(sp.diff(_ell(x), w_minus), _ell, g))
    return dp, dm


@cached
def residual_gradient():
    """``∇_x ½‖Ax − y‖²`` for symbolic ``M × N`` (sympy matrix calculus) and the claim ``Aᵀ(Ax − y)``."""
    M, N = sp.symbols("M N", integer=True, positive=True)
    A = sp.MatrixSymbol("A", M, N)
    x = sp.MatrixSymbol("x", N, 1)
    y = sp.MatrixSymbol("y", M, 1)
    loss = sp.Rational(1, 2) * ((A * x - y).T * (A * x - y))
    return loss.diff(x), A.T * (A * x - y)


@cached
def signed_as_positive():
    """The signed model is the positive one with ``Ã = [A, −A]``: ``Ãᵀ(Ã(x₊; x₋) − y) = (g; −g)``."""
    M, N = sp.symbols("M N", integer=True, positive=True)
    A = sp.MatrixSymbol("A", M, N)
    xp = sp.MatrixSymbol("x_p", N, 1)
    xm = sp.MatrixSymbol("x_m", N, 1)
    y = sp.MatrixSymbol("y", M, 1)
    At = sp.BlockMatrix([[A, -A]])
    xe = sp.BlockMatrix([[xp], [xm]])
    ge = sp.block_collapse(At.T * (sp.block_collapse(At * xe) - y))
    g_user = A.T * (A * (xp - xm) - y)
    return ge, g_user


def derivations(Lv, model: str, dstr: str):
    def check_positive():
        res = zero_check([("dL/dw_i - L w_i^(L-1) g_i", loss_gradient(Lv) - Lv * w ** (Lv - 1) * g)])
        got, want = residual_gradient()
        m = sp.simplify(sp.expand(got - want))
        matrix_ok = m == 0 or bool(getattr(m, "is_ZeroMatrix", False))
        return CheckResult(res.verified and matrix_ok, "simplify to zero",
                           res.detail + f"; grad_x ½‖Ax−y‖² − Aᵀ(Ax−y) simplifies to {m} (symbolic M×N)")

    def check_signed():
        dp, dm = signed_gradient(Lv)
        r = zero_check([("dL/dw+ - L w+^(L-1) g", dp - Lv * w_plus ** (Lv - 1) * g),
                        ("dL/dw- + L w-^(L-1) g", dm + Lv * w_minus ** (Lv - 1) * g)])
        ge, gu = signed_as_positive()
        top = sp.simplify(sp.expand(ge.blocks[0, 0] - gu))
        bot = sp.simplify(sp.expand(ge.blocks[1, 0] + gu))
        ok = r.verified and all(getattr(b, "is_ZeroMatrix", False) or b == 0 for b in (top, bot))
        return CheckResult(bool(ok), "simplify to zero",
                           r.detail + f"; Ãᵀ(Ãx̃−y) − (g; −g) = ({top}; {bot}) with Ã = [A, −A]")

    out = [Derivation(
        name="loss_gradient",
        section="§1",
        statement=r"\nabla\mathcal L(w)_i = L\,w_i^{L-1} g_i(w),\quad g = A^\top(A w^{\odot L} - y)",
        expressions=(("dL/dw_i", loss_gradient(Lv)), ("grad_x loss", residual_gradient()[0])),
        assumptions=("w_i > 0", "L > 0", "A: M×N symbolic sizes"),
        depth=dstr, model=model, method="simplify to zero", _check=check_positive)]
    if model == "signed":
        out.append(Derivation(
            name="signed_gradient",
            section="§1",
            statement=r"\partial_{w_{\pm,i}}\mathcal L = \pm L\,w_{\pm,i}^{L-1} g_i,\quad"
                      r"\tilde A = [A, -A]\ \text{gives}\ \tilde A^\top(\tilde A\tilde x - y) = (g; -g)",
            expressions=(("dL/dw+", signed_gradient(Lv)[0]), ("dL/dw-", signed_gradient(Lv)[1])),
            assumptions=("w_± > 0",),
            depth=dstr, model=model, method="simplify to zero", _check=check_signed))
    return out
