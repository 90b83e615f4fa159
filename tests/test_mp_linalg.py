"""High-precision linear algebra helpers (numerics/_mp_linalg.py)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics._mp_linalg import (
    kernel_projector,
    kernel_residual,
    matvec,
    norm2,
    range_basis,
    rmatvec,
    to_mp_rows,
    to_mp_vector,
)
from numerics._precision import K_ROUNDOFF, tol, workdps
from numerics._problem import generate

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


# ----------------------------------------------------------------------------- numerics._formulas bases
from numerics import _formulas as F  # noqa: E402


@given(seed=st.integers(0, 10_000), N=st.integers(2, 12), m_frac=st.floats(0.1, 0.9))
def test_formulas_range_basis_in_both_arithmetics(seed, N, m_frac):
    """float64 (scipy orth) and dps (exact rank by flint, basis at dps): orthonormal, spanning the rows
    of A, and the same projector."""
    M = max(1, min(N - 1, int(round(m_frac * N))))
    A = generate("gaussian", N, M, seed, model="positive").A
    Q64 = F.range_basis(A)
    assert Q64.shape == (N, M) and Q64.dtype == float
    assert np.abs(Q64.T @ Q64 - np.eye(M)).max() <= tol(15, K_ROUNDOFF)
    Q = F.range_basis(A, dps=DPS)
    assert Q.shape == (N, M) and Q.dtype == object
    eps = tol(DPS, K_ROUNDOFF)
    with workdps(DPS):
        Am = np.array([[mpmath.mpf(float(v)) for v in row] for row in A], dtype=object)
        E = Q.T.dot(Q) - np.eye(M, dtype=int)
        assert max(abs(v) for v in E.reshape(-1)) <= eps
        R = Am - Am.dot(Q).dot(Q.T)  # every row of A lies in the span
        assert max(abs(v) for v in R.reshape(-1)) <= eps * max(1, max(abs(v) for v in Am.reshape(-1)))
        P = Q.dot(Q.T)
    P64 = Q64 @ Q64.T
    assert np.abs(np.array(P, dtype=float) - P64).max() <= tol(15, K_ROUNDOFF + 2)  # float64's own error


def test_formulas_rank_is_exact_not_a_threshold():
    """A row that is a combination of others up to float64 rounding is independent of them as data
    (exact rank M); a row that is an exact multiple (by a power of two) is not."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 9))
    near = np.vstack([A, 0.3 * A[0] + 0.7 * A[1]])      # rounded: not exactly dependent
    exact = np.vstack([A, 2.0 * A[0], A[3]])             # exact duplicates
    assert F.range_basis(near).shape[1] == 5              # float64: a threshold at eps·σ_max
    Qn = F.range_basis(near, dps=DPS)
    assert Qn.shape[1] == 6                               # exact rank of the float64 data
    with workdps(DPS):  # cond ≈ 1e16: still orthonormal and spanning at DPS digits (precision raised inside)
        eps = tol(DPS, K_ROUNDOFF)
        Am = np.array([[mpmath.mpf(float(v)) for v in row] for row in near], dtype=object)
        assert max(abs(v) for v in (Qn.T.dot(Qn) - np.eye(6, dtype=int)).reshape(-1)) <= eps
        assert max(abs(v) for v in (Am - Am.dot(Qn).dot(Qn.T)).reshape(-1)) <= eps * max(abs(v) for v in Am.reshape(-1))
    assert F.range_basis(exact, dps=DPS).shape[1] == 5
    with workdps(DPS):
        third = mpmath.mpf(1) / 3
        Am = np.array([[third, 2 * third, mpmath.mpf(1)], [2 * third, 4 * third, mpmath.mpf(2)]], dtype=object)
        assert F.range_basis(Am, dps=DPS).shape == (3, 1)  # mpf entries are taken exactly too
    K = F.kernel_basis(exact)
    assert K.shape == (9, 4) and np.abs(exact @ K).max() <= tol(15, K_ROUNDOFF + 1)


def test_formulas_kernel_residual():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((4, 10))
    nu = rng.standard_normal(4)
    h_in = A.T @ nu
    h = rng.standard_normal(10)
    num, den = F.kernel_residual(A, h_in)
    assert num <= tol(15, K_ROUNDOFF) * den
    Q = F.range_basis(A, dps=DPS)
    with workdps(DPS):
        Am = [[mpmath.mpf(float(v)) for v in row] for row in A]
        hm = np.array([mpmath.fsum(Am[m][i] * mpmath.mpf(float(nu[m])) for m in range(4)) for i in range(10)],
                      dtype=object)  # exactly in range(Aᵀ) to the working precision
    num, den = F.kernel_residual(None, hm, dps=DPS, basis=Q)
    assert isinstance(num, float) and num <= tol(DPS, K_ROUNDOFF) * den
    a, b = F.kernel_residual(A, h, dps=DPS)
    c, d = F.kernel_residual(A, h)
    assert abs(a - c) <= tol(15, K_ROUNDOFF) * d and b == pytest.approx(d, rel=tol(15, K_ROUNDOFF))
    assert F.kernel_residual(A, np.zeros(10)) == (0.0, 0.0)
    with pytest.raises(ValueError, match="dps"):
        F.range_basis(A, dps=5)
