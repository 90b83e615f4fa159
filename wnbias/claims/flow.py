"""Claims about the flow itself (docs/math.md §3): C1 ‖u‖ conserved, C2 loss monotone,
C3 h_η ∈ range(Aᵀ), C4 rates (r², 1) are plain GF reparametrised, C9 plain GF is the ρ = 1
baseline.

Every invariant is recomputed here from the integrator's final state (not read from the
integrator's own residual, which is reported alongside)."""

from __future__ import annotations

import math

import numpy as np

from numerics._status import Status
from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, tol, workdps
from wnbias.claims import problems as P
from numerics._arith import mp_array, to_float
from wnbias.claims._common import (
    F,
    effective_dps,
    integrate,
    log_beta_of,
    log_u_of,
    plain_invariant_of,
    project,
    relative_kernel_residual,
    require_run,
    wn_invariant,
)
from wnbias.claims.registry import (
    FAIL, PASS, SKIP, AssumptionFailed, Case, Claim, EmptyCheck, MachineryMissing, Row, register, verdict_le,
)

T_SHORT = 2.0
"""Horizon of the high-precision (Taylor) runs: long enough for r to move by O(1)·η_r."""
T_FLOAT64 = 1e4
"""Budget of the float64 runs that should converge."""


def _traj_series(res) -> dict:
    """The checkpoint records (float64 arrays in both arithmetics, ``FlowResult``)."""
    return {name: np.asarray(getattr(res, name), dtype=float).tolist()
            for name in ("t", "loss", "invariant_residual", "unorm_dev", "r")}


def _run_info(res) -> dict:
    return {
        "status": res.status.value,
        "message": res.message,
        "method": res.method,
        "t_final": float(res.t_final),
        "loss_final": res.loss_final,
        "nsteps": res.nsteps,
        "integrator_wall_time": res.wall_time,
    }


def _horizon(dps, options):
    if "t_max" in options:
        return float(options["t_max"])
    return T_SHORT if dps is not None else T_FLOAT64


# -- C1 -------------------------------------------------------------------------------------


def check_c1(problem, config, dps, *, variant: str = "", **options):
    """``variant="r-conserved"`` plants a wrong claim (the radius ``r = ‖w‖`` is conserved): it
    FAILs wherever ``r`` moves."""
    if variant not in ("", "r-conserved"):
        raise ValueError(f"C1 variant must be '' or 'r-conserved', got {variant!r}")
    if config.rates == "plain":
        raise AssumptionFailed("plain GF has no u (C1 is about WN-GF)")
    res = integrate(problem, config, dps, t_max=_horizon(dps, options))
    require_run(res)
    d = effective_dps(dps)
    with workdps(d):
        u = res.u_final
        if dps is not None:
            import mpmath

            dev_final = abs(float(mpmath.sqrt(mpmath.fsum(x * x for x in u)) - 1))
        else:
            dev_final = abs(float(np.linalg.norm(to_float(u))) - 1.0)
    dev_traj = float(np.max(np.abs(np.asarray(res.unorm_dev, dtype=float)))) if len(res.unorm_dev) else 0.0
    measured = max(dev_final, dev_traj)
    bound = tol(d, K_ACCUMULATED)
    what = "max |‖u(t)‖ − 1| over the checkpoints and the final state"
    if variant == "r-conserved":  # WRONG claim, planted
        measured = abs(float(res.r_final) - config.r0) / config.r0
        what = "|r(T) − r₀|/r₀ (planted wrong claim: r is conserved)"
    return Row("C1", "", measured, bound, verdict_le(measured, bound), what,
               details={"final_recomputed": dev_final, "trajectory_max": dev_traj, **_run_info(res),
                        "series": _traj_series(res)})


# -- C2 -------------------------------------------------------------------------------------


