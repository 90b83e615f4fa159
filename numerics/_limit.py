"""The limit of WN-GF without integrating: a root of ``φ(r) = Σ x_i(r)^{2/L} − r²`` (docs/math.md §4).

For a candidate radius ``r`` let ``ρ(r) = (r₀/r) exp((r² − r₀²)/(2η̃))``, ``β(r) = (w₀/ρ(r))^L`` and
``x(r)`` the Bregman projection of ``β(r)`` onto ``{z ≥ 0 : Az = y}``
(:func:`numerics._bregman.bregman_projection`).  The limit radius ``r_∞`` is a root of ``φ`` and
``x_∞ = x(r_∞)``.

Why the root is the flow's, and unique.  With the normalisation of :mod:`numerics._bregman`,
``D_F(z, β(r)) = f(z) + λ(ρ) g(z)`` (up to a positive factor and constants) where, for ``L = 2``,
``f = Σ z log z − z − 2 z log w₀``, ``g = Σ z``, ``λ = 2 log ρ``; for ``L > 2``, ``f = −(L/2)Σ z^{2/L}``,
``g = Σ w₀^{2−L} z``, ``λ = ρ^{L−2}``.  Along a regularisation path ``f(x_λ)`` is non-decreasing and
``g(x_λ)`` non-increasing in ``λ``; in both cases ``S(r) = Σ x_i(r)^{2/L}`` is non-increasing in ``ρ``
(docs/math.md §5 monotonicity).  ``ρ`` increases with ``r`` where ``r² > η̃`` and decreases where
``r² < η̃``.  Hence:

* on ``r² > η̃``, ``φ`` is strictly decreasing: at most one root there;
* ``S(r) ≥ (min ℓ1)^{2/L}`` for every ``r`` (``Σ z^{2/L} ≥ (Σ z)^{2/L}``), so ``φ > 0`` below
  ``a₀ = (min ℓ1)^{1/L}`` (the ℓ1 minimum is bounded from below by a HiGHS dual certificate);
* on ``r² ≤ η̃``, ``S`` is non-decreasing in ``r``, so ``φ(r) ≥ S(a) − r² > 0`` for ``a ≤ r < √S(a)``:
  the sequence ``a_{k+1} = √S(a_k)`` pushes the root-free interval up; if it passes ``√η̃`` the root
  is unique on ``(0, ∞)``; if it stalls below ``√η̃`` there is another root there, and which one the
  flow picks is not decided here (a short integration would be needed).

Rates ``"plain"`` and ``"r2"`` have ``ρ = 1``: ``x_∞`` is the projection of ``w₀^L`` and
``r_∞ = ‖x_∞^{1/L}‖`` (method ``"projection"``).

Float64: bracket by geometric expansion from ``r₀``, Brent (``scipy.optimize.brentq``), then Newton
polish with ``φ'`` from the implicit derivative of the projection::

    θ = ∇F(β(r)) + Aᵀν(r),  A diag(dx/dθ) (q + Aᵀν') = 0,  q = d∇F(β)/dr = −β^{(2−L)/L} dlogρ/dr
    φ'(r) = 2⟨x, q + Aᵀν'⟩ − 2r          (because (2/L) x^{2/L−1} dx/dθ = 2x)

``q + Aᵀν'`` is formed in a basis of the support (:func:`numerics._bregman.tangent_dtheta`): at tiny
``β`` and ``L > 2``, ``|q|`` is huge where ``q + Aᵀν'`` is ``O(1)``.  Each projection is warm-started
from the nearest radius already solved (preferring the larger ``β``: the predictor follows ``β``
downwards well), with its dual vector *and* its bases; float64 projections are polished to the
rounding level of ``Ax − y`` (one projection per radius).  A matrix-free ``A``
(``scipy.sparse.linalg.LinearOperator``, ``Problem.A_eff``) is solved in float64 by CG on the Newton
systems; the HiGHS LPs are skipped there (as above ``_LP_MAX_ENTRIES`` entries).

Error bars at the float64 root (dense ``A``).  The residual ``Ax − y`` of the root's projection is
evaluated correctly rounded (error-free products and exact sums, :func:`_residual_dot2`, with a rigorous
bound on its error), where the bar exceeds the tolerance the projection is refined by damped Newton
steps on that residual while it decreases (:func:`_refine_projection`), and the first-order effect ``2 xᵀAᵀH⁻¹g`` of the residual ``g``
enters the bar instead of the worst case over every ``g`` within float64's rounding (which, on a
degenerate vertex where ``x`` has entries near the rounding of ``y``, was the whole bar: 2e-9 relative at
``N = 1000``, ``M = 150``, ``L = 3``).  ``H⁻¹`` is applied through the SVD of ``D^{1/2}Aᵀ``, whose float64
error (``κ`` times the backward error, Wedin's bound) is part of the bar: on a degenerate vertex ``κ`` is
huge and the computed ``H⁻¹Ax`` may be wrong in every digit; where ``κ`` is beyond float64's resolution
of the SVD (``D^{1/2}Aᵀ`` numerically rank deficient) no cancellation in ``(H⁻¹Ax)ᵀg`` is claimed and the
bar is the worst case over every residual within float64's rounding.  When the bar exceeds the tolerance by the
point's own part (not the last Newton step), a second projection at the root from a cold start (an
independent float64 point of the same projection) is computed and the smaller of the two bars (each a
bound) kept.

``L > 2`` at tiny ``β``: the LP vertex.  Where that bar still exceeds the tolerance (a degenerate vertex:
at ``N = 1000``, ``M = 150``, ``L = 3`` the float64 point has 113 basis entries of 1e-15 to 1e-18 that are
rounding, not the projection, and ``κ(D^{1/2}Aᵀ) ≈ 5e14``), or where float64 cannot represent ``β`` at all
(``β^{(2−L)/L}`` beyond ``e^{709.78}``, e.g. the signed model at that size, where the root needs ``e^{850}``),
the projection is enclosed at the vertex of ``min{⟨λ, z⟩ : Az = y, z ≥ 0}``, ``λ = β^{(2−L)/L}``, that it
approaches as ``λ`` grows (:func:`_vertex_enclosure`, python-flint balls, float64 data taken exactly):
the basis comes from a dual simplex started at the float64 point's largest entries
(:func:`_vertex_basis`), and once certified (``A_B⁻¹y > 0``, reduced costs ``> 0``) the enclosure
``[S_lo, S_hi]`` of ``S(x(r))`` holds for every radius ``r ≥ r_a`` (``λ`` only grows with ``ρ``), so the
root lies in ``[√S_lo, √S_hi]`` when ``S_lo > r_a²``: a rigorous bar, with no first-order theory and no
``κ(A D Aᵀ)`` (:func:`_vertex_stage`, for ``M ≤ _VERTEX_MAX_M``; past float64's range from the last radius
the bracket search reached, :func:`_vertex_after_failure`).

``L = 2`` at tiny ``β``: the ℓ1 solution.  There ``λ = −log β`` grows only additively with ``ρ``, and the
vertex argument above does not close.  Instead, the projection's value is concave in ``t = 2 log ρ``
with derivative ``S``, and weak duality bounds it from below, a feasible point from above.  An
interior-point solution of ``min{Σz : Az = y, z ≥ 0}`` proposes the support, a dual vector and a
strictly positive point, made exactly feasible by a verified float64 solve on a basis.  The root is
then enclosed in ``[√S_lo, √S_hi]`` (:func:`_l2_vertex_stage`, :mod:`numerics._vertex2`, docs/math.md
§4.7).  It is tried first where ``M·n > _L2_VERTEX_MIN_ENTRIES``, and at any size after the float64
bracket search stopped past float64's range; its result has ``method = L1_VERTEX_METHOD``.

With ``dps``: Newton on ``φ`` in mpmath from the float64 root, safeguarded by the bracket, each
projection warm-started from the previous dual vector.  At ``dps`` every parameter enters at ``dps``
digits from its exact value (``FlowConfig.mp``: ``r₀``, ``η̃ = η_r/η_u`` formed exactly, and
``log w₀ = log r₀ + log ū₀``), never through its float64 rounding (docs/math.md §4).

Degenerate input: ``y = 0`` gives ``Status.TRIVIAL`` (``x_∞ = 0``, ``r_∞ = 0`` when ``z = 0`` is the
only nonnegative solution of ``Az = 0``; ``None`` otherwise).  ``time_limit=`` seconds bound the whole
solve (``Status.TIME_LIMIT``); each projection gets the remaining budget.
"""

from __future__ import annotations

import inspect
import math
import re
import time
from dataclasses import dataclass, field, replace
from typing import Optional, Union

import mpmath
import numpy as np
import scipy.linalg

from numerics._status import Status
from numerics._arith import jsonable, mp_array
from numerics._bregman import _MP, _PIVOT_RATIO, _Dual, _Float64, bregman_projection, tangent_dtheta
from numerics import _derived as _D
from numerics import _formulas as _F
from numerics._config import FlowConfig
from numerics._exact64 import _dd_add, _gamma, _residual_dot2, _residual_parts
from numerics._operators import is_operator, to_dense
from numerics._precision import DPS_FLOAT64, GUARD_DIGITS, K_ROUNDOFF, K_SOLVE, check_mp_dps, tol as _tol, workdps

__all__ = ["LimitResult", "limit_solve"]

_EXPAND = 2.0
_MAX_EXPAND = 80
_LP_MAX_ENTRIES = 4_000_000  # M·n above which the HiGHS LPs are replaced (see _limit_solve)
_BRENT_RTOL = 1e-12  # Brent's relative tolerance before the Newton polish
_MAX_RETREAT = 6  # halvings of a failed expansion step before the bracket search gives up


Scalar = Union[float, mpmath.mpf]


@dataclass(frozen=True)
class LimitResult:
    """The limit ``(r_∞, x_∞)`` of a flow, computed from docs/math.md §4 without integrating.

    Vectors are 1-D numpy arrays: float64 (``dps is None``) or ``dtype=object`` arrays of ``mpmath.mpf``
    at ``dps``; scalars ``float`` or ``mpf``.  ``x_inf`` is in effective coordinates (length ``n``),
    ``x_inf_user`` in the user's.  ``residual`` is ``‖A x_∞ − y‖`` (the loss of the limit is
    ``½ residual²``); ``phi_residual`` is ``|φ(r_∞)|``; ``r_inf_error`` / ``x_inf_error`` are error bars
    (see :func:`limit_solve`).  ``nu`` is the dual vector of the final projection
    (``∇F(x_∞) − ∇F(β) = Aᵀν``).

    Diagnostics: ``unique`` (the root is proven the only one; ``unique_root_reason`` says why or why
    not), ``dphi_dr`` (``φ'(r_∞)``), ``l1_min`` / ``l1_lower_bound`` (HiGHS's ``min{Σz : Az = y, z ≥ 0}``
    and a certified lower bound on it; ``l1_lower_bound_from`` names the source), ``float64_root`` (the
    float64 root a ``dps`` solve started from), ``float64_failure`` (why float64 could not evaluate
    φ, when the root was found at ``dps`` alone), ``interior_margin`` (the relative margin of a
    strictly positive solution of ``Az = y``; ``None`` when not computed) and ``lp_skipped`` (the
    HiGHS LPs were not run: ``M·n`` above ``_LP_MAX_ENTRIES``, or a matrix-free ``A``).
    """

    status: Status
    message: str
    method: str
    r_inf: Optional[Scalar]
    x_inf: Optional[np.ndarray]
    x_inf_user: Optional[np.ndarray]
    rho: Optional[Scalar]
    alpha_eff: Optional[Scalar]
    beta: Optional[np.ndarray]
    bracket: tuple
    iterations: int
    r_inf_error: float
    x_inf_error: float
    residual: float
    phi_residual: float
    unique_root_reason: str
    dps: Optional[int]
    nu: Optional[np.ndarray] = None
    wall_time: float = float("nan")
    params: dict = field(default_factory=dict)
    """The exact parameters solved for (``FlowConfig.exact_strings()``)."""
    unique: bool = False
    dphi_dr: float = float("nan")
    l1_min: Optional[float] = None
    l1_lower_bound: Optional[float] = None
    l1_lower_bound_from: str = ""
    float64_root: Optional[float] = None
    float64_failure: str = ""
    interior_margin: Optional[float] = None
    lp_skipped: bool = False
    log_rho: Optional[Scalar] = None
    """``log ρ`` (``numerics._formulas.log_rho``): the magnification's value of record.  ``rho`` is
    ``exp(log_rho)``; in float64 it overflows to ``inf`` past ``e^709`` (and underflows to 0), which
    is acceptable only because ``log_rho`` carries the value."""
    log_alpha_eff: Optional[Scalar] = None
    """``log α_eff = log r₀ − ½ log n − log ρ`` (``numerics._formulas.log_alpha_eff``; uniform ``u0``
    only, else ``None``).  ``alpha_eff`` is ``exp(log_alpha_eff)``: in float64 it underflows to 0 (or
    overflows to ``inf``) when ``log ρ`` is huge, acceptable only because this field carries the value."""

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    def to_dict(self) -> dict:
        """JSON-able form (``numerics._arith.jsonable``): mpf values as decimal strings with ``dps``
        digits (floats otherwise), with ``dps`` and the exact ``params`` next to them."""
        return jsonable(self, DPS_FLOAT64 if self.dps is None else self.dps)

    @property
    def loss(self) -> float:
        return 0.5 * float(self.residual) ** 2


@dataclass(frozen=True)
class _Diag:
    """The diagnostics gathered along a solve (become :class:`LimitResult` fields)."""

    l1_min: Optional[float] = None
    l1_lower_bound: Optional[float] = None
    l1_lower_bound_from: str = ""
    float64_root: Optional[float] = None
    float64_failure: str = ""

    def fields(self) -> dict:
        return {"l1_min": self.l1_min, "l1_lower_bound": self.l1_lower_bound,
                "l1_lower_bound_from": self.l1_lower_bound_from, "float64_root": self.float64_root,
                "float64_failure": self.float64_failure}


@dataclass
class _Deriv:
    """``φ'(r)`` and the first-order error terms at one radius (see :meth:`_Phi._derivative`)."""

    dphi: Scalar
    dphi_err: float = 0.0
    dS_proj: Optional[Scalar] = None
    dxdr_inf: Optional[Scalar] = None
    dx_proj_inf: Optional[Scalar] = None
    dS_round: Optional[Scalar] = None
    dx_round_inf: Optional[Scalar] = None

    @property
    def has_bounds(self) -> bool:
        return self.dS_proj is not None


