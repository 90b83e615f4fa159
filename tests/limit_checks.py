"""Checks shared by the limit-solver tests (imported like ``strategies``)."""

from __future__ import annotations

import mpmath
import numpy as np

from numerics._precision import K_ROUNDOFF, tol, workdps


def assert_vertex_root_at_50_digits(problem, res, L):
    """On the basis ``res`` returns (the support of ``x_∞``, ``M`` columns) ``z = A_B⁻¹y`` at 50 digits, and
    ``r_∞²`` must be ``Σ z^{2/L}`` within the bar: ``r²`` and ``Σ z^{2/L}`` both lie in ``[S_lo, S_hi]`` and
    ``r_∞`` is the centre of ``[√S_lo, √S_hi]`` (docs/math.md §4.6), so
    ``|r_∞² − Σ| ≤ 2 r_∞ r_inf_error + r_inf_error²``."""
    A = np.asarray(problem.A_eff, dtype=float)
    B = np.flatnonzero(np.asarray(res.x_inf, dtype=float) > 0)
    assert B.size == A.shape[0]
    with workdps(50):
        z = mpmath.lu_solve(mpmath.matrix([[mpmath.mpf(float(a)) for a in row] for row in A[:, B]]),
                            mpmath.matrix([mpmath.mpf(float(v)) for v in problem.y]))
        assert all(v > 0 for v in z)
        S = mpmath.fsum(v ** (mpmath.mpf(2) / L) for v in z)
        r, e = mpmath.mpf(float(res.r_inf)), mpmath.mpf(float(res.r_inf_error))
        assert abs(r * r - S) <= 2 * r * e + e * e + tol(50, K_ROUNDOFF) * S, (r * r - S, e)
