"""Matrix-free operators (issue 17 item 3): the subsampled DCT is the matrix it claims to be, costs
no M×N array, and problems, GD and WN-GD run on it as on the dense matrix."""

from __future__ import annotations

import json
import tracemalloc
import zipfile

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.fft import dct

from numerics._gd import gd, wn_gd
from numerics._operators import (SignedOperator, SubsampledDCT, adjoint_rows, as_operator, forward_rows,
                                 is_operator, operator_from_params, to_dense)
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, tol
from numerics._problem import Problem, generate

RT = tol(DPS_FLOAT64, K_ROUNDOFF)


def _dct_matrix(N):
    """The orthonormal DCT-II matrix, built independently from its formula."""
    i = np.arange(N)[:, None]
    j = np.arange(N)[None, :]
    C = np.cos(np.pi * i * (2 * j + 1) / (2 * N)) * np.sqrt(2.0 / N)
    C[0] /= np.sqrt(2.0)
    return C


@given(N=st.integers(2, 60), frac=st.floats(0.05, 1.0), seed=st.integers(0, 10**6), signs=st.booleans())
def test_subsampled_dct_is_its_matrix(N, frac, seed, signs):
    M = max(1, min(N, int(frac * N)))
    A = SubsampledDCT(N, M, seed, signs=signs)
    C = _dct_matrix(N)
    D = np.sqrt(N / M) * C[A.rows] * A.signs[None, :]
    assert A.shape == (M, N) and A.dtype == np.float64
    assert np.all(np.diff(A.rows) > 0) and set(np.unique(A.signs)) <= {-1.0, 1.0}
    if not signs:
        assert np.all(A.signs == 1.0)
    np.testing.assert_allclose(to_dense(A), D, rtol=0, atol=RT * np.sqrt(N / M))
    rng = np.random.default_rng(seed)
    x, r = rng.standard_normal(N), rng.standard_normal(M)
    X, R = rng.standard_normal((N, 3)), rng.standard_normal((M, 2))
    sc = np.sqrt(N / M) * max(1.0, np.abs(x).sum(), np.abs(X).sum(), np.abs(r).sum(), np.abs(R).sum())
    for got, want in ((A @ x, D @ x), (A.matvec(x), D @ x), (A.rmatvec(r), D.T @ r), (A.T @ r, D.T @ r),
                      (A.H @ r, D.T @ r), (A @ X, D @ X), (A.rmatmat(R), D.T @ R), (A.T @ R, D.T @ R),
                      (forward_rows(A, X.T), X.T @ D.T), (adjoint_rows(A, R.T), R.T @ D)):
        np.testing.assert_allclose(got, want, rtol=0, atol=RT * sc)
    # rows orthogonal: A Aᵀ = (N/M) I; columns of mean squared norm 1
    np.testing.assert_allclose(D @ D.T, (N / M) * np.eye(M), rtol=0, atol=RT * N / M)
    assert abs(np.mean(np.sum(D * D, axis=0)) - 1.0) <= RT * N


def test_dct_is_scipys_and_seeded():
    A = SubsampledDCT(50, 20, 3)
    x = np.linspace(-1, 1, 50)
    np.testing.assert_allclose(A @ x, np.sqrt(50 / 20) * dct(A.signs * x, norm="ortho")[A.rows], rtol=RT)
    B = SubsampledDCT(50, 20, 3)
    assert np.array_equal(A.rows, B.rows) and np.array_equal(A.signs, B.signs)
    C = SubsampledDCT(50, 20, 4)
    assert not (np.array_equal(A.rows, C.rows) and np.array_equal(A.signs, C.signs))
    assert not A.rows.flags.writeable and not A.signs.flags.writeable


def test_a_product_forms_no_dense_matrix():
    N, M = 2**16, 2**14
    A = SubsampledDCT(N, M, 0)
    x, r = np.ones(N), np.ones(M)
    tracemalloc.start()
    try:
        A @ x
        A.T @ r
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 8 * N  # a few length-N work vectors; the matrix would be 8·M·N bytes
    assert 8 * M * N > 100 * peak


