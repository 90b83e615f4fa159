"""Problems and flow settings: validation, generators, I/O (never unpickling)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics._config import FlowConfig
from numerics._problem import Problem, generate


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


# -- input is what it claims to be (issue 13) ------------------------------------------------

_A = np.array([[1.0, 2.0, 0.5], [0.0, 1.0, 3.0]])
_Y = np.array([1.0, 2.0])
_REFUSED = [
    (_A + 1j, "complex"),  # was cut to its real part with only a ComplexWarning
    (_A.astype("datetime64[s]"), "datetime64"),  # was read as numbers
    (_A.astype("timedelta64[s]"), "timedelta64"),
    (np.zeros((2, 3), dtype=[("a", float)]), "structured"),
    (_A.astype(object), "Python-object"),
    (_A.astype(str), "string"),
    (_A.astype(bytes), "bytes-string"),
    (_A > 1, "boolean"),
]


@pytest.mark.parametrize("bad, what", _REFUSED, ids=[w for _, w in _REFUSED])
def test_non_real_dtypes_are_refused_naming_the_array(bad, what):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused outright, not converted with a warning
        with pytest.raises(ValueError, match=rf"^A has {what}\b.* dtype"):
            Problem(bad, _Y)
        with pytest.raises(ValueError, match=rf"^y has {what}\b.* dtype"):
            Problem(_A, bad[:, 0])
        with pytest.raises(ValueError, match=rf"^x_true has {what}\b.* dtype"):
            Problem(_A, _Y, x_true=bad[0])


def test_real_numeric_dtypes_are_accepted_exactly():
    for dt in (np.int8, np.int64, np.uint16, np.float16, np.float32, np.float64, np.longdouble):
        p = Problem(np.array([[1, 2, 3]], dtype=dt), np.array([4], dtype=dt))
        assert p.A.dtype == np.float64 and p.y.dtype == np.float64
        np.testing.assert_array_equal(p.A, [[1.0, 2.0, 3.0]])
    p = Problem(_A.astype(">f8"), _Y.astype(">f4"))  # big-endian
    np.testing.assert_array_equal(p.A, _A)
    with pytest.raises(ValueError, match="beyond 2\\*\\*53"):
        Problem(np.array([[2**60, 1]]), np.array([1]))
    with pytest.raises(ValueError, match="masked"):
        Problem(np.ma.masked_array(_A, mask=_A == 0), _Y)
    with pytest.raises(ValueError, match="A is not a rectangular"):
        Problem([[1.0, 2.0], [1.0]], _Y)


def test_seed_must_be_an_integer():
    assert Problem(_A, _Y, seed=np.int64(7)).seed == 7 and type(Problem(_A, _Y, seed=np.int64(7)).seed) is int
    for bad in (np.arange(3), True, 1.5, "3"):
        with pytest.raises(ValueError, match="seed must be an integer"):
            Problem(_A, _Y, seed=bad)
    with pytest.raises(ValueError, match="model must be one of"):
        Problem(_A, _Y, model=np.array("positive"))


def test_is_trivial():
    assert Problem(_A, np.zeros(2)).is_trivial
    assert Problem(_A, np.array([-0.0, 0.0])).is_trivial
    assert not Problem(_A, np.array([0.0, 5e-324])).is_trivial


def test_well_scaled_problems_have_no_scale_issues():
    for seed in range(5):
        for kind in ("sparse_positive", "sparse_signed", "gaussian"):
            assert generate(kind, 20, 8, seed).scale_issues() == ()


def test_scale_issues_say_what_to_rescale():
    p = generate("sparse_positive", 20, 8, 0)
    issues = {i.array: i for i in Problem(p.A * 1e-150, p.y * 1e-150).scale_issues()}
    assert set(issues) == {"A", "y"}
    assert "multiply A and y together" in issues["A"].message and "1e150" in issues["A"].message
    assert issues["A"].value == pytest.approx(np.abs(p.A).max() * 1e-150)
    issues = {i.array for i in Problem(p.A * 1e150, p.y * 1e150).scale_issues()}
    assert issues == {"A", "y"}
    # A alone scaled: the solution is 1e150 times larger — joint rescaling cannot help
    issues = {i.array: i for i in Problem(p.A * 1e-150, p.y).scale_issues()}
    assert set(issues) == {"A", "y/A"} and "rescale y alone" in issues["y/A"].message
    issues = {i.array: i for i in Problem(p.A * np.logspace(-60, 60, 20), p.y).scale_issues()}
    assert set(issues) == {"A columns"} and "column 19" in issues["A columns"].message
    issues = {i.array for i in Problem(p.A * np.logspace(-60, 60, 8)[:, None], p.y * np.logspace(-60, 60, 8)).scale_issues()}
    assert issues == {"A rows"}
    issues = {i.array: i for i in Problem(p.A * 1e-310, p.y * 1e-310).scale_issues()}
    assert {"A", "y"} <= set(issues) and "subnormal" in str(Problem(p.A * 1e-310, p.y).scale_issues()[0])


def test_rescaled_rows_are_exact_and_keep_the_feasible_set():
    from numerics._bregman import bregman_projection
    from numerics._lp import l1_min
    from numerics._precision import DPS_FLOAT64, K_SOLVE, tol

    p = generate("sparse_positive", 20, 8, 2)
    d = np.logspace(-150, 150, 8)
    q = Problem(p.A * d[:, None], p.y * d, x_true=p.x_true)
    r, k = q.rescaled()
    assert k.dtype.kind == "i" and r.meta["row_scale_log2"] == list(k)
    rowmax = np.abs(r.A).max(axis=1)
    assert np.all((0.5 <= rowmax) & (rowmax < 1.0))
    np.testing.assert_array_equal(np.ldexp(r.A, -k[:, None]), q.A)  # exact: powers of 2
    np.testing.assert_array_equal(np.ldexp(r.y, -k), q.y)
    assert r.scale_issues() == ()
    # the same feasible set: the ℓ1 optimum and the Bregman projection of docs/math.md §4 agree
    t = tol(DPS_FLOAT64, K_SOLVE)
    assert l1_min(r).value == pytest.approx(l1_min(p).value, rel=t)
    beta = np.full(20, 0.01)
    s = generate("sparse_positive", 20, 8, 2)
    dd = 2.0 ** np.arange(-20, 20, 5)
    x1 = bregman_projection(s.A, s.y, beta, 2).x
    r2, _ = Problem(s.A * dd[:, None], s.y * dd).rescaled()
    x2 = bregman_projection(r2.A, r2.y, beta, 2).x
    np.testing.assert_allclose(x2, x1, rtol=0, atol=t * max(1.0, np.abs(x1).max()))


def test_all_finite_is_exact_even_when_the_sum_overflows():
    from numerics._problem import all_finite

    big = np.full(4, 1e308)  # finite entries whose sum overflows
    assert all_finite(big) and all_finite(np.zeros((0, 3)))
    for bad in (np.inf, -np.inf, np.nan):
        a = big.copy()
        a[2] = bad
        assert not all_finite(a)
    assert not all_finite(np.array([np.inf, -np.inf]))  # inf − inf is nan, still caught
    Problem(np.array([[1e308, 1e308]]), np.ones(1))  # accepted: every entry is finite