@dataclass
class _Eval:
    """One evaluation of φ at radius ``r`` (``phi`` None when the projection failed)."""

    r: Scalar
    proj: object
    logb: np.ndarray
    polished: bool
    logrho: Optional[float] = None
    phi: Optional[Scalar] = None
    d: Optional[_Deriv] = None


# -------------------------------------------------------------------------------------------
class _TimeUp(Exception):
    """The caller's ``time_limit`` ran out (internal; becomes ``Status.TIME_LIMIT``)."""

    def __init__(self, where: str):
        super().__init__(where)
        self.where = where


class _Clock:
    """The wall-clock budget of one solve: checked before each projection, and the remaining
    budget handed to :func:`bregman_projection` (when it takes ``time_limit=``)."""

    def __init__(self, time_limit: Optional[float], t_start: Optional[float] = None):
        self.limit = time_limit
        self.t0 = time.perf_counter() if t_start is None else t_start
        self.deadline = None if time_limit is None else self.t0 + time_limit
        params = inspect.signature(bregman_projection).parameters
        self.pass_limit = "time_limit" in params or any(q.kind is q.VAR_KEYWORD for q in params.values())

    def remaining(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.perf_counter()

    def check(self, where: str) -> None:
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            raise _TimeUp(where)

    def project(self, A, y, L, **kw):
        self.check("before a Bregman projection")
        if self.deadline is not None and self.pass_limit:
            kw["time_limit"] = max(self.remaining(), 1e-3)
        res = bregman_projection(A, y, None, L, **kw)
        if res.status is Status.TIME_LIMIT:
            raise _TimeUp("inside a Bregman projection")
        return res

    def highs_options(self) -> dict:
        return {} if self.deadline is None else {"time_limit": max(self.remaining(), 1e-3)}


class _Phi:
    """``φ``, ``φ'`` and the projections behind them, float64 or mpmath (inside ``workdps``)."""

    def __init__(self, A, y, config: FlowConfig, n: int, dps: Optional[int], clock=None):
        self.A, self.y, self.L, self.dps = A, y, config.L, dps
        self.clock = clock if clock is not None else _Clock(None)
        self.nu = None
        self.logb_last = None
        self.logx_last = None
        self.cold_retries = True
        self.cache = {}
        self.evals = 0
        self.last = None
        if dps is None:
            self.lib = np
            self.r0 = float(config.r0)
            self.et = float(config.eta_tilde)  # the exact η_r/η_u rounded once
            self.logw0 = np.log(config.w0_for(n))
            self.ar = _Float64(A, y)
        else:
            # at dps: the exact parameters rounded once at the working precision (docs/math.md §4)
            self.lib = mpmath
            self.r0 = config.mp("r0")
            self.et = config.mp("eta_tilde")
            self.logw0 = mp_array(config.log_w0_mp(n))
            self.ar = _MP(A, y, mpmath.mp.dps)

    # ρ and β -------------------------------------------------------------------------
    def logrho(self, r):
        return _F.log_rho(r, self.r0, self.et)

    def dlogrho(self, r):
        return r / self.et - 1 / r

    def logbeta(self, r):
        return _F.log_beta(self.logw0, self.logrho(r), self.L)

    # one evaluation ------------------------------------------------------------------
    def _remember(self, proj, logb):
        self.nu, self.logb_last, self.logx_last = proj.nu, logb, proj.log_x

    def project(self, logb, polish=False):
        ref = None
        kw = {"polish": True} if polish and self.dps is None else {}
        if self.dps is None and self.nu is not None and self.logb_last is not None:
            ref = (self.logb_last, self.nu, self.logx_last)
        res = self.clock.project(self.A, self.y, self.L, dps=self.dps, log_beta=logb, nu0=self.nu, path_from=ref,
                                 **kw)
        if res.status is not Status.CONVERGED and res.status is not Status.TIME_LIMIT and ref is not None:
            # from the solved radius on the other side in log β (the nearest one failed): a β that the
            # bracket search brackets lies between two solved ones
            lb0 = float(np.mean(logb))
            side = float(np.mean(ref[0])) - lb0
            others = [e for e in self.cache.values() if e.phi is not None
                      and (float(np.mean(e.logb)) - lb0) * side < 0]
            if others:
                e = min(others, key=lambda e: abs(float(np.mean(e.logb)) - lb0))
                res = self.clock.project(self.A, self.y, self.L, dps=None, log_beta=logb, nu0=e.proj.nu,
                                         path_from=(e.logb, e.proj.nu, e.proj.log_x), **kw)
        if res.status is not Status.CONVERGED and res.status is not Status.TIME_LIMIT and self.nu is not None:
            res = self.clock.project(self.A, self.y, self.L, dps=self.dps, log_beta=logb, **kw)
        elif polish and self.dps is None and res.status is Status.CONVERGED and self.nu is not None:
            # a warm start can stall above the rounding level on a (nearly) degenerate vertex, where
            # the dual Hessian is singular in float64 along the directions of the tiny x_i: retry cold
            # (dense A only: matrix-free, a cold start path-follows from β = 1 through hundreds of CG
            # Newton steps, 60 s at N = 10⁵, and the residual's rounding level is only estimated there)
            if self.cold_retries and not self.ar.op and res.residual > self.ar.rounding_level(res.x):
                cold = self.clock.project(self.A, self.y, self.L, dps=None, log_beta=logb, **kw)
                if cold.status is Status.CONVERGED and cold.residual < res.residual:
                    res = cold
                if not (cold.status is Status.CONVERGED and cold.residual <= self.ar.rounding_level(cold.x)):
                    # cold did not reach the rounding level either (or failed): a cold start path-follows
                    # from β = 1, hundreds of Newton steps at small η̃; do not pay for it again
                    self.cold_retries = False
        self.evals += 1
        if res.status is Status.CONVERGED:
            self._remember(res, logb)
        return res

    def S(self, logx):
        q = 2.0 / self.L if self.dps is None else mpmath.mpf(2) / self.L
        if self.dps is None:
            return float(np.exp(q * logx).sum())
        return mpmath.fsum(mpmath.exp(q * v) for v in logx)

    def value(self, r, derivative=False, bounds=False, polish=None, refine=False) -> _Eval:
        """φ (and φ') at radius ``r`` (float64 values are cached by ``r``; each projection warm-starts
        from the nearest radius already solved).  ``bounds``: also the first-order error terms of
        :func:`_assemble` (float64: an SVD of ``D^{1/2}Aᵀ``, so only at the final root; at dps they
        come with every derivative).  Float64 projections are always polished (to the rounding level
        of ``Ax − y``): one projection per radius, whether or not ``φ'`` is asked for later."""
        if not r > 0:
            raise ValueError(f"φ is defined for radii r > 0, got r = {r}")
        derivative = derivative or bounds
        if polish is None:
            polish = self.dps is None or derivative
        key = r if self.dps is None else None
        if key is not None and key in self.cache and (self.cache[key].polished or not polish):
            out = self.cache[key]
            if out.phi is not None and ((derivative and out.d is None) or (bounds and not out.d.has_bounds)):
                # the projection is cached: only the derivative (and bounds) are missing
                if bounds and refine:
                    self._refine_eval(out, r)
                out.d = self._derivative(r, out.proj, out.logb, bounds)
            self.last = out
            if out.phi is not None:
                self._remember(out.proj, out.logb)
            return out
        if self.cache:
            lr = float(self.logrho(r))
            # the nearest solved radius in log ρ, preferring one of smaller ρ (larger β): the predictor
            # follows β downwards well (the support's bases stay put), upwards less so
            near = min(self.cache, key=lambda k: (self.cache[k].phi is None, self.cache[k].logrho > lr,
                                                  abs(self.cache[k].logrho - lr)))
            if self.cache[near].phi is not None:
                self._remember(self.cache[near].proj, self.cache[near].logb)
        logb = self.logbeta(r)
        proj = self.project(logb, polish)
        out = _Eval(r=r, proj=proj, logb=logb, polished=polish)
        if self.dps is None:
            out.logrho = float(self.logrho(r))
        if proj.status is not Status.CONVERGED:
            self.last = out
            return out
        out.phi = self.S(proj.log_x) - r * r
        if bounds and refine:
            self._refine_eval(out, r)
        if derivative:
            out.d = self._derivative(r, out.proj, logb, bounds)
        self.last = out
        if key is not None:
            self.cache[key] = out
        return out

    def _refine_eval(self, out: _Eval, r) -> None:
        """Where the error bars are computed (float64, dense ``A``): refine the projection by damped Newton
        steps on the residual evaluated correctly rounded (:func:`_residual_dot2`), kept while that residual
        decreases; ``out.proj`` and ``out.phi`` are updated in place."""
        if self.dps is not None or self.ar.op:
            return
        new = _refine_projection(self.ar, self.A, self.y, self.L, out.proj, out.logb)
        if new is not out.proj:
            out.proj = new
            out.phi = self.S(new.log_x) - r * r
            self._remember(new, out.logb)

    def _derivative(self, r, proj, logb, bounds=True) -> _Deriv:
        """``φ'(r)`` by implicit differentiation; with ``bounds`` also the first-order effects on
        ``S`` and ``x`` of the projection's residual (``dS_proj``) and of the rounding of
        ``θ = ∇F(β) + Aᵀν`` (``dS_round``).

        ``dθ/dr = q + Aᵀν'`` with ``q = d∇F(β)/dr = −β^{(2−L)/L} dlogρ/dr`` and ``A D dθ/dr = 0``:
        :func:`numerics._bregman.tangent_dtheta`, which writes it in a basis of the support so that
        no digit cancels where ``|q|`` is huge (tiny ``β`` at ``L > 2``).

        Rounding.  The computed ``x`` satisfies ``Ax = y + g`` and ``θ(x) − θ(β) = Aᵀν + e`` with
        ``|e_i| ≤ δθ_i``.  To first order ``x − x* = D dθ`` with ``dθ = e + AᵀH⁻¹(g − ADe)``,
        ``H = ADAᵀ``, so ``δS = 2xᵀdθ = 2vᵀe + 2xᵀAᵀH⁻¹g`` with ``v = x − DAᵀH⁻¹Ax``: only the part of
        ``e`` that the constraint ``Ax = y`` does not absorb moves ``S``.  With ``B = D^{1/2}Aᵀ``,
        ``v = D^{1/2}(I − BB⁺)(x^{1/L}/√L)``, from the SVD of ``B`` (docs/math.md §4).  Where ``β`` is
        tiny, ``x`` sits on ``M`` coordinates, ``v ≈ 0`` there, and a bound ``2Σ x_i δθ_i`` (which
        ignores the constraint) would be larger by orders of magnitude.
        """
        L, ar = self.L, self.ar
        if self.dps is None:
            A, x, logx = self.A, proj.x, proj.log_x
            M_ = ar.M
            logD = math.log(L) + 2 * (L - 1) / L * logx
            mD = float(logD.max())
            Ds = np.exp(logD - mD)  # D / e^{mD}
            D = np.exp(logD)
            with np.errstate(over="ignore"):
                q = -np.exp((2 - L) / L * logb) * self.dlogrho(r)
            solve_s = ar.hessian_solver(Ds, shift=False)
            # the error terms through H⁻¹ at float64's resolution of H (the Levenberg–Marquardt shift): in
            # the directions of x_i at or below the rounding of Ax − y the first-order bound says nothing
            # (x ≥ 0 binds there), and the exact H⁻¹ would blow it up by 1/D_i
            solve_d = ar.hessian_solver(Ds, shift=True)

            def solve(g):  # H⁻¹ g with H = A D Aᵀ (shifted)
                return solve_d(g) * math.exp(-mD)

            dth, nup, basis = tangent_dtheta(ar, Ds, q, solve_s)
            dphi = 2 * float(x @ dth) - 2 * r
            # the rounding of φ': in the basis form dθ carries eps·cond relative to itself and to the
            # reduced costs ρ (of size |q| off the support); the plain form q + Aᵀν' keeps eps·|q| on the
            # support as well, where it cancels (tiny β at L > 2)
            eps = np.finfo(float).eps
            big = np.abs(dth) + (np.abs(basis) if basis is not None else np.abs(q) + np.abs(ar.ATv(nup)))
            dphi_err = 4 * eps * (float(x @ big) + r) * (M_ + 2)
            if not bounds:
                return _Deriv(dphi=dphi, dphi_err=dphi_err)
            # dense A: the residual of the computed x, correctly rounded (_residual_dot2), with a rigorous
            # bound dg on its error; matrix-free: in float64, known only to its rounding level
            exact = None if ar.op else _residual_dot2(A, x, self.y)
            g = ar.Ax(x) - self.y if exact is None else exact[0]
            dnu = solve(g)
            dS = abs(2 * float(x @ ar.ATv(dnu)))
            dxdr = D * dth
            dx_proj = D * ar.ATv(dnu)
            # rounding of θ = ∇F(β) + Aᵀν, which cancels when |∇F(β)| ≫ |∇F(x)| (tiny β at L > 2):
            # δθ_i ≈ eps (|∇F(β_i)| + |∇F(x_i)|) moves x_i by at most D_i δθ_i
            # (log β carries an absolute error eps·|log β|, which ∇F(β) = log_L(β^{1/L}) scales by (L−2)/L)
            amp = 1 + abs(2 - L) / L * np.abs(logb)
            dth_round = eps * (amp * np.abs(self._theta(logb)) + np.abs(self._theta(logx)))
            # the residual g is itself only known to rounding, in an unknown direction: bound the
            # effect of any δg with |δg_j| ≤ max(‖g‖_∞, eps (|A||x| + |y|)_j) through H⁻¹ (ill-conditioned
            # when x has tiny entries, whose errors the residual alone does not reveal)
            sqrtD = math.sqrt(L) * np.exp((1 - 1 / L) * logx)
            z = np.exp(logx / L) / math.sqrt(L)
            if ar.op:
                # matrix-free: no SVD; the same first-order terms through H⁻¹ (CG), δg at the rounding level
                lvl = ar.rounding_level(x) / math.sqrt(M_)
                dg = np.full(M_, max(float(np.abs(g).max()), lvl))
                w = ar.ATv(solve(ar.Ax(x)))
                v_round = np.abs(x - D * w) + eps * (np.abs(x) + np.abs(D * w))
                dS = max(dS, 2 * float(np.abs(dnu) @ dg) * float(np.abs(ar.Ax(x)).max()))
                return _Deriv(dphi=dphi, dphi_err=dphi_err, dS_proj=dS, dxdr_inf=float(np.abs(dxdr).max()),
                              dx_proj_inf=float(np.abs(dx_proj).max()), dS_round=2 * float(v_round @ dth_round),
                              dx_round_inf=float(np.abs(D * dth_round).max()))
            if exact is None:
                dg = np.maximum(np.abs(g).max(), eps * (np.abs(A) @ np.abs(x) + np.abs(self.y)))
                g_known = np.zeros_like(g)  # only |g| ≤ dg is known: the worst case over it
            else:
                dg = exact[1]
                g_known = g
            # With B = D^{1/2} Aᵀ (so H = BᵀB): δS = 2 xᵀAᵀH⁻¹g_true = 2 (B⁺z)ᵀ g_true (z = x^{1/L}/√L) and
            # δx_i = D_i^{1/2} ((B⁺)ᵀ g_true)_i, through the SVD of B (stable where H's Cholesky is not);
            # g_true = g_known + δg, |δg| ≤ dg.  The SVD is that of B̂ = B − F: the rows left out
            # (_svd_rows, Frobenius norm `tail`; zero rows of B̂), the forming of B (relative u(4 + |w_i|)
            # per entry, w = (1 − 1/L) log x the exponent of √D_i, so ‖·‖ ≤ u(4 + max|w|) √M ‖B‖) and
            # LAPACK's SVD (backward error p(n, M)·u‖B‖, p a modest polynomial; taken as ε_svd =
            # max(tol(15, K_ROUNDOFF), 2(n + M)u) ≈ 4500 u, which also covers the rounding of applying the
            # factors) give ‖F‖ ≤ e_B = tail + (ε_form + ε_svd) σ̂_max, and σ_min(B) ≥ s = σ̂_min − e_B.
            # For full column rank, exactly, B⁺ − B̂⁺ = −B⁺F B̂⁺ + H⁻¹Fᵀ(I − B̂B̂⁺), so with v̂ = B̂⁺z,
            # r̂ = (I − B̂B̂⁺)z, ŵ = (B̂⁺)ᵀg (the computed ones), whatever κ(B) (on a degenerate vertex v̂
            # may be wrong in every digit):
            #   ‖v − v̂‖ ≤ e_B (‖v̂‖/s + ‖r̂‖/s²) (+ ε_z‖z‖/s for the rounding of z),
            #   ‖w − ŵ‖ ≤ e_B ‖w‖ (1/σ̂_min + 1/s) ≤ 2c‖ŵ‖/(1 − 2c), c = e_B/s,  ‖B⁺ − B̂⁺‖ ≤ 2e_B/s²;
            # so |vᵀg_true| ≤ |v̂ᵀg| + γ_M|v̂|ᵀ|g| + |v̂|ᵀdg + ‖v − v̂‖(‖g‖ + ‖dg‖) and |((B⁺)ᵀg_true)_i| ≤
            # |ŵ_i| + γ_M(|P̂||g|)_i + (|P̂|dg)_i + 2c‖ŵ‖/(1 − 2c) + 2e_B‖dg‖/s² (P̂ = (B̂⁺)ᵀ; first order in
            # the residual, rigorous in the float64 error of the SVD).
            #
            # Where e_B ≥ σ̂_min/4, B is numerically rank deficient (σ̂_min at its rounding noise: x_i far
            # below the rounding of Ax − y in the basis) and no perturbation bound on v̂ exists in float64.
            # There the bar is the worst case of the previous rounds, 2|v̂|ᵀ max(|g|, eps(|A||x| + |y|)) with
            # no cancellation in v̂ᵀg allowed (first order; the exact H⁻¹ is unbounded in those directions,
            # where x ≥ 0 binds and the first-order theory says nothing): not a proven bound on v̂'s error.
            svd = _svd_rows(sqrtD, A)
            resolved = False
            if svd is not None:
                keep, U, sv, Vt, tail = svd
                eps_form = eps / 2 * (4 + float(np.abs((1 - 1 / L) * logx[keep]).max())) * math.sqrt(M_)
                eps_svd = max(_tol(DPS_FLOAT64, K_ROUNDOFF), 2 * (x.size + M_) * eps)
                e_B = tail + (eps_form + eps_svd) * float(sv[0])
                resolved = e_B < 0.25 * float(sv[-1])
            if svd is None:
                dS, dx_proj = math.inf, np.full_like(x, math.inf)
                v_round = np.abs(x)
            elif not resolved:
                dgw = np.maximum(np.abs(g).max(), eps * (np.abs(A) @ np.abs(x) + np.abs(self.y)))
                if exact is not None:
                    dgw = np.maximum(dgw, np.abs(g) + dg)
                zk = z[keep]
                Utz = U.T @ zk
                v = Vt.T @ (Utz / sv)
                dS = max(dS, 2 * float(np.abs(v) @ dgw))
                pinvBT = (U / sv) @ Vt
                dxp = np.abs(dx_proj)
                dxp[keep] = np.maximum(dxp[keep], sqrtD[keep] * (np.abs(pinvBT) @ dgw))
                dx_proj = dxp
                resid = np.abs(z).copy()
                resid[keep] = np.abs(zk - U @ Utz)
                v_round = sqrtD * (resid + eps * float(np.linalg.norm(z)))
            else:
                s_lo = float(sv[-1]) - e_B
                c = e_B / s_lo
                gam = _gamma(M_)
                gk = float(np.linalg.norm(g_known))
                gd = float(np.linalg.norm(dg))
                zn = float(np.linalg.norm(z))
                eps_z = eps / 2 * (3 + float(np.abs(logx / L).max()))
                zk = z[keep]
                Utz = U.T @ zk
                v = Vt.T @ (Utz / sv)  # v̂ = B̂⁺ z
                av = np.abs(v)
                rhat = np.abs(z).copy()  # r̂ = (I − B̂B̂⁺)z: z itself on the rows left out
                rhat[keep] = np.abs(zk - U @ Utz)
                rn = float(np.linalg.norm(rhat)) + eps_svd * zn
                vn = float(np.linalg.norm(v))
                dv = e_B * (vn / s_lo + rn / s_lo ** 2) + eps_z * zn / s_lo  # ≥ ‖v − v̂‖
                dS = max(dS, 2 * (abs(float(v @ g_known)) + gam * float(av @ np.abs(g_known)) + float(av @ dg)
                                  + dv * (gk + gd)))
                pinvBT = (U / sv) @ Vt  # P̂ = (B̂⁺)ᵀ, on the kept rows (zero on the others)
                aP = np.abs(pinvBT)
                wk = pinvBT @ g_known
                wn = float(np.linalg.norm(wk)) + gam * float(np.linalg.norm(aP @ np.abs(g_known)))
                common = 2 * c / (1 - 2 * c) * wn + 2 * e_B / s_lo ** 2 * gd
                dxp = np.maximum(np.abs(dx_proj), sqrtD * common)
                dxp[keep] = np.maximum(dxp[keep], sqrtD[keep] * (np.abs(wk) + gam * (aP @ np.abs(g_known))
                                                                 + aP @ dg + common))
                dx_proj = dxp
                # v = D^{1/2} r, r = (I − BB⁺)z: r − r̂ = −B(v − v̂) − F v̂, at most (σ̂_max + e_B)‖v − v̂‖ +
                # e_B‖v̂‖ in every entry, plus the rounding of the computed difference (ε_svd‖z‖)
                dr = (float(sv[0]) + e_B) * dv + e_B * vn + eps_svd * zn
                v_round = sqrtD * (rhat + dr)
            if svd is not None:
                # in the basis form the same residual keeps its digits on the support (where it is tiny
                # and the SVD's eps·‖z‖ would dominate): take the smaller valid bound per entry
                rb = _residual_basis(sqrtD, A, z)
                if rb is not None:
                    v_round = np.minimum(v_round, sqrtD * (np.abs(rb[0]) + rb[1]))
            return _Deriv(dphi=dphi, dphi_err=dphi_err, dS_proj=dS, dxdr_inf=float(np.abs(dxdr).max()),
                          dx_proj_inf=float(np.abs(dx_proj).max()), dS_round=2 * float(v_round @ dth_round),
                          dx_round_inf=float(np.abs(D * dth_round).max()))
        x, logx = proj.x, proj.log_x
        e = mpmath.mpf(2 * (L - 1)) / L
        D = mp_array([L * mpmath.exp(e * v) for v in logx])
        solve = ar.hessian_solver(D)
        e2 = mpmath.mpf(2 - L) / L
        dl = self.dlogrho(r)
        q = mp_array([-mpmath.exp(e2 * v) * dl for v in logb])
        dth, _, _ = tangent_dtheta(ar, D, q, solve)
        dphi = 2 * mpmath.fdot(x, dth) - 2 * r
        g = ar.Ax(x) - ar.y
        dnu = solve(g)
        atd = ar.ATv(dnu)
        dS = abs(2 * mpmath.fdot(x, atd))
        eps = mpmath.eps
        amp = [1 + abs(e2) * abs(v) for v in logb]
        dth_round = [eps * (m * abs(a) + abs(b)) for m, a, b in zip(amp, self._theta(logb), self._theta(logx))]
        # v = x − D Aᵀ H⁻¹ A x (see above; the guard digits carry the cancellation), plus its rounding
        w_ax = ar.ATv(solve(ar.Ax(x)))
        v_round = [abs(xi - d * t) + eps * (abs(xi) + abs(d * t)) for xi, d, t in zip(x, D, w_ax)]
        return _Deriv(dphi=dphi, dS_proj=dS, dxdr_inf=max(abs(d * t) for d, t in zip(D, dth)),
                      dx_proj_inf=max(abs(d * t) for d, t in zip(D, atd)),
                      dS_round=2 * mpmath.fdot(v_round, dth_round),
                      dx_round_inf=max(d * t for d, t in zip(D, dth_round)))

    def _theta(self, logv):
        """``∇F(v) = log_L(v^{1/L})`` from ``log v`` (no under/overflow of ``v`` itself)."""
        # ∇F(v) = log_L(v^{1/L}) − log_L(1): the log-form invariant (numerics._formulas.invariant_h,
        # i.e. numerics._derived.h_log) with log a = (log v)/L and log b = 0
        L = self.L
        if self.dps is None:
            logv = np.asarray(logv, dtype=float)
            return _F.invariant_h(logv / L, np.zeros_like(logv), 0.0, L)
        lv = mp_array([v / L for v in logv])
        return list(_F.invariant_h(lv, mp_array([0] * len(lv)), mpmath.mpf(0), L))


_REFINE_HALVINGS = 10
""":func:`_refine_projection`: halvings of a refinement step before it is given up.  To first order a
Newton step shortened to ``t`` lowers the residual by the fraction ``t``: below ``2⁻¹⁰`` (0.1 %) a step
is not worth its evaluations (each one a point of the dual and an exact residual)."""


def _refine_projection(ar, A, y, L, proj, logb, steps: int = 3):
    """Iterative refinement of a float64 projection (dense ``A``): Newton steps with the damped basis
    form of :meth:`numerics._bregman._Float64.hessian_solver` on the residual ``Ax − y`` evaluated
    correctly rounded (:func:`_residual_dot2`), each kept only when that residual decreases.  The dual Newton stops at the
    rounding level of the float64 residual; the exact residual then still holds the rounding of the
    iteration, and the damped steps remove the part of it that the well-resolved directions can absorb
    (measured: 8.2e-15 to 1.5e-15 in one step at N = 1000, M = 150, L = 3).  Returns ``proj`` itself
    when no step helped."""
    if proj.log_x is None or proj.nu is None:
        return proj
    logx = np.asarray(proj.log_x, dtype=float)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        base = logx.copy() if L == 2 else np.exp((2 - L) / L * logx)
    if not np.all(np.isfinite(base)):
        return proj
    f = _Dual(ar, logb, L)
    pt = f.point(base)
    ex = None if pt is None else _residual_dot2(A, pt[0], y)
    if ex is None:
        return proj
    best_res, nu, cur, g = float(np.linalg.norm(ex[0])), np.asarray(proj.nu, dtype=float), pt, ex[0]
    improved = False
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for _ in range(steps):
            logD = cur[2]
            m = float(np.max(logD))
            if not (math.isfinite(m) and m > -700):
                break
            # the damped basis form (the undamped one left the domain or did not help where tried)
            solve = ar.hessian_solver(np.exp(logD - m), shift=True, logw=logD - m)
            delta = -solve(g) * math.exp(-m)
            if not np.all(np.isfinite(delta)):
                break
            db = f.dbase(delta)
            found = None
            t = 1.0
            for _ in range(_REFINE_HALVINGS):  # backtracking: inside the domain, and the exact residual decreases
                trial = base + t * db
                pt = f.point(trial) if np.all(np.isfinite(trial)) else None
                ex = None if pt is None else _residual_dot2(A, pt[0], y)
                if ex is not None:
                    res = float(np.linalg.norm(ex[0]))
                    if res < best_res:
                        found = (res, trial, nu + t * delta, pt, ex[0])
                        break
                t /= 2
            if found is None:
                break
            best_res, base, nu, cur, g = found
            improved = True
    if not improved:
        return proj
    x = cur[0]
    return replace(proj, x=x, log_x=cur[1], nu=nu, residual=float(np.linalg.norm(ar.Ax(x) - ar.y)))


# -------------------------------------------------------------------------------------------
# L > 2 at tiny β: the projection at an LP vertex, enclosed rigorously (python-flint balls)
# -------------------------------------------------------------------------------------------
def _svd_rows(sqrtD, A):
    """``(kept rows, U, s, Vᵀ, tail)``: the thin SVD of ``B = diag(√D) Aᵀ`` with *no* singular value cut
    (``None`` if one is zero: a tiny singular value is a direction the residual barely constrains, and
    the error bound must see it).  Rows of total Frobenius norm ``tail`` below 1 % of the smallest
    singular value of the others are left out (they move no singular value by more than 1 % of the
    smallest; the error bars count ``tail`` as a perturbation of ``B``): at tiny ``β`` only the support's
    rows remain, and the SVD costs ``O(M³)`` instead of ``O(n M²)``; where the support is smaller than
    ``M`` every row is kept (``tail = 0``)."""
    M, n = A.shape
    rown = sqrtD * np.sqrt(np.einsum("ij,ij->j", A, A))
    order = np.argsort(-rown)
    tail = np.sqrt(np.cumsum((rown[order] ** 2)[::-1])[::-1])  # ‖rows order[k:]‖_F
    candidates = [k for k in (2 * M, 4 * M) if k < n and tail[k] > 0] + [n]
    for k in candidates:
        keep = np.sort(order[:k])
        B = sqrtD[keep, None] * A.T[keep]
        try:
            U, sv, Vt = np.linalg.svd(B, full_matrices=False)
        except np.linalg.LinAlgError:
            return None
        if not sv.size or sv.min() <= 0 or not np.all(np.isfinite(sv)):
            if k == n:
                return None
            continue
        if k == n or tail[k] <= 1e-2 * sv.min():
            return keep, U, sv, Vt, (0.0 if k == n else float(tail[k]))
    return None


def _residual_basis(sqrtD, A, z):
    """``(r, δr)``: the least-squares residual ``r = (I − BB⁺) z`` of ``B = diag(√D) Aᵀ`` written in the
    basis ``S`` of the ``M`` largest ``D_i`` (``A_S`` well conditioned), with a bound ``δr`` on its
    rounding; None when ``A_S`` is ill conditioned.

    With ``K = B_c B_S⁻¹`` (``(n−M) × M``; ``Kᵀ = diag(D_S^{-1/2}) A_S⁻¹ A_c diag(D_c^{1/2})``), ``Bᵀr = 0`` and
    ``r = z − Bw`` give ``r_c = (I + KKᵀ)⁻¹(z_c − K z_S)`` and ``r_S = −Kᵀ r_c``; Woodbury:
    ``(I + KKᵀ)⁻¹ = I − K (I + KᵀK)⁻¹ Kᵀ``.  No two large numbers are subtracted on ``S``, where ``r`` is
    tiny when ``D`` sits on ``S`` (tiny ``β``), unlike ``z − U Uᵀ z`` from an SVD, which keeps
    ``eps‖z‖`` there."""
    M, n = A.shape
    if M >= n:
        return None
    D = sqrtD * sqrtD
    S = np.argpartition(-D, M - 1)[:M]
    mask = np.zeros(n, dtype=bool)
    mask[S] = True
    c = np.flatnonzero(~mask)
    try:
        lu = scipy.linalg.lu_factor(A[:, S], check_finite=False)
    except (ValueError, np.linalg.LinAlgError):
        return None
    piv = np.abs(np.diag(lu[0]))
    if not (piv.size and piv.min() > _PIVOT_RATIO * piv.max()):  # tol(15, K_ACCUMULATED), as in _bregman
        return None
    kappa = float(piv.max() / piv.min())
    G = scipy.linalg.lu_solve(lu, A[:, c], check_finite=False)  # A_S⁻¹ A_c
    KT = (G / sqrtD[S][:, None]) * sqrtD[c][None, :]
    if not np.all(np.isfinite(KT)):
        return None
    t = z[c] - KT.T @ z[S]
    W = np.eye(M) + KT @ KT.T
    rc = t - KT.T @ scipy.linalg.solve(W, KT @ t, assume_a="pos", check_finite=False)
    r = np.empty(n)
    r[c] = rc
    r[S] = -(KT @ rc)
    e = 4 * (M + 2) * np.finfo(float).eps * kappa
    dr = np.empty(n)
    dr[c] = e * (np.abs(z[c]) + np.abs(KT.T) @ np.abs(z[S]) + np.abs(rc))
    dr[S] = np.abs(KT) @ (np.abs(rc) * e + dr[c])
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(dr))):
        return None
    return r, dr