def test_signed_operator_is_the_stacked_matrix():
    A = SubsampledDCT(30, 10, 1)
    S = SignedOperator(A)
    D = to_dense(A)
    assert S.shape == (10, 60)
    np.testing.assert_allclose(to_dense(S), np.hstack([D, -D]), rtol=0, atol=RT)
    z = np.arange(60.0)
    np.testing.assert_allclose(S @ z, D @ (z[:30] - z[30:]), rtol=0, atol=RT * np.abs(z).sum())
    r = np.arange(10.0)
    np.testing.assert_allclose(S.T @ r, np.concatenate([D.T @ r, -D.T @ r]), rtol=0, atol=RT * 50)
    assert operator_from_params(S.params()).params() == S.params()
    Sd = SignedOperator(D)  # a dense matrix as the base works the same
    np.testing.assert_allclose(Sd @ z, S @ z, rtol=0, atol=RT * np.abs(z).sum())


def test_as_operator_and_params():
    D = np.arange(6.0).reshape(2, 3)
    op = as_operator(D)
    assert is_operator(op) and not is_operator(D)
    np.testing.assert_array_equal(op @ np.ones(3), D @ np.ones(3))
    A = SubsampledDCT(40, 7, 11, signs=False)
    assert as_operator(A) is A
    assert json.loads(json.dumps(A.params())) == {"kind": "subsampled_dct", "N": 40, "M": 7, "seed": 11,
                                                  "signs": False}
    B = operator_from_params(A.params())
    assert np.array_equal(B.rows, A.rows) and B.use_signs is False
    for bad in ({"kind": "nope"}, {"N": 3}, {"kind": "subsampled_dct", "N": 4}, "x",
                {"kind": "subsampled_dct", "N": 4, "M": 2, "bogus": 1}):
        with pytest.raises(ValueError):
            operator_from_params(bad)
    for args in ((10, 11, 0), (0, 0, 0), (10, 2, 1.5), (True, 1, 0)):
        with pytest.raises(ValueError):
            SubsampledDCT(*args)
    with pytest.raises(ValueError):
        as_operator(np.ones(3))
    with pytest.raises(ValueError, match="entries"):
        to_dense(SubsampledDCT(1000, 500, 0), max_entries=1000)


@pytest.mark.parametrize("kind", ["sparse_positive", "sparse_signed", "gaussian"])
def test_operator_problems(tmp_path, kind):
    p = generate(kind, 64, 20, 5, matrix="dct")
    assert p.matrix_free and p.meta["operator"] == p.A.params() == p.operator_params
    d = p.dense()
    assert not d.matrix_free and d.A.shape == (20, 64) and not d.A.flags.writeable
    np.testing.assert_allclose(d.A @ p.x_true, p.y, rtol=0, atol=RT * np.abs(p.x_true).sum() * 2)
    np.testing.assert_allclose(to_dense(p.A_eff), d.A_eff, rtol=0, atol=RT)
    assert is_operator(p.A_eff) == p.matrix_free and p.A_eff.shape == (20, p.n)
    path = p.save(tmp_path / "op.npz")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    assert "A.npy" not in names and "operator.npy" in names  # parameters, not the matrix, never a pickle
    q = Problem.load(path)
    assert q.matrix_free and q.operator_params == p.operator_params and q.model == p.model
    np.testing.assert_array_equal(q.A @ p.x_true, p.A @ p.x_true)
    assert q.scale_issues() == ()
    with pytest.raises(ValueError, match="matrix-free"):
        p.rescaled()
    assert generate(kind, 64, 20, 5, matrix="dct").operator_params == p.operator_params
    assert generate(kind, 64, 20, 6, matrix="dct").operator_params != p.operator_params


def test_operator_problem_files_are_checked(tmp_path):
    y = np.ones(4)
    bad = tmp_path / "bad.npz"
    np.savez(bad, operator=np.array(json.dumps({"kind": "nope"})), y=y)
    with pytest.raises(ValueError, match="operator"):
        Problem.load(bad)
    both = tmp_path / "both.npz"
    np.savez(both, A=np.ones((4, 8)), operator=np.array(json.dumps(SubsampledDCT(8, 4, 0).params())), y=y)
    with pytest.raises(ValueError, match="both"):
        Problem.load(both)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, operator=np.array(json.dumps(SubsampledDCT(8, 3, 0).params())), y=y)
    with pytest.raises(ValueError, match="shape mismatch"):
        Problem.load(wrong)

    class NoParams(SubsampledDCT):
        params = None

    p = Problem(NoParams(8, 4, 0), y)
    with pytest.raises(ValueError, match="params"):
        p.save(tmp_path / "x.npz")


