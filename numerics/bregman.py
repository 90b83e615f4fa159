"""Bregman projection onto ``{z ≥ 0 : Az = y}`` by Newton's method on the dual (docs/math.md §4).

The potential is normalised so that its gradient is the ``L``-logarithm of ``z^{1/L}``::

    ∇F(z) = log_L(z^{1/L})          # ½ log z for L = 2;  (z^{(2−L)/L} − 1)/(2 − L) for L > 2
    F(z)  = ½ Σ (z log z − z)        (L = 2)
    F(z)  = Σ (z − (L/2) z^{2/L})/(L − 2)   (L > 2)

(for ``L = 2`` this is half the usual negative entropy ``Σ z log z − z``; a positive
multiple gives the same projection, docs/math.md §4.1).
The projection ``x = argmin{D_F(z, β) : Az = y, z ≥ 0}`` satisfies ``∇F(x) = ∇F(β) + Aᵀν``
for a dual vector ``ν ∈ R^M``, i.e.::

    L = 2:  log x = log β + 2 Aᵀν
    L > 2:  x = (β^{(2−L)/L} − (L − 2) Aᵀν)^{−L/(L−2)}     (base must stay positive)

``ν`` minimises the convex dual function ``ψ(ν) = F*(∇F(β) + Aᵀν) − ⟨ν, y⟩``; with this
normalisation ``F*(∇F(x)) = ½ x^{2/L}`` for every ``L``, so ``ψ(ν) = ½ Σ x_i(ν)^{2/L} − ⟨ν, y⟩``
(``+∞`` where a base is not positive), ``∇ψ = A x(ν) − y`` and ``∇²ψ = A diag(dx/dθ) Aᵀ`` with
``dx/dθ = L x^{2(L−1)/L}``.  Newton's method with a backtracking (Armijo) line search and a cap
on how fast any ``x_i`` may grow in one step is used; ``β`` enters only through ``log β``, so
``β`` spanning hundreds of orders of magnitude is fine (float64 holds the logarithms; entries of
``x`` below the float64 range are simply 0 there).

When ``dps`` is set, a float64 pass supplies the starting point (unless ``nu0`` is given) and the
Newton iteration then runs in mpmath at ``dps`` (+ guard digits) with an mpmath Cholesky factor
of the ``M × M`` Hessian.  No nonnegative solution of ``Az = y`` means ``ψ`` is unbounded below;
this is detected from a Farkas certificate (a direction ``d`` with ``Aᵀd ≤ 0 < ⟨d, y⟩``, counted
only when a HiGHS feasibility LP on a scaled copy finds no feasible point: on the boundary of the
cone ``A·R₊ⁿ`` rounding alone produces such directions) or from the LP, and reported as
:attr:`Status.INCONSISTENT`.

Statuses mean what they say (docs/math.md §4): CONVERGED only with ``‖Ax − y‖ ≤ tol`` (``tol``
relative to ``‖y‖``), the iterate returned being the best one seen; NOISE_FLOOR when the working
precision cannot reduce the residual further (the reached residual is on the result and in the
message); TIME_LIMIT when the caller's ``time_limit=`` runs out (checked at every Newton step and
line-search trial); NOT_CONVERGED when the iterations run out.  Path-following in ``log β`` warm
starts each point from a secant predictor along the dual path, which is close to linear in ``τ``
where ``β`` is tiny (an 8×20 problem with ``A`` scaled by 1e-5 needed ``β = e^{-1.4e6}`` in the
limit solver's root search, and stalled without it).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import mpmath
import numpy as np
import scipy.linalg

from numerics import _derived
from numerics._status import Status
from numerics.precision import DPS_FLOAT64, GUARD_DIGITS, K_ROUNDOFF, K_SOLVE, check_dps, tol as _tol, workdps

__all__ = ["ProjectionResult", "bregman_projection", "grad_F", "grad_F_inv", "dual_hessian_solver"]

# Largest growth of log x_i allowed in one Newton step (the far-from-solution phase).
_LOG_GROWTH_CAP = 30.0
_ARMIJO = 1e-4


@dataclass(frozen=True)
class ProjectionResult:
    """A Bregman projection ``x`` of ``β`` onto ``{z ≥ 0 : Az = y}`` and its dual ``ν``.

    ``x`` and ``nu`` are float64 ``numpy`` arrays, or lists of ``mpmath.mpf`` when ``dps`` is set.
    ``residual`` is ``‖Ax − y‖`` (float) at the precision used; ``tol`` the accepted residual.
    ``log_x`` holds ``log x`` (same kind as ``x``), which stays finite below float64's range.
    """

    x: Any
    nu: Any
    status: Status
    message: str
    iterations: int
    residual: float
    dps: Optional[int]
    L: int
    tol: float
    log_x: Any = None
    extras: dict = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED


# -------------------------------------------------------------------------------------------
# the potential, in this module's normalisation (used until numerics._derived is in place)
# -------------------------------------------------------------------------------------------
def grad_F(z, L: int, lib=np):
    """``∇F(z) = log_L(z^{1/L})`` elementwise (``½ log z`` for ``L = 2``): ``numerics._derived.grad_F``.

    The Newton iteration below uses the same map written in logarithms (``log x = log β + 2Aᵀν``,
    ``x = (β^{(2−L)/L} − (L−2)Aᵀν)^{−L/(L−2)}``); tests check it against this derived form.
    """
    return _derived.grad_F(z, L, lib)


def grad_F_inv(theta, L: int, lib=np):
    """``(∇F)^{-1}(θ)``: ``exp(2θ)`` for ``L = 2``, ``(1 − (L−2)θ)^{−L/(L−2)}`` for ``L > 2``."""
    return _derived.grad_F_inv(theta, L, lib)


# -------------------------------------------------------------------------------------------
# input checks
# -------------------------------------------------------------------------------------------
def _check_inputs(A, y, L):
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D matrix, got shape {A.shape}")
    if A.shape[0] != y.shape[0]:
        raise ValueError(f"A has {A.shape[0]} rows but y has {y.shape[0]} entries; they must match")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y))):
        raise ValueError("A and y must be finite")
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2:
        raise ValueError(f"L must be an integer >= 2, got {L!r}")
    return A, y, int(L)


def _log_beta_from(beta, n, dps):
    """``log β`` as float64 array (dps None) or mpf list; checks positivity and length."""
    if dps is None:
        if isinstance(beta, (list, tuple)) and beta and isinstance(beta[0], mpmath.mpf):
            logb = np.array([float(mpmath.log(b)) if b > 0 else np.nan for b in beta])
            bad = not np.all(np.isfinite(logb))
        else:
            b = np.asarray(beta, dtype=float).reshape(-1)
            if b.shape != (n,):
                raise ValueError(f"beta must have n = {n} entries (one per column of A), got {b.shape}")
            bad = not (np.all(np.isfinite(b)) and np.all(b > 0))
            logb = np.log(b) if not bad else None
        if bad:
            raise ValueError("beta must be finite and strictly positive (float64 underflow? pass mpf values with dps=)")
        if len(logb) != n:
            raise ValueError(f"beta must have n = {n} entries, got {len(logb)}")
        return logb
    vals = list(beta) if not isinstance(beta, np.ndarray) else list(beta.reshape(-1))
    if len(vals) != n:
        raise ValueError(f"beta must have n = {n} entries (one per column of A), got {len(vals)}")
    out = []
    for b in vals:
        b = mpmath.mpf(b)
        if not (mpmath.isfinite(b) and b > 0):
            raise ValueError("beta must be finite and strictly positive")
        out.append(mpmath.log(b))
    return out


# -------------------------------------------------------------------------------------------
# float64 Newton
# -------------------------------------------------------------------------------------------
class _Dual64:
    """The dual function and its derivatives in float64, from ``log β``."""

    def __init__(self, A, y, logb, L):
        self.A, self.y, self.L = A, y, L
        self.logb = logb
        if L > 2:
            self.c = np.exp((2 - L) / L * logb)  # β^{(2−L)/L}

    def base(self, nu):
        """``log x`` (L = 2) or the base ``b = β^{(2−L)/L} − (L−2)Aᵀν`` (L > 2) at ``nu``."""
        atn = self.A.T @ nu
        return self.logb + 2 * atn if self.L == 2 else self.c - (self.L - 2) * atn

    def dbase(self, delta):
        atd = self.A.T @ delta
        return 2 * atd if self.L == 2 else -(self.L - 2) * atd

    def point(self, base):
        """(x, log x, D = dx/dθ, S2 = ½Σx^{2/L}) from the base; None outside the domain.

        The base is updated incrementally by the Newton loop (``base + t·dbase``), so that entries
        near 1 keep their relative accuracy even when ``β^{(2−L)/L}`` and ``Aᵀν`` are huge.
        """
        L = self.L
        with np.errstate(over="ignore", under="ignore"):
            if L == 2:
                logx = base
                x = np.exp(logx)
                D = 2 * x
                S2 = 0.5 * x
            else:
                if not np.all(base > 0):
                    return None
                lb = np.log(base)
                logx = -L / (L - 2) * lb
                x = np.exp(logx)
                D = L * x / base
                S2 = 0.5 * np.exp(-2 / (L - 2) * lb)
        if not np.all(np.isfinite(S2)):
            return None
        return x, logx, D, S2

    def max_step(self, nu, logx, delta, cap=_LOG_GROWTH_CAP):
        """Largest t for which no ``x_i`` grows by more than ``cap`` nats."""
        d = self.A.T @ delta
        if self.L == 2:
            g = 2 * d
            m = g.max(initial=0.0)
            return math.inf if m <= 0 else cap / m
        L = self.L
        b = np.exp(-(L - 2) / L * logx)
        dd = (L - 2) * d
        pos = dd > 0
        if not np.any(pos):
            return math.inf
        frac = 1 - math.exp(-cap * (L - 2) / L)
        return float(np.min(frac * b[pos] / dd[pos]))


def _gram64(A, w):
    """``A diag(w) Aᵀ`` (``w ≥ 0``) by a symmetric rank-k update of ``A diag(√w)`` (BLAS ``dsyrk``:
    half the flops of the general product, which dominates a Newton step when ``n ≫ M``)."""
    from scipy.linalg.blas import dsyrk

    B = A * np.sqrt(w)
    H = dsyrk(1.0, B)  # upper triangle
    iu = np.tril_indices_from(H, -1)
    H[iu] = H.T[iu]
    return H


def _solve_spd64(H, g):
    try:
        cf = scipy.linalg.cho_factor(H, check_finite=False)
        s = scipy.linalg.cho_solve(cf, g, check_finite=False)
        if np.all(np.isfinite(s)):
            return s
    except (np.linalg.LinAlgError, ValueError):
        pass
    s, *_ = np.linalg.lstsq(H, g, rcond=None)
    return s


def _single_thread_blas():
    """Small dense solves (``M × M``) gain nothing from threads, and an oversubscribed machine makes
    threaded BLAS orders of magnitude slower; limit it to one thread when threadpoolctl is present."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _expired(deadline) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _newton64(A, y, logb, L, tol_accept, max_iter, nu0, ref=None, deadline=None, scale=None, polish=False):
    """Newton from ``nu0`` (or 0); when that fails, path-following in ``log β_τ = τ log β``.

    Newton on this dual is slow from a start where ``x`` sits hundreds of orders of magnitude
    below the solution (few coordinates race ahead, the Hessian becomes singular in float64),
    so a failed direct attempt is followed by a homotopy from ``β = 1`` (an easy, well-scaled
    projection), warm-starting each ``τ`` from a secant predictor of the dual path and adapting
    the step in ``τ``.  ``deadline`` (a ``time.perf_counter()`` value): status TIME_LIMIT after it.
    ``polish``: the final Newton run goes on to float64's rounding level (see :func:`_newton64_impl`).
    """
    if scale is None:
        scale = _res_scale(y)
    with _single_thread_blas():
        out = None
        if ref is not None:
            # the tangent predictor from the solved reference point first (see _tangent_start); when
            # it does not converge quickly the step from the reference is too long for it, and
            # path-following from the reference (tangent-predicted steps) is cheaper than insisting
            ts = _tangent_start(A, L, ref[0], ref[1], logb)
            if ts is not None:
                out = _newton64_impl(A, y, logb, L, tol_accept, min(max_iter, 30), ts, deadline, scale, polish)
                if out["status"] in (Status.CONVERGED, Status.INCONSISTENT, Status.TIME_LIMIT, Status.NOISE_FLOOR):
                    return out
        if out is None or nu0 is None or ref is None or not np.array_equal(np.asarray(nu0), np.asarray(ref[1])):
            direct_budget = min(max_iter, 60)
            out = _newton64_impl(A, y, logb, L, tol_accept, direct_budget, nu0, deadline, scale, polish)
        # NOISE_FLOOR: float64 cannot do better at this β; path-following would end at the same floor
        if out["status"] in (Status.CONVERGED, Status.INCONSISTENT, Status.TIME_LIMIT, Status.NOISE_FLOOR):
            return out
        total = out["it"]
        tau, dtau = 0.0, 1.0
        if ref is not None:
            logb0, nu = np.asarray(ref[0], dtype=float), np.asarray(ref[1], dtype=float)
            origin = "the reference β"
        else:
            logb0 = 0.0 * logb
            first = _newton64_impl(A, y, logb0, L, tol_accept, 60, None, deadline, scale)
            total += first["it"]
            if first["status"] is not Status.CONVERGED:
                first["it"] = total
                return first if first["status"] in (Status.INCONSISTENT, Status.TIME_LIMIT) else out
            nu = first["nu"]
            origin = "β = 1"
        steps = 0
        prev = None  # (tau, nu) of the previous point on the path, for the secant predictor
        while tau < 1.0 and total < 20 * max_iter and steps < 400:
            steps += 1
            tn = min(1.0, tau + dtau)
            logb_t = logb0 + tn * (logb - logb0)
            starts = [nu]
            if prev is not None:
                # the dual path is close to linear in τ where β is tiny (L = 2: log x_i off the
                # support is affine in log β), so extrapolating from the last two points is a far
                # better start than the last point itself
                starts.insert(0, nu + (tn - tau) / (tau - prev[0]) * (nu - prev[1]))
            if L > 2 or prev is None:
                # for L > 2 the path is not linear in τ (β^{(2−L)/L} is exponential in it), and at the
                # first step there is no secant: the tangent
                ts = _tangent_start(A, L, logb0 + tau * (logb - logb0), nu, logb_t)
                if ts is not None:
                    starts.insert(0, ts)
            o = None
            for s in starts:
                o = _newton64_impl(A, y, logb_t, L, tol_accept, 30, s, deadline, scale)
                total += o["it"]
                if o["status"] in (Status.CONVERGED, Status.NOISE_FLOOR, Status.INCONSISTENT, Status.TIME_LIMIT):
                    break
            if o["status"] in (Status.CONVERGED, Status.NOISE_FLOOR):  # intermediate points are warm starts only
                prev = (tau, nu)
                tau, nu = tn, o["nu"]
                if o["it"] <= 8:
                    dtau *= 2
            elif o["status"] in (Status.INCONSISTENT, Status.TIME_LIMIT):
                o["it"] = total
                if o["status"] is Status.TIME_LIMIT:
                    o["message"] = f"path-following from {origin} had reached τ = {tau:.3g}"
                return o
            else:
                dtau /= 4
                if dtau < 1e-8:
                    break
        if tau >= 1.0:
            last = _newton64_impl(A, y, logb, L, tol_accept, max_iter, nu, deadline, scale, polish)
            last["it"] += total
            if last["status"] in (Status.CONVERGED, Status.NOISE_FLOOR):
                last["message"] = (last["message"] + "; " if last["message"] else "") + \
                    f"reached by path-following from {origin} ({steps} steps)"
            return last
        out["it"] = total
        out["message"] = f"path-following from {origin} stalled at τ = {tau:.3g}"
        return out