# -------------------------------------------------------------------------------------------
def _l1_lower_bound(A, y, options=None):
    """(feasible?, certified lower bound on min{Σz : Az = y, z ≥ 0}, float value) via HiGHS."""
    from scipy.optimize import linprog

    n = A.shape[1]
    # HiGHS's tolerances are absolute (1e-7): solve the same LP for A/a, y/b (a, b the largest
    # entries), z' = z·a/b, so that a problem in units of 1e-10 is solved as the one in units of 1
    a, b = float(np.abs(A).max()), float(np.abs(y).max())
    if not (a > 0 and b > 0):
        return None, None, None
    As, ys = A / a, y / b
    r = linprog(np.ones(n), A_eq=As, b_eq=ys, bounds=(0, None), method="highs", options=options or {})
    if r.status == 2:
        return False, None, None
    if r.status != 0:
        return None, None, None
    nu = np.asarray(r.eqlin.marginals, dtype=float)
    # dual feasibility Aᵀν ≤ 1; rescale into it and take the weak-duality bound ⟨ν, y⟩
    m = float((As.T @ nu).max())
    if m > 1:
        nu = nu / m
    lb = float(nu @ ys)
    lb -= 1e-13 * (abs(lb) + float(np.abs(nu).sum() * np.abs(ys).max()))
    return True, max(lb, 0.0) * b / a, float(r.fun) * b / a


