"""Discrete GD / WN-GD: API, batching, divergence, and O(μ) agreement with the flows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import Status
from numerics._config import FlowConfig
from numerics._flow64 import integrate64 as integrate, invariant_h
from numerics._gd import GDResult, gd, gd_problem, wn_gd
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, tol
from numerics._problem import generate
from numerics._quantities import kernel_projector


def _p(seed=0, N=10, M=4, model="positive"):
    return generate("sparse_positive" if model == "positive" else "sparse_signed", N, M, seed, k=2, model=model)


def test_shapes_and_batching():
    p = _p()
    mu = np.array([0.01, 0.05, 0.1])
    res = wn_gd(p.A, p.y, L=2, r0=1.0, eta_r=0.3, eta_u=1.0, mu=mu, steps=200, record_every=50)
    assert isinstance(res, GDResult)
    B, n = 3, p.n
    assert res.w.shape == res.u.shape == res.x.shape == (B, n)
    assert res.r.shape == res.mu.shape == res.hit_tol_at.shape == (B,)
    assert res.loss.shape == (len(res.iters), B) and res.iters[0] == 0 and res.iters[-1] == res.steps
    assert len(res.status) == B and all(isinstance(s, Status) for s in res.status)
    np.testing.assert_allclose(res.x, res.w ** 2)
    # batching changes nothing but rounding: a (3, n) matmul and a (1, n) one may take different BLAS
    # kernels, so the runs agree to the rounding accumulated over 200 steps (a few ulps a step:
    # measured up to 5e-15 here), not bit for bit; tol(15, K_ROUNDOFF) = 1e-12 allows that and no more
    for b in range(B):
        one = wn_gd(p.A, p.y, L=2, r0=1.0, eta_r=0.3, eta_u=1.0, mu=mu[b], steps=200)
        np.testing.assert_allclose(one.w[0], res.w[b], rtol=tol(DPS_FLOAT64, K_ROUNDOFF), atol=0)
    # per-run matrices (B, M, n) and data (B, M)
    A3 = np.stack([p.A, 2 * p.A, p.A])
    y3 = np.stack([p.y, 2 * p.y, p.y])
    r3 = gd(A3, y3, L=3, w0=np.full(p.n, 0.3), mu=0.01, steps=100)
    assert r3.w.shape == (3, p.n)
    np.testing.assert_allclose(r3.w[0], r3.w[2], rtol=tol(DPS_FLOAT64, K_ROUNDOFF))
    assert np.all(np.isnan(r3.r)) and np.all(np.isnan(r3.u))


def test_convergence_and_divergence_status():
    p = _p(1)
    res = gd(p.A, p.y, L=2, w0=np.full(p.n, 0.1), mu=np.array([0.05, 1e3]), steps=50_000, loss_tol=1e-12)
    assert res.status[0] is Status.CONVERGED and res.hit_tol_at[0] > 0
    assert res.status[1] is Status.DIVERGED and res.hit_tol_at[1] == -1
    k = res.hit_tol_at[0]
    assert res.loss[-1, 0] <= 1e-12
    res2 = gd(p.A, p.y, L=2, w0=np.full(p.n, 0.1), mu=0.05, steps=10)
    assert res2.status[0] is Status.NOT_CONVERGED and res2.steps == 10
    assert k > 10


def test_frozen_runs_stop_changing():
    p = _p(2)
    res = wn_gd(p.A, p.y, L=2, r0=1.0, eta_r=0.5, eta_u=1.0, mu=[0.1, 0.01], steps=3000, loss_tol=1e-6,
                stop_when_all_done=False, record_every=1)
    b = 0
    assert res.status[b] is Status.CONVERGED
    k = res.hit_tol_at[b]
    assert np.all(res.loss[k:, b] == res.loss[k, b])


def test_bad_input():
    p = _p()
    with pytest.raises(ValueError, match="L"):
        gd(p.A, p.y, L=2.5, w0=np.ones(p.n), mu=0.1, steps=1)
    with pytest.raises(ValueError, match="mu"):
        gd(p.A, p.y, L=2, w0=np.ones(p.n), mu=-0.1, steps=1)
    with pytest.raises(ValueError, match="w0"):
        gd(p.A, p.y, L=2, w0=np.ones(p.n + 1), mu=0.1, steps=1)
    with pytest.raises(ValueError, match="shape mismatch"):
        gd(p.A, p.y[:-1], L=2, w0=np.ones(p.n), mu=0.1, steps=1)
    with pytest.raises(ValueError, match="r0"):
        wn_gd(p.A, p.y, L=2, r0=0.0, eta_r=1, eta_u=1, mu=0.1, steps=1)
    with pytest.raises(ValueError, match="batch"):
        wn_gd(p.A, p.y, L=2, r0=[1.0, 2.0], eta_r=1, eta_u=1, mu=[0.1, 0.2, 0.3], steps=1)
    with pytest.raises(ValueError, match="steps"):
        gd(p.A, p.y, L=2, w0=np.ones(p.n), mu=0.1, steps=-1)


def _fit_order(mus, errs):
    return float(np.polyfit(np.log(mus), np.log(errs), 1)[0])


@pytest.mark.parametrize("rates", ["constant", "r2", "plain"])
def test_gd_tracks_gf_and_invariant_drift_is_first_order(rates):
    """docs/math.md §6: invariants hold only up to O(μ) drift; GD → GF as μ → 0 (order 1)."""
    p = _p(3, 12, 5)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5, eta_u=1.0, rates=rates)
    T = 2.0
    flow = integrate(p, cfg, t_max=T, rtol=1e-12, loss_tol=0.0)
    x_gf = flow.x_final
    P = kernel_projector(p.A_eff)
    mus = np.array([4e-3, 2e-3, 1e-3, 5e-4])
    drift, err = [], []
    ubar0 = cfg.u0_for(p.n)
    for mu in mus:
        res = gd_problem(p, cfg, mu=mu, steps=int(round(T / mu)), loss_tol=0.0)
        if rates == "plain":
            w = res.w[0]
            r, v = float(np.linalg.norm(w)), np.log(w / np.linalg.norm(w))
        else:
            r, v = float(res.r[0]), np.log(res.u[0])
        h = invariant_h(r, v, cfg, ubar0, cfg.r0)
        drift.append(np.linalg.norm(P(h)))
        err.append(np.linalg.norm(res.x[0] - x_gf) / np.linalg.norm(x_gf))
    assert 0.8 <= _fit_order(mus, drift) <= 1.2, drift
    assert 0.8 <= _fit_order(mus, err) <= 1.2, err


@given(seed=st.integers(0, 1000), L=st.integers(2, 4), mu=st.floats(1e-4, 1e-1))
def test_wn_gd_step_is_the_field_and_unorm_grows_at_second_order(seed, L, mu):
    """One WN-GD step is μ × the WN field; since u̇ ⊥ u, ‖u₁‖² = ‖u₀‖² + μ²‖u̇‖² exactly."""
    from numerics import _fields as fields

    p = _p(seed)
    res = wn_gd(p.A, p.y, L=L, r0=1.3, eta_r=0.3, eta_u=0.7, mu=mu, steps=1, loss_tol=0.0)
    u0 = np.full(p.n, 1 / np.sqrt(p.n))
    r_dot, u_dot = fields.wn_field(p.A, p.y, 1.3, u0, L, 0.3, 0.7)
    assert res.r[0] == pytest.approx(1.3 + mu * r_dot, rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(res.u[0], u0 + mu * u_dot, rtol=1e-13, atol=1e-16)
    m2 = float(res.u[0] @ res.u[0])
    assert m2 - 1 == pytest.approx(mu**2 * float(u_dot @ u_dot), rel=1e-6, abs=1e-15)
    ren = wn_gd(p.A, p.y, L=L, r0=1.3, eta_r=0.3, eta_u=0.7, mu=mu, steps=5, renormalize=True, loss_tol=0.0)
    assert abs(np.linalg.norm(ren.u[0]) - 1) <= 1e-14


def test_time_limit_stops_the_batch():
    """Every long computation takes a wall-clock budget (issue 13): runs not done when it runs out are
    TIME_LIMIT, not NOT_CONVERGED.  A time_limit spent before the first step makes this deterministic."""
    from numerics import Status
    from numerics._gd import gd, wn_gd

    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 8)) / np.sqrt(3)
    y = A @ rng.uniform(0.5, 1.5, 8)
    r = gd(A, y, L=2, w0=np.full(8, 0.1), mu=1e-3, steps=10**9, loss_tol=1e-30, time_limit=1e-9)
    assert r.status == (Status.TIME_LIMIT,) and r.steps < 10**9
    r = wn_gd(A, y, L=2, r0=1.0, eta_r=0.1, eta_u=1.0, mu=1e-3, steps=10**9, loss_tol=1e-30, time_limit=1e-9)
    assert r.status == (Status.TIME_LIMIT,)
    with pytest.raises(ValueError, match="time_limit"):
        gd(A, y, L=2, w0=np.full(8, 0.1), mu=1e-3, steps=10, time_limit=0)


# -- the fused iteration against the update as written in docs/math.md §2.4 ------------------------


def _reference_wn_gd(A, y, L, r0, eta_r, eta_u, mu, steps, u0, rates="constant", renormalize=False):
    """``steps`` WN-GD steps of one run, term by term: ``w = r ū``, ``∇ℒ = L w^{L−1} ⊙ Aᵀ(A w^L − y)``,
    ``σ = ⟨ū, ∇ℒ⟩``, ``r ← r − μη_rσ``, ``u ← u − μη_u (r/‖u‖)(∇ℒ − ūσ)``."""
    r, u = float(r0), np.array(u0, dtype=float) / np.linalg.norm(u0)
    for _ in range(steps):
        m = np.linalg.norm(u)
        ubar = u / m
        w = r * ubar
        grad = L * w ** (L - 1) * (A.T @ (A @ w ** L - y))
        sigma = float(ubar @ grad)
        e_r, e_u = (r * r, 1.0) if rates == "r2" else (eta_r, eta_u)
        r, u = r - mu * e_r * sigma, u - mu * e_u * (r / m) * (grad - ubar * sigma)
        if renormalize:
            u = u / np.linalg.norm(u)
    return r, u


def _reference_gd(A, y, L, w0, mu, steps):
    w = np.array(w0, dtype=float)
    for _ in range(steps):
        w = w - mu * L * w ** (L - 1) * (A.T @ (A @ w ** L - y))
    return w


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("variant", ["constant", "r2", "renormalize"])
def test_fused_wn_gd_matches_the_update_term_by_term(L, variant):
    """The loop computes σ as ⟨A u^L, res⟩ (length M) and the step as u ⊙ (α + β u^{L−2} ⊙ Aᵀres);
    algebraically the same update, so 30 steps agree with the naive one to accumulated rounding."""
    p = _p(4, 14, 6)
    rng = np.random.default_rng(L)
    u0 = rng.uniform(0.5, 1.5, p.n)
    rates = "r2" if variant == "r2" else "constant"
    ren = variant == "renormalize"
    mus = np.array([2e-3, 1e-2])
    res = wn_gd(p.A, p.y, L=L, r0=1.1, eta_r=0.4, eta_u=0.8, mu=mus, steps=30, u0=u0, rates=rates,
                renormalize=ren, loss_tol=0.0)
    for b, mu in enumerate(mus):
        r_ref, u_ref = _reference_wn_gd(p.A, p.y, L, 1.1, 0.4, 0.8, mu, 30, u0, rates, ren)
        assert res.r[b] == pytest.approx(r_ref, rel=tol(DPS_FLOAT64, K_ACCUMULATED))
        np.testing.assert_allclose(res.u[b], u_ref, rtol=tol(DPS_FLOAT64, K_ACCUMULATED), atol=0)
        one = wn_gd(p.A, p.y, L=L, r0=1.1, eta_r=0.4, eta_u=0.8, mu=mu, steps=30, u0=u0, rates=rates,
                    renormalize=ren, loss_tol=0.0)  # the single-run (1-D, gemv) path
        np.testing.assert_allclose(one.u[0], u_ref, rtol=tol(DPS_FLOAT64, K_ACCUMULATED), atol=0)


@pytest.mark.parametrize("L", [2, 3, 4])
def test_fused_gd_matches_the_update_term_by_term(L):
    """Plain GD runs as w ⊙ (1 − μL w^{L−2} ⊙ Aᵀres): the same as w − μL w^{L−1} ⊙ Aᵀres."""
    p = _p(5, 14, 6)
    w0 = np.random.default_rng(L).uniform(0.2, 0.6, p.n)
    res = gd(p.A, p.y, L=L, w0=w0, mu=[1e-3, 5e-3], steps=40, loss_tol=0.0)
    for b, mu in enumerate([1e-3, 5e-3]):
        np.testing.assert_allclose(res.w[b], _reference_gd(p.A, p.y, L, w0, mu, 40),
                                   rtol=tol(DPS_FLOAT64, K_ACCUMULATED), atol=0)


def test_mixed_depths_and_per_run_matrices_follow_the_same_update():
    """A batch with a different L per run (the general-exponent path) and a (B, M, n) stack of
    matrices both give, run by run, the naive update."""
    p = _p(6, 12, 5)
    u0 = np.full(p.n, 1.0)
    res = wn_gd(p.A, p.y, L=[2, 3, 4], r0=1.0, eta_r=0.3, eta_u=1.0, mu=[5e-3] * 3, steps=25, u0=u0, loss_tol=0.0)
    for b, L in enumerate([2, 3, 4]):
        r_ref, u_ref = _reference_wn_gd(p.A, p.y, L, 1.0, 0.3, 1.0, 5e-3, 25, u0)
        np.testing.assert_allclose(res.u[b], u_ref, rtol=tol(DPS_FLOAT64, K_ACCUMULATED), atol=0)
    A3 = np.stack([p.A, 1.5 * p.A])
    y3 = np.stack([p.y, 0.5 * p.y])
    res3 = wn_gd(A3, y3, L=2, r0=1.0, eta_r=0.3, eta_u=1.0, mu=5e-3, steps=25, u0=u0, loss_tol=0.0)
    for b in range(2):
        r_ref, u_ref = _reference_wn_gd(A3[b], y3[b], 2, 1.0, 0.3, 1.0, 5e-3, 25, u0)
        np.testing.assert_allclose(res3.u[b], u_ref, rtol=tol(DPS_FLOAT64, K_ACCUMULATED), atol=0)
        assert res3.r[b] == pytest.approx(r_ref, rel=tol(DPS_FLOAT64, K_ACCUMULATED))


@pytest.mark.parametrize("renormalize", [False, True])
def test_frozen_and_diverged_runs_keep_their_state_exactly(renormalize):
    """A run that converged keeps its (r, u) bit for bit while the others go on (also with
    renormalisation: the frozen u is not divided by its norm again) -- the same batch stopped at
    its hit has the same state -- and a diverged run in the batch does not change the others: they
    match the same run made alone, to rounding."""
    p = _p(2)
    mus = [0.1, 0.01, 50.0]
    kw = dict(L=2, r0=1.0, eta_r=0.5, eta_u=1.0, loss_tol=1e-6, renormalize=renormalize)
    long = wn_gd(p.A, p.y, mu=mus, steps=3000, stop_when_all_done=False, **kw)
    assert long.status[0] is Status.CONVERGED and long.status[2] is Status.DIVERGED
    k = int(long.hit_tol_at[0])
    at_hit = wn_gd(p.A, p.y, mu=mus, steps=k, **kw)  # the same batch, stopped at run 0's hit
    assert long.r[0] == at_hit.r[0] and np.array_equal(long.u[0], at_hit.u[0])
    alone = wn_gd(p.A, p.y, mu=mus[1], steps=3000, stop_when_all_done=False, **kw)
    np.testing.assert_allclose(long.u[1], alone.u[0], rtol=tol(DPS_FLOAT64, K_ACCUMULATED), atol=0)
    assert long.status[1] is alone.status[0]
