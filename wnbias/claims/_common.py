"""Shared, independent arithmetic for the checks: invariants, kernel projections, §5 bounds.

These are written here from MATH.md on purpose: a check recomputes the invariant from the
integrator's final state instead of trusting the integrator's own residual.  Vectors are
numpy arrays (``dps=None``, float64) or lists of ``mpmath.mpf`` (``dps`` digits; call inside
:func:`numerics.precision.workdps`).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from typing import Optional, Sequence

import mpmath
import numpy as np

from numerics.precision import workdps


def is_mp(v) -> bool:
    return not isinstance(v, np.ndarray) and isinstance(v, (list, tuple, mpmath.matrix)) or isinstance(v, mpmath.mpf)


def mpvec(v) -> list:
    """Exact conversion of a float64 array (or an mpf sequence) to a list of mpf."""
    if isinstance(v, np.ndarray):
        return [mpmath.mpf(float(x)) for x in v.reshape(-1)]
    return [mpmath.mpf(x) for x in v]


def npvec(v) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v.astype(float).reshape(-1)
    return np.array([float(x) for x in v])


def log_L(v, L: int, dps: Optional[int]):
    """``log_L(v) = (v^{2−L} − 1)/(2 − L)``; ``log v`` for ``L = 2`` (MATH.md §3.3)."""
    if dps is None:
        v = np.asarray(v, dtype=float)
        return np.log(v) if L == 2 else (v ** (2 - L) - 1.0) / (2 - L)
    if L == 2:
        return [mpmath.log(x) for x in v]
    return [(x ** (2 - L) - 1) / (2 - L) for x in v]


def wn_invariant(r, u, u0, r0, eta_tilde, L: int, dps: Optional[int], s_sign: int = 1):
    """``h_η = log_L(ū e^{s}) − log_L(ū₀)``, ``s = (r² − r₀²)/(2η̃)`` (§3.3).

    ``s_sign = −1`` is a planted *wrong* variant (used by ``falsify C3:wrong-sign-s``).
    """
    if dps is None:
        u = npvec(u)
        ub = u / np.linalg.norm(u)
        u0 = npvec(u0)
        ub0 = u0 / np.linalg.norm(u0)
        s = s_sign * (float(r) ** 2 - r0 ** 2) / (2 * eta_tilde)
        return log_L(ub * math.exp(s), L, None) - log_L(ub0, L, None)
    u = mpvec(u)
    nu = mpmath.sqrt(mpmath.fsum(x * x for x in u))
    u0 = mpvec(u0)
    nu0 = mpmath.sqrt(mpmath.fsum(x * x for x in u0))
    r = mpmath.mpf(r)
    s = s_sign * (r * r - mpmath.mpf(r0) ** 2) / (2 * mpmath.mpf(eta_tilde))
    es = mpmath.exp(s)
    a = log_L([x / nu * es for x in u], L, dps)
    b = log_L([x / nu0 for x in u0], L, dps)
    return [p - q for p, q in zip(a, b)]


def plain_invariant(w, w0, L: int, dps: Optional[int]):
    """``log_L(w) − log_L(w₀)`` (§3.4, and §3.5 for the rates ``(r², 1)``)."""
    if dps is None:
        return log_L(npvec(w), L, None) - log_L(npvec(w0), L, None)
    a = log_L(mpvec(w), L, dps)
    b = log_L(mpvec(w0), L, dps)
    return [p - q for p, q in zip(a, b)]


def kernel_component(A: np.ndarray, h, dps: Optional[int]):
    """``(‖P_ker(A) h‖, ‖h‖)``: ``h`` minus its projection onto ``range(Aᵀ)`` (least squares in
    float64; an orthonormal basis of the rows at ``dps`` digits, rank decided at that precision)."""
    if dps is None:
        h = np.asarray(h, dtype=float)
        lam, *_ = np.linalg.lstsq(A.T, h, rcond=None)
        return float(np.linalg.norm(h - A.T @ lam)), float(np.linalg.norm(h))
    # Gram–Schmidt (twice, for stability) on the rows of A at dps, dropping rows whose
    # remainder is below 10^(−dps/2)·max row norm: rank-deficient A (repeated Rademacher rows,
    # equal columns) is handled, and the range is decided at the working precision.
    with workdps(dps):
        return _kernel_component_mp(A, h, dps)


def _kernel_component_mp(A, h, dps):
    M, n = A.shape
    rows = [[mpmath.mpf(float(A[i, j])) for j in range(n)] for i in range(M)]
    scale = max(mpmath.sqrt(mpmath.fdot(r, r)) for r in rows)
    thresh = scale * mpmath.mpf(10) ** (-(dps / 2.0))
    basis = []
    for r in rows:
        v = list(r)
        for _ in range(2):
            for q in basis:
                c = mpmath.fdot(q, v)
                v = [a - c * b for a, b in zip(v, q)]
        nv = mpmath.sqrt(mpmath.fdot(v, v))
        if nv > thresh:
            basis.append([a / nv for a in v])
    hv = mpvec(h)
    res = list(hv)
    for _ in range(2):
        for q in basis:
            c = mpmath.fdot(q, res)
            res = [a - c * b for a, b in zip(res, q)]
    return float(mpmath.sqrt(mpmath.fdot(res, res))), float(mpmath.sqrt(mpmath.fdot(hv, hv)))


def relative_kernel_residual(A, h, dps):
    """``‖P_ker h‖ / max(‖h‖, 1)``: absolute for small ``h``, relative for large ``h``."""
    k, nh = kernel_component(A, h, dps)
    return k / max(nh, 1.0), k, nh


# -- §5 bounds, written from MATH.md (the derived versions live in numerics._derived) -----


def l1_bound(l1_opt: float, S: float, n: int, alpha_eff: float, L: int, *, variant: str = "") -> float:
    """The a-posteriori bound on ``S − ‖z*‖₁`` of MATH.md §5 (``F`` normalised as in §4).

    ``L = 2`` (needs ``α_eff < 1``): ``[‖z*‖ log‖z*‖ − ‖z*‖ − S log(S/n) + S] / (2 log(1/α_eff))``;
    ``L > 2``: ``(L/2) α_eff^{L−2} n^{(L−2)/L} S^{2/L}``.  ``variant="no-n-factor"`` drops
    ``n^{(L−2)/L}`` (a planted wrong bound for ``falsify``).
    """
    if L == 2:
        if not alpha_eff < 1:
            return float("nan")
        z = l1_opt
        num = (z * math.log(z) if z > 0 else 0.0) - z - S * math.log(S / n) + S
        return num / (2.0 * math.log(1.0 / alpha_eff))
    nfac = 1.0 if variant == "no-n-factor" else n ** ((L - 2) / L)
    return (L / 2.0) * alpha_eff ** (L - 2) * nfac * S ** (2.0 / L)


def rho_of(r_inf: float, r0: float, eta_tilde: float) -> float:
    """``ρ = (r₀/r_∞) exp((r_∞² − r₀²)/(2η̃))`` (§4)."""
    return (r0 / r_inf) * math.exp((r_inf ** 2 - r0 ** 2) / (2 * eta_tilde))


def fit_line(x: Sequence[float], y: Sequence[float]):
    """Least-squares line ``y ≈ a + b x``: ``(b, se_b, a)`` (``se_b`` nan with 2 points)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    X = np.vstack([np.ones_like(x), x]).T
    coef, res, *_ = np.linalg.lstsq(X, y, rcond=None)
    a, b = coef
    dof = len(x) - 2
    if dof <= 0:
        return float(b), float("nan"), float(a)
    resid = y - X @ coef
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(X.T @ X)
    return float(b), float(math.sqrt(max(cov[1, 1], 0.0))), float(a)


