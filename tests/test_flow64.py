"""Float64 integration: invariants along the trajectory, monotone loss, honest statuses, the limit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, strategies as st

from numerics import Status
from numerics._config import FlowConfig
from numerics import _formulas as F
from numerics import _steady
from numerics._flow64 import _Flow, _Shifted, integrate64 as integrate, invariant_h
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, tol
from numerics._problem import Problem, generate

RTOL = 1e-12
FULL = "auto-full"  # (r, log u): the invariant and ‖u‖ − 1 are checks, not true by construction (docs/math.md §6.3)
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
    res = integrate(p, cfg, t_max=50.0, rtol=RTOL, loss_tol=0.0, method=FULL)
    assert res.status is Status.NOT_CONVERGED  # loss_tol 0 is never reached: never a claimed limit
    assert len(res.t) > 5
    # h ∈ range(Aᵀ) (docs/math.md §3.3–3.5), computed from the (r, log u) state: not by construction
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
    res = integrate(p, cfg, t_max=5.0, rtol=RTOL, loss_tol=0.0, method=FULL)
    from numerics._quantities import kernel_projector
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
    """docs/math.md §4 "at every finite time": x(t) = Bregman projection of β(t) onto {Az = Ax(t)}."""
    from numerics import _bregman as bregman

    p = _problem(seed, 12, 5)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=eta_tilde, eta_u=1.0, rates=rates)
    # (r, log u): in the dual coordinates λ the state is this projection by construction (§6.3)
    res = integrate(p, cfg, t_max=30.0, rtol=RTOL, loss_tol=0.0, method=FULL)
    assert res.diagnostics.coordinates == "r_log_u"
    A = p.A_eff
    x = res.x_final
    log_rho = F.log_rho(res.r_final, cfg.r0, cfg.eta_tilde) if rates == "constant" else 0.0
    log_beta = F.log_beta(np.log(cfg.w0_for(p.n)), log_rho, L)
    pr = bregman.bregman_projection(A, A @ x, None, L, log_beta=log_beta)
    assert pr.status is Status.CONVERGED
    assert np.linalg.norm(pr.x - x) <= INV_TOL * np.linalg.norm(x)


@given(seed=st.integers(0, 10_000), L=st.integers(2, 3), eta_tilde=st.floats(0.3, 2.0))
def test_limit_is_the_bregman_projection_and_gap_within_bound(seed, L, eta_tilde):
    from numerics._quantities import analyze

    p = _problem(seed, 12, 5)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=eta_tilde, eta_u=1.0)
    ny2 = float(p.y @ p.y)
    res = integrate(p, cfg, t_max=1e7, rtol=RTOL, loss_tol=0.5 * ny2 * 1e-18, method=FULL)
    assume(res.status is Status.CONVERGED)  # the finite-time test above covers every draw
    rep = analyze(p, cfg, res.r_final, res.u_final, log_u=res.log_u_final)
    assert rep.bregman_status is Status.CONVERGED
    assert rep.bregman_mismatch <= 1e-7
    assert rep.invariant_residual <= INV_TOL
    assert rep.l1_gap_S >= -tol(DPS_FLOAT64, K_SOLVE)  # ℓ1 minimal value is a lower bound
    if rep.bound_applies:
        assert rep.l1_gap_S <= rep.l1_bound


def test_rates_r2_and_plain_have_no_magnification():
    from numerics._quantities import analyze

    p = _problem(4, 12, 5)
    for rates in ("r2", "plain"):
        cfg = FlowConfig(L=2, r0=0.5, rates=rates)
        res = integrate(p, cfg, t_max=1e7, rtol=RTOL, loss_tol=0.5 * float(p.y @ p.y) * 1e-20, method=FULL)
        assert res.status is Status.CONVERGED, res.message
        rep = analyze(p, cfg, res.r_final, res.u_final, log_u=res.log_u_final)
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
    CHECK_FACTOR = _steady.CHECK_FACTOR

    problem = generate("sparse_positive", 8, 3, 2)
    config = FlowConfig(L=2, r0=1.0, eta_r=0.3, eta_u=1.0)
    dense = np.linspace(0.5, 2000.0, 4000)
    res = integrate(problem, config, t_max=2000.0, checkpoints=dense)
    assert np.isfinite(res.steady.movement), res.message
    t_ref, t_now = res.steady.between
    assert t_now >= CHECK_FACTOR * t_ref * (1 - 1e-12), (t_ref, t_now)


# -- budgets, non-finite values, scale, honest messages (issues 12 and 13) ----------------
#
# Hang guards, not speed tests: each bounds the run by a time_limit of a few seconds and asserts
# only (loosely) that it returned.

HANG_GUARD_S = 60.0


@pytest.mark.parametrize("r0", [1e160, 1e308])
def test_overflowing_initial_radius_diverges_promptly(r0):
    """``solve --r0 1e308 --time-limit 10`` never returned: scipy's step loop spun on a NaN error
    estimate, where neither the wall budget nor the divergence test was reached."""
    import time

    p = _problem(0, 10, 4)
    t0 = time.perf_counter()
    res = integrate(p, FlowConfig(L=2, r0=r0, eta_r=0.1), time_limit=5.0)
    assert time.perf_counter() - t0 < HANG_GUARD_S
    assert res.status is Status.DIVERGED and "not finite" in res.message, res.message


def test_nan_inside_the_step_loop_ends_the_run(monkeypatch):
    """A field that turns NaN mid-run (inside scipy's step, where the old code spun for ever)."""
    import time

    calls = {"n": 0}
    real = _Flow._rhs

    def poisoned(self, t, z, shift=None):
        calls["n"] += 1
        out = real(self, t, z, shift)
        return out * np.nan if calls["n"] > 300 else out

    monkeypatch.setattr(_Flow, "_rhs", poisoned)
    p = _problem(1, 10, 4)
    t0 = time.perf_counter()
    res = integrate(p, FlowConfig(L=2, r0=1.0, eta_r=0.5), t_max=1e4, time_limit=5.0, method=FULL)
    assert time.perf_counter() - t0 < HANG_GUARD_S
    assert res.status is Status.DIVERGED and "non-finite" in res.message, res.message
    assert res.t_final > 0 and np.isfinite(res.r_final)


def test_time_limit_is_honoured_inside_the_step_loop():
    """The budget is checked in every evaluation of the field, i.e. inside scipy's step: a progress
    callback that spends the whole budget at the first checkpoint ends the run at the next step."""
    import time

    p = _problem(2, 10, 4)
    seen = []

    def slow(t, lo):
        seen.append(t)
        if len(seen) == 2:  # the first checkpoint after t = 0, inside the step loop
            time.sleep(0.3)

    res = integrate(p, FlowConfig(L=3, r0=1.0, eta_r=0.05), t_max=1e8, time_limit=0.2, progress=slow)
    assert res.status is Status.TIME_LIMIT, res.message
    assert "time_limit = 0.2 s" in res.message and "not a limit" in res.message
    assert res.t_final < 1.0
    with pytest.raises(ValueError, match="time_limit"):
        integrate(p, FlowConfig(), time_limit=0.0)


def test_underflowing_loss_is_never_converged():
    """A and y scaled by 1e-310: the squared loss underflows to 0 and was reported converged."""
    p = _problem(3, 10, 4)
    q = Problem(p.A * 1e-310, p.y * 1e-310, p.model)
    res = integrate(q, FlowConfig(L=2, r0=1.0, eta_r=0.3), time_limit=20.0)
    assert res.status is not Status.CONVERGED
    assert res.status is Status.FAILED and "rescale" in res.message, res.message


def test_residual_tolerance_is_relative_and_safe():
    """The convergence test compares ‖Ax − y‖ (scaled, no underflow) with 1e-6‖y‖: scaling A and y by
    a common factor that keeps the squares representable gives the same verdict at the rescaled time."""
    p = _problem(4, 10, 4)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)
    a = integrate(p, cfg, t_max=1e6)
    c = 1e-3
    b = integrate(Problem(p.A * c, p.y * c, p.model), cfg, t_max=1e6 / c ** 2)
    assert a.status is Status.CONVERGED, a.message
    assert b.status is Status.CONVERGED, b.message
    assert _steady.residual_tol(b_problem := Problem(p.A * c, p.y * c, p.model)) == pytest.approx(
        c * _steady.residual_tol(p))
    assert b.loss_tol == pytest.approx(c ** 2 * a.loss_tol) and b_problem.n == p.n
    assert abs(b.r_final - a.r_final) <= 1e-6 * a.r_final