def _tangent_start(A, L, logb_ref, nu_ref, logb_new):
    """A first-order (tangent) predictor of the dual point for ``log β_new`` from a solved
    ``(log β_ref, ν_ref)``, or None.

    ``θ = ∇F(β) + Aᵀν`` is linear in ``∇F(β)``, and ``Ax(θ) = y`` stays satisfied to first order when
    ``A D dθ = 0`` (``D = dx/dθ``): ``Δν = −(ADAᵀ)⁻¹ A D Δ∇F(β)``.  For ``L > 2`` the old ``ν`` is a poor
    start when ``β^{(2−L)/L}`` grows: the support's bases ``β^{(2−L)/L} − (L−2)Aᵀν`` would grow with it
    and ``x`` collapse there, while the tangent keeps them (docs/math.md §4)."""
    try:
        logb_ref = np.asarray(logb_ref, dtype=float)
        nu_ref = np.asarray(nu_ref, dtype=float)
        f = _Dual64(A, None, logb_ref, L)
        with np.errstate(over="ignore", invalid="ignore"):
            pt = f.point(f.base(nu_ref))
            if pt is None:
                return None
            D = pt[2]
            if L == 2:
                dF = 0.5 * (logb_new - logb_ref)
            else:
                dF = (np.exp((2 - L) / L * logb_new) - f.c) / (2 - L)
            if not (np.all(np.isfinite(dF)) and np.all(np.isfinite(D))):
                return None
            s = D.max()
            if not s > 0:
                return None
            Ds = D / s
            H = _gram64(A, Ds)
            H[np.diag_indices_from(H)] += 1e-14 * float(np.max(np.diag(H)))
            dnu = -_solve_spd64(H, A @ (Ds * dF))
        nu = nu_ref + dnu
        if not np.all(np.isfinite(nu)):
            return None
        return nu
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):  # pragma: no cover - defensive
        return None


