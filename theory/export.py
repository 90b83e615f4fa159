"""Generate ``numerics/_derived.py`` from the derived sympy expressions (the single crossing
point from symbolic to numeric).

Run ``python -m theory.export`` to regenerate the checked-in file; ``python -m theory.export
--check`` exits 1 when the checked-in file is stale.  Every function body is printed from an
expression produced by a derivation in ``theory/`` (never typed by hand); functions with an
``L = 2`` case print the ``L = 2`` derivation in an ``if L == 2`` branch.  The output is plain
Python: ``lib`` (``numpy``, ``mpmath`` or an mpmath context) supplies ``exp``/``log``
(``sqrt``, ``quad`` where noted).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import sympy as sp
from sympy.codegen.cfunctions import expm1
from sympy.printing.str import StrPrinter

from theory import bounds, flows, invariant, jacobian, limit, model
from theory._core import L, is_zero, log_L

TARGET = Path(__file__).resolve().parent.parent / "numerics" / "_derived.py"
TWO = sp.Integer(2)


class LibPrinter(StrPrinter):
    """Plain-Python printer: ``exp``/``log``/``sqrt`` go through ``lib``; no inexact constants."""

    def _print_exp(self, expr):
        return f"lib.exp({self._print(expr.args[0])})"

    def _print_log(self, expr):
        if len(expr.args) != 1:
            raise ValueError(f"LibPrinter: log with a base is not supported: {expr}")
        return f"lib.log({self._print(expr.args[0])})"

    def _print_Exp1(self, expr):
        return "lib.exp(1)"

    def _print_Pow(self, expr, rational=False):
        if expr.exp == sp.S.Half:
            return f"lib.sqrt({self._print(expr.base)})"
        if expr.exp == -sp.S.Half:
            return f"1/lib.sqrt({self._print(expr.base)})"
        return super()._print_Pow(expr, rational)

    def _print_Rational(self, expr):
        q = int(expr.q)
        if q & (q - 1):  # not a power of two: p/q would be an inexact binary float
            raise ValueError(f"LibPrinter: the constant {expr} has no exact binary value; "
                             "rewrite the expression so that it divides by an integer")
        return f"{expr.p}/{expr.q}"

    def _print_Float(self, expr):
        raise ValueError(f"LibPrinter: a float constant {expr} reached the printer; derive exactly")

    def _print_expm1(self, expr):
        return f"lib.expm1({self._print(expr.args[0])})"

    def _print_Function(self, expr):
        raise ValueError(f"LibPrinter: no numeric rendering for {expr.func}")

    def _print_Symbol(self, expr):
        return expr.name


def to_code(expr) -> str:
    return LibPrinter().doprint(expr)


@dataclass(frozen=True)
class Exported:
    name: str
    params: tuple  # without 'lib'
    doc: str
    expr: sp.Expr
    expr_L2: sp.Expr | None = None  # printed under ``if L == 2``
    tail: str | None = None  # hand-written control flow (only for Phi's quadrature call)


def _rename(expr, mapping):
    return expr.xreplace({old: sp.Symbol(new) for old, new in mapping.items()})


def _sym(expr):
    """Rename every symbol to a plain symbol of the same name (assumptions off)."""
    return expr.xreplace({s: sp.Symbol(s.name) for s in expr.free_symbols})


# -- log forms (docs/math.md §3.3, §4): derived from the expressions above, each checked ------------
_log_w0, _log_rho, _log_b, _d, _n = sp.symbols("log_w0 log_rho log_b d n", real=True)


def _check(name, ok):
    if not ok:
        raise AssertionError(f"theory.export: the derivation check of {name} failed")


def log_rho_expr():
    """``log ρ`` expanded from :func:`theory.limit.rho_expr` (no exponential formed)."""
    e = sp.expand_log(sp.log(limit.rho_expr()), force=True)
    _check("log_rho", is_zero(sp.exp(e) - limit.rho_expr()))
    return e


def log_beta_expr(Lv):
    """``log β = L (log w0 − log ρ)`` from :func:`theory.limit.beta_expr`."""
    e = sp.factor(sp.expand_log(sp.log(limit.beta_expr(Lv)), force=True)
                  .subs({sp.log(limit.w0): _log_w0, sp.log(limit.rho_): _log_rho}))
    back = limit.beta_expr(Lv).subs({limit.w0: sp.exp(_log_w0), limit.rho_: sp.exp(_log_rho)})
    _check("log_beta", is_zero(sp.exp(e) - back))
    return e


def log_alpha_eff_expr():
    """``log α_eff``: α_eff^L is the uniform β (w0 = r0/√n per coordinate), docs/math.md §5."""
    alpha = limit.beta_expr(L).subs(limit.w0, limit.r0 / sp.sqrt(_n_pos)) ** (1 / L)
    e = sp.expand_log(sp.log(sp.powdenest(alpha, force=True)), force=True).subs(sp.log(limit.rho_), _log_rho)
    e = e.subs(_n_pos, _n)
    back = sp.exp(e).subs({_log_rho: sp.log(limit.rho_), _n: _n_pos}) ** L
    _check("log_alpha_eff", is_zero(back - limit.beta_expr(L).subs(limit.w0, limit.r0 / sp.sqrt(_n_pos))))
    return e


_n_pos = sp.Symbol("n", positive=True)


def h_log_expr(Lv):
    """``log_L(a) − log_L(b)`` written through ``d = log a − log b`` and ``log b``:
    ``b^{2−L} expm1((2−L) d)/(2−L)`` (``d`` at ``L = 2``) — the invariant of docs/math.md §3.3 and
    §3.4 without cancellation and without forming ``e^s``.  Checked against :func:`log_L`."""
    a, b = sp.exp(_log_b + _d), sp.exp(_log_b)
    direct = log_L(a, Lv) - log_L(b, Lv)
    if Lv == 2:
        e = sp.expand(sp.expand_log(direct, force=True))
        _check("h_log (L = 2)", e == _d)
        return e
    e = sp.exp((2 - Lv) * _log_b) * expm1((2 - Lv) * _d) / (2 - Lv)
    _check("h_log", is_zero(e.rewrite(sp.exp) - direct))
    return e


def wn_log_u_dot_expr():
    """``v̇_i = u̇_i/u_i`` for ``v = log u`` (the float64 integrator's coordinates), written in
    ``w_i = r u_i/‖u‖`` so that nothing divides by a tiny ``u_i``: ``−η_u (r/‖u‖²)(L r w_i^{L−2} g_i − σ)``.
    Derived from :func:`theory.flows.wn_field` with ``∇ℒ_i = L w_i^{L−1} g_i``; checked by sympy."""
    w_, unorm2 = sp.Symbol("w", positive=True), sp.Symbol("unorm2", positive=True)
    _, udot = flows.wn_field()
    raw = (udot / flows.u).subs(flows.grad, model.loss_gradient(L).subs(model.w, w_))
    raw = raw.subs(flows.u, w_ * flows.unorm / flows.r).subs(flows.unorm, sp.sqrt(unorm2))
    e = sp.powsimp(sp.factor(sp.powsimp(sp.expand(raw), force=True)), force=True)
    _check("wn_log_u_dot", is_zero(e - raw))
    return e


def exported() -> list[Exported]:
    """The exported functions: name, parameters, docstring, derived expression(s)."""
    rdot, udot = flows.wn_field()
    out = [
        Exported("loss_grad", ("w", "g", "L"),
                 "∂ℒ/∂w_i = L w_i^{L−1} g_i (chain rule on ℓ(w^L), theory.model.loss_gradient).",
                 model.loss_gradient(L)),
        Exported("wn_r_dot", ("sigma", "eta_r"),
                 "ṙ = −η_r ∂_rℒ̃ = −η_r σ, σ = ⟨ū, ∇ℒ⟩ (theory.flows.wn_field).", rdot),
        Exported("wn_u_dot", ("r", "u", "unorm", "grad", "sigma", "eta_u"),
                 "u̇_i = −η_u ∂_{u_i}ℒ̃ = −η_u (r/‖u‖)(∇ℒ_i − ū_i σ); grad = ∇ℒ_i, unorm = ‖u‖.", udot),
        Exported("wn_log_u_dot", ("r", "w", "g", "sigma", "unorm2", "eta_u", "L"),
                 "v̇_i = u̇_i/u_i for v = log u, in w_i = r u_i/‖u‖ (no division by u_i): unorm2 = ‖u‖²,\n"
                 "    g = Aᵀ(Ax − y), σ = ⟨ū, ∇ℒ⟩ (theory.flows.wn_field, ∇ℒ_i = L w_i^{L−1} g_i).",
                 wn_log_u_dot_expr(), wn_log_u_dot_expr().subs(L, TWO)),
        Exported("r2_w_dot", ("wnorm2", "grad"),
                 "ẇ_i = −‖w‖² ∇ℒ_i under the rates (r², 1) (‖w‖ = r; theory.flows.r2_rates_wdot).",
                 flows.r2_rates_wdot().subs(flows.r, sp.sqrt(sp.Symbol("wnorm2", positive=True)))),
        Exported("gf_w_dot", ("grad",), "ẇ_i = −∇ℒ_i (plain gradient flow).", flows.gf_wdot()),
        Exported("log_L", ("v", "L"),
                 "The L-logarithm (v^{2−L} − 1)/(2 − L); log v at L = 2.",
                 log_L(sp.Symbol("v", positive=True), L), log_L(sp.Symbol("v", positive=True), TWO)),
        Exported("s_of_r", ("r", "r0", "eta_tilde"), "s = (r² − r0²)/(2η̃).", invariant.s_of_r_expr()),
        Exported("h_eta", ("ubar", "ubar0", "s", "L"),
                 "The invariant h_η = log_L(ū e^s) − log_L(ū0) (per coordinate).",
                 _rename(invariant.h_eta_expr(L), {flows.u: "ubar"}),
                 _rename(sp.expand_log(invariant.h_eta_expr(TWO), force=True), {flows.u: "ubar"})),
        Exported("h_eta_rate", ("r", "s", "L", "eta_u"),
                 "The scalar c with ḣ_η = c·g, derived as the simplified ratio ḣ_η,i/g_i "
                 "(= −η_u L r^L e^{(2−L)s}).",
                 invariant.h_eta_rate(L), invariant.h_eta_rate(TWO)),
        Exported("rho", ("r", "r0", "eta_tilde"),
                 "Magnification ρ = (r0/r) exp((r² − r0²)/(2η̃)), solved from ∇F(x) − ∇F(β) ∝ h_η.",
                 limit.rho_expr()),
        Exported("beta", ("w0", "rho", "L"), "Effective initialisation β = (w0/ρ)^L.", limit.beta_expr(L)),
        Exported("log_rho", ("r", "r0", "eta_tilde"),
                 "log ρ = log(r0/r) + (r² − r0²)/(2η̃): the logarithm of rho, expanded (no exp formed).",
                 log_rho_expr()),
        Exported("log_beta", ("log_w0", "log_rho", "L"), "log β = L (log w0 − log ρ), the logarithm of beta.",
                 log_beta_expr(L)),
        Exported("log_alpha_eff", ("r0", "n", "log_rho"),
                 "log α_eff = log r0 − ½ log n − log ρ, α_eff^L = β for the uniform w0 = r0/√n.",
                 log_alpha_eff_expr()),
        Exported("h_log", ("d", "log_b", "L"),
                 "log_L(a) − log_L(b) from d = log a − log b and log b: b^{2−L} expm1((2−L) d)/(2−L)\n"
                 "    (d at L = 2); the invariant h without cancellation (h_η: a = ū e^s, b = ū0).",
                 h_log_expr(L), h_log_expr(TWO)),
        Exported("jac_dsigma_dr", ("sigma", "Sq", "r", "L"),
                 "∂σ/∂r of σ = (L/r)⟨x, g⟩ in the (r, v = log u) coordinates; Sq = Σ x_k (g_k + (Hx)_k), H = AᵀA\n"
                 "    (theory.jacobian; checked against sympy's Jacobian of the field).",
                 jacobian.dsigma_dr()),
        Exported("jac_dsigma_dv", ("x", "g", "Hx", "Sq", "p", "r", "L"),
                 "∂σ/∂v_j (elementwise in j): x = x_j, g = g_j, Hx = (Hx)_j, p = p_j = ū_j² (theory.jacobian).",
                 jacobian.dsigma_dv()),
        Exported("jac_da_dv", ("ul2", "H_ij", "x_j", "Hx_i", "p_j", "a_i", "delta_ij", "L"),
                 "∂a_i/∂v_j of a_i = ū_i^{L−2} g_i: ul2 = ū_i^{L−2}, H_ij = (AᵀA)_ij, delta_ij = [i = j]\n"
                 "    (broadcast: i along rows, j along columns; theory.jacobian).",
                 jacobian.da_dv_expr()),
        Exported("jac_da_dr", ("ul2", "Hx", "r", "L"), "∂a_i/∂r: ul2 = ū_i^{L−2}, Hx = (Hx)_i (theory.jacobian).",
                 jacobian.da_dr_expr()),
        Exported("jac_rr", ("e_r", "de_r_dr", "sigma", "dsig_dr"), "∂ṙ/∂r of ṙ = −η_r σ (e_r = η_r, de_r_dr = ∂η_r/∂r).",
                 jacobian.J_rr()),
        Exported("jac_rv", ("e_r", "dsig_dv"), "∂ṙ/∂v_j.", jacobian.J_rv()),
        Exported("jac_vr", ("K", "dK_dr", "a", "da_dr", "sigma", "dsig_dr", "r", "L"),
                 "∂v̇_i/∂r of v̇_i = −K (L r^{L−1} a_i − σ), K = η_u r/‖u‖²; ∂K/∂r by the rates: K/r (constant,\n"
                 "    (r², 1)), −K/r (plain GF) (theory.jacobian).",
                 jacobian.J_vr()),
        Exported("jac_vv", ("K", "dK_dv", "a", "da_dv", "sigma", "dsig_dv", "r", "L"),
                 "∂v̇_i/∂v_j; dK_dv = ∂K/∂v_j: −2K p_j (constant, (r², 1)), 0 (plain GF) (theory.jacobian).",
                 jacobian.J_vv()),
        Exported("grad_F", ("z", "L"), "∇F(z) = log_L(z^{1/L}) (derivative of F below).",
                 limit.grad_F(L), limit.grad_F(TWO)),
        Exported("grad_F_inv", ("theta", "L"),
                 "z = (∇F)^{-1}(θ); for L > 2 the range of ∇F is θ < 1/(L − 2).",
                 limit.grad_F_inv(L), limit.grad_F_inv(TWO)),
        Exported("F", ("z", "L"),
                 "Per-coordinate term of the potential F of docs/math.md §4 (F(z) = Σ_i of this).\n\n"
                 "    Normalisation: F_L(z) = (z − (L/2) z^{2/L})/(L − 2) for L ≠ 2 and\n"
                 "    F_2(z) = ½(z log z − z) (the L → 2 limit of F_L, half of the usual negative entropy z log z − z; docs/math.md §4.1),\n"
                 "    so that ∇F(z) = log_L(z^{1/L}) for every L.",
                 limit.F_expr(L), limit.F_expr(TWO)),
        Exported("F_hess", ("z", "L"), "F''(z) > 0 per coordinate (convexity).",
                 limit.hess_F(L), limit.hess_F(TWO)),
        Exported("l1_bound_L2", ("l1_opt", "S", "n", "alpha_eff"),
                 "ℓ1-gap bound for L = 2, α_eff < 1: S − ‖z*‖₁ ≤ this (theory.bounds.chain).",
                 bounds.chain(TWO)[1]),
        Exported("l1_bound_Lgt2", ("S", "n", "alpha_eff", "L"),
                 "ℓ1-gap bound for L > 2: S − ‖z*‖₁ ≤ this (theory.bounds.chain).",
                 bounds.chain(L)[1]),
        Exported("phi_term", ("x", "L"),
                 "x_i^{2/L}; the limit equation is φ(r) = Σ_i x_i(r)^{2/L} − r² = 0.",
                 limit.phi_term(L)),
        Exported("r2_dot", ("xg", "eta_r", "L"),
                 "d(r²)/dt = −2η_r L ⟨x, g⟩, xg = ⟨x, g⟩ = ⟨Ax, Ax − y⟩.",
                 limit.r2_rate(L) * sp.Symbol("xg")),
        Exported("Phi_integrand", ("tau2", "r0", "eta_tilde", "L"),
                 "Integrand of Φ in the variable τ²: Φ(r) = ∫_{r0²}^{r²} Phi_integrand(τ²) d(τ²).",
                 limit.Phi_integrand(L)),
        Exported("Phi", ("r", "r0", "eta_tilde", "L"),
                 "Φ(r) of the radius–dual identity K = Φ(r) − ⟨y, λ⟩: closed form (r⁴ − r0⁴)/(4η̃) at\n"
                 "    L = 2; otherwise lib.quad (mpmath) of Phi_integrand over [r0², r²].",
                 None, limit.Phi_closed_L2(),
                 tail="quad = getattr(lib, 'quad', None)\n"
                      "if quad is None:\n"
                      "    raise ValueError('Phi: for L != 2 pass lib=mpmath (it integrates with lib.quad), '\n"
                      "                     'or integrate Phi_integrand with scipy.integrate.quad')\n"
                      "return quad(lambda tau2: Phi_integrand(tau2, r0, eta_tilde, L, lib), [r0**2, r**2])"),
    ]
    for e in out:
        for ex in (e.expr, e.expr_L2):
            if ex is None:
                continue
            extra = {s.name for s in ex.free_symbols} - set(e.params)
            if extra:
                raise ValueError(f"export {e.name}: expression uses {sorted(extra)} not among {e.params}")
    return out


HEADER = '''"""Numeric forms of the derived expressions of ``theory/`` (docs/math.md §1–§5).

generated by theory/export.py from the derivations; do not edit
(regenerate with ``python -m theory.export``).

Each function is elementwise: arguments broadcast like numpy arrays, or are mpmath scalars.
``lib`` is ``numpy``, ``mpmath`` or an mpmath context and supplies ``exp`` and ``log``.  With an
mpmath ``lib`` the depth ``L`` is converted to ``lib.mpf`` so that exponents such as ``2/L`` are
exact at the working precision.  No sympy is imported here.
"""

# generated by theory/export.py from the derivations; do not edit

__all__ = {names!r}


def _depth(L, lib):
    """The depth as a number of ``lib``'s kind (mpf for mpmath, unchanged for numpy)."""
    if getattr(lib, "__name__", None) == "numpy":  # (numpy's module __getattr__ makes a miss slow)
        return L
    mpf = getattr(lib, "mpf", None)
    return mpf(L) if mpf is not None else L
'''


def _indent(text, n=4):
    return "\n".join((" " * n + line) if line else line for line in text.splitlines())


def render() -> str:
    funcs = exported()
    parts = [HEADER.format(names=[f.name for f in funcs])]
    for f in funcs:
        args = ", ".join(f.params + ("lib",))
        body = []
        if "L" in f.params:
            body.append("L = _depth(L, lib)")
        if f.expr_L2 is not None:
            body.append("if L == 2:")
            body.append(f"    return {to_code(_sym(f.expr_L2))}")
        if f.tail is not None:
            body.extend(f.tail.splitlines())
        else:
            body.append(f"return {to_code(_sym(f.expr))}")
        parts.append(f'\n\ndef {f.name}({args}):\n    """{f.doc}"""\n' + _indent("\n".join(body)) + "\n")
    return "".join(parts)


def write(path: Path = TARGET) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m theory.export", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if numerics/_derived.py is stale")
    ap.add_argument("--output", type=Path, default=TARGET)
    a = ap.parse_args(argv)
    text = render()
    if a.check:
        current = a.output.read_text(encoding="utf-8") if a.output.exists() else ""
        if current != text:
            print(f"{a.output} is stale: run python -m theory.export", file=sys.stderr)
            return 1
        print(f"{a.output} is up to date")
        return 0
    a.output.write_text(text, encoding="utf-8")
    print(f"wrote {a.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
