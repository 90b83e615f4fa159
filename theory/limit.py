"""docs/math.md §4: ρ and β from the invariant at t → ∞, the potential F, the scalar limit
equation φ(r), and the radius–dual identity K(t).

Normalisation of F (used everywhere, exported as ``numerics._derived.F``): per coordinate
``F_L(z) = (z − (L/2) z^{2/L})/(L − 2)`` for ``L ≠ 2`` and ``F_2(z) = ½(z log z − z)``, the limit
of ``F_L`` as ``L → 2``; with it ``∇F(z) = log_L(z^{1/L})`` for every ``L``.  (The usual
``Σ z log z − z`` at ``L = 2`` is twice this; a positive multiple gives the same projection,
docs/math.md §4.1.)
"""

from __future__ import annotations

import sympy as sp

from theory._core import (CheckResult, Derivation, L, cached, eta_r, eta_tilde, eta_u, is_zero,
                          log_L, psimp, r0, zero_check)
from theory.flows import coordinate_sum, r, sigma, u, unorm, wn_field
from theory.invariant import h_eta_rate, s as s_sym
from theory.model import g

z = sp.Symbol("z", positive=True)
theta = sp.Symbol("theta", real=True)
r_inf = sp.Symbol("r_inf", positive=True)
s_inf = sp.Symbol("s_inf", real=True)
ubar_inf = sp.Symbol("ubar_inf", positive=True)
ubar0 = sp.Symbol("ubar0", positive=True)
rho_ = sp.Symbol("rho", positive=True)
K_ = sp.Symbol("K", positive=True)
w0 = sp.Symbol("w0", positive=True)
x = sp.Symbol("x", positive=True)
tau2 = sp.Symbol("tau2", positive=True)


def F_expr(Lv):
    """The per-coordinate potential (normalisation in the module docstring)."""
    if Lv == 2:
        return (z * sp.log(z) - z) / 2
    return (z - Lv * z ** (sp.Integer(2) / Lv) / 2) / (Lv - 2)


@cached
def grad_F(Lv):
    return psimp(sp.diff(F_expr(Lv), z))


@cached
def hess_F(Lv):
    return psimp(sp.diff(F_expr(Lv), z, 2))


@cached
def grad_F_inv(Lv):
    """Solve ``∇F(z) = θ`` for ``z``: through ``q = z^{(2−L)/L}`` (linear in q), or ``log z`` at L=2."""
    if Lv == 2:
        lz = sp.Symbol("lz", real=True)
        sol = sp.solve(sp.Eq(grad_F(2).subs(sp.log(z), lz), theta), lz)
        return sp.exp(sol[0])
    if Lv.is_Integer:  # the generic solution of the linear equation in q, specialised
        return grad_F_inv(L).subs(L, Lv)
    q = sp.Symbol("q", positive=True)  # q = z^{(2−L)/L}
    lhs = sp.powdenest(grad_F(Lv).subs(z, q ** (Lv / (2 - Lv))), force=True)
    sol = sp.solve(sp.Eq(sp.powsimp(sp.expand(lhs), force=True), theta), q)
    return psimp(sol[0] ** (Lv / (2 - Lv)))