def _confirm_infeasible(A, y, deadline) -> bool:
    """A Farkas candidate (``Aᵀd ≤ 0 < ⟨d, y⟩`` from the Newton direction) is rounding-sensitive when
    ``y`` lies on the boundary of the cone ``A·R₊ⁿ`` (feasible, with ``⟨d, y⟩ = 0`` in exact
    arithmetic): it counts only unless HiGHS finds a feasible point."""
    left = None if deadline is None else deadline - time.perf_counter()
    return _feasible_lp(A, y, left) is not True


def _res_scale(y) -> float:
    """What ``tol`` is relative to: ``‖y‖`` (absolute when ``y = 0``), so that the accepted
    residual scales with the data (``A`` and ``y`` scaled together give the same verdict)."""
    ny = float(np.linalg.norm(y))
    return ny if ny > 0 else 1.0


def _newton64_impl(A, y, logb, L, tol_accept, max_iter, nu0, deadline=None, scale=None, polish=False):
    """One damped Newton run.  The iterate returned is the best one seen (smallest residual), and
    ``status`` is CONVERGED only when its residual is at most ``tol_accept``.

    ``polish``: do not stop at ``tol(15, K_ROUNDOFF)·‖y‖`` but at the rounding level of ``Ax − y``
    (``10 eps (‖|A|x‖ + ‖y‖)``) or when the residual stops halving.  The limit solver asks for it
    where ``Σ x^{2/L}`` is evaluated for its answer: with ``x_i`` far below ``‖y‖``, a residual of
    ``1e-12‖y‖`` leaves those entries wrong by orders of magnitude, and ``x^{2/L}`` (not Lipschitz at
    0) turns that into an error of ``S`` no first-order bound sees."""
    f = _Dual64(A, y, logb, L)
    M = A.shape[0]
    nu = np.zeros(M) if nu0 is None else np.array(nu0, dtype=float)
    base = f.base(nu)
    pt = f.point(base)
    if not np.all(np.isfinite(base)):
        return dict(nu=np.zeros(M), x=None, logx=None, res=math.inf, it=0, status=Status.FAILED,
                    message="β^{(2−L)/L} or Aᵀν overflows float64 at the starting point")
    if pt is None:
        return dict(nu=np.zeros(M), x=None, logx=None, res=math.inf, it=0, status=Status.FAILED,
                    message="the warm-start dual point is outside the domain (a base β^{(2−L)/L} − (L−2)Aᵀν "
                            "is not positive); a cold start (ν = 0) is inside it")
    x, logx, D, S2 = pt
    if scale is None:
        scale = _res_scale(y)
    tol_tight = 0.0 if polish else min(_tol(DPS_FLOAT64, K_ROUNDOFF) * scale, tol_accept)
    absA = np.abs(A) if polish else None
    ny = float(np.linalg.norm(y))
    cap = _LOG_GROWTH_CAP
    best = math.inf
    keep = None  # (res, nu, x, logx) of the best iterate
    stall = 0
    it = 0
    normA = []  # ‖A‖₂, computed on first use (an SVD of A: only when the iteration stalls)

    def noise_floor(D):
        # for L > 2, θ = ∇F(β) + Aᵀν holds |∇F(β)| ~ β^{(2−L)/L}/(L−2): float64 resolves θ only to
        # eps·|θ_i|, i.e. x_i to D_i·eps·|θ_i|, and Ax − y to about ‖A‖·max_i D_i eps |θ_i|
        if L == 2:
            return 0.0
        if not normA:
            normA.append(float(np.linalg.norm(A, 2)))
        with np.errstate(over="ignore", invalid="ignore"):
            fl = 10 * np.finfo(float).eps * normA[0] * float(np.nanmax(D * f.c)) / (L - 2)
        return fl if np.isfinite(fl) else 0.0
    status, message = Status.NOT_CONVERGED, ""
    floor_exit = False  # stopped because float64 cannot make progress (not for lack of iterations)
    for it in range(1, max_iter + 1):
        g = A @ x - y
        res = float(np.linalg.norm(g))
        if not math.isfinite(res):
            status, message = Status.FAILED, f"the residual became non-finite at Newton step {it}"
            break
        if keep is None or res < keep[0]:
            keep = (res, nu, x, logx)
        if res <= tol_tight or (polish and res <= 10 * np.finfo(float).eps * (
                float(np.linalg.norm(absA @ x)) + ny)):
            status = Status.CONVERGED
            break
        if _expired(deadline):
            status = Status.TIME_LIMIT
            break
        if res < 0.5 * best:
            best, stall = res, 0
        else:
            stall += 1
            if stall >= 4 and keep[0] <= tol_accept:
                status = Status.CONVERGED
                break
            fl = noise_floor(D)
            # rounding alone leaves ‖Ax − y‖ at about eps·‖ |A| x ‖ + eps‖y‖: nothing below it is reachable
            fr = 10 * np.finfo(float).eps * (float(np.linalg.norm(np.abs(A) @ x)) + float(np.linalg.norm(y)))
            if stall >= 4 and best <= fr:
                status = Status.NOISE_FLOOR
                message = f"float64's rounding level {fr:.2g} for ‖Ax − y‖ reached"
                break
            if stall >= 4 and best <= min(fl, math.sqrt(tol_accept) * 1e-2):
                status = Status.NOISE_FLOOR
                message = (f"float64's noise floor {fl:.2g} for β^{{(2−L)/L}} up to "
                           f"{float(np.max(f.c)):.2g} reached")
                break
        # Newton step κ·δ with δ = −(A diag(D/e^m) Aᵀ)^{-1} g, κ = e^{−m}: scaled so that the Hessian
        # stays representable when every x_i is below float64's range (the far phase, where the
        # growth cap decides the step length anyway)
        logD = math.log(2) + logx if L == 2 else math.log(L) + logx - np.log(base)
        m = float(logD.max())
        if not np.isfinite(m):
            m = 0.0
        H = _gram64(A, np.exp(logD - m))
        # Levenberg–Marquardt shift at float64's resolution of H: matters only in directions where H is
        # singular to working precision (tiny x_i that must grow by many orders); the growth cap
        # then sets the step there
        H[np.diag_indices_from(H)] += 1e-13 * float(np.max(np.diag(H)))
        delta = -_solve_spd64(H, g)
        if not np.all(np.isfinite(delta)):
            floor_exit = True
            message = "the Newton system could not be solved in float64"
            break
        kappa = math.exp(min(-m, 700.0))
        slope = float(g @ delta)
        atd = A.T @ delta
        dy = float(delta @ y)
        # Farkas certificate Aᵀd ≤ 0 < ⟨d, y⟩, with ⟨d, y⟩ clear of roundoff (y on the boundary
        # of the cone {Az : z ≥ 0} gives ⟨d, y⟩ = 0 exactly, and rounding must not flip it)
        if dy > _tol(DPS_FLOAT64, K_SOLVE) * np.linalg.norm(delta) * np.linalg.norm(y) and atd.max() <= 0 \
                and _confirm_infeasible(A, y, deadline):
            return dict(nu=nu, x=x, logx=logx, res=res, it=it, status=Status.INCONSISTENT,
                        message="Az = y has no nonnegative solution: a Farkas certificate d with Aᵀd ≤ 0 < ⟨d, y⟩ "
                                "was found (the dual is unbounded)")
        if slope >= 0:
            floor_exit = True
            message = "the Newton direction is not a descent direction at float64's resolution"
            break
        db = f.dbase(delta)
        tmax = f.max_step(nu, logx, delta, cap)
        t = min(kappa, tmax)
        accepted = False
        S2sum = float(S2.sum())
        fuzz = 1e-15 * (S2sum + 1)
        for _ in range(80):
            trial = base + t * db
            pt = f.point(trial)
            if pt is not None:
                diff = float((pt[3] - S2).sum()) - t * dy   # ψ(trial) − ψ(current), without cancellation
                if diff <= _ARMIJO * t * slope + fuzz:
                    accepted = True
                    break
                # near the optimum ψ's decrease (~ slope) can fall below float64's resolution of ψ
                # while the residual is still far above its rounding level (tiny x_i that are wrong by
                # orders of magnitude, on a degenerate vertex): then the gradient norm ‖Ax − y‖ is the
                # merit function (it too must decrease by an Armijo fraction)
                if abs(diff) <= 10 * fuzz and abs(slope) <= 10 * fuzz and \
                        float(np.linalg.norm(A @ pt[0] - y)) <= (1 - _ARMIJO * t) * res:
                    accepted = True
                    break
            t *= 0.5
        if not accepted:
            floor_exit = True
            message = "the line search failed at float64's resolution"
            break
        # the growth cap adapts: doubled after a capped step was accepted whole, reset otherwise
        cap = min(cap * 2, 64 * _LOG_GROWTH_CAP) if (t == tmax and tmax < kappa) else _LOG_GROWTH_CAP
        nu = nu + t * delta
        base = trial
        x, logx, D, S2 = pt
    else:
        res = float(np.linalg.norm(A @ x - y))
        if math.isfinite(res) and (keep is None or res < keep[0]):
            keep = (res, nu, x, logx)
    if keep is None:
        return dict(nu=nu, x=None, logx=None, res=math.inf, it=it, status=Status.FAILED,
                    message=message or "no finite iterate")
    res, nu, x, logx = keep
    if status is not Status.INCONSISTENT and res <= tol_accept:
        status = Status.CONVERGED
    elif status is Status.CONVERGED:  # never above the tolerance
        status = Status.NOT_CONVERGED
    elif floor_exit and status is Status.NOT_CONVERGED:
        status = Status.NOISE_FLOOR
    return dict(nu=nu, x=x, logx=logx, res=res, it=it, status=status, message=message)


