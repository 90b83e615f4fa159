"""What a limit ``(r_∞, u_∞)`` means: ρ, α_eff, β, invariant, Bregman check, ℓ1 gap and bound.

docs/math.md §4–§5.  ``ρ`` and ``β`` are carried as logarithms (``log_rho``, ``log_alpha_eff``,
``log_beta``; ``ρ`` leaves float64's range already at ``r_∞² − r0² ≈ 1400 η̃``), and the bounds
are evaluated with the generated ``numerics._derived`` functions in mpmath, so nothing
overflows or underflows.  With ``dps`` every quantity is computed at ``dps`` digits from the
exact parameters (``FlowConfig.mp``); ``LimitReport.precision`` says which digits each has.

ℓ1 gap, two versions (both reported):
* ``l1_gap`` — in the user's coordinates: ``‖x_∞‖₁ − ‖z*‖₁`` (``x_∞ = w₊^L − w₋^L`` signed);
* ``l1_gap_S`` — ``S − ‖z*‖₁`` with ``S = ‖w_∞^L‖₁`` (``= ‖x_∞‖₁`` in the positive model,
  ``≥`` it in the signed one): the quantity the §5 bound controls; ``bound_ratio`` is
  ``l1_gap_S / l1_bound``.
The bound for ``L = 2`` needs ``α_eff < 1`` (``bound_applies``); both bounds assume uniform
``β``, i.e. the default ``u0`` (otherwise ``l1_bound`` is None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Optional

import mpmath
import numpy as np

from numerics._status import Status
from numerics.config import FlowConfig
from numerics.precision import DPS_FLOAT64, workdps

from numerics import _derived as _D


@dataclass(frozen=True)
class KernelProjector:
    """Orthogonal projector onto ``ker(A)``: ``P h = h − Q Qᵀ h`` with ``Q`` an orthonormal basis of ``range(Aᵀ)``."""

    Q: np.ndarray
    rank: int

    def __call__(self, h) -> np.ndarray:
        h = np.asarray(h, dtype=float)
        return h - self.Q @ (self.Q.T @ h)

    def residual(self, h) -> float:
        """``‖P_ker h‖ / ‖h‖`` (0 for ``h = 0``)."""
        h = np.asarray(h, dtype=float)
        nh = float(np.linalg.norm(h))
        return 0.0 if nh == 0.0 else float(np.linalg.norm(self(h))) / nh


def kernel_projector(A) -> KernelProjector:
    """Float64 projector onto ``ker(A)`` via the SVD (rank cut at ``max(M, n)·eps·σ_max``)."""
    A = np.asarray(A, dtype=float)
    if A.ndim != 2 or A.size == 0:
        raise ValueError(f"A must be a non-empty 2-D matrix, got shape {A.shape}")
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    rank = int(np.sum(s > s[0] * max(A.shape) * np.finfo(float).eps)) if s.size and s[0] > 0 else 0
    return KernelProjector(np.ascontiguousarray(Vt[:rank].T), rank)


@dataclass(frozen=True)
class LimitReport:
    """The quantities of docs/math.md §4–§5 at a (claimed) limit.

    Without ``dps`` every number is a float64 one.  With ``dps`` every number is *computed* at
    ``dps`` digits from the exact parameters (``config.mp``) and the given state: vectors and
    ``r_inf``, ``rho``, ``log_rho``, ``alpha_eff``, ``log_alpha_eff``, ``S`` are ``mpmath.mpf``;
    the residual-like scalars (``invariant_residual``, ``bregman_mismatch``, the ℓ1 quantities) are
    floats holding a number that was computed (differences included) at ``dps`` and only then
    rounded to float64, and their ``mpf`` values are in ``mp``.  ``precision`` maps each quantity
    to the decimal digits it was computed at (``None``: not computed); a quantity can fall back to
    float64 (15), e.g. the ℓ1 reference when the LP polish does not certify a basis, and the
    message says why.  ``params`` holds the exact parameters (``config.exact_strings()``).
    """

    r_inf: Any
    rho: Any                 # inf when it overflows float64; see log_rho
    log_rho: Any
    alpha_eff: Any           # r0/(√n ρ) for the default u0, else None
    log_alpha_eff: Any
    beta: Any                # (w0/ρ)^L (effective coordinates; may underflow to 0, see log_beta)
    log_beta: Any
    x_inf_eff: Any
    x_inf: Any               # user coordinates
    invariant_residual: float
    bregman_mismatch: Optional[float]
    bregman_status: Optional[Status]
    bregman_message: str
    l1_opt: Optional[float]
    l1_gap: Optional[float]
    S: Any
    l1_gap_S: Optional[float]
    l1_bound: Optional[float]
    bound_name: str
    bound_applies: bool
    bound_ratio: Optional[float]
    magnification: bool      # r_inf > r0: the regime where a small η̃ magnifies (docs/math.md §4.5);
    #                          ρ > 1 is possible without it, but capped by r0/r_inf
    message: str
    dps: Optional[int] = None
    precision: dict = field(default_factory=dict)
    mp: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-able form: mpf values as decimal strings with ``dps`` digits, arrays as lists,
        the ``precision`` of every quantity and the exact ``params`` next to them."""
        digits = DPS_FLOAT64 if self.dps is None else self.dps
        out = {}
        for f in fields(self):
            if f.name in ("mp",):
                continue
            out[f.name] = _jsonable(getattr(self, f.name), digits)
        out["mp"] = {k: _jsonable(v, digits) for k, v in self.mp.items()}
        return out