@pytest.mark.parametrize("model", ["positive", "signed"])
def test_effective_and_user_coordinates(model):
    p = generate("sparse_signed", 12, 5, 0, model=model)
    x = np.linspace(-1.0, 1.5, 12) if model == "signed" else np.linspace(0.0, 1.5, 12)
    e = p.to_eff(x)
    assert e.shape == (p.n,)
    assert np.array_equal(p.to_user(e), x)
    np.testing.assert_allclose(p.A_eff @ e, p.A @ x, rtol=0, atol=RT * 10)
    if model == "signed":
        assert np.all(e >= 0) and np.all(e[:12] * e[12:] == 0)
    X = np.stack([x, 2 * x])
    assert np.array_equal(p.to_user(p.to_eff(X)), X) and p.to_eff(X).shape == (2, p.n)
    xm = np.array([mpmath.mpf(v) for v in x], dtype=object)
    em = p.to_eff(xm)
    assert em.dtype == object and all(isinstance(v, mpmath.mpf) for v in em)
    assert list(p.to_user(em)) == list(xm)
    assert p.to_user(list(em)) == list(xm)  # lists stay lists
    with pytest.raises(ValueError, match="entries"):
        p.to_eff(np.ones(5))
    with pytest.raises(ValueError, match="entries"):
        p.to_user(np.ones(p.n + 1))


@pytest.mark.parametrize("model", ["positive", "signed"])
def test_gd_and_wn_gd_on_the_operator_match_the_dense_matrix(model):
    p = generate("sparse_signed", 96, 30, 2, matrix="dct", model=model)
    d = p.dense()
    # step sizes at which the loss decreases monotonically (a larger one is chaotic: roundoff grows)
    mus = np.array([0.01, 0.02])
    kw = dict(L=2, r0=1.0, eta_r=0.2, eta_u=1.0, mu=mus, steps=400, loss_tol=0.0, stop_when_all_done=False,
              record_every=1)
    a, b = wn_gd(p.A_eff, p.y, **kw), wn_gd(d.A_eff, d.y, **kw)
    assert np.all(np.diff(b.loss, axis=0) <= 0)
    t = tol(DPS_FLOAT64, K_ACCUMULATED)
    np.testing.assert_allclose(a.loss, b.loss, rtol=t, atol=0)
    np.testing.assert_allclose(a.x, b.x, rtol=0, atol=t * np.abs(b.x).max())
    assert a.loss[-1].max() < 0.2 * a.loss[0].max()  # it does descend
    one = wn_gd(p.A_eff, p.y, **{**kw, "mu": 0.02})
    np.testing.assert_allclose(one.x[0], a.x[1], rtol=0, atol=t * np.abs(b.x).max())
    g1 = gd(p.A_eff, p.y, L=3, w0=np.full(p.n, 0.2), mu=0.1, steps=300)
    g2 = gd(d.A_eff, d.y, L=3, w0=np.full(p.n, 0.2), mu=0.1, steps=300)
    np.testing.assert_allclose(g1.loss, g2.loss, rtol=t, atol=0)


def test_gd_takes_any_linear_operator():
    from scipy.sparse.linalg import aslinearoperator

    p = generate("sparse_positive", 40, 12, 1)
    kw = dict(L=2, r0=1.0, eta_r=0.3, eta_u=1.0, mu=np.array([0.01, 0.02]), steps=200)
    a = wn_gd(aslinearoperator(p.A), p.y, **kw)
    b = wn_gd(p.A, p.y, **kw)
    np.testing.assert_allclose(a.loss, b.loss, rtol=tol(DPS_FLOAT64, K_ACCUMULATED), atol=0)
    with pytest.raises(ValueError, match="float64"):
        wn_gd(aslinearoperator(p.A.astype(np.float32)), p.y, **kw)


def test_problems_and_gd_import_without_scipy_sparse():
    """Reading a problem or running GD on an array costs no scipy import (commands stay quick)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, numerics._problem as P, numerics._gd as G\n"
            "p = P.generate('sparse_signed', 12, 4, 0)\n"
            "G.wn_gd(p.A_eff, p.y, L=2, r0=1.0, eta_r=0.1, eta_u=1.0, mu=0.01, steps=5)\n"
            "assert not P.is_operator(p.A) and not p.matrix_free\n"
            "assert 'scipy.sparse.linalg' not in sys.modules, 'scipy.sparse.linalg was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
