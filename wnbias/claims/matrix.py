"""Claims M1–M5 of the matrix model (docs/math.md §9), checked by ``verify --model matrix``.

M1–M3 are identities of the flow (**proven here**: the derivations of :mod:`theory.matrix`), checked
to working precision.  M4 and M5 are **evidence**: measurements with a stated evidence threshold,
never a proven bound (no Bregman-type characterisation of the limit is known for this model).

:func:`verify_matrix` runs every claim on its cases and returns the rows; the command wiring
(``wnbias verify --model matrix``) calls it.
"""

from __future__ import annotations

import numpy as np

from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, tol
from numerics._status import Status
from wnbias.claims.registry import FAIL, PASS, Case, Claim, Row, register, verdict_le

FLOW_TIME_LIMIT = 600.0
"""Wall-clock ``time_limit=`` (seconds) of one matrix flow: far above the built-in cases' work (a few
seconds), so a busy machine does not decide what is checked; a run that still hits it (status
TIME_LIMIT), or that diverged or failed, is a FAIL row with the integrator's message, never a check
of a shorter trajectory."""

GAP_EVIDENCE = 0.05
"""M4's evidence threshold: relative nuclear-norm gap ``(‖X_∞‖_* − ‖X_nn‖_*)/‖X_nn‖_*`` of WN-GD from
``r₀ = 1``.  Not a bound: a measured level, stated so that the verdict can fail."""

LINEAR_RATIO = 0.8
"""M5's evidence threshold: a run converges linearly when the slope of ``log loss`` against the
iteration over the last quarter of its tail is at least this fraction of the slope over the quarter
before (a constant rate gives 1; a power law ``k^{-p}`` gives much less)."""


def _problem(d=5, k_true=2, m=12, seed=0, kind="gaussian"):
    from numerics._matrix import generate

    return generate(d, k_true, m, seed, kind)


# -------------------------------------------------------------------------- M1, M2: the flow
def _check_flow(problem, config, dps, *, k=3, alpha=1.0, eta_tilde=0.1, t_max=30.0, what="norm", rates="wn", **_):
    """M1/M2 on one WN-GF run.  ``rates="plain"`` with ``what="norm"`` is a planted wrong statement:
    it checks ``‖U‖_F`` of plain GF, which is not conserved, in place of ``‖V‖_F``."""
    from numerics import MatrixFlowConfig, integrate

    cfg = MatrixFlowConfig(k=k, alpha=alpha, rates=rates, eta_r=eta_tilde, eta_V=1.0)
    res = integrate(problem, cfg, dps=dps, t_max=t_max, time_limit=FLOW_TIME_LIMIT)
    prec = dps or DPS_FLOAT64
    bound = tol(prec, K_ACCUMULATED)
    info = {"status": res.status.value, "steps": res.nsteps, "loss_final": float(res.loss[-1]),
            "method": res.method}
    st = res.status
    if st is Status.TIME_LIMIT or st is Status.DIVERGED or st is Status.FAILED:
        cid = "M1" if what == "norm" else "M2"
        return Row(cid, "the flow did not complete", float("nan"), bound, FAIL,
                   f"the flow ended with {st.value} at t = {float(res.t[-1]):.3g} of {t_max:g}: {res.message}",
                   details=info)
    if what == "norm":
        if dps and rates == "wn":
            from numerics._precision import workdps

            with workdps(dps):
                vs = res.vnorm_exact  # ‖V(t)‖_F at dps, one per record
                dev = float(max(abs(v - vs[0]) for v in vs) / vs[0])
        else:
            norms = res.vnorm if rates == "wn" else res.r   # plain GF: ‖U‖_F (the planted wrong statement)
            dev = float(np.max(np.abs(norms - norms[0])) / norms[0])
        return Row("M1", "relative drift of ‖V‖_F", dev, bound, verdict_le(dev, bound),
                   f"max |‖V(t)‖_F − ‖V₀‖_F|/‖V₀‖_F over {res.steps_checked} records; tolerance "
                   f"tol({prec}, K_ACCUMULATED)", details=info)
    inc = res.max_step_increase / max(problem.scale, 1e-300)
    return Row("M2", "largest loss increase between accepted steps / ½‖y‖²", inc, bound, verdict_le(inc, bound),
               f"{res.steps_checked} consecutive accepted steps compared; tolerance tol({prec}, K_ACCUMULATED)",
               details=info)


