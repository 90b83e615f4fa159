"""Cheap, float64 forms of the claims as properties of one ``(problem, config)``, and the
planted wrong variants that prove ``wnbias falsify`` can find and shrink a counterexample.

A property returns an :class:`Outcome`: ``ok`` True (holds), False (a counterexample), or
None (an assumption of the claim fails here: not a counterexample).  Each property avoids
long integrations: short float64 flows (``t ≤ T_PROP``) and float64 limit solves.

Properties live in a registry: :func:`register_property` adds one (and its planted wrong
variants, ``ID:variant``), so a user module loaded by ``wnbias falsify --plugin MODULE`` can add
its own without editing the package (docs/extending.md).  :data:`PROPERTIES` is the registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from numerics._status import NumericalError, Status
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, tol
from numerics._arith import to_float
from wnbias.claims._common import (
    FLOAT64_CHECK_METHOD, F, log_beta_of, log_u_of, plain_invariant_of, project, public, relative_kernel_residual,
    w_distance, wn_invariant,
)
from wnbias.claims.limits import LIMIT_TIME_LIMIT
from wnbias.claims.registry import AssumptionFailed, need

PROPERTY_TIME_LIMIT = LIMIT_TIME_LIMIT
"""Wall-clock seconds one limit solve of a property may take: the budget of every limit row of
``verify`` (``limits.LIMIT_TIME_LIMIT``, far above the honest work), so no draw is dropped for time;
a solve that still hits it is not applicable, with its TIME_LIMIT status in the note.  Measured (issue
16): 120 random small C6-style problems (M ≤ 2, N ≤ 4, L ∈ {2, 3, 4}) took at most 3.7 s each."""
T_PROP = 1.0
"""Horizon of the short float64 runs in the properties."""
RTOL_SHORT = tol(DPS_FLOAT64, K_ROUNDOFF - 1)
"""Integrator rtol of the short runs, 1e-13: one digit below the claims' float64 runs
(``_common.RTOL64 = tol(15, K_ROUNDOFF)``), because the checks allow tol(15, K_ACCUMULATED) = 1e-9
and a fast run exceeds that at 1e-12 (measured: L = 3, r0 = 3, DOP853 over t ≤ 1, a residual increase
of 1.5e-9 at rtol 1e-12, 7e-11 at 1e-13)."""
DRIFT_FLOOR = tol(DPS_FLOAT64, K_ROUNDOFF)
"""C10's property needs every drift above this to fit an order: the drift after at most 1600 GD steps
carries at most ~steps·ε ≈ 3.6e-13 of accumulated rounding (a linear bound), below tol(15, K_ROUNDOFF)
= 1e-12.  Measured on 40 random draws of the property's ranges (N ≤ 8, L ∈ {2, 3, 4}): the smallest
drift was 1.7e-10, so the floor excludes none of them."""


@dataclass(frozen=True)
class Outcome:
    ok: Optional[bool]
    measured: float = float("nan")
    bound: float = float("nan")
    note: str = ""
    details: dict = field(default_factory=dict)


def _short_run(problem, config, t_max=T_PROP):
    integrate = public("integrate")
    # explicit DOP853 over a short horizon: its global error stays near rtol
    # (default BDF accumulates ~1e3·rtol in the invariant: measured 1.1e-9 at rtol 1e-12, L = 4).
    return integrate(problem, config, t_max=t_max, rtol=RTOL_SHORT, loss_tol=0.0, method="DOP853")


def _run_ok(res):
    return res.status is Status.CONVERGED or res.status is Status.NOT_CONVERGED


def p_unorm(problem, config, variant=""):
    res = _short_run(problem, config)
    if not _run_ok(res):
        return Outcome(None, note=f"run {res.status}: {res.message}")
    dev = abs(float(np.linalg.norm(to_float(res.u_final))) - 1.0)
    b = tol(DPS_FLOAT64, K_ACCUMULATED)
    return Outcome(dev <= b, dev, b, "|‖u(T)‖ − 1|")


def p_loss(problem, config, variant=""):
    res = _short_run(problem, config)
    if not _run_ok(res):
        return Outcome(None, note=f"run {res.status}: {res.message}")
    r = np.sqrt(2 * np.maximum(np.asarray(res.loss, dtype=float), 0))
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
        h = wn_invariant(res.r_final, None, u0, config.r0, config.eta_tilde, config.L, None, s_sign=s_sign,
                         log_u=log_u_of(res))
    else:
        h = plain_invariant_of(config, res, problem.n, None)
    rel, k, nh = relative_kernel_residual(problem.A_eff, h, None)
    b = tol(DPS_FLOAT64, K_ACCUMULATED)
    return Outcome(rel <= b, rel, b, "‖P_ker h(T)‖/max(‖h‖,1)", {"h_norm": nh})


def p_bregman_finite_time(problem, config, variant=""):
    """C5 at a finite time: ``x(T) = P_{β(T)}({Az = Ax(T)})``; ``no-rho`` plants ``β = w0^L``."""
    res = _short_run(problem, config)
    if not _run_ok(res):
        return Outcome(None, note=f"run {res.status}: {res.message}")
    A, L = problem.A_eff, config.L
    x_T = to_float(res.x_final)
    log_rho = 0.0 if variant == "no-rho" else float(F.log_rho(float(res.r_final), config.r0, config.eta_tilde))
    px, p = project(A, A @ x_T, None, L, log_beta=log_beta_of(config, problem.n, log_rho, L))
    if px is None:
        return Outcome(None, note=f"projection {p.status}: {p.message}")  # the projection is not the claim
    m = w_distance(x_T, px, L)
    b = tol(DPS_FLOAT64, K_ACCUMULATED)
    return Outcome(m <= b, m, b, "‖w(T) − P_β(T)(Ax(T))^(1/L)‖∞/‖w‖∞")


def p_l1_bound(problem, config, variant=""):
    """C6 (docs/math.md §5): ``S − ‖z*‖₁ ≤ bound`` at the float64 limit; ``variant`` names a planted
    wrong bound of :data:`wnbias.sharpness.VARIANTS` (e.g. ``half-L2``, ``false-L2``)."""
    from wnbias.sharpness import VARIANTS, c6_point, variant_bound

    need("numerics._limit", "limit_solve")
    need("numerics._lp", "l1_min")
    v = VARIANTS[variant]
    if config.L not in v.Ls:
        return Outcome(None, note=f"the bound {variant or 'C6'!r} is stated for L in {v.Ls}, not L = {config.L}")
    q = c6_point(problem, config, time_limit=PROPERTY_TIME_LIMIT, require_bound=v.needs_bound)
    if not q.ok:
        return Outcome(None, note=q.reason)
    b = variant_bound(q, variant)
    if not math.isfinite(b):
        return Outcome(None, note=f"{v.description}: not defined here (r_∞ = {q.r_inf:.3g}, r₀ = {q.r0:.3g})")
    return Outcome(q.gap <= b + q.lp_accuracy, q.gap, b, f"S − ‖z*‖₁ vs {v.description}",
                   {"S": q.S, "l1_opt": q.l1_opt, "alpha_eff": q.alpha_eff, "r_inf": q.r_inf,
                    "ratio_to_true_bound": q.ratio, "lp_accuracy": q.lp_accuracy})


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
    if any(p["status"] is Status.DIVERGED for p in pts) or not all(math.isfinite(v) and v > DRIFT_FLOOR for v in d):
        return Outcome(None, note="GD diverged or its drift is at roundoff level")
    order, se, _ = fit_line(np.log([p["mu"] for p in pts]), np.log(d))
    return Outcome(abs(order - 1) <= 0.2, order, 1.0, "fitted order of the GD invariant drift")


def p_converges(problem, config, variant=""):
    """C8: the flow converges, or — within a finite window, where docs/math.md §6 allows a power-law
    tail — is still making progress: the residual fell over the last decade of time and no
    checkpoint increased it.  A stall at a nonzero loss is a counterexample."""
    integrate = public("integrate")
    # the (r, log u) coordinates: evidence about the flow, not about the dual coordinates λ (docs/math.md §6.3)
    res = integrate(problem, config, t_max=T_CONVERGE, method=FLOAT64_CHECK_METHOD)
    st = res.status
    if st is Status.INCONSISTENT or st is Status.TRIVIAL:
        return Outcome(None, note=res.message)
    if st is Status.CONVERGED:
        return Outcome(True, res.loss_final, float(res.loss_tol), "converged")
    if st is Status.DIVERGED or st is Status.FAILED:
        return Outcome(False, note=f"{st}: {res.message}")
    t = np.asarray(res.t, dtype=float)
    r = np.sqrt(2 * np.maximum(np.asarray(res.loss, dtype=float), 0))
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


PROPERTIES: dict = {}
"""The registry: ``{id: Property}``; ``ID:variant`` ids are planted wrong variants."""


def _variant_specs(variants):
    """Normalise ``variants`` of :func:`register_property` to ``[(name, description, extra kw)]``."""
    if not variants:
        return []
    items = variants.items() if isinstance(variants, dict) else variants
    out = []
    for item in items:
        if isinstance(item, str):
            name, spec = item, {}
        else:
            name, spec = item
        if isinstance(spec, str):
            spec = {"description": spec}
        spec = dict(spec)
        out.append((str(name), spec.pop("description", f"planted variant {name} (WRONG)"), spec))
    return out


def register_property(pid: str, fn: Callable, *, claim: Optional[str] = None, description: str = "",
                      variants=(), config_kw: Optional[dict] = None, problem_kw: Optional[dict] = None,
                      replace: bool = False) -> Property:
    """Register the property ``pid`` (``fn(problem, config, variant="") -> Outcome``) and its
    planted wrong variants.

    ``variants``: names, ``(name, description)`` pairs, or ``{name: description}`` /
    ``{name: {"description": …, "config_kw": …, "problem_kw": …}}``; each becomes the property
    ``pid:name`` calling ``fn(..., variant=name)``.  ``config_kw`` / ``problem_kw`` restrict the
    draws (``{"Ls": (3, 4)}``, ``{"rates": ("r2",)}``; ``{"tight": True}`` draws from the
    small-problem region where bounds are nearly attained, :func:`wnbias.claims.strategies.tight_pairs`,
    optionally in ``"regimes"`` of :data:`wnbias.claims.strategies.TIGHT_REGIMES`).
    A second registration of an id raises ``ValueError`` unless ``replace=True``.  Returns the
    property itself."""
    if not isinstance(pid, str) or not pid.strip() or ":" in pid:
        raise ValueError(f"a property id is a non-empty string without ':', got {pid!r}")
    if not callable(fn):
        raise TypeError(f"the property {pid!r} needs a callable, got {type(fn).__name__}")
    pid = pid.strip()
    claim = claim or pid
    cfg, prb = dict(config_kw or {}), dict(problem_kw or {})
    new = [Property(pid, claim, description or getattr(fn, "__doc__", "") or pid, fn, "", cfg, prb)]
    for name, desc, extra in _variant_specs(variants):
        new.append(Property(f"{pid}:{name}", claim, desc, fn, name, {**cfg, **extra.get("config_kw", {})},
                            {**prb, **extra.get("problem_kw", {})}, planted=True))
    for p in new:
        if p.id in PROPERTIES and not replace:
            raise ValueError(f"property {p.id!r} is registered twice")
    for p in new:
        PROPERTIES[p.id] = p
    return new[0]


_TIGHT = {"tight": True}
register_property("C1", p_unorm, description="‖u(T)‖ = 1 after a short float64 run")
register_property("C2", p_loss, description="the residual never increases along a short float64 run")
register_property("C3", p_invariant, description="h_η(T) ∈ range(Aᵀ) after a short float64 run",
                  variants={"wrong-sign-s": "the invariant with s(t) of the wrong sign (WRONG)"})
register_property("C4", p_invariant, description="log_L w − log_L w0 ∈ range(Aᵀ) for the rates (r², 1)",
                  config_kw={"rates": ("r2",)})
register_property("C5", p_bregman_finite_time, description="x(T) is the Bregman projection of β(T) onto {Az = Ax(T)}",
                  variants={"no-rho": "x(T) as the projection of w0^L, forgetting ρ(T) (WRONG)"})
register_property("C6", p_l1_bound, description="the ℓ1 gap is below the §5 bound (float64 limit solve + LP)",
                  problem_kw=_TIGHT, variants={
                      "no-n-factor": {"description": "the L > 2 bound without its n^{(L−2)/L} factor (WRONG)",
                                      "config_kw": {"Ls": (3, 4)}},
                      "half-L2": {"description": "the L = 2 bound multiplied by 1/2 (WRONG)", "config_kw": {"Ls": (2,)}},
                      "half-Lgt2": {"description": "the L = 3 bound multiplied by 1/2 (WRONG)", "config_kw": {"Ls": (3,)}},
                      "alpha-L-1": {"description": "the L > 2 bound with α_eff^{L−1} for α_eff^{L−2} (WRONG)",
                                    "config_kw": {"Ls": (3, 4)}},
                      # stated only where r_∞ > r₀: drawn in the magnified regime, where it is defined
                      "false-L2": {"description": "the L = 2 claim gap ≤ η̃/(r_∞² − r₀²) (FALSE)",
                                   "config_kw": {"Ls": (2,)},
                                   "problem_kw": {"regimes": ("magnified",)}},
                  })
register_property("C7", p_monotone, description="‖x_∞‖₁ does not increase as α_eff decreases (three η̃)")
register_property("C8", p_converges, description="the flow converges, or still makes progress over the last decade (no stall)",
                  config_kw={"Ls": (2,)})
register_property("C9", p_invariant, description="plain GF: log_L w − log_L w0 ∈ range(Aᵀ)", config_kw={"rates": ("plain",)})
register_property("C10", p_gd_order, description="WN-GD drifts from h_η at order 1 in μ")


def get_property(pid: str) -> Property:
    key = pid.strip()
    head, _, var = key.partition(":")
    key = head.upper() + (f":{var}" if var else "")
    if key not in PROPERTIES:
        raise KeyError(f"no property {pid!r}; known: {', '.join(PROPERTIES)}")
    return PROPERTIES[key]


def evaluate(prop: Property, problem, config) -> Outcome:
    """Run a property.  A failed assumption, or a solver that could not certify its result
    (:class:`numerics._status.NumericalError`: not converged, noise floor, time limit), gives
    ``Outcome(None)`` with the reason: not a counterexample.  Missing machinery raises
    :class:`wnbias.claims.registry.MachineryMissing` (never a fake result); any other exception is
    a programming error and propagates."""
    try:
        return prop.holds(problem, config, variant=prop.variant)
    except AssumptionFailed as exc:
        return Outcome(None, note=str(exc))
    except NumericalError as exc:
        return Outcome(None, note=f"the solver could not certify its result: {exc}")
