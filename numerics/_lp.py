"""ℓ1 references as linear programs (scipy HiGHS), float64.

* positive model: ``min Σ z  s.t.  A z = y, z ≥ 0``;
* signed model: basis pursuit ``min ‖x‖₁  s.t.  A x = y``, as the LP over ``(z₊, z₋) ≥ 0``
  with ``[A, −A](z₊; z₋) = y`` (the positive LP on ``A_eff``; at the optimum ``z₊ ⊙ z₋ = 0``).

``z`` is returned in the user's coordinates (length ``N``).  A matrix-free problem (``A`` a
LinearOperator) is solved on its dense form (:meth:`Problem.dense`, ``FAILED`` beyond its size):
HiGHS needs the entries.

**Scaling.**  HiGHS drops matrix entries below ``1e-9``, refuses entries above ``1e15`` (a *model
error*) and treats right-hand sides beyond ``1e20`` as infinite, so a problem in units of
``1e-150`` or ``1e150`` cannot be handed to it as it is.  :func:`l1_min` solves an exactly
equivalent copy instead (:class:`LPScaling`, all factors powers of 2, so no rounding):

* rows: ``(A, y) → (D_r A, D_r y)`` leaves ``{z : Az = y}`` unchanged (docs/math.md §4);
* columns: ``z = D_c z'`` turns the objective into ``Σ_j (D_c)_jj z'_j`` — a cost per column;
* right-hand side and costs: one factor each, which scale the solution and the value.

The scaling is reported on the result.  The returned value is certified by a dual bound
(:attr:`L1Result.gap`); a result is ``CONVERGED`` only when the relative residual and the
relative duality gap are within ``tol(DPS_FLOAT64, K_SOLVE)``.

**Statuses.**  ``TRIVIAL`` for ``y = 0`` (optimum 0 at ``z = 0``).  ``INCONSISTENT`` only when
HiGHS reports the LP *infeasible* and a second LP (the least-ℓ1 misfit over ``z ≥ 0``)
confirms that no ``z`` fits ``y`` to the tolerance; a model error or any other HiGHS status is
``FAILED`` with HiGHS's message, never "inconsistent".  ``TIME_LIMIT`` when ``time_limit``
seconds ran out.
The high-precision polish of the LP solution is :func:`numerics._lp_polish.l1_polish_mp`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from numerics._status import Status
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, K_SOLVE, tol

_EQUILIBRATION_SWEEPS = 30
"""Ruiz sweeps (in exponents): each halves the distance of row/column maxima from 1."""

_TIGHT = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
"""HiGHS's tightest feasibility tolerances (its defaults, 1e-7, would leave residuals far above
``tol(DPS_FLOAT64, K_SOLVE)`` on a problem with mixed column scales)."""

_RANK_TOL = float(np.sqrt(np.finfo(float).eps))
"""A column is independent of a partial basis when its part outside the span exceeds √eps of its norm."""

_MAX_PIVOTS_PER_ROW = 2
"""Cap of the float64 simplex clean-up after HiGHS: ``2·M + 10`` pivots (it starts at HiGHS's vertex)."""

_MP_POLISH_MAX_ENTRIES = 4000
"""Largest ``M·n`` for which an uncertified float64 answer is redone in mpmath (each pivot costs
``O(M² + M·n)`` operations at a few hundred digits at most)."""

_MAX_COST_SPREAD_LOG2 = 1000
"""Column costs ``2**c_j`` spanning more than this many binary orders cannot all be represented."""


def _norm(v: np.ndarray) -> float:
    """Euclidean norm without under/overflow in the squares (scaled by the largest entry first)."""
    v = np.asarray(v, dtype=float)
    m = float(np.max(np.abs(v))) if v.size else 0.0
    if m == 0.0 or not np.isfinite(m):
        return m
    _, e = np.frexp(m)
    return float(np.ldexp(np.linalg.norm(np.ldexp(v, -int(e))), int(e)))


def _exponent(x) -> np.ndarray:
    """Integer ``e`` with ``x = m·2**e``, ``0.5 ≤ |m| < 1``; 0 where ``x == 0``."""
    x = np.asarray(x, dtype=float)
    _, e = np.frexp(x)
    return np.where(x != 0, e, 0).astype(np.int64)


@dataclass(frozen=True)
class LPScaling:
    """The exact scaling under which the LP was solved (all factors powers of 2).

    The LP handed to HiGHS is ``min Σ_j 2**(col_log2[j] − cost_log2) z''_j`` subject to
    ``A'' z'' = y''``, ``z'' ≥ 0``, with ``A''_ij = 2**(row_log2[i] + col_log2[j]) · A_eff[i, j]`` and
    ``y''_i = 2**(row_log2[i] − rhs_log2) · y_i``; the solution is ``z = 2**(col_log2 + rhs_log2) ⊙ z''``
    and the value ``2**(rhs_log2 + cost_log2) × `` the LP's value.  Rows (of ``A_eff``) that are zero
    with ``y_i = 0`` and zero columns are left out (``kept_rows``/``kept_cols``; a zero column has
    ``z_j = 0`` at the optimum)."""

    row_log2: np.ndarray
    col_log2: np.ndarray
    rhs_log2: int
    cost_log2: int
    kept_rows: np.ndarray
    kept_cols: np.ndarray

    def describe(self) -> str:
        def span(e):
            return f"2^{int(e.min())}" if e.min() == e.max() else f"2^{int(e.min())} … 2^{int(e.max())}"

        return (f"solved on an exactly scaled copy: rows × {span(self.row_log2)}, columns × {span(self.col_log2)}, "
                f"right-hand side × 2^{-self.rhs_log2}, costs × 2^{-self.cost_log2}")

    def as_dict(self) -> dict:
        return {"row_log2": [int(v) for v in self.row_log2], "col_log2": [int(v) for v in self.col_log2],
                "rhs_log2": int(self.rhs_log2), "cost_log2": int(self.cost_log2)}


@dataclass(frozen=True)
class L1Result:
    """The ℓ1 reference: minimiser ``z`` (user coordinates), optimal ``value``, ``status``, ``message``.

    ``residual`` is ``‖A z − y‖`` of the returned ``z`` (nan when infeasible);
    ``relative_residual`` is the residual of the scaled LP relative to its right-hand side (each
    equation measured against its own scale); ``gap`` is the certified relative duality gap
    ``(value − lower bound)/value`` (0 for ``TRIVIAL``, nan when there is no solution);
    ``scaling`` is the :class:`LPScaling` used (None when no LP was solved).
    """

    z: np.ndarray
    value: float
    status: Status
    message: str
    residual: float = float("nan")
    relative_residual: float = float("nan")
    gap: float = float("nan")
    scaling: Optional[LPScaling] = field(default=None, repr=False)

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED


@dataclass(frozen=True)
class LeastSquaresResult:
    """``min ‖A z − y‖``: the residual norm, relative to ``‖y‖``, and whether that is float64 noise."""

    residual: float
    relative: float
    consistent: bool
    z: np.ndarray


def least_squares_residual(problem) -> LeastSquaresResult:
    """Least-squares residual ``min_z ‖A z − y‖`` (SVD); ``consistent`` when it is roundoff.

    The threshold is ``tol(15, K_SOLVE)·(‖A‖‖z‖ + ‖y‖)`` — a solve-level residual.  Computed on an
    exactly scaled copy (powers of 2): ``y`` by one factor (which scales ``z``) and each column of
    ``A`` by its own (``range(A)`` is unchanged, so the minimal
    residual is the same; without it an SVD cut-off drops columns of small scale).  ``residual``
    is in the user's units; ``relative`` and ``consistent`` are scale-free.  ``y = 0`` is
    consistent with residual 0.
    """
    if problem.matrix_free:
        problem = problem.dense()
    A, y = problem.A, problem.y
    N = A.shape[1]
    if not np.any(y):
        return LeastSquaresResult(0.0, 0.0, True, np.zeros(N))
    col = -_exponent(np.abs(A).max(axis=0))  # each column's max in [0.5, 1); zero columns: 0
    t = int(_exponent(np.abs(y).max()))
    with np.errstate(under="ignore"):
        As = np.ldexp(A, col[None, :])
        ys = np.ldexp(y, -t)
    zs, *_ = np.linalg.lstsq(As, ys, rcond=None)
    r = _norm(As @ zs - ys)
    scale = float(np.linalg.norm(As, 2) * _norm(zs) + _norm(ys))
    rel = r / _norm(ys)
    with np.errstate(over="ignore", under="ignore"):
        z = np.ldexp(zs, col + t)
        residual = float(np.ldexp(r, t))
    return LeastSquaresResult(residual, rel, r <= tol(DPS_FLOAT64, K_SOLVE) * scale, z)


def _equilibrate(E: np.ndarray, mask: np.ndarray) -> tuple:
    """Integer row and column exponents ``(R, C)`` that bring ``2**(E_ij + R_i + C_j)`` near 1 (Ruiz, max-norm).

    ``E``: binary exponents of the nonzero entries (``mask``); every row and column has one."""
    M, n = E.shape
    R = np.zeros(M)
    C = np.zeros(n)
    neg = -np.inf
    for _ in range(_EQUILIBRATION_SWEEPS):
        S = np.where(mask, E + R[:, None] + C[None, :], neg)
        R -= S.max(axis=1) / 2
        S = np.where(mask, E + R[:, None] + C[None, :], neg)
        C -= S.max(axis=0) / 2
    R = np.round(R).astype(np.int64)
    C = np.round(C).astype(np.int64)
    # final exact pass: every row max in [0.5, 1) ... then columns, rows again within one factor 2
    S = np.where(mask, E + R[:, None] + C[None, :], neg)
    R -= S.max(axis=1).astype(np.int64)
    return R, C


def _failed(N: int, message: str, status: Status = Status.FAILED, scaling=None) -> L1Result:
    return L1Result(np.full(N, np.nan), float("nan"), status, message, scaling=scaling)


def l1_min(problem, *, time_limit: Optional[float] = None) -> L1Result:
    """Nonnegative ℓ1 minimisation (positive model) or basis pursuit (signed model) via HiGHS.

    Solved on an exactly scaled copy (see the module docstring); ``time_limit``: seconds for
    HiGHS (both LPs together), ``TIME_LIMIT`` when they run out.
    """
    from scipy.optimize import linprog

    start = time.monotonic()
    if problem.matrix_free:
        try:
            problem = problem.dense()
        except ValueError as exc:
            return _failed(problem.N, f"the LP needs the entries of the matrix-free A: {exc}")
    A = np.asarray(problem.A_eff, dtype=float)
    y = np.asarray(problem.y, dtype=float)
    M, n = A.shape
    N = problem.N
    if time_limit is not None and not (time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if not np.any(y):
        return L1Result(np.zeros(N), 0.0, Status.TRIVIAL, "y = 0: the ℓ1 optimum is 0, at z = 0", 0.0, 0.0, 0.0)
    nonzero = A != 0
    zero_rows = ~nonzero.any(axis=1)
    bad = np.flatnonzero(zero_rows & (y != 0))
    if bad.size:
        i = int(bad[0])
        return _failed(N, f"LP infeasible: row {i} of A is zero but y[{i}] = {y[i]:.6g} ≠ 0, so A z = y has no "
                          f"solution", Status.INCONSISTENT)
    rows = np.flatnonzero(~zero_rows)
    cols = np.flatnonzero(nonzero.any(axis=0))
    Ak = A[np.ix_(rows, cols)]
    yk = y[rows]
    mask = Ak != 0
    R, C = _equilibrate(_exponent(Ak).astype(float), mask)
    ey = np.where(yk != 0, _exponent(yk) + R, np.iinfo(np.int64).min)
    t = int(ey.max())
    cmax = int(C.max())
    if cmax - int(C.min()) > _MAX_COST_SPREAD_LOG2:
        return _failed(N, f"the columns of A differ in scale by more than 2^{_MAX_COST_SPREAD_LOG2}: the ℓ1 weights "
                          f"of the scaled LP cannot be represented in float64")
    with np.errstate(over="ignore", under="ignore"):
        As = np.ldexp(Ak, R[:, None] + C[None, :])
        ys = np.ldexp(yk, R - t)
        cost = np.ldexp(1.0, C - cmax)
    scaling = LPScaling(R, C, t, cmax, rows, cols)
    if not (np.all(np.isfinite(As)) and np.count_nonzero(As) == np.count_nonzero(Ak)):
        return _failed(N, "the entries of A span more than float64's range within its rows and columns: no exact "
                          "scaling of the LP exists", scaling=scaling)

    def options(tight=False):
        out = dict(_TIGHT) if tight else {}
        if time_limit is not None:
            out["time_limit"] = max(time_limit - (time.monotonic() - start), 1e-3)
        return out

    res = linprog(cost, A_eq=As, b_eq=ys, bounds=(0, None), method="highs", options=options(tight=True))
    msg = str(res.message).strip()
    if res.status == 1:
        if "time limit" in msg.lower():
            limit = f"the {time_limit:g} s" if time_limit is not None else "its"
            return _failed(N, f"HiGHS ran out of {limit} time limit: {msg}", Status.TIME_LIMIT, scaling)
        return _failed(N, f"HiGHS stopped at its iteration limit: {msg}", Status.NOT_CONVERGED, scaling)
    if res.status == 2 and "infeasible" in msg.lower():
        return _confirm_infeasible(problem, As, ys, msg, options, scaling)
    if res.status != 0 or res.x is None:
        return _failed(N, f"HiGHS did not solve the LP (HiGHS status {res.status}: {msg}); {scaling.describe()}",
                       scaling=scaling)
    zs = np.maximum(np.asarray(res.x, dtype=float), 0.0)
    rel_res = _norm(As @ zs - ys) / _norm(ys)
    primal = float(cost @ zs)
    marg = getattr(getattr(res, "eqlin", None), "marginals", None)
    duals = [np.asarray(marg, dtype=float)] if marg is not None and np.all(np.isfinite(marg)) else []
    deadline = None if time_limit is None else start + time_limit
    polished = _basis_polish(As, ys, cost, zs, duals[0] if duals else None, deadline)
    note = ""
    if polished is not None:
        zp, nu_p, pivots = polished
        rel_p = _norm(As @ zp - ys) / _norm(ys)
        # HiGHS's point counts as feasible only at roundoff level; one off by up to HiGHS's own
        # tolerance may be cheaper only because it is infeasible, and the exactly solved basis wins.
        # A feasible HiGHS point is replaced only by a cheaper vertex (float64 pricing is unreliable
        # when the column costs span many orders).
        highs_feasible = rel_res <= tol(DPS_FLOAT64, K_ROUNDOFF)
        cheaper = float(cost @ zp) <= primal * (1 + tol(DPS_FLOAT64, K_ROUNDOFF))
        if rel_p <= max(rel_res, tol(DPS_FLOAT64, K_ROUNDOFF)) and (cheaper or not highs_feasible):
            zs, rel_res, primal = zp, rel_p, float(cost @ zp)
            duals.append(nu_p)
            note = f"; vertex re-solved on its basis in float64 ({pivots} simplex pivots)"
    lower = _dual_lower_bound(As, ys, cost, zs, duals)
    gap = max((primal - lower) / primal, 0.0) if primal > 0 else 0.0
    if (gap > tol(DPS_FLOAT64, K_SOLVE) or rel_res > tol(DPS_FLOAT64, K_SOLVE)) and As.size <= _MP_POLISH_MAX_ENTRIES:
        # float64 cannot price columns whose costs span many orders: redo the pivots at a precision
        # that covers the cost spread (docs/math.md §5 needs the true optimum, not a near one)
        mp = _mp_simplex(As, ys, cost, zs, duals[0] if duals else None, deadline)
        if mp is not None:
            zm, lower_m, dps_m, pivots = mp
            rel_m = _norm(As @ zm - ys) / _norm(ys)
            lower = max(lower, lower_m)
            feasible_before = rel_res <= tol(DPS_FLOAT64, K_ROUNDOFF)
            if rel_m <= max(rel_res, tol(DPS_FLOAT64, K_ROUNDOFF)) and (float(cost @ zm) < primal
                                                                       or not feasible_before):
                zs, rel_res, primal = zm, rel_m, float(cost @ zm)
                note = f"; vertex re-solved at {dps_m} digits after {pivots} simplex pivots"
            gap = max((primal - lower) / primal, 0.0) if primal > 0 else 0.0
            note += f"; dual bound computed at {dps_m} digits"
    with np.errstate(over="ignore", under="ignore"):
        z_eff = np.zeros(n)
        z_eff[cols] = np.ldexp(zs, C + t)
        value_scaled = float(np.sum(cost * zs))
        value = float(np.ldexp(value_scaled, t + cmax))
    z = np.asarray(problem.to_user(z_eff), dtype=float)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        resid = _norm(problem.A @ z - problem.y) if np.all(np.isfinite(z)) else float("inf")
    if not (np.isfinite(value) and np.all(np.isfinite(z))):
        return L1Result(z, value, Status.FAILED,
                        f"the ℓ1 optimum ≈ 2^{t + cmax} × {value_scaled:.6g} is beyond float64's range; "
                        f"rescale y (the solution scales with it)", resid, rel_res, gap, scaling)
    if value > 0 and value < np.finfo(float).tiny:
        return L1Result(z, value, Status.FAILED,
                        f"the ℓ1 optimum ≈ 2^{t + cmax} × {value_scaled:.6g} underflows float64's normal range; "
                        f"rescale y (the solution scales with it)", resid, rel_res, gap, scaling)
    tl = tol(DPS_FLOAT64, K_SOLVE)
    if rel_res > tl or gap > tl:
        what = []
        if rel_res > tl:
            what.append(f"relative residual {rel_res:.3e}")
        if gap > tl:
            what.append(f"a certified relative duality gap of {gap:.3e} (the value is feasible, an upper bound; "
                        f"optimal only to within that gap)")
        return L1Result(z, value, Status.NOISE_FLOOR,
                        f"HiGHS: optimal, but float64 reached only {' and '.join(what)}, above {tl:.1e}; "
                        f"{scaling.describe()}", resid, rel_res, gap, scaling)
    return L1Result(z, value, Status.CONVERGED, f"HiGHS: optimal{note}; {scaling.describe()}", resid, rel_res, gap,
                    scaling)


def _dual_lower_bound(As, ys, cost, zs, duals) -> float:
    """A certified lower bound on the scaled LP's optimum, from a dual point made feasible.

    Candidates: the given duals (HiGHS's, the polished basis's) and the duals of the support
    ``{j : z_j > 0}`` (``A_Bᵀν = c_B``, least squares when the vertex is degenerate).  For a candidate
    ``ν``, ``θ = min(1, min_{(Aᵀν)_j > 0} c_j/(Aᵀν)_j)`` makes ``θν`` dual feasible (``Aᵀθν ≤ c``), so
    ``θ⟨y, ν⟩ ≤`` optimum (weak duality).
    """
    cands = list(duals)
    B = np.flatnonzero(zs > 0)
    if B.size:
        nu, *_ = np.linalg.lstsq(As[:, B].T, cost[B], rcond=None)
        cands.append(nu)
    best = 0.0  # ν = 0 is dual feasible (costs are positive)
    for nu in cands:
        g = As.T @ nu
        pos = g > 0
        theta = min(1.0, float(np.min(cost[pos] / g[pos]))) if pos.any() else 1.0
        best = max(best, theta * float(ys @ nu))
    return best


def _basis_polish(As, ys, cost, zs, nu0, deadline):
    """HiGHS's vertex re-solved exactly on a basis, then primal simplex pivots in float64.

    HiGHS accepts residuals up to its feasibility tolerance, which on a problem with mixed column
    scales is far above ``tol(DPS_FLOAT64, K_SOLVE)``.  Here the support of ``zs`` is completed to a
    basis (columns of smallest relative reduced cost under HiGHS's duals ``nu0``; a column counts
    as independent when its part outside the span so far exceeds ``_RANK_TOL`` of its norm), then
    ``A_B z_B = y`` and ``A_Bᵀν = c_B`` are solved and columns with a reduced cost below minus its
    roundoff bound enter (largest relative decrease first).  Returns ``(z, ν, pivots)`` at an
    optimal basis, or None (no full-rank basis, a basis that is not primal feasible, the pivot cap
    or the deadline): then HiGHS's answer stands.
    """
    M, n = As.shape
    eps = np.finfo(float).eps
    d0 = (cost - As.T @ nu0) / cost if nu0 is not None else np.zeros(n)
    B = _start_basis(As, zs, d0)
    if B is None:
        return None
    B = np.array(B)
    absA = np.abs(As)
    feas = tol(DPS_FLOAT64, K_SOLVE)
    for pivots in range(_MAX_PIVOTS_PER_ROW * M + 10):
        if deadline is not None and time.monotonic() > deadline:
            return None
        AB = As[:, B]
        try:
            zB = np.linalg.solve(AB, ys)
            nu = np.linalg.solve(AB.T, cost[B])
        except np.linalg.LinAlgError:
            return None
        if not (np.all(np.isfinite(zB)) and np.all(np.isfinite(nu))) or zB.min() < -feas * np.abs(zB).max():
            return None
        zB = np.maximum(zB, 0.0)
        d = cost - As.T @ nu
        bound = 16 * eps * (absA.T @ np.abs(nu) + cost)
        d[B] = 0.0
        entering = d < -bound
        if not entering.any():
            z = np.zeros(n)
            z[B] = zB
            return z, nu, pivots
        j = int(np.argmin(np.where(entering, d / cost, np.inf)))
        w = np.linalg.solve(AB, As[:, j])
        pos = w > feas * np.abs(w).max()
        if not pos.any():
            return None
        k = np.flatnonzero(pos)[int(np.argmin(zB[pos] / w[pos]))]
        B[k] = j
    return None


def _start_basis(As, zs, key):
    """The support of ``zs`` (largest entries first) completed to ``M`` independent columns, the
    others taken in increasing order of ``key`` (a reduced cost); None when no such basis exists."""
    M, n = As.shape
    support = [int(j) for j in np.argsort(-zs, kind="stable") if zs[j] > 0]
    rest = [int(j) for j in np.argsort(key, kind="stable") if not zs[j] > 0]
    B, Q = [], np.zeros((M, 0))
    for j in support + rest:
        if len(B) == M:
            break
        a = As[:, j]
        r = a - Q @ (Q.T @ a)
        r = r - Q @ (Q.T @ r)
        nr = float(np.linalg.norm(r))
        if nr > _RANK_TOL * float(np.linalg.norm(a)):
            B.append(j)
            Q = np.column_stack([Q, r / nr])
    return B if len(B) == M else None


def _mp_simplex(As, ys, cost, zs, nu0, deadline):
    """Primal simplex in mpmath from the basis of ``zs``: ``(z, lower, dps, pivots)`` or None.

    The precision covers the spread of the column costs (``2**spread``) plus float64's digits and
    ``GUARD_DIGITS``, so that reduced costs of the cheapest columns are resolved against the
    dearest.  Basic values below zero by float64 roundoff (``tol(DPS_FLOAT64, K_SOLVE)`` of the
    largest; the data are float64) count as 0.
    It stops when every reduced cost is ``≥ −tol(dps, K_SOLVE)·c_j``; ``lower`` is then a lower
    bound on the optimum by weak duality, computed at ``dps`` digits and valid whatever the
    rounding of the basics (the caller compares it with the best primal value it has).  None when
    the start basis is not primal feasible, on the pivot cap or at the deadline.
    """
    import math

    import mpmath

    from numerics._precision import GUARD_DIGITS, workdps

    M, n = As.shape
    B = _start_basis(As, zs, np.zeros(As.shape[1]) if nu0 is None else -(As.T @ nu0))
    if B is None:
        return None
    spread = math.log10(float(cost.max()) / float(cost.min()))
    dps = DPS_FLOAT64 + int(math.ceil(spread)) + GUARD_DIGITS
    with workdps(dps):
        t = mpmath.mpf(tol(dps, K_SOLVE))
        feas = mpmath.mpf(tol(DPS_FLOAT64, K_SOLVE))
        Am = mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in As])
        ym = mpmath.matrix([mpmath.mpf(float(v)) for v in ys])
        cm = [mpmath.mpf(float(v)) for v in cost]
        for pivots in range(_MAX_PIVOTS_PER_ROW * M + 10):
            if deadline is not None and time.monotonic() > deadline:
                return None
            AB = mpmath.matrix([[Am[i, j] for j in B] for i in range(M)])
            try:
                zB = mpmath.lu_solve(AB, ym)
                nu = mpmath.lu_solve(AB.T, mpmath.matrix([cm[j] for j in B]))
            except ZeroDivisionError:
                return None
            # basics negative at float64 roundoff (a degenerate vertex of float64 data) count as 0
            zmax = max(abs(v) for v in zB)
            if min(zB) < -feas * zmax:
                return None
            zB = [max(v, 0) for v in zB]
            inB = set(B)
            rel = {}
            for j in range(n):
                if j not in inB:
                    d = cm[j] - mpmath.fsum(Am[i, j] * nu[i] for i in range(M))
                    rel[j] = d / cm[j]
            worst = min(rel, key=rel.get) if rel else None
            if worst is None or rel[worst] >= -t:
                z = np.zeros(n)
                for k, j in enumerate(B):
                    z[j] = float(zB[k])
                # weak duality at dps digits, valid for any ν: every z ≥ 0 with Az = y and
                # Σ c_j z_j ≤ P has z_j ≤ P/c_j, so the optimum is ≥ ⟨ν, y⟩ − P·Σ_j max(0, −d_j/c_j)
                P = mpmath.fsum(cm[j] * mpmath.mpf(z[j]) for j in B)
                lower = mpmath.fsum(nu[i] * ym[i] for i in range(M)) - P * mpmath.fsum(max(-v, 0) for v in rel.values())
                return z, float(lower), dps, pivots
            j = worst
            w = mpmath.lu_solve(AB, mpmath.matrix([Am[i, j] for i in range(M)]))
            wmax = max(abs(v) for v in w)
            cands = [k for k in range(M) if w[k] > t * wmax]
            if not cands:
                return None
            k = min(cands, key=lambda k: zB[k] / w[k])
            B[k] = j
    return None