@cached
def rho_beta(Lv):
    """Match ``∇F(x_∞) − ∇F(β) = K·h_η(∞)`` identically in ``ū_∞, ū_0``; solve for ``K`` and ``ρ``.

    ``x_∞^{1/L} = r_∞ ū_∞`` and ``β^{1/L} = w_0/ρ = r_0 ū_0/ρ``.
    """
    h_inf = log_L(ubar_inf * sp.exp(s_inf), Lv) - log_L(ubar0, Lv)
    D = log_L(r_inf * ubar_inf, Lv) - log_L(r0 * ubar0 / rho_, Lv) - K_ * h_inf
    if Lv == 2:
        D = sp.expand(sp.expand_log(D, force=True))
        K_sol = sp.solve(D.coeff(sp.log(ubar_inf)), K_)[0]
        D = sp.expand(D.subs(K_, K_sol))
        lr = sp.Symbol("lr", real=True)
        rho_sol = sp.exp(sp.solve(D.subs(sp.log(rho_), lr), lr)[0])
    else:
        p, q = sp.symbols("p q", positive=True)  # p = ū_∞^{2−L}, q = ū_0^{2−L}
        D = D.subs({ubar_inf: p ** (sp.Integer(1) / (2 - Lv)), ubar0: q ** (sp.Integer(1) / (2 - Lv))})
        D = sp.powdenest(sp.expand_power_base(D, force=True), force=True)
        D = sp.expand(sp.powsimp(sp.expand_power_base(sp.expand(D), force=True), force=True))
        D = sp.collect(D, [p, q], evaluate=False)
        K_sol = sp.solve(D[p], K_)[0]
        assert sp.Integer(1) not in D or psimp(D[sp.Integer(1)]) == 0
        # the ū_0 terms: K = (r_0/ρ)^{2−L}; x ↦ x^{2−L} is injective on x > 0: take logs
        rho_part = psimp(K_ - sp.expand(D[q] * (2 - Lv)))  # (r_0/ρ)^{2−L}, free of K
        lr = sp.Symbol("lr", real=True)
        eq = sp.Eq(sp.expand_log(sp.log(rho_part), force=True).subs(sp.log(rho_), lr),
                   sp.expand_log(sp.log(K_sol), force=True))
        rho_sol = sp.exp(sp.solve(eq, lr)[0])
    return psimp(K_sol), psimp(rho_sol)


def rho_expr():
    """``ρ`` with ``s_∞ = (r_∞² − r_0²)/(2η̃)`` written out, at a general radius ``r``."""
    _, rho_sol = rho_beta(L)
    return psimp(rho_sol.subs({r_inf: r, s_inf: (r ** 2 - r0 ** 2) / (2 * eta_tilde)}))


def beta_expr(Lv):
    return (w0 / rho_) ** Lv


# ----------------------------------------------------------------------------- §4 scalar equation / K(t)
def phi_term(Lv):
    """``x_i^{2/L}``: ``φ(r) = Σ_i x_i(r)^{2/L} − r²``."""
    return x ** (sp.Integer(2) / Lv)


def Phi_integrand(Lv):
    """Integrand of ``Φ`` in the variable ``τ²``: ``Φ(r) = ∫_{r0²}^{r²} (this) d(τ²)``."""
    return tau2 ** (Lv / sp.Integer(2)) * sp.exp((2 - Lv) * (tau2 - r0 ** 2) / (2 * eta_tilde)) / (2 * eta_tilde)


@cached
def Phi_closed_L2():
    return sp.factor_terms(sp.expand(sp.integrate(Phi_integrand(2), (tau2, r0 ** 2, r ** 2))))


@cached
def r2_rate(Lv):
    """``d(r²)/dt = 2 r ṙ`` along the WN flow, with σ = Σ ū_i ∇ℒ_i and ∇ℒ_i = L w_i^{L−1} g_i.

    Returned per coordinate as the coefficient of ``x_i g_i`` (``x_i = (r ū_i)^L``).
    """
    rdot, _ = wn_field()
    # σ's summand ū_i ∇ℒ_i with ‖u‖ = 1 (ū = u):
    summand = u * Lv * (r * u) ** (Lv - 1) * g
    per = psimp(2 * r * rdot.subs(sigma, summand))
    xi = (r * u) ** Lv
    return psimp(per / (xi * g))