def _dual_l1_bound(ar, nu) -> Optional[float]:
    """A lower bound on ``min{Σz : Az = y, z ≥ 0}`` from any dual vector ``ν`` (weak duality): with
    ``μ = ν / max(Aᵀν)``, ``Aᵀμ ≤ 1`` and ``Σz ≥ ⟨Aᵀμ, z⟩ = ⟨μ, y⟩``.  The projection's dual at tiny
    ``β`` is close to the LP's optimal dual, so the bound is close to the minimum.  Rounding: ``max(Aᵀν)``
    inflated and ``⟨μ, y⟩`` deflated by a margin far above float64's error of those sums (matrix-free:
    ``max_i (|A|ᵀ|ν|)_i ≤ ‖A‖₂ ‖ν‖``).  ``ar``: the float64 arithmetic of ``(A, y)``."""
    if nu is None:
        return None
    nu = np.asarray(nu, dtype=float)
    y = ar.y
    atn = ar.ATv(nu)
    m = float(atn.max())
    if not (m > 0 and math.isfinite(m)):
        return None
    eps = np.finfo(float).eps
    M = ar.M
    absmax = ar.norm2() * float(np.linalg.norm(nu)) if ar.op else float((np.abs(ar.A).T @ np.abs(nu)).max())
    growth = 4 * (M + 2) if not ar.op else 4 * (M + 2) * max(1.0, math.log2(ar.n))
    m_up = m + growth * eps * absmax
    mu = nu / m_up
    lb = float(mu @ y) - 4 * (M + 2) * eps * float(np.abs(mu) @ np.abs(y))
    return lb if lb > 0 else None


def _interior_margin(A, y, options=None):
    """``max{t ≤ s : Az = y, z ≥ t} / s`` (HiGHS) with ``s = max|y| / max|A|`` the scale of a
    solution's entries: positive iff ``Az = y`` has a strictly positive solution, the condition under
    which the Bregman projection is interior (all ``x_i > 0``).  Relative, so that a problem in
    units of 1e-10 is judged as the same problem in units of 1."""
    from scipy.optimize import linprog

    M, n = A.shape
    amax, ymax = float(np.abs(A).max()), float(np.abs(y).max())
    if not (amax > 0 and ymax > 0):
        return None
    sc = ymax / amax
    # z = s·(v + t·1) with v ≥ 0: max t  s.t.  A v + t·A1 = y/s,  t ≤ 1  (only M equality rows)
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_eq = np.hstack([A, A.sum(axis=1, keepdims=True)])
    r = linprog(c, A_eq=A_eq, b_eq=y / sc, bounds=[(0, None)] * n + [(None, 1.0)], method="highs",
                options=options or {})
    return float(-r.fun) if r.status == 0 else None


def _uniqueness(phi: _Phi, root: float, S_lower: Optional[float], et: float, L: int) -> tuple[bool, str]:
    """Decide (in float64) whether ``root`` is the only root of φ on (0, ∞); see the module doc."""
    s_et = math.sqrt(et)
    if S_lower is None or not S_lower > 0:
        return False, "not proven unique: no positive ℓ1 lower bound (HiGHS did not return a useful dual certificate)"
    a = S_lower ** (1.0 / L)  # φ > 0 on (0, a)
    above = root * root > et
    head = (f"r² > η̃ at the root ({root:.6g}² > {et:.6g}): φ strictly decreasing on r > √η̃, so no other root there"
            if above else f"the root lies in r² ≤ η̃ = {et:.6g}, where φ need not be monotone")
    if a >= s_et:
        if above:
            return True, (f"{head}; and φ > 0 on (0, √η̃] since Σx^{{2/L}} ≥ (min ℓ1)^{{2/L}} ≥ {S_lower ** (2.0 / L):.6g} > η̃ "
                          f"(docs/math.md §4, §5): the root is unique")
    saved = phi.nu
    try:
        for _ in range(60):
            if a >= s_et:
                break
            v = phi.value(a)
            if v.phi is None:
                return False, f"not proven unique: a projection failed at r = {a:.6g}"
            a_new = math.sqrt(v.phi + a * a)
            if a_new <= a * (1 + 1e-10):
                break
            a = a_new
    finally:
        phi.nu = saved
    if a >= s_et and above:
        return True, (f"{head}; and φ > 0 on (0, √η̃]: S(r) is non-decreasing in r there, and the root-free "
                      f"interval (0, a) with a_(k+1) = √S(a_k) (a_0 = (min ℓ1)^(1/L)) passes √η̃ = {s_et:.6g}: unique")
    if not above and abs(a - root) <= 1e-8 * root:
        # from above: φ(√η̃) < 0 excludes roots in r > √η̃ (φ decreasing there); on (0, √η̃], S(r) ≤ S(b)
        # for r ≤ b, so φ < 0 on (√S(b), b]: b_(k+1) = √S(b_k) pushes the root-free interval down
        b = s_et
        saved = phi.nu
        try:
            vb = phi.value(b)
            if vb.phi is not None and vb.phi < 0:
                for _ in range(200):
                    b_new = math.sqrt(max(vb.phi + b * b, 0.0))
                    if b_new >= b * (1 - 1e-13):
                        break
                    b = b_new
                    vb = phi.value(b)
                    if vb.phi is None:
                        break
            else:
                b = math.inf
        finally:
            phi.nu = saved
        if b - a <= 1e-8 * root:
            return True, (f"{head}, but root-free intervals from below (a_(k+1) = √S(a_k), S non-decreasing on "
                          f"(0, √η̃]) and from above (b_(k+1) = √S(b_k) from b_0 = √η̃, where φ < 0, φ decreasing "
                          f"beyond) close on [{a:.12g}, {b:.12g}]: unique up to float64 resolution")
        return False, (f"not proven unique: {head}; no root below {a:.6g} (the smallest root), but other roots in "
                       f"(r, {min(b, s_et):.6g}] are not excluded; a short integration would decide which root the "
                       f"flow picks")
    return False, (f"not proven unique: {head}; φ may vanish near r ≈ {a:.6g} < √η̃ = {s_et:.6g} as well; a short "
                   f"integration of the flow would be needed to tell which root it picks")


# -------------------------------------------------------------------------------------------
def limit_solve(problem, config: FlowConfig, *, dps: Optional[int] = None, bracket=None,
                tol: Optional[float] = None, max_iter: int = 100,
                time_limit: Optional[float] = None) -> LimitResult:
    """The limit of the flow ``config`` on ``problem`` (docs/math.md §4), at float64 or ``dps`` digits.

    ``bracket``: an optional ``(lo, hi)`` with ``φ(lo) > 0 > φ(hi)`` (otherwise found by geometric
    expansion from ``r₀``).  ``tol``: relative accuracy asked of ``r_∞`` (default
    ``tol(dps, K_SOLVE)``).  Error bars: ``r_inf_error = |last Newton step| + (|φ| + |δS|)/|φ'|`` 
    with ``δS`` the first-order effect on ``Σ x^{2/L}`` of the last projection's residual and of the
    rounding of ``θ = ∇F(β) + Aᵀν`` (which cancels digits when ``|∇F(β)|`` is large, e.g. tiny ``β``
    at ``L > 2``); ``x_inf_error = ‖dx/dr‖_∞ r_inf_error + ‖δx_proj‖_∞ + ‖δx_round‖_∞``.

    Where the projections approach an LP vertex the bars are rigorous enclosures instead: ``L > 2``
    (docs/math.md §4.6), and ``L = 2`` at tiny ``β`` (§4.7; ``result.method`` is ``L1_VERTEX_METHOD``, tried
    first when ``M·n > 4·10⁶``).

    ``time_limit``: seconds of wall clock for the whole solve; when they run out the result has
    ``Status.TIME_LIMIT`` (each projection gets the remaining budget).  ``y = 0`` gives
    ``Status.TRIVIAL`` (see the module doc).  At ``dps`` the parameters enter exactly
    (``config.mp``): ``FlowConfig(eta_r="0.1")`` is solved for one tenth, ``eta_r=0.1`` for the
    double nearest it; ``result.params`` records which.
    """
    from numerics._bregman import _single_thread_blas

    with _single_thread_blas():
        return _limit_solve(problem, config, dps=dps, bracket=bracket, tol=tol, max_iter=max_iter,
                            time_limit=time_limit)


def _check_time_limit(time_limit):
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float, np.integer, np.floating)):
        raise ValueError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
    t = float(time_limit)
    if not t > 0 or math.isnan(t):
        raise ValueError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
    return t


@dataclass
class _Task:
    """One limit solve: the data, the settings and the diagnostics gathered so far (internal)."""

    problem: object
    config: FlowConfig
    A: object  # dense float64 array or a matrix-free LinearOperator
    y: np.ndarray
    dps: Optional[int]
    rtol: float
    max_iter: int
    clock: _Clock
    t_start: float
    bracket: Optional[tuple] = None
    diag: _Diag = field(default_factory=_Diag)
    l2_vertex: Optional[tuple] = None  # (result or None,) once _l2_vertex_stage ran (deterministic: run once)

    @property
    def n(self) -> int:
        return self.A.shape[1]

    @property
    def L(self) -> int:
        return self.config.L

    @property
    def dense(self) -> bool:
        return not is_operator(self.A)

    def fail(self, status, message, *, method="root of phi", bracket=(None, None), iterations=0,
             unique_root_reason="no root") -> LimitResult:
        return LimitResult(status=status, message=message, method=method, r_inf=None, x_inf=None, x_inf_user=None,
                           rho=None, alpha_eff=None, beta=None, bracket=bracket, iterations=iterations,
                           r_inf_error=math.inf, x_inf_error=math.inf, residual=math.inf, phi_residual=math.inf,
                           unique_root_reason=unique_root_reason, dps=self.dps,
                           wall_time=time.perf_counter() - self.t_start, params=self.config.exact_strings(),
                           **self.diag.fields())