def _confirm_infeasible(problem, As, ys, msg, options, scaling) -> L1Result:
    """HiGHS said infeasible: confirm with the least-ℓ1 misfit ``min ‖A'' z − y''‖₁ over z ≥ 0``.

    Only a misfit above ``tol(DPS_FLOAT64, K_SOLVE)·‖y''‖₁`` is called ``INCONSISTENT``."""
    from scipy.optimize import linprog

    N = problem.N
    M, n = As.shape
    I = np.eye(M)
    c = np.concatenate([np.zeros(n), np.ones(2 * M)])
    res = linprog(c, A_eq=np.hstack([As, I, -I]), b_eq=ys, bounds=(0, None), method="highs", options=options())
    if res.status != 0 or res.x is None:
        return _failed(N, f"HiGHS reported the LP infeasible ({msg}) but could not solve the misfit LP that would "
                          f"confirm it ({res.message}); not called inconsistent", scaling=scaling)
    z = np.maximum(np.asarray(res.x[:n], dtype=float), 0.0)
    misfit = float(np.sum(np.abs(As @ z - ys)))
    rel = misfit / float(np.sum(np.abs(ys)))
    tl = tol(DPS_FLOAT64, K_SOLVE)
    if rel <= tl:
        return _failed(N, f"HiGHS reported the LP infeasible ({msg}), but a z ≥ 0 fits y to relative ℓ1 misfit "
                          f"{rel:.3e} ≤ {tl:.1e}; not called inconsistent", scaling=scaling)
    what = "no nonnegative z with A z = y" if problem.model == "positive" else "A x = y has no solution"
    return _failed(N, f"LP infeasible: {what} ({msg}); the closest fit misses y by {rel:.3e} relative (ℓ1, "
                      f"row-scaled)", Status.INCONSISTENT, scaling)