def derivations(Lv, model: str, dstr: str):
    out = []

    def check_rho():
        Ks, rs = rho_beta(Lv)
        claim = (r0 / r_inf) * sp.exp(s_inf)
        h_inf = log_L(ubar_inf * sp.exp(s_inf), Lv) - log_L(ubar0, Lv)
        D = log_L(r_inf * ubar_inf, Lv) - log_L(r0 * ubar0 / rs, Lv) - Ks * h_inf
        ok_pos = bool(psimp(Ks).is_positive)
        r = zero_check([("ρ − (r0/r∞)e^{s∞}", rs - claim), ("∇F(x∞) − ∇F(β) − K h_η(∞)", D)])
        return CheckResult(r.verified and ok_pos, "simplify to zero",
                           r.detail + f"; K = {sp.sstr(Ks)} > 0: {ok_pos}")

    out.append(Derivation(
        "rho_beta", "§4",
        r"\nabla F(x_\infty) - \nabla F(\beta) = K\,h_\eta(\infty) \in \operatorname{range}(A^\top),\ "
        r"\rho = \frac{r_0}{r_\infty} e^{(r_\infty^2 - r_0^2)/(2\tilde\eta)},\ \beta = (w_0/\rho)^{\odot L}",
        (("K", rho_beta(Lv)[0]), ("rho", rho_beta(Lv)[1])),
        ("x∞ = (r∞ ū∞)^L", "w0 = r0 ū0", "s∞ = (r∞² − r0²)/(2η̃)"),
        dstr, model, "simplify to zero", check_rho))

    def check_F():
        gF = grad_F(Lv)
        hF = hess_F(Lv)
        inv = grad_F_inv(Lv)
        # the range of ∇F: all θ for L = 2; θ < 1/(L − 2) for L > 2, i.e. b = 1 + (2 − L)θ > 0
        b = sp.Symbol("b", positive=True)
        th = theta if Lv == 2 else (b - 1) / (2 - Lv)
        res = zero_check([("∇F(z) − log_L(z^{1/L})", gF - log_L(z ** (sp.Integer(1) / Lv), Lv)),
                          ("∇F(∇F⁻¹(θ)) − θ", psimp(gF.subs(z, inv.subs(theta, th))) - th)])
        pos = bool(hF.is_positive)
        return CheckResult(res.verified and pos, "simplify to zero",
                           res.detail + f"; F'' = {sp.sstr(hF)} positive for z > 0: {pos} (convex)")

    out.append(Derivation(
        "potential_F", "§4",
        r"F(z) = \sum_i \frac{z_i - \frac L2 z_i^{2/L}}{L-2}\ (L\ne2),\ \tfrac12\sum_i(z_i\log z_i - z_i)\ (L=2),\ "
        r"\nabla F(z) = \log_L(z^{1/L}),\ F'' > 0",
        (("F", F_expr(Lv)), ("∇F", grad_F(Lv)), ("F''", hess_F(Lv)), ("(∇F)^{-1}", grad_F_inv(Lv))),
        ("z > 0", "normalisation: F_2 = ½(z log z − z), the L → 2 limit of F_L"),
        dstr, model, "simplify to zero", check_F))

    if not Lv.is_Integer:
        def check_F_limit():
            lim = sp.limit(F_expr(Lv), Lv, 2)
            ok = is_zero(lim - F_expr(2))
            return CheckResult(ok, "limit", f"lim_(L→2) F_L(z) = {sp.sstr(lim)}")
        out.append(Derivation("potential_F_limit", "§4", r"\lim_{L\to2} F_L(z) = \tfrac12(z\log z - z)",
                              (("F_L", F_expr(Lv)),), ("z > 0",), dstr, model, "limit", check_F_limit))

    def check_phi():
        per = psimp(((r * u) ** Lv) ** (sp.Integer(2) / Lv))
        summed = coordinate_sum(per).subs(unorm, 1)
        return zero_check([("x_i^{2/L} − r² ū_i²", per - r ** 2 * u ** 2),
                           ("Σ x_i^{2/L} − r²  (‖ū‖ = 1)", summed - r ** 2)])

    out.append(Derivation(
        "limit_equation", "§4", r"\varphi(r) = \sum_i x_i(r)^{2/L} - r^2 = 0\ \text{at}\ r = r_\infty",
        (("x_i^{2/L}", phi_term(Lv)),), ("x∞ = (r∞ ū∞)^L", "‖ū∞‖ = 1"),
        dstr, model, "simplify to zero", check_phi))

    def check_K():
        tt = sp.Symbol("t", real=True)
        rf = sp.Function("r", positive=True)(tt)
        lam_y = sp.Function("lam_y", real=True)(tt)   # ⟨y, λ(t)⟩
        P, Qy = sp.symbols("P Qy", real=True)          # ⟨Ax, Ax − y⟩, ⟨y, Ax − y⟩
        Phi = sp.Integral(Phi_integrand(Lv), (tau2, r0 ** 2, rf ** 2))
        Kf = Phi - lam_y
        c = -h_eta_rate(Lv)  # ḣ_η = −c g, c = η_u L r^L e^{(2−L)s}
        c = c.subs(r, rf)
        s_val = (rf ** 2 - r0 ** 2) / (2 * eta_tilde)
        c = c.subs(s_sym, s_val)
        rate = r2_rate(Lv)  # d(r²)/dt = rate · ⟨x, g⟩ = rate · ⟨Ax, Ax − y⟩
        dK = sp.diff(Kf, tt).doit()
        dK = dK.subs(sp.Derivative(rf, tt), rate * P / (2 * rf))
        # λ̇ = −c(Ax − y) ⇒ d⟨y, λ⟩/dt = −c ⟨y, Ax − y⟩
        dK = dK.subs(sp.Derivative(lam_y, tt), -c * Qy)
        dK = dK.subs(eta_tilde, eta_r / eta_u)
        target = -c.subs(eta_tilde, eta_r / eta_u) * (P - Qy)  # ‖Ax − y‖² = P − Qy
        # ⟨x, g⟩ = ⟨x, Aᵀ(Ax − y)⟩ = ⟨Ax, Ax − y⟩ for symbolic sizes M × N
        M, N = sp.symbols("M N", integer=True, positive=True)
        A = sp.MatrixSymbol("A", M, N)
        xv = sp.MatrixSymbol("x", N, 1)
        yv = sp.MatrixSymbol("y", M, 1)
        inner = sp.simplify(sp.expand(xv.T * (A.T * (A * xv - yv)) - (A * xv).T * (A * xv - yv)))
        inner_ok = inner == 0 or bool(getattr(inner, "is_ZeroMatrix", False))
        res = zero_check([("d(r²)/dt + 2η_r L (per ⟨x,g⟩)", rate + 2 * eta_r * Lv),
                          ("dK/dt + c‖Ax − y‖²", (dK - target).subs(rf, r))])
        res = CheckResult(res.verified and inner_ok, res.method,
                          res.detail + f"; ⟨x, Aᵀ(Ax−y)⟩ − ⟨Ax, Ax−y⟩ = {inner}")
        if Lv == 2:
            res2 = zero_check([("Φ(r) − (r⁴ − r0⁴)/(4η̃)", Phi_closed_L2() - (r ** 4 - r0 ** 4) / (4 * eta_tilde))])
            return CheckResult(res.verified and res2.verified, "simplify to zero", res.detail + "; " + res2.detail)
        return res

    out.append(Derivation(
        "radius_dual_identity", "§4",
        r"K = \Phi(r) - \langle y,\lambda\rangle,\ \Phi(r) = \frac1{2\tilde\eta}\int_{r_0}^{r}\tau^L"
        r"e^{(2-L)(\tau^2-r_0^2)/(2\tilde\eta)}\,d(\tau^2),\ \dot K = -c\|Ax-y\|^2,\ "
        r"\frac{d r^2}{dt} = -2\eta_r L\langle Ax, Ax-y\rangle",
        (("Φ integrand (in τ²)", Phi_integrand(Lv)), ("d(r²)/dt / ⟨x,g⟩", r2_rate(Lv)))
        + ((("Φ at L=2", Phi_closed_L2()),) if Lv == 2 else ()),
        ("h_η = Aᵀλ, λ̇ = −c(Ax − y), c = η_u L r^L e^{(2−L)s}", "⟨x, g⟩ = ⟨Ax, Ax − y⟩", "‖u‖ = 1"),
        dstr, model, "simplify to zero", check_K))
    return out
