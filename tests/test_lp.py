"""ℓ1 references (HiGHS) against an independent enumeration of basic feasible solutions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import Status
from numerics._lp import l1_min, least_squares_residual
from numerics._precision import DPS_FLOAT64, K_SOLVE, tol
from numerics._problem import Problem, generate

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


# -- scale handled, not misdiagnosed (issue 13) ------------------------------------------------

def _base(model):
    return generate("sparse_positive" if model == "positive" else "sparse_signed", 20, 8, 0, model=model)


@pytest.mark.parametrize("model", ["positive", "signed"])
@pytest.mark.parametrize("a_scale, y_scale", [(1e-150, 1e-150), (1e150, 1e150), (1e-150, 1.0), (1.0, 1e-150),
                                              (1e-300, 1e-300), (1e-310, 1e-310)])
def test_scaled_problems_have_the_scaled_optimum(model, a_scale, y_scale):
    """Was: "inconsistent — LP infeasible" (1e-150 on A, a HiGHS model error at 1e150) or an optimum of 0."""
    p = _base(model)
    ref = l1_min(p)
    assert ref.status is Status.CONVERGED
    q = Problem(p.A * a_scale, p.y * y_scale, model)
    res = l1_min(q)
    assert res.status is Status.CONVERGED, res.message
    # {Az = y} scales as z → (y_scale / a_scale) z; the data were rounded once by the scaling
    expected = ref.value * (y_scale / a_scale)
    assert res.value == pytest.approx(expected, rel=tol(DPS_FLOAT64, K_SOLVE))
    assert res.relative_residual <= TOL and res.gap <= TOL
    assert res.scaling is not None and "scaled copy" in res.message
    z_ref = ref.z * (y_scale / a_scale)
    np.testing.assert_allclose(res.z, z_ref, rtol=0, atol=TOL * np.abs(z_ref).max())


def test_row_scales_spanning_300_orders():
    p = _base("signed")
    d = np.logspace(-150, 150, p.M)
    res = l1_min(Problem(p.A * d[:, None], p.y * d, "signed"))
    assert res.status is Status.CONVERGED, res.message
    assert res.value == pytest.approx(l1_min(p).value, rel=TOL)
    assert res.scaling.row_log2.max() - res.scaling.row_log2.min() > 900


def _weighted_vertex_min(A, y):
    """min Σz over {Az = y, z ≥ 0}, enumerating the bases (rank-tested, scale-free)."""
    M, n = A.shape
    best = np.inf
    for cols in itertools.combinations(range(n), M):
        scale = np.abs(A[:, cols]).max(axis=0)
        if np.linalg.matrix_rank(A[:, cols] / scale) < M:
            continue
        zb = np.linalg.solve(A[:, cols], y)
        if np.all(zb * scale >= -1e-12 * np.abs(y).max()):  # each column's contribution, not z itself
            best = min(best, float(np.maximum(zb, 0).sum()))
    return best


@given(seed=st.integers(0, 10_000), span=st.sampled_from([2, 4, 8]))
def test_mixed_column_scales(seed, span):
    """Columns of A scaled by 1e-span … 1e+span: never called inconsistent (a HiGHS model error at wide
    spans); the value is the optimum to within the certified gap, and CONVERGED means within TOL."""
    rng = np.random.default_rng(seed)
    N, M = 7, 3
    A = rng.standard_normal((M, N)) * np.logspace(-span, span, N)[rng.permutation(N)]
    x = np.zeros(N)
    x[rng.choice(N, 2, replace=False)] = rng.uniform(0.5, 2.0, 2)
    p = Problem(A, A @ x, "positive")
    res = l1_min(p)
    assert res.status in (Status.CONVERGED, Status.NOISE_FLOOR), res.message
    # CONVERGED means both within TOL; otherwise the message says which one fell short
    assert (res.status is Status.CONVERGED) == (res.gap <= TOL and res.relative_residual <= TOL)
    if res.status is Status.NOISE_FLOOR:
        assert ("duality gap" in res.message) == (res.gap > TOL)
        assert ("relative residual" in res.message) == (res.relative_residual > TOL)
    if span <= 4 and res.relative_residual <= TOL:  # beyond, the LP's condition lets points within TOL
        # of feasible differ more in value
        expected = _weighted_vertex_min(A, p.y)
        # the certificate is a true bound: value − optimum ≤ gap · value (up to the enumeration's rounding)
        assert res.value - expected <= (res.gap + 1e3 * TOL) * res.value
        assert res.value >= expected * (1 - 1e3 * TOL)
    if span == 2:
        assert res.status is Status.CONVERGED


def test_extreme_column_scales_are_solved():
    """Columns scaled 1e-150 … 1e150: was "inconsistent — try --model signed" (a HiGHS model error).

    float64 cannot price columns whose costs span 300 orders; the dual bound is then computed at
    a precision covering the spread.  Positive model: the nonnegative solution here is unique (the
    truth), so the optimum is Σ x_true/s."""
    s = np.logspace(-150, 150, 20)
    p = _base("positive")
    res = l1_min(Problem(p.A * s, p.y, "positive"))
    assert res.status is Status.CONVERGED, res.message
    assert "digits" in res.message and res.gap <= TOL and res.relative_residual <= TOL
    assert res.value == pytest.approx(float(np.sum(p.x_true / s)), rel=TOL)
    p = _base("signed")
    res = l1_min(Problem(p.A * s, p.y, "signed"))
    assert res.status is Status.CONVERGED, res.message
    assert res.value <= float(np.sum(np.abs(p.x_true / s))) and res.gap <= TOL  # the truth is feasible


def test_uncertified_optimum_is_noise_floor_not_inconsistent():
    """Too large for the high-precision bound: float64's answer, with its certified gap, never "inconsistent"."""
    p = generate("sparse_signed", 100, 40, 0)
    res = l1_min(Problem(p.A * np.logspace(-150, 150, 100), p.y, "signed"))
    assert res.status is Status.NOISE_FLOOR and "duality gap" in res.message
    assert "infeasible" not in res.message.lower()
    assert res.gap > TOL and res.relative_residual <= TOL and np.isfinite(res.value)


