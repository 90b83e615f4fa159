"""Claims about the limit (MATH.md §4–§5): C5 x_∞ is the Bregman projection of β,
C6 the ℓ1 gap is below the §5 bound, C7 magnification (‖x_∞‖₁ non-increasing as α_eff
decreases; the measured slope is reported, not judged)."""

from __future__ import annotations

import math

import numpy as np

from numerics.config import FlowConfig
from numerics.precision import DPS_FLOAT64, K_ACCUMULATED, K_SOLVE, tol, workdps
from wnbias.claims import problems as P
from wnbias.claims._common import BudgetExceeded, wall_budget, project, w0_at, w_distance, effective_dps, fit_line, integrate, l1_bound, npvec, rho_of
from wnbias.claims.registry import SKIP, AssumptionFailed, Case, Claim, Row, need, register, verdict_le

T_FLOAT64 = 1e4
LIMIT_BUDGET_S = 20.0
"""Wall-clock budget of one limit solve; past it the setting is SKIP (no convergence in budget)."""


def _status_ok(res) -> bool:
    return str(getattr(res, "status", "")) == "converged"


def limit_of(problem, config, dps):
    """``numerics.limit.limit_solve`` at ``dps`` (None: float64); SKIP unless converged."""
    limit_solve = need("numerics.limit", "limit_solve")
    try:
        with wall_budget(LIMIT_BUDGET_S, "the limit solver"):
            res = limit_solve(problem, config, dps=dps)
    except BudgetExceeded as exc:
        raise AssumptionFailed(f"{exc} (η̃ = {config.eta_tilde:.3g}, L = {config.L})") from None
    if not _status_ok(res):
        raise AssumptionFailed(f"the limit solver did not converge: {getattr(res, 'message', res.status)}")
    return res


def _beta_T(config, n, r_T):
    rho_T = rho_of(float(r_T), config.r0, config.eta_tilde)
    w0 = config.w0_for(n)
    return (w0 / rho_T) ** config.L, rho_T


# -- C5 ------------------------------------------------------------------------------------------