def check_c2(problem, config, dps, **options):
    """The residual ``‖Ax − y‖`` never increases: judged at *every accepted step* of the
    integrator (``FlowResult.max_step_increase`` over ``steps_checked`` comparisons), and at the
    checkpoints; relative to ``‖y‖ + ‖Ax₀ − y‖`` (the size ``Ax`` can have on a descending path,
    to which it is held at the working precision)."""
    res = integrate(problem, config, dps, t_max=_horizon(dps, options))
    require_run(res)
    checked = int(res.steps_checked)
    step_inc = float(res.max_step_increase)
    if checked <= 0 or not math.isfinite(step_inc):
        raise MachineryMissing(f"{type(res).__module__}.FlowResult.max_step_increase",
                               f"the integrator ({res.method}) did not record the residual at each accepted step "
                               f"over its {res.nsteps} steps")
    loss = np.asarray(res.loss, dtype=float)
    d = effective_dps(dps)
    res_norm = np.sqrt(2.0 * np.maximum(loss, 0.0))  # ‖Ax − y‖ = sqrt(2·loss)
    scale = float(np.linalg.norm(problem.y)) + float(res_norm[0])
    incr = np.diff(res_norm) / scale if len(res_norm) > 1 else np.zeros(0)
    at_checkpoints = float(max(0.0, np.max(incr))) if incr.size else 0.0
    at_steps = max(0.0, step_inc) / scale
    measured = max(at_steps, at_checkpoints)
    bound = tol(d, K_ACCUMULATED)
    return Row("C2", "", measured, bound, verdict_le(measured, bound),
               f"largest increase of ‖Ax−y‖/(‖y‖+‖Ax₀−y‖) over {checked} accepted steps ({at_steps:.2g}) and "
               f"{incr.size} checkpoint intervals ({at_checkpoints:.2g}); loss {loss[0]:.2g} → {loss[-1]:.2g}",
               details={"steps_checked": checked, "max_step_increase": step_inc, "at_steps": at_steps,
                        "at_checkpoints": at_checkpoints, "checkpoints": int(loss.size), **_run_info(res),
                        "series": _traj_series(res)})


# -- C3 -------------------------------------------------------------------------------------


def invariant_residual_of(problem, config, res, dps, *, s_sign=1, with_h=False):
    """Recompute the invariant of ``config``'s flow at the final state; return
    ``(relative kernel residual, ‖h‖)`` (and ``h`` with ``with_h``).  Float64: from ``log u``
    (``FlowResult.log_u_final``, faithful where ``u`` underflows).  At ``dps`` every parameter
    enters from its exact value (``config.mp``, ``config.w0_mp``/``ubar0_mp``)."""
    mp = dps
    d = effective_dps(dps)
    n = problem.n
    with workdps(d):
        if config.rates == "constant":
            if mp is None:
                h = wn_invariant(res.r_final, None, config.u0_for(n), config.r0, config.eta_tilde, config.L,
                                 None, s_sign=s_sign, log_u=log_u_of(res))
            else:
                h = wn_invariant(res.r_final, res.u_final, config.ubar0_mp(n), config.mp("r0"),
                                 config.mp("eta_tilde"), config.L, mp, s_sign=s_sign)
        else:
            h = plain_invariant_of(config, res, n, mp)
        rel, k, nh = relative_kernel_residual(problem.A_eff, h, mp)
    return (rel, nh, h) if with_h else (rel, nh)


DISCRIMINATION_K = K_ACCUMULATED + K_ROUNDOFF
"""C3's discriminator (the invariant with the sign of ``s`` flipped) must give a residual above
``tol(dps, DISCRIMINATION_K)`` — three digits above the tolerance — for the check to count as
able to see ``s``."""


def ones_in_range(A, dps) -> bool:
    """Whether ``1 ∈ range(Aᵀ)`` (to ``tol(dps, K_ROUNDOFF)`` relative): then, with uniform ``u₀``,
    a shift of ``s`` (L = 2) or a rescaling by ``e^{(2−L)s}`` (L > 2) stays in the range and the
    invariant cannot see ``s``."""
    d = effective_dps(dps)
    with workdps(d):
        ones = np.ones(A.shape[1]) if dps is None else mp_array([1] * A.shape[1])
        k, nh = F.kernel_residual(A, ones, dps=dps)
    return float(k) <= tol(d, K_ROUNDOFF) * float(nh)


