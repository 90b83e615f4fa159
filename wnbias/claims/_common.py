"""Shared helpers of the checks: the arithmetic they need, through its single homes, the §5 bounds,
and one cached integration shared between claims.

Every formula of docs/math.md has one home (issue 15): ``log_L``, ``s``, the invariant ``h_η``,
``log ρ``, ``log β``, ``log α_eff``, the kernel residual (:mod:`numerics._formulas`); the Bregman
projection (:func:`numerics.bregman_projection`); coordinates (``Problem.to_user``).  A check still
recomputes the invariant from the integrator's *final state* (never trusting the integrator's own
residual), with those formulas.  Vectors are 1-D numpy arrays: float64 (``dps=None``) or
``dtype=object`` arrays of ``mpmath.mpf`` (at ``dps`` digits, inside :func:`numerics._precision.workdps`;
see :mod:`numerics._arith`).

Everything that involves ``ρ = (r₀/r) exp((r² − r₀²)/(2η̃))`` is in log form (``log ρ``,
``log α_eff``, ``log β``): ``exp`` of the exponent overflows float64 once ``r² − r₀² > ~1400 η̃``,
and the quantities the checks compare stay finite (docs/math.md §4, §5).

The §5 bounds (:func:`l1_bound_log`) are written here from docs/math.md on purpose: C6 judges them
and cross-checks them against the generated formula of :mod:`numerics._derived`.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import mpmath
import numpy as np

from numerics import _formulas as F
from numerics._arith import mp_array, to_float
from numerics._status import Status
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, K_SOLVE, check_mp_dps, tol, workdps


def public(name: str):
    """``numerics.<name>`` (the public API), or :class:`~wnbias.claims.registry.MachineryMissing`
    naming it when its module cannot be imported (never a crash, never a SKIP)."""
    from wnbias.claims.registry import MachineryMissing, need

    try:
        return need("numerics", name)
    except ImportError as exc:  # a lazily loaded public name whose implementation module fails to import
        missing = getattr(exc, "name", None) or f"numerics.{name}"
        raise MachineryMissing(missing, f"numerics.{name} cannot be imported: {exc}") from exc


def as_mp(v) -> np.ndarray:
    """An mpf object array of ``v`` at the current precision: float64 values exactly (the binary
    doubles they are), mpf values as they are."""
    return mp_array(v)


def relative_kernel_residual(A, h, dps: Optional[int]):
    """``(‖P_ker(A) h‖ / max(‖h‖, 1), ‖P_ker h‖, ‖h‖)``: absolute for small ``h``, relative for large
    (``numerics._formulas.kernel_residual``; at ``dps`` the rank of ``A`` is decided exactly)."""
    k, nh = F.kernel_residual(A, h, dps=dps)
    k, nh = float(k), float(nh)
    return k / max(nh, 1.0), k, nh


def wn_invariant(r, u, u0, r0, eta_tilde, L: int, dps: Optional[int], s_sign: int = 1, *, log_u=None):
    """``h_η = log_L(ū e^{s}) − log_L(ū₀)`` (docs/math.md §3.3) from a state ``(r, u)`` (or ``log u``,
    faithful where ``u`` underflows float64): ``numerics._formulas.invariant_h`` of
    ``log_direction`` and ``s_of_r``.  At ``dps`` (inside ``workdps``), ``r0`` and ``eta_tilde``
    must be exact (``config.mp(...)``).  ``s_sign = −1`` is a planted *wrong* variant (C3's
    discriminator, ``falsify C3:wrong-sign-s``)."""
    if dps is None:
        lub = F.log_direction(log_u=np.asarray(log_u, dtype=float)) if log_u is not None else \
            F.log_direction(np.asarray(u, dtype=float))
        lub0 = F.log_direction(np.asarray(u0, dtype=float))
        s = F.s_of_r(float(r), float(r0), float(eta_tilde))
    else:
        lub = F.log_direction(log_u=as_mp(log_u)) if log_u is not None else F.log_direction(as_mp(u))
        lub0 = F.log_direction(as_mp(u0))
        s = F.s_of_r(mpmath.mpf(r), mpmath.mpf(r0), mpmath.mpf(eta_tilde))
    return F.invariant_h(lub, lub0, s, L, s_sign=s_sign)


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
            s = float(F.s_of_r(float(r_inf), float(r0), float(eta_tilde)))  # η̃/(r_∞² − r₀²) = 1/(2s)
            return 1.0 / (2.0 * s) if s > 0 else float("nan")
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


def log_beta_of(config, n: int, log_rho, L: int, dps: Optional[int] = None):
    """``log β = L (log w₀ − log ρ)`` (``numerics._formulas.log_beta``): a float64 array, or at
    ``dps`` (inside ``workdps``; ``log_rho`` mpf) an mpf array with ``log w₀`` from the exact parameters."""
    return F.log_beta(log_w0_at(config, n, dps), float(log_rho) if dps is None else mpmath.mpf(log_rho), L)


def fit_line(x: Sequence[float], y: Sequence[float]):
    """Least-squares line ``y ≈ a + b x`` (``scipy.stats.linregress``): ``(b, se_b, a)``, with
    ``se_b`` nan for two points (no degree of freedom left to estimate it)."""
    from scipy.stats import linregress

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    fit = linregress(x, y)
    se = float(fit.stderr) if len(x) > 2 else float("nan")
    return float(fit.slope), se, float(fit.intercept)


# -- integration, shared between claims (C1, C2 and C8 reuse one run) ---------------------


RTOL64 = tol(DPS_FLOAT64, K_ROUNDOFF)
"""Float64 integrations run at rtol = tol(15, K_ROUNDOFF) = 1e-12 (the engine's atol on ``log u``
is rtol too); their checks then allow tol(15, K_ACCUMULATED) (three more digits lost along the
trajectory)."""

_RUNS: dict = {}

FLOW_TIME_LIMIT = 600.0
"""Wall-clock ``time_limit=`` (seconds) of one integration: far above the honest work of every
built-in case (a few seconds), so that a busy machine does not change what is checked; a run
that still hits it is reported with status TIME_LIMIT by the check (never silently)."""


def effective_dps(dps: Optional[int]) -> int:
    """The digits a check works at: ``DPS_FLOAT64`` for ``dps=None`` (float64), else ``dps``, which
    must be at least ``MIN_DPS`` (``ValueError``: a precision below float64's is never run as float64)."""
    return DPS_FLOAT64 if dps is None else check_mp_dps(dps)


FLOAT64_CHECK_METHOD = "auto-full"
"""The float64 method of every claim's flow: DOP853, then BDF, in the original ``(r, log u)``
coordinates (``numerics.integrate``'s default ``"auto"`` may integrate the dual coordinates ``λ``,
where the invariant of §3.3 holds by construction: docs/math.md §6.3)."""


def integrate(problem, config, dps: Optional[int], *, t_max: float, loss_tol: Optional[float] = None,
              time_limit: Optional[float] = FLOW_TIME_LIMIT):
    """The flow through the one public ``integrate`` (``dps=None``: float64 at ``rtol =`` :data:`RTOL64`;
    ``dps ≥ MIN_DPS``: the Taylor engine; below: ``ValueError``).  Results are cached per
    ``(problem, config, dps, t_max, loss_tol, time_limit)``: C1, C2 and C8 reuse one run."""
    key = (id(problem), config, dps, float(t_max), loss_tol, time_limit)
    hit = _RUNS.get(key)
    if hit is not None and hit[0] is problem:
        return hit[1]
    run = public("integrate")
    dps = None if dps is None else check_mp_dps(dps)
    # float64: the (r, log u) coordinates ("auto-full"), never the dual coordinates λ in which the
    # invariant holds by construction (docs/math.md §6.3: the check must integrate (r, u))
    res = run(problem, config, dps=dps, t_max=t_max, loss_tol=loss_tol, time_limit=time_limit,
              rtol=RTOL64 if dps is None else None, **({"method": FLOAT64_CHECK_METHOD} if dps is None else {}))
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


def log_u_of(res) -> np.ndarray:
    """``log u`` at the end of a float64 run (``FlowResult.log_u_final``: faithful where ``u`` underflows)."""
    return np.asarray(res.log_u_final, dtype=float)


def final_weights(problem, config, res, dps):
    """``w = r·ū`` at the end of a run (``x = w^L`` in the effective coordinates): float64 from
    ``log ū`` (``numerics._formulas.log_direction``), or an mpf array at ``dps`` (inside ``workdps``)."""
    if dps is None:
        with np.errstate(under="ignore"):
            return float(res.r_final) * np.exp(F.log_direction(log_u=log_u_of(res)))
    u = as_mp(res.u_final)
    nu = mpmath.sqrt(mpmath.fsum(x * x for x in u))
    r = mpmath.mpf(res.r_final)
    return mp_array(r * x / nu for x in u)


def final_log_weights(res, dps):
    """``log w = log r + log ū`` at the end of a run: float64 from ``log u`` (faithful where ``w``
    underflows), or an mpf array at ``dps`` (inside ``workdps``)."""
    if dps is None:
        return math.log(float(res.r_final)) + F.log_direction(log_u=log_u_of(res))
    return mpmath.log(mpmath.mpf(res.r_final)) + F.log_direction(as_mp(res.u_final))


def log_w0_at(config, n, dps):
    """``log w0`` as float64 (``dps`` None) or as an mpf array at ``dps`` from the exact parameters."""
    if dps is None:
        return np.log(config.w0_for(n))
    return as_mp(config.log_w0_mp(n))


def plain_invariant_of(config, res, n, dps):
    """The plain-GF / rates ``(r², 1)`` invariant ``log_L(w) − log_L(w0)`` (docs/math.md §3.4–§3.5) at
    the end of a run, from ``log w`` (``numerics._formulas.invariant_h`` with ``s = 0``)."""
    return F.invariant_h(final_log_weights(res, dps), log_w0_at(config, n, dps), 0, config.L)


def x_eff_of(w, L, dps):
    """``x = w^L`` (effective coordinates), of the arithmetic of ``w``."""
    if dps is None:
        return np.asarray(w, dtype=float) ** L
    return as_mp(w) ** L


def project(A, y, beta, L: int, *, log_beta=None):
    """Float64 Bregman projection of ``beta`` (or of ``exp(log_beta)``, which may lie below
    float64's range) onto ``{Az = y, z ≥ 0}``, held to ``‖Ax − y‖ ≤ tol(15, K_SOLVE)·‖y‖``
    (``numerics._bregman``'s default).  Where float64 stops at its noise floor (or its Newton
    iteration stalls) above that — small right-hand sides of tiny initialisations — it is refined
    at dps 30 from its dual point, to the same relative tolerance.
    Returns ``(x float64 array or None, result)``."""
    bp = public("bregman_projection")
    y = np.asarray(y, dtype=float)
    if log_beta is None:
        log_beta = np.log(np.asarray(beta, dtype=float))
    log_beta = np.asarray(log_beta, dtype=float)
    p = bp(A, y, None, L, log_beta=log_beta)
    if p.status is Status.CONVERGED:
        return to_float(p.x), p
    if p.status is not Status.NOISE_FLOOR and p.status is not Status.NOT_CONVERGED:
        return None, p
    nu = None
    if p.nu is not None and np.all(np.isfinite(to_float(p.nu))):
        nu = p.nu
    with workdps(30):
        q = bp(A, y, None, L, dps=30, tol=tol(DPS_FLOAT64, K_SOLVE), log_beta=as_mp(log_beta),
               nu0=None if nu is None else as_mp(nu))
    if q.status is not Status.CONVERGED:
        return None, q
    return to_float(q.x), q


PROJECT_MP_K = -2
"""``k`` of the tolerance of :func:`project_mp`: ``‖Ax − b‖ ≤ tol(dps, −2)·max(‖b‖, 1)``, two digits
beyond ``dps`` (the solver carries guard digits), so the projection's own error stays far below every
tolerance it is compared with (``tol(dps, K_SOLVE)``, ``tol(dps, K_ACCUMULATED)``)."""


def project_mp(A, b, log_beta, L: int, dps: int, *, nu0=None, max_iter: int = 100):
    """Bregman projection at ``dps`` digits of ``β = exp(log_beta)`` onto ``{Az = b, z ≥ 0}`` with
    ``b`` held at ``dps`` (an mpf array, e.g. ``A x(T)`` of a high-precision run, used exactly):
    :func:`numerics.bregman_projection` at ``dps`` to ``‖Ax − b‖ ≤ tol(dps,`` :data:`PROJECT_MP_K` ``)·max(‖b‖, 1)``.
    ``nu0``: a starting dual point (e.g. the float64 projection's).  Call inside ``workdps(dps)``.
    Returns ``(x, residual, iterations)``: ``x`` (an mpf array) None unless the projection converged."""
    b = as_mp(b)
    nb = mpmath.sqrt(mpmath.fsum(v * v for v in b))
    rel = tol(dps, PROJECT_MP_K) * (float(max(nb, 1) / nb) if nb > 0 else 1.0)
    p = public("bregman_projection")(A, b, None, L, log_beta=as_mp(log_beta), dps=dps, tol=rel, max_iter=max_iter,
                                     nu0=None if nu0 is None else as_mp(nu0))
    if p.status is not Status.CONVERGED:
        return None, float(p.residual), p.iterations
    return p.x, float(p.residual), p.iterations


def w_distance(x_a, x_b, L: int) -> float:
    """``‖x_a^{1/L} − x_b^{1/L}‖∞ / ‖x_a^{1/L}‖∞``: the distance in the weights ``w`` the flow
    integrates (``x = w^L`` would multiply the relative error by ``L``)."""
    wa = np.abs(to_float(np.asarray(x_a))) ** (1.0 / L)
    wb = np.abs(to_float(np.asarray(x_b))) ** (1.0 / L)
    return float(np.max(np.abs(wa - wb)) / np.max(wa))