def check_c5(problem, config, dps, **options):
    if config.rates != "constant":
        raise AssumptionFailed("C5 is about WN-GF (rates='constant'); plain GF and (r², 1) are C9/C4")
    bp = need("numerics.bregman", "bregman_projection")
    rows = []
    res = integrate(problem, config, None, t_max=float(options.get("t_max", T_FLOAT64)))
    A, y, n, L = problem.A_eff, problem.y, problem.n, config.L
    x_T = npvec(res.x_final)
    beta_T, rho_T = _beta_T(config, n, res.r_final)
    scale = float(np.max(np.abs(x_T)))
    # 1. at the final time, converged or not: x(T) = P_{β(T)}({Az = Ax(T)})  (§4, finite time)
    pTx, pT = project(A, A @ x_T, beta_T, L)
    if pTx is not None:
        m = w_distance(x_T, pTx, L)
        b = tol(DPS_FLOAT64, K_ACCUMULATED)
        rows.append(Row("C5", "finite time", m, b, verdict_le(m, b),
                        f"‖w(T) − P_β(T)(Ax(T))^(1/L)‖∞/‖w‖∞ at T={float(res.t_final):.3g} (float64 flow)",
                        details={"rho_T": rho_T, "flow_status": str(res.status), "loss_final": res.loss_final}))
    else:
        rows.append(Row("C5", "finite time", float("nan"), float("nan"), SKIP,
                        f"the Bregman projection failed: {pT.message}"))
    # 2. the limit: the flow's x_∞ against the limit solver (root of φ, projections at dps)
    if not res.converged:
        rows.append(Row("C5", "limit", float("nan"), float("nan"), SKIP,
                        f"assumption fails: the flow did not converge within t={float(res.t_final):.3g} ({res.message})"))
        return rows
    try:
        lim = limit_of(problem, config, dps)
    except Exception as exc:
        from wnbias.claims.registry import Unavailable

        if isinstance(exc, (Unavailable, AssumptionFailed)):
            rows.append(Row("C5", "limit", float("nan"), float("nan"), SKIP, str(exc)))
            return rows
        raise
    x_inf = npvec(lim.x_inf)
    sc = float(np.max(np.abs(x_inf)))
    p_hat, _ = project(A, y, beta_T, L)  # x̂_∞(T): the flow's own limit estimate
    explained = float(np.max(np.abs(p_hat - x_T))) / sc if p_hat is not None else float("nan")
    m = float(np.max(np.abs(x_T - x_inf))) / sc
    b = explained + tol(DPS_FLOAT64, K_ACCUMULATED)
    r_inf = float(lim.r_inf)
    rows.append(Row("C5", "limit", m, b, verdict_le(m, b),
                    f"‖x_flow(T) − x_∞‖∞/‖x_∞‖∞ vs limit_solve(dps={dps}); residual explains {explained:.2g}; "
                    f"r(T) − r_∞ = {float(res.r_final) - r_inf:.2g}",
                    details={"r_flow": float(res.r_final), "r_inf": r_inf, "rho_inf": float(lim.rho),
                             "explained_by_residual": explained, "loss_final": res.loss_final,
                             "limit_dps": dps}))
    # 3. at dps: the limit is the projection of its own β (and ‖ū_∞‖ = 1 closes φ(r_∞) = 0)
    if dps is not None and dps > DPS_FLOAT64:
        with workdps(dps):
            import mpmath

            rho = mpmath.mpf(r_inf if lim.r_inf is None else lim.r_inf)
            rho = (mpmath.mpf(config.r0) / rho) * mpmath.exp((rho ** 2 - mpmath.mpf(config.r0) ** 2) / (2 * mpmath.mpf(config.eta_tilde)))
            w0 = w0_at(config, n, dps)
            beta = [(w / rho) ** L for w in w0]
            q = bp(A, y, beta, L, dps=dps)
            if _status_ok(q):
                xi = [mpmath.mpf(v) for v in lim.x_inf]
                diff = max(abs(a - b) for a, b in zip(q.x, xi)) / max(abs(v) for v in xi)
                phi = mpmath.fsum(v ** (mpmath.mpf(2) / L) for v in xi) - mpmath.mpf(lim.r_inf) ** 2
                m3 = float(max(diff, abs(phi) / mpmath.mpf(lim.r_inf) ** 2))
                b3 = tol(dps, K_SOLVE)
                rows.append(Row("C5", f"projection at dps={dps}", m3, b3, verdict_le(m3, b3),
                                "‖x_∞ − P_β(r_∞)(y)‖∞/‖x_∞‖∞ and |φ(r_∞)|/r_∞² at dps (independent re-solve)",
                                details={"projection_diff": float(diff), "phi_rel": float(abs(phi) / mpmath.mpf(lim.r_inf) ** 2)}))
            else:
                rows.append(Row("C5", f"projection at dps={dps}", float("nan"), float("nan"), SKIP,
                                f"the dps projection failed: {q.message}"))
    return rows


# -- C6 ------------------------------------------------------------------------------------------


def gap_and_bound(problem, config, dps=None, *, variant: str = "", lim=None):
    """The §5 quantities at the limit: ``dict(S, l1_opt, gap, bound, alpha_eff, r_inf, rho)``.

    Raises :class:`AssumptionFailed` where the bound does not apply."""
    l1_min = need("numerics.lp", "l1_min")
    if config.rates != "constant":
        raise AssumptionFailed("the §5 bound is stated for WN-GF (rates='constant')")
    if config.u0 is not None and len(set(config.u0)) > 1:
        raise AssumptionFailed("the §5 bound needs a uniform β (default u0)")
    lim = lim if lim is not None else limit_of(problem, config, dps)
    lp = l1_min(problem)
    if not _status_ok(lp):
        raise AssumptionFailed(f"the ℓ1 LP failed: {lp.message}")
    n, L = problem.n, config.L
    x = npvec(lim.x_inf)
    S = float(np.sum(x))  # ‖w_∞^L‖₁ (effective coordinates)
    r_inf = float(lim.r_inf)
    rho = rho_of(r_inf, config.r0, config.eta_tilde)
    alpha = config.r0 / (math.sqrt(n) * rho)
    if L == 2 and not alpha < 1:
        raise AssumptionFailed(f"the L = 2 bound needs α_eff < 1 (α_eff = {alpha:.3g})")
    bound = l1_bound(lp.value, S, n, alpha, L, variant=variant)
    lp_acc = tol(DPS_FLOAT64, K_SOLVE) * max(1.0, lp.value)  # the LP value is held to float64 solve accuracy
    return {"S": S, "l1_opt": float(lp.value), "gap": S - float(lp.value), "bound": bound,
            "bound_with_lp_accuracy": bound + lp_acc, "alpha_eff": alpha, "r_inf": r_inf, "rho": rho,
            "magnified": r_inf > config.r0, "alpha_eff_solver": _f(getattr(lim, "alpha_eff", None))}


