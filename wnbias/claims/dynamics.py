"""Claims about the dynamics (docs/math.md §6): C8 convergence (with the measured rate reported)
and C10 GD drifts from the invariants at order 1 in the step."""

from __future__ import annotations

import math

import numpy as np

from numerics._status import Status
from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, tol
from wnbias.claims import problems as P
from wnbias.claims._common import F, fit_line, integrate, relative_kernel_residual, require_run, wn_invariant
from wnbias.claims.registry import FAIL, PASS, SKIP, AssumptionFailed, Case, Claim, Row, need, register

T_BUDGET = 1e6
TAIL_POINTS = 4
TAIL_DECADES = 1.0
"""The tail judged by C8: the checkpoints in the last ``TAIL_DECADES`` decades of time (at least
``TAIL_POINTS`` of them)."""
STALL_DROP = tol(DPS_FLOAT64, K_ACCUMULATED)
"""A relative loss drop over the tail at most this (the accuracy to which a float64 run at
rtol = tol(15, K_ROUNDOFF) holds the loss) is no decrease at all."""
STALL_MARGIN = 10.0 ** K_ROUNDOFF
""""Far above the tolerance": a final loss above ``STALL_MARGIN × loss_tol``."""

# -- C8 ------------------------------------------------------------------------------------------


def loss_rate_fits(t, loss):
    """Fit the tail (the checkpoints with ``t ≥ t_end / 10^TAIL_DECADES``, at least the last
    ``TAIL_POINTS`` positive-time checkpoints with loss > 0): exponential ``log loss ≈ a − κ t``
    and power law ``log loss ≈ a − p log t``.  Returns a dict with both rates, their standard
    errors and rms residuals (in log loss), and the relative drop of the loss over the tail."""
    t = np.asarray(t, dtype=float)
    loss = np.asarray(loss, dtype=float)
    keep = (t > 0) & (loss > 0) & np.isfinite(loss)
    t, loss = t[keep], loss[keep]
    if t.size < TAIL_POINTS:
        return {"points": int(t.size)}
    in_tail = np.nonzero(t >= t[-1] / 10 ** TAIL_DECADES)[0]
    first = min(int(in_tail[0]) if in_tail.size else t.size - TAIL_POINTS, t.size - TAIL_POINTS)
    tail = np.arange(max(0, first), t.size)
    tt, ll = t[tail], np.log(loss[tail])
    out = {"points": int(tt.size), "t_window": [float(tt[0]), float(tt[-1])],
           "loss_window": [float(loss[tail[0]]), float(loss[tail[-1]])],
           "relative_drop": float(1.0 - loss[tail[-1]] / loss[tail[0]])}
    for name, xs in (("exponential", tt), ("power", np.log(tt))):
        b, se, a = fit_line(xs, ll)
        rms = float(np.sqrt(np.mean((ll - (a + b * xs)) ** 2)))
        out[name] = {"rate": -b, "se": se, "rms": rms}
    out["better_fit"] = "exponential" if out["exponential"]["rms"] < out["power"]["rms"] else "power law"
    return out


