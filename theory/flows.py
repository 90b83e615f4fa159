"""docs/math.md §2–§3.2: the WN reparametrisation, its flow, and the identities of the flow.

Per coordinate ``i`` (docs/math.md §8), nothing depends on N: write ``ν = ‖u‖ = sqrt(u_i² + Q)`` with
``Q = Σ_{j≠i} u_j²`` independent of ``u_i``; then ``ℒ̃(r, u) = G(a, k)`` with ``a = w_i = r u_i/ν``
and ``k = r/ν`` (the other coordinates are ``w_j = k u_j``), where ``G`` is opaque.  Its partials
are ``G_a = ∂_iℒ`` and ``G_k = Σ_{j≠i} u_j ∂_jℒ = νσ − u_i ∂_iℒ`` (``σ = ⟨ū, ∇ℒ⟩`` by definition).
Sympy differentiates ``G(r u_i/ν, r/ν)`` by ``r`` and ``u_i``.  Sums over coordinates are taken
by :func:`coordinate_sum`, which knows only ``Σ u_i² = ν²``, ``Σ u_i ∂_iℒ = νσ`` and
``Σ (∂_iℒ)² = ‖∇ℒ‖²``.
"""

from __future__ import annotations

import sympy as sp

from theory._core import (LATEX_NAMES, CheckResult, Derivation, cached, eta_r, eta_u, is_zero, psimp,
                          zero_check)

r = sp.Symbol("r", positive=True)
u = sp.Symbol("u", positive=True)          # u_i
Q = sp.Symbol("Q", positive=True)          # Σ_{j≠i} u_j²
unorm = sp.Symbol("unorm", positive=True)  # ν = ‖u‖
grad = sp.Symbol("grad", real=True)        # ∂_iℒ(w)
sigma = sp.Symbol("sigma", real=True)      # ⟨ū, ∇ℒ⟩
gradnorm2 = sp.Symbol("gradnorm2", nonnegative=True)  # ‖∇ℒ‖²
c = sp.Symbol("c", positive=True)
ubar = sp.Symbol("ubar", positive=True)
wnorm2 = sp.Symbol("wnorm2", positive=True)
LATEX_NAMES.update({unorm: r"\|u\|", grad: r"\partial_i\mathcal{L}", sigma: r"\sigma",
                    gradnorm2: r"\|\nabla\mathcal{L}\|^{2}", ubar: r"\bar u_i", wnorm2: r"\|w\|^{2}", Q: r"Q_i"})

_G = sp.Function("G")
_Ga, _Gk = sp.symbols("G_a G_k", real=True)


def _partials(expr):
    """Replace ``∂G/∂(slot 0)`` by ``G_a`` and ``∂G/∂(slot 1)`` by ``G_k`` (Subs forms included)."""

    def target(e):
        d = e.expr if isinstance(e, sp.Subs) else e
        return isinstance(d, sp.Derivative) and d.expr.func == _G

    def value(e):
        if isinstance(e, sp.Subs):
            d = e.expr
            var = d.variables[0]
            slot = d.expr.args.index(var)
        else:
            slot = e.expr.args.index(e.variables[0])
        return (_Ga, _Gk)[slot]

    return expr.replace(target, value)


@cached
def wn_partials():
    """``(∂_rℒ̃, ∂_{u_i}ℒ̃)`` in terms of ``grad = ∂_iℒ``, ``σ``, ``r``, ``u_i`` and ``ν``."""
    nu = sp.sqrt(u ** 2 + Q)
    Ltilde = _G(r * u / nu, r / nu)
    subs = {_Ga: grad, _Gk: nu * sigma - u * grad}
    d_r = _partials(sp.diff(Ltilde, r)).subs(subs)
    d_u = _partials(sp.diff(Ltilde, u)).subs(subs)
    back = {Q: unorm ** 2 - u ** 2}
    return psimp(sp.simplify(d_r.subs(back))), sp.factor(psimp(sp.simplify(d_u.subs(back))))


@cached
def wn_field(eta_r_=eta_r, eta_u_=eta_u):
    """``(ṙ, u̇_i) = (−η_r ∂_rℒ̃, −η_u ∂_{u_i}ℒ̃)``."""
    d_r, d_u = wn_partials()
    return -eta_r_ * d_r, -eta_u_ * d_u


def coordinate_sum(expr):
    """``Σ_i expr`` for ``expr`` polynomial in ``(u_i, grad_i)`` with coordinate-free coefficients."""
    poly = sp.Poly(sp.expand(expr), u, grad)
    known = {(0, 0): None, (2, 0): unorm ** 2, (1, 1): unorm * sigma, (0, 2): gradnorm2}
    total = 0
    for (a, b), coeff in poly.terms():
        if (a, b) not in known or known[(a, b)] is None:
            raise ValueError(f"coordinate_sum: cannot sum the monomial u^{a} grad^{b}")
        total += coeff * known[(a, b)]
    return sp.simplify(total)


@cached
def norm_rate():
    """``d/dt ‖u‖² = 2 Σ u_i u̇_i``."""
    _, udot = wn_field()
    return coordinate_sum(2 * u * udot)


@cached
def loss_rate():
    """``dℒ̃/dt = ∂_rℒ̃ ṙ + Σ_i ∂_{u_i}ℒ̃ u̇_i`` per coordinate (before the sum) and summed."""
    d_r, d_u = wn_partials()
    rdot, udot = wn_field()
    per_coord = d_u * udot
    return d_r * rdot, per_coord, d_r * rdot + coordinate_sum(per_coord)


@cached
def ubar_rate(nu_value, eta_u_):
    """``d ū_i/dt = u̇_i/ν`` (ν constant) written in ``ū_i`` for ``‖u‖ = nu_value``."""
    _, udot = wn_field(eta_r, eta_u_)
    return psimp((udot / unorm).subs(u, unorm * ubar).subs(unorm, nu_value))


