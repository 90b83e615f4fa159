"""High-precision polish of an ℓ1 LP solution: the optimal basis, solved and certified in mpmath.

The LP is ``min Σ z  s.t.  A_eff z = y, z ≥ 0`` (positive model: ``A_eff = A``; signed model:
``A_eff = [A, −A]``, basis pursuit).  Given HiGHS's float64 solution (user coordinates), the active
set ``S = {i : z_i > threshold}`` is completed to a basis ``B`` of ``M`` linearly independent
columns (pivoted QR, float64); then at ``dps`` digits:

* primal: ``A_B z_B = y``, ``z_N = 0``; feasible when ``z_B ≥ −tol`` and ``‖A z − y‖ ≤ tol``;
* dual: ``A_Bᵀ ν = 1``; optimal when every reduced cost ``1 − a_jᵀν ≥ −tol``
  (signed model: ``|a_jᵀν| ≤ 1 + tol``), which certifies ``Σ z_B = ⟨ν, y⟩`` is the minimum.

``tol = tol(dps, K_SOLVE)``, relative to the scale of each quantity (``max|y|`` and ``max|A|·max z`` for
the residual, ``max z`` for the basic values, 1 for the reduced costs), so that a problem in units of
1e-10 is judged as the same problem in units of 1.  A support smaller than ``M`` is a
degenerate vertex (reported in the message; the certificate still holds when the checks pass); a
support larger than ``M`` is not a vertex, and no basis is formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import mpmath
import numpy as np

from numerics._arith import mp_array
from numerics._status import Status
from numerics._precision import K_SOLVE, check_dps, tol as _tol, workdps

__all__ = ["PolishedL1", "l1_polish_mp"]


@dataclass(frozen=True)
class PolishedL1:
    """The polished ℓ1 minimiser.

    ``z``: object array of ``mpf`` in user coordinates (length ``N``); ``value``: ``Σ|z|`` (mpf);
    ``active_set``: indices (effective coordinates, ``0..n−1``) of the LP support;
    ``basis``: the ``M`` basic indices used; ``dual``: ``ν`` (object array of mpf) with ``A_Bᵀν = 1``;
    ``primal_residual``: ``‖A_eff z − y‖``; ``min_basic``: smallest basic value;
    ``min_reduced_cost``: smallest ``1 − a_jᵀν`` over all effective columns; ``degenerate``:
    support smaller than ``M``; ``dual_value``: ``⟨ν, y⟩`` (equals ``value`` at an optimal basis).
    ``z``, ``value``, ``dual`` and ``dual_value`` are None when no basis was formed.
    """

    z: Optional[np.ndarray]
    value: Optional[mpmath.mpf]
    status: Status
    message: str
    active_set: tuple
    basis: tuple
    dual: Optional[np.ndarray]
    primal_residual: float
    min_basic: float
    min_reduced_cost: float
    degenerate: bool
    dual_value: Optional[mpmath.mpf]
    dps: int

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED


def _effective(problem, z):
    z = np.asarray(z, dtype=float).reshape(-1)
    if z.shape != (problem.N,):
        raise ValueError(f"z must have N = {problem.N} entries (user coordinates), got {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("z must be finite")
    return problem.to_eff(z)


def _highs_reduced_costs(A, y):
    """Reduced costs ``1 − a_jᵀν`` under HiGHS's dual of the ℓ1 LP (float64)."""
    from scipy.optimize import linprog

    r = linprog(np.ones(A.shape[1]), A_eq=A, b_eq=y, bounds=(0, None), method="highs")
    if r.status != 0:
        return np.zeros(A.shape[1])
    return 1.0 - A.T @ np.asarray(r.eqlin.marginals, dtype=float)