# -- integration, shared between claims (C1, C2 and C8 reuse one run) ---------------------

from numerics.precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, tol  # noqa: E402

RTOL64 = tol(DPS_FLOAT64, K_ROUNDOFF)
"""Float64 integrations run at rtol = tol(15, K_ROUNDOFF) = 1e-12; their checks then allow
tol(15, K_ACCUMULATED) (three more digits lost along the trajectory)."""

_RUNS: dict = {}


class BudgetExceeded(RuntimeError):
    """A library call ran past its wall-clock budget (reported as SKIP: not converged in budget)."""


@contextlib.contextmanager
def wall_budget(seconds: float, what: str):
    """Interrupt the block after ``seconds`` of wall time (SIGALRM; main thread on POSIX only —
    elsewhere the block runs unguarded).  Raises :class:`BudgetExceeded`."""
    if seconds is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _alarm(signum, frame):
        raise BudgetExceeded(f"{what} exceeded its {seconds:g} s budget")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        # workprec at the current precision: an interrupted library call cannot leave it changed
        with mpmath.mp.workprec(mpmath.mp.prec):
            yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def effective_dps(dps: Optional[int]) -> int:
    return DPS_FLOAT64 if dps is None or dps <= DPS_FLOAT64 else int(dps)


def integrate(problem, config, dps: Optional[int], *, t_max: float, loss_tol: Optional[float] = None):
    """Integrate the flow: float64 (``numerics.flow64``) for ``dps ≤ 15`` or ``None``,
    else the high-precision Taylor integrator (``numerics.taylor``).  Results are cached."""
    from wnbias.claims.registry import need

    key = (id(problem), config, dps, float(t_max), loss_tol)
    hit = _RUNS.get(key)
    if hit is not None and hit[0] is problem:
        return hit[1]
    if dps is None or dps <= DPS_FLOAT64:
        fn = need("numerics.flow64", "integrate")
        kw = dict(t_max=t_max, rtol=RTOL64, atol=RTOL64 * 1e-3)
        if loss_tol is not None:
            kw["loss_tol"] = loss_tol
        res = fn(problem, config, **kw)
    else:
        fn = need("numerics.taylor", "integrate_mp")
        kw = dict(dps=int(dps), t_max=t_max)
        if loss_tol is not None:
            kw["loss_tol"] = loss_tol
        res = fn(problem, config, **kw)
    _RUNS[key] = (problem, res)
    return res