@cached
def r2_rates_wdot():
    """``ẇ_i = d/dt(r u_i)`` with ``‖u‖ = 1`` and rates ``(η_r, η_u) = (r², 1)``."""
    rf = sp.Function("r", positive=True)(sp.Symbol("t"))
    uf = sp.Function("u", positive=True)(sp.Symbol("t"))
    rdot, udot = wn_field(r ** 2, sp.Integer(1))
    rdot, udot = rdot.subs(unorm, 1), udot.subs(unorm, 1)
    wdot = sp.diff(rf * uf, sp.Symbol("t"))
    wdot = wdot.subs({sp.Derivative(rf, sp.Symbol("t")): rdot.subs(r, rf),
                      sp.Derivative(uf, sp.Symbol("t")): udot.subs({r: rf, u: uf})})
    return psimp(wdot.subs({rf: r, uf: u}))


@cached
def gf_wdot():
    return -grad


def derivations(Lv, model: str, dstr: str):
    d_r, d_u = wn_partials()
    rdot, udot = wn_field()

    def check_flow():
        return zero_check([
            ("∂_rℒ̃ − σ", d_r - sigma),
            ("∂_{u_i}ℒ̃ − (r/ν)(∇ℒ_i − ū_i σ)", d_u - (r / unorm) * (grad - (u / unorm) * sigma)),
        ], "chain rule on ℒ(r u/‖u‖)")

    def check_scaling():
        a = ubar_rate(c, eta_u)
        b = ubar_rate(sp.Integer(1), eta_u / c ** 2)
        return zero_check([("dū/dt[‖u‖=c, η_u] − dū/dt[‖u‖=1, η_u/c²]", a - b)],
                          "ṙ = −η_r σ depends on ū only")

    def check_norm():
        return zero_check([("d‖u‖²/dt", norm_rate())], "Σu_i² = ν², Σu_i∂_iℒ = νσ")

    def check_loss():
        r_term, per, total = loss_rate()
        sos = -eta_r * d_r ** 2 - eta_u * d_u ** 2
        ok1 = is_zero(r_term + eta_r * d_r ** 2)
        ok2 = is_zero(per - (-eta_u * d_u ** 2))
        explicit = -eta_r * sigma ** 2 - eta_u * r ** 2 * (gradnorm2 - sigma ** 2) / unorm ** 2
        ok3 = is_zero(total - explicit)
        cs = coordinate_sum(sp.expand((grad - u * sigma / unorm) ** 2))  # = ‖∇ℒ‖² − σ² ≥ 0
        ok4 = is_zero(cs - (gradnorm2 - sigma ** 2))
        ok = ok1 and ok2 and ok3 and ok4 and eta_r.is_positive and eta_u.is_positive
        return CheckResult(bool(ok), "sum of squares",
                           f"dℒ̃/dt = −η_r(∂_rℒ̃)² − η_u Σ(∂_{{u_i}}ℒ̃)² = {sp.sstr(explicit)}, "
                           f"with ‖∇ℒ‖² − σ² = Σ(∂_iℒ − ū_iσ)² ≥ 0 and η_r, η_u > 0")

    def check_r2():
        return zero_check([("ẇ_i + ‖w‖² ∂_iℒ", r2_rates_wdot() + coordinate_sum(r ** 2 * u ** 2).subs(unorm, 1) * grad)],
                          "‖w‖² = r² Σū_i² = r²")

    return [
        Derivation("wn_flow", "§2.2",
                   r"\dot r = -\eta_r\,\partial_r\tilde{\mathcal L} = -\eta_r\sigma,\ "
                   r"\dot u_i = -\eta_u\frac{r}{\|u\|}\big(\nabla\mathcal L_i - \bar u_i\sigma\big),\ "
                   r"\sigma = \langle\bar u,\nabla\mathcal L\rangle",
                   (("∂_rℒ̃", d_r), ("∂_{u_i}ℒ̃", d_u), ("ṙ", rdot), ("u̇_i", udot)),
                   ("r > 0, u_i > 0", "ν = ‖u‖ general", "η_r, η_u > 0"),
                   dstr, model, "simplify to zero", check_flow),
        Derivation("wn_scaling", "§2.2",
                   r"u_0 \to c\,u_0 \ \equiv\ \eta_u \to \eta_u/c^2 \ \text{for}\ (r,\bar u)",
                   (("dū/dt, ‖u‖=c", ubar_rate(c, eta_u)),),
                   ("‖u‖ constant (conserved)", "c > 0"),
                   dstr, model, "simplify to zero", check_scaling),
        Derivation("r2_rates", "§2.3", r"(\eta_r,\eta_u) = (r^2, 1):\ \dot w = -\|w\|^2\nabla\mathcal L(w)",
                   (("ẇ_i", r2_rates_wdot()),), ("‖u‖ = 1",),
                   dstr, model, "simplify to zero", check_r2),
        Derivation("norm_conserved", "§3.1", r"\frac{d}{dt}\|u\|^2 = 2\langle u,\dot u\rangle = 0",
                   (("d‖u‖²/dt", norm_rate()),), ("u̇ from the WN flow",),
                   dstr, model, "simplify to zero", check_norm),
        Derivation("loss_decreases", "§3.2",
                   r"\frac{d}{dt}\tilde{\mathcal L} = -\eta_r(\partial_r\tilde{\mathcal L})^2"
                   r" - \eta_u\|\nabla_u\tilde{\mathcal L}\|^2 \le 0",
                   (("dℒ̃/dt", loss_rate()[2]),), ("η_r, η_u > 0",),
                   dstr, model, "sum of squares", check_loss),
    ]