# -------------------------------------------------------------------------------------------
# mpmath Newton
# -------------------------------------------------------------------------------------------
class _MPChol:
    """Diagonally pivoted Cholesky factor of a symmetric positive semidefinite mp matrix.

    Pivots below ``rel`` times the largest diagonal entry are dropped (numerical rank ``r``);
    :meth:`solve` then returns the solution supported on the ``r`` pivoted indices (a basic
    solution of the singular system, which is what Newton needs when ``β`` spans so many orders
    of magnitude that ``A diag(dx/dθ) Aᵀ`` is singular at the working precision).
    """

    def __init__(self, H, rel):
        n = len(H)
        W = [list(row) for row in H]
        perm = list(range(n))
        C = [[mpmath.mpf(0)] * n for _ in range(n)]
        dmax = max(W[i][i] for i in range(n)) if n else mpmath.mpf(0)
        r = 0
        for j in range(n):
            # pivot: largest remaining diagonal of the Schur complement
            diag = [(W[perm[i]][perm[i]] - mpmath.fdot(C[i][:j], C[i][:j]), i) for i in range(j, n)]
            dj, ij = max(diag, key=lambda t: t[0])
            if not dj > rel * dmax:
                break
            perm[j], perm[ij] = perm[ij], perm[j]
            C[j], C[ij] = C[ij], C[j]
            cjj = mpmath.sqrt(dj)
            C[j][j] = cjj
            rj = C[j][:j]
            pj = perm[j]
            for i in range(j + 1, n):
                C[i][j] = (W[perm[i]][pj] - mpmath.fdot(C[i][:j], rj)) / cjj
            r = j + 1
        self.perm, self.rank, self.C, self.n = perm, r, C, n

    def solve(self, b):
        C, r, perm = self.C, self.rank, self.perm
        bp = [b[perm[i]] for i in range(r)]
        z = [mpmath.mpf(0)] * r
        for i in range(r):
            z[i] = (bp[i] - mpmath.fdot(C[i][:i], z[:i])) / C[i][i]
        out = [mpmath.mpf(0)] * r
        for i in range(r - 1, -1, -1):
            out[i] = (z[i] - mpmath.fdot((C[k][i] for k in range(i + 1, r)), out[i + 1:])) / C[i][i]
        full = [mpmath.mpf(0)] * self.n
        for i in range(r):
            full[perm[i]] = out[i]
        return full


