"""The float64 flow in the dual coordinates λ (numerics._flow64._Reduced, docs/math.md §6.3).

These coordinates hold the invariant by construction, so what is tested here is that they
integrate the *same* flow: the field is the push-forward of the ``(r, log u)`` field, the Jacobian
is the derivative of the field, and every reduced method reaches the state the ``(r, log u)``
engine reaches (whose invariant is a genuine check, tests/test_flow64.py)."""

from __future__ import annotations

import numpy as np
import pytest

import numerics._flow64 as F64
from numerics import Status
from numerics._config import FlowConfig
from numerics._flow64 import _Flow, _Reduced, integrate64 as integrate
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, tol
from numerics._problem import generate

REDUCED = ("auto", "reduced", "reduced-BDF", "reduced-Radau", "reduced-LSODA")


def _problem(seed, N=10, M=4, model="positive"):
    kind = "sparse_positive" if model == "positive" else "sparse_signed"
    return generate(kind, N, M, seed, k=2, model=model)


def _system(p, cfg):
    flow = _Flow(p.A_eff, p.y, cfg)
    return flow, _Reduced(flow, cfg, cfg.u0_for(p.n))


@pytest.mark.parametrize("rates", ["constant", "r2", "plain"])
@pytest.mark.parametrize("L", [2, 3, 4])
def test_field_is_the_push_forward_of_the_full_field(rates, L):
    """d/dt (r, log u)(λ(t)) along λ̇ = f(λ) equals the (r, log u) field at that state (central
    difference along f), and the state has ‖u‖ = 1."""
    p = _problem(3, model="signed" if L == 3 else "positive")
    cfg = FlowConfig(L=L, r0=1.0, eta_r=0.5, eta_u=1.0, rates=rates)
    flow, red = _system(p, cfg)
    lam = np.random.default_rng(L).normal(size=p.A_eff.shape[0]) * 0.1
    zv = red.to_v(lam)
    assert abs(np.linalg.norm(np.exp(zv[1:])) - 1.0) <= tol(DPS_FLOAT64, K_ROUNDOFF)
    f = red.rhs(0.0, lam)
    h = 1e-6
    dz = (red.to_v(lam + h * f) - red.to_v(lam - h * f)) / (2 * h)
    full = flow.rhs(0.0, zv)
    assert np.max(np.abs(dz - full)) <= 1e-8 * np.max(np.abs(full))
    # a wrong coefficient c of λ̇ = −c(Ax − y) is seen, for every rate: the check can fail
    real_coef = red._coef
    red._coef = lambda r, ls: 1.01 * real_coef(r, ls)
    f2 = red.rhs(0.0, lam)
    dz2 = (red.to_v(lam + h * f2) - red.to_v(lam - h * f2)) / (2 * h)
    assert np.max(np.abs(dz2 - full)) > 1e-4 * np.max(np.abs(full))
    if rates == "constant":  # and so is a wrong rate η_u in it
        red._coef = real_coef
        red.eta_u *= 1.01
        f3 = red.rhs(0.0, lam)
        dz3 = (red.to_v(lam + h * f3) - red.to_v(lam - h * f3)) / (2 * h)
        assert np.max(np.abs(dz3 - full)) > 1e-4 * np.max(np.abs(full))


@pytest.mark.parametrize("rates", ["constant", "r2", "plain"])
@pytest.mark.parametrize("L", [2, 3, 4])
def test_jacobian_matches_finite_differences(rates, L):
    p = _problem(4)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=0.3, eta_u=1.0, rates=rates)
    _, red = _system(p, cfg)
    lam = np.random.default_rng(10 + L).normal(size=p.A_eff.shape[0]) * 0.1
    J = red.jac(0.0, lam)
    h = 1e-6
    Jn = np.column_stack([(red.rhs(0.0, lam + h * e) - red.rhs(0.0, lam - h * e)) / (2 * h)
                          for e in np.eye(lam.size)])
    assert np.max(np.abs(J - Jn)) <= 1e-7 * np.max(np.abs(Jn))