def l1_polish_mp(problem, z, dps: int) -> PolishedL1:
    """Polish the LP solution ``z`` (user coordinates, e.g. ``numerics._lp.l1_min(problem).z``) at ``dps``."""
    dps = check_dps(dps)
    if problem.matrix_free:
        problem = problem.dense()  # the basis needs the entries; ValueError beyond dense()'s size
    A = np.asarray(problem.A_eff, dtype=float)
    y = np.asarray(problem.y, dtype=float)
    M, n = A.shape
    ze = _effective(problem, z)
    zmax = float(np.abs(ze).max()) if ze.size else 0.0
    thresh = 1e-9 * zmax  # relative: the support of a problem in units of 1e-10 is the same
    order = np.argsort(-ze)
    S = [int(i) for i in order if ze[i] > thresh]
    active = tuple(sorted(S))
    empty = dict(z=None, value=None, active_set=active, basis=(), dual=None, primal_residual=float("inf"),
                 min_basic=float("nan"), min_reduced_cost=float("nan"), degenerate=len(S) < M, dual_value=None,
                 dps=dps)
    if len(S) > M:
        return PolishedL1(status=Status.FAILED, message=(
            f"the support has {len(S)} > M = {M} entries: not a vertex (HiGHS returned an interior point of "
            "the optimal face?); use a simplex solution (method='highs-ds') to polish"), **empty)
    # complete S to a basis: greedily add the columns of smallest reduced cost under a HiGHS dual
    # (those on the optimal face), skipping columns that do not raise the rank
    basis = list(S)
    if len(basis) < M:
        rc64 = _highs_reduced_costs(A, y)
        rest = [j for j in np.argsort(rc64, kind="stable") if j not in set(basis)]
        for j in rest:
            if len(basis) == M:
                break
            if np.linalg.matrix_rank(A[:, basis + [int(j)]], tol=1e-10) == len(basis) + 1:
                basis.append(int(j))
    AB = A[:, basis]
    if np.linalg.matrix_rank(AB) < M:
        return PolishedL1(status=Status.FAILED, message=(
            f"the active set cannot be completed to a nonsingular basis (rank {np.linalg.matrix_rank(AB)} < M = {M}); "
            "A does not have full row rank"), **empty)
    zs = zmax if zmax > 0 else 1.0
    res_scale = max(float(np.abs(y).max()), float(np.abs(A).max()) * zs)
    if not res_scale > 0:
        res_scale = 1.0
    with workdps(dps):
        t = mpmath.mpf(_tol(dps, K_SOLVE))
        tl_res, tl_z, tl_rc = t * res_scale, t * zs, t
        rows = [[mpmath.mpf(float(v)) for v in A[i]] for i in range(M)]
        ym = mpmath.matrix([mpmath.mpf(float(v)) for v in y])
        pivots = 0
        Binv = mpmath.inverse(mpmath.matrix([[rows[i][j] for j in basis] for i in range(M)]))
        Bi = [[Binv[i, k] for k in range(M)] for i in range(M)]
        yl = [ym[i] for i in range(M)]
        ones = [mpmath.mpf(1)] * M
        # dual simplex in mpmath (explicit inverse, updated by rank one per pivot): the HiGHS vertex is
        # optimal in float64, but with float64 data a degenerate vertex may need a few pivots to be
        # exactly primal feasible at dps digits
        while True:
            zB = [mpmath.fdot(Bi[k], yl) for k in range(M)]
            nul = [mpmath.fdot((Bi[k][i] for k in range(M)), ones) for i in range(M)]
            kneg = min(range(M), key=lambda k: zB[k])
            if zB[kneg] >= 0 or pivots >= 4 * M:
                break
            brl = Bi[kneg]
            best, jin, dcol = None, None, None
            inb = set(basis)
            for j in range(n):
                if j in inb:
                    continue
                col = [rows[i][j] for i in range(M)]
                alpha = mpmath.fdot(brl, col)
                if alpha < 0:
                    rcj = 1 - mpmath.fdot(col, nul)
                    ratio = max(rcj, mpmath.mpf(0)) / -alpha
                    if best is None or ratio < best:
                        best, jin, dcol = ratio, j, col
            if jin is None:
                break  # primal infeasible (cannot happen for a consistent LP)
            d = [mpmath.fdot(Bi[k], dcol) for k in range(M)]
            pivot_row = [v / d[kneg] for v in Bi[kneg]]
            for k in range(M):
                if k != kneg and d[k] != 0:
                    Bi[k] = [a - d[k] * b for a, b in zip(Bi[k], pivot_row)]
            Bi[kneg] = pivot_row
            basis[kneg] = jin
            pivots += 1
        zfull = [mpmath.mpf(0)] * n
        for k, j in enumerate(basis):
            zfull[j] = zB[k]
        res = mpmath.norm([mpmath.fdot(rows[i], zfull) - ym[i] for i in range(M)])
        rc = [1 - mpmath.fdot((rows[i][j] for i in range(M)), nul) for j in range(n)]
        min_rc = min(rc)
        min_b = min(zB[k] for k in range(M))
        value = mpmath.fsum(zfull)
        dual_value = mpmath.fdot(nul, [ym[i] for i in range(M)])
        zu = problem.to_user(mp_array(zfull))
        primal_ok = res <= tl_res and min_b >= -tl_z
        dual_ok = min_rc >= -tl_rc
        out = dict(z=mp_array(+v for v in zu), value=+value, active_set=active, basis=tuple(basis),
                   dual=mp_array(+v for v in nul),
                   primal_residual=float(res), min_basic=float(min_b), min_reduced_cost=float(min_rc),
                   degenerate=len(S) < M, dual_value=+dual_value, dps=dps)
    deg = (f"; degenerate vertex: support {len(S)} < M = {M}, basis completed with {M - len(S)} columns"
           f" and {pivots} dual-simplex pivots at {dps} digits" if len(S) < M else "")
    if primal_ok and dual_ok:
        return PolishedL1(status=Status.CONVERGED, message=(
            f"optimal basis certified at {dps} digits: ‖Az − y‖ = {float(res):.2g}, min basic = {float(min_b):.3g}, "
            f"min reduced cost = {float(min_rc):.3g}, gap |Σz − ⟨ν, y⟩| = {float(abs(value - dual_value)):.2g}{deg}"),
            **out)
    if not primal_ok:
        return PolishedL1(status=Status.FAILED, message=(
            f"the basis from the HiGHS support is not primal feasible at {dps} digits (min basic {float(min_b):.3g}, "
            f"‖Az − y‖ = {float(res):.3g}); the support was misidentified — try a tighter LP solve{deg}"), **out)
    return PolishedL1(status=Status.NOT_CONVERGED, message=(
        f"the basis is primal feasible but not dual feasible at {dps} digits (min reduced cost {float(min_rc):.3g} < 0): "
        f"not optimal, or a degenerate vertex whose completed basis is not an optimal one{deg}"), **out)
