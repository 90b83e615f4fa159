"""Problems and flow settings: validation, generators, I/O (never unpickling)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics.config import FlowConfig
from numerics.problem import Problem, generate


@given(seed=st.integers(0, 10_000), N=st.integers(3, 40), kind=st.sampled_from(["sparse_positive", "sparse_signed", "gaussian"]),
       matrix=st.sampled_from(["gaussian", "rademacher", "correlated", "equal_columns"]))
def test_generate_is_consistent_and_reproducible(seed, N, kind, matrix):
    M = max(1, N // 3)
    p = generate(kind, N, M, seed, matrix=matrix)
    assert p.A.shape == (M, N) and p.y.shape == (M,)
    np.testing.assert_allclose(p.A @ p.x_true, p.y, rtol=0, atol=1e-12 * max(1, np.abs(p.y).max()))
    q = generate(kind, N, M, seed, matrix=matrix)
    np.testing.assert_array_equal(p.A, q.A)
    assert p.model == ("positive" if kind == "sparse_positive" else "signed")
    if kind != "gaussian":
        assert np.count_nonzero(p.x_true) == max(1, M // 4)
    if p.model == "positive":
        assert np.all(p.x_true >= 0)


def test_signed_effective_matrix_and_user_coordinates():
    p = generate("sparse_signed", 10, 4, 0)
    assert p.n == 20 and p.A_eff.shape == (4, 20)
    x_eff = np.arange(20.0)
    np.testing.assert_array_equal(p.to_user(x_eff), x_eff[:10] - x_eff[10:])
    np.testing.assert_allclose(p.A_eff @ x_eff, p.A @ p.to_user(x_eff))


def test_save_load_roundtrip(tmp_path):
    p = generate("sparse_signed", 10, 4, 3)
    path = p.save(tmp_path / "p.npz")
    q = Problem.load(path)
    np.testing.assert_array_equal(p.A, q.A)
    np.testing.assert_array_equal(p.y, q.y)
    assert q.model == "signed" and q.seed == 3
    assert Problem.load(path, model="positive").model == "positive"


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, A=np.array([{"a": 1}], dtype=object), y=np.ones(1))
    with pytest.raises(ValueError, match="pickled"):
        Problem.load(path)


@pytest.mark.parametrize(
    "A, y, match",
    [
        (np.ones((2, 3)), np.ones(3), "shape mismatch"),
        (np.array([[1.0, np.nan, 0.0]]), np.ones(1), "A has non-finite"),
        (np.ones((1, 3)), np.array([np.inf]), "y has non-finite"),
        (np.ones(3), np.ones(1), "2-D"),
    ],
)
def test_bad_problems(A, y, match):
    with pytest.raises(ValueError, match=match):
        Problem(A, y)


def test_bad_generate_and_config():
    with pytest.raises(ValueError, match="M < N"):
        generate("sparse_positive", 5, 5, 0)
    with pytest.raises(ValueError, match="kind"):
        generate("dense", 5, 2, 0)
    for kw, match in [({"L": 1}, "L"), ({"L": 2.5}, "L"), ({"r0": 0.0}, "r0"), ({"eta_r": -1.0}, "eta_r"),
                      ({"eta_u": float("nan")}, "eta_u"), ({"rates": "fast"}, "rates"), ({"u0": (1.0, -1.0)}, "u0")]:
        with pytest.raises(ValueError, match=match):
            FlowConfig(**kw)
    c = FlowConfig(L=3, r0=2.0, u0=(1.0, 3.0))
    np.testing.assert_allclose(np.linalg.norm(c.u0_for(2)), 1.0)
    np.testing.assert_allclose(c.w0_for(2), 2.0 * np.array([1.0, 3.0]) / np.sqrt(10))