class _DualMP:
    def __init__(self, A, y, logb, L):
        self.A64, self.y64 = A, y
        self.L = L
        self.M, self.n = A.shape
        self.rows = [[mpmath.mpf(float(v)) for v in A[i]] for i in range(self.M)]
        self.cols = [[self.rows[i][j] for i in range(self.M)] for j in range(self.n)]
        self.y = [mpmath.mpf(float(v)) for v in y]
        self.logb = logb
        if L > 2:
            e = mpmath.mpf(2 - L) / L
            self.c = [mpmath.exp(e * lb) for lb in logb]

    def at(self, v):
        return [mpmath.fdot(col, v) for col in self.cols]

    def Ax(self, x):
        return [mpmath.fdot(row, x) for row in self.rows]

    def set_logb(self, logb):
        self.logb = logb
        if self.L > 2:
            e = mpmath.mpf(2 - self.L) / self.L
            self.c = [mpmath.exp(e * lb) for lb in logb]

    def base(self, nu):
        atn = self.at(nu)
        if self.L == 2:
            return [lb + 2 * a for lb, a in zip(self.logb, atn)]
        return [c - (self.L - 2) * a for c, a in zip(self.c, atn)]

    def dbase(self, delta):
        atd = self.at(delta)
        k = 2 if self.L == 2 else -(self.L - 2)
        return [k * v for v in atd]

    def point(self, base):
        L = self.L
        if L == 2:
            logx = base
            x = [mpmath.exp(v) for v in logx]
            D = [2 * v for v in x]
            S2 = [v / 2 for v in x]
        else:
            if not all(v > 0 for v in base):
                return None
            p = mpmath.mpf(-L) / (L - 2)
            lbs = [mpmath.log(v) for v in base]
            logx = [p * v for v in lbs]
            x = [mpmath.exp(v) for v in logx]
            D = [L * xi / bi for xi, bi in zip(x, base)]
            q = mpmath.mpf(-2) / (L - 2)
            S2 = [mpmath.exp(q * v) / 2 for v in lbs]
        return x, logx, D, S2

    def hessian(self, D):
        M = self.M
        rd = [[a * d for a, d in zip(row, D)] for row in self.rows]
        H = [[None] * M for _ in range(M)]
        for i in range(M):
            for j in range(i, M):
                H[i][j] = H[j][i] = mpmath.fdot(rd[i], self.rows[j])
        return H

    def max_step(self, logx, delta, cap=_LOG_GROWTH_CAP):
        d = self.at(delta)
        L = self.L
        if L == 2:
            m = max(max(2 * v for v in d), mpmath.mpf(0))
            return mpmath.mpf(1) if m <= cap else cap / m
        t = mpmath.mpf(1)
        frac = 1 - mpmath.exp(-cap * mpmath.mpf(L - 2) / L)
        for lx, v in zip(logx, d):
            dd = (L - 2) * v
            if dd > 0:
                b = mpmath.exp(-mpmath.mpf(L - 2) / L * lx)
                t = min(t, frac * b / dd)
        return t