def check_c3(problem, config, dps, **options):
    """Two rows: the invariant (``h_η(T) ∈ range(Aᵀ)``), and the discriminator (the same with the
    sign of ``s`` flipped must fail by a wide margin, or the check cannot see ``s``)."""
    if config.rates != "constant":
        raise AssumptionFailed("C3 is the WN-GF invariant (rates='constant'); see C4/C9 for the others")
    res = integrate(problem, config, dps, t_max=_horizon(dps, options))
    require_run(res)
    d = effective_dps(dps)
    rel, nh, h = invariant_residual_of(problem, config, res, dps, with_h=True)
    wrong, _, hw = invariant_residual_of(problem, config, res, dps, s_sign=-1, with_h=True)
    bound = tol(d, K_ACCUMULATED)
    with workdps(d):  # how far r moved, at the working precision (a short run moves it below 1e-16)
        import mpmath

        r_T, r0 = mpmath.mpf(res.r_final), config.mp("r0")
        r_move = float(abs(r_T - r0))
        s_T = float(F.s_of_r(r_T, r0, config.mp("eta_tilde")))
    integ = float(np.nanmax(np.asarray(res.invariant_residual, dtype=float))) if len(res.invariant_residual) \
        else float("nan")
    if nh == 0 or r_move == 0:
        raise EmptyCheck("the state did not move (h_η = 0)")
    info = {"h_norm": nh, "wrong_sign_s_residual": wrong, "r_moved": r_move, "s_T": s_T,
            "integrator_residual_max": integ, **_run_info(res)}
    rows = [Row("C3", "", rel, bound, verdict_le(rel, bound),
                f"‖P_ker h_η(T)‖/max(‖h_η‖,1) at T={float(res.t_final):g}, ‖h_η‖={nh:.3g}; "
                f"wrong sign of s gives {wrong:.2g}",
                details={**info, "series": _traj_series(res)})]
    need_wrong = tol(d, DISCRIMINATION_K)
    if wrong >= need_wrong:
        rows.append(Row("C3", "discriminates", wrong, need_wrong, PASS,
                        f"the wrong sign of s gives {wrong:.2g} ≥ {need_wrong:.0e} (tolerance × 10^{K_ROUNDOFF}): "
                        f"the check sees s (s(T) = {s_T:.3g})", relation=">=", details=info))
        return rows
    # why can it not see s?  h(+s) − h(−s) is 2s·1 (L = 2) or a multiple of ū^{2−L} (L > 2)
    uniform = config.u0 is None
    one_in = ones_in_range(problem.A_eff, dps)
    if one_in and (uniform or config.L == 2):
        rows.append(Row("C3", "discriminates", wrong, need_wrong, SKIP,
                        f"s is invisible here: 1 ∈ range(Aᵀ){' with uniform u₀' if uniform else ''}, so the wrong "
                        f"sign of s also lies in range(Aᵀ) ({wrong:.2g}); the invariant is checked, but not its "
                        f"dependence on s", relation=">=", details={**info, "ones_in_range": True}))
        return rows
    rows.append(Row("C3", "discriminates", wrong, need_wrong, FAIL,
                    f"the check does not discriminate: the wrong sign of s gives only {wrong:.2g} < {need_wrong:.0e} "
                    f"(s(T) = {s_T:.3g}; 1 ∉ range(Aᵀ)); choose a setting where r moves", relation=">=",
                    details={**info, "ones_in_range": one_in}))
    return rows


# -- C4 and C9: plain GF and the rates (r², 1) ------------------------------------------------