def _trivial(task: _Task):
    """``y = 0``: the zero-loss set is ``{z ≥ 0 : Az = 0}``; when that is ``{0}``, ``x_∞ = 0``."""
    from scipy.optimize import linprog

    problem, config, dps, n = task.problem, task.config, task.dps, task.n
    A = task.A if task.dense else to_dense(task.A, _LP_MAX_ENTRIES)
    a = float(np.abs(A).max()) or 1.0  # HiGHS's tolerances are absolute: solve for A/max|A|
    r = linprog(-np.ones(n), A_eq=A / a, b_eq=np.zeros(A.shape[0]), bounds=(0, 1), method="highs")
    only_zero = r.status == 0 and -r.fun <= _tol(DPS_FLOAT64, K_SOLVE) * n
    if only_zero:
        if dps is not None:
            with workdps(dps):
                zero, x = mpmath.mpf(0), mp_array([0] * n)
        else:
            zero, x = 0.0, np.zeros(n)
        msg = ("y = 0: z = 0 is the only nonnegative solution of Az = 0 (HiGHS), so x_∞ = 0 and r_∞ = 0; "
               "ρ, α_eff and β are undefined (no magnification question)")
        r_inf, x_user, resid = zero, problem.to_user(x), 0.0
    else:
        x = x_user = r_inf = None
        resid = math.inf
        msg = ("y = 0, and Az = 0 has nonzero nonnegative solutions (max Σz over z ∈ [0,1]^n, Az = 0 is "
               f"{-r.fun:.3g}): the limit is not the root of φ of docs/math.md §4; integrate the flow instead"
               if r.status == 0 else f"y = 0: HiGHS could not decide whether Az = 0 has nonzero solutions ({r.message})")
    return LimitResult(status=Status.TRIVIAL, message=msg, method="trivial", r_inf=r_inf, x_inf=x, x_inf_user=x_user,
                       rho=None, alpha_eff=None, beta=None, bracket=(None, None), iterations=0,
                       r_inf_error=0.0 if only_zero else math.inf, x_inf_error=0.0 if only_zero else math.inf,
                       residual=resid, phi_residual=math.nan, unique_root_reason="no root-finding: y = 0", dps=dps,
                       wall_time=time.perf_counter() - task.t_start, params=config.exact_strings())


def _limit_solve(problem, config, *, dps, bracket, tol, max_iter, time_limit):
    t_start = time.perf_counter()
    if not isinstance(config, FlowConfig):
        raise ValueError("config must be a numerics._config.FlowConfig")
    if dps is not None:
        dps = check_mp_dps(dps)
    time_limit = _check_time_limit(time_limit)
    clock = _Clock(time_limit, t_start)
    if bracket is not None:
        try:
            bracket = (float(bracket[0]), float(bracket[1]))
        except (TypeError, ValueError, IndexError):
            raise ValueError("bracket must be a pair (lo, hi) of radii with 0 < lo < hi") from None
        if not (0 < bracket[0] < bracket[1] and math.isfinite(bracket[1])):
            raise ValueError("bracket must be a pair (lo, hi) of radii with 0 < lo < hi")
    A = problem.A_eff
    if is_operator(A):
        if dps is not None:
            raise ValueError("a matrix-free A (LinearOperator) is solved in float64 only: omit dps")
    else:
        A = np.asarray(A, dtype=float)
    y = np.asarray(problem.y, dtype=float)
    digits = DPS_FLOAT64 if dps is None else dps
    rtol = _tol(digits, K_SOLVE) if tol is None else float(tol)
    task = _Task(problem, config, A, y, dps, rtol, max_iter, clock, t_start, bracket)

    if not np.any(y):
        return _trivial(task)

    # HiGHS on a dense M × n LP costs minutes at M·n ~ 1.5e7 (more than the whole root search): above
    # _LP_MAX_ENTRIES (and for a matrix-free A) the ℓ1 lower bound comes from the dual vector of the
    # last projection instead (weak duality, _dual_l1_bound), infeasibility from the projections' own
    # Farkas test, and the boundary check (another LP) is not run -- the result says so.  Decided by
    # size, not by time.
    use_lp = task.dense and A.size <= _LP_MAX_ENTRIES
    margin = None
    try:
        if use_lp:
            feasible, S_lower, l1_value = _l1_lower_bound(A, y, clock.highs_options())
            if feasible is False:
                return task.fail(Status.INCONSISTENT, "Az = y has no nonnegative solution (HiGHS: infeasible), so "
                                 "the flow has no zero-loss limit; for sign-indefinite data use the signed model")
            task.diag = _Diag(l1_min=l1_value, l1_lower_bound=S_lower,
                              l1_lower_bound_from="" if S_lower is None else "the dual of HiGHS's ℓ1 LP")
            clock.check("in the ℓ1 lower bound (HiGHS)")
            margin = _interior_margin(A, y, clock.highs_options())
        boundary = margin is not None and margin <= _tol(DPS_FLOAT64, K_SOLVE)
        result = _limit_inner(task)
    except _TimeUp as exc:
        return task.fail(Status.TIME_LIMIT, f"time_limit = {time_limit:g} s ran out {exc.where} after "
                         f"{time.perf_counter() - t_start:.3g} s; no limit computed")
    if result.status is Status.TIME_LIMIT:
        return result
    result = replace(result, interior_margin=margin, lp_skipped=not use_lp)
    if boundary:
        status = Status.NOT_CONVERGED if result.status in (Status.CONVERGED, Status.NOT_CONVERGED) else result.status
        result = replace(result, status=status, message=(
            f"Az = y has no strictly positive solution (interior margin {margin:.2g}, relative to max|y|/max|A|): "
            "the limit lies on the boundary "
            "(some x_i → 0), where the dual Newton only approaches it; r_∞ and x_∞ are approximate, with errors "
            "of order ‖Ax − y‖^(2/L) not covered by the error bars. " + result.message))
    if not use_lp and result.r_inf is not None and result.method != L1_VERTEX_METHOD:
        # (not for the ℓ1 vertex enclosure: its certificate exhibits a strictly positive exact solution of Az = y)
        why = (f"an LP with M·n = {A.shape[0] * A.shape[1]:.3g} > {_LP_MAX_ENTRIES:.3g} entries" if task.dense
               else "a matrix-free A")
        result = replace(result, message=result.message + (
            f"; the boundary check ({why}) was not run: the error bars assume Az = y has a strictly positive "
            "solution"))
    return result


def _limit_inner(task: _Task) -> LimitResult:
    config, dps = task.config, task.dps
    if config.rates in ("plain", "r2"):
        return _projection_limit(task)

    # ---- L = 2, large: the ℓ1-vertex enclosure first (docs/math.md §4.7) ---------------
    if dps is None and task.L == 2 and task.dense and task.A.size > _L2_VERTEX_MIN_ENTRIES:
        vx = _l2_vertex_stage(task)
        if vx is not None and vx.converged:
            return vx

    # ---- float64 root --------------------------------------------------------------
    phi64 = _Phi(task.A, task.y, config, task.n, None, task.clock)
    found = _root64(phi64, float(config.r0), task)
    if isinstance(found, LimitResult):
        return found
    if isinstance(found, _ProjectionFailure):
        exc = found
        if dps is None and exc.reached is not None and exc.reached[1] > 0:
            # past float64's range: the root above the last radius reached, enclosed at an LP vertex (L > 2)
            # or at the ℓ1 solution (L = 2)
            try:
                vx = _vertex_after_failure(task, phi64, exc)
            except _TimeUp:
                vx = None  # the time limit ran out in the vertex stage: the failure below, as before
            if vx is not None:
                return vx
        if exc.proj.status is Status.NOISE_FLOOR and dps is not None:
            # float64 cannot resolve φ here (e.g. huge cancellation in Ax for tiny y): find the root at dps
            task.diag = replace(task.diag, float64_failure=exc.proj.message)
            return _root_mp(task, _Start(None, (None, None), phi64.evals,
                                         "not proven unique: float64 could not evaluate φ (its projections stopped at "
                                         f"their noise floor: {exc.proj.message}), so the uniqueness argument was "
                                         "not run", False))
        if exc.proj.status is Status.NOISE_FLOOR:
            return task.fail(Status.NOISE_FLOOR, f"float64 cannot resolve φ: the Bregman projection at r = {exc.r:.6g} "
                             f"stopped at its noise floor ({exc.proj.message}){exc.where()}; pass dps= to solve at "
                             "higher precision")
        return task.fail(exc.proj.status if exc.proj.status is Status.INCONSISTENT else Status.FAILED,
                         f"the Bregman projection failed at r = {exc.r:.6g}: {exc.proj.message}{exc.where()}")
    root, step, lo, hi = found
    S_lower = task.diag.l1_lower_bound
    if S_lower is None and task.diag.l1_min is None:
        S_lower = _dual_l1_bound(phi64.ar, phi64.value(root).proj.nu)
        task.diag = replace(task.diag, l1_lower_bound=S_lower,
                            l1_lower_bound_from="the dual of the projection at the root")
    unique, reason = _uniqueness(phi64, root, S_lower, float(config.eta_tilde), task.L)
    phi64.value(root, bounds=True)  # restore state at the root, with the error terms
    v = phi64.last
    start = _Start(root, (lo, hi), phi64.evals, reason, unique)
    if dps is None:
        out = _assemble(task, phi64, v, root, abs(step), start)
        if out.converged or not task.dense:
            return out
        # L > 2: where the projection sits at an LP vertex, a rigorous enclosure of the root (ball arithmetic)
        try:
            vx = _vertex_stage(task, phi64, v, root * (1 - 1e-8), start)
        except _TimeUp:
            return out  # the time limit ran out in the vertex stage: the float64 result as it was
        if vx is not None and vx.converged:
            return vx
        if not _point_could_converge(task, v, root, abs(step)):
            return out
        # refine the root's projection on its exact residual (_refine_projection), only where the bar
        # needs it (a few exact residuals and Newton systems)
        proj0 = v.proj
        phi64._refine_eval(v, root)
        if v.proj is not proj0:
            v.d = phi64._derivative(root, v.proj, v.logb, True)
            out = _assemble(task, phi64, v, root, abs(step), start)
            if out.converged:
                return out
        # the error bar is first order in the exact residual of the root's projection, through H⁻¹: on a
        # (nearly) degenerate vertex it depends on which float64 point the warm-started Newton ended
        # at.  A second, independent projection at the same radius (cold, from β = 1) has its own bar,
        # a rigorous bound on the same |r_∞ − r*| (to first order) as the first: the smaller is kept
        try:
            phic = _Phi(task.A, task.y, config, task.n, None, task.clock)
            vc = phic.value(root, bounds=True, refine=True)
        except _TimeUp:
            return out
        if vc.phi is None:
            return out
        alt = _assemble(task, phic, vc, root, abs(step),
                        replace(start, iterations=start.iterations + phic.evals))
        return alt if alt.r_inf_error < out.r_inf_error else replace(out, iterations=alt.iterations)
    task.diag = replace(task.diag, float64_root=root)
    return _root_mp(task, start, nu0=phi64.nu)


_VERTEX_MAX_M = 400
""":func:`_vertex_stage` runs where ``M ≤ _VERTEX_MAX_M`` and ``M·n ≤ _LP_MAX_ENTRIES``: the ball inverse of
``A_B`` costs ``O(M³)`` at 256 bits (0.17 s at ``M = 150``, some 3 s at 400, minutes at 1500) and is not
interruptible by ``time_limit``.  Decided by size, not by time."""

_VERTEX_PREC = 256
""":func:`_vertex_enclosure`: working precision (bits) of the balls; ``arb`` tracks every rounding, so
this only decides how wide the enclosures come out (the small basis entries of a degenerate
vertex, 1e-18 next to entries of order 1, need about 60 bits more than float64)."""


class _ARB:
    """``exp`` and ``log`` of python-flint balls, as the ``lib`` of :mod:`numerics._derived`."""

    @staticmethod
    def exp(v):
        return v.exp()

    @staticmethod
    def log(v):
        return v.log()


def _up(v) -> float:
    """A float64 upper bound of the ``arb`` ball ``v``."""
    return math.nextafter(float(v.upper()), math.inf)


def _down(v) -> float:
    """A float64 lower bound of the ``arb`` ball ``v``."""
    return math.nextafter(float(v.lower()), -math.inf)


def _dd_basis_solve(lu, AB, y, steps=3):
    """``A_B⁻¹y`` as a double-double ``(hi, lo)``: the LU solve refined on the correctly rounded residual
    (:func:`_residual_parts`); accurate to about ``κ(A_B)`` times double-double's rounding, which decides
    the signs of entries 1e-18 next to entries of order 1 (a degenerate vertex)."""
    hi = scipy.linalg.lu_solve(lu, y, check_finite=False)
    lo = np.zeros_like(hi)
    for _ in range(steps):
        ex = _residual_parts(AB, [hi, lo], y)
        if ex is None or not np.all(np.isfinite(hi)):
            break
        d = scipy.linalg.lu_solve(lu, ex[0], check_finite=False)
        hi, lo = _dd_add(hi, lo, -d)
    return hi, lo


_SIMPLEX_PIVOTS = 400
""":func:`_vertex_basis`: dual simplex pivots tried before giving up."""


def _vertex_basis(A, y, w, B0, clock=None):
    """The optimal basis of ``min{⟨w, z⟩ : Az = y, z ≥ 0}`` by the dual simplex method from the basis ``B0``
    (the ``M`` largest entries of the float64 projection: dual feasible, its reduced costs being those
    of the projection's dual vector, and primal infeasible only in the small entries that the float64
    point does not resolve).  Pivoting decisions in float64, the signs of ``z_B = A_B⁻¹y`` in double-double
    (:func:`_dd_basis_solve`); the basis returned is a candidate, certified by :func:`_vertex_enclosure`.
    None when the start is not dual feasible or no basis is found."""
    M, n = A.shape
    B = np.array(B0, dtype=np.intp)
    inB = np.zeros(n, dtype=bool)
    inB[B] = True
    for _ in range(_SIMPLEX_PIVOTS):
        if clock is not None:
            clock.check("in the dual simplex of the vertex enclosure")
        AB = A[:, B]
        try:
            lu = scipy.linalg.lu_factor(AB, check_finite=False)
        except (ValueError, np.linalg.LinAlgError):
            return None
        piv = np.abs(np.diag(lu[0]))
        if not (piv.size and piv.min() > _PIVOT_RATIO * piv.max()):
            return None
        hi, lo = _dd_basis_solve(lu, AB, y)
        zv = hi + lo
        mu = scipy.linalg.lu_solve(lu, w[B], trans=1, check_finite=False)
        N = np.flatnonzero(~inB)
        rc = w[N] - A[:, N].T @ mu
        if float(rc.min()) < -1e-9 * float(np.abs(w).max()):
            return None  # not dual feasible: the dual simplex does not apply
        r = int(np.argmin(zv))
        if zv[r] > 0:
            return B
        e = np.zeros(M)
        e[r] = 1.0
        row = scipy.linalg.lu_solve(lu, e, trans=1, check_finite=False)
        alpha = A[:, N].T @ row
        cand = np.flatnonzero(alpha < -1e-12 * float(np.abs(alpha).max()))
        if cand.size == 0:
            return None  # primal infeasible (cannot happen for a feasible y)
        k = cand[np.argmin(np.maximum(rc[cand], 0.0) / -alpha[cand])]
        inB[B[r]] = False
        B[r] = N[k]
        inB[N[k]] = True
    return None