def dual_hessian_solver(D, A_rows_mp=None, A=None):
    """Return a function solving ``A diag(D) Aᵀ s = g`` (float64 ``A`` or mp rows).  Internal helper."""
    if A_rows_mp is None:
        H = (A * np.asarray(D)) @ A.T
        return lambda g: _solve_spd64(H, np.asarray(g, dtype=float))
    f = _DualMP.__new__(_DualMP)
    f.rows = A_rows_mp
    f.M = len(A_rows_mp)
    C = _MPChol(f.hessian(D), mpmath.mpf(10) ** (-mpmath.mp.dps + 5))
    if C.rank == 0:
        raise ZeroDivisionError("the dual Hessian A diag(dx/dθ) Aᵀ vanishes")
    return C.solve


def _newton_mp(f: _DualMP, tol_accept, tol_tight, max_iter, nu, working_dps, deadline=None):
    base = f.base(nu)
    pt = f.point(base)
    if pt is None:
        return dict(nu=nu, x=None, logx=None, res=mpmath.inf, it=0, status=Status.FAILED,
                    message="the warm-start dual point is outside the domain; a cold start (ν = 0) is inside it")
    x, logx, D, S2 = pt
    eps_psi = mpmath.mpf(10) ** (-working_dps + 3)
    rel_pivot = mpmath.mpf(10) ** (-working_dps + 3)
    # a Levenberg–Marquardt shift far below the working precision of the large eigenvalues: it only
    # matters in directions where A diag(dx/dθ) Aᵀ is singular at working precision (then the
    # capped step grows the tiny x_i there instead of ignoring that part of the residual)
    lm_shift = mpmath.mpf(10) ** (-working_dps + 8)
    best = mpmath.inf
    stall = 0
    status, message = Status.NOT_CONVERGED, ""
    it = 0
    cap = _LOG_GROWTH_CAP
    keep = None  # (res, nu, x, logx) of the best iterate
    floor_exit = False
    for it in range(1, max_iter + 1):
        g = [a - b for a, b in zip(f.Ax(x), f.y)]
        res = mpmath.norm(g)
        if not mpmath.isfinite(res):
            status, message = Status.FAILED, f"the residual became non-finite at Newton step {it}"
            break
        if keep is None or res < keep[0]:
            keep = (res, nu, x, logx)
        if res <= tol_tight:
            status = Status.CONVERGED
            break
        if _expired(deadline):
            status = Status.TIME_LIMIT
            break
        if res < best / 2:
            best, stall = res, 0
        else:
            stall += 1
            if stall >= 3 and keep[0] <= tol_accept:
                status = Status.CONVERGED
                break
        H = f.hessian(D)
        mu = max(H[i][i] for i in range(len(H))) * lm_shift
        for i in range(len(H)):
            H[i][i] += mu
        C = _MPChol(H, rel_pivot)
        if C.rank == 0:
            return dict(nu=nu, x=x, logx=logx, res=res, it=it, status=Status.FAILED,
                        message="the dual Hessian A diag(dx/dθ) Aᵀ vanishes at working precision")
        delta = [-v for v in C.solve(g)]
        slope = mpmath.fdot(g, delta)
        atd = f.at(delta)
        dy = mpmath.fdot(delta, f.y)
        if dy > tol_accept * mpmath.norm(delta) and max(atd) <= 0 and _confirm_infeasible(f.A64, f.y64, deadline):
            return dict(nu=nu, x=x, logx=logx, res=res, it=it, status=Status.INCONSISTENT,
                        message="Az = y has no nonnegative solution: a Farkas certificate d with Aᵀd ≤ 0 < ⟨d, y⟩ "
                                "was found (the dual is unbounded)")
        if slope >= 0:
            floor_exit = True
            message = f"the Newton direction is not a descent direction at {working_dps} digits"
            break
        db = f.dbase(delta)
        t = tmax = f.max_step(logx, delta, cap)
        accepted = False
        S2sum = mpmath.fsum(S2)
        for _ in range(120):
            if _expired(deadline):
                break
            trial = [a + t * d for a, d in zip(base, db)]
            pt = f.point(trial)
            if pt is not None:
                diff = mpmath.fsum(a - b for a, b in zip(pt[3], S2)) - t * dy
                if diff <= _ARMIJO * t * slope + eps_psi * (S2sum + 1):
                    accepted = True
                    break
            t /= 2
        if not accepted:
            if _expired(deadline):
                status = Status.TIME_LIMIT
                break
            floor_exit = True
            message = f"the line search failed at {working_dps} digits"
            break
        # the growth cap adapts: doubled after a capped step was accepted whole, reset otherwise
        cap = min(cap * 2, 64 * _LOG_GROWTH_CAP) if (t == tmax and tmax < 1) else _LOG_GROWTH_CAP
        nu = [a + t * d for a, d in zip(nu, delta)]
        base = trial
        x, logx, D, S2 = pt
    else:
        res = mpmath.norm([a - b for a, b in zip(f.Ax(x), f.y)])
        if mpmath.isfinite(res) and (keep is None or res < keep[0]):
            keep = (res, nu, x, logx)
    if keep is None:
        return dict(nu=nu, x=None, logx=None, res=mpmath.inf, it=it, status=Status.FAILED,
                    message=message or "no finite iterate")
    res, nu, x, logx = keep
    if res <= tol_accept:
        status = Status.CONVERGED
    elif status is Status.CONVERGED:  # never above the tolerance
        status = Status.NOT_CONVERGED
    elif floor_exit and status is Status.NOT_CONVERGED:
        status = Status.NOISE_FLOOR
    return dict(nu=nu, x=x, logx=logx, res=res, it=it, status=status, message=message)