def _f(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def check_c6(problem, config, dps, **options):
    q = gap_and_bound(problem, config, dps)
    details = dict(q)
    try:  # cross-check with numerics.quantities (its bound comes from the generated _derived code)
        analyze = need("numerics.quantities", "analyze")
        lim = limit_of(problem, config, dps)
        u_inf = [float(v) ** (1.0 / config.L) for v in lim.x_inf]  # a direction (any norm) of w_∞
        rep = analyze(problem, config, lim.r_inf, u_inf, dps=dps)
        details["quantities_l1_bound"] = _f(getattr(rep, "l1_bound", None))
        details["quantities_l1_gap"] = _f(getattr(rep, "l1_gap", None))
    except Exception as exc:  # noqa: BLE001 - a cross-check only; reported, never fatal
        details["quantities_cross_check"] = f"skipped: {exc}"
    ratio = q["gap"] / q["bound"] if q["bound"] > 0 else float("nan")
    return Row("C6", "", q["gap"], q["bound"], verdict_le(q["gap"], q["bound_with_lp_accuracy"]),
               f"S − ‖z*‖₁ vs §5 bound (ratio {ratio:.2g}, α_eff={q['alpha_eff']:.3g}, "
               f"{'r_∞ > r₀' if q['magnified'] else 'r_∞ ≤ r₀: no magnification'})",
               details=details)


# -- C7 ------------------------------------------------------------------------------------------

SWEEP = (8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.125)


def sweep(problem, config, dps, factors=SWEEP):
    pts, dropped = [], []
    for f in sorted(factors, reverse=True):  # η̃ decreasing: the solves get harder
        cfg = config.replace(eta_r=config.eta_r * f)
        try:
            q = gap_and_bound(problem, cfg, dps)
        except AssumptionFailed as exc:
            dropped.append((cfg.eta_tilde, str(exc)))
            if "budget" in str(exc):
                break  # smaller η̃ would only take longer
            continue
        q["eta_tilde"] = cfg.eta_tilde
        pts.append(q)
    return pts, dropped


def check_c7(problem, config, dps, **options):
    pts, dropped = sweep(problem, config, dps, options.get("factors", SWEEP))
    magnified = [p for p in pts if p["magnified"]]
    not_mag = [p["eta_tilde"] for p in pts if not p["magnified"]]
    if len(magnified) < 3:
        raise AssumptionFailed(
            f"magnification needs r_∞ > r₀; only {len(magnified)} of {len(pts)} η̃ values have it"
            + (f" (r_∞ ≤ r₀ at η̃ = {', '.join(f'{e:.3g}' for e in not_mag)})" if not_mag else ""))
    pts_sorted = sorted(magnified, key=lambda p: -p["alpha_eff"])  # α_eff decreasing
    d = effective_dps(dps)
    incr = [(b["S"] - a["S"]) / a["S"] for a, b in zip(pts_sorted, pts_sorted[1:])]
    measured = max(0.0, max(incr))
    bound = tol(d, K_SOLVE)
    alphas = np.array([p["alpha_eff"] for p in pts_sorted])
    gaps = np.array([p["gap"] for p in pts_sorted])
    L = config.L
    resolvable = gaps > 10 * tol(DPS_FLOAT64, K_SOLVE) * np.array([max(1.0, p["l1_opt"]) for p in pts_sorted])
    slope_note, slope, se = "", float("nan"), float("nan")
    if L > 2 and resolvable.sum() >= 2:
        slope, se, _ = fit_line(np.log(alphas[resolvable]), np.log(gaps[resolvable]))
        slope_note = f"slope of log gap vs log α_eff {slope:.3g} ± {se:.2g} (asymptotic L−2 = {L - 2})"
    elif L == 2 and resolvable.sum() >= 1:
        prod = gaps[resolvable] * np.log(1 / alphas[resolvable])
        slope_note = f"gap·log(1/α_eff) ∈ [{prod.min():.3g}, {prod.max():.3g}] (bounded asymptotically)"
    else:
        slope_note = "gaps below LP accuracy: no slope"
    series = {"eta_tilde": [p["eta_tilde"] for p in pts_sorted], "alpha_eff": alphas.tolist(),
              "gap": gaps.tolist(), "bound": [p["bound"] for p in pts_sorted],
              "S": [p["S"] for p in pts_sorted], "r_inf": [p["r_inf"] for p in pts_sorted]}
    drop_note = f" ({len(dropped)} η̃ dropped: {dropped[0][1][:60]}…)" if dropped else ""
    return Row("C7", "", measured, bound, verdict_le(measured, bound),
               f"largest relative increase of ‖x_∞‖₁ as α_eff decreases over {len(pts_sorted)} η̃{drop_note}; "
               + slope_note,
               details={"slope": slope, "slope_se": se, "expected_asymptotic_slope": L - 2 if L > 2 else None,
                        "not_magnified_eta_tilde": not_mag, "dropped": dropped, "series": series})


# -- cases ---------------------------------------------------------------------------------------


def _c(name, dps=None, **cfg):
    return Case(name, P.get(name), FlowConfig(**cfg), dps)


def cases_c5(level):
    if level == "quick":
        return [_c("small", None, L=2, r0=1.0, eta_r=0.3)]
    out = [_c("small", 30, L=2, r0=1.0, eta_r=0.3), _c("small-signed", 30, L=3, r0=1.0, eta_r=1.0)]
    if level == "full":
        out += [_c("cs30", 50, L=2, r0=1.0, eta_r=0.1), _c("rademacher", 30, L=4, r0=0.5, eta_r=1.0),
                _c("correlated", 30, L=2, r0=1.0, eta_r=0.3)]
    return out


def cases_c6(level):
    out = [_c("cs30", None, L=2, r0=1.0, eta_r=0.1), _c("cs30", None, L=3, r0=1.0, eta_r=0.3)]
    if level != "quick":
        out += [_c("small-signed", None, L=2, r0=1.0, eta_r=0.3), _c("small-signed", None, L=4, r0=1.0, eta_r=1.0),
                _c("dense", None, L=3, r0=1.0, eta_r=1.0)]
    if level == "full":
        out += [_c("rademacher", 30, L=2, r0=0.5, eta_r=0.05), _c("correlated", None, L=3, r0=1.0, eta_r=0.3)]
    return out


def cases_c7(level):
    if level == "quick":
        return [Case("cs30", P.get("cs30"), FlowConfig(L=3, r0=1.0, eta_r=1.0), None, {"factors": (4.0, 2.0, 1.0, 0.5, 0.25)})]
    out = [_c("cs30", None, L=3, r0=1.0, eta_r=1.0)]
    out += [_c("cs30", None, L=2, r0=1.0, eta_r=0.3)]
    if level == "full":
        out += [_c("small-signed", None, L=4, r0=1.0, eta_r=1.0), _c("cs30", 30, L=3, r0=1.0, eta_r=1.0)]
    return out


register(Claim(
    "C5", "x_∞ is the Bregman projection of β", r"x_\infty = \mathrm{argmin}\{D_F(z,\beta) : Az = y,\ z \ge 0\},\ \beta = (w_0/\rho)^{\odot L}",
    "§4", check_c5, cases_c5,
    "finite time: tol(15, K_ACCUMULATED); limit: residual-explained distance + tol(15, K_ACCUMULATED); "
    "at dps: tol(dps, K_SOLVE)",
    symbolic=("rho_beta", "potential_F", "limit_equation"), requires=("numerics.flow64", "numerics.bregman", "numerics.limit"),
    default_dps=30))
register(Claim(
    "C6", "the ℓ1 gap is below the §5 bound", r"S - \|z^*\|_1 \le \tfrac{L}{2}\alpha_{\mathrm{eff}}^{L-2} n^{(L-2)/L} S^{2/L}\ (L>2),\ \text{log form for } L = 2",
    "§5", check_c6, cases_c6, "gap ≤ bound + tol(15, K_SOLVE)·max(1, ‖z*‖₁) (the LP's accuracy)",
    symbolic=("l1_gap_bound_L2", "l1_gap_bound_Lgt2"), requires=("numerics.limit", "numerics.lp")))
register(Claim(
    "C7", "magnification: ‖x_∞‖₁ never increases as α_eff decreases", r"\alpha_{\mathrm{eff}} \downarrow\ \Rightarrow\ \|x_\infty\|_1 \downarrow",
    "§5 (Monotonicity)", check_c7, cases_c7,
    "largest relative increase ≤ tol(dps, K_SOLVE); the slope is reported, not judged",
    symbolic=(), requires=("numerics.limit", "numerics.lp")))
