"""Float64 integration: invariants along the trajectory, monotone loss, honest statuses, the limit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, strategies as st

from numerics import Status
from numerics.config import FlowConfig
from numerics.flow64 import _Flow, integrate, invariant_h
from numerics.precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, tol
from numerics.problem import Problem, generate

RTOL = 1e-12
INV_TOL = tol(DPS_FLOAT64, K_ACCUMULATED)  # accumulated along a trajectory of many steps


def _problem(seed, N, M, model="positive"):
    kind = "sparse_positive" if model == "positive" else "sparse_signed"
    return generate(kind, N, M, seed, k=2, model=model)


@given(seed=st.integers(0, 10_000), L=st.integers(2, 4), eta_tilde=st.floats(0.2, 3.0),
       rates=st.sampled_from(["constant", "r2", "plain"]), model=st.sampled_from(["positive", "signed"]))
@example(seed=0, L=3, eta_tilde=0.3, rates="constant", model="positive")
def test_invariants_along_trajectory(seed, L, eta_tilde, rates, model):
    p = _problem(seed, 10, 4, model)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=eta_tilde, eta_u=1.0, rates=rates)
    res = integrate(p, cfg, t_max=50.0, rtol=RTOL, loss_tol=0.0)
    assert res.status is Status.NOT_CONVERGED  # loss_tol 0 is never reached: never a claimed limit
    assert len(res.t) > 5
    # h ∈ range(Aᵀ) (MATH.md §3.3–3.5), computed from the (r, log u) state: not by construction
    assert np.max(res.invariant_residual) <= INV_TOL
    # ‖u‖ conserved (§3.1)
    assert np.max(np.abs(res.unorm_dev)) <= INV_TOL
    # the loss never increases (§3.2), up to the integration error of each record
    lo = res.loss
    assert np.all(lo[1:] <= lo[:-1] * (1 + INV_TOL) + tol(DPS_FLOAT64, K_ROUNDOFF) * lo[0])


def test_invariant_check_is_not_vacuous():
    # a state off the trajectory breaks the invariant: the check can fail
    p = _problem(1, 10, 4)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)
    res = integrate(p, cfg, t_max=5.0, rtol=RTOL, loss_tol=0.0)
    from numerics.quantities import kernel_projector
    P = kernel_projector(p.A_eff)
    v = np.log(res.u_final)
    good = P.residual(invariant_h(res.r_final, v, cfg, cfg.u0_for(p.n), 1.0))
    bad = P.residual(invariant_h(res.r_final * 1.01, v, cfg, cfg.u0_for(p.n), 1.0))
    assert good <= INV_TOL < bad


@pytest.mark.parametrize("rates", ["constant", "r2", "plain"])
@pytest.mark.parametrize("L", [2, 3])
def test_jacobian_matches_finite_differences(rates, L):
    p = _problem(2, 9, 4)
    cfg = FlowConfig(L=L, r0=1.2, eta_r=0.3, eta_u=1.7, rates=rates)
    f = _Flow(p.A, p.y, cfg)
    rng = np.random.default_rng(0)
    z = np.concatenate([[1.4], np.log(rng.uniform(0.1, 1.0, p.n))])
    J = f.jac(0.0, z)
    h = 1e-6
    Jn = np.column_stack([(f.rhs(0, z + h * e) - f.rhs(0, z - h * e)) / (2 * h) for e in np.eye(z.size)])
    # central differences: error O(h²)·f''' + eps·f/h ≈ 1e-10 relative
    assert np.max(np.abs(J - Jn)) <= 1e-8 * np.max(np.abs(Jn))


@given(seed=st.integers(0, 10_000), L=st.integers(2, 4), eta_tilde=st.floats(0.1, 2.0),
       rates=st.sampled_from(["constant", "r2", "plain"]))
def test_state_is_bregman_projection_at_every_time(seed, L, eta_tilde, rates):
    """MATH.md §4 "at every finite time": x(t) = Bregman projection of β(t) onto {Az = Ax(t)}."""
    bregman = pytest.importorskip("numerics.bregman", reason="numerics.bregman not available")
    from numerics.flow64 import log_rho_t

    p = _problem(seed, 12, 5)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=eta_tilde, eta_u=1.0, rates=rates)
    res = integrate(p, cfg, t_max=30.0, rtol=RTOL, loss_tol=0.0)
    A = p.A_eff
    x = res.x_final
    log_beta = L * (np.log(cfg.w0_for(p.n)) - log_rho_t(res.r_final, cfg))
    pr = bregman.bregman_projection(A, A @ x, None, L, log_beta=log_beta)
    assert pr.status is Status.CONVERGED
    assert np.linalg.norm(pr.x - x) <= INV_TOL * np.linalg.norm(x)


@given(seed=st.integers(0, 10_000), L=st.integers(2, 3), eta_tilde=st.floats(0.3, 2.0))
def test_limit_is_the_bregman_projection_and_gap_within_bound(seed, L, eta_tilde):
    pytest.importorskip("numerics.bregman", reason="numerics.bregman not available")
    from numerics.quantities import analyze

    p = _problem(seed, 12, 5)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=eta_tilde, eta_u=1.0)
    ny2 = float(p.y @ p.y)
    res = integrate(p, cfg, t_max=1e7, rtol=RTOL, loss_tol=0.5 * ny2 * 1e-18)
    assume(res.status is Status.CONVERGED)  # the finite-time test above covers every draw
    rep = analyze(p, cfg, res.r_final, res.u_final)
    assert rep.bregman_status is Status.CONVERGED
    assert rep.bregman_mismatch <= 1e-7
    assert rep.invariant_residual <= INV_TOL
    assert rep.l1_gap_S >= -tol(DPS_FLOAT64, K_SOLVE)  # ℓ1 minimal value is a lower bound
    if rep.bound_applies:
        assert rep.l1_gap_S <= rep.l1_bound


def test_rates_r2_and_plain_have_no_magnification():
    pytest.importorskip("numerics.bregman")
    from numerics.quantities import analyze

    p = _problem(4, 12, 5)
    for rates in ("r2", "plain"):
        cfg = FlowConfig(L=2, r0=0.5, rates=rates)
        res = integrate(p, cfg, t_max=1e7, rtol=RTOL, loss_tol=0.5 * float(p.y @ p.y) * 1e-20)
        assert res.status is Status.CONVERGED, res.message
        rep = analyze(p, cfg, res.r_final, res.u_final)
        assert rep.log_rho == 0.0
        assert rep.bregman_mismatch <= 1e-7


def test_not_converged_is_honest():
    p = _problem(5, 12, 5)
    res = integrate(p, FlowConfig(L=3, r0=1.0, eta_r=0.1), t_max=0.5)
    assert res.status is Status.NOT_CONVERGED
    assert "not a limit" in res.message and "loss reached" in res.message
    assert res.t_final == pytest.approx(0.5)


def test_inconsistent_positive_model():
    A = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 0.5]])
    p = Problem(A, np.array([-1.0, 1.0]), "positive")
    res = integrate(p, FlowConfig())
    assert res.status is Status.INCONSISTENT
    assert "infeasible" in res.message.lower()


def test_inconsistent_least_squares():
    A = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    p = Problem(A, np.array([1.0, 1.0]), "signed")
    res = integrate(p, FlowConfig())
    assert res.status is Status.INCONSISTENT
    assert "least-squares residual" in res.message


def test_progress_callback_and_methods():
    p = _problem(6, 10, 4)
    seen = []
    for method in ("BDF", "Radau", "DOP853"):
        res = integrate(p, FlowConfig(L=2, eta_r=0.5), t_max=20.0, method=method, progress=lambda t, l: seen.append(t))
        assert res.method == method and res.status is Status.NOT_CONVERGED
    assert seen and all(np.isfinite(seen))


def test_bad_arguments():
    p = _problem(7, 10, 4)
    with pytest.raises(ValueError, match="t_max"):
        integrate(p, FlowConfig(), t_max=-1.0)
    with pytest.raises(ValueError, match="method"):
        integrate(p, FlowConfig(), method="euler")
    with pytest.raises(TypeError, match="config"):
        integrate(p, {"L": 2})


def test_dense_checkpoints_do_not_weaken_the_convergence_test():
    """The movement of the limit estimate is measured over a factor CHECK_FACTOR in time, however
    densely the user samples: neighbouring dense checkpoints would make a slow drift look settled."""
    from numerics.flow64 import CHECK_FACTOR

    problem = generate("sparse_positive", 8, 3, 2)
    config = FlowConfig(L=2, r0=1.0, eta_r=0.3, eta_u=1.0)
    dense = np.linspace(0.5, 2000.0, 4000)
    res = integrate(problem, config, t_max=2000.0, checkpoints=dense)
    assert "limit_movement_between" in res.extras, res.message
    t_ref, t_now = res.extras["limit_movement_between"]
    assert t_now >= CHECK_FACTOR * t_ref * (1 - 1e-12), (t_ref, t_now)