@pytest.mark.parametrize("method", REDUCED)
@pytest.mark.parametrize("rates,L", [("constant", 2), ("constant", 3), ("r2", 2), ("plain", 3)])
def test_reduced_methods_reach_the_state_of_the_full_engine(method, rates, L):
    p = _problem(5)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=0.4, eta_u=1.0, rates=rates)
    kw = dict(t_max=30.0, rtol=1e-12, loss_tol=0.0)
    ref = integrate(p, cfg, method="auto-full", **kw)
    res = integrate(p, cfg, method=method, **kw)
    assert res.status is Status.NOT_CONVERGED and res.method == method
    assert ref.diagnostics.coordinates == "r_log_u" and ref.diagnostics.invariant_checked_from == 0.0
    assert res.diagnostics.coordinates == "lambda" and res.diagnostics.invariant_checked_from is None
    assert "by construction" in res.diagnostics.field
    assert np.max(np.abs(res.x_final - ref.x_final)) <= 1e-9 * np.max(ref.x_final)
    assert abs(res.r_final - ref.r_final) <= 1e-10 * ref.r_final
    assert np.allclose(res.loss, ref.loss, rtol=1e-7, atol=0.0) and np.array_equal(res.t, ref.t)
    # by construction here: rounding only (reported, not a check)
    assert np.max(res.invariant_residual) <= tol(DPS_FLOAT64, K_ROUNDOFF)
    assert np.max(np.abs(res.unorm_dev)) <= tol(DPS_FLOAT64, K_ROUNDOFF)


def test_auto_converges_to_the_same_limit_as_the_full_engine():
    p = _problem(6, 12, 5)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)
    a = integrate(p, cfg, t_max=1e6)
    b = integrate(p, cfg, t_max=1e6, method="auto-full")
    assert a.status is Status.CONVERGED and b.status is Status.CONVERGED, (a.message, b.message)
    assert a.steady.movement <= a.steady.limit_tol
    assert np.max(np.abs(a.x_final - b.x_final)) <= 1e-6 * np.max(b.x_final)
    assert a.loss_final_exact <= a.loss_tol and a.steps_checked == a.nsteps


def test_leaving_lambda_for_the_full_coordinates_keeps_the_trajectory(monkeypatch):
    """Forced at once (REDUCED_ROUNDING = 0): the run continues in (r, log u), the switch is
    recorded, the checkpoints before it come from λ's dense output, and the result is the same."""
    monkeypatch.setattr(F64, "REDUCED_ROUNDING", 0.0)
    p = _problem(7)
    cfg = FlowConfig(L=3, r0=1.0, eta_r=0.4)
    kw = dict(t_max=30.0, rtol=1e-12, loss_tol=0.0)
    res = integrate(p, cfg, method="auto", **kw)
    ref = integrate(p, cfg, method="auto-full", **kw)
    sw = res.diagnostics.method_switches
    assert len(sw) >= 1 and sw[0][0] == "DOP853 (r, log u)" and 0 < sw[0][1] < 30.0, sw
    assert "then (r, log u)" in res.diagnostics.field
    assert res.diagnostics.coordinates == "lambda_then_r_log_u" and res.diagnostics.invariant_checked_from == sw[0][1]
    assert res.to_dict()["diagnostics"]["invariant_checked_from"] == sw[0][1]
    assert np.max(np.abs(res.x_final - ref.x_final)) <= 1e-9 * np.max(ref.x_final)
    assert np.allclose(res.loss, ref.loss, rtol=1e-7, atol=0.0)


def test_rounding_bound_sends_small_eta_depth_3_to_the_full_coordinates(monkeypatch):
    """L = 3 at small η̃: b = ū0^{-1} − Aᵀλ is a difference that loses the large weights (class
    _Reduced).  Staying in λ is measurably wrong here (x off by ~1e-5 relative); auto leaves λ and
    is as accurate as (r, log u) against a tight reference."""
    p = generate("sparse_positive", 40, 12, 1, k=3)
    cfg = FlowConfig(L=3, r0=1.0, eta_r=0.01)
    kw = dict(t_max=100.0, loss_tol=0.0)
    ref = integrate(p, cfg, rtol=1e-13, method="DOP853", **kw)
    sup = ref.x_final > 1e-6 * np.max(ref.x_final)

    def err(r):
        return float(np.max(np.abs(r.x_final[sup] - ref.x_final[sup]) / ref.x_final[sup]))

    res = integrate(p, cfg, rtol=1e-10, **kw)
    assert any("(r, log u)" in name for name, _ in res.diagnostics.method_switches), res.diagnostics
    full = integrate(p, cfg, rtol=1e-10, method="auto-full", **kw)
    assert err(res) <= max(10 * err(full), 1e-10), (err(res), err(full))
    monkeypatch.setattr(F64, "REDUCED_ROUNDING", float("inf"))  # never leave λ
    stay = integrate(p, cfg, rtol=1e-10, **kw)
    assert stay.diagnostics.method_switches == ()
    assert not err(stay) <= 1e3 * max(err(res), 1e-12)  # (nan, had it diverged, also fails <=)