def final_weights(problem, config, res, dps):
    """``w = r·u/‖u‖`` at the end of a run (``x = w^L`` in the effective coordinates)."""
    r, u = res.r_final, res.u_final
    if dps is None or dps <= DPS_FLOAT64:
        u = npvec(u)
        return float(r) * u / np.linalg.norm(u)
    u = mpvec(u)
    nu = mpmath.sqrt(mpmath.fsum(x * x for x in u))
    r = mpmath.mpf(r)
    return [r * x / nu for x in u]


def w0_at(config, n, dps):
    """``w0 = r0·ū0`` as float64 (``dps`` None) or as mpf computed at ``dps`` (not via float64:
    ``1/√n`` rounded to float64 would put a 1e-17 error into every high-precision invariant)."""
    if dps is None or dps <= DPS_FLOAT64:
        return config.w0_for(n)
    raw = [mpmath.mpf(1)] * n if config.u0 is None else [mpmath.mpf(v) for v in config.u0]
    nr = mpmath.sqrt(mpmath.fsum(v * v for v in raw))
    return [mpmath.mpf(config.r0) * v / nr for v in raw]


def x_eff_of(w, L, dps):
    if dps is None or dps <= DPS_FLOAT64:
        return np.asarray(w, dtype=float) ** L
    return [x ** L for x in w]


def projection_tol(y) -> float:
    """``tol=`` for ``bregman_projection`` so that the accepted ``‖Ax − y‖`` is
    ``tol(15, K_SOLVE)·‖y‖`` even when ``‖y‖ < 1`` (its default is relative to ``max(1, ‖y‖)``,
    which is loose for the small right-hand sides of tiny initialisations)."""
    ny = float(np.linalg.norm(npvec(y)))
    return tol(DPS_FLOAT64, K_SOLVE) * min(1.0, ny) if ny > 0 else tol(DPS_FLOAT64, K_SOLVE)


def project(A, y, beta, L: int):
    """Float64 Bregman projection of ``beta`` onto ``{Az = y, z ≥ 0}`` held to
    ``‖Ax − y‖ ≤ tol(15, K_SOLVE)·‖y‖``, checked here: where the float64 Newton result misses that
    (measured: ``numerics.bregman`` reported "converged: ‖Ax − y‖ = 2.43e-13 ≤ 1e-17" for a
    1×12 problem with ‖y‖ = 1.2e-7), it is refined at dps 30 from its dual point.
    Returns ``(x float64 array or None, result)``."""
    from wnbias.claims.registry import need

    bp = need("numerics.bregman", "bregman_projection")
    y = np.asarray(y, dtype=float)
    t = projection_tol(y)
    p = bp(A, y, beta, L, tol=t)
    ok = str(p.status) == "converged"
    if ok and float(np.linalg.norm(A @ npvec(p.x) - y)) <= t * max(1.0, float(np.linalg.norm(y))):
        return npvec(p.x), p
    with workdps(30):
        q = bp(A, y, [mpmath.mpf(float(b)) for b in np.asarray(beta, dtype=float)], L, dps=30,
               nu0=None if not ok else p.nu)
    if str(q.status) != "converged":
        return None, q
    return npvec(q.x), q


def w_distance(x_a, x_b, L: int) -> float:
    """``‖x_a^{1/L} − x_b^{1/L}‖∞ / ‖x_a^{1/L}‖∞``: the distance in the weights ``w`` the flow
    integrates (``x = w^L`` would multiply the relative error by ``L``)."""
    wa = np.abs(npvec(x_a)) ** (1.0 / L)
    wb = np.abs(npvec(x_b)) ** (1.0 / L)
    return float(np.max(np.abs(wa - wb)) / np.max(wa))


def limit_distance_estimate(problem, x_T, x_hat) -> float:
    """``‖x(T) − x̂_∞(T)‖_∞``: how far the final state is from its own limit estimate."""
    return float(np.max(np.abs(npvec(x_T) - npvec(x_hat))))
