"""What a limit ``(r_∞, u_∞)`` means: ρ, α_eff, β, invariant, Bregman check, ℓ1 gap and bound.

MATH.md §4–§5.  ``ρ``, ``β`` and the bounds are evaluated with the generated
``numerics._derived`` functions; huge magnifications (``ρ`` beyond float64's range happens
already at ``r_∞² − r0² ≈ 140 η̃``) are carried as logarithms (``log_rho``,
``log_alpha_eff``) and the bound is evaluated with mpmath so nothing underflows.

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
from dataclasses import dataclass
from typing import Any, Optional

import mpmath
import numpy as np

from numerics._status import Status
from numerics.config import FlowConfig
from numerics.precision import DPS_FLOAT64, workdps

try:
    from numerics import _derived as _D
except ImportError:  # pragma: no cover
    _D = None


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
    """The quantities of MATH.md §4–§5 at a (claimed) limit.  Floats, or mpf when ``dps`` is set."""

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
    magnification: bool      # r_inf > r0 (ρ > 1 needs it; MATH.md §4)
    message: str
    dps: Optional[int] = None


def l1_bound_from_log_alpha(L: int, l1_opt, S, n: int, log_alpha, *, dps: int = 30) -> Optional[float]:
    """The §5 bound on ``S − ‖z*‖₁`` from the derived formulas (``numerics._derived``), with ``α_eff``
    given by its logarithm and evaluated in mpmath at ``dps`` digits, so that a magnification far
    beyond float64's range still gives the right bound.  ``None`` where the bound does not apply
    (``L = 2`` needs ``α_eff < 1``)."""
    with workdps(dps):
        a = mpmath.exp(mpmath.mpf(log_alpha))
        if L == 2:
            if not log_alpha < 0:
                return None
            return float(_D.l1_bound_L2(mpmath.mpf(l1_opt), mpmath.mpf(S), mpmath.mpf(n), a, mpmath))
        return float(_D.l1_bound_Lgt2(mpmath.mpf(S), mpmath.mpf(n), a, L, mpmath))


def analyze(problem, config: FlowConfig, r_inf, u_inf, *, dps: Optional[int] = None, l1=None,
            log_u=None) -> LimitReport:
    """Evaluate ρ, α_eff, β, the invariant residual, the Bregman mismatch and the ℓ1 gap/bound.

    ``r_inf``: the radius (float or mpf); ``u_inf``: the direction (any norm; length ``n``).
    For plain GF (``rates="plain"``) and rates ``(r², 1)``: ``ρ = 1`` and ``w_∞ = r_∞ ū_∞``.
    ``l1``: a precomputed :class:`numerics.lp.L1Result` (else HiGHS is called).
    ``dps``: evaluate ρ, β, x and the Bregman projection with mpmath at ``dps`` digits; the
    invariant residual and the gap stay float64 quantities.
    ``log_u``: ``log u_∞`` (float64), when components of ``u_∞`` underflow float64 (the float64
    integrator works in ``log u``; its ``extras["log_u_final"]``); then ``u_inf`` is ignored.
    """
    from numerics.flow64 import invariant_h
    from numerics.lp import l1_min

    n = problem.n
    L = config.L
    if log_u is not None:
        log_u = np.asarray(log_u, dtype=float)
        if log_u.shape != (n,) or not np.all(np.isfinite(log_u)):
            raise ValueError(f"log_u must hold n = {n} finite numbers")
    elif len(u_inf) != n:
        raise ValueError(f"u_inf must have n = {n} entries, got {len(u_inf)}")
    r0 = config.r0
    ubar0 = config.u0_for(n)
    uniform = config.u0 is None
    A = problem.A_eff
    msgs = []

    # -- radius, magnification, effective initialisation ------------------------------------
    digits = DPS_FLOAT64 if dps is None else dps
    with workdps(digits):
        mp_r = mpmath.mpf(r_inf)
        mp_u = [mpmath.exp(mpmath.mpf(float(v))) for v in log_u] if log_u is not None else [mpmath.mpf(v) for v in u_inf]
        m = mpmath.sqrt(mpmath.fsum(v * v for v in mp_u))
        w_mp = [mp_r * v / m for v in mp_u]
        x_mp = [w ** L for w in w_mp]
        if config.rates == "constant":
            eta_t = mpmath.mpf(config.eta_r) / mpmath.mpf(config.eta_u)
            rho_mp = _D.rho(mp_r, mpmath.mpf(r0), eta_t, mpmath) if _D else (r0 / mp_r) * mpmath.exp((mp_r**2 - r0**2) / (2 * eta_t))
        else:
            rho_mp = mpmath.mpf(1)
        log_rho_mp = mpmath.log(rho_mp)
        log_w0 = [mpmath.log(mpmath.mpf(r0) * mpmath.mpf(float(v))) for v in ubar0]
        log_beta_mp = [L * (lw - log_rho_mp) for lw in log_w0]
        if uniform:
            alpha_mp = mpmath.mpf(r0) / (mpmath.sqrt(n) * rho_mp)
            log_alpha_mp = mpmath.log(alpha_mp)
        S_mp = mpmath.fsum(x_mp)
        if dps is None:
            conv = float
        else:
            conv = lambda v: +v  # noqa: E731
        r_out = conv(mp_r)
        rho_out = conv(rho_mp) if dps is not None else (float(rho_mp) if log_rho_mp < 700 else math.inf)
        log_rho_out = conv(log_rho_mp)
        alpha_out = (conv(alpha_mp) if uniform else None)
        log_alpha_out = conv(log_alpha_mp) if uniform else None
        log_beta_out = np.array([float(v) for v in log_beta_mp]) if dps is None else log_beta_mp
        beta_out = np.exp(log_beta_out) if dps is None else [mpmath.exp(v) for v in log_beta_mp]
        x_eff_out = np.array([float(v) for v in x_mp]) if dps is None else x_mp
        S_out = conv(S_mp)

    x_eff64 = np.array([float(v) for v in x_mp])
    x_user = problem.to_user(x_eff_out)
    x_user64 = np.asarray(problem.to_user(x_eff64), dtype=float)

    # -- invariant at the limit (float64) -----------------------------------------------------
    if log_u is not None:
        v64 = log_u
    else:
        with np.errstate(divide="ignore"):
            v64 = np.log(np.array([float(v) for v in mp_u]))
    h = invariant_h(float(mp_r), v64, config, ubar0, r0) if np.all(np.isfinite(v64)) else None
    inv = kernel_projector(A).residual(h) if h is not None else float("nan")
    if h is None:
        msgs.append("invariant residual not evaluated: u_inf has components that underflow float64 (pass log_u)")

    # -- Bregman projection of β -----------------------------------------------------------------
    breg_mis, breg_status, breg_msg = None, None, "numerics.bregman not available"
    try:
        from numerics.bregman import bregman_projection
    except ImportError:
        bregman_projection = None
    if bregman_projection is not None:
        try:
            pr = bregman_projection(A, problem.y, None, L, dps=dps,
                                    log_beta=(log_beta_out if dps is None else log_beta_mp))
            breg_status, breg_msg = pr.status, pr.message
            if pr.status is Status.CONVERGED:
                xb = np.array([float(v) for v in pr.x])
                breg_mis = float(np.linalg.norm(x_eff64 - xb) / max(np.linalg.norm(x_eff64), 1e-300))
        except Exception as exc:  # a failed reference is reported, not raised
            breg_status, breg_msg = Status.FAILED, f"bregman_projection raised: {exc}"

    # -- ℓ1 reference, gap, bound ----------------------------------------------------------------
    if l1 is None:
        l1 = l1_min(problem)
    l1_opt = gap = gap_S = bound = ratio = None
    applies = False
    name = "MATH.md §5, L = 2 (needs α_eff < 1)" if L == 2 else "MATH.md §5, L > 2"
    if l1.status is Status.CONVERGED:
        l1_opt = float(l1.value)
        gap = float(np.sum(np.abs(x_user64))) - l1_opt
        gap_S = float(S_mp) - l1_opt
        if not uniform:
            msgs.append("ℓ1 bound not evaluated: it assumes the uniform u0 (uniform β)")
        elif _D is None:
            msgs.append("ℓ1 bound not evaluated: numerics._derived missing")
        else:
            bound = l1_bound_from_log_alpha(L, l1_opt, S_mp, n, log_alpha_mp, dps=max(digits, 30))
            applies = bound is not None
            if not applies:
                msgs.append("L = 2 bound does not apply: α_eff ≥ 1")
            if bound is not None and bound > 0:
                ratio = gap_S / bound
    else:
        msgs.append(f"ℓ1 reference: {l1.message}")
    magn = float(mp_r) > r0
    if not magn:
        msgs.append(f"no magnification: r_inf = {float(mp_r):.6g} <= r0 = {r0:g}, so ρ < 1 (MATH.md §4)")
    return LimitReport(
        r_inf=r_out, rho=rho_out, log_rho=log_rho_out, alpha_eff=alpha_out, log_alpha_eff=log_alpha_out,
        beta=beta_out, log_beta=log_beta_out, x_inf_eff=x_eff_out, x_inf=x_user, invariant_residual=inv,
        bregman_mismatch=breg_mis, bregman_status=breg_status, bregman_message=breg_msg, l1_opt=l1_opt,
        l1_gap=gap, S=S_out, l1_gap_S=gap_S, l1_bound=bound, bound_name=name, bound_applies=applies,
        bound_ratio=ratio, magnification=magn, message="; ".join(msgs), dps=dps,
    )