def _path_mp(f: _DualMP, logb, tol_accept, tol_tight, max_iter, working_dps, failed, deadline=None):
    """Path-following in mpmath from ``β = 1``: ``log β_τ = τ log β``, secant-predicted warm starts,
    adaptive ``τ`` steps."""
    M = f.M
    zero = [mpmath.mpf(0)] * M
    f.set_logb([mpmath.mpf(0)] * len(logb))
    o = _newton_mp(f, tol_accept, tol_tight, 60, zero, working_dps, deadline)
    total = o["it"]
    if o["status"] is not Status.CONVERGED:
        f.set_logb(logb)
        if o["status"] is Status.TIME_LIMIT:
            failed = dict(failed, status=Status.TIME_LIMIT)
        return failed
    nu = o["nu"]
    tau, dtau = mpmath.mpf(0), mpmath.mpf(1)
    steps = 0
    prev = None
    while tau < 1 and total < 20 * max_iter and steps < 400:
        steps += 1
        tn = min(mpmath.mpf(1), tau + dtau)
        f.set_logb([tn * v for v in logb])
        starts = [nu]
        if prev is not None:
            c = (tn - tau) / (tau - prev[0])
            starts.insert(0, [a + c * (a - b) for a, b in zip(nu, prev[1])])
        for s in starts:
            o = _newton_mp(f, tol_accept, tol_tight, 30, s, working_dps, deadline)
            total += o["it"]
            if o["status"] in (Status.CONVERGED, Status.NOISE_FLOOR, Status.INCONSISTENT, Status.TIME_LIMIT):
                break
        if o["status"] in (Status.CONVERGED, Status.NOISE_FLOOR):
            prev = (tau, nu)
            tau, nu = tn, o["nu"]
            if o["it"] <= 8:
                dtau *= 2
        elif o["status"] in (Status.INCONSISTENT, Status.TIME_LIMIT):
            f.set_logb(logb)
            o["it"] = total
            if o["status"] is Status.TIME_LIMIT:
                o["message"] = f"mp path-following from β = 1 had reached τ = {mpmath.nstr(tau, 3)}"
            return o
        else:
            dtau /= 4
            if dtau < mpmath.mpf(10) ** -8:
                break
    f.set_logb(logb)
    if tau < 1:
        failed["message"] = f"mp path-following from β = 1 stalled at τ = {mpmath.nstr(tau, 3)}"
        failed["it"] += total
        return failed
    last = _newton_mp(f, tol_accept, tol_tight, max_iter, nu, working_dps, deadline)
    last["it"] += total
    if last["status"] in (Status.CONVERGED, Status.NOISE_FLOOR):
        last["message"] = (last["message"] + "; " if last["message"] else "") + \
            f"reached by mp path-following from β = 1 ({steps} steps)"
    return last


# -------------------------------------------------------------------------------------------
def _feasible_lp(A, y, time_left=None) -> Optional[bool]:
    """HiGHS feasibility of ``{z ≥ 0 : Az = y}`` (None when HiGHS cannot tell).

    Solved on a copy with rows, columns and ``y`` scaled to unit max-norm (the same feasibility,
    up to a positive diagonal change of variables), so badly scaled data do not read as infeasible; only
    HiGHS's "infeasible" status counts as infeasible."""
    from scipy.optimize import linprog

    if time_left is not None and time_left <= 0:
        return None
    n = A.shape[1]
    rs = np.max(np.abs(A), axis=1)
    rs[rs == 0] = 1.0
    As, ys = A / rs[:, None], y / rs
    cs = np.max(np.abs(As), axis=0)
    cs[cs == 0] = 1.0
    As = As / cs[None, :]
    ym = float(np.max(np.abs(ys))) if ys.size else 0.0
    if ym > 0:
        ys = ys / ym  # z ↦ z/ym: the same feasibility
    opts = {} if time_left is None else {"time_limit": float(time_left)}
    try:
        r = linprog(np.zeros(n), A_eq=As, b_eq=ys, bounds=(0, None), method="highs", options=opts)
    except ValueError:  # pragma: no cover - scipy rejects the model
        return None
    if r.status == 0:
        return True
    if r.status == 2 and "infeasib" in str(r.message).lower():  # a HiGHS model error is not infeasibility
        return False
    return None


