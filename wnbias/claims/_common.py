"""Shared, independent arithmetic for the checks: invariants, kernel projections, §5 bounds.

These are written here from docs/math.md on purpose: a check recomputes the invariant from the
integrator's final state instead of trusting the integrator's own residual.  Vectors are
numpy arrays (``dps=None``, float64) or lists of ``mpmath.mpf`` (``dps`` digits; call inside
:func:`numerics.precision.workdps`).

Everything that involves ``ρ = (r₀/r) exp((r² − r₀²)/(2η̃))`` is computed in log form
(``log ρ``, ``log α_eff``, ``log β``): ``exp`` of the exponent overflows float64 once
``r² − r₀² > ~1400 η̃``, and the quantities the checks compare stay finite (docs/math.md §4, §5).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import mpmath
import numpy as np

from numerics._status import Status
from numerics.precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, tol, workdps  # noqa: F401


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
    """``log_L(v) = (v^{2−L} − 1)/(2 − L)``; ``log v`` for ``L = 2`` (docs/math.md §3.3)."""
    if dps is None:
        v = np.asarray(v, dtype=float)
        return np.log(v) if L == 2 else (v ** (2 - L) - 1.0) / (2 - L)
    if L == 2:
        return [mpmath.log(x) for x in v]
    return [(x ** (2 - L) - 1) / (2 - L) for x in v]


def wn_invariant(r, u, u0, r0, eta_tilde, L: int, dps: Optional[int], s_sign: int = 1, *, log_u=None):
    """``h_η = log_L(ū e^{s}) − log_L(ū₀)``, ``s = (r² − r₀²)/(2η̃)`` (docs/math.md §3.3).

    In log form: ``log_L(ū e^{s}) = log ū + s`` for ``L = 2`` and
    ``(exp((2−L)(log ū + s)) − 1)/(2−L)`` for ``L > 2``, so that no ``e^{s}`` is formed (it
    overflows float64 for ``s > 709``).  ``log_u``: ``log u`` (float64) where components of ``u``
    underflow (the float64 integrator's ``extras["log_u_final"]``).  At ``dps``, ``r0`` and
    ``eta_tilde`` should be mpf (``config.mp(...)``) or exact strings/Fractions, never floats
    that stand for decimals.  ``s_sign = −1`` is a planted *wrong* variant
    (``falsify C3:wrong-sign-s``, and C3's discriminator).
    """
    if dps is None:
        u0 = npvec(u0)
        lub0 = np.log(u0) - math.log(float(np.linalg.norm(u0)))
        if log_u is not None:
            lu = np.asarray(log_u, dtype=float)
            m = float(np.max(lu))
            lub = lu - (m + 0.5 * math.log(float(np.sum(np.exp(2 * (lu - m))))))
        else:
            u = npvec(u)
            lub = np.log(u) - math.log(float(np.linalg.norm(u)))
        s = s_sign * (float(r) ** 2 - float(r0) ** 2) / (2 * float(eta_tilde))
        if L == 2:
            return (lub + s) - lub0
        k = 2 - L
        with np.errstate(over="ignore"):
            return (np.exp(k * (lub + s)) - np.exp(k * lub0)) / k
    u = mpvec(u)
    nu = mpmath.sqrt(mpmath.fsum(x * x for x in u))
    u0 = mpvec(u0)
    nu0 = mpmath.sqrt(mpmath.fsum(x * x for x in u0))
    r = mpmath.mpf(r)
    s = s_sign * (r * r - _mpf(r0) ** 2) / (2 * _mpf(eta_tilde))
    lub = [mpmath.log(x / nu) for x in u]
    lub0 = [mpmath.log(x / nu0) for x in u0]
    if L == 2:
        return [(a + s) - b for a, b in zip(lub, lub0)]
    k = 2 - L
    return [(mpmath.exp(k * (a + s)) - mpmath.exp(k * b)) / k for a, b in zip(lub, lub0)]


def _mpf(v):
    """An mpf at the current precision from an mpf, int, Fraction or exact string (a float is
    taken as the double it is)."""
    from fractions import Fraction

    if isinstance(v, Fraction):
        return mpmath.mpf(v.numerator) / v.denominator
    return mpmath.mpf(v)


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


# -- §5 bounds, written from docs/math.md (the derived versions live in numerics._derived) -----


BOUND_VARIANTS = {
    "": "the §5 bound",
    "no-n-factor": "L > 2 without the factor n^{(L−2)/L} (WRONG)",
    "half-L2": "the L = 2 bound multiplied by ½ (WRONG)",
    "half-Lgt2": "the L > 2 bound multiplied by ½ (WRONG)",
    "alpha-L-1": "L > 2 with α_eff^{L−1} in place of α_eff^{L−2} (WRONG)",
    "false-L2": "L = 2: gap ≤ η̃/(r_∞² − r₀²) (WRONG: only the order of the bound)",
}
"""Named variants of the §5 bound: the true one (``""``) and planted wrong ones.  A variant
that concerns the other depth leaves the bound unchanged."""


def l1_bound_log(l1_opt: float, S: float, n: int, log_alpha: float, L: int, *, variant: str = "",
                 eta_tilde: Optional[float] = None, r_inf: Optional[float] = None,
                 r0: Optional[float] = None) -> float:
    """The a-posteriori bound on ``S − ‖z*‖₁`` of docs/math.md §5 from ``log α_eff``.

    ``L = 2`` (needs ``log α_eff < 0``): ``[‖z*‖ log‖z*‖ − ‖z*‖ − S log(S/n) + S] / (2 log(1/α_eff))``;
    ``L > 2``: ``(L/2) α_eff^{L−2} n^{(L−2)/L} S^{2/L}``, evaluated as the exponential of its
    logarithm (finite wherever the bound is).  ``variant``: one of :data:`BOUND_VARIANTS`
    (``"false-L2"`` needs ``eta_tilde``, ``r_inf`` and ``r0``).  NaN where the bound does not
    apply."""
    if variant not in BOUND_VARIANTS:
        raise ValueError(f"unknown bound variant {variant!r}; known: {', '.join(v for v in BOUND_VARIANTS if v)}")
    la = float(log_alpha)
    if L == 2:
        if variant == "false-L2":
            d = float(r_inf) ** 2 - float(r0) ** 2
            return float(eta_tilde) / d if d > 0 else float("nan")
        if not la < 0:
            return float("nan")
        z = float(l1_opt)
        num = (z * math.log(z) if z > 0 else 0.0) - z - S * math.log(S / n) + S
        b = num / (-2.0 * la)
        return 0.5 * b if variant == "half-L2" else b
    power = L - 1 if variant == "alpha-L-1" else L - 2
    log_b = math.log(L / 2.0) + power * la + (2.0 / L) * math.log(S)
    if variant != "no-n-factor":
        log_b += (L - 2) / L * math.log(n)
    if variant == "half-Lgt2":
        log_b -= math.log(2.0)
    return math.exp(log_b) if log_b < 709.0 else float("inf")


def l1_bound(l1_opt: float, S: float, n: int, alpha_eff: float, L: int, *, variant: str = "") -> float:
    """:func:`l1_bound_log` with ``α_eff`` itself (``α_eff ≤ 0`` or not finite: NaN)."""
    a = float(alpha_eff)
    if not (a > 0 and math.isfinite(a)):
        return float("nan")
    return l1_bound_log(l1_opt, S, n, math.log(a), L, variant=variant)


def log_rho_of(r, r0, eta_tilde) -> float:
    """``log ρ = log(r₀/r) + (r² − r₀²)/(2η̃)`` (docs/math.md §4), float64, never overflowing."""
    r, r0, et = float(r), float(r0), float(eta_tilde)
    return math.log(r0 / r) + (r * r - r0 * r0) / (2.0 * et)


def rho_of(r_inf: float, r0: float, eta_tilde: float) -> float:
    """``ρ = (r₀/r_∞) exp((r_∞² − r₀²)/(2η̃))`` (§4); ``inf`` where it exceeds float64 (use
    :func:`log_rho_of` for arithmetic)."""
    lr = log_rho_of(r_inf, r0, eta_tilde)
    return math.exp(lr) if lr < 709.0 else float("inf")


def log_alpha_eff(config, n: int, log_rho: float) -> float:
    """``log α_eff = log r₀ − ½ log n − log ρ`` (uniform ``u₀``; docs/math.md §4)."""
    return math.log(config.r0) - 0.5 * math.log(n) - float(log_rho)


def log_beta_of(config, n: int, log_rho, L: int, dps: Optional[int] = None):
    """``log β = L (log w₀ − log ρ)`` (docs/math.md §4): float64 array, or mpf list at ``dps``
    (inside ``workdps``; ``log_rho`` then mpf and ``w₀`` from the exact parameters)."""
    if dps is None or dps <= DPS_FLOAT64:
        return L * (np.log(config.w0_for(n)) - float(log_rho))
    return [L * (lw - log_rho) for lw in config.log_w0_mp(n)]


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


RTOL64 = tol(DPS_FLOAT64, K_ROUNDOFF)
"""Float64 integrations run at rtol = tol(15, K_ROUNDOFF) = 1e-12; their checks then allow
tol(15, K_ACCUMULATED) (three more digits lost along the trajectory)."""

_RUNS: dict = {}

FLOW_TIME_LIMIT = 600.0
"""Wall-clock ``time_limit=`` (seconds) of one integration: far above the honest work of every
built-in case (a few seconds), so that a busy machine does not change what is checked; a run
that still hits it is reported with status TIME_LIMIT by the check (never silently)."""


def effective_dps(dps: Optional[int]) -> int:
    return DPS_FLOAT64 if dps is None or dps <= DPS_FLOAT64 else int(dps)


def integrate(problem, config, dps: Optional[int], *, t_max: float, loss_tol: Optional[float] = None,
              time_limit: Optional[float] = FLOW_TIME_LIMIT):
    """Integrate the flow: float64 (``numerics.flow64``) for ``dps ≤ 15`` or ``None``,
    else the high-precision Taylor integrator (``numerics.taylor``).  Results are cached."""
    from wnbias.claims.registry import need

    key = (id(problem), config, dps, float(t_max), loss_tol, time_limit)
    hit = _RUNS.get(key)
    if hit is not None and hit[0] is problem:
        return hit[1]
    if dps is None or dps <= DPS_FLOAT64:
        fn = need("numerics.flow64", "integrate")
        kw = dict(t_max=t_max, rtol=RTOL64, atol=RTOL64 * 1e-3, time_limit=time_limit)
    else:
        fn = need("numerics.taylor", "integrate_mp")
        kw = dict(dps=int(dps), t_max=t_max, time_limit=time_limit)
    if loss_tol is not None:
        kw["loss_tol"] = loss_tol
    res = fn(problem, config, **kw)
    _RUNS[key] = (problem, res)
    return res


def require_run(res, what: str = "the flow") -> None:
    """Raise :class:`~wnbias.claims.registry.EmptyCheck` where a run has nothing to check: an
    inconsistent or trivial problem (the integrator's status), or zero accepted steps."""
    from wnbias.claims.registry import EmptyCheck

    st = res.status
    if st is Status.INCONSISTENT or st is Status.TRIVIAL:
        raise EmptyCheck(f"{what} did not run on this problem ({st.value}: {res.message})")
    if not (res.nsteps and res.nsteps > 0) or not float(res.t_final) > 0:
        raise EmptyCheck(f"{what} never ran (zero steps, t = {float(res.t_final):g}; {st.value}: {res.message})")


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
    """``w0 = r0·ū0`` as float64 (``dps`` None) or, at ``dps``, ``config.w0_mp(n)``: computed at
    that precision from the exact parameters (call inside ``workdps``)."""
    if dps is None or dps <= DPS_FLOAT64:
        return config.w0_for(n)
    return config.w0_mp(n)


def x_eff_of(w, L, dps):
    if dps is None or dps <= DPS_FLOAT64:
        return np.asarray(w, dtype=float) ** L
    return [x ** L for x in w]


def project(A, y, beta, L: int, *, log_beta=None):
    """Float64 Bregman projection of ``beta`` (or of ``exp(log_beta)``, which may lie below
    float64's range) onto ``{Az = y, z ≥ 0}``, held to ``‖Ax − y‖ ≤ tol(15, K_SOLVE)·‖y‖``
    (``numerics.bregman``'s default).  Where float64 stops at its noise floor (or its Newton
    iteration stalls) above that — small right-hand sides of tiny initialisations — it is refined
    at dps 30 from its dual point, to the same relative tolerance.
    Returns ``(x float64 array or None, result)``."""
    from wnbias.claims.registry import need

    bp = need("numerics.bregman", "bregman_projection")
    y = np.asarray(y, dtype=float)
    if log_beta is None:
        log_beta = np.log(np.asarray(beta, dtype=float))
    log_beta = np.asarray(log_beta, dtype=float)
    p = bp(A, y, None, L, log_beta=log_beta)
    if p.status is Status.CONVERGED:
        return npvec(p.x), p
    if p.status is not Status.NOISE_FLOOR and p.status is not Status.NOT_CONVERGED:
        return None, p
    nu = None
    if p.nu is not None and np.all(np.isfinite(npvec(p.nu))):
        nu = [mpmath.mpf(float(v)) for v in npvec(p.nu)]
    with workdps(30):
        q = bp(A, y, None, L, dps=30, tol=tol(DPS_FLOAT64, K_SOLVE), log_beta=[mpmath.mpf(float(b)) for b in log_beta],
               nu0=nu)
    if q.status is not Status.CONVERGED:
        return None, q
    return npvec(q.x), q


def project_mp(A, b, log_beta, L: int, dps: int, *, nu0=None, max_iter: int = 100):
    """Bregman projection at ``dps`` digits of ``β = exp(log_beta)`` onto ``{Az = b, z ≥ 0}``
    with ``b`` held at ``dps`` (a list of mpf: ``A x(T)`` of a high-precision run, which
    ``numerics.bregman`` cannot take, its ``y`` being float64 data).  Written here from
    docs/math.md §4, independently of ``numerics.bregman``: Newton on the dual, ``∇F(x) =
    ∇F(β) + Aᵀν`` with ``∇F(z) = log_L(z^{1/L})``, so ``x = β·e^{2Aᵀν}`` (``L = 2``) and
    ``x = (β^{(2−L)/L} − (L−2)Aᵀν)^{−L/(L−2)}`` (``L > 2``); Jacobian ``A diag(L x^{(2L−2)/L}) Aᵀ``.
    ``nu0``: a starting dual point (e.g. the float64 projection's).  Call inside ``workdps(dps)``.
    Returns ``(x, residual, iterations)``: ``x`` None when Newton fails."""
    M, n = A.shape
    Am = [[mpmath.mpf(float(A[i, j])) for j in range(n)] for i in range(M)]
    b = [mpmath.mpf(v) for v in b]
    lb = [mpmath.mpf(v) for v in log_beta]
    if L > 2:
        q0 = [mpmath.exp((mpmath.mpf(2 - L) / L) * v) for v in lb]
    nu = [mpmath.mpf(0)] * M if nu0 is None else [mpmath.mpf(v) for v in nu0]

    def x_of(nu):
        th = [mpmath.fsum(Am[i][j] * nu[i] for i in range(M)) for j in range(n)]
        if L == 2:
            return [mpmath.exp(v + 2 * t) for v, t in zip(lb, th)]
        q = [a - (L - 2) * t for a, t in zip(q0, th)]
        if any(v <= 0 for v in q):
            return None
        return [v ** (-mpmath.mpf(L) / (L - 2)) for v in q]

    def resid(x):
        g = [mpmath.fsum(Am[i][j] * x[j] for j in range(n)) - b[i] for i in range(M)]
        return g, mpmath.sqrt(mpmath.fsum(v * v for v in g))

    x = x_of(nu)
    if x is None:
        return None, float("nan"), 0
    g, rn = resid(x)
    target = mpmath.mpf(10) ** (-(dps + 2)) * max(mpmath.mpf(1), mpmath.sqrt(mpmath.fsum(v * v for v in b)))
    for it in range(1, max_iter + 1):
        if rn <= target:
            return x, float(rn), it - 1
        d = [L * v ** (mpmath.mpf(2 * L - 2) / L) for v in x]
        J = mpmath.matrix(M, M)
        for i in range(M):
            for k in range(i, M):
                J[i, k] = J[k, i] = mpmath.fsum(Am[i][j] * d[j] * Am[k][j] for j in range(n))
        step = mpmath.lu_solve(J, mpmath.matrix([-v for v in g]))
        lam = mpmath.mpf(1)
        for _ in range(60):
            cand = [a + lam * step[i] for i, a in enumerate(nu)]
            xc = x_of(cand)
            if xc is not None:
                gc, rc = resid(xc)
                if rc < rn:
                    break
            lam /= 2
        else:
            return None, float(rn), it
        nu, x, g, rn = cand, xc, gc, rc
    return (x, float(rn), max_iter) if rn <= target else (None, float(rn), max_iter)


def w_distance(x_a, x_b, L: int) -> float:
    """``‖x_a^{1/L} − x_b^{1/L}‖∞ / ‖x_a^{1/L}‖∞``: the distance in the weights ``w`` the flow
    integrates (``x = w^L`` would multiply the relative error by ``L``)."""
    wa = np.abs(npvec(x_a)) ** (1.0 / L)
    wb = np.abs(npvec(x_b)) ** (1.0 / L)
    return float(np.max(np.abs(wa - wb)) / np.max(wa))


def limit_distance_estimate(problem, x_T, x_hat) -> float:
    """``‖x(T) − x̂_∞(T)‖_∞``: how far the final state is from its own limit estimate."""
    return float(np.max(np.abs(npvec(x_T) - npvec(x_hat))))