def test_zero_data_is_trivial():
    """y = 0: the default loss tolerance was 0, so the run could never converge and the advice said
    "try a larger t_max"."""
    p = _problem(5, 10, 4)
    res = integrate(Problem(p.A, np.zeros(p.M), p.model), FlowConfig(), t_max=10.0)
    assert res.status is Status.TRIVIAL, res.message
    assert "y = 0" in res.message and "t_max" not in res.message


def test_advice_names_no_api_only_knobs():
    p = _problem(6, 12, 5)
    res = integrate(p, FlowConfig(L=3, r0=1.0, eta_r=0.1), t_max=0.5)
    assert res.status is Status.NOT_CONVERGED
    for knob in ("max_steps", "max_iter", "nu0", "method=", "Radau", "--"):
        assert knob not in res.message, (knob, res.message)


@given(seed=st.integers(0, 10_000), L=st.integers(2, 5), rates=st.sampled_from(["constant", "r2", "plain"]),
       tiny=st.booleans())
def test_log_form_field_matches_the_derived_field(seed, L, rates, tiny):
    """The integrator's log-form field (v̇ = u̇/u written out) against the field assembled from
    numerics._derived (which tests/test_fields.py checks against numerics._fields), also where some
    u_i underflow (the derived form then switches to the log form itself: compared on the others)."""
    p = _problem(seed, 9, 4)
    cfg = FlowConfig(L=L, r0=1.1, eta_r=0.4, eta_u=1.3, rates=rates)
    rng = np.random.default_rng(seed)
    v = np.log(rng.uniform(0.05, 1.0, p.n))
    if tiny:
        v[0] = -700.0  # u_0 ~ 1e-304: below 1e-280
    z = np.concatenate([[rng.uniform(0.5, 2.0)], v])
    fast = _Flow(p.A, p.y, cfg).rhs(0.0, z)
    derived = _Flow(p.A, p.y, cfg, use_derived=True)
    ref = derived.rhs(0.0, z)
    assert derived.divided == (1 if tiny else 0)
    assert np.max(np.abs(fast - ref)) <= tol(DPS_FLOAT64, K_ROUNDOFF) * np.max(np.abs(ref))
    # the hot path is the generated wn_log_u_dot evaluated in place
    from numerics import _derived as D

    r, u = z[0], np.exp(v)
    m2 = float(u @ u)
    w = r * u / np.sqrt(m2)
    g = p.A_eff.T @ (p.A_eff @ w ** L - p.y)
    sigma = (L / r) * float(w ** L @ g)
    e_u = {"constant": cfg.eta_u, "r2": 1.0, "plain": m2 / r ** 2}[rates]
    gen = D.wn_log_u_dot(r, w, g, sigma, m2, e_u, L, np)
    assert np.max(np.abs(fast[1:] - gen)) <= tol(DPS_FLOAT64, K_ROUNDOFF) * np.max(np.abs(gen))


