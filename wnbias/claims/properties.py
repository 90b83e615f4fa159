"""Cheap, float64 forms of the claims as properties of one ``(problem, config)``, and the
planted wrong variants that prove ``wnbias falsify`` can find and shrink a counterexample.

A property returns an :class:`Outcome`: ``ok`` True (holds), False (a counterexample), or
None (an assumption of the claim fails here: not a counterexample).  Each property avoids
long integrations: short float64 flows (``t ≤ T_PROP``) and float64 limit solves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from numerics.precision import DPS_FLOAT64, K_ACCUMULATED, K_SOLVE, tol
from wnbias.claims._common import project, w_distance, npvec, plain_invariant, relative_kernel_residual, wn_invariant
from wnbias.claims.registry import AssumptionFailed, need

T_PROP = 1.0
"""Horizon of the short float64 runs in the properties."""
RTOL_SHORT = 1e-13
"""Integrator rtol of the short runs (checks then allow tol(15, K_ACCUMULATED) = 1e-9)."""


@dataclass(frozen=True)
class Outcome:
    ok: Optional[bool]
    measured: float = float("nan")
    bound: float = float("nan")
    note: str = ""
    details: dict = field(default_factory=dict)


def _short_run(problem, config, t_max=T_PROP):
    integrate = need("numerics.flow64", "integrate")
    # explicit DOP853 over a short horizon: its global error stays near rtol
    # (default BDF accumulates ~1e3·rtol in the invariant: measured 1.1e-9 at rtol 1e-12, L = 4).
    # rtol = RTOL_SHORT: at 1e-12 a fast run (L = 3, r0 = 3) showed a residual increase of
    # 1.5e-9 > tol(15, K_ACCUMULATED); at 1e-13 it was 7e-11.
    return integrate(problem, config, t_max=t_max, rtol=RTOL_SHORT, loss_tol=0.0,
                     method="DOP853", check_inconsistent=False)


def _run_ok(res):
    return str(res.status) in ("converged", "not_converged")


def p_unorm(problem, config, variant=""):
    res = _short_run(problem, config)
    if not _run_ok(res):
        return Outcome(None, note=f"run {res.status}: {res.message}")
    dev = abs(float(np.linalg.norm(npvec(res.u_final))) - 1.0)
    b = tol(DPS_FLOAT64, K_ACCUMULATED)
    return Outcome(dev <= b, dev, b, "|‖u(T)‖ − 1|")


def p_loss(problem, config, variant=""):
    res = _short_run(problem, config)
    if not _run_ok(res):
        return Outcome(None, note=f"run {res.status}: {res.message}")
    r = np.sqrt(2 * np.maximum(npvec(np.asarray(res.loss)), 0))
    m = float(max(0.0, np.max(np.diff(r)))) / (float(np.linalg.norm(problem.y)) + r[0]) if r.size > 1 else 0.0
    b = tol(DPS_FLOAT64, K_ACCUMULATED)
    return Outcome(m <= b, m, b, "largest increase of ‖Ax−y‖/(‖y‖ + ‖Ax₀−y‖)")


def p_invariant(problem, config, variant=""):
    """C3 (rates constant) / C4 (r2) / C9 (plain): the invariant at T is in range(Aᵀ)."""
    res = _short_run(problem, config)
    if not _run_ok(res):
        return Outcome(None, note=f"run {res.status}: {res.message}")
    u0 = config.u0_for(problem.n)
    if config.rates == "constant":
        s_sign = -1 if variant == "wrong-sign-s" else 1
        h = wn_invariant(res.r_final, res.u_final, u0, config.r0, config.eta_tilde, config.L, None, s_sign=s_sign)
    else:
        u = npvec(res.u_final)
        w = float(res.r_final) * u / np.linalg.norm(u)
        h = plain_invariant(w, config.r0 * u0, config.L, None)
    rel, k, nh = relative_kernel_residual(problem.A_eff, h, None)
    b = tol(DPS_FLOAT64, K_ACCUMULATED)
    return Outcome(rel <= b, rel, b, "‖P_ker h(T)‖/max(‖h‖,1)", {"h_norm": nh})


def p_bregman_finite_time(problem, config, variant=""):
    """C5 at a finite time: ``x(T) = P_{β(T)}({Az = Ax(T)})``; ``no-rho`` plants ``β = w0^L``."""
    bp = need("numerics.bregman", "bregman_projection")
    res = _short_run(problem, config)
    if not _run_ok(res):
        return Outcome(None, note=f"run {res.status}: {res.message}")
    A, L = problem.A_eff, config.L
    x_T = npvec(res.x_final)
    r = float(res.r_final)
    rho = 1.0 if variant == "no-rho" else (config.r0 / r) * math.exp((r * r - config.r0 ** 2) / (2 * config.eta_tilde))
    beta = (config.w0_for(problem.n) / rho) ** L
    px, p = project(A, A @ x_T, beta, L)
    if px is None:
        return Outcome(None, note=f"projection {p.status}: {p.message}")
    m = w_distance(x_T, px, L)
    b = tol(DPS_FLOAT64, K_ACCUMULATED)
    return Outcome(m <= b, m, b, "‖w(T) − P_β(T)(Ax(T))^(1/L)‖∞/‖w‖∞")


def p_l1_bound(problem, config, variant=""):
    from wnbias.claims.limits import gap_and_bound

    try:
        q = gap_and_bound(problem, config, None, variant=variant)
    except AssumptionFailed as exc:
        return Outcome(None, note=str(exc))
    return Outcome(q["gap"] <= q["bound_with_lp_accuracy"], q["gap"], q["bound"], "S − ‖z*‖₁ vs the §5 bound",
                   {k: q[k] for k in ("S", "l1_opt", "alpha_eff", "r_inf", "rho")})


def p_monotone(problem, config, variant=""):
    from wnbias.claims.limits import sweep

    pts, _ = sweep(problem, config, None, (2.0, 1.0, 0.5))
    pts = sorted([p for p in pts if p["magnified"]], key=lambda p: -p["alpha_eff"])
    if len(pts) < 2:
        return Outcome(None, note="fewer than two magnified settings")
    incr = max((b["S"] - a["S"]) / a["S"] for a, b in zip(pts, pts[1:]))
    b = tol(DPS_FLOAT64, K_SOLVE)
    return Outcome(incr <= b, incr, b, "largest relative increase of ‖x_∞‖₁ as α_eff decreases")


def p_gd_order(problem, config, variant=""):
    from wnbias.claims._common import fit_line
    from wnbias.claims.dynamics import gd_drift, horizon, step_sizes

    T = horizon(problem, config, 0.5, 400)
    pts = [gd_drift(problem, config, mu, T) for mu in step_sizes(problem, config, T, 3)]
    d = [p["drift"] for p in pts]
    if any(p["status"] == "diverged" for p in pts) or not all(math.isfinite(v) and v > 1e-13 for v in d):
        return Outcome(None, note="GD diverged or its drift is at roundoff level")
    order, se, _ = fit_line(np.log([p["mu"] for p in pts]), np.log(d))
    return Outcome(abs(order - 1) <= 0.2, order, 1.0, "fitted order of the GD invariant drift")


def p_converges(problem, config, variant=""):
    """C8: the flow converges, or — within a finite window, where MATH.md §6 allows a power-law
    tail — is still making progress: the residual fell over the last decade of time and no
    checkpoint increased it.  A stall at a nonzero loss is a counterexample."""
    integrate = need("numerics.flow64", "integrate")
    res = integrate(problem, config, t_max=T_CONVERGE)
    st = str(res.status)
    if st == "inconsistent":
        return Outcome(None, note=res.message)
    if st == "converged":
        return Outcome(True, res.loss_final, float(res.extras.get("loss_tol", float("nan"))), "converged")
    if st in ("diverged", "failed"):
        return Outcome(False, note=f"{st}: {res.message}")
    t = npvec(np.asarray(res.t))
    r = np.sqrt(2 * np.maximum(npvec(np.asarray(res.loss)), 0))
    last = r[t >= t[-1] / 10]
    ratio = float(last[-1] / last[0]) if last[0] > 0 else 0.0
    ok = ratio < 1.0 and bool(np.all(np.diff(r) <= tol(DPS_FLOAT64, K_ACCUMULATED) * r[0]))
    return Outcome(ok, ratio, 1.0, "residual ratio over the last decade (not converged in the window)",
                   {"loss_final": res.loss_final, "message": res.message})


T_CONVERGE = 1e4


@dataclass(frozen=True)
class Property:
    id: str
    claim: str
    description: str
    holds: Callable
    variant: str = ""
    config_kw: dict = field(default_factory=dict)
    problem_kw: dict = field(default_factory=dict)
    planted: bool = False


PROPERTIES = {p.id: p for p in (
    Property("C1", "C1", "‖u(T)‖ = 1 after a short float64 run", p_unorm),
    Property("C2", "C2", "the residual never increases along a short float64 run", p_loss),
    Property("C3", "C3", "h_η(T) ∈ range(Aᵀ) after a short float64 run", p_invariant),
    Property("C4", "C4", "log_L w − log_L w0 ∈ range(Aᵀ) for the rates (r², 1)", p_invariant,
             config_kw={"rates": ("r2",)}),
    Property("C5", "C5", "x(T) is the Bregman projection of β(T) onto {Az = Ax(T)}", p_bregman_finite_time),
    Property("C6", "C6", "the ℓ1 gap is below the §5 bound (float64 limit solve + LP)", p_l1_bound),
    Property("C7", "C7", "‖x_∞‖₁ does not increase as α_eff decreases (three η̃)", p_monotone),
    Property("C8", "C8", "the flow converges, or still makes progress over the last decade (no stall)", p_converges,
             config_kw={"Ls": (2,)}),
    Property("C9", "C9", "plain GF: log_L w − log_L w0 ∈ range(Aᵀ)", p_invariant, config_kw={"rates": ("plain",)}),
    Property("C10", "C10", "WN-GD drifts from h_η at order 1 in μ", p_gd_order),
    # planted wrong variants: falsify must find and shrink a counterexample for each
    Property("C6:no-n-factor", "C6", "the L > 2 bound without its n^{(L−2)/L} factor (WRONG)", p_l1_bound,
             variant="no-n-factor", config_kw={"Ls": (3, 4)}, planted=True),
    Property("C3:wrong-sign-s", "C3", "the invariant with s(t) of the wrong sign (WRONG)", p_invariant,
             variant="wrong-sign-s", planted=True),
    Property("C5:no-rho", "C5", "x(T) as the projection of w0^L, forgetting ρ(T) (WRONG)", p_bregman_finite_time,
             variant="no-rho", planted=True),
)}


def get_property(pid: str) -> Property:
    key = pid.strip()
    head, _, var = key.partition(":")
    key = head.upper() + (f":{var}" if var else "")
    if key not in PROPERTIES:
        raise KeyError(f"no property {pid!r}; known: {', '.join(PROPERTIES)}")
    return PROPERTIES[key]


def evaluate(prop: Property, problem, config) -> Outcome:
    """Run a property; a missing module raises :class:`Unavailable` (never a fake result)."""
    try:
        return prop.holds(problem, config, variant=prop.variant)
    except AssumptionFailed as exc:
        return Outcome(None, note=str(exc))