def _vertex_enclosure(A, y, L, lam_of, B):
    """A rigorous enclosure of the Bregman projection ``x*`` of ``β`` (``log β`` given, float64 data taken
    exactly) for ``L > 2`` where it sits at a vertex of ``{Az = y, z ≥ 0}``; None when the conditions
    below cannot be certified.

    ``lam_of()``: the balls ``λ_i = β_i^{(2−L)/L}`` (called at the working precision).  With them,
    ``(L − 2) D_F(z, β) = Σ λ_i z_i − (L/2) Σ z_i^{2/L} + const`` (docs/math.md §5.1), so ``x*`` minimises ``⟨λ, z⟩ − (L/2) S(z)`` over the feasible set.  For a basis ``B`` (from
    :func:`_vertex_basis`) certify, in ball arithmetic: ``z_B = A_B⁻¹y > 0`` (a
    vertex ``z``), and reduced costs ``c_j = λ_j − a_jᵀμ > 0`` off ``B`` with ``μ = A_B^{−T}λ_B`` (``z`` is the
    unique minimiser of ``⟨λ, ·⟩``).  Comparing ``x*`` with the feasible ``z``, with ``u = x*_{B^c} ≥ 0``,
    ``G = A_B⁻¹A_{B^c}`` (so ``x*_B = z_B − Gu``) and ``q = 2/L``:

        ⟨c, u⟩ = ⟨λ, x* − z⟩ ≤ (L/2)(S(x*) − S(z)) ≤ (L/2)(Σ_j u_j^q + Σ_i ((|G|u)_i)^q)

    (``|a^q − b^q| ≤ |a − b|^q``).  By the power mean, with ``g = max_j Σ_i |G_ij| ≤ √M ‖A_B⁻¹‖_F max_j ‖a_j‖``
    and ``C = (L/2)((n − M)^{1−q} + M^{1−q} g^q)``: ``min c · ‖u‖₁ ≤ C ‖u‖₁^q``, so ``‖u‖₁ ≤ U = (C/min c)^{1/(1−q)}``,
    and ``u_j ≤ ε_j = min(U, C U^q / c_j)``.  Then ``|x*_B − z_B| ≤ δ = |A_B⁻¹| |A_{B^c}| ε``, and

        S(x*) ∈ [Σ_B max(z_i − δ_i, 0)^{2/L},  Σ_B (z_i + δ_i)^{2/L} + Σ_{j∉B} ε_j^{2/L}].

    No first-order theory and no ``κ(A D Aᵀ)``: only ``A_B`` is solved.  The bounds depend on ``β`` only
    through ``c`` (``ε`` decreases as ``c`` grows) and stay valid for every ``β`` whose ``λ`` is this one scaled
    up by a common factor (the ``β(r)`` of the limit solver for every larger ``ρ``).  Returns ``(S_lo, S_hi, B, z_B, δ, ε)``
    (float64 bounds rounded outwards; ``z_B`` the ball midpoints)."""
    from flint import arb, arb_mat, ctx

    M, n = A.shape
    if L == 2 or M >= n:
        return None
    B = np.sort(np.asarray(B, dtype=np.intp))
    if B.size != M:
        return None
    mask = np.zeros(n, dtype=bool)
    mask[B] = True
    c = np.flatnonzero(~mask)
    old = ctx.prec
    ctx.prec = _VERTEX_PREC
    try:
        AB = arb_mat(A[:, B].tolist())
        try:
            z = AB.solve(arb_mat([[float(v)] for v in y]))
        except ZeroDivisionError:
            return None
        zs = [z[i, 0] for i in range(M)]
        if not all(v > 0 for v in zs):
            return None
        lam = lam_of()
        try:
            mu = AB.transpose().solve(arb_mat([[lam[i]] for i in B]))
        except ZeroDivisionError:
            return None
        acmu = arb_mat(A[:, c].T.tolist()) * mu
        rc = [lam[j] - acmu[k, 0] for k, j in enumerate(c)]
        if not all(v > 0 for v in rc):
            return None
        # ⟨rc, u⟩ ≤ (L/2)(Σ_j u_j^q + Σ_i ((|G|u)_i)^q) for u = x*_{B^c} (see the docstring), with
        # max_j Σ_i |G_ij| ≤ √M ‖A_B⁻¹‖_F max_j ‖a_j‖ (the Frobenius norm of the ball inverse)
        q = arb(2) / L
        try:
            Binv = AB.inv()
        except ZeroDivisionError:
            return None
        fro = sum((Binv[i, k] ** 2 for i in range(M) for k in range(M)), arb(0)).sqrt()
        # max ‖a_j‖², a float64 sum of M nonnegative squares: at most γ_M (relative) below the exact one,
        # provided no square underflows (entries of A below 1e-150 in magnitude: refused, no claim)
        nz = np.abs(A[A != 0])
        if nz.size == 0 or float(nz.min()) < 1e-150:
            return None
        colsq = float(np.max(np.einsum("ij,ij->j", A, A))) * (1 + 2 * _gamma(M + 1))
        amax = arb(_up(arb(colsq).sqrt()))
        gmax = arb(M).sqrt() * fro * amax
        nc = len(c)
        C = arb(L) / 2 * (arb(nc) ** (1 - q) + arb(M) ** (1 - q) * gmax ** q)
        r_min = arb(min(_down(v) for v in rc))
        if not r_min > 0:
            return None
        U = (C / r_min) ** (1 / (1 - q))  # ≥ ‖u‖₁
        CUq = C * U ** q  # ≥ ⟨rc, u⟩
        eps_c = [min(U.upper(), (CUq / v).upper(), key=lambda t: t.mid()) for v in rc]
        eps_f = np.array([_up(v) for v in eps_c])
        # |A_{B^c}| ε (nonnegative terms: the float64 sum times (1 + 2γ_n) is an upper bound)
        t = (np.abs(A[:, c]) @ eps_f) * (1 + 2 * _gamma(n)) + n * 5e-324
        absinv = arb_mat([[abs(Binv[i, k]) for k in range(M)] for i in range(M)])
        dl = absinv * arb_mat([[float(v)] for v in t])
        delta = [dl[i, 0] for i in range(M)]
        s_lo = arb(0)
        s_hi = arb(0)
        for zi, di in zip(zs, delta):
            lo_i = zi - di
            s_lo += (lo_i ** q).lower() if lo_i > 0 else arb(0)
            s_hi += ((zi + di) ** q).upper()
        s_hi += sum((v ** q for v in eps_c), arb(0))
        zf = [float(v.mid()) for v in zs]  # the float64 representatives; δ below is measured from them
        out = (_down(s_lo), _up(s_hi), B, np.array(zf),
               np.array([_up(abs(v - arb(f)) + d) for v, f, d in zip(zs, zf, delta)]), eps_f)
    finally:
        ctx.prec = old
    if not (math.isfinite(out[0]) and math.isfinite(out[1]) and out[0] > 0):
        return None
    return out


def _exact_balls(config: FlowConfig, n: int):
    """``(r₀, η̃, [log w₀_i])`` as python-flint balls at the current precision, from the exact parameters
    (``log w₀_i = log r₀ + log u₀_i − log‖u₀‖``; ``log r₀ − ½ log n`` for the uniform ``u₀``)."""
    from flint import arb

    def frac(q):
        return arb(q.numerator) / arb(q.denominator)  # a ball around the exact rational

    r0 = frac(config.exact("r0"))
    u0 = config.u0_exact
    if u0 is not None:
        config._check_len(n)
    if u0 is None:
        lw = [r0.log() - arb(n).log() / 2] * n
    else:
        us = [frac(q) for q in u0]
        lnrm = sum((v * v for v in us), arb(0)).log() / 2
        lw = [r0.log() + v.log() - lnrm for v in us]
    return r0, frac(config.exact("eta_tilde")), lw


def _vertex_stage(task: _Task, phi: _Phi, v: _Eval, ra, start: _Start) -> Optional[LimitResult]:
    """``L > 2``, dense ``A``: the root of φ enclosed rigorously from :func:`_vertex_enclosure`.  At
    ``r_a`` (with ``r_a² > η̃``, where ``ρ`` increases with ``r``; the basis from the float64 projection
    ``v``, at ``r_a`` or above it) the enclosure
    ``[S_lo, S_hi]`` of ``S(x*(r))`` holds for every ``r ≥ r_a``; if ``S_lo > r_a²``, then ``φ(r_a) > 0``,
    ``φ(√S_hi) ≤ 0`` and every root ``r ≥ r_a`` satisfies ``r² = S(x*(r)) ∈ [S_lo, S_hi]``: the root lies in
    ``[√S_lo, √S_hi]`` (unique there when ``start.unique``); ``r_∞`` is its centre.  ``x_∞`` lies in the
    enclosure of ``x*`` (the same for every such ``r``)."""
    L = task.L
    if L == 2 or not task.dense or task.dps is not None:
        return None
    M, n = task.A.shape
    if M > _VERTEX_MAX_M or M * n > _LP_MAX_ENTRIES:
        return None
    et = float(task.config.eta_tilde)
    ra = float(ra)
    if v.proj is None or v.proj.log_x is None or not ra * ra > et * (1 + 1e-12):
        return None
    from flint import arb, ctx

    logw0 = np.asarray(phi.logw0, dtype=float)
    config, n = task.config, task.n

    def lam_at(ra):
        def lam_of():
            # λ_i(r_a) = β_i(r_a)^{(2−L)/L} (log ρ and log β by numerics._derived, in balls, from the exact r₀, η̃
            # and u0; r_a the float64 value taken exactly): λ(r) for r ≥ r_a is λ(r_a) times
            # (ρ(r)/ρ(r_a))^{L−2} ≥ 1
            r0, et_b, lw = _exact_balls(config, n)
            lr = _D.log_rho(arb(ra), r0, et_b, _ARB)
            e = arb(2 - L) / L
            return [(e * _D.log_beta(t, lr, L, _ARB)).exp() for t in lw]
        return lam_of

    logx = np.asarray(v.proj.log_x, dtype=float)
    B0 = np.argsort(-logx, kind="stable")[:M]
    ew = (L - 2) * (float(phi.logrho(ra)) - logw0)
    w = np.exp(ew - float(ew.max()))  # λ / max λ
    B = _vertex_basis(task.A, task.y, w, B0, task.clock)
    if B is None:
        return None
    # the basis does not depend on the common scale of λ; the enclosure does (through c), and must hold from
    # a radius r_a with φ(r_a) > 0: where the float64 root lies above the enclosed one (S_lo ≤ r_a², so no root
    # at or above r_a), once more from just below √S_lo
    moved = False
    for _ in range(2):
        enc = _vertex_enclosure(task.A, task.y, L, lam_at(ra), B)
        if enc is None:
            return None
        s_lo, s_hi, B, zB, dB, eps_c = enc
        old = ctx.prec
        ctx.prec = _VERTEX_PREC
        try:
            above = arb(s_lo) > arb(ra) * arb(ra)  # φ(r_a) > 0
        finally:
            ctx.prec = old
        if above:
            break
        ra_new = math.sqrt(s_lo) * (1 - 1e-6)
        if not (ra_new < ra and ra_new * ra_new > et * (1 + 1e-12)):
            return None
        ra, moved = ra_new, True
    else:
        return None
    old = ctx.prec
    ctx.prec = _VERTEX_PREC
    try:
        r_lo, r_hi = arb(s_lo).sqrt(), arb(s_hi).sqrt()
        rr = arb(float(((r_lo + r_hi) / 2).mid()))  # the centre of the enclosure, as a float64
        r_err = max(_up(rr - r_lo), _up(r_hi - rr), 0.0)
    finally:
        ctx.prec = old
    if not rr >= arb(ra):
        return None
    root = float(rr.mid())
    v = replace(v, r=root, logb=phi.logbeta(root), logrho=float(phi.logrho(root)),
                phi=s_lo + (s_hi - s_lo) / 2 - root * root)
    # x_∞: z_B on the basis, 0 off it (the float64 projection's entries there are at r_a, not at r_∞; the
    # true ones lie in (0, ε_j], which the bar covers)
    x = np.zeros(task.n)
    x[B] = zB
    x_err = max(float(np.max(dB)), float(np.max(eps_c)) if eps_c.size else 0.0)
    if moved or start.reason.startswith("r² > η̃ at the root ("):
        # the uniqueness argument was made at r_a (or at a float64 root the enclosure rejected): say so
        start = replace(start, reason=re.sub(r"^r² > η̃ at the root \([^)]*\)",
                                             f"r² > η̃ on r ≥ r_a = {ra:.6g} (r_a² > {et:.6g}; r_a below the "
                                             "enclosed root)", start.reason))
    if v.d is None or not v.d.has_bounds:  # the error fields are replaced below
        # at a vertex S does not move with r (to the enclosure's width): φ' = −2r where not computed
        v = replace(v, d=_Deriv(dphi=v.d.dphi if v.d is not None else -2 * root, dS_proj=0.0, dxdr_inf=0.0,
                                dx_proj_inf=0.0, dS_round=0.0, dx_round_inf=0.0))
    hi = max(float(start.bracket[1] or 0), _up(r_hi))
    out = _assemble(task, phi, v, root, 0.0, replace(start, bracket=(ra, hi)))
    ok = r_err <= task.rtol * abs(float(root))
    resid = float(np.linalg.norm(phi.ar.Ax(x) - phi.ar.y))
    msg = (f"{'converged' if ok else 'not converged'}: r_∞ = {mpmath.nstr(mpmath.mpf(float(root)), 17)} ± "
           f"{r_err:.2g} (rigorous: the projection sits at an LP vertex of {len(B)} columns, enclosed in ball "
           f"arithmetic; the root lies in [√S_lo, √S_hi]), ‖Ax − y‖ = {resid:.3g} after {start.iterations} "
           f"projections{'' if start.unique else ' (root not proven unique, see unique_root_reason)'}; ν is the "
           f"float64 projection's dual at r = {ra:.6g}, a start only")
    return replace(out, status=Status.CONVERGED if ok else Status.NOT_CONVERGED, message=msg, r_inf_error=r_err,
                   x_inf_error=x_err, x_inf=x, x_inf_user=task.problem.to_user(x), residual=resid,
                   phi_residual=max(abs(s_lo - float(root) ** 2), abs(s_hi - float(root) ** 2)))