@pytest.mark.parametrize("rates", ["constant", "r2", "plain"])
@pytest.mark.parametrize("L", [2, 3, 4])
def test_structured_jacobian_and_woodbury_solve(rates, L):
    """diag(d) + U Vᵀ (never formed by the solver) is the dense Jacobian, and the Woodbury solve of
    (I − cJ) x = b is the dense one (BDF's Newton systems)."""
    from numerics._flow64 import _LowRank, _Scaled, _StructuredBDF

    p = _problem(4, 9, 4)
    cfg = FlowConfig(L=L, r0=1.2, eta_r=0.3, eta_u=1.7, rates=rates)
    f = _Flow(p.A, p.y, cfg)
    rng = np.random.default_rng(L)
    z = np.concatenate([[1.4], np.log(rng.uniform(0.1, 1.0, p.n))])
    systems = [(f.jac, f.jac_lowrank, z)]
    if rates == "constant":
        sh = _Shifted(f, cfg.r0, cfg.eta_tilde)
        systems.append((sh.jac, sh.jac_lowrank, sh.to_p(z)))
    for dense, lowrank, zz in systems:
        J = dense(0.0, zz)
        d, U, V = lowrank(0.0, zz)
        assert np.max(np.abs(np.diag(d) + U @ V.T - J)) <= tol(DPS_FLOAT64, K_ROUNDOFF) * np.max(np.abs(J))
        b = rng.standard_normal(zz.size)
        for c in (1e-3, 0.7, 50.0):
            lu = _StructuredBDF._lu(type("S", (), {"nlu": 0})(), _Scaled(c, _LowRank(d, U, V)))
            x = _StructuredBDF._solve(lu, b)
            ref = np.linalg.solve(np.eye(zz.size) - c * J, b)
            assert np.max(np.abs(x - ref)) <= tol(DPS_FLOAT64, K_SOLVE) * np.linalg.cond(np.eye(zz.size) - c * J) \
                * np.max(np.abs(ref))