def check_c8(problem, config, dps, **options):
    """PASS: converged.  FAIL: diverged/failed, or stalled (the loss did not drop by more than
    :data:`STALL_DROP` over the tail while above :data:`STALL_MARGIN` × loss_tol).  SKIP: still
    decaying when the budget ran out (with the fits: the rate can be tiny, docs/math.md §6)."""
    res = integrate(problem, config, None, t_max=float(options.get("t_max", T_BUDGET)))
    require_run(res)
    loss = np.asarray(res.loss, dtype=float)
    t = np.asarray(res.t, dtype=float)
    fits = loss_rate_fits(t, loss)
    if "exponential" in fits:
        e, p = fits["exponential"], fits["power"]
        lw = fits["loss_window"]
        rate_note = (f"tail fit on t∈[{fits['t_window'][0]:.3g},{fits['t_window'][1]:.3g}]: loss {lw[0]:.3g} → {lw[1]:.3g} "
                     f"(relative drop {fits['relative_drop']:.3g}); exp rate {e['rate']:.3g} (rms {e['rms']:.2g}), "
                     f"power {p['rate']:.3g} ± {p['se']:.2g} (rms {p['rms']:.2g}) → {fits['better_fit']}")
    else:
        rate_note = "too few checkpoints for a rate fit"
    lt = float(res.loss_tol)
    details = {"fits": fits, "status": res.status.value, "message": res.message, "t_final": float(res.t_final),
               "loss_tol": lt, "series": {"t": t.tolist(), "loss": loss.tolist()}}
    st = res.status
    if st is Status.CONVERGED:
        return Row("C8", "", loss[-1], lt, PASS, f"converged at t={float(res.t_final):.3g}; " + rate_note, details=details)
    if st is Status.DIVERGED or st is Status.FAILED:
        return Row("C8", "", loss[-1], lt, FAIL, f"{st.value}: {res.message}; " + rate_note, details=details)
    if loss.size > 1 and not loss[-1] < loss[0]:
        return Row("C8", "", loss[-1], lt, FAIL, f"the loss did not decrease ({loss[0]:.3g} → {loss[-1]:.3g}); "
                   + rate_note, details=details)
    far = math.isfinite(lt) and loss[-1] > STALL_MARGIN * lt
    if "relative_drop" in fits and far and fits["relative_drop"] <= STALL_DROP:
        return Row("C8", "stalled", fits["relative_drop"], STALL_DROP, FAIL,
                   f"stalled: the loss stayed at {loss[-1]:.4g} (≥ {STALL_MARGIN:.0e} × loss_tol) over "
                   f"t∈[{fits['t_window'][0]:.3g},{fits['t_window'][1]:.3g}], dropping by {fits['relative_drop']:.2g} "
                   f"≤ {STALL_DROP:.0e}: not converging ({st.value}); " + rate_note,
                   relation=">", details=details)
    what = "evidence only (convergence for L > 2 is an open question)" if config.L > 2 else "docs/math.md §6: the rate can be tiny"
    return Row("C8", "", loss[-1], lt, SKIP,
               f"not converged within t={float(res.t_final):.3g} ({st.value}; still decaying: {what}); " + rate_note,
               details=details)


# -- C10 -----------------------------------------------------------------------------------------

T_GD = 2.0
ORDER_TOL = 0.2
"""The fitted order must lie in [0.8, 1.2] (and the fit's standard error must be below half that)."""


def step_sizes(problem, config, T, halvings: int = 4, first_fraction: float = 0.1):
    """Step sizes for the drift fit: ``μ_k = T / (K·2^k)``, ``k < halvings`` (so ``T`` is hit exactly),
    with ``K ≥ 40`` and ``μ_0 ≤ first_fraction / λ``,
    ``λ = L² ‖A‖₂² max(1, r0)^{2L} max(1, η_r, η_u)`` (a bound on the initial curvature scale).

    Measured on a 1×3 problem with ``r0 = 3``: fixed steps 0.02…0.005 gave a fitted order 1.22
    (pre-asymptotic); steps 20× smaller gave 1.02."""
    lam = config.L ** 2 * float(np.linalg.norm(problem.A_eff, 2)) ** 2 * max(1.0, config.r0) ** (2 * config.L)
    if config.rates == "constant":
        lam *= max(1.0, config.eta_r, config.eta_u)
    K = max(40, int(math.ceil(T * lam / first_fraction)))
    return tuple(T / (K * 2 ** k) for k in range(halvings))


def horizon(problem, config, T, max_first_steps: int = 1000, first_fraction: float = 0.1):
    """``T`` shortened where the curvature is large so the finest run stays under
    ``max_first_steps·2^(halvings−1)`` steps."""
    lam = config.L ** 2 * float(np.linalg.norm(problem.A_eff, 2)) ** 2 * max(1.0, config.r0) ** (2 * config.L)
    if config.rates == "constant":
        lam *= max(1.0, config.eta_r, config.eta_u)
    return min(T, max_first_steps * first_fraction / lam)