def test_zero_y_is_trivial():
    for model in ("positive", "signed"):
        res = l1_min(Problem(_base(model).A, np.zeros(8), model))
        assert res.status is Status.TRIVIAL and res.value == 0.0
        np.testing.assert_array_equal(res.z, np.zeros(20))
        assert "y = 0" in res.message


def test_zero_row_with_nonzero_y_is_inconsistent():
    A = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    res = l1_min(Problem(A, np.array([1.0, 1.0]), "signed"))
    assert res.status is Status.INCONSISTENT and "row 1 of A is zero" in res.message
    ok = l1_min(Problem(A, np.array([3.0, 0.0]), "positive"))  # a zero row with y_i = 0 is vacuous
    assert ok.status is Status.CONVERGED and ok.value == pytest.approx(1.0, rel=TOL)


def _fake_linprog(monkeypatch, first):
    """Make HiGHS answer ``first`` (status, message) to the first LP; later LPs are solved for real."""
    import scipy.optimize

    real = scipy.optimize.linprog
    calls = []

    def fake(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            from scipy.optimize import OptimizeResult

            return OptimizeResult(status=first[0], message=first[1], x=None, fun=None)
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.optimize, "linprog", fake)
    return calls


def test_model_error_is_failed_with_highs_message(monkeypatch):
    _fake_linprog(monkeypatch, (2, "(HiGHS Status 2: Model error)"))
    res = l1_min(_base("positive"))
    assert res.status is Status.FAILED
    assert "Model error" in res.message and "infeasible" not in res.message.lower()


def test_infeasible_verdict_is_confirmed(monkeypatch):
    """HiGHS saying "infeasible" for a problem that has a solution is not passed on as inconsistent."""
    calls = _fake_linprog(monkeypatch, (2, "The problem is infeasible. (HiGHS Status 8: model_status is Infeasible)"))
    res = l1_min(_base("positive"))
    assert len(calls) == 2  # the misfit LP was solved to check
    assert res.status is Status.FAILED and "not called inconsistent" in res.message


def test_time_and_iteration_limits(monkeypatch):
    _fake_linprog(monkeypatch, (1, "Time limit reached. (HiGHS Status 13: model_status is Time limit reached)"))
    res = l1_min(_base("positive"), time_limit=5.0)
    assert res.status is Status.TIME_LIMIT
    calls = _fake_linprog(monkeypatch, (1, "Iteration limit reached."))
    assert l1_min(_base("positive"), time_limit=5.0).status is Status.NOT_CONVERGED
    assert 0 < calls[0]["options"]["time_limit"] <= 5.0
    with pytest.raises(ValueError, match="time_limit"):
        l1_min(_base("positive"), time_limit=0)


def test_least_squares_residual_is_scale_free():
    p = generate("sparse_positive", 20, 8, 0)
    for s in (1e-310, 1e-150, 1e150):
        ls = least_squares_residual(Problem(p.A * s, p.y * s))
        assert ls.consistent and ls.relative <= TOL
    A = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    for s in (1e-310, 1e-200, 1e200):  # was "consistent" at 1e-310: an absolute floor of 1e-300
        bad = least_squares_residual(Problem(A * s, np.array([1.0, 1.0]) * s, "signed"))
        assert not bad.consistent
        assert bad.relative == pytest.approx(1 / np.sqrt(5) / np.sqrt(2), rel=1e-6)
    # a column of scale 1e-200 carries the only direction that fits y
    A = np.array([[1e-200, 1.0, 1.0], [0.0, 1.0, 1.0]])
    assert least_squares_residual(Problem(A, np.array([1e-200, 0.0]), "signed")).relative <= TOL
    assert least_squares_residual(Problem(A, np.zeros(2))).consistent


def test_dual_bound_from_a_support_certifies_the_optimum_and_never_exceeds_it():
    """The weak-duality bound the ℓ1 benchmark uses to judge a solution without an LP optimum."""
    import time as _time

    from numerics._lp import _basis_polish, _dual_lower_bound

    p = generate("sparse_positive", 60, 20, 3)
    ref = l1_min(p)
    A, y, c = p.A_eff, p.y, np.ones(p.n)
    for z in (np.asarray(ref.z), np.asarray(p.x_true), np.asarray(ref.z) + 0.01):  # optimal, truth, worse
        pol = _basis_polish(A, y, c, z, None, _time.monotonic() + 60)
        lb = _dual_lower_bound(A, y, c, z, [] if pol is None else [pol[1]])
        assert lb <= ref.value * (1 + tol(DPS_FLOAT64, K_SOLVE))
    zs = np.asarray(ref.z)
    pol = _basis_polish(A, y, c, zs, None, _time.monotonic() + 60)
    lb = _dual_lower_bound(A, y, c, zs, [pol[1]])
    assert abs(ref.value - lb) <= tol(DPS_FLOAT64, K_SOLVE) * ref.value