@pytest.mark.parametrize("L", [2, 3])
def test_shifted_coordinates_field_and_jacobian(L):
    """The shifted coordinates p = log u + s(r) (numerics._flow64.SHIFT_CONSTANT_RATES): field ṗ = v̇ + s'(r) ṙ, Jacobian by the chain rule."""
    p = _problem(3, 9, 4)
    cfg = FlowConfig(L=L, r0=1.2, eta_r=0.3, eta_u=1.7)
    f = _Flow(p.A, p.y, cfg)
    sh = _Shifted(f, cfg.r0, cfg.eta_tilde)
    rng = np.random.default_rng(1)
    z = sh.to_p(np.concatenate([[1.4], np.log(rng.uniform(0.1, 1.0, p.n))]))
    zv = sh.to_v(z)
    s = F.s_of_r(z[0], cfg.r0, cfg.eta_tilde)
    assert np.allclose(zv[1:], z[1:] - s, rtol=0, atol=1e-14)
    fv = f.rhs(0.0, zv)
    fp = sh.rhs(0.0, z)
    assert fp[0] == fv[0] and np.allclose(fp[1:], fv[1:] + z[0] / cfg.eta_tilde * fv[0], rtol=1e-15, atol=0)
    J = sh.jac(0.0, z)
    h = 1e-6
    Jn = np.column_stack([(sh.rhs(0, z + h * e) - sh.rhs(0, z - h * e)) / (2 * h) for e in np.eye(z.size)])
    assert np.max(np.abs(J - Jn)) <= 1e-8 * np.max(np.abs(Jn))


def test_small_eta_accuracy_matches_a_tight_reference():
    """At small η̃ (s(r) ≈ 150 here) the step tolerance must still be a relative accuracy on every
    weight: x_final and the invariant against an rtol 1e-13 run.  The shifted coordinates
    (r, log u + s(r)) with atol = rtol miss this (x error 9e-9, invariant 1.6e-9, measured once with
    numerics._flow64.SHIFT_CONSTANT_RATES = True); (r, log u) reaches 1e-11 on both."""
    import numerics._flow64 as F64
    p = generate("sparse_positive", 60, 15, 0, k=4, model="positive")
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.02, eta_u=1.0)
    kw = dict(method="DOP853", t_max=100.0, loss_tol=0.0)
    ref = integrate(p, cfg, rtol=1e-13, **kw)
    res = integrate(p, cfg, rtol=1e-10, **kw)
    assert F.s_of_r(res.r_final, 1.0, cfg.eta_tilde) > 100
    sup = ref.x_final > 1e-6 * np.max(ref.x_final)
    assert np.max(np.abs(res.x_final[sup] - ref.x_final[sup]) / ref.x_final[sup]) <= 1e-9
    assert res.invariant_residual[-1] <= 1e-10
    assert res.diagnostics.coordinates == "r_log_u" and not F64.SHIFT_CONSTANT_RATES


def test_loss_monotone_at_every_accepted_step():
    """FlowResult.max_step_increase/steps_checked: ‖Ax − y‖ compared at every accepted step of the
    solver, not at ~20 checkpoints (claim C2)."""
    p = _problem(8, 10, 4)
    res = integrate(p, FlowConfig(L=2, r0=1.0, eta_r=0.3), t_max=100.0, rtol=RTOL, loss_tol=0.0)
    assert res.steps_checked == res.nsteps and res.steps_checked > len(res.t)
    r_first = np.sqrt(2 * res.loss[0])
    assert 0.0 <= res.max_step_increase <= tol(DPS_FLOAT64, K_ACCUMULATED) * r_first
    assert res.loss_tol == 0.0
    assert res.loss_increases == 0 and res.max_rel_loss_increase == 0.0