def _jsonable(v, digits):
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Status):
        return v.value
    if isinstance(v, mpmath.mpf):
        return mpmath.nstr(v, digits, min_fixed=1, max_fixed=0) if mpmath.isfinite(v) else str(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else str(float(v))
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return [_jsonable(t, digits) for t in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(t, digits) for t in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(t, digits) for k, t in v.items()}
    return str(v)


def _l1_bound_mp(L: int, l1_opt, S, n: int, log_alpha):
    """The §5 bound at the current mpmath precision (``None`` where it does not apply)."""
    log_alpha = mpmath.mpf(log_alpha)
    a = mpmath.exp(log_alpha)
    if L == 2:
        if not log_alpha < 0:
            return None
        return _D.l1_bound_L2(mpmath.mpf(l1_opt), mpmath.mpf(S), mpmath.mpf(n), a, mpmath)
    return _D.l1_bound_Lgt2(mpmath.mpf(S), mpmath.mpf(n), a, L, mpmath)


def l1_bound_from_log_alpha(L: int, l1_opt, S, n: int, log_alpha, *, dps: int = 30) -> Optional[float]:
    """The §5 bound on ``S − ‖z*‖₁`` from the derived formulas (``numerics._derived``), with ``α_eff``
    given by its logarithm and evaluated in mpmath at ``dps`` digits, so that a magnification far
    beyond float64's range still gives the right bound.  ``None`` where the bound does not apply
    (``L = 2`` needs ``α_eff < 1``).  Arguments may be floats or mpf (used as they are)."""
    with workdps(dps):
        b = _l1_bound_mp(L, l1_opt, S, n, log_alpha)
        return None if b is None else float(b)


def _mp_positive(v, name):
    try:
        m = mpmath.mpf(v)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number, got {v!r}") from exc
    if not (mpmath.isfinite(m) and m > 0):
        raise ValueError(f"{name} must be finite and positive, got {v!r}")
    return m


def _log_direction(u_inf, log_u, n):
    """``log u`` at the current precision, from ``log_u`` (floats or mpf) or from ``u_inf``."""
    if log_u is not None:
        if len(log_u) != n:
            raise ValueError(f"log_u must hold n = {n} numbers, got {len(log_u)}")
        out = [mpmath.mpf(v) for v in log_u]
        if not all(mpmath.isfinite(v) for v in out):
            raise ValueError(f"log_u must hold n = {n} finite numbers")
        return out
    if len(u_inf) != n:
        raise ValueError(f"u_inf must have n = {n} entries, got {len(u_inf)}")
    out = []
    for v in u_inf:
        m = mpmath.mpf(v)
        if not (m >= 0 and mpmath.isfinite(m)):
            raise ValueError(f"u_inf must hold finite nonnegative entries, got {v!r}")
        out.append(mpmath.log(m) if m > 0 else mpmath.ninf)
    if all(v == mpmath.ninf for v in out):
        raise ValueError("u_inf must not be zero")
    return out


def _invariant_h_mp(log_r, log_u, log_m, config: FlowConfig, n: int):
    """The invariant of docs/math.md §3 at the current precision (mpmath twin of
    ``numerics.flow64.invariant_h``, with the exact parameters): ``h`` lies in ``range(Aᵀ)``."""
    L = config.L
    r0 = config.mp("r0")
    log_r0 = mpmath.log(r0)
    log_b = [lw - log_r0 for lw in config.log_w0_mp(n)]  # log ū0
    if config.rates == "constant":
        r = mpmath.exp(log_r)
        s = (r * r - r0 * r0) / (2 * config.mp("eta_tilde"))
        d = [(v - log_m + s) - lb for v, lb in zip(log_u, log_b)]
    else:
        d = [(log_r - log_r0 + v - log_m) - lb for v, lb in zip(log_u, log_b)]
        log_b = [lb + log_r0 for lb in log_b]
    if L == 2:
        return d
    e = 2 - L
    return [mpmath.exp(e * lb) * mpmath.expm1(e * t) / e for lb, t in zip(log_b, d)]


def _kernel_residual_mp(A, h):
    """``‖P_ker(A) h‖ / ‖h‖`` at the current precision (normal equations; full row rank)."""
    M = A.shape[0]
    rows = [[mpmath.mpf(float(a)) for a in A[i]] for i in range(M)]
    Ah = mpmath.matrix([mpmath.fdot(rows[i], h) for i in range(M)])
    G = mpmath.matrix(M, M)
    for i in range(M):
        for j in range(i, M):
            G[i, j] = G[j, i] = mpmath.fdot(rows[i], rows[j])
    lam = mpmath.cholesky_solve(G, Ah)
    ph = [h[k] - mpmath.fsum(rows[i][k] * lam[i] for i in range(M)) for k in range(len(h))]
    nh = mpmath.sqrt(mpmath.fsum(v * v for v in h))
    if nh == 0:
        return mpmath.mpf(0)
    return mpmath.sqrt(mpmath.fsum(v * v for v in ph)) / nh


def analyze(problem, config: FlowConfig, r_inf, u_inf, *, dps: Optional[int] = None, l1=None,
            log_u=None) -> LimitReport:
    """Evaluate ρ, α_eff, β, the invariant residual, the Bregman mismatch and the ℓ1 gap/bound
    (docs/math.md §4, §5).

    ``r_inf``: the radius (float, mpf or str); ``u_inf``: the direction (any norm; length ``n``).
    For plain GF (``rates="plain"``) and rates ``(r², 1)``: ``ρ = 1`` and ``w_∞ = r_∞ ū_∞``.
    ``l1``: a precomputed :class:`numerics.lp.L1Result` (else HiGHS is called).
    ``log_u``: ``log u_∞`` (floats or mpf), when components of ``u_∞`` underflow (the integrators'
    ``extras["log_u_final"]``); then ``u_inf`` is ignored.

    ``dps``: every quantity is computed at ``dps`` digits from the exact inputs — ``w₀ = r₀ū₀`` and
    ``η̃`` from ``config.mp``, ``x = (r u/‖u‖)^L``, the Bregman projection of ``β`` at ``dps`` and the
    mismatch ``‖x − x_β‖/‖x‖`` differenced before any rounding, the invariant residual in mpmath, the
    ℓ1 minimum certified by :func:`numerics.lp_polish.l1_polish_mp` and the gap and bound from it.
    ``report.precision`` says at how many digits each number was computed.
    """
    from numerics.bregman import bregman_projection
    from numerics.flow64 import invariant_h
    from numerics.lp import l1_min
    from numerics.precision import check_mp_dps

    n = problem.n
    L = config.L
    A = np.asarray(problem.A_eff, dtype=float)
    y = np.asarray(problem.y, dtype=float)
    uniform = config.u0 is None
    msgs = []
    if dps is not None:
        dps = check_mp_dps(dps)
    digits = DPS_FLOAT64 if dps is None else dps
    prec = {}

    def conv(v):
        return float(v) if dps is None else +v

    # -- radius, direction, magnification, effective initialisation (docs/math.md §4) -----------
    with workdps(digits):
        mp_r = _mp_positive(r_inf, "r_inf")
        lu = _log_direction(u_inf, log_u, n)
        top = max(lu)
        log_m = top + mpmath.log(mpmath.fsum(mpmath.exp(2 * (v - top)) for v in lu)) / 2  # log ‖u‖
        log_r = mpmath.log(mp_r)
        log_w = [log_r + v - log_m for v in lu]          # log w_∞ (effective coordinates)
        x_mp = [mpmath.exp(L * t) for t in log_w]
        S_mp = mpmath.fsum(x_mp)  # S = ‖w_∞^L‖₁ (docs/math.md §5)
        r0 = config.mp("r0")
        if config.rates == "constant":
            log_rho_mp = mpmath.log(r0) - log_r + (mp_r * mp_r - r0 * r0) / (2 * config.mp("eta_tilde"))
        else:
            log_rho_mp = mpmath.mpf(0)
        rho_mp = mpmath.exp(log_rho_mp)
        log_beta_mp = [L * (lw - log_rho_mp) for lw in config.log_w0_mp(n)]
        log_alpha_mp = (mpmath.log(r0) - mpmath.log(n) / 2 - log_rho_mp) if uniform else None
        r_out = conv(mp_r)
        if dps is None:
            rho_out = float(rho_mp) if log_rho_mp < 709 else math.inf
        else:
            rho_out = +rho_mp
        log_rho_out = conv(log_rho_mp)
        alpha_out = conv(mpmath.exp(log_alpha_mp)) if uniform else None
        log_alpha_out = conv(log_alpha_mp) if uniform else None
        log_beta_out = np.array([float(v) for v in log_beta_mp]) if dps is None else log_beta_mp
        beta_out = np.exp(log_beta_out) if dps is None else [mpmath.exp(v) for v in log_beta_mp]
        x_eff_out = np.array([float(v) for v in x_mp]) if dps is None else x_mp
        S_out = conv(S_mp)
        x_user_mp = problem.to_user(x_mp)
        abs_x_user = mpmath.fsum(abs(v) for v in x_user_mp)
        magn = bool(mp_r > r0)
    for k in ("r_inf", "rho", "log_rho", "beta", "log_beta", "x_inf_eff", "x_inf", "S"):
        prec[k] = digits
    prec["alpha_eff"] = prec["log_alpha_eff"] = digits if uniform else None
    x_user = problem.to_user(x_eff_out)
    mpv = {}

    # -- invariant at the limit (docs/math.md §3) ---------------------------------------------
    inv = float("nan")
    prec["invariant_residual"] = None
    finite_u = all(mpmath.isfinite(v) for v in lu)
    if not finite_u:
        msgs.append("invariant residual not evaluated: u_inf has zero components (pass log_u)")
    elif dps is not None and kernel_projector(A).rank == A.shape[0]:
        with workdps(dps):
            res_mp = _kernel_residual_mp(A, _invariant_h_mp(log_r, lu, log_m, config, n))
            inv = float(res_mp)
            mpv["invariant_residual"] = +res_mp
        prec["invariant_residual"] = dps
    else:
        v64 = np.array([float(v) for v in lu])
        if np.all(np.isfinite(v64)):  # invariant_h works in log u: underflowing u is fine
            h = invariant_h(float(mp_r), v64, config, config.u0_for(n), float(config.r0))
            inv = kernel_projector(A).residual(h)
            prec["invariant_residual"] = DPS_FLOAT64
            if dps is not None:
                msgs.append("invariant residual in float64: A is rank deficient (the mpmath check needs full row rank)")
        else:
            msgs.append("invariant residual not evaluated: u_inf has components that underflow float64 "
                        "(pass log_u, or dps)")

    # -- Bregman projection of β (docs/math.md §4) ----------------------------------------------
    breg_mis = None
    prec["bregman_mismatch"] = None
    pr = bregman_projection(A, y, None, L, dps=dps, log_beta=(log_beta_out if dps is None else log_beta_mp))
    breg_status, breg_msg = pr.status, pr.message
    if pr.x is not None and pr.status in (Status.CONVERGED, Status.NOISE_FLOOR):
        with workdps(digits):
            xb = [mpmath.mpf(v) for v in pr.x]
            xs = x_mp if dps is not None else [mpmath.mpf(float(v)) for v in x_mp]
            num = mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(xs, xb)))
            den = mpmath.sqrt(mpmath.fsum(a * a for a in xs))
            mis = num / den if den > 0 else num
            breg_mis = float(mis)
            if dps is not None:
                mpv["bregman_mismatch"] = +mis
        prec["bregman_mismatch"] = digits
        if pr.status is Status.NOISE_FLOOR:
            msgs.append(f"Bregman reference stopped at its noise floor ({pr.message}); the mismatch includes its error")

    # -- ℓ1 reference, gap, bound (docs/math.md §5) ----------------------------------------------
    if l1 is None:
        l1 = l1_min(problem)
    l1_opt = gap = gap_S = bound = ratio = None
    applies = False
    name = "docs/math.md §5, L = 2 (needs α_eff < 1)" if L == 2 else "docs/math.md §5, L > 2"
    for k in ("l1_opt", "l1_gap", "l1_gap_S", "l1_bound", "bound_ratio"):
        prec[k] = None
    if l1.status is Status.CONVERGED:
        l1_digits = DPS_FLOAT64
        l1_ref = l1.value
        if dps is not None:
            from numerics.lp_polish import l1_polish_mp

            pol = l1_polish_mp(problem, l1.z, dps)
            if pol.status is Status.CONVERGED:
                l1_ref, l1_digits = pol.value, dps
            else:
                msgs.append(f"ℓ1 reference in float64 (HiGHS): the {dps}-digit polish did not certify it: {pol.message}")
        q_digits = min(digits, l1_digits)
        with workdps(digits):
            l1_mp = mpmath.mpf(l1_ref)
            gap_mp = abs_x_user - l1_mp
            gapS_mp = S_mp - l1_mp
            l1_opt, gap, gap_S = float(l1_mp), float(gap_mp), float(gapS_mp)
            if dps is not None:
                mpv.update(l1_opt=+l1_mp, l1_gap=+gap_mp, l1_gap_S=+gapS_mp)
        prec["l1_opt"] = l1_digits
        prec["l1_gap"] = prec["l1_gap_S"] = q_digits
        if not uniform:
            msgs.append("ℓ1 bound not evaluated: it assumes the uniform u0 (uniform β)")
        else:
            # float64: the bound from float64 inputs, evaluated at 30 digits (no under/overflow of α_eff)
            with workdps(digits if dps is not None else 30):
                b_mp = _l1_bound_mp(L, l1_mp, S_mp, n, log_alpha_mp)
                applies = b_mp is not None
                if not applies:
                    msgs.append("L = 2 bound does not apply: α_eff ≥ 1")
                else:
                    bound = float(b_mp)
                    prec["l1_bound"] = q_digits
                    if dps is not None:
                        mpv["l1_bound"] = +b_mp
                    if b_mp > 0:
                        ratio_mp = gapS_mp / b_mp
                        ratio = float(ratio_mp)
                        prec["bound_ratio"] = q_digits
                        if dps is not None:
                            mpv["bound_ratio"] = +ratio_mp
    else:
        msgs.append(f"ℓ1 reference: {l1.message}")
    if not magn:
        with workdps(digits):
            cap = float(mpmath.log(r0) - log_r)
        msgs.append(f"no magnification regime: r_inf = {float(mp_r):.6g} <= r0 = {float(config.r0):g}, so "
                    f"log ρ = {float(log_rho_mp):.6g} is capped by log(r0/r_inf) = {cap:.6g} and decreases as η̃ "
                    "decreases (docs/math.md §4.5)")
    return LimitReport(
        r_inf=r_out, rho=rho_out, log_rho=log_rho_out, alpha_eff=alpha_out, log_alpha_eff=log_alpha_out,
        beta=beta_out, log_beta=log_beta_out, x_inf_eff=x_eff_out, x_inf=x_user, invariant_residual=inv,
        bregman_mismatch=breg_mis, bregman_status=breg_status, bregman_message=breg_msg, l1_opt=l1_opt,
        l1_gap=gap, S=S_out, l1_gap_S=gap_S, l1_bound=bound, bound_name=name, bound_applies=applies,
        bound_ratio=ratio, magnification=magn, message="; ".join(msgs), dps=dps, precision=prec, mp=mpv,
        params=config.exact_strings(),
    )