L1_VERTEX_METHOD = "root of phi, l1 vertex enclosure"
"""``LimitResult.method`` of :func:`_l2_vertex_stage`: the root of φ enclosed by duality bounds at the ℓ1 LP's
solution (docs/math.md §4.7), with an exactly feasible, strictly positive ``x_∞``."""

_L2_VERTEX_MIN_ENTRIES = _LP_MAX_ENTRIES
""":func:`_l2_vertex_stage` is tried first, before the float64 bracket search, where ``L = 2`` and
``M·n`` exceeds this (there one float64 projection at tiny ``β`` costs minutes, or never converges);
below it only after the bracket search stopped past float64's range.  Decided by size, not by time."""


def _l2_vertex_stage(task: _Task) -> Optional[LimitResult]:
    """``L = 2``, dense ``A``, float64: the root of φ enclosed rigorously at the solution of the ℓ1 LP
    (docs/math.md §4.7; :mod:`numerics._vertex2`).  An interior-point solution proposes the support, a
    dual vector and an exactly feasible point; Lagrangian duality and the concavity of the projection's
    value in ``t = 2 log ρ`` then bound ``S(r) = Σ x_i(r)`` above at ``r_a`` and below at ``r_b``.  If
    ``r_a² < S_lo`` and ``r_b² > S_hi`` (with ``r_a² > η̃``, where ``ρ`` increases with ``r``), ``φ(r_a) > 0 > φ(r_b)``
    and the root satisfies ``r² ∈ [S_lo, S_hi]``.  None where a step of the proposal fails or the bounds do
    not enclose a root (moderate ``β``: the bounds are narrow only when ``(λ̄ + t − h)·min s`` is large off
    the support, ``λ̄ ≈ 2 log ρ``).  ``dphi_dr`` is ``−2 r_∞``: at the vertex ``S`` is flat to the bounds' width."""
    if task.L != 2 or not task.dense or task.dps is not None:
        return None
    if task.l2_vertex is None:
        try:
            out = _l2_vertex_run(task)
        except (np.linalg.LinAlgError, ValueError, ArithmeticError):
            out = None  # a step of the proposal broke down: no claim, the float64 search decides
        task.l2_vertex = (out,)
    return task.l2_vertex[0]


def _l2_vertex_run(task: _Task) -> Optional[LimitResult]:
    """The body of :func:`_l2_vertex_stage` (which runs it once per solve and keeps its result)."""
    from flint import arb, ctx

    from numerics import _vertex2 as V

    A, y, config, n = task.A, task.y, task.config, task.n
    M = A.shape[0]
    if M >= n:
        return None
    prop = V.propose(A, y, clock=task.clock)
    if prop is None:
        return None
    et = float(config.eta_tilde)
    old = ctx.prec
    ctx.prec = prop.prec
    try:
        r0b, etb, lw = _exact_balls(config, n)

        def lr(r):  # log ρ(r) in balls from the exact r₀, η̃ (r a float64, taken exactly)
            return _D.log_rho(arb(r), r0b, etb, _ARB)

        r_c = math.sqrt(float(prop.Sz.mid()))
        if not r_c * r_c > et * (1 + 1e-9):
            return None
        lr_c = lr(r_c)
        lam0 = [2 * lr_c - 2 * w for w in lw]  # λ_j(r_c) = −log β_j(r_c)
        cert = V.certificate(A, prop, lam0, np.array([float(v.mid()) for v in lam0]))
        if cert is None or not cert.lam_bar > 0:
            return None
        h = arb(cert.lam_bar) / 2
        lo_c, hi_c = cert.bounds(arb(0), arb(0), h)
        lo_f, hi_f = _down(lo_c), _up(hi_c)
        if not (0 < lo_f <= hi_f and math.isfinite(hi_f)):
            return None
        w = hi_f - lo_f + 8 * np.finfo(float).eps * hi_f
        ra2, rb2 = max(lo_f - w, et * (1 + 1e-12)), hi_f + w
        ra, rb = math.sqrt(ra2), math.sqrt(rb2)
        if not arb(ra) * arb(ra) > etb:  # log ρ increases with r on [r_a, r_b]
            return None
        ta, tb = 2 * (lr(ra) - lr_c), 2 * (lr(rb) - lr_c)
        S_lo, S_hi = cert.bounds(ta, tb, h)
        if not (arb(ra) * arb(ra) < S_lo and arb(rb) * arb(rb) > S_hi):
            return None
        r_lo, r_hi = S_lo.sqrt(), S_hi.sqrt()
        rr = arb(float(((r_lo + r_hi) / 2).mid()))
        r_err = max(_up(rr - r_lo), _up(r_hi - rr), 0.0)
        root = float(rr.mid())
        t_root = float((2 * (lr(root) - lr_c)).mid())
        s_lower = V.l1_lower(prop)
        S_lower = _down(s_lower) if s_lower is not None else None
        below_free = s_lower is not None and s_lower > etb  # φ > 0 on (0, √η̃]: Σx ≥ min ℓ1 > η̃ ≥ r²
        s_lo_f, s_hi_f = _down(S_lo), _up(S_hi)
        xe = cert.x_error(S_hi)  # S(x*(r)) ≤ S_hi on [r_a, r_b]
    finally:
        ctx.prec = old
    x = prop.z
    x_err = math.inf if xe is None else float(np.max(xe))
    if below_free:
        unique = True
        reason = (f"r² > η̃ on [r_a, r_b] (r_a = {ra:.6g}, r_a² > {et:.6g}): φ strictly decreasing on r > √η̃, so no "
                  f"other root there; and φ > 0 on (0, √η̃] since Σx ≥ min ℓ1 ≥ {S_lower:.6g} > η̃ (a dual "
                  f"certificate of the ℓ1 LP, docs/math.md §4.7): the root is unique")
    else:
        unique = False
        reason = (f"not proven unique: r² > η̃ on [r_a, r_b] (no other root above √η̃), but no ℓ1 lower bound above "
                  f"η̃ = {et:.6g} excludes roots below √η̃")
    diag = task.diag
    if diag.l1_lower_bound is None and S_lower is not None:
        diag = replace(diag, l1_lower_bound=S_lower,
                       l1_lower_bound_from="the dual certificate of the L = 2 vertex enclosure")
    phi = _Phi(A, y, config, n, None, task.clock)
    logrho = float(phi.logrho(root))
    log_alpha = _F.log_alpha_eff(float(config.r0), n, logrho) if config.u0 is None else None
    ok = r_err <= task.rtol * abs(root)
    resid = float(np.linalg.norm(A @ x - y))
    nu = 0.5 * (cert.nu1 + t_root * prop.mu)  # ∇F(x) − ∇F(β) = Aᵀν with ∇F = ½ log (docs/math.md §4.1)
    msg = (f"{'converged' if ok else 'not converged'}: r_∞ = {mpmath.nstr(mpmath.mpf(root), 17)} ± {r_err:.2g} "
           f"(rigorous: Lagrangian duality bounds at the solution of the ℓ1 LP, support {prop.T.size} of M = {M} "
           f"columns, from {prop.ipm_iterations} interior-point iterations; the root lies in [√S_lo, √S_hi], "
           f"docs/math.md §4.7), ‖Ax − y‖ = {resid:.3g}; x_∞ is the float64 rounding of the certificate's exactly "
           f"feasible, strictly positive point ("
           f"{f'± {x_err:.2g} from the limit' if math.isfinite(x_err) else 'no bar: the least off-support slack is not certified positive'}"
           f"), ν its dual vector at the root, not "
           f"a projection's; φ'(r_∞) ≈ −2r_∞ (S is flat at the vertex)"
           f"{'' if unique else ' (root not proven unique, see unique_root_reason)'}")
    return LimitResult(status=Status.CONVERGED if ok else Status.NOT_CONVERGED, message=msg, method=L1_VERTEX_METHOD,
                       r_inf=root, x_inf=x, x_inf_user=task.problem.to_user(x), rho=_exp_of_log(logrho, np),
                       alpha_eff=_exp_of_log(log_alpha, np) if log_alpha is not None else None,
                       beta=np.exp(phi.logbeta(root)), log_rho=logrho,
                       log_alpha_eff=None if log_alpha is None else float(log_alpha), bracket=(ra, rb),
                       iterations=0, r_inf_error=r_err, x_inf_error=x_err, residual=resid,
                       phi_residual=max(abs(s_lo_f - root * root), abs(s_hi_f - root * root)),
                       unique_root_reason=reason, dps=None, nu=nu, wall_time=time.perf_counter() - task.t_start,
                       params=config.exact_strings(), unique=unique, dphi_dr=-2 * root,
                       **diag.fields())


def _vertex_after_failure(task: _Task, phi: _Phi, exc) -> Optional[LimitResult]:
    """The bracket search stopped where float64 cannot represent ``β`` (``exc.reached = (r_a, φ(r_a))``,
    ``φ(r_a) > 0``): :func:`_vertex_stage` from the projection at ``r_a``, whose enclosure holds for every
    ``r ≥ r_a`` (``L > 2``), or :func:`_l2_vertex_stage`, which needs no projection (``L = 2``).  None where
    it does not apply or does not certify."""
    if task.L == 2:
        out = _l2_vertex_stage(task)
        if out is None:
            return None
        return replace(out, message=out.message + f"; float64 could not evaluate φ beyond r = {exc.reached[0]:.6g} "
                       f"({exc.proj.message})", float64_failure=exc.proj.message)
    ra = exc.reached[0]
    v = phi.cache.get(ra)
    if not task.dense or v is None or v.phi is None:
        return None
    S_lower = task.diag.l1_lower_bound
    if S_lower is None and task.diag.l1_min is None:
        S_lower = _dual_l1_bound(phi.ar, v.proj.nu)
        task.diag = replace(task.diag, l1_lower_bound=S_lower,
                            l1_lower_bound_from="the dual of the projection at the last radius reached")
    unique, reason = _uniqueness(phi, ra, S_lower, float(task.config.eta_tilde), task.L)
    v = phi.cache.get(ra, v)
    start = _Start(ra, (ra, float(exc.r)), phi.evals, reason, unique)
    out = _vertex_stage(task, phi, v, ra, start)
    if out is None:
        return None
    note = (f"; float64 could not evaluate φ beyond r = {ra:.6g} ({exc.proj.message}), and the root above it "
            "comes from the vertex enclosure alone")
    return replace(out, message=out.message + note, float64_failure=exc.proj.message)


def _point_could_converge(task: _Task, v: _Eval, root, last_step) -> bool:
    """Whether another float64 point of the root's projection could bring :func:`_assemble`'s bar within
    the tolerance: the parts of the bar that do not depend on the point (the last Newton step, the
    rounding of ``S`` and of ``r``) must leave room, and the point's own part (``|φ|`` and the
    projection's first-order terms, over ``|φ'|``) must be what exceeds it."""
    dphi = abs(float(v.d.dphi))
    if not dphi > 0:
        return False
    r = abs(float(root))
    S_val = abs(float(v.phi) + r * r)
    eps = np.finfo(float).eps
    fixed = float(last_step) + task.n * eps * (S_val + r * r) / dphi + r * 10.0 ** (-DPS_FLOAT64)  # as in _assemble
    return fixed < task.rtol * r


@dataclass(frozen=True)
class _Start:
    """Where the dps root search starts: the float64 root (None: none) and its bracket, the projections
    spent so far, and the uniqueness verdict."""

    root: Optional[float]
    bracket: tuple
    iterations: int
    reason: str
    unique: bool


def _root64(phi64, r0, task: _Task):
    """The float64 root of φ: ``(root, last Newton step, lo, hi)``, a failed :class:`LimitResult`,
    or the :class:`_ProjectionFailure` that stopped it."""

    def phival(r):
        v = phi64.value(r)
        if v.phi is None:
            raise _ProjectionFailure(r, v.proj)
        return v.phi

    def phival_toward(r_from, f_from, r_to):
        """φ at r_to; if that projection fails (β far beyond float64's reach), halve the way back
        toward r_from (already solved, φ(r_from) = f_from).  Returns (r, φ(r)).  When even a step of
        1/2^_MAX_RETREAT of the way fails, the expansion cannot make progress: raises a
        :class:`_ProjectionFailure` that names the last radius float64 reached (the expansion used
        to creep on by ever smaller steps and end with "no sign change between 12 and 12")."""
        first = None
        for _ in range(_MAX_RETREAT):
            try:
                return r_to, phival(r_to)
            except _ProjectionFailure as exc:
                first = first or exc
                r_to = (r_from + r_to) / 2
        first.reached = (r_from, f_from)
        raise first

    try:
        if task.bracket is not None:
            lo, hi = task.bracket
            flo, fhi = phival(lo), phival(hi)
            if not (flo > 0 > fhi):
                return task.fail(Status.FAILED, f"the given bracket ({lo:g}, {hi:g}) does not bracket a root: "
                            f"φ(lo) = {flo:.3g}, φ(hi) = {fhi:.3g} (need φ(lo) > 0 > φ(hi)); omit bracket to search")
        else:
            f0 = phival(r0)
            lo = hi = r0
            flo = fhi = f0
            k = 0
            # geometric expansion by at most a factor 2, shortened to just past the Newton
            # prediction when φ' points there (ρ grows like exp(r²/2η̃): far radii mean projections
            # of β many orders of magnitude away, expensive and useless for the bracket)
            # A prediction that falls short again and again (φ' huge against φ) would make the
            # expansion creep: each time a predicted step removed less than a quarter of φ, the next one
            # is stretched twice as far (never beyond the factor _EXPAND); a step that removed more
            # resets the stretch (Newton's own progress on the convex φ: stretching it would overshoot
            # the root by hundreds in log β, where each projection path-follows a long way back).
            if f0 > 0:
                miss = 0
                while fhi > 0 and k < _MAX_EXPAND:
                    lo, flo = hi, fhi
                    guess = _newton_guess(phi64, lo, overshoot=1.05)
                    predicted = guess is not None and guess > lo
                    hi = min(_EXPAND * lo, lo + (guess - lo) * 2.0 ** miss) if predicted else _EXPAND * lo
                    hi, fhi = phival_toward(lo, flo, hi)
                    miss = miss + 1 if predicted and fhi > 0.75 * flo else 0
                    k += 1
            elif f0 < 0:
                miss = 0
                while flo < 0 and k < _MAX_EXPAND:
                    hi, fhi = lo, flo
                    guess = _newton_guess(phi64, hi, overshoot=1.05)
                    predicted = guess is not None and guess < hi
                    lo = max(hi / _EXPAND, hi - (hi - guess) * 2.0 ** miss) if predicted else hi / _EXPAND
                    lo, flo = phival_toward(hi, fhi, lo)
                    miss = miss + 1 if predicted and flo < 0.75 * fhi else 0
                    k += 1
            if not (flo >= 0 >= fhi):
                return task.fail(Status.FAILED, f"no sign change of φ found between {lo:.3g} and {hi:.3g} after {k} "
                            "expansions; pass bracket=(lo, hi)")
        from scipy.optimize import brentq

        if flo == 0:
            root = lo
        elif fhi == 0:
            root = hi
        else:
            # Brent to _BRENT_RTOL only: the Newton polish below (φ' from the implicit derivative,
            # polished projections) takes the last digits in one or two steps, where Brent spent
            # several projections at radii equal to ~12 digits (each a full Newton solve at scale)
            root, rinfo = brentq(phival, lo, hi, xtol=1e-300, rtol=_BRENT_RTOL, maxiter=200,
                                 full_output=True, disp=False)
            if not rinfo.converged:
                return task.fail(Status.NOT_CONVERGED, f"Brent's method did not converge on ({lo:g}, {hi:g}): {rinfo.flag}",
                            bracket=(lo, hi))
        # Newton polish in float64
        v = phi64.value(root, derivative=True)
        step = 0.0
        for _ in range(3):
            if v.phi is None or v.d.dphi == 0:
                break
            step = -v.phi / v.d.dphi
            cand = root + step
            if not (lo <= cand <= hi):
                break
            w = phi64.value(cand, derivative=True)
            if w.phi is None or abs(w.phi) > abs(v.phi):
                phi64.value(root, derivative=True)
                break
            root, v = cand, w
            if abs(step) <= 4 * np.finfo(float).eps * root:
                break
    except _ProjectionFailure as exc:
        return exc
    if v.phi is None:
        return _ProjectionFailure(root, v.proj)
    return root, step, lo, hi


