"""``numerics.integrate``: one entry point, one vocabulary, every engine (docs/api.md, docs/matrix.md)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import numerics
from numerics import (DPS_FLOAT64, K_ACCUMULATED, MIN_DPS, FlowConfig, FlowResult, MatrixFlowConfig, MatrixFlowResult,
                      Status, generate, generate_matrix, integrate, tol)

PROBLEM = generate("sparse_positive", 8, 3, seed=0)
CONFIG = FlowConfig(L=2, r0=1, eta_r="0.5", eta_u=1)


def test_float64_engine_by_default():
    res = integrate(PROBLEM, CONFIG, t_max=1e4)
    assert isinstance(res, FlowResult) and res.dps is None
    assert res.status is Status.CONVERGED, res.message
    for v in (res.u_final, res.log_u_final, res.x_final, res.x_user):  # vectors: float64 arrays (contract §1)
        assert isinstance(v, np.ndarray) and v.dtype == np.float64 and v.ndim == 1
    assert isinstance(res.diagnostics, numerics.Float64Diagnostics) and isinstance(res.steady, numerics.SteadyState)
    assert res.loss_final <= res.loss_tol


def test_float64_methods_say_which_coordinates_they_integrated():
    """The default ``"auto"`` integrates the dual coordinates λ (the invariant holds by construction,
    docs/math.md §6.3); ``"auto-full"`` and the scipy stepper names integrate (r, log u), where the
    invariant residual is a check from t = 0: typed in the diagnostics, not left to the free text."""
    auto = integrate(PROBLEM, CONFIG, t_max=1e4).diagnostics
    assert auto.coordinates in ("lambda", "lambda_then_r_log_u")
    assert (auto.invariant_checked_from is None) == (auto.coordinates == "lambda")
    for method in ("auto-full", "DOP853"):
        d = integrate(PROBLEM, CONFIG, t_max=1e4, method=method).diagnostics
        assert d.coordinates == "r_log_u" and d.invariant_checked_from == 0.0, method
    d = integrate(PROBLEM, CONFIG, t_max=1e4, method="reduced").diagnostics
    assert d.coordinates.startswith("lambda")


def test_dps_runs_the_taylor_engine_at_that_precision():
    res = integrate(PROBLEM, CONFIG, dps=20, t_max=0.5)
    assert isinstance(res, FlowResult) and res.dps == 20
    assert res.status is Status.NOT_CONVERGED  # t_max 0.5 is far too short
    assert isinstance(res.r_final, mpmath.mpf) and isinstance(res.diagnostics, numerics.TaylorDiagnostics)
    for v in (res.u_final, res.log_u_final, res.x_final):  # vectors: object arrays of mpf (contract §1)
        assert isinstance(v, np.ndarray) and v.dtype == object and all(isinstance(t, mpmath.mpf) for t in v)
    d = res.to_dict()   # mpf as decimal strings with dps digits
    assert isinstance(d["r_final"], str) and len(d["r_final"].replace(".", "").lstrip("0")) >= 20
    # the two engines follow the same trajectory (to the float64 run's accuracy)
    res64 = integrate(PROBLEM, CONFIG, t_max=0.5)
    assert float(res.r_final) == pytest.approx(float(res64.r_final), rel=1e-8)


@pytest.mark.parametrize("dps", [1, 10, MIN_DPS - 1])
def test_dps_below_the_minimum_is_refused_never_run_in_float64(dps):
    with pytest.raises(ValueError, match="dps"):
        integrate(PROBLEM, CONFIG, dps=dps, t_max=0.5)


def test_options_are_checked():
    with pytest.raises(ValueError, match="method"):
        integrate(PROBLEM, CONFIG, dps=20, method="BDF", t_max=0.5)
    with pytest.raises(ValueError, match="rtol"):
        integrate(PROBLEM, CONFIG, dps=20, rtol=1e-8, t_max=0.5)
    for bad in (0, -1.0, math.nan, -math.inf, True, "1"):
        with pytest.raises(ValueError, match="time_limit"):
            integrate(PROBLEM, CONFIG, time_limit=bad)


def test_an_infinite_time_limit_is_no_limit():
    """``math.inf`` means no wall-clock limit, as in ``limit_solve`` and the float64 engine."""
    a = integrate(PROBLEM, CONFIG, t_max=2.0, time_limit=math.inf)
    b = integrate(PROBLEM, CONFIG, t_max=2.0)
    assert a.status is b.status and a.status is not Status.TIME_LIMIT
    assert float(a.t_final) == float(b.t_final)


def test_progress_is_called_with_floats_at_checkpoints():
    seen = []
    integrate(PROBLEM, CONFIG, t_max=10.0, progress=lambda t, loss: seen.append((t, loss)))
    assert seen and all(isinstance(t, float) and isinstance(v, float) for t, v in seen)
    ts = [t for t, _ in seen]
    assert ts == sorted(ts)


def test_time_limit_is_honoured():
    res = integrate(generate("sparse_positive", 40, 12, seed=1), FlowConfig(L=3, r0=1, eta_r="0.05"), t_max=1e8,
                    time_limit=0.05)
    assert res.status is Status.TIME_LIMIT, res.message   # L = 3, small η̃: a long power-law tail


def test_the_engine_is_looked_up_at_call_time(monkeypatch):
    """The dispatch names the engine modules, so a replaced engine is the one called."""
    import numerics._flow64 as flow64

    name = "integrate64"
    calls = []
    real = getattr(flow64, name)

    def spy(problem, config, **kw):
        calls.append(kw)
        return real(problem, config, **kw)

    spy.__signature__ = __import__("inspect").signature(real)
    monkeypatch.setattr(flow64, name, spy)
    integrate(PROBLEM, CONFIG, t_max=1.0, loss_tol=1e-3)
    assert calls == [{"method": "auto", "t_max": 1.0, "loss_tol": 1e-3}]


# -- the matrix model ------------------------------------------------------------------------


def test_matrix_problem_dispatches_to_the_matrix_flow():
    p = generate_matrix(5, 2, 12, seed=0)
    cfg = MatrixFlowConfig(k=3, alpha=1.0, rates="wn", eta_r=0.1, eta_V=1.0)
    seen = []
    res = integrate(p, cfg, t_max=5.0, progress=lambda t, loss: seen.append(t))
    assert isinstance(res, MatrixFlowResult) and res.method == "DOP853" and res.dps is None
    assert res.steps_checked > 10 and len(seen) == res.nsteps
    assert res.vnorm_drift <= tol(DPS_FLOAT64, K_ACCUMULATED)
    assert res.vnorm_exact is None and res.U_final_exact is None
    d = res.to_dict()
    assert d["status"] == res.status.value and d["config"]["k"] == 3 and len(d["t"]) == len(res.t)
    with pytest.raises(TypeError, match="MatrixFlowConfig"):
        integrate(p, CONFIG)
    with pytest.raises(ValueError, match="checkpoints"):
        integrate(p, cfg, t_max=1.0, checkpoints=[0.5, 1.0])
    with pytest.raises(ValueError, match="odefun"):
        integrate(p, cfg, method="odefun")


def test_matrix_flow_at_dps_keeps_its_values_at_that_precision():
    p = generate_matrix(3, 1, 5, seed=1)
    cfg = MatrixFlowConfig(k=2, alpha=1.0, rates="wn", eta_r=0.5)
    res = integrate(p, cfg, dps=20, t_max=0.5, checkpoints=[0.25, 0.5])
    assert res.method == "mpmath.odefun" and res.dps == 20 and list(res.t) == [0.0, 0.25, 0.5]
    assert res.vnorm_exact.dtype == object and all(isinstance(v, mpmath.mpf) for v in res.vnorm_exact)
    assert res.U_final_exact.shape == (3, 2) and isinstance(res.loss_final_exact, mpmath.mpf)
    assert res.vnorm_drift <= tol(20, K_ACCUMULATED)
    with mpmath.workdps(30):  # the same drift, recomputed from the exact values
        assert abs(max(abs(v - res.vnorm_exact[0]) for v in res.vnorm_exact) - res.vnorm_drift) <= tol(30)
    assert isinstance(res.to_dict()["vnorm_exact"][0], str)
    with pytest.raises(ValueError, match="dps"):
        integrate(p, cfg, dps=MIN_DPS - 1, t_max=0.5)
    with pytest.raises(ValueError, match="DOP853"):
        integrate(p, cfg, dps=20, method="DOP853", t_max=0.5)


def test_public_integrate_is_the_one_integrate():
    assert numerics.integrate is integrate
    assert "integrate" in numerics.__all__
