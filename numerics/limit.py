"""The limit of WN-GF without integrating: a root of ``φ(r) = Σ x_i(r)^{2/L} − r²`` (docs/math.md §4).

For a candidate radius ``r`` let ``ρ(r) = (r₀/r) exp((r² − r₀²)/(2η̃))``, ``β(r) = (w₀/ρ(r))^L`` and
``x(r)`` the Bregman projection of ``β(r)`` onto ``{z ≥ 0 : Az = y}``
(:func:`numerics.bregman.bregman_projection`).  The limit radius ``r_∞`` is a root of ``φ`` and
``x_∞ = x(r_∞)``.

Why the root is the flow's, and unique.  With the normalisation of :mod:`numerics.bregman`,
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
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import mpmath
import numpy as np

from numerics._status import Status
from numerics.bregman import _DualMP, _MPChol, _gram64, _solve_spd64, bregman_projection
from numerics.config import FlowConfig
from numerics.precision import DPS_FLOAT64, GUARD_DIGITS, K_ROUNDOFF, K_SOLVE, check_mp_dps, tol as _tol, workdps

__all__ = ["LimitResult", "limit_solve"]

_EXPAND = 2.0
_MAX_EXPAND = 80
_LP_MAX_ENTRIES = 4_000_000  # M·n above which the HiGHS LPs are replaced (see _limit_solve)
_BRENT_RTOL = 1e-12  # Brent's relative tolerance before the Newton polish
_MAX_RETREAT = 6  # halvings of a failed expansion step before the bracket search gives up


@dataclass(frozen=True)
class LimitResult:
    """The limit ``(r_∞, x_∞)`` of a flow, computed from docs/math.md §4 without integrating.

    Vectors are float64 arrays (``dps is None``) or lists of ``mpmath.mpf``; scalars ``float`` or
    ``mpf``.  ``x_inf`` is in effective coordinates (length ``n``), ``x_inf_user`` in the user's.
    ``residual`` is ``‖A x_∞ − y‖`` (the loss of the limit is ``½ residual²``); ``phi_residual``
    is ``|φ(r_∞)|``; ``r_inf_error`` / ``x_inf_error`` are error bars (see :func:`limit_solve`).
    ``nu`` is the dual vector of the final projection (``∇F(x_∞) − ∇F(β) = Aᵀν``).
    """

    status: Status
    message: str
    method: str
    r_inf: Any
    x_inf: Any
    x_inf_user: Any
    rho: Any
    alpha_eff: Any
    beta: Any
    bracket: tuple
    iterations: int
    r_inf_error: float
    x_inf_error: float
    residual: float
    phi_residual: float
    unique_root_reason: str
    dps: Optional[int]
    nu: Any = None
    wall_time: float = float("nan")
    extras: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    """The exact parameters solved for (``FlowConfig.exact_strings()``)."""

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    def as_dict(self) -> dict:
        """JSON-able form: mpf values as decimal strings with ``dps`` digits (floats otherwise),
        with ``dps`` and the exact ``params`` next to them."""
        from numerics.quantities import _jsonable

        digits = DPS_FLOAT64 if self.dps is None else self.dps
        out = {}
        for name in ("status", "message", "method", "r_inf", "x_inf", "x_inf_user", "rho", "alpha_eff", "beta",
                     "bracket", "iterations", "r_inf_error", "x_inf_error", "residual", "phi_residual",
                     "unique_root_reason", "dps", "nu", "wall_time", "params"):
            out[name] = _jsonable(getattr(self, name), digits)
        out["extras"] = _jsonable({k: v for k, v in self.extras.items()}, digits)
        return out

    @property
    def loss(self) -> float:
        return 0.5 * float(self.residual) ** 2


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
        self.cache = {}
        self.evals = 0
        self.last = None
        if dps is None:
            self.lib = np
            self.r0 = float(config.r0)
            self.et = float(config.eta_tilde)  # the exact η_r/η_u rounded once
            self.logw0 = np.log(config.w0_for(n))
        else:
            # at dps: the exact parameters rounded once at the working precision (docs/math.md §4)
            self.lib = mpmath
            self.r0 = config.mp("r0")
            self.et = config.mp("eta_tilde")
            self.logw0 = config.log_w0_mp(n)
            self.f = _DualMP(A, y, [mpmath.mpf(0)] * n, config.L)

    # ρ and β -------------------------------------------------------------------------
    def logrho(self, r):
        lib = self.lib
        return lib.log(self.r0 / r) + (r * r - self.r0 * self.r0) / (2 * self.et)

    def dlogrho(self, r):
        return r / self.et - 1 / r

    def logbeta(self, r):
        lr = self.logrho(r)
        if self.dps is None:
            return self.L * (self.logw0 - lr)
        return [self.L * (lw - lr) for lw in self.logw0]

    # one evaluation ------------------------------------------------------------------
    def project(self, logb, polish=False):
        ref = None
        kw = {"polish": True} if polish and self.dps is None else {}
        if self.dps is None and self.nu is not None and self.logb_last is not None:
            ref = (self.logb_last, self.nu)
        res = self.clock.project(self.A, self.y, self.L, dps=self.dps, log_beta=logb, nu0=self.nu, path_from=ref,
                                 **kw)
        if res.status is not Status.CONVERGED and res.status is not Status.TIME_LIMIT and self.nu is not None:
            res = self.clock.project(self.A, self.y, self.L, dps=self.dps, log_beta=logb, **kw)
        elif polish and self.dps is None and res.status is Status.CONVERGED and self.nu is not None:
            # a warm start can stall above the rounding level on a (nearly) degenerate vertex, where
            # the dual Hessian is singular in float64 along the directions of the tiny x_i: retry cold
            floor = 10 * np.finfo(float).eps * (float(np.linalg.norm(np.abs(self.A) @ np.abs(res.x)))
                                                 + float(np.linalg.norm(self.y)))
            if res.residual > floor:
                cold = self.clock.project(self.A, self.y, self.L, dps=None, log_beta=logb, **kw)
                if cold.status is Status.CONVERGED and cold.residual < res.residual:
                    res = cold
        self.evals += 1
        if res.status is Status.CONVERGED:
            self.nu = res.nu
            self.logb_last = logb
        return res

    def S(self, logx):
        q = 2.0 / self.L if self.dps is None else mpmath.mpf(2) / self.L
        if self.dps is None:
            return float(np.exp(q * logx).sum())
        return mpmath.fsum(mpmath.exp(q * v) for v in logx)

    def value(self, r, derivative=False, bounds=False, polish=None):
        """Dict with phi, (dphi), proj, logb for radius ``r`` (float64 values are cached by ``r``;
        each projection warm-starts from the nearest radius already solved).  ``bounds``: also the
        first-order error terms of :func:`_assemble` (float64: an SVD of ``D^{1/2}Aᵀ``, so only at
        the final root; at dps they come with every derivative)."""
        if not r > 0:
            raise ValueError(f"φ is defined for radii r > 0, got r = {r}")
        derivative = derivative or bounds
        if polish is None:
            polish = derivative  # φ' is asked for where r is about to be (or is) the answer
        key = r if self.dps is None else None
        if key is not None and key in self.cache and (self.cache[key]["polished"] or not polish):
            out = self.cache[key]
            if out["phi"] is not None and ((derivative and "dphi" not in out) or (bounds and "dS_proj" not in out)):
                # the projection is cached: only the derivative (and bounds) are missing
                out.update(self._derivative(r, out["proj"], out["logb"], bounds))
            self.last = out
            if out["phi"] is not None:
                self.nu, self.logb_last = out["proj"].nu, out["logb"]
            return out
        if self.cache:
            lr = float(self.logrho(r))
            near = min(self.cache, key=lambda k: abs(self.cache[k]["logrho"] - lr)
                       if self.cache[k]["phi"] is not None else math.inf)
            if self.cache[near]["phi"] is not None:
                self.nu, self.logb_last = self.cache[near]["proj"].nu, self.cache[near]["logb"]
        logb = self.logbeta(r)
        proj = self.project(logb, polish)
        out = {"r": r, "proj": proj, "logb": logb, "polished": polish}
        if self.dps is None:
            out["logrho"] = float(self.logrho(r))
        if proj.status is not Status.CONVERGED:
            out["phi"] = None
            self.last = out
            return out
        out["phi"] = self.S(proj.log_x) - r * r
        if derivative:
            out.update(self._derivative(r, proj, logb, bounds))
        self.last = out
        if key is not None:
            self.cache[key] = out
        return out

    def _derivative(self, r, proj, logb, bounds=True):
        """``φ'(r)`` by implicit differentiation; with ``bounds`` also the first-order effects on
        ``S`` and ``x`` of the projection's residual (``dS_proj``) and of the rounding of
        ``θ = ∇F(β) + Aᵀν`` (``dS_round``).

        Rounding.  The computed ``x`` satisfies ``Ax = y + g`` and ``θ(x) − θ(β) = Aᵀν + e`` with
        ``|e_i| ≤ δθ_i``.  To first order ``x − x* = D dθ`` with ``dθ = e + AᵀH⁻¹(g − ADe)``,
        ``H = ADAᵀ``, so ``δS = 2xᵀdθ = 2vᵀe + 2xᵀAᵀH⁻¹g`` with ``v = x − DAᵀH⁻¹Ax``: only the part of
        ``e`` that the constraint ``Ax = y`` does not absorb moves ``S``.  With ``B = D^{1/2}Aᵀ``,
        ``v = D^{1/2}(I − BB⁺)(x^{1/L}/√L)``, from the SVD of ``B`` (docs/math.md §4).  Where ``β`` is
        tiny, ``x`` sits on ``M`` coordinates, ``v ≈ 0`` there, and a bound ``2Σ x_i δθ_i`` (which
        ignores the constraint) would be larger by orders of magnitude.
        """
        L = self.L
        if self.dps is None:
            A, x, logx = self.A, proj.x, proj.log_x
            M_ = A.shape[0]
            D = L * np.exp(2 * (L - 1) / L * logx)
            with np.errstate(over="ignore"):
                q = -np.exp((2 - L) / L * logb) * self.dlogrho(r)
            H = _gram64(A, D)
            nup = _solve_spd64(H, -(A @ (D * q)))
            dth = q + A.T @ nup
            dphi = 2 * float(x @ dth) - 2 * r
            # q + Aᵀν' cancels when |q| ~ β^{(2−L)/L} is huge (tiny β at L > 2): the rounding of φ'
            eps = np.finfo(float).eps
            dphi_err = 4 * eps * (float(x @ (np.abs(q) + np.abs(A.T @ nup))) + r) * (M_ + 2)
            out = {"dphi": dphi, "dphi_err": dphi_err}
            if not bounds:
                return out
            g = A @ x - self.y
            dnu = _solve_spd64(H, g)
            dS = abs(2 * float(x @ (A.T @ dnu)))
            dxdr = D * dth
            dx_proj = D * (A.T @ dnu)
            # rounding of θ = ∇F(β) + Aᵀν, which cancels when |∇F(β)| ≫ |∇F(x)| (tiny β at L > 2):
            # δθ_i ≈ eps (|∇F(β_i)| + |∇F(x_i)|) moves x_i by at most D_i δθ_i
            # (log β carries an absolute error eps·|log β|, which ∇F(β) = log_L(β^{1/L}) scales by (L−2)/L)
            eps = np.finfo(float).eps
            amp = 1 + abs(2 - L) / L * np.abs(logb)
            dth_round = eps * (amp * np.abs(self._theta(logb)) + np.abs(self._theta(logx)))
            # the residual g is itself only known to rounding, in an unknown direction: bound the
            # effect of any δg with |δg_j| ≤ max(‖g‖_∞, eps (|A||x| + |y|)_j) through H⁻¹ (ill-conditioned
            # when x has tiny entries, whose errors the residual alone does not reveal)
            dg = np.maximum(np.abs(g).max(), eps * (np.abs(A) @ np.abs(x) + np.abs(self.y)))
            # With B = D^{1/2} Aᵀ (so H = BᵀB): δS = 2 xᵀAᵀH⁻¹δg = 2 (B⁺ x^{1/L}/√L)ᵀ δg and
            # δx_i = D_i^{1/2} (B⁺ᵀ δg)_i, through the SVD of B (stable where H's Cholesky is not)
            sqrtD = math.sqrt(L) * np.exp((1 - 1 / L) * logx)
            z = np.exp(logx / L) / math.sqrt(L)
            svd = _svd_full(sqrtD[:, None] * A.T)
            if svd is None:
                dS, dx_proj = math.inf, np.full_like(x, math.inf)
                v_round = np.abs(x)
            else:
                U, sv, Vt = svd
                Utz = U.T @ z
                v = Vt.T @ (Utz / sv)  # B⁺ z
                dS = max(dS, 2 * float(np.abs(v) @ dg))
                pinvBT = (U / sv) @ Vt  # (B⁺)ᵀ
                dx_proj = np.maximum(np.abs(dx_proj), sqrtD * (np.abs(pinvBT) @ dg))
                # v = D^{1/2}(I − BB⁺)z, plus the rounding of that difference (eps·D^{1/2}‖z‖)
                v_round = sqrtD * (np.abs(z - U @ Utz) + eps * float(np.linalg.norm(z)))
            out.update({"dS_proj": dS, "dxdr_inf": float(np.abs(dxdr).max()),
                        "dx_proj_inf": float(np.abs(dx_proj).max()),
                        "dS_round": 2 * float(v_round @ dth_round),
                        "dx_round_inf": float(np.abs(D * dth_round).max())})
            return out
        f = self.f
        x, logx = proj.x, proj.log_x
        e = mpmath.mpf(2 * (L - 1)) / L
        D = [L * mpmath.exp(e * v) for v in logx]
        H = f.hessian(D)
        C = _MPChol(H, mpmath.mpf(10) ** (-mpmath.mp.dps + 3))
        e2 = mpmath.mpf(2 - L) / L
        dl = self.dlogrho(r)
        q = [-mpmath.exp(e2 * v) * dl for v in logb]
        nup = C.solve([-v for v in f.Ax([d * qi for d, qi in zip(D, q)])])
        atn = f.at(nup)
        dth = [a + b for a, b in zip(q, atn)]
        dphi = 2 * mpmath.fdot(x, dth) - 2 * r
        g = [a - b for a, b in zip(f.Ax(x), f.y)]
        dnu = C.solve(g)
        atd = f.at(dnu)
        dS = abs(2 * mpmath.fdot(x, atd))
        eps = mpmath.eps
        amp = [1 + abs(e2) * abs(v) for v in logb]
        dth_round = [eps * (m * abs(a) + abs(b)) for m, a, b in zip(amp, self._theta(logb), self._theta(logx))]
        # v = x − D Aᵀ H⁻¹ A x (see above; the guard digits carry the cancellation), plus its rounding
        w_ax = f.at(C.solve(f.Ax(x)))
        v_round = [abs(xi - d * t) + eps * (abs(xi) + abs(d * t)) for xi, d, t in zip(x, D, w_ax)]
        return {"dphi": dphi, "dS_proj": dS,
                "dxdr_inf": max(abs(d * t) for d, t in zip(D, dth)),
                "dx_proj_inf": max(abs(d * t) for d, t in zip(D, atd)),
                "dS_round": 2 * mpmath.fdot(v_round, dth_round),
                "dx_round_inf": max(d * t for d, t in zip(D, dth_round))}

    def _theta(self, logv):
        """``∇F(v) = log_L(v^{1/L})`` from ``log v`` (no under/overflow of ``v`` itself)."""
        L = self.L
        if self.dps is None:
            logv = np.asarray(logv, dtype=float)
            if L == 2:
                return 0.5 * logv
            return np.expm1((2 - L) / L * logv) / (2 - L)
        if L == 2:
            return [v / 2 for v in logv]
        e2 = mpmath.mpf(2 - L) / L
        return [mpmath.expm1(e2 * v) / (2 - L) for v in logv]


def _svd_full(B):
    """The thin SVD ``(U, s, Vᵀ)`` of ``B`` with *no* singular value cut (``None`` if one is zero): a
    tiny singular value is a direction the residual barely constrains, and the error bound must see it."""
    try:
        U, sv, Vt = np.linalg.svd(B, full_matrices=False)
    except np.linalg.LinAlgError:
        return None
    if not sv.size or sv.min() <= 0 or not np.all(np.isfinite(sv)):
        return None
    return U, sv, Vt


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


def _dual_l1_bound(A, y, nu) -> Optional[float]:
    """A lower bound on ``min{Σz : Az = y, z ≥ 0}`` from any dual vector ``ν`` (weak duality): with
    ``μ = ν / max(Aᵀν)``, ``Aᵀμ ≤ 1`` and ``Σz ≥ ⟨Aᵀμ, z⟩ = ⟨μ, y⟩``.  The projection's dual at tiny
    ``β`` is close to the LP's optimal dual, so the bound is close to the minimum.  Rounding: ``max(Aᵀν)``
    inflated and ``⟨μ, y⟩`` deflated by a margin far above float64's error of those sums."""
    if nu is None:
        return None
    nu = np.asarray(nu, dtype=float)
    atn = A.T @ nu
    m = float(atn.max())
    if not (m > 0 and math.isfinite(m)):
        return None
    eps = np.finfo(float).eps
    n, M = A.shape[1], A.shape[0]
    m_up = m + 4 * (M + 2) * eps * float((np.abs(A).T @ np.abs(nu)).max())
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
            if v["phi"] is None:
                return False, f"not proven unique: a projection failed at r = {a:.6g}"
            a_new = math.sqrt(v["phi"] + a * a)
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
            if vb["phi"] is not None and vb["phi"] < 0:
                for _ in range(200):
                    b_new = math.sqrt(max(vb["phi"] + b * b, 0.0))
                    if b_new >= b * (1 - 1e-13):
                        break
                    b = b_new
                    vb = phi.value(b)
                    if vb["phi"] is None:
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

    ``time_limit``: seconds of wall clock for the whole solve; when they run out the result has
    ``Status.TIME_LIMIT`` (each projection gets the remaining budget).  ``y = 0`` gives
    ``Status.TRIVIAL`` (see the module doc).  At ``dps`` the parameters enter exactly
    (``config.mp``): ``FlowConfig(eta_r="0.1")`` is solved for one tenth, ``eta_r=0.1`` for the
    double nearest it; ``result.params`` records which.
    """
    from numerics.bregman import _single_thread_blas

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


def _trivial(problem, config, A, y, dps, t_start):
    """``y = 0``: the zero-loss set is ``{z ≥ 0 : Az = 0}``; when that is ``{0}``, ``x_∞ = 0``."""
    from scipy.optimize import linprog

    n = A.shape[1]
    a = float(np.abs(A).max()) or 1.0  # HiGHS's tolerances are absolute: solve for A/max|A|
    r = linprog(-np.ones(n), A_eq=A / a, b_eq=np.zeros(A.shape[0]), bounds=(0, 1), method="highs")
    only_zero = r.status == 0 and -r.fun <= _tol(DPS_FLOAT64, K_SOLVE) * n
    if only_zero:
        zero = mpmath.mpf(0) if dps is not None else 0.0
        x = [zero] * n if dps is not None else np.zeros(n)
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
                       wall_time=time.perf_counter() - t_start, params=config.exact_strings())


def _limit_solve(problem, config, *, dps, bracket, tol, max_iter, time_limit):
    t_start = time.perf_counter()
    if not isinstance(config, FlowConfig):
        raise ValueError("config must be a numerics.config.FlowConfig")
    if dps is not None:
        dps = check_mp_dps(dps)
    time_limit = _check_time_limit(time_limit)
    clock = _Clock(time_limit, t_start)
    if bracket is not None:
        try:
            lo_b, hi_b = (float(bracket[0]), float(bracket[1]))
        except (TypeError, ValueError, IndexError):
            raise ValueError("bracket must be a pair (lo, hi) of radii with 0 < lo < hi") from None
        if not (0 < lo_b < hi_b and math.isfinite(hi_b)):
            raise ValueError("bracket must be a pair (lo, hi) of radii with 0 < lo < hi")
    A = np.asarray(problem.A_eff, dtype=float)
    y = np.asarray(problem.y, dtype=float)
    n = A.shape[1]
    L = config.L
    digits = DPS_FLOAT64 if dps is None else dps
    rtol = _tol(digits, K_SOLVE) if tol is None else float(tol)
    et = config.eta_tilde

    def fail(status, message, **kw):
        base = dict(status=status, message=message, method=kw.pop("method", "root of phi"), r_inf=None, x_inf=None,
                    x_inf_user=None, rho=None, alpha_eff=None, beta=None, bracket=kw.pop("bracket", (None, None)),
                    iterations=kw.pop("iterations", 0), r_inf_error=math.inf, x_inf_error=math.inf,
                    residual=math.inf, phi_residual=math.inf, unique_root_reason="no root", dps=dps,
                    wall_time=time.perf_counter() - t_start, params=config.exact_strings())
        base.update(kw)
        return LimitResult(**base)

    if not np.any(y):
        return _trivial(problem, config, A, y, dps, t_start)

    # HiGHS on a dense M × n LP costs minutes at M·n ~ 1.5e7 (more than the whole root search): above
    # _LP_MAX_ENTRIES the ℓ1 lower bound comes from the dual vector of the last projection instead
    # (weak duality, _dual_l1_bound), infeasibility from the projections' own Farkas test, and the
    # boundary check (another LP) is not run -- the result says so.  Decided by size, not by time.
    use_lp = A.size <= _LP_MAX_ENTRIES
    try:
        if use_lp:
            feasible, S_lower, l1_value = _l1_lower_bound(A, y, clock.highs_options())
            if feasible is False:
                return fail(Status.INCONSISTENT, "Az = y has no nonnegative solution (HiGHS: infeasible), so the flow "
                            "has no zero-loss limit; for sign-indefinite data use the signed model")
            clock.check("in the ℓ1 lower bound (HiGHS)")
            margin = _interior_margin(A, y, clock.highs_options())
        else:
            S_lower = l1_value = margin = None
        boundary = margin is not None and margin <= _tol(DPS_FLOAT64, K_SOLVE)
        result = _limit_inner(problem, config, A, y, n, L, dps, bracket, lo_b if bracket is not None else None,
                              hi_b if bracket is not None else None, rtol, et, S_lower, l1_value, t_start, fail,
                              max_iter, clock)
    except _TimeUp as exc:
        return fail(Status.TIME_LIMIT, f"time_limit = {time_limit:g} s ran out {exc.where} after "
                    f"{time.perf_counter() - t_start:.3g} s; no limit computed")
    if boundary and result.status is not Status.TIME_LIMIT:
        from dataclasses import replace

        status = Status.NOT_CONVERGED if result.status in (Status.CONVERGED, Status.NOT_CONVERGED) else result.status
        result = replace(result, status=status, message=(
            f"Az = y has no strictly positive solution (interior margin {margin:.2g}, relative to max|y|/max|A|): "
            "the limit lies on the boundary "
            "(some x_i → 0), where the dual Newton only approaches it; r_∞ and x_∞ are approximate, with errors "
            "of order ‖Ax − y‖^(2/L) not covered by the error bars. " + result.message),
            extras={**result.extras, "interior_margin": margin})
    if not use_lp and result.status is not Status.TIME_LIMIT and result.r_inf is not None:
        from dataclasses import replace

        result = replace(result, message=result.message + (
            f"; the boundary check (an LP with M·n = {A.size:.3g} > {_LP_MAX_ENTRIES:.3g} entries) was not run: "
            "the error bars assume Az = y has a strictly positive solution"),
            extras={**result.extras, "interior_margin": None, "lp_skipped": True})
    return result


def _limit_inner(problem, config, A, y, n, L, dps, bracket, lo_b, hi_b, rtol, et, S_lower, l1_value, t_start, fail,
                 max_iter, clock):
    if config.rates in ("plain", "r2"):
        return _projection_limit(problem, config, A, y, dps, t_start, fail, clock)
    extras = {"l1_lower_bound": S_lower, "l1_min": l1_value}

    # ---- float64 root --------------------------------------------------------------
    phi64 = _Phi(A, y, config, n, None, clock)
    found = _root64(phi64, float(config.r0), bracket, lo_b, hi_b, fail)
    if isinstance(found, LimitResult):
        return found
    if isinstance(found, _ProjectionFailure):
        exc = found
        if exc.proj.status is Status.NOISE_FLOOR and dps is not None:
            # float64 cannot resolve φ here (e.g. huge cancellation in Ax for tiny y): find the root at dps
            return _root_mp(problem, config, A, y, n, L, dps, bracket, lo_b, hi_b, rtol, t_start, fail, max_iter,
                            clock, None, (None, None), phi64.evals,
                            "not proven unique: float64 could not evaluate φ (its projections stopped at their noise "
                            f"floor: {exc.proj.message}), so the uniqueness argument was not run", False,
                            {**extras, "float64_failure": exc.proj.message})
        if exc.proj.status is Status.NOISE_FLOOR:
            return fail(Status.NOISE_FLOOR, f"float64 cannot resolve φ: the Bregman projection at r = {exc.r:.6g} "
                        f"stopped at its noise floor ({exc.proj.message}){exc.where()}; pass dps= to solve at "
                        "higher precision")
        return fail(exc.proj.status if exc.proj.status is Status.INCONSISTENT else Status.FAILED,
                    f"the Bregman projection failed at r = {exc.r:.6g}: {exc.proj.message}{exc.where()}")
    root, step, lo, hi = found
    if S_lower is None and l1_value is None and A.size > _LP_MAX_ENTRIES:
        S_lower = _dual_l1_bound(A, y, phi64.value(root)["proj"].nu)
        extras = {**extras, "l1_lower_bound": S_lower, "l1_lower_bound_from": "the dual of the projection at the root"}
    unique, reason = _uniqueness(phi64, root, S_lower, float(et), L)
    phi64.value(root, bounds=True)  # restore state at the root, with the error terms
    v = phi64.last
    iterations = phi64.evals

    if dps is None:
        return _assemble(problem, config, phi64, v, root, abs(step), (lo, hi), iterations, reason, unique,
                         None, rtol, t_start, extras)
    return _root_mp(problem, config, A, y, n, L, dps, None, lo, hi, rtol, t_start, fail, max_iter, clock, root,
                    (lo, hi), iterations, reason, unique, {**extras, "float64_root": root}, nu0=phi64.nu)


def _root64(phi64, r0, bracket, lo_b, hi_b, fail):
    """The float64 root of φ: ``(root, last Newton step, lo, hi)``, a failed :class:`LimitResult`,
    or the :class:`_ProjectionFailure` that stopped it."""

    def phival(r):
        v = phi64.value(r)
        if v["phi"] is None:
            raise _ProjectionFailure(r, v["proj"])
        return v["phi"]

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
        if bracket is not None:
            lo, hi = lo_b, hi_b
            flo, fhi = phival(lo), phival(hi)
            if not (flo > 0 > fhi):
                return fail(Status.FAILED, f"the given bracket ({lo:g}, {hi:g}) does not bracket a root: "
                            f"φ(lo) = {flo:.3g}, φ(hi) = {fhi:.3g} (need φ(lo) > 0 > φ(hi)); omit bracket to search")
        else:
            f0 = phival(r0)
            lo = hi = r0
            flo = fhi = f0
            k = 0
            # geometric expansion by at most a factor 2, shortened to just past the Newton
            # prediction when φ' points there (ρ grows like exp(r²/2η̃): far radii mean projections
            # of β many orders of magnitude away, expensive and useless for the bracket)
            if f0 > 0:
                while fhi > 0 and k < _MAX_EXPAND:
                    lo, flo = hi, fhi
                    hi = min(_EXPAND * lo, _newton_guess(phi64, lo, overshoot=1.05) or math.inf)
                    hi, fhi = phival_toward(lo, flo, hi)
                    k += 1
            elif f0 < 0:
                while flo < 0 and k < _MAX_EXPAND:
                    hi, fhi = lo, flo
                    lo = max(hi / _EXPAND, _newton_guess(phi64, hi, overshoot=1.05) or 0.0)
                    lo, flo = phival_toward(hi, fhi, lo)
                    k += 1
            if not (flo >= 0 >= fhi):
                return fail(Status.FAILED, f"no sign change of φ found between {lo:.3g} and {hi:.3g} after {k} "
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
                return fail(Status.NOT_CONVERGED, f"Brent's method did not converge on ({lo:g}, {hi:g}): {rinfo.flag}",
                            bracket=(lo, hi))
        # Newton polish in float64
        v = phi64.value(root, derivative=True)
        step = 0.0
        for _ in range(3):
            if v["phi"] is None or v["dphi"] == 0:
                break
            step = -v["phi"] / v["dphi"]
            cand = root + step
            if not (lo <= cand <= hi):
                break
            w = phi64.value(cand, derivative=True)
            if w["phi"] is None or abs(w["phi"]) > abs(v["phi"]):
                phi64.value(root, derivative=True)
                break
            root, v = cand, w
            if abs(step) <= 4 * np.finfo(float).eps * root:
                break
    except _ProjectionFailure as exc:
        return exc
    if v["phi"] is None:
        return _ProjectionFailure(root, v["proj"])
    return root, step, lo, hi


def _bracket_mp(phimp, r0, clock):
    """A bracket ``(lo, hi)`` with ``φ(lo) > 0 > φ(hi)`` at the working precision, by geometric
    expansion from ``r₀`` (used when float64 cannot evaluate φ).  Raises :class:`_ProjectionFailure`."""
    def phival(r):
        v = phimp.value(r)
        if v["phi"] is None:
            raise _ProjectionFailure(r, v["proj"])
        return v["phi"]

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


def _root_mp(problem, config, A, y, n, L, dps, bracket, lo, hi, rtol, t_start, fail, max_iter, clock, root,
             bracket64, iterations, reason, unique, extras, nu0=None):
    """Newton on φ at ``dps`` digits, safeguarded by the bracket: from the float64 ``root`` when there
    is one, else from a bracket found at ``dps`` (``bracket`` given, or expanded from ``r₀``)."""
    with workdps(dps):
        phimp = _Phi(A, y, config, n, dps, clock)
        if nu0 is not None:
            phimp.nu = [mpmath.mpf(float(t)) for t in nu0]
        if root is None:
            try:
                if bracket is not None:
                    lo_m, hi_m = mpmath.mpf(lo), mpmath.mpf(hi)
                    flo, fhi = phimp.value(lo_m)["phi"], phimp.value(hi_m)["phi"]
                    if flo is None or fhi is None or not (flo > 0 > fhi):
                        return fail(Status.FAILED, f"the given bracket ({float(lo):g}, {float(hi):g}) does not bracket "
                                    f"a root of φ at {dps} digits")
                else:
                    lo_m, flo, hi_m, fhi = _bracket_mp(phimp, config.mp("r0"), clock)
            except _ProjectionFailure as exc:
                return fail(Status.FAILED, f"the mp Bregman projection failed at r = {mpmath.nstr(exc.r, 15)}: "
                            f"{exc.proj.message}")
            if flo == 0 or fhi == 0:
                r = lo_m if flo == 0 else hi_m
            elif not (flo > 0 > fhi):
                return fail(Status.FAILED, f"no sign change of φ found at {dps} digits between "
                            f"{mpmath.nstr(lo_m, 6)} and {mpmath.nstr(hi_m, 6)}; pass bracket=(lo, hi)")
            else:
                r = lo_m + flo * (hi_m - lo_m) / (flo - fhi)  # secant point inside the bracket
            bracket64 = (float(lo_m), float(hi_m))
        else:
            r = mpmath.mpf(root)
            lo_m, hi_m = mpmath.mpf(lo), mpmath.mpf(hi)
        step = mpmath.mpf(0)
        status = Status.NOT_CONVERGED
        w = None
        tiny = mpmath.mpf(10) ** (-(dps + GUARD_DIGITS))
        for it in range(max_iter):
            w = phimp.value(r, derivative=True)
            if w["phi"] is None:
                st = w["proj"].status
                return fail(Status.NOISE_FLOOR if st is Status.NOISE_FLOOR else Status.FAILED,
                            f"the mp Bregman projection failed at r = {mpmath.nstr(r, 15)}: "
                            f"{w['proj'].message}", bracket=bracket64)
            if w["phi"] > 0:
                lo_m = max(lo_m, r)
            elif w["phi"] < 0:
                hi_m = min(hi_m, r)
            if w["phi"] == 0:
                step = mpmath.mpf(0)  # an exact zero of φ at the working precision
                status = Status.CONVERGED
                break
            if w["dphi"] == 0:
                break
            step = -w["phi"] / w["dphi"]
            # converged when the Newton step is below the asked accuracy (it may even be below the
            # working resolution, so test before the bracket safeguard)
            if abs(step) <= rtol * abs(r) * mpmath.mpf(10) ** (-K_SOLVE) and abs(w["phi"]) <= _tol(dps, K_SOLVE) * r * r:
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
            return fail(Status.NOT_CONVERGED, f"mp Newton on φ did not converge in {max_iter} steps "
                        f"(last step {mpmath.nstr(step, 3)}); try a larger max_iter", bracket=bracket64)
        return _assemble(problem, config, phimp, w, r, abs(step), bracket64, iterations + phimp.evals, reason,
                         unique, dps, rtol, t_start, extras)


def _newton_guess(phi: _Phi, r, overshoot):
    """``r − overshoot·φ(r)/φ'(r)`` from the state at ``r`` (None when φ' does not point to a root)."""
    v = phi.value(r, derivative=True)
    if v["phi"] is None or not v["dphi"] < 0 or not abs(v["dphi"]) > 10 * v.get("dphi_err", 0.0):
        return None  # φ' does not point to a root, or is rounding (q + Aᵀν' cancelled)
    step = -overshoot * v["phi"] / v["dphi"]
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


def _assemble(problem, config, phi: _Phi, v, root, last_step, bracket, iterations, reason, unique, dps, rtol,
              t_start, extras):
    proj = v["proj"]
    lib = phi.lib
    logrho = phi.logrho(root)
    rho = lib.exp(logrho)
    n = problem.n
    if config.u0 is None:
        alpha_eff = phi.r0 / (lib.sqrt(n) * rho)
    else:
        alpha_eff = None
    if dps is None:
        beta = np.exp(v["logb"])
        resid = float(np.linalg.norm(phi.A @ proj.x - phi.y))
    else:
        beta = [mpmath.exp(t) for t in v["logb"]]
        resid = float(mpmath.norm([a - b for a, b in zip(phi.f.Ax(proj.x), phi.f.y)]))
    dphi = abs(v["dphi"])
    # Newton step + residual φ and the projection's first-order effect on S, over |φ'|; the
    # rounding of the n-term sum S = Σ x^{2/L} (n·eps·(S + r²)/|φ'|); the precision of r itself
    eps = np.finfo(float).eps if dps is None else 10.0 ** (-(dps + GUARD_DIGITS))
    S_val = float(abs(v["phi"] + root * root))
    r_err = (float(last_step) + float((abs(v["phi"]) + v["dS_proj"] + v["dS_round"]) / dphi)
             + n * eps * (S_val + float(root) ** 2) / float(dphi)
             + float(abs(root)) * 10.0 ** (-(DPS_FLOAT64 if dps is None else dps)))
    x_err = float(v["dxdr_inf"]) * r_err + float(v["dx_proj_inf"]) + float(v["dx_round_inf"])
    ok = r_err <= rtol * float(abs(root))
    status = Status.CONVERGED if ok else Status.NOT_CONVERGED
    mag = ""
    if float(rho) < 1:
        mag = f"; note ρ = {float(rho):.4g} < 1 (r_∞ < r₀ or r_∞² ≈ η̃): no magnification"
    msg = (f"{'converged' if ok else 'not converged'}: r_∞ = {mpmath.nstr(mpmath.mpf(root), 17)} ± {r_err:.2g}, "
           f"‖Ax − y‖ = {resid:.3g}, |φ| = {float(abs(v['phi'])):.3g} after {iterations} projections"
           f"{'' if unique else ' (root not proven unique, see unique_root_reason)'}{mag}")
    if dps is not None:
        r_out, x_out = root, list(proj.x)
    else:
        r_out, x_out = float(root), proj.x
    extras = dict(extras)
    extras["dphi_dr"] = float(v["dphi"])
    extras["unique"] = unique
    return LimitResult(status=status, message=msg, method="root of phi", r_inf=r_out, x_inf=x_out,
                       x_inf_user=problem.to_user(x_out), rho=rho, alpha_eff=alpha_eff, beta=beta,
                       bracket=(float(bracket[0]), float(bracket[1])), iterations=iterations, r_inf_error=r_err,
                       x_inf_error=x_err, residual=resid, phi_residual=float(abs(v["phi"])),
                       unique_root_reason=reason, dps=dps, nu=proj.nu, wall_time=time.perf_counter() - t_start,
                       extras=extras, params=config.exact_strings())


def _projection_limit(problem, config, A, y, dps, t_start, fail, clock):
    """Rates ``plain`` / ``r2``: ``ρ = 1`` and ``x_∞`` is the projection of ``w₀^L``."""
    n = A.shape[1]
    L = config.L
    if dps is None:
        logb = L * np.log(config.w0_for(n))
        proj = clock.project(A, y, L, log_beta=logb)
    else:
        with workdps(dps):
            logb = [L * t for t in config.log_w0_mp(n)]  # exact r₀ and ū₀ at dps
        proj = clock.project(A, y, L, dps=dps, log_beta=logb)
    if proj.status is not Status.CONVERGED:
        return fail(proj.status, f"the Bregman projection of w₀^L failed: {proj.message}", method="projection")
    if dps is None:
        r = float(math.sqrt(np.exp(2.0 / L * proj.log_x).sum()))
        beta = np.exp(logb)
        x = proj.x
        rho, alpha = 1.0, (float(config.r0) / math.sqrt(n) if config.u0 is None else None)
        resid = float(np.linalg.norm(A @ x - y))
    else:
        with workdps(dps):
            q = mpmath.mpf(2) / L
            r = mpmath.sqrt(mpmath.fsum(mpmath.exp(q * t) for t in proj.log_x))
            beta = [mpmath.exp(t) for t in logb]
            x = list(proj.x)
            rho = mpmath.mpf(1)
            alpha = config.mp("r0") / mpmath.sqrt(n) if config.u0 is None else None
        resid = proj.residual
    err = 10.0 ** (-(DPS_FLOAT64 if dps is None else dps) + K_ROUNDOFF)
    return LimitResult(status=Status.CONVERGED,
                       message=f"rates {config.rates!r}: ρ = 1, x_∞ is the Bregman projection of w₀^L "
                               f"(‖Ax − y‖ = {resid:.3g}); r_∞ = ‖x_∞^(1/L)‖",
                       method="projection", r_inf=r, x_inf=x, x_inf_user=problem.to_user(x), rho=rho,
                       alpha_eff=alpha, beta=beta, bracket=(None, None), iterations=proj.iterations,
                       r_inf_error=err * float(r) + float(proj.residual), x_inf_error=float(proj.residual),
                       residual=resid, phi_residual=0.0,
                       unique_root_reason="no root-finding: ρ = 1 for these rates, the limit is one projection "
                                          "(unique: strictly convex program)",
                       dps=dps, nu=proj.nu, wall_time=time.perf_counter() - t_start, params=config.exact_strings())