def bregman_projection(A, y, beta, L: int, *, dps: Optional[int] = None, tol: Optional[float] = None,
                       max_iter: int = 200, nu0=None, log_beta=None, path_from=None,
                       time_limit: Optional[float] = None, polish: bool = False) -> ProjectionResult:
    """Bregman projection of ``beta`` onto ``{z ≥ 0 : Az = y}`` for the potential ``F_L``.

    ``A`` (``M × n``, full row rank), ``y`` (length ``M``): float64 data.  ``beta``: positive
    weights (float64 array; or a list of ``mpmath.mpf`` / anything ``mpmath.mpf`` accepts when
    ``dps`` is set).  Alternatively pass ``log_beta`` (then ``beta`` may be ``None``): this is how
    callers hand over ``β`` far below float64's range.  ``path_from``: optional
    ``(log_beta_ref, nu_ref)`` of a solved projection (float64 values) to path-follow from when
    Newton from ``nu0`` fails (default: from ``β = 1``).  ``dps``: work in mpmath at that many digits
    (plus guard digits).  ``tol``: accepted ``‖Ax − y‖`` relative to ``‖y‖`` (absolute when
    ``y = 0``), so the verdict does not change when ``A`` and ``y`` are scaled together; default
    ``tol(dps, K_SOLVE)``; ``result.tol`` is the absolute bound used.  ``nu0``: a starting dual
    point (warm start).  ``time_limit``: wall-clock seconds; when they run out the best iterate so
    far is returned with status TIME_LIMIT (or CONVERGED if it is already within ``tol``).  ``polish``
    (float64): iterate on to the rounding level of ``Ax − y`` rather than stopping at
    ``tol(15, K_ROUNDOFF)·‖y‖`` (for callers that evaluate a non-Lipschitz function of tiny ``x_i``).

    Statuses (docs/math.md §4): CONVERGED only with ``residual ≤ tol``; NOISE_FLOOR when the working
    precision cannot reduce the residual further while it is still above ``tol`` (the reached
    residual is ``result.residual`` and in the message; more digits, ``dps=``, help);
    NOT_CONVERGED when the iteration budget ran out; INCONSISTENT when no nonnegative solution
    exists; FAILED on a non-finite value.

    >>> import numpy as np
    >>> r = bregman_projection(np.array([[1.0, 1.0]]), np.array([1.0]), np.array([1.0, 1.0]), 2)
    >>> r.status.value, [round(float(v), 12) for v in r.x]
    ('converged', [0.5, 0.5])
    """
    t_start = time.perf_counter()
    A, y, L = _check_inputs(A, y, L)
    M, n = A.shape
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0 \
                or math.isnan(time_limit):
            raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    deadline = None if time_limit is None or math.isinf(time_limit) else t_start + float(time_limit)
    if dps is not None:
        dps = check_dps(dps)
    scale = _res_scale(y)
    digits = DPS_FLOAT64 if dps is None else dps
    if tol is None:
        tol = _tol(digits, K_SOLVE)
    elif isinstance(tol, bool) or not (isinstance(tol, (float, int)) and tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    tol_accept = float(tol) * scale
    ctx = dict(A=A, y=y, max_iter=max_iter, tol_accept=tol_accept, deadline=deadline,
               time_limit=time_limit, t_start=t_start)

    if dps is None:
        if log_beta is not None:
            logb = np.asarray([float(v) for v in log_beta], dtype=float)
            if logb.shape != (n,) or not np.all(np.isfinite(logb)):
                raise ValueError(f"log_beta must hold n = {n} finite numbers")
        else:
            logb = _log_beta_from(beta, n, None)
        if nu0 is not None:
            nu0 = np.asarray([float(v) for v in nu0], dtype=float)
            if nu0.shape != (M,):
                raise ValueError(f"nu0 must have M = {M} entries, got {nu0.shape}")
        out = _newton64(A, y, logb, L, tol_accept, max_iter, nu0, path_from, deadline, scale, bool(polish))
        status, message = _final_status(out, ctx, _cancellation_hint(logb, L, DPS_FLOAT64), "")
        return ProjectionResult(x=out["x"], nu=out["nu"], status=status, message=message, iterations=out["it"],
                                residual=float(out["res"]), dps=None, L=L, tol=tol_accept, log_x=out["logx"],
                                extras={"wall_time": time.perf_counter() - t_start})

    with workdps(dps):
        if log_beta is not None:
            if len(log_beta) != n:
                raise ValueError(f"log_beta must hold n = {n} numbers")
            logb = [mpmath.mpf(v) for v in log_beta]
        else:
            logb = _log_beta_from(beta, n, dps)
        it64 = 0
        if nu0 is None:
            logb64 = np.array([float(v) for v in logb])
            pre = _newton64(A, y, logb64, L, _tol(DPS_FLOAT64, K_SOLVE) * scale, max_iter, None, path_from,
                            deadline, scale)
            it64 = pre["it"]
            if pre["status"] is Status.INCONSISTENT:
                return ProjectionResult(x=None, nu=[mpmath.mpf(float(v)) for v in pre["nu"]], status=Status.INCONSISTENT,
                                        message=pre["message"], iterations=it64, residual=float(pre["res"]),
                                        dps=dps, L=L, tol=tol_accept)
            start = pre["nu"] if pre["x"] is not None and np.all(np.isfinite(pre["nu"])) else np.zeros(M)
            nu = [mpmath.mpf(float(v)) for v in start]
        else:
            if len(nu0) != M:
                raise ValueError(f"nu0 must have M = {M} entries, got {len(nu0)}")
            nu = [mpmath.mpf(v) for v in nu0]
        f = _DualMP(A, y, logb, L)
        tol_tight = min(mpmath.mpf(10) ** (-(dps + GUARD_DIGITS) + K_ROUNDOFF) * scale, mpmath.mpf(tol_accept))
        wd = dps + GUARD_DIGITS
        out = _newton_mp(f, mpmath.mpf(tol_accept), tol_tight, max_iter, nu, wd, deadline)
        if out["x"] is None and any(v != 0 for v in nu) and out["status"] is not Status.TIME_LIMIT:
            out = _newton_mp(f, mpmath.mpf(tol_accept), tol_tight, max_iter, [mpmath.mpf(0)] * M, wd, deadline)
        if out["status"] in (Status.NOT_CONVERGED, Status.FAILED) and nu0 is None:
            out = _path_mp(f, logb, mpmath.mpf(tol_accept), tol_tight, max_iter, wd, out, deadline)
        status, message = _final_status(out, ctx, _cancellation_hint(logb, L, wd), f"{dps} digits")
        x = None if out["x"] is None else [+v for v in out["x"]]
        return ProjectionResult(x=x, nu=out["nu"], status=status, message=message, iterations=out["it"] + it64,
                                residual=float(out["res"]), dps=dps, L=L, tol=tol_accept, log_x=out["logx"],
                                extras={"float64_iterations": it64, "mp_iterations": out["it"],
                                        "wall_time": time.perf_counter() - t_start})


def _cancellation_hint(logb, L, digits) -> str:
    """For L > 2 the dual cancels about log10 max β^{(2−L)/L} digits on the support."""
    if L == 2:
        return ""
    lmax = max(-float(v) for v in logb)
    lost = (L - 2) / L * lmax / math.log(10)
    if lost > digits - 5:
        return (f"; β^{{(2−L)/L}} reaches 1e{lost:.0f}, and the dual identity cancels that many digits on the "
                f"support: use dps > {int(lost) + 10}")
    return ""


def _final_status(out, ctx, hint="", precision=""):
    status, message = out["status"], out["message"]
    res = float(out["res"])
    tol_accept, it = ctx["tol_accept"], out["it"]
    at = precision or "float64"
    if status is Status.CONVERGED:
        return status, f"converged: ‖Ax − y‖ = {res:.3g} ≤ {tol_accept:.3g} after {it} Newton steps" + (
            f" ({message})" if message else "")
    if status is Status.INCONSISTENT:
        return status, message
    if status is Status.FAILED:
        return status, message + hint
    if status is Status.TIME_LIMIT:
        return status, (f"time_limit = {ctx['time_limit']:g} s ran out after {it} Newton steps with "
                        f"‖Ax − y‖ = {res:.3g} > {tol_accept:.3g}" + (f" ({message})" if message else ""))
    if status is Status.NOISE_FLOOR:
        return status, (f"noise floor: ‖Ax − y‖ = {res:.3g} is the smallest residual reached at {at} "
                        f"(tolerance {tol_accept:.3g}; {message or 'no further progress'}); more digits "
                        f"(a higher precision) may reach the tolerance{hint}")
    left = None if ctx["deadline"] is None else ctx["deadline"] - time.perf_counter()
    feas = _feasible_lp(ctx["A"], ctx["y"], left)
    if feas is False:
        return Status.INCONSISTENT, ("Az = y has no nonnegative solution (HiGHS feasibility LP says infeasible); "
                                     "the Bregman projection does not exist")
    why = message or f"the iteration budget of {ctx['max_iter']} Newton steps was spent"
    return Status.NOT_CONVERGED, (f"not converged: ‖Ax − y‖ = {res:.3g} > {tol_accept:.3g} ({why}); more "
                                  f"iterations, a warm start, more digits or a looser tolerance may help{hint}")
