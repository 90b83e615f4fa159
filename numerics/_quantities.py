"""What a limit ``(r_∞, u_∞)`` means: ρ, α_eff, β, invariant, Bregman check, ℓ1 gap and bound.

docs/math.md §4–§5.  ``ρ`` and ``β`` are carried as logarithms (``log_rho``, ``log_alpha_eff``,
``log_beta``; ``ρ`` leaves float64's range already at ``r_∞² − r0² ≈ 1400 η̃``), and the bounds
are evaluated with the generated ``numerics._derived`` functions in mpmath, so nothing
overflows or underflows; every formula comes from its one home, :mod:`numerics._formulas`.  With
``dps`` every quantity is computed at ``dps`` digits from the exact parameters (``FlowConfig.mp``);
``LimitReport.precision`` (a :class:`Digits`) says which digits each has.  :func:`analyze` takes the
final state as ``(r_∞, u_∞)`` or ``(r_∞, log u_∞)``; :func:`analyze_flow` takes a ``FlowResult``.

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
from dataclasses import dataclass, fields
from typing import Optional, Union

import mpmath
import numpy as np

from numerics import _derived as _D
from numerics import _formulas as _F
from numerics._arith import jsonable, mp_array
from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, workdps
from numerics._status import Status

Real = Union[float, mpmath.mpf]
"""A scalar of the toolkit: a float (float64 work) or an ``mpf`` (work at ``dps`` digits)."""


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
        num, den = _F.kernel_residual(None, h, basis=self.Q)
        return 0.0 if den == 0.0 else num / den


def kernel_projector(A) -> KernelProjector:
    """Float64 projector onto ``ker(A)`` from :func:`numerics._formulas.range_basis` (scipy ``orth``)."""
    Q = _F.range_basis(A)
    return KernelProjector(np.ascontiguousarray(Q), Q.shape[1])


@dataclass(frozen=True)
class Digits:
    """The decimal digits each quantity of a :class:`LimitReport` was computed at (``None``: not
    computed; ``15``: float64)."""

    r_inf: Optional[int] = None
    rho: Optional[int] = None
    log_rho: Optional[int] = None
    alpha_eff: Optional[int] = None
    log_alpha_eff: Optional[int] = None
    beta: Optional[int] = None
    log_beta: Optional[int] = None
    x_inf_eff: Optional[int] = None
    x_inf: Optional[int] = None
    S: Optional[int] = None
    invariant_residual: Optional[int] = None
    bregman_mismatch: Optional[int] = None
    l1_opt: Optional[int] = None
    l1_gap: Optional[int] = None
    l1_gap_S: Optional[int] = None
    l1_bound: Optional[int] = None
    bound_ratio: Optional[int] = None


@dataclass(frozen=True)
class MPValues:
    """The ``mpf`` values (at ``dps``) of the residual-like quantities that a :class:`LimitReport`
    also reports as floats; ``None`` where not computed at ``dps``."""

    invariant_residual: Optional[mpmath.mpf] = None
    bregman_mismatch: Optional[mpmath.mpf] = None
    l1_opt: Optional[mpmath.mpf] = None
    l1_gap: Optional[mpmath.mpf] = None
    l1_gap_S: Optional[mpmath.mpf] = None
    l1_bound: Optional[mpmath.mpf] = None
    bound_ratio: Optional[mpmath.mpf] = None


@dataclass(frozen=True)
class LimitReport:
    """The quantities of docs/math.md §4–§5 at a (claimed) limit.

    Without ``dps`` every number is a float64 one and every vector a float64 array.  With ``dps``
    every number is *computed* at ``dps`` digits from the exact parameters (``config.mp``) and the
    given state: ``r_inf``, ``rho``, ``log_rho``, ``alpha_eff``, ``log_alpha_eff``, ``S`` are ``mpf``
    and the vectors ``beta``, ``log_beta``, ``x_inf_eff``, ``x_inf`` object arrays of ``mpf``; the
    residual-like scalars (``invariant_residual``, ``bregman_mismatch``, the ℓ1 quantities) are floats
    holding a number that was computed (differences included) at ``dps`` and only then rounded to
    float64, and their ``mpf`` values are in ``mp``.  ``precision`` gives the digits each quantity was
    computed at; a quantity can fall back to float64 (15), e.g. the ℓ1 reference when the LP polish
    does not certify a basis, and the message says why.  ``params`` holds the exact parameters
    (``config.exact_strings()``).
    """

    r_inf: Real
    rho: Real                    # inf when it overflows float64; see log_rho
    log_rho: Real
    alpha_eff: Optional[Real]    # r0/(√n ρ) for the default u0, else None
    log_alpha_eff: Optional[Real]
    beta: np.ndarray             # (w0/ρ)^L (effective coordinates; may underflow to 0, see log_beta)
    log_beta: np.ndarray
    x_inf_eff: np.ndarray
    x_inf: np.ndarray            # user coordinates
    invariant_residual: float
    bregman_mismatch: Optional[float]
    bregman_status: Optional[Status]
    bregman_message: str
    l1_opt: Optional[float]
    l1_gap: Optional[float]
    S: Real
    l1_gap_S: Optional[float]
    l1_bound: Optional[float]
    bound_name: str
    bound_applies: bool
    bound_ratio: Optional[float]
    magnification: bool          # r_inf > r0: the regime where a small η̃ magnifies (docs/math.md §4.5);
    #                              ρ > 1 is possible without it, but capped by r0/r_inf
    message: str
    dps: Optional[int]
    precision: Digits
    mp: Optional[MPValues]       # None without dps
    params: dict                 # config.exact_strings(): {name: exact decimal string or "p/q"; "u0": list or None}

    def to_dict(self) -> dict:
        """JSON-able form (:func:`numerics._arith.jsonable`): mpf values as decimal strings with
        ``dps`` digits, arrays as lists, non-finite floats as ``None``, nested records as dicts."""
        return jsonable(self, DPS_FLOAT64 if self.dps is None else self.dps)

    as_dict = to_dict  # the former name


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


def _log_ubar(u_inf, log_u, n):
    """``log ū`` at the current precision (an object array of mpf), from ``log_u`` (floats or mpf;
    any norm) or from ``u_inf`` (zero components give ``-inf``): :func:`numerics._formulas.log_direction`."""
    if log_u is not None:
        lu = mp_array(log_u)
        if lu.size != n:
            raise ValueError(f"log_u must hold n = {n} numbers, got {lu.size}")
        return _F.log_direction(log_u=lu)
    if u_inf is None or len(u_inf) != n:
        raise ValueError(f"u_inf must have n = {n} entries, got {None if u_inf is None else len(u_inf)}")
    return _F.log_direction(mp_array(u_inf))


def _log_ubar0(config: FlowConfig, n: int) -> np.ndarray:
    """``log ū0`` at the current precision from the exact parameters."""
    return config.log_w0_mp(n) - mpmath.log(config.mp("r0"))


def _invariant(log_r, lub, config: FlowConfig, n: int):
    """The invariant of docs/math.md §3.3–§3.5 at the current precision (:func:`numerics._formulas.invariant_h`):
    ``h_η`` for WN-GF with constant rates, ``log_L(w) − log_L(w0)`` otherwise; it lies in ``range(Aᵀ)``."""
    lub0 = _log_ubar0(config, n)
    if config.rates == "constant":
        s = _F.s_of_r(mpmath.exp(log_r), config.mp("r0"), config.mp("eta_tilde"))
        return _F.invariant_h(lub, lub0, s, config.L)
    log_r0 = mpmath.log(config.mp("r0"))
    return _F.invariant_h(lub + log_r, lub0 + log_r0, mpmath.mpf(0), config.L)


def analyze(problem, config: FlowConfig, r_inf, u_inf, *, dps: Optional[int] = None, l1=None,
            log_u=None) -> LimitReport:
    """Evaluate ρ, α_eff, β, the invariant residual, the Bregman mismatch and the ℓ1 gap/bound
    (docs/math.md §4, §5).

    ``r_inf``: the radius (float, mpf or str); ``u_inf``: the direction (any norm; length ``n``).
    ``log_u``: ``log u_∞`` (floats or mpf, any norm) — the faithful final state when components of
    ``u_∞`` underflow float64 (``FlowResult.log_u_final``); when given, ``u_inf`` is ignored (may be
    None).  :func:`analyze_flow` takes the :class:`numerics.FlowResult` itself.
    For plain GF (``rates="plain"``) and rates ``(r², 1)``: ``ρ = 1`` and ``w_∞ = r_∞ ū_∞``.
    ``l1``: a precomputed :class:`numerics._lp.L1Result` (else HiGHS is called).

    ``dps``: every quantity is computed at ``dps`` digits from the exact inputs — ``w₀ = r₀ū₀`` and
    ``η̃`` from ``config.mp``, ``x = (r u/‖u‖)^L``, the Bregman projection of ``β`` at ``dps`` and the
    mismatch ``‖x − x_β‖/‖x‖`` differenced before any rounding, the invariant residual at ``dps`` (basis
    of ``range(Aᵀ)`` of the exact rank, :func:`numerics._formulas.range_basis`), the ℓ1 minimum
    certified by :func:`numerics._lp_polish.l1_polish_mp` and the gap and bound from it.
    ``report.precision`` says at how many digits each number was computed.
    """
    from numerics._bregman import bregman_projection
    from numerics._lp import l1_min
    from numerics._precision import check_mp_dps

    if problem.matrix_free:
        raise ValueError("analyze needs the matrix of the problem, and this problem is matrix-free "
                         f"({type(problem.A).__name__}): pass problem.dense() instead (an M×N float64 "
                         "array; ValueError from dense() when it would be too large)")
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

    def vec(a):  # a vector of the report: float64 array, or the mpf array rounded at dps
        return a.astype(float) if dps is None else mp_array([+v for v in a])

    # -- radius, direction, magnification, effective initialisation (docs/math.md §4) -----------
    with workdps(digits):
        mp_r = _mp_positive(r_inf, "r_inf")
        lub = _log_ubar(u_inf, log_u, n)                 # log ū_∞
        log_r = mpmath.log(mp_r)
        log_w = lub + log_r                              # log w_∞ (effective coordinates)
        x_mp = np.frompyfunc(lambda t: mpmath.exp(L * t), 1, 1)(log_w)
        S_mp = mpmath.fsum(x_mp)  # S = ‖w_∞^L‖₁ (docs/math.md §5)
        r0 = config.mp("r0")
        if config.rates == "constant":
            log_rho_mp = _F.log_rho(mp_r, r0, config.mp("eta_tilde"))
        else:
            log_rho_mp = mpmath.mpf(0)
        rho_mp = mpmath.exp(log_rho_mp)
        log_beta_mp = _F.log_beta(config.log_w0_mp(n), log_rho_mp, L)
        log_alpha_mp = _F.log_alpha_eff(r0, n, log_rho_mp) if uniform else None
        r_out = conv(mp_r)
        if dps is None:
            rho_out = float(rho_mp) if log_rho_mp < 709 else math.inf
        else:
            rho_out = +rho_mp
        log_rho_out = conv(log_rho_mp)
        alpha_out = conv(mpmath.exp(log_alpha_mp)) if uniform else None
        log_alpha_out = conv(log_alpha_mp) if uniform else None
        log_beta_out = vec(log_beta_mp)
        beta_out = np.exp(log_beta_out) if dps is None else mp_array([mpmath.exp(v) for v in log_beta_mp])
        x_eff_out = vec(x_mp)
        S_out = conv(S_mp)
        x_user_mp = problem.to_user(x_mp)
        abs_x_user = mpmath.fsum(abs(v) for v in x_user_mp)
        magn = bool(mp_r > r0)
        x_user = np.asarray(problem.to_user(x_eff_out), dtype=float) if dps is None else \
            mp_array([+v for v in x_user_mp])
    for k in ("r_inf", "rho", "log_rho", "beta", "log_beta", "x_inf_eff", "x_inf", "S"):
        prec[k] = digits
    prec["alpha_eff"] = prec["log_alpha_eff"] = digits if uniform else None
    mpv = {}

    # -- invariant at the limit (docs/math.md §3) ---------------------------------------------
    inv = float("nan")
    if not all(mpmath.isfinite(v) for v in lub):
        msgs.append("invariant residual not evaluated: u_inf has zero components (pass log_u)")
    elif dps is not None:
        with workdps(dps):
            h = _invariant(log_r, lub, config, n)
            num, den = _F.kernel_norms(h, _F.range_basis(A, dps=dps), dps=dps)
            res_mp = num / den if den > 0 else mpmath.mpf(0)
            inv = float(res_mp)
            mpv["invariant_residual"] = +res_mp
        prec["invariant_residual"] = dps
    else:
        h = _invariant(log_r, lub, config, n).astype(float)  # log form: an underflowing u is fine
        num, den = _F.kernel_residual(A, h)
        inv = 0.0 if den == 0.0 else num / den
        prec["invariant_residual"] = DPS_FLOAT64

    # -- Bregman projection of β (docs/math.md §4) ----------------------------------------------
    breg_mis = None
    pr = bregman_projection(A, y, None, L, dps=dps, log_beta=log_beta_out)
    breg_status, breg_msg = pr.status, pr.message
    if pr.x is not None and pr.status in (Status.CONVERGED, Status.NOISE_FLOOR):
        with workdps(digits):
            xb = [mpmath.mpf(v) for v in pr.x]
            xs = list(x_mp) if dps is not None else [mpmath.mpf(float(v)) for v in x_mp]
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
    if l1.status is Status.CONVERGED:
        l1_digits = DPS_FLOAT64
        l1_ref = l1.value
        if dps is not None:
            from numerics._lp_polish import l1_polish_mp

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
        bound_ratio=ratio, magnification=magn, message="; ".join(msgs), dps=dps, precision=Digits(**prec),
        mp=None if dps is None else MPValues(**mpv), params=config.exact_strings(),
    )


def analyze_flow(problem, flow, *, dps: Optional[int] = None, l1=None) -> LimitReport:
    """:func:`analyze` at the end point of a :class:`numerics.FlowResult`: its ``config``, ``r_final``
    and ``log_u_final`` (the faithful final state; ``u_final`` only where ``log_u_final`` is None),
    at the run's own ``dps`` unless ``dps`` is given."""
    log_u = flow.log_u_final
    return analyze(problem, flow.config, flow.r_final, None if log_u is not None else flow.u_final,
                   dps=flow.dps if dps is None else dps, l1=l1, log_u=log_u)
