"""Discrete GD / WN-GD: API, batching, divergence, and O(μ) agreement with the flows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import Status
from numerics.config import FlowConfig
from numerics.flow64 import integrate, invariant_h
from numerics.gd import GDResult, gd, gd_problem, wn_gd
from numerics.problem import generate
from numerics.quantities import kernel_projector


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
    # batching is exact: each run alone gives the same numbers
    for b in range(B):
        one = wn_gd(p.A, p.y, L=2, r0=1.0, eta_r=0.3, eta_u=1.0, mu=mu[b], steps=200)
        np.testing.assert_allclose(one.w[0], res.w[b], rtol=1e-13, atol=0)
    # per-run matrices (B, M, n) and data (B, M)
    A3 = np.stack([p.A, 2 * p.A, p.A])
    y3 = np.stack([p.y, 2 * p.y, p.y])
    r3 = gd(A3, y3, L=3, w0=np.full(p.n, 0.3), mu=0.01, steps=100)
    assert r3.w.shape == (3, p.n)
    np.testing.assert_allclose(r3.w[0], r3.w[2], rtol=1e-14)
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
    """MATH.md §6: invariants hold only up to O(μ) drift; GD → GF as μ → 0 (order 1)."""
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
    from numerics import fields

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