def _bracket_mp(phimp, r0, clock):
    """A bracket ``(lo, hi)`` with ``φ(lo) > 0 > φ(hi)`` at the working precision, by geometric
    expansion from ``r₀`` (used when float64 cannot evaluate φ).  Raises :class:`_ProjectionFailure`."""
    def phival(r):
        v = phimp.value(r)
        if v.phi is None:
            raise _ProjectionFailure(r, v.proj)
        return v.phi

    lo = hi = r0
    flo = fhi = phival(r0)
    for _ in range(_MAX_EXPAND):
        if flo > 0 > fhi or flo == 0 or fhi == 0:
            break
        if fhi > 0:
            lo, flo = hi, fhi
            hi = hi * _EXPAND
            fhi = phival(hi)
        else:
            hi, fhi = lo, flo
            lo = lo / _EXPAND
            flo = phival(lo)
    return lo, flo, hi, fhi


def _root_mp(task: _Task, start: _Start, nu0=None) -> LimitResult:
    """Newton on φ at ``dps`` digits, safeguarded by the bracket: from the float64 root when there
    is one, else from a bracket found at ``dps`` (``task.bracket`` given, or expanded from ``r₀``)."""
    dps, config, max_iter, rtol = task.dps, task.config, task.max_iter, task.rtol
    bracket64 = start.bracket
    with workdps(dps):
        phimp = _Phi(task.A, task.y, config, task.n, dps, task.clock)
        if nu0 is not None:
            phimp.nu = mp_array(nu0)
        if start.root is None:
            try:
                if task.bracket is not None:
                    lo_m, hi_m = mpmath.mpf(task.bracket[0]), mpmath.mpf(task.bracket[1])
                    flo, fhi = phimp.value(lo_m).phi, phimp.value(hi_m).phi
                    if flo is None or fhi is None or not (flo > 0 > fhi):
                        return task.fail(Status.FAILED, f"the given bracket ({task.bracket[0]:g}, {task.bracket[1]:g}) "
                                         f"does not bracket a root of φ at {dps} digits")
                else:
                    lo_m, flo, hi_m, fhi = _bracket_mp(phimp, config.mp("r0"), task.clock)
            except _ProjectionFailure as exc:
                return task.fail(Status.FAILED, f"the mp Bregman projection failed at r = {mpmath.nstr(exc.r, 15)}: "
                                 f"{exc.proj.message}")
            if flo == 0 or fhi == 0:
                r = lo_m if flo == 0 else hi_m
            elif not (flo > 0 > fhi):
                return task.fail(Status.FAILED, f"no sign change of φ found at {dps} digits between "
                                 f"{mpmath.nstr(lo_m, 6)} and {mpmath.nstr(hi_m, 6)}; pass bracket=(lo, hi)")
            else:
                r = lo_m + flo * (hi_m - lo_m) / (flo - fhi)  # secant point inside the bracket
            bracket64 = (float(lo_m), float(hi_m))
        else:
            r = mpmath.mpf(start.root)
            lo_m, hi_m = mpmath.mpf(start.bracket[0]), mpmath.mpf(start.bracket[1])
        step = mpmath.mpf(0)
        status = Status.NOT_CONVERGED
        w = None
        tiny = mpmath.mpf(10) ** (-(dps + GUARD_DIGITS))
        for _ in range(max_iter):
            w = phimp.value(r, derivative=True)
            if w.phi is None:
                st = w.proj.status
                return task.fail(Status.NOISE_FLOOR if st is Status.NOISE_FLOOR else Status.FAILED,
                                 f"the mp Bregman projection failed at r = {mpmath.nstr(r, 15)}: {w.proj.message}",
                                 bracket=bracket64)
            if w.phi > 0:
                lo_m = max(lo_m, r)
            elif w.phi < 0:
                hi_m = min(hi_m, r)
            if w.phi == 0:
                step = mpmath.mpf(0)  # an exact zero of φ at the working precision
                status = Status.CONVERGED
                break
            if w.d.dphi == 0:
                break
            step = -w.phi / w.d.dphi
            # converged when the Newton step is below the asked accuracy (it may even be below the
            # working resolution, so test before the bracket safeguard)
            if abs(step) <= rtol * abs(r) * mpmath.mpf(10) ** (-K_SOLVE) and abs(w.phi) <= _tol(dps, K_SOLVE) * r * r:
                status = Status.CONVERGED
                break
            if abs(step) <= tiny * abs(r):
                # the step is below the working resolution: r cannot move, and |φ| is what the
                # projections reach here; the error bar of _assemble (|φ|/|φ'|) judges it
                status = Status.CONVERGED
                break
            cand = r + step
            if not (lo_m < cand < hi_m):
                cand = (lo_m + hi_m) / 2  # safeguard: bisect
                step = cand - r
            r = cand
        if status is not Status.CONVERGED:
            return task.fail(Status.NOT_CONVERGED, f"mp Newton on φ did not converge in {max_iter} steps "
                             f"(last step {mpmath.nstr(step, 3)}); try a larger max_iter", bracket=bracket64)
        return _assemble(task, phimp, w, r, abs(step), replace(start, bracket=bracket64,
                                                               iterations=start.iterations + phimp.evals))


def _newton_guess(phi: _Phi, r, overshoot):
    """``r − overshoot·φ(r)/φ'(r)`` from the state at ``r`` (None when φ' does not point to a root)."""
    v = phi.value(r, derivative=True)
    if v.phi is None or not v.d.dphi < 0 or not abs(v.d.dphi) > 10 * v.d.dphi_err:
        return None  # φ' does not point to a root, or is rounding (q + Aᵀν' cancelled)
    step = -overshoot * v.phi / v.d.dphi
    return r + step if r + step > 0 else None


class _ProjectionFailure(Exception):
    def __init__(self, r, proj):
        super().__init__(proj.message)
        self.r, self.proj = r, proj
        self.reached = None  # (r, φ(r)) of the last radius the bracket search could evaluate

    def where(self) -> str:
        if self.reached is None:
            return ""
        r, f = self.reached
        side = "above" if f > 0 else "below"
        return (f"; the bracket search reached r = {r:.6g} (φ = {f:.6g}, so the root lies {side} it) and could "
                f"not evaluate φ by even 1/{2 ** _MAX_RETREAT} of its next step beyond")


def _exp_of_log(v, lib):
    """``exp(v)`` in the arithmetic ``lib``; float64 overflow gives ``inf`` and underflow 0 (the
    caller keeps ``v``, the value of record)."""
    if lib is np:
        try:
            return math.exp(float(v))
        except OverflowError:
            return math.inf
    return lib.exp(v)


def _assemble(task: _Task, phi: _Phi, v: _Eval, root, last_step, start: _Start) -> LimitResult:
    problem, config, dps, rtol = task.problem, task.config, task.dps, task.rtol
    proj = v.proj
    lib = phi.lib
    logrho = phi.logrho(root)
    n = task.n
    # the log fields are the values of record; ρ and α_eff are their exponentials, which in
    # float64 may overflow (inf) or underflow (0): acceptable only because the logs carry the value
    log_alpha = _F.log_alpha_eff(phi.r0, n, logrho) if config.u0 is None else None
    rho = _exp_of_log(logrho, lib)
    alpha_eff = _exp_of_log(log_alpha, lib) if log_alpha is not None else None
    ar = phi.ar
    beta = ar.exp(v.logb)
    resid = float(ar.norm(ar.Ax(proj.x) - ar.y))
    dphi = abs(v.d.dphi)
    # Newton step + residual φ and the projection's first-order effect on S, over |φ'|; the
    # rounding of the n-term sum S = Σ x^{2/L} (n·eps·(S + r²)/|φ'|); the precision of r itself
    eps = np.finfo(float).eps if dps is None else 10.0 ** (-(dps + GUARD_DIGITS))
    S_val = float(abs(v.phi + root * root))
    r_err = (float(last_step) + float((abs(v.phi) + v.d.dS_proj + v.d.dS_round) / dphi)
             + n * eps * (S_val + float(root) ** 2) / float(dphi)
             + float(abs(root)) * 10.0 ** (-(DPS_FLOAT64 if dps is None else dps)))
    x_err = float(v.d.dxdr_inf) * r_err + float(v.d.dx_proj_inf) + float(v.d.dx_round_inf)
    ok = r_err <= rtol * float(abs(root))
    status = Status.CONVERGED if ok else Status.NOT_CONVERGED
    mag = ""
    if float(rho) < 1:
        mag = f"; note ρ = {float(rho):.4g} < 1 (r_∞ < r₀ or r_∞² ≈ η̃): no magnification"
    iterations = start.iterations
    msg = (f"{'converged' if ok else 'not converged'}: r_∞ = {mpmath.nstr(mpmath.mpf(root), 17)} ± {r_err:.2g}, "
           f"‖Ax − y‖ = {resid:.3g}, |φ| = {float(abs(v.phi)):.3g} after {iterations} projections"
           f"{'' if start.unique else ' (root not proven unique, see unique_root_reason)'}{mag}")
    r_out = root if dps is not None else float(root)
    x_out = proj.x
    return LimitResult(status=status, message=msg, method="root of phi", r_inf=r_out, x_inf=x_out,
                       x_inf_user=problem.to_user(x_out), rho=rho, alpha_eff=alpha_eff, beta=beta,
                       log_rho=logrho if dps is not None else float(logrho),
                       log_alpha_eff=(None if log_alpha is None else log_alpha if dps is not None else float(log_alpha)),
                       bracket=(float(start.bracket[0]), float(start.bracket[1])), iterations=iterations,
                       r_inf_error=r_err, x_inf_error=x_err, residual=resid, phi_residual=float(abs(v.phi)),
                       unique_root_reason=start.reason, dps=dps, nu=proj.nu,
                       wall_time=time.perf_counter() - task.t_start, params=config.exact_strings(),
                       unique=start.unique, dphi_dr=float(v.d.dphi), **task.diag.fields())


def _projection_limit(task: _Task) -> LimitResult:
    """Rates ``plain`` / ``r2``: ``ρ = 1`` and ``x_∞`` is the projection of ``w₀^L``."""
    problem, config, dps, A, y, clock = task.problem, task.config, task.dps, task.A, task.y, task.clock
    n, L = task.n, task.L
    if dps is None:
        logb = L * np.log(config.w0_for(n))
        proj = clock.project(A, y, L, log_beta=logb)
    else:
        with workdps(dps):
            logb = mp_array([L * t for t in config.log_w0_mp(n)])  # exact r₀ and ū₀ at dps
        proj = clock.project(A, y, L, dps=dps, log_beta=logb)
    if proj.status is not Status.CONVERGED:
        return task.fail(proj.status, f"the Bregman projection of w₀^L failed: {proj.message}", method="projection")
    if dps is None:
        r = float(math.sqrt(np.exp(2.0 / L * proj.log_x).sum()))
        beta = np.exp(logb)
        x = proj.x
        log_rho0 = 0.0  # ρ = 1
        log_alpha = float(_F.log_alpha_eff(float(config.r0), n, log_rho0)) if config.u0 is None else None
        rho, alpha = 1.0, (math.exp(log_alpha) if log_alpha is not None else None)
        resid = float(np.linalg.norm(_Float64(A, y).Ax(x) - y))
    else:
        with workdps(dps):
            q = mpmath.mpf(2) / L
            r = mpmath.sqrt(mpmath.fsum(mpmath.exp(q * t) for t in proj.log_x))
            beta = mp_array([mpmath.exp(t) for t in logb])
            x = proj.x
            log_rho0 = mpmath.mpf(0)  # ρ = 1
            rho = mpmath.mpf(1)
            log_alpha = _F.log_alpha_eff(config.mp("r0"), n, log_rho0) if config.u0 is None else None
            alpha = mpmath.exp(log_alpha) if log_alpha is not None else None
        resid = proj.residual
    err = 10.0 ** (-(DPS_FLOAT64 if dps is None else dps) + K_ROUNDOFF)
    return LimitResult(status=Status.CONVERGED,
                       message=f"rates {config.rates!r}: ρ = 1, x_∞ is the Bregman projection of w₀^L "
                               f"(‖Ax − y‖ = {resid:.3g}); r_∞ = ‖x_∞^(1/L)‖",
                       method="projection", r_inf=r, x_inf=x, x_inf_user=problem.to_user(x), rho=rho,
                       alpha_eff=alpha, beta=beta, bracket=(None, None), iterations=proj.iterations,
                       log_rho=log_rho0, log_alpha_eff=log_alpha,
                       r_inf_error=err * float(r) + float(proj.residual), x_inf_error=float(proj.residual),
                       residual=resid, phi_residual=0.0,
                       unique_root_reason="no root-finding: ρ = 1 for these rates, the limit is one projection "
                                          "(unique: strictly convex program)",
                       dps=dps, nu=proj.nu, wall_time=time.perf_counter() - task.t_start,
                       params=config.exact_strings(), unique=True, **task.diag.fields())