def test_limit_estimate_failure_is_not_replaced_by_x_of_t(monkeypatch):
    """A failing Bregman projection gave "converged" on the movement of x(t); now that checkpoint
    gives no verdict, and a programming error in the projection propagates."""
    import numerics._bregman as B

    real = B.bregman_projection
    p = _problem(9, 10, 4)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)

    def failing(*a, **k):
        r = real(*a, **k)
        return B.ProjectionResult(x=None, nu=r.nu, status=Status.FAILED, message="planted failure", iterations=0,
                                  residual=float("inf"), dps=None, L=r.L, tol=r.tol)

    monkeypatch.setattr(B, "bregman_projection", failing)
    res = integrate(p, cfg, t_max=1e5)
    assert res.status is Status.NOT_CONVERGED, res.message
    assert res.steady.estimate_failures > 0 and "planted failure" in res.message

    def broken(*a, **k):
        raise TypeError("a programming error")

    monkeypatch.setattr(B, "bregman_projection", broken)
    with pytest.raises(TypeError, match="programming error"):
        integrate(p, cfg, t_max=1e5)


def test_residual_below_float64_rounding_level_is_not_converged():
    """A tolerance below float64's rounding level of ‖Ax − y‖ cannot be certified by a residual
    that happens to pass it: y scaled by 1e-10 against O(1) weights gave "converged" on a residual
    of 3e-17 while the rounding level of ‖Ax − y‖ there is about 1e-15."""
    import dataclasses

    from numerics._problem import generate

    p = generate("sparse_positive", 8, 4, 1)
    q = dataclasses.replace(p, y=p.y * 1e-10, x_true=None)
    res = integrate(q, FlowConfig(), t_max=1e6, time_limit=120)
    assert res.status is Status.NOISE_FLOOR, res.message
    assert "rounding level" in res.message
    # the same problem in its own units converges
    assert integrate(p, FlowConfig(), t_max=1e6, time_limit=120).status is Status.CONVERGED


# -- the typed result and the shared bookkeeping (numerics._steady) -----------------------


def test_result_fields_are_typed_and_filled():
    from numerics._results import Float64Diagnostics, SteadyState

    p = _problem(10, 12, 5)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)
    res = integrate(p, cfg, t_max=1e6)
    assert res.status is Status.CONVERGED, res.message
    assert isinstance(res.diagnostics, Float64Diagnostics) and res.diagnostics.rtol == _steady.DEFAULT_RTOL_64
    assert isinstance(res.steady, SteadyState) and res.steady.movement <= res.steady.limit_tol
    assert res.steady.limit_tol == _steady.default_limit_tol(rtol=res.diagnostics.rtol)
    assert res.steady.between[1] >= _steady.CHECK_FACTOR * res.steady.between[0] * (1 - 1e-12)
    assert not hasattr(res, "extras")
    for vec, size in ((res.u_final, p.n), (res.log_u_final, p.n), (res.x_final, p.n), (res.x_user, p.N)):
        assert isinstance(vec, np.ndarray) and vec.dtype == float and vec.shape == (size,)
    assert np.array_equal(np.exp(res.log_u_final), res.u_final)
    assert np.allclose(res.x_user, p.to_user(res.x_final))
    assert res.loss_final_exact == pytest.approx(0.5 * float(np.sum((p.A_eff @ res.x_final - p.y) ** 2)),
                                                 rel=1e-6, abs=1e-300)
    assert res.loss_final_exact <= res.loss_tol
    d = res.to_dict()
    assert d["status"] == "converged" and d["diagnostics"]["rtol"] == res.diagnostics.rtol
    # the coordinates are typed: the default stays in λ here (the invariant is not checked), auto-full does not
    assert res.diagnostics.coordinates == "lambda" and res.diagnostics.invariant_checked_from is None
    assert d["diagnostics"]["coordinates"] == "lambda" and d["diagnostics"]["invariant_checked_from"] is None
    full = integrate(p, cfg, t_max=1e6, method=FULL).to_dict()["diagnostics"]
    assert full["coordinates"] == "r_log_u" and full["invariant_checked_from"] == 0.0
    with pytest.raises(ValueError, match="coordinates"):
        Float64Diagnostics(rtol=1e-10, atol=1e-10, field="", coordinates="polar")
    with pytest.raises(ValueError, match="invariant_checked_from"):
        Float64Diagnostics(rtol=1e-10, atol=1e-10, field="", coordinates="lambda", invariant_checked_from=0.0)