def _limit_rows(cid, problem, config, res, dps, variant=""):
    """Invariant row and, if the run converged, the limit row ``x_∞ = P_{w0^L}(y)``.
    ``variant="with-rho"`` plants a wrong limit: ``β = (w₀/ρ)^L`` with WN-GF's magnification
    ``ρ(r(T))`` at ``η̃ = η_r/η_u`` (these flows have none)."""
    require_run(res)
    rows = []
    d = effective_dps(dps)
    rel, nh = invariant_residual_of(problem, config, res, dps)
    bound = tol(d, K_ACCUMULATED)
    rows.append(Row(cid, "invariant", rel, bound, verdict_le(rel, bound),
                    f"‖P_ker(log_L w − log_L w0)‖/max(‖·‖,1) at T={float(res.t_final):.3g}, ‖·‖={nh:.3g}",
                    details={"h_norm": nh, **_run_info(res), "series": _traj_series(res)}))
    if dps is not None:
        return rows  # a short high-precision run: the limit is checked on the float64 runs
    st = res.status
    if st is Status.DIVERGED or st is Status.FAILED:
        rows.append(Row(cid, "limit", float("nan"), float("nan"), FAIL,
                        f"the flow {st.value}: {res.message}"))
        return rows
    if not res.converged:
        # the claim is about the limit: convergence is its assumption
        rows.append(Row(cid, "limit", float("nan"), float("nan"), SKIP,
                        f"assumption fails: the run did not converge ({st.value}: {res.message})"))
        return rows
    A, L = problem.A_eff, config.L
    log_rho = 0.0  # these flows have no magnification: β = w0^L
    if variant == "with-rho":  # WRONG, planted
        log_rho = float(F.log_rho(float(res.r_final), config.r0, config.eta_tilde))
    log_beta = log_beta_of(config, problem.n, log_rho, L)
    x_T = to_float(res.x_final)
    x_hat, proj = project(A, problem.y, None, L, log_beta=log_beta)
    x_hatT, proj_T = project(A, A @ x_T, None, L, log_beta=log_beta)
    if x_hat is None or x_hatT is None:
        bad = proj if x_hat is None else proj_T
        if bad.status is Status.INCONSISTENT:
            raise EmptyCheck(f"no nonnegative solution of Az = y ({bad.message})")
        rows.append(Row(cid, "limit", float("nan"), float("nan"), FAIL,
                        f"the Bregman projection did not converge ({bad.status.value}): {bad.message}"))
        return rows
    scale = float(np.max(np.abs(x_hat)))
    measured = float(np.max(np.abs(x_T - x_hat))) / scale
    # x(T) is exactly P_β(A x(T)) (docs/math.md §4, finite time): its distance to P_β(y) is explained
    # by the residual; the bound is that distance, measured through a second projection.
    explained = float(np.max(np.abs(x_hatT - x_hat))) / scale
    bound = explained + tol(DPS_FLOAT64, K_ACCUMULATED)
    rows.append(Row(cid, "limit", measured, bound, verdict_le(measured, bound),
                    f"‖x(T) − P_β(y)‖∞/‖x‖∞, β = w0^L; residual explains {explained:.2g}",
                    details={"explained_by_residual": explained, "loss_final": res.loss_final,
                             "finite_time_identity": float(np.max(np.abs(x_hatT - x_T))) / scale}))
    return rows


def check_c4(problem, config, dps, *, variant: str = "", **options):
    cfg = config.replace(rates="r2")
    res = integrate(problem, cfg, dps, t_max=_horizon(dps, options))
    return _limit_rows("C4", problem, cfg, res, dps, variant)


def check_c9(problem, config, dps, *, variant: str = "", **options):
    cfg = config.replace(rates="plain")
    res = integrate(problem, cfg, dps, t_max=_horizon(dps, options))
    return _limit_rows("C9", problem, cfg, res, dps, variant)


# -- cases ------------------------------------------------------------------------------------


def _c(name, dps=None, **cfg):
    return Case(name, P.get(name), FlowConfig(**cfg), dps)


def cases_c1(level):
    out = [_c("small", None, L=2, r0="1", eta_r="0.3", eta_u="1")]
    if level != "quick":
        out += [_c("small-signed", None, L=3, r0="1", eta_r="1", eta_u="1"),
                _c("tiny", 30, L=2, r0="1", eta_r="0.3", eta_u="1")]
    if level == "full":
        out += [_c("tiny-signed", 50, L=4, r0="0.5", eta_r="0.5", eta_u="1"), _c("cs30", None, L=2, r0="1", eta_r="0.1")]
    return out


cases_c2 = cases_c1


def cases_c3(level):
    if level == "quick":
        return [_c("tiny", 30, L=2, r0="1", eta_r="0.3", eta_u="1")]
    out = []
    for name in ("tiny", "tiny-signed"):
        for L in (2, 3, 4):
            out.append(_c(name, 30, L=L, r0="1", eta_r="0.5", eta_u="1"))
    if level == "full":
        out += [_c("tiny", 50, L=3, r0="0.3", eta_r="0.1", eta_u="1"),
                _c("small", None, L=2, r0="1", eta_r="0.3", eta_u="1"),
                _c("small-signed", None, L=3, r0="1", eta_r="1", eta_u="1")]
    return out