def _flow_cases(level):
    p = _problem()
    cases = [Case("d=5 k=3 m=12, WN η̃=0.1 r₀=1", p, None, None, {"k": 3, "alpha": 1.0, "eta_tilde": 0.1}),
             Case("d=5 k=3 m=12, WN η̃=10 r₀=1", p, None, None, {"k": 3, "alpha": 1.0, "eta_tilde": 10.0,
                                                                 "t_max": 5.0})]
    if level != "quick":
        small = _problem(3, 1, 5, 1)
        cases.append(Case("d=3 k=2 m=5, WN η̃=0.5, dps=20 (mpmath.odefun)", small, None, 20,
                          {"k": 2, "alpha": 1.0, "eta_tilde": 0.5, "t_max": 1.0}))
    if level == "full":
        cases.append(Case("d=6 k=4 m=20 symmetric, WN η̃=1", _problem(6, 2, 20, 3, "symmetric"), None, None,
                          {"k": 4, "alpha": 1.0, "eta_tilde": 1.0}))
    return cases


# ------------------------------------------------------------------------ M3: invariants of UWᵀ
def _check_invariant(problem, config, dps, *, flow="plain", quantity="balancedness", k=3, alpha=1.0,
                     eta_tilde=0.1, t_max=20.0, **_):
    from numerics._matrix import integrate_asym

    out = integrate_asym(problem, k, alpha, rates=flow, eta_r=eta_tilde, eta_V=1.0, t_max=t_max)
    dev = out["balancedness_dev"] if quantity == "balancedness" else out["trace_dev"]
    bound = tol(DPS_FLOAT64, K_ACCUMULATED)
    name = "UᵀU − WᵀW" if quantity == "balancedness" else "tr(UᵀU − WᵀW) = r_U² − r_W²"
    return Row("M3", f"{name} along {flow} GF", dev, bound, verdict_le(dev, bound),
               f"max relative deviation over {out['steps']} accepted DOP853 steps (t ≤ {t_max:g}); tolerance "
               f"tol(15, K_ACCUMULATED)", details=out)


def _invariant_cases(level):
    p = _problem()
    return [Case("UWᵀ d=5 k=3 m=12, plain GF: balancedness", p, None, None, {"flow": "plain", "quantity": "balancedness"}),
            Case("UWᵀ d=5 k=3 m=12, WN (η̃=0.1): trace r_U² − r_W²", p, None, None,
                 {"flow": "wn", "quantity": "trace"})]


PLANTED_INVARIANT = {"flow": "wn", "quantity": "balancedness"}
"""M3 options of a planted wrong invariant: ``UᵀU − WᵀW`` conserved under WN (false for k ≥ 2)."""

PLANTED_NORM = {"rates": "plain"}
"""M1 options of a planted wrong statement: ``‖U‖_F`` conserved along plain GF (it is not)."""


# ------------------------------------------------------------------------- M4: nuclear norm
def _check_nuclear(problem, config, dps, *, k=4, r0=1.0, eta_tildes=(0.1, 1.0, 10.0), steps=20000, **_):
    from numerics._matrix import curvature_step, init_directions, nuclear_norm, nuclear_norm_min, wn_gd_matrix

    nn = nuclear_norm_min(problem)
    V0 = init_directions(problem.d, k, 1, 7)
    gaps, statuses = {}, {}
    for et in eta_tildes:
        mu = curvature_step(problem, r0) / max(1.0, et)   # stable for η_r = η̃ > 1; steps scaled: equal flow time
        res = wn_gd_matrix(problem, r0, V0, eta_r=et, eta_V=1.0, mu=mu, steps=int(steps * max(1.0, et)),
                           loss_tol=1e-16 * problem.scale)
        gaps[et] = (nuclear_norm(res.X[0]) - nn.value) / nn.value
        statuses[et] = {"status": res.status[0], "loss_final_rel": float(res.loss[-1, 0]) / problem.scale}
    worst = max(abs(g) for g in gaps.values())
    return Row("M4", f"max |relative nuclear-norm gap| over η̃ ∈ {list(eta_tildes)} (evidence)", worst, GAP_EVIDENCE,
               verdict_le(worst, GAP_EVIDENCE),
               f"evidence, not a bound: WN-GD from r₀ = {r0:g}; gaps by η̃ "
               + ", ".join(f"{et:g}: {g:.3g}" for et, g in gaps.items())
               + f"; {sum(v['status'] is Status.CONVERGED for v in statuses.values())} of {len(statuses)} runs reached "
                 f"the loss tolerance (the others: the gap at the point reached, the same budget at every level)"
               + f"; SDP reference {nn.solver} {nn.message}, residual {nn.primal_residual:.1e}, gap {nn.gap:.1e}",
               details={"gaps": {str(k_): v for k_, v in gaps.items()}, "runs": {str(k_): v for k_, v in statuses.items()},
                        "sdp": nn.as_dict()})


