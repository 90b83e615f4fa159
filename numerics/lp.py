"""ℓ1 references as linear programs (scipy HiGHS), float64.

* positive model: ``min Σ z  s.t.  A z = y, z ≥ 0``;
* signed model: basis pursuit ``min ‖x‖₁  s.t.  A x = y``, as the LP over ``(z₊, z₋) ≥ 0``
  with ``[A, −A](z₊; z₋) = y`` (the positive LP on ``A_eff``; at the optimum ``z₊ ⊙ z₋ = 0``).

``z`` is returned in the user's coordinates (length ``N``).  Infeasible → ``Status.INCONSISTENT``.
The high-precision polish of the LP solution is :func:`numerics.lp_polish.l1_polish_mp`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics._status import Status
from numerics.precision import DPS_FLOAT64, K_SOLVE, tol


@dataclass(frozen=True)
class L1Result:
    """The ℓ1 reference: minimiser ``z`` (user coordinates), optimal ``value``, ``status``, ``message``.

    ``residual`` is ``‖A z − y‖`` of the returned ``z`` (nan when infeasible).
    """

    z: np.ndarray
    value: float
    status: Status
    message: str
    residual: float = float("nan")


@dataclass(frozen=True)
class LeastSquaresResult:
    """``min ‖A z − y‖``: the residual norm, relative to ``‖y‖``, and whether that is float64 noise."""

    residual: float
    relative: float
    consistent: bool
    z: np.ndarray


def least_squares_residual(problem) -> LeastSquaresResult:
    """Least-squares residual ``min_z ‖A z − y‖`` (SVD); ``consistent`` when it is roundoff.

    The threshold is ``tol(15, K_SOLVE)·cond-free scale ‖A‖‖z‖ + ‖y‖`` — a solve-level residual.
    """
    A, y = problem.A, problem.y
    z, *_ = np.linalg.lstsq(A, y, rcond=None)
    res = float(np.linalg.norm(A @ z - y))
    scale = float(np.linalg.norm(A, 2) * np.linalg.norm(z) + np.linalg.norm(y))
    rel = res / max(float(np.linalg.norm(y)), np.finfo(float).tiny)
    return LeastSquaresResult(res, rel, res <= tol(DPS_FLOAT64, K_SOLVE) * max(scale, 1e-300), z)


def l1_min(problem) -> L1Result:
    """Nonnegative ℓ1 minimisation (positive model) or basis pursuit (signed model) via HiGHS."""
    from scipy.optimize import linprog

    A = problem.A_eff
    n = A.shape[1]
    res = linprog(np.ones(n), A_eq=A, b_eq=problem.y, bounds=(0, None), method="highs")
    N = problem.N
    if res.status == 2:
        what = "no nonnegative z with A z = y" if problem.model == "positive" else "A x = y has no solution"
        return L1Result(np.full(N, np.nan), float("nan"), Status.INCONSISTENT, f"LP infeasible: {what} ({res.message})")
    if res.status != 0 or res.x is None:
        return L1Result(np.full(N, np.nan), float("nan"), Status.FAILED, f"HiGHS did not solve the LP: {res.message}")
    z_eff = np.maximum(np.asarray(res.x, dtype=float), 0.0)
    z = problem.to_user(z_eff)
    value = float(np.sum(np.abs(z)))
    resid = float(np.linalg.norm(problem.A @ z - problem.y))
    return L1Result(np.asarray(z, dtype=float), value, Status.CONVERGED, "HiGHS: optimal", resid)
