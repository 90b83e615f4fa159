"""docs/math.md §3.3–§3.5: the invariant ``h_η`` with the L-logarithm, and plain GF's invariant.

Per coordinate with ``u_i(t)``, ``r(t)``, ``s(t)`` as functions of time (``‖u‖ = 1``, which loses no
generality by ``wn_scaling``) and ``g_i``, ``σ`` opaque.  ``ḣ ∈ range(Aᵀ)`` becomes: the ratio
``ḣ_i / g_i`` does not depend on ``u_i`` (``g = Aᵀ(…)`` and ``range(Aᵀ)`` is closed under scalars).
"""

from __future__ import annotations

import sympy as sp

from theory._core import (CheckResult, Derivation, cached, eta_r, eta_tilde, eta_u, is_zero,
                          log_L, psimp, r0, zero_check)
from theory.flows import grad, r, u, unorm, wn_field, wnorm2
from theory.model import g

s = sp.Symbol("s", real=True)
ubar0 = sp.Symbol("ubar0", positive=True)
v = sp.Symbol("v", positive=True)
w = sp.Symbol("w", positive=True)
w0 = sp.Symbol("w0", positive=True)
_t = sp.Symbol("t", real=True)


def s_of_r_expr():
    """``s = (r² − r₀²)/(2η̃)``."""
    return (r ** 2 - r0 ** 2) / (2 * eta_tilde)


def h_eta_expr(Lv, sign=1):
    """``h_η = log_L(ū e^{s}) − log_L(ū₀)`` (``sign=-1`` is the deliberately wrong ``e^{−s}``)."""
    return log_L(u * sp.exp(sign * s), Lv) - log_L(ubar0, Lv)


@cached
def h_eta_rate(Lv, sign=1):
    """The scalar ``ḣ_η,i / g_i`` derived by differentiating ``h_η`` along the WN flow (‖u‖ = 1)."""
    uf = sp.Function("u", positive=True)(_t)
    rf = sp.Function("r", positive=True)(_t)
    sf = sp.Function("s", real=True)(_t)
    h = h_eta_expr(Lv, sign).subs({u: uf, s: sf})
    hdot = sp.diff(h, _t)
    rdot, udot = wn_field()
    rdot, udot = rdot.subs(unorm, 1), udot.subs(unorm, 1)
    sdot = sp.diff(((rf ** 2 - r0 ** 2) / (2 * eta_tilde)), _t)
    sdot = sdot.subs(sp.Derivative(rf, _t), rdot.subs(r, rf))
    hdot = hdot.subs({sp.Derivative(sf, _t): sdot, sp.Derivative(uf, _t): udot.subs({u: uf, r: rf})})
    hdot = hdot.subs({uf: u, rf: r, sf: s})
    hdot = hdot.subs(grad, Lv * (r * u) ** (Lv - 1) * g)  # ∇ℒ_i = L w_i^{L−1} g_i, w_i = r ū_i
    hdot = hdot.subs(eta_tilde, eta_r / eta_u)
    return psimp(sp.expand(hdot / g))


def h_eta_rate_claim(Lv):
    return -eta_u * Lv * r ** Lv * sp.exp((2 - Lv) * s)


@cached
def gf_rate(Lv, wnorm2_factor=False):
    """``ḣ/g`` for ``h = log_L(w) − log_L(w₀)`` along plain GF (or rates (r², 1): ẇ = −‖w‖²∇ℒ)."""
    wf = sp.Function("w", positive=True)(_t)
    h = log_L(wf, Lv) - log_L(w0, Lv)
    k = wnorm2 if wnorm2_factor else 1
    hdot = sp.diff(h, _t).subs(sp.Derivative(wf, _t), -k * Lv * wf ** (Lv - 1) * g).subs(wf, w)
    return psimp(sp.expand(hdot / g))


def check_invariant(Lv, sign=1) -> CheckResult:
    """The claim of §3.3: ``ḣ_i/g_i`` is coordinate-free (no ``ū_i``, ``g_i``; σ is a common
    scalar but enters only through ``ṙ``, which must cancel) and equals ``−η_u L r^L e^{(2−L)s}``.
    """
    rate = h_eta_rate(Lv, sign)
    allowed = {r, s, eta_u, eta_r, eta_tilde, r0} | ({Lv} if isinstance(Lv, sp.Symbol) else set())
    stray = sorted(str(x) for x in rate.free_symbols - allowed)
    free = not stray and is_zero(sp.diff(rate, u))
    equal = is_zero(rate - h_eta_rate_claim(Lv))
    detail = (f"ḣ_i/g_i = {sp.sstr(rate)}; coordinate-free: {free}"
              + (f" (depends on {', '.join(stray)})" if stray else "")
              + f"; equals −η_u L r^L e^((2−L)s): {equal}")
    return CheckResult(bool(free and equal), "simplify to zero", detail)


def derivations(Lv, model: str, dstr: str):
    out = [Derivation(
        "invariant_h_eta", "§3.3",
        r"h_\eta = \log_L(\bar u e^{s}) - \log_L(\bar u_0),\ s = \frac{r^2 - r_0^2}{2\tilde\eta},\ "
        r"\dot h_\eta = -\eta_u L r^L e^{(2-L)s}\, g(w) \in \operatorname{range}(A^\top)",
        (("h_eta", h_eta_expr(Lv)), ("ḣ/g", h_eta_rate(Lv))),
        ("‖u‖ = 1", "η̃ = η_r/η_u", "ū_i, r > 0") + (("L = 2: log form substituted directly",) if Lv == 2 else ()),
        dstr, model, "simplify to zero", lambda: check_invariant(Lv))]
    if not Lv.is_Integer:
        def check_limit():
            lim = sp.limit(log_L(v, Lv), Lv, 2)
            lim_rate = sp.limit(h_eta_rate(Lv), Lv, 2)
            direct = check_invariant(sp.Integer(2))  # L = 2 substituted into the log form
            ok = is_zero(lim - sp.log(v)) and is_zero(lim_rate - h_eta_rate(sp.Integer(2))) and direct.verified
            return CheckResult(bool(ok), "limit",
                               f"lim_(L→2) log_L(v) = {lim}; lim_(L→2) ḣ/g = {lim_rate}; "
                               f"at L = 2 from the log form directly: {direct.detail}")
        out.append(Derivation(
            "log_L_limit", "§3.3",
            r"\lim_{L\to 2}\log_L v = \log v,\ \lim_{L\to2}\dot h_\eta/g = -2\eta_u r^2",
            (("log_L(v)", log_L(v, Lv)),), ("v > 0",), dstr, model, "limit", check_limit))
    out.append(Derivation(
        "gf_invariant", "§3.4", r"h = \log_L w - \log_L w_0,\ \dot h = -L\,g",
        (("ḣ/g", gf_rate(Lv)),), ("ẇ = −∇ℒ",), dstr, model, "simplify to zero",
        lambda: zero_check([("ḣ/g + L", gf_rate(Lv) + Lv)])))
    out.append(Derivation(
        "r2_invariant", "§3.5", r"(\eta_r,\eta_u) = (r^2,1):\ \dot h = -L\|w\|^2 g\ (\text{no magnification})",
        (("ḣ/g", gf_rate(Lv, True)),), ("ẇ = −‖w‖²∇ℒ (r2_rates)",), dstr, model, "simplify to zero",
        lambda: zero_check([("ḣ/g + L‖w‖²", gf_rate(Lv, True) + Lv * wnorm2)])))
    return out