def _nuclear_cases(level):
    p = _problem(6, 1, 14, 2)
    ets = {"quick": (0.1, 1.0), "default": (0.01, 0.1, 1.0), "full": (0.01, 0.1, 1.0, 10.0)}[level]
    return [Case("d=6 rank-1 m=14, WN-GD r₀=1 k=4", p, None, None, {"eta_tildes": ets,
                                                                    "steps": 20000})]


# -------------------------------------------------------------------------------- M5: rates
def rate_ratio(iters, loss) -> tuple:
    """``(ratio, slope_early, slope_late, power)``: slopes of ``−log loss`` per iteration over the third
    and fourth quarters of the recorded tail (second half of the records) and their ratio; ``power``
    is the least-squares exponent ``p`` of ``loss ≈ c·k^{−p}`` over the second half."""
    it, lo = np.asarray(iters, float), np.asarray(loss, float)
    ok = np.isfinite(lo) & (lo > 0) & (it > 0)
    it, lo = it[ok], lo[ok]
    n = len(lo)
    if n < 8:
        return (float("nan"),) * 4
    h, q = n // 2, n // 4
    s1 = -np.polyfit(it[h:h + q], np.log(lo[h:h + q]), 1)[0]
    s2 = -np.polyfit(it[-q:], np.log(lo[-q:]), 1)[0]
    p = -np.polyfit(np.log(it[h:]), np.log(lo[h:]), 1)[0]
    return float(s2 / s1) if s1 > 0 else float("nan"), float(s1), float(s2), float(p)