def test_nan_in_the_reduced_field_leaves_lambda_and_a_nan_in_both_ends_the_run(monkeypatch):
    """A field that turns NaN in λ mid-run: λ stops describing the flow there, the flow has not
    diverged, so the run continues in (r, log u) from the last accepted state (recorded, with its own
    label) and ends where auto-full ends.  NaN in the (r, log u) field too: DIVERGED, promptly."""
    p = _problem(8)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)
    kw = dict(t_max=30.0, loss_tol=0.0, rtol=1e-12)
    calls = {"n": 0}
    real = _Reduced._rhs

    def poisoned(self, t, lam):
        calls["n"] += 1
        out = real(self, t, lam)
        return out * np.nan if calls["n"] > 300 else out

    monkeypatch.setattr(_Reduced, "_rhs", poisoned)
    res = integrate(p, cfg, **kw)
    sw = res.diagnostics.method_switches
    assert res.status is Status.NOT_CONVERGED, res.message
    assert len(sw) == 1 and sw[0][0] == "DOP853 (r, log u), λ's field not finite" and 0 < sw[0][1] < 30.0, sw
    assert res.diagnostics.coordinates == "lambda_then_r_log_u" and res.diagnostics.invariant_checked_from == sw[0][1]
    assert "field was not finite" in res.diagnostics.field
    ref = integrate(p, cfg, method="auto-full", **kw)
    assert np.max(np.abs(res.x_final - ref.x_final)) <= 1e-9 * np.max(ref.x_final)
    real_full = _Flow._rhs
    full_calls = {"n": 0}

    def poisoned_full(self, t, z, shift=None):  # finite at t = 0 (the start-up check), NaN after
        full_calls["n"] += 1
        out = real_full(self, t, z, shift)
        return out * np.nan if full_calls["n"] > 1 else out

    monkeypatch.setattr(_Flow, "_rhs", poisoned_full)
    calls["n"] = 0
    res = integrate(p, cfg, t_max=1e4, time_limit=5.0)
    assert res.status is Status.DIVERGED and "non-finite" in res.message, res.message
    assert res.t_final > 0 and np.isfinite(res.r_final)


def test_a_step_out_of_lambdas_domain_continues_in_the_full_coordinates(monkeypatch):
    """L = 3, η̃ = 0.01, never leaving λ on rounding: DOP853 in λ tries a state with b = q^{-1} ≤ 0 (the
    large weights grow past what b = ū0^{-1} − Aᵀλ represents) at t ≈ 46.  That is the edge of the
    coordinates, not a divergence of the flow: the run continues in (r, log u) from the last accepted
    state and reaches the state of DOP853 in (r, log u)."""
    from numerics._steady import default_limit_tol

    monkeypatch.setattr(F64, "REDUCED_ROUNDING", float("inf"))
    p = generate("sparse_positive", 40, 12, 1, k=3)
    cfg = FlowConfig(L=3, r0=1.0, eta_r=0.01)
    kw = dict(t_max=100.0, loss_tol=0.0, rtol=1e-10)
    res = integrate(p, cfg, method="reduced", **kw)
    sw = res.diagnostics.method_switches
    assert res.status is Status.NOT_CONVERGED, res.message
    assert len(sw) == 1 and sw[0][0] == "DOP853 (r, log u), leaving λ's domain", sw
    assert "b ≤ 0 or r² ≤ 0" in res.diagnostics.field
    assert res.diagnostics.coordinates == "lambda_then_r_log_u" and res.diagnostics.invariant_checked_from == sw[0][1]
    ref = integrate(p, cfg, method="DOP853", **kw)
    sup = ref.x_final > 1e-6 * np.max(ref.x_final)
    # both at rtol: within the accuracy the steady-state test assumes of a state held to rtol
    assert np.max(np.abs(res.x_final[sup] - ref.x_final[sup]) / ref.x_final[sup]) <= default_limit_tol(rtol=1e-10)
    after = res.t >= res.diagnostics.invariant_checked_from  # from the switch on, a genuine check
    assert after.any() and np.max(res.invariant_residual[after]) <= tol(DPS_FLOAT64, K_ACCUMULATED)


