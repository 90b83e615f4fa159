"""High-precision linear algebra helpers (numerics/mp_linalg.py)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics.mp_linalg import (
    kernel_projector,
    kernel_residual,
    matvec,
    norm2,
    range_basis,
    rmatvec,
    to_mp_rows,
    to_mp_vector,
)
from numerics.precision import K_ROUNDOFF, tol, workdps
from numerics.problem import generate

DPS = 40


@given(seed=st.integers(0, 10_000), N=st.integers(2, 9), m_frac=st.floats(0.1, 0.9))
def test_range_basis_is_orthonormal_and_projects_away_the_range(seed, N, m_frac):
    M = max(1, min(N - 1, int(round(m_frac * N))))
    A = generate("gaussian", N, M, seed, model="positive").A
    B = range_basis(A, dps=DPS)
    assert B.rank == M  # Gaussian A has full row rank
    eps = tol(DPS, K_ROUNDOFF)
    rows = to_mp_rows(A, dps=DPS)
    rng = np.random.default_rng(seed)
    with workdps(DPS):
        for i, qi in enumerate(B.columns):
            for j, qj in enumerate(B.columns):
                assert abs(mpmath.fdot(qi, qj) - (1 if i == j else 0)) <= eps
        # Aᵀν lies in the range: its kernel part vanishes to working precision
        nu = [mpmath.mpf(float(v)) for v in rng.standard_normal(M)]
        h = rmatvec(rows, nu, dps=DPS)
        assert kernel_residual(A, h, dps=DPS) <= eps
        # P_ker h lies in ker A and P_ker is idempotent
        g = [mpmath.mpf(float(v)) for v in rng.standard_normal(N)]
        pg = B.project_kernel(g)
        assert norm2(matvec(rows, pg, dps=DPS), dps=DPS) <= eps * norm2(g, dps=DPS)
        ppg = B.project_kernel(pg)
        assert max(abs(a - b) for a, b in zip(pg, ppg)) <= eps


def test_rank_deficient_matrix_gets_a_basis_of_its_rank():
    A = generate("sparse_positive", 6, 3, 0, matrix="equal_columns").A  # rank 1
    B = range_basis(A, dps=DPS)
    assert B.rank == 1
    P = kernel_projector(A, dps=DPS)
    with workdps(DPS):
        assert mpmath.mnorm(P * P - P, 1) <= tol(DPS, K_ROUNDOFF)
        assert mpmath.mnorm(P - P.T, 1) == 0
        # trace of a projector = dimension of its range = n − rank
        assert abs(sum(P[i, i] for i in range(6)) - 5) <= tol(DPS, K_ROUNDOFF)


def test_conversions_are_exact():
    A = np.array([[0.1, 1 / 3], [2.5e-300, -7.0]])
    rows = to_mp_rows(A, dps=DPS)
    assert [[float(v) for v in r] for r in rows] == A.tolist()
    with workdps(DPS):
        assert rows[0][0] == mpmath.mpf(0.1)
    v = to_mp_vector(np.array([0.1, 0.2]), dps=DPS)
    assert [float(x) for x in v] == [0.1, 0.2]


def test_zero_vector_has_zero_residual_and_bad_dps_raises():
    A = np.array([[1.0, 2.0, 3.0]])
    assert kernel_residual(A, [0, 0, 0], dps=DPS) == 0
    with pytest.raises(ValueError, match="dps"):
        range_basis(A, dps=0)