def test_auto_switches_on_its_stiffness_estimate():
    """``auto``: DOP853 until its own stiffness estimate (h·λ > 6.1 for 15 steps) says the steps are
    stability-bound, then BDF; the switch is recorded.  The stiff tail of WN-GF (docs/math.md §6)."""
    p = _problem(11, 12, 5)
    cfg = FlowConfig(L=3, r0=1.0, eta_r=0.1)
    res = integrate(p, cfg, t_max=1e5, loss_tol=0.0, rtol=RTOL, method=FULL)
    switches = res.diagnostics.method_switches
    assert len(switches) == 1 and switches[0][0] == "BDF" and 0 < switches[0][1] < 1e5, switches
    dop = integrate(p, cfg, t_max=switches[0][1], loss_tol=0.0, method="DOP853", rtol=RTOL)
    assert dop.diagnostics.method_switches == ()
    assert np.max(res.invariant_residual) <= INV_TOL


def test_limit_tol_follows_the_step_tolerance():
    assert _steady.default_limit_tol() == pytest.approx(1e-7)
    assert _steady.default_limit_tol(rtol=1e-12) == pytest.approx(1e-9)
    assert _steady.default_limit_tol(rtol=1e-16) == tol(DPS_FLOAT64, K_SOLVE)  # float64's own floor


def test_steady_test_in_both_arithmetics():
    import mpmath

    from numerics._arith import mp_array
    from numerics._precision import workdps

    for dps in (None, 40):
        ctx = workdps(dps) if dps else np.errstate()
        with ctx:
            mk = (lambda v: mp_array(v)) if dps else (lambda v: np.asarray(v, dtype=float))
            num = mpmath.mpf if dps else float
            st = _steady.SteadyTest(dps=dps)
            x = mk([1, 2, 3])
            assert st.due(1.0) and not st.offer(1.0, x, num(2), num(0))
            assert not st.due(1.5)  # not a factor CHECK_FACTOR later
            eps = num(10) ** (-38) if dps else 1e-12  # below limit_tol: 1e-35 at dps 40, 1e-7 in float64
            assert st.due(2.0) and st.offer(2.0, x + eps, num(2), num(0))
            rec = st.record()
            assert rec.between == (1.0, 2.0) and 0 < rec.x_movement < 1e-11
            # a movement above the tolerance is not settled
            st2 = _steady.SteadyTest(dps=dps)
            st2.offer(1.0, x, num(2), num(0))
            big = num(10) ** (-20) if dps else 1e-5
            assert not st2.offer(2.0, x * (1 + big), num(2), num(0))
            assert "moving" in st2.unsettled_message()


def test_loss_monitor_counts_increases_beyond_the_noise():
    mon = _steady.LossMonitor(noise=1e-10, ny=1.0)
    for lo in (1.0, 0.5, 0.5 * (1 + 1e-12), 0.6, 0.1):
        mon.step(lo, np.sqrt(2 * lo))
    rec = mon.record()
    assert rec.steps_checked == 4 and rec.loss_increases == 1
    assert rec.max_rel_loss_increase == pytest.approx(0.2 / (1 + 1e-12), rel=1e-9)
    assert rec.max_step_increase == pytest.approx(np.sqrt(1.2) - np.sqrt(1.0 + 1e-12), rel=1e-9)
    assert "1 time(s)" in mon.warning()


def test_default_loss_tol_is_defined_once():
    import numerics._flow64 as f64

    p = _problem(12, 10, 4)
    ny = np.linalg.norm(p.y)
    assert _steady.default_loss_tol(p) == pytest.approx(0.5 * (1e-6 * ny) ** 2)
    assert _steady.default_loss_tol(p, 30) == pytest.approx(0.5 * (tol(30, K_ROUNDOFF) * ny) ** 2)
    assert not hasattr(f64, "default_loss_tol") and not hasattr(f64, "LIMIT_TOL")
