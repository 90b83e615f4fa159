"""ℓ1 references (HiGHS) against an independent enumeration of basic feasible solutions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import Status
from numerics.lp import l1_min, least_squares_residual
from numerics.precision import DPS_FLOAT64, K_SOLVE, tol
from numerics.problem import Problem, generate

TOL = tol(DPS_FLOAT64, K_SOLVE)


def _enumerate_min(A, y):
    """min Σz over {Az = y, z ≥ 0} by enumerating the basic solutions (the LP optimum is at a vertex)."""
    M, n = A.shape
    best = np.inf
    for cols in itertools.combinations(range(n), M):
        B = A[:, cols]
        if abs(np.linalg.det(B)) < 1e-10:
            continue
        zb = np.linalg.solve(B, y)
        if np.all(zb >= -1e-12):
            best = min(best, float(zb.sum()))
    return best


@given(seed=st.integers(0, 10_000), model=st.sampled_from(["positive", "signed"]))
def test_l1_min_is_the_vertex_minimum(seed, model):
    rng = np.random.default_rng(seed)
    N, M = 7, 3
    A = rng.standard_normal((M, N))
    x = np.zeros(N)
    x[rng.choice(N, 2, replace=False)] = rng.uniform(0.5, 2.0, 2) * (rng.choice([-1, 1], 2) if model == "signed" else 1)
    p = Problem(A, A @ x, model)
    res = l1_min(p)
    assert res.status is Status.CONVERGED
    assert res.z.shape == (N,)
    assert res.residual <= TOL * max(1.0, np.linalg.norm(p.y))
    if model == "positive":
        assert np.all(res.z >= 0)
    expected = _enumerate_min(p.A_eff, p.y)
    assert res.value == pytest.approx(expected, rel=TOL, abs=TOL)
    assert res.value <= np.abs(x).sum() + TOL  # the truth is feasible


def test_infeasible_positive_is_inconsistent():
    p = Problem(np.array([[1.0, 2.0, 3.0]]), np.array([-1.0]), "positive")
    res = l1_min(p)
    assert res.status is Status.INCONSISTENT
    assert "infeasible" in res.message.lower()
    assert l1_min(p.with_model("signed")).status is Status.CONVERGED


def test_least_squares_residual():
    p = generate("sparse_positive", 20, 8, 0)
    ls = least_squares_residual(p)
    assert ls.consistent and ls.relative <= TOL
    A = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    bad = least_squares_residual(Problem(A, np.array([1.0, 1.0]), "signed"))
    assert not bad.consistent
    # the residual of the projection of y off range(A): |(y·n)| with n ⟂ range(A) = (2,−1)/√5
    assert bad.residual == pytest.approx(abs(2 * 1.0 - 1.0) / np.sqrt(5), rel=1e-12)