def cases_c4(level):
    out = [_c("small", None, L=2, r0="1", rates="r2")]
    if level != "quick":
        out += [_c("tiny-signed", 30, L=3, r0="1", rates="r2")]
    if level == "full":
        out += [_c("small-signed", None, L=3, r0="0.5", rates="r2")]
    return out


def _alpha_r0(alpha: str, n: int) -> str:
    """``r0 = α√n`` as an exact string where ``√n`` is rational, else the double nearest it."""
    from fractions import Fraction

    root = math.isqrt(n)
    if root * root == n:
        return str(Fraction(alpha) * root)
    return float(Fraction(alpha)) * math.sqrt(n)


def cases_c9(level):
    # plain GF from w0 = α·1 with a small α (r0 = α √n)
    out = [Case("small", P.get("small"), FlowConfig(L=2, r0=_alpha_r0("0.05", 20), rates="plain"), None)]
    if level != "quick":
        out += [Case("small-signed", P.get("small-signed"), FlowConfig(L=3, r0=_alpha_r0("0.1", 24), rates="plain"), None),
                Case("tiny", P.get("tiny"), FlowConfig(L=2, r0=_alpha_r0("0.1", 6), rates="plain"), 30)]
    return out


FLOAT_RULE = "tol(15, K_ACCUMULATED) for float64 runs (rtol = tol(15, K_ROUNDOFF)); tol(dps, K_ACCUMULATED) at dps"

register(Claim(
    "C1", "‖u‖ is conserved", r"\frac{d}{dt}\|u\|^2 = 0", "§3.1", check_c1, cases_c1,
    FLOAT_RULE, symbolic=("norm_conserved",), requires=("numerics._flow64", "numerics._taylor")))
register(Claim(
    "C2", "the loss is non-increasing", r"\frac{d}{dt}\tilde{\mathcal L} = -\eta_r(\partial_r\tilde{\mathcal L})^2 - \eta_u\|\nabla_u\tilde{\mathcal L}\|^2 \le 0",
    "§3.2", check_c2, cases_c2, FLOAT_RULE + "; increments of ‖Ax−y‖ relative to ‖y‖",
    symbolic=("loss_decreases",), requires=("numerics._flow64",)))
register(Claim(
    "C3", "h_η stays in range(Aᵀ)", r"h_\eta(t) = \log_L(\bar u(t) e^{s(t)}) - \log_L(\bar u_0) \in \mathrm{range}(A^\top)",
    "§3.3", check_c3, cases_c3, "tol(dps, K_ACCUMULATED) at dps = 30 (high-precision Taylor run); "
    "discriminator: the wrong sign of s must exceed tol(dps, K_ACCUMULATED + K_ROUNDOFF)",
    symbolic=("invariant_h_eta", "log_L_limit"), requires=("numerics._taylor",), default_dps=30))
register(Claim(
    "C4", "rates (r², 1) are plain GF reparametrised", r"\log_L(w(t)) - \log_L(w_0) \in \mathrm{range}(A^\top),\ x_\infty = \mathrm{argmin}\{D_F(z, w_0^{L}) : Az = y\}",
    "§2.3, §3.5", check_c4, cases_c4,
    "invariant: as C1; limit: ‖x(T) − P_β(y)‖∞ ≤ ‖P_β(Ax(T)) − P_β(y)‖∞ + tol(15, K_ACCUMULATED) (relative)",
    symbolic=("r2_rates", "r2_invariant"), requires=("numerics._flow64", "numerics._bregman")))
register(Claim(
    "C9", "plain GF is the ρ = 1 baseline", r"\log_L(w(t)) - \log_L(w_0) \in \mathrm{range}(A^\top),\ x_\infty = \mathrm{argmin}\{D_F(z, w_0^{L}) : Az = y\}",
    "§3.4, §4", check_c9, cases_c9, "as C4",
    symbolic=("gf_invariant",), requires=("numerics._flow64", "numerics._bregman")))