def _check_rates(problem, config, dps, *, k=3, alpha=0.1, r0=1.0, eta_tilde=0.1, steps=20000, **_):
    """GD and the scalar polar form WN-GD (``U = rV/‖V‖_F``) for ``steps`` iterations, and the generalized
    WN of the follow-up (Stiefel direction, symmetric magnitude, Riemannian GD) until ``loss ≤ 1e-24·½‖y‖²``.
    The verdict compares the follow-up's scheme with GD; the polar form's ratio is reported."""
    from numerics._matrix import curvature_step, gd_matrix, init_directions, wn_gd_matrix, wn_rgd_matrix

    V0 = init_directions(problem.d, k, 1, 1)
    mu = curvature_step(problem, 1.0)
    rec = max(1, steps // 200)
    g = gd_matrix(problem, alpha * V0, mu=mu, steps=steps, record_every=rec)
    w = wn_gd_matrix(problem, r0, V0, eta_r=eta_tilde, eta_V=1.0, mu=mu, steps=steps, record_every=rec)
    X0, _ = np.linalg.qr(V0[0])
    q = wn_rgd_matrix(problem, X0, alpha * np.eye(k), mu=mu, steps=steps, loss_tol=1e-24 * problem.scale,
                      record_every=10)
    rg = rate_ratio(g.iters, g.loss[:, 0] / problem.scale)
    rw = rate_ratio(w.iters, w.loss[:, 0] / problem.scale)
    rq = rate_ratio(q.iters, q.loss[:, 0] / problem.scale)
    ok = (rq[0] >= LINEAR_RATIO) and (rg[0] < LINEAR_RATIO)
    keys = ("ratio", "slope_early", "slope_late", "power")
    return Row("M5", "generalized-WN (Stiefel RGD) late/early rate ratio (evidence; ≥ threshold = linear)", rq[0],
               LINEAR_RATIO, PASS if ok else FAIL,
               f"evidence: generalized WN (Wei et al.) ratio {rq[0]:.3g}, rate {rq[2]:.3g}/iteration, loss "
               f"{q.loss[-1, 0] / problem.scale:.1e}·½‖y‖² after {q.steps} iterations ({q.status[0].value}); plain GD "
               f"ratio {rg[0]:.3g} (power-law exponent {rg[3]:.3g}, loss {g.loss[-1, 0] / problem.scale:.1e} after "
               f"{steps}); scalar polar WN-GD U = rV/‖V‖_F (η̃ = {eta_tilde:g}) ratio {rw[0]:.3g} (exponent {rw[3]:.3g}, "
               f"loss {w.loss[-1, 0] / problem.scale:.1e}): sublinear like GD. Linear means ratio ≥ {LINEAR_RATIO}",
               relation=">=", details={"wn_generalized": dict(zip(keys, rq)), "gd": dict(zip(keys, rg)),
                                       "wn_polar": dict(zip(keys, rw)), "mu": mu, "steps": steps,
                                       "wn_generalized_iterations": q.steps})


def _rate_cases(level):
    p = _problem(5, 1, 30, 0)
    return [Case("d=5 rank-1 m=30 k=3 (overparameterised), GD α=0.1, WN-GD r₀=1 η̃=0.1, generalized WN Θ₀=0.1·I", p,
                 None, None,
                 {"steps": 8000 if level == "quick" else 20000})]


# ------------------------------------------------------------------------------- registry
_DERIV = "theory.matrix"


def _register_once(claim: Claim) -> Claim:
    """Register ``claim`` unless this module was imported before (a reload keeps the first)."""
    from wnbias.claims import registry

    return registry._REGISTRY.get(claim.id) or register(claim)


CLAIMS = tuple(_register_once(c) for c in (
    Claim("M1", "‖V‖_F is conserved along WN-GF of X = UUᵀ (proven here)",
          r"\frac{d}{dt}\|V\|_F = 0", "§9.4", lambda p, c, d, **o: _check_flow(p, c, d, what="norm", **o),
          _flow_cases, "tol(dps, K_ACCUMULATED) on the relative drift", ("matrix_norm_conserved",)),
    Claim("M2", "The loss is non-increasing along WN-GF of X = UUᵀ (proven here)",
          r"\frac{d}{dt}\tilde{\mathcal L} = -\eta_r(\partial_r\tilde{\mathcal L})^2 - \eta_V\|\nabla_V\tilde{\mathcal L}\|^2",
          "§9.4", lambda p, c, d, **o: _check_flow(p, c, d, what="loss", **o), _flow_cases,
          "tol(dps, K_ACCUMULATED) on the largest step increase / ½‖y‖²", ("matrix_loss_decreases",)),
    Claim("M3", "The derived invariants of X = UWᵀ hold: UᵀU − WᵀW under plain GF, r_U² − r_W² under WN (proven here)",
          r"\frac{d}{dt}(U^\top U - W^\top W) = 0\ \text{(GF)},\ \frac{d}{dt}(r_U^2 - r_W^2) = 0\ \text{(WN)}", "§9.3",
          _check_invariant, _invariant_cases, "tol(15, K_ACCUMULATED) on the relative deviation",
          ("matrix_balancedness_gf", "matrix_balancedness_wn")),
    Claim("M4", "WN-GD from r₀ = 1 ends near the nuclear-norm minimiser (evidence, threshold 5%)",
          r"\frac{\|X_\infty\|_* - \min\{\|X\|_*\}}{\min\{\|X\|_*\}} \text{ measured}", "§9.5", _check_nuclear,
          _nuclear_cases, f"evidence threshold GAP_EVIDENCE = {GAP_EVIDENCE} (not a proven bound)", (),
          ("cvxpy",)),
    Claim("M5", "Generalized WN (Stiefel RGD) converges linearly where plain GD is sublinear (evidence: fitted rates)",
          r"\text{rate ratio}_{\mathrm{WN}} \ge 0.8 > \text{rate ratio}_{\mathrm{GD}}", "§9.5", _check_rates,
          _rate_cases, f"evidence threshold LINEAR_RATIO = {LINEAR_RATIO}", ()),
))


def verify_matrix(level: str = "default", ids=None) -> list:
    """Run M1–M5 (or ``ids``) on their cases at ``level``; returns the rows (``list[Row]``)."""
    from wnbias.claims.registry import LEVELS

    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    rows = []
    for claim in CLAIMS:
        if ids and claim.id not in ids:
            continue
        for case in claim.cases(level):
            rows.extend(claim.run(case.problem, case.config, case.dps, label=case.label, **dict(case.options)))
    return rows


__all__ = ["CLAIMS", "GAP_EVIDENCE", "LINEAR_RATIO", "PLANTED_INVARIANT", "PLANTED_NORM", "rate_ratio", "verify_matrix"]