def gd_drift(problem, config, mu, T):
    """The invariant's kernel component after discrete steps of size ``mu`` up to time ``T``."""
    gd_problem = need("numerics._gd", "gd_problem")
    steps = int(round(T / mu))
    res = gd_problem(problem, config, mu, steps, loss_tol=0.0, stop_when_all_done=False)
    n = problem.n
    u0 = config.u0_for(n)
    if config.rates == "plain":
        h = F.plain_invariant(np.asarray(res.w[0], dtype=float), config.r0 * u0, config.L)
    else:
        h = wn_invariant(res.r[0], res.u[0], u0, config.r0, config.eta_tilde, config.L, None)
    rel, k, nh = relative_kernel_residual(problem.A_eff, h, None)
    unorm = float(np.linalg.norm(res.u[0])) - 1.0 if config.rates != "plain" else float("nan")
    return {"mu": mu, "steps": steps, "drift": rel, "h_norm": nh, "unorm_dev": unorm,
            "status": res.status[0], "loss": float(res.loss[-1, 0])}


def check_c10(problem, config, dps, *, order: float = 1.0, **options):
    """``order``: the claimed order of the drift in ``μ`` (1; ``order=2`` is a planted wrong claim)."""
    T = horizon(problem, config, float(options.get("T", T_GD)))
    mus = options.get("steps") or step_sizes(problem, config, T)
    pts = [gd_drift(problem, config, mu, T) for mu in mus]
    bad = [p for p in pts if p["status"] is Status.DIVERGED or not math.isfinite(p["drift"]) or p["drift"] <= 0]
    if bad:
        raise AssumptionFailed(f"GD diverged or gave no drift at μ = {', '.join(str(p['mu']) for p in bad)}")
    claimed = float(order)
    fitted, se, _ = fit_line(np.log([p["mu"] for p in pts]), np.log([p["drift"] for p in pts]))
    if not se <= ORDER_TOL / 2:
        return Row("C10", "", fitted, claimed, SKIP, f"the fit is too noisy to judge (order {fitted:.3g} ± {se:.2g})",
                   relation="≈", details={"points": pts, "order_se": se})
    verdict = PASS if abs(fitted - claimed) <= ORDER_TOL else FAIL
    return Row("C10", "", fitted, claimed, verdict,
               f"fitted order {fitted:.3f} ± {se:.2g} of the invariant drift in μ ∈ [{min(mus):.2g}, {max(mus):.2g}] "
               f"(T = {T:g}; PASS if within {ORDER_TOL} of {claimed:g})",
               relation="≈", details={"points": pts, "order_se": se, "series": {
                   "mu": [p["mu"] for p in pts], "drift": [p["drift"] for p in pts]}})


# -- cases ---------------------------------------------------------------------------------------


def _c(name, dps=None, **cfg):
    return Case(name, P.get(name), FlowConfig(**cfg), dps)


def cases_c8(level):
    out = [_c("small", None, L=2, r0="1", eta_r="0.3")]
    if level != "quick":
        out += [_c("small", None, L=3, r0="1", eta_r="1"), _c("small-signed", None, L=2, r0="1", eta_r="0.1")]
    if level == "full":
        out += [_c("cs30", None, L=2, r0="1", eta_r="0.1"), _c("cs30", None, L=4, r0="1", eta_r="1"),
                _c("cs30", None, L=3, r0="1", eta_r="0.3")]
    return out


def cases_c10(level):
    out = [_c("small", None, L=2, r0="1", eta_r="0.3")]
    if level != "quick":
        out += [_c("small-signed", None, L=3, r0="1", eta_r="1"), _c("small", None, L=2, r0="0.2", rates="plain")]
    if level == "full":
        out += [_c("cs30", None, L=4, r0="1", eta_r="0.5")]
    return out


register(Claim(
    "C8", "WN-GF converges (L = 2 proven; L > 2 evidence)", r"\tilde{\mathcal L}(t) \to 0",
    "§6", check_c8, cases_c8,
    "PASS: converged (loss ≤ loss_tol and the limit estimate settled) within t ≤ 1e6; FAIL: diverged, or stalled "
    "(relative loss drop over the last decade ≤ tol(15, K_ACCUMULATED) while loss > 10^K_ROUNDOFF · loss_tol); "
    "SKIP: still decaying (the fits are reported)",
    requires=("numerics._flow64",)))
register(Claim(
    "C10", "GD drifts from the invariants at order 1 in the step", r"\|P_{\ker A} h_\eta^{\mathrm{GD}}(T)\| = O(\mu)",
    "§6 (GD vs GF)", check_c10, cases_c10,
    "fitted order within 0.2 of 1 (and its standard error ≤ 0.1), at fixed T = μ·steps",
    requires=("numerics._gd",)))