def test_small_eta_accuracy_in_lambda_is_relative_on_every_weight(monkeypatch):
    """η̃ = 0.02 (s ≈ 150 at t = 100): |λ| grows like s, so a tolerance relative to |λ| (scipy's
    rtol·|λ_j|) would let the support's log-weights (O(1)) err by rtol·s.  The tolerance on λ is
    absolute (numerics._flow64._Reduced.rtol / atol): rtol on every log u_i, so each step errs by at
    most L·rtol relatively in x_i = w_i^L; over the run (a gradient flow: the support is contracting)
    the error stays within one decade of that, 10·L·rtol, at every rtol.  The relative tolerance
    on λ misses that bound (measured 9.3e-9 at rtol 1e-10, against 1.1e-10 absolute)."""
    p = generate("sparse_positive", 60, 15, 0, k=4)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.02, eta_u=1.0)
    kw = dict(t_max=100.0, loss_tol=0.0)
    ref = integrate(p, cfg, rtol=1e-13, method="DOP853", **kw)  # (r, log u), tight
    sup = ref.x_final > 1e-6 * np.max(ref.x_final)

    def err(r):
        return float(np.max(np.abs(r.x_final[sup] - ref.x_final[sup]) / ref.x_final[sup]))

    for rtol in (1e-8, 1e-10):
        res = integrate(p, cfg, rtol=rtol, **kw)
        assert res.diagnostics.coordinates == "lambda"
        assert err(res) <= 10 * cfg.L * rtol, (rtol, err(res))
    monkeypatch.setattr(F64, "REDUCED_ABSOLUTE_TOL", False)  # the check can fail
    assert not err(integrate(p, cfg, rtol=1e-10, **kw)) <= 10 * cfg.L * 1e-10


def test_auto_full_restores_the_previous_auto(monkeypatch):
    """``"auto-full"`` is the previous ``"auto"``: DOP853 in (r, log u) with Hairer's stiffness test
    (before any switch it is DOP853 step for step), and ``AUTO_REDUCED = False`` makes ``"auto"`` it."""
    p = _problem(9)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)
    b = integrate(p, cfg, t_max=20.0, loss_tol=0.0, method="auto-full")
    dop = integrate(p, cfg, t_max=20.0, loss_tol=0.0, method="DOP853")
    assert b.diagnostics.method_switches == () and b.diagnostics.coordinates == "r_log_u"
    assert np.array_equal(b.x_final, dop.x_final) and b.nsteps == dop.nsteps
    assert integrate(p, cfg, t_max=20.0, loss_tol=0.0).diagnostics.coordinates == "lambda"
    monkeypatch.setattr(F64, "AUTO_REDUCED", False)
    a = integrate(p, cfg, t_max=20.0, loss_tol=0.0)
    assert a.diagnostics.coordinates == "r_log_u" and np.array_equal(a.x_final, b.x_final)


@pytest.mark.parametrize("rates,L", [("constant", 2), ("constant", 3), ("r2", 4), ("plain", 2)])
def test_batched_monitor_residuals_match_the_single_state_ones(rates, L):
    p = _problem(11)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=0.3, eta_u=1.0, rates=rates)
    flow, red = _system(p, cfg)
    lams = np.random.default_rng(L).normal(size=(p.A_eff.shape[0], 5)) * 0.1
    batch = red.residual_norms(lams)
    one = [np.linalg.norm(p.A_eff @ red._pieces(lams[:, k].copy())[3] - p.y) for k in range(5)]
    assert np.allclose(batch, one, rtol=1e-12, atol=0.0)
    res = integrate(p, cfg, t_max=20.0, loss_tol=0.0, method="reduced-LSODA")
    assert res.steps_checked == res.nsteps and res.loss_increases == 0


def test_error_control_does_not_depend_on_the_scale_of_A():
    """A, y → cA, cy rescales time by 1/c² (docs/math.md §2.2) and λ by 1/c: with atol on λ taken
    relative to the column norms of A, the same rtol gives the same accuracy at every c."""
    from numerics._problem import Problem

    p = _problem(12, 20, 8)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.2)
    ref = integrate(p, cfg, t_max=20.0, rtol=1e-13, loss_tol=0.0, method="auto-full")
    for c in (1e-3, 1.0, 1e3):
        q = Problem(p.A * c, p.y * c, p.model)
        res = integrate(q, cfg, t_max=20.0 / c ** 2, rtol=1e-10, loss_tol=0.0, method="reduced-LSODA")
        assert np.max(np.abs(res.x_final - ref.x_final)) <= 1e-9 * np.max(ref.x_final), c  # unscaled atol: 3.6e-9 at c = 1e3
