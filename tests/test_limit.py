"""Limit solver (numerics._limit): the root of φ against docs/math.md §4, against the flow, and K(t)."""

from __future__ import annotations

import inspect
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from numerics import Status, _derived
from numerics._config import FlowConfig
from numerics._limit import limit_solve
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, tol, workdps
from numerics._problem import Problem, generate

try:  # tests/ is on sys.path (rootdir conftest) under plain `pytest`; the package path under `python -m`
    from limit_checks import assert_vertex_root_at_50_digits
except ImportError:  # pragma: no cover
    from tests.limit_checks import assert_vertex_root_at_50_digits


def _grad_F_mp(z, L):
    """∇F(z) = log_L(z^{1/L}), written out here independently of numerics."""
    if L == 2:
        return mpmath.log(z) / 2
    return (z ** (mpmath.mpf(2 - L) / L) - 1) / (2 - L)


def _kernel_residual_mp(A, v):
    Am = mpmath.matrix([[mpmath.mpf(float(a)) for a in row] for row in A])
    vm = mpmath.matrix(v)
    lam = mpmath.lu_solve(Am * Am.T, Am * vm)
    return mpmath.norm(vm - Am.T * lam) / max(mpmath.norm(vm), 1)


@given(seed=st.integers(0, 10_000), N=st.integers(5, 10), M=st.integers(2, 4), L=st.sampled_from([2, 3]),
       eta_tilde=st.floats(0.05, 2.0), r0=st.floats(0.5, 2.0), model=st.sampled_from(["positive", "signed"]))
@example(seed=0, N=6, M=3, L=2, eta_tilde=0.3, r0=1.0, model="positive")
@example(seed=2, N=7, M=2, L=3, eta_tilde=0.0625, r0=0.5, model="signed")
@example(seed=0, N=5, M=4, L=3, eta_tilde=0.0625, r0=0.5, model="positive")
@example(seed=0, N=5, M=3, L=3, eta_tilde=0.0625, r0=0.5, model="signed")
def test_limit_satisfies_math_4(seed, N, M, L, eta_tilde, r0, model):
    # L = 3 with η̃ < 0.1 included: β^{-1/3} reaches 1e15 and more at the root there, where the dual
    # identity used to cancel every digit of the support's bases (the dual Newton now carries the bases
    # and predicts in a basis of the support: numerics._bregman)
    dps = 30
    # positive model: a dense positive truth, so that Az = y has a strictly positive solution (a sparse
    # truth may leave y on the boundary of the cone A·R₊ⁿ, where the limit has zeros: see
    # test_boundary_case_is_flagged); the signed model always has one
    kind = "gaussian" if model == "positive" else "sparse_signed"
    p = generate(kind, N, M, seed, model=model)
    cfg = FlowConfig(L=L, r0=r0, eta_r=eta_tilde, eta_u=1.0)
    res = limit_solve(p, cfg, dps=dps)
    assert res.status is Status.CONVERGED, res.message
    A = p.A_eff
    n = p.n
    with workdps(dps):
        x = res.x_inf
        r = res.r_inf
        assert all(v > 0 for v in x)
        # A x = y
        Ax = [mpmath.fdot([mpmath.mpf(float(a)) for a in A[i]], x) for i in range(A.shape[0])]
        scale = max(1.0, float(np.linalg.norm(p.y)))
        assert mpmath.norm([a - mpmath.mpf(float(b)) for a, b in zip(Ax, p.y)]) <= tol(dps, K_SOLVE) * scale
        # Σ x^{2/L} = r²
        S = mpmath.fsum(v ** (mpmath.mpf(2) / L) for v in x)
        assert abs(S - r * r) <= tol(dps, K_SOLVE) * r * r
        # Bregman characterisation at its own ρ_∞, recomputed here from r_∞ alone
        r0m, et = mpmath.mpf(r0), mpmath.mpf(eta_tilde)
        rho = (r0m / r) * mpmath.exp((r * r - r0m * r0m) / (2 * et))
        w0 = r0m / mpmath.sqrt(n)
        beta = (w0 / rho) ** L
        d = [_grad_F_mp(v, L) - _grad_F_mp(beta, L) for v in x]
        assert _kernel_residual_mp(A, d) <= tol(dps, K_SOLVE)
        assert abs(rho - res.rho) <= tol(dps, K_ROUNDOFF) * rho
        # and the generated ρ, ∇F (theory/export.py) agree with the forms written out here
        assert abs(_derived.rho(r, r0m, et, mpmath) - rho) <= tol(dps, K_ROUNDOFF) * rho
        d2 = [_derived.grad_F(v, L, mpmath) - _derived.grad_F(beta, L, mpmath) for v in x]
        assert max(abs(a - b) for a, b in zip(d, d2)) <= tol(dps, K_ROUNDOFF) * max(1, max(abs(a) for a in d))
    # the float64 solve agrees within its own error bar (plus the mp one)
    r64 = limit_solve(p, cfg)
    # float64 may stop at its noise floor (NOT_CONVERGED, with an honest error bar) when β^{(2−L)/L}
    # is huge; its answer must still lie within that bar
    assert r64.status in (Status.CONVERGED, Status.NOT_CONVERGED), r64.message
    assert abs(r64.r_inf - float(res.r_inf)) <= r64.r_inf_error + res.r_inf_error


def test_infeasible_problem_is_inconsistent():
    A = np.array([[1.0, 2.0, 0.5], [0.0, 1.0, 1.0]])
    p = Problem(A, np.array([-1.0, 1.0]))
    res = limit_solve(p, FlowConfig(L=2, r0=1.0, eta_r=0.3, eta_u=1.0))
    assert res.status is Status.INCONSISTENT
    assert "nonnegative" in res.message


@pytest.mark.parametrize("rates", ["plain", "r2"])
def test_rho_one_rates_are_one_projection(rates):
    from numerics._bregman import bregman_projection

    p = generate("sparse_positive", 12, 4, 5)
    cfg = FlowConfig(L=3, r0=0.7, rates=rates)
    res = limit_solve(p, cfg)
    assert res.status is Status.CONVERGED and res.method == "projection"
    proj = bregman_projection(p.A, p.y, cfg.w0_for(p.n) ** 3, 3)
    assert np.max(np.abs(res.x_inf - proj.x)) <= tol(DPS_FLOAT64, K_SOLVE)
    assert abs(res.r_inf - np.linalg.norm(proj.x ** (1 / 3))) <= tol(DPS_FLOAT64, K_ROUNDOFF) * res.r_inf
    assert res.rho == 1.0


def test_bad_bracket_and_config():
    p = generate("sparse_positive", 8, 3, 1)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.3, eta_u=1.0)
    with pytest.raises(ValueError, match="bracket"):
        limit_solve(p, cfg, bracket=(2.0, 1.0))
    with pytest.raises(ValueError, match="config"):
        limit_solve(p, {"L": 2})
    # a valid bracket that does not contain a root is a FAILED status, not an exception
    ok = limit_solve(p, cfg)
    bad = limit_solve(p, cfg, bracket=(ok.r_inf * 1.5, ok.r_inf * 2))
    assert bad.status is Status.FAILED and "bracket" in bad.message


# ------------------------------------------------------------------------------------------
# against the flow: WN-GF integrated here with scipy's Radau (independent of numerics' integrators)
# ------------------------------------------------------------------------------------------
def _wn_rhs(A, y, L, eta_r, eta_u):
    def rhs(t, state):
        r, u = state[0], state[1:]
        un = np.linalg.norm(u)
        ub = u / un
        w = r * ub
        g = A.T @ (A @ w ** L - y)
        grad = L * w ** (L - 1) * g
        sigma = ub @ grad
        rdot = -eta_r * sigma
        udot = -eta_u * (r / un) * (grad - ub * sigma)
        return np.concatenate([[rdot], udot])

    return rhs


@pytest.fixture(scope="module")
def small_flow():
    from scipy.integrate import solve_ivp

    p = generate("sparse_positive", 6, 3, 2)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.3, eta_u=1.0)
    A, y = p.A, p.y
    u0 = cfg.u0_for(6)
    rhs = _wn_rhs(A, y, 2, cfg.eta_r, cfg.eta_u)
    sol = solve_ivp(rhs, (0.0, 1e7), np.concatenate([[cfg.r0], u0]), method="Radau", rtol=1e-12, atol=1e-14,
                    dense_output=True)
    assert sol.success, sol.message
    return p, cfg, sol, rhs


def test_root_matches_converged_flow(small_flow):
    p, cfg, sol, _ = small_flow
    r_end = sol.y[0, -1]
    u_end = sol.y[1:, -1]
    x_end = (r_end * u_end / np.linalg.norm(u_end)) ** 2
    loss = 0.5 * np.linalg.norm(p.A @ x_end - p.y) ** 2
    assert loss < 1e-20, "the reference flow did not converge; integrate longer"
    res = limit_solve(p, cfg)
    assert res.status is Status.CONVERGED
    assert res.unique_root_reason.startswith("r² > η̃")
    # integration accuracy (rtol 1e-12, accumulated over a long stiff run) is the limiting factor here
    assert abs(res.r_inf - r_end) <= tol(DPS_FLOAT64, K_ACCUMULATED)
    assert np.max(np.abs(res.x_inf - x_end)) <= tol(DPS_FLOAT64, K_ACCUMULATED)


def test_K_is_a_lyapunov_function_with_the_stated_rate(small_flow):
    """K(t) = Φ(r) − ⟨y, λ⟩ (L = 2: Φ = (r⁴ − r₀⁴)/(4η̃)), h_η = Aᵀλ: non-increasing, and
    dK/dt = −c‖Ax − y‖² with c = η_u L r^L e^{(2−L)s} (docs/math.md §4), checked pointwise from the
    vector field and along the integrated trajectory."""
    p, cfg, sol, rhs = small_flow
    A, y = p.A, p.y
    L, et, r0, eta_u = 2, cfg.eta_tilde, cfg.r0, cfg.eta_u
    u0 = cfg.u0_for(6)
    ts = np.concatenate([np.linspace(0, 5, 400), np.geomspace(5.01, 1e3, 200)])
    Ks, pointwise = [], []  # noqa: F841
    for t in ts:
        st_ = sol.sol(t)
        r, u = st_[0], st_[1:]
        ub = u / np.linalg.norm(u)
        s = (r * r - r0 * r0) / (2 * et)
        h = np.log(ub) + s - np.log(u0)
        lam, *_ = np.linalg.lstsq(A.T, h, rcond=None)
        K = (r ** 4 - r0 ** 4) / (4 * et) - y @ lam
        Ks.append(K)
        # pointwise identity from the vector field: dK/dt = Φ'(r) ṙ − ⟨y, λ̇⟩, ḣ = u̇/u + ṡ
        d = rhs(t, st_)
        rdot, udot = d[0], d[1:]
        hdot = udot / u + r * rdot / et
        lamdot, *_ = np.linalg.lstsq(A.T, hdot, rcond=None)
        dK = (r ** 3 / et) * rdot - y @ lamdot
        x = (r * ub) ** L
        c = eta_u * L * r ** L * math.exp((2 - L) * s)
        target = -c * np.linalg.norm(A @ x - y) ** 2
        # the two terms of dK/dt cancel in part: compare at roundoff relative to their size
        size = abs((r ** 3 / et) * rdot) + abs(y @ lamdot) + abs(target)
        assert abs(dK - target) <= tol(DPS_FLOAT64, K_ROUNDOFF) * size
        pointwise.append(abs(dK - target))
    Ks = np.array(Ks)
    # non-increasing along the trajectory, up to the integration error of the dense output
    assert np.all(np.diff(Ks) <= tol(DPS_FLOAT64, K_ACCUMULATED) * np.maximum(np.abs(Ks[1:]), 1.0))
    assert Ks[-1] < Ks[0]


def test_boundary_case_is_flagged():
    """y a multiple of one column, and no other nonnegative representation: {Az = y, z ≥ 0} is a
    single boundary point; the limit has zeros and the solver must not claim convergence."""
    A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    p = Problem(A, np.array([2.0, 0.0]))  # only z = (2, 0, 0)
    res = limit_solve(p, FlowConfig(L=3, r0=1.0, eta_r=1.0, eta_u=1.0))
    assert res.status is not Status.CONVERGED
    assert "strictly positive" in res.message


# ------------------------------------------------------------------------------------------
# exact parameters at dps, budgets, degenerate input (issues 12, 13, 19)
# ------------------------------------------------------------------------------------------
def _check_limit_mp(p, res, L, dps):
    """A x_∞ = y (relative to ‖y‖) and Σ x^{2/L} = r_∞², at dps, recomputed here."""
    with workdps(dps):
        A = [[mpmath.mpf(float(a)) for a in row] for row in p.A_eff]
        y = [mpmath.mpf(float(v)) for v in p.y]
        g = mpmath.norm([mpmath.fdot(row, res.x_inf) - b for row, b in zip(A, y)])
        assert g <= tol(dps, K_SOLVE) * mpmath.norm(y)
        S = mpmath.fsum(v ** (mpmath.mpf(2) / L) for v in res.x_inf)
        assert abs(S - res.r_inf ** 2) <= tol(dps, K_SOLVE) * res.r_inf ** 2


def test_dps_uses_the_exact_parameters():
    """r0 = "0.3" and η̃ = "1/3" at dps 40: ρ_∞ recomputed here from the exact values, not the doubles."""
    p = generate("sparse_positive", 20, 8, 0)
    dps = 40
    res = limit_solve(p, FlowConfig(L=2, r0="0.3", eta_r="1", eta_u="3"), dps=dps)
    assert res.status is Status.CONVERGED, res.message
    _check_limit_mp(p, res, 2, dps)
    assert res.params == {"r0": "0.3", "eta_r": "1", "eta_u": "3", "eta_tilde": "1/3", "u0": None}
    with workdps(dps):
        r0, et, r = mpmath.mpf(3) / 10, mpmath.mpf(1) / 3, res.r_inf
        rho = (r0 / r) * mpmath.exp((r * r - r0 * r0) / (2 * et))
        assert abs(res.rho - rho) <= tol(dps, K_ROUNDOFF) * rho
        alpha = r0 / (mpmath.sqrt(p.n) * rho)
        assert abs(res.alpha_eff - alpha) <= tol(dps, K_ROUNDOFF) * alpha
        # the doubles 0.3 and 1/3 give another ρ (relative ~1e-16 · r²/η̃): the solver did not use them
        r0d, etd = mpmath.mpf(0.3), mpmath.mpf(1 / 3)
        rho_d = (r0d / r) * mpmath.exp((r * r - r0d * r0d) / (2 * etd))
        assert abs(rho_d - rho) > 1e6 * tol(dps, K_ROUNDOFF) * rho


@pytest.mark.parametrize("rates", ["plain", "r2"])
def test_projection_rates_at_dps_use_the_exact_r0(rates):
    p = generate("sparse_positive", 12, 4, 5)
    dps = 40
    res = limit_solve(p, FlowConfig(L=2, r0="0.1", rates=rates), dps=dps)
    assert res.status is Status.CONVERGED, res.message
    with workdps(dps):
        want = (mpmath.mpf(1) / 10 / mpmath.sqrt(p.n)) ** 2
        assert all(abs(b - want) <= tol(dps, K_ROUNDOFF) * want for b in res.beta)


def test_time_limit_is_a_status_and_reaches_each_projection(monkeypatch):
    import numerics._limit as lim

    p = generate("sparse_positive", 20, 8, 0)
    cfg = FlowConfig(L=2, r0=1, eta_r="0.3")
    # a budget that has always run out by the first check (independent of the machine's speed)
    res = limit_solve(p, cfg, dps=30, time_limit=1e-9)
    assert res.status is Status.TIME_LIMIT and "time_limit" in res.message and res.r_inf is None
    # a generous budget changes nothing, and every projection is handed the remaining budget
    seen = []
    real = lim.bregman_projection

    def spy(*args, **kw):
        seen.append(kw.get("time_limit"))
        return real(*args, **kw)

    monkeypatch.setattr(lim, "bregman_projection", spy)
    res = limit_solve(p, cfg, dps=30, time_limit=1e6)
    assert res.status is Status.CONVERGED, res.message
    if "time_limit" in inspect.signature(real).parameters:
        assert seen and all(t is not None and 0 < t <= 1e6 for t in seen)
    # a projection that reports TIME_LIMIT ends the solve with TIME_LIMIT
    from dataclasses import replace

    def out_of_time(*args, **kw):
        return replace(real(*args, **kw), status=Status.TIME_LIMIT, message="time limit")

    monkeypatch.setattr(lim, "bregman_projection", out_of_time)
    res = limit_solve(p, cfg, time_limit=1e6)
    assert res.status is Status.TIME_LIMIT and "Bregman projection" in res.message


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, "10", True])
def test_bad_time_limit_is_a_value_error(bad):
    p = generate("sparse_positive", 8, 3, 1)
    with pytest.raises(ValueError, match="time_limit"):
        limit_solve(p, FlowConfig(), time_limit=bad)


@pytest.mark.parametrize("dps", [None, 30])
def test_zero_data_is_trivial(dps):
    # A with positive entries: z = 0 is the only nonnegative solution of Az = 0, so x_∞ = 0, r_∞ = 0
    A = np.array([[1.0, 2.0, 0.5], [0.5, 1.0, 1.0]])
    res = limit_solve(Problem(A, np.zeros(2)), FlowConfig(L=2, r0=1, eta_r="0.3"), dps=dps)
    assert res.status is Status.TRIVIAL and res.r_inf == 0 and all(v == 0 for v in res.x_inf)
    assert "y = 0" in res.message
    # A with a nonnegative kernel vector: the zero-loss set is a cone, and §4's root does not decide
    A2 = np.array([[1.0, -1.0, 0.5], [0.5, -0.5, 1.0]])
    res = limit_solve(Problem(A2, np.zeros(2)), FlowConfig(L=2, r0=1, eta_r="0.3"), dps=dps)
    assert res.status is Status.TRIVIAL and res.r_inf is None and "nonzero nonnegative" in res.message


def test_problem_in_units_of_1e_minus_10():
    """y → s·y with s = 2⁻³⁴ ≈ 5.8e-11 (exact in binary), r₀ → √s r₀, η̃ → s η̃ (L = 2): ρ is unchanged,
    β → sβ, the projection scales by s, so r_∞ → √s r_∞ exactly; float64 and dps must both see it."""
    p = generate("sparse_positive", 20, 8, 0)
    s = Fraction(1, 2 ** 34)
    q = Problem(p.A, p.y * float(s), model=p.model)
    base = limit_solve(p, FlowConfig(L=2, r0=1, eta_r="0.3"), dps=30)
    cfg = FlowConfig(L=2, r0=Fraction(1, 2 ** 17), eta_r=Fraction(3, 10) * s)
    small = limit_solve(q, cfg, dps=30)
    assert base.status is Status.CONVERGED and small.status is Status.CONVERGED, small.message
    with workdps(30):
        want = base.r_inf / 2 ** 17
        assert abs(small.r_inf - want) <= tol(30, K_SOLVE) * want
    small64 = limit_solve(q, cfg)
    assert small64.status is Status.CONVERGED, small64.message
    assert small64.r_inf == pytest.approx(float(want), rel=tol(DPS_FLOAT64, K_SOLVE))
    assert small64.unique_root_reason.startswith("r² > η̃")  # the ℓ1 certificate is scale-free too


def test_tiny_data_far_from_r0():
    """y ~ 5e-11 with r₀ = 1 (found by the sharpness search): float64 cannot resolve the projections (cancellation
    in Ax far above ‖y‖) and must say so (NOISE_FLOOR, never a ZeroDivisionError); at dps the root is found."""
    p = Problem([[0.4589931219679968, 0.08724998293084574]], [4.8715146805600475e-11], "signed")
    cfg = FlowConfig(L=2, r0=1.0042224732396714, eta_r=0.0015904259448963074)
    res = limit_solve(p, cfg)
    assert res.status is Status.NOISE_FLOOR and "dps" in res.message
    res = limit_solve(p, cfg, dps=30)
    assert res.status is Status.CONVERGED, res.message
    _check_limit_mp(p, res, 2, 30)
    # positive model, L = 3, r₀ far above the solution's radius
    p = Problem([[0.1545134676685524, 0.003364858933419802, 0.38863039772380215]], [5.100493372635531e-11])
    res = limit_solve(p, FlowConfig(L=3, r0=7.412811139624891e-06, eta_r=10.562007904198001), dps=30)
    assert res.status is Status.CONVERGED, res.message
    _check_limit_mp(p, res, 3, 30)


def test_result_to_dict_is_json_with_digits_and_params():
    import json

    p = generate("sparse_positive", 20, 8, 0)
    res = limit_solve(p, FlowConfig(L=2, r0=1, eta_r="0.3"), dps=40)
    doc = json.loads(json.dumps(res.to_dict()))
    assert doc["status"] == "converged" and doc["dps"] == 40 and doc["params"]["eta_r"] == "0.3"
    with workdps(40):
        assert abs(mpmath.mpf(doc["r_inf"]) - res.r_inf) <= tol(40, K_ROUNDOFF) * res.r_inf
        assert all(abs(mpmath.mpf(a) - b) <= tol(40, K_ROUNDOFF) * b for a, b in zip(doc["x_inf"], res.x_inf))


@pytest.mark.parametrize("dps", [1, 4, 6, 15])
def test_too_few_digits_are_refused(dps):
    """--dps 1 … 6 used to report "converged" with meaningless tolerances (issue 12, item 7)."""
    from numerics._precision import MIN_DPS

    p = generate("sparse_positive", 8, 3, 1)
    with pytest.raises(ValueError, match=f"dps = {dps} is below the minimum {MIN_DPS}"):
        limit_solve(p, FlowConfig(), dps=dps)


# ------------------------------------------------------------------------------------------
# bad scale (issue 13): A scaled by 1e-5, and the cs30 case at L = 3, η̃ = 1/8
# ------------------------------------------------------------------------------------------
def _scaled_down(seed):
    p = generate("sparse_positive", 20, 8, seed)
    return Problem(p.A * 1e-5, p.y, model=p.model)


@pytest.mark.parametrize("seed", [0, 1])
def test_tiny_A_error_bar_is_honest_and_not_inflated(seed):
    """A·1e-5 puts r_∞ ≈ 500 and log β ≈ −2.6e6: the old rounding term 2Σ x_i δθ_i (δθ_i ≈ eps·|log β|)
    gave a relative bar of 3e-10 > tol and NOT_CONVERGED, although the projection absorbs every
    rounding of θ that Ax = y constrains (only v = x − DAᵀH⁻¹Ax counts, ≈ 0 on the support).  The bar
    must now be below tol *and* still cover the true error (the dps solve)."""
    q = _scaled_down(seed)
    cfg = FlowConfig(L=2, r0=1, eta_r=0.1)
    r64 = limit_solve(q, cfg, time_limit=120)
    assert r64.status is Status.CONVERGED, r64.message
    assert r64.r_inf_error <= tol(DPS_FLOAT64, K_SOLVE) * r64.r_inf
    ref = limit_solve(q, cfg, dps=30, time_limit=120)
    assert ref.status is Status.CONVERGED, ref.message
    assert abs(r64.r_inf - float(ref.r_inf)) <= r64.r_inf_error


def test_tiny_A_at_L3_says_where_float64_stops():
    """At L = 3 the root (r ≈ 71) needs β^{-1/3} ≈ e^{8500}, beyond float64: the bracket search used to
    creep by ever smaller steps and end with "no sign change of φ found between 12 and 12".  It must
    say how far it got; the root above that radius now comes from the LP-vertex enclosure
    (numerics._limit._vertex_enclosure), which holds for every larger radius.  Without a certified vertex
    it fails saying where float64 stopped (tests/test_limit_vertex.py)."""
    q = _scaled_down(0)
    res = limit_solve(q, FlowConfig(L=3, r0=1, eta_r=0.3), time_limit=120)
    assert res.status is Status.CONVERGED, res.message
    assert "between" not in res.message
    assert "float64 could not evaluate φ beyond r =" in res.message and "LP vertex" in res.message
    assert 70 < res.r_inf < 72 and res.r_inf_error <= tol(DPS_FLOAT64, K_SOLVE) * res.r_inf
    assert_vertex_root_at_50_digits(q, res, 3)  # independent check at 50 digits (tests/limit_checks.py)
    assert "beyond float64's range" in res.float64_failure


def test_cs30_at_L3_small_eta_converges_and_agrees_with_dps():
    """cs30, L = 3, η̃ = 1/8 (η_r = "0.125") ran past 120 s in float64: each warm-started projection
    along the bracket search stalled (the old ν makes the support's bases β^{-1/3} − Aᵀν grow with
    β^{-1/3}) and fell back to path-following from β = 1.  With the tangent predictor it converges,
    within its error bar of the dps solve."""
    from wnbias.claims.problems import get

    p = get("cs30")
    cfg = FlowConfig(L=3, r0=1, eta_r="0.125")
    r64 = limit_solve(p, cfg, time_limit=600)
    assert r64.status is Status.CONVERGED, r64.message
    ref = limit_solve(p, cfg, dps=30, time_limit=600)
    assert ref.status is Status.CONVERGED, ref.message
    assert abs(r64.r_inf - float(ref.r_inf)) <= r64.r_inf_error
    assert r64.unique_root_reason.startswith("r² > η̃")


def test_dual_l1_bound_is_a_lower_bound_close_to_the_lp():
    """Weak duality from the projection's dual (used instead of HiGHS above _LP_MAX_ENTRIES)."""
    from numerics._bregman import _Float64
    from numerics._limit import _dual_l1_bound

    for N, M, seed in [(20, 8, 0), (60, 20, 3)]:
        p = generate("sparse_positive", N, M, seed)
        res = limit_solve(p, FlowConfig(L=2, r0=1, eta_r=0.1))
        assert res.status is Status.CONVERGED, res.message
        lb = _dual_l1_bound(_Float64(p.A_eff, p.y), res.nu)
        assert lb is not None and lb <= res.l1_min
        # the dual at the root (log β ≈ −r²/η̃) is within a few per mille of the LP's optimal dual
        assert lb >= 0.99 * res.l1_lower_bound


def test_large_problem_path_without_lp_gives_the_same_limit(monkeypatch):
    """Above _LP_MAX_ENTRIES (M·n) no HiGHS LP is solved: the same root, uniqueness from the dual bound,
    and the message says the boundary check was not run."""
    import numerics._limit as lim

    p = generate("sparse_positive", 40, 12, 1)
    cfg = FlowConfig(L=2, r0=1, eta_r=0.1)
    with_lp = limit_solve(p, cfg)
    monkeypatch.setattr(lim, "_LP_MAX_ENTRIES", 10)

    def no_lp(*a, **k):
        raise AssertionError("HiGHS must not be called above _LP_MAX_ENTRIES")

    monkeypatch.setattr(lim, "_l1_lower_bound", no_lp)
    monkeypatch.setattr(lim, "_interior_margin", no_lp)
    without = limit_solve(p, cfg)
    assert with_lp.status is Status.CONVERGED and without.status is Status.CONVERGED, without.message
    assert abs(without.r_inf - with_lp.r_inf) <= with_lp.r_inf_error + without.r_inf_error
    assert without.unique_root_reason.startswith("r² > η̃")
    assert "boundary check" in without.message and without.lp_skipped is True and not with_lp.lp_skipped


def test_L3_small_eta_root_beyond_float64_bases():
    """Found by test_limit_satisfies_math_4 (it was a strict xfail): at r ≈ 2.2 the root needs
    β^{-1/3} ≈ 1e20, where the bases of the support (O(1)) computed from ν cancelled every digit, so the
    float64 dual Newton could not follow β along the bracket search (FAILED after 30 s).  Now it
    converges in well under a second, within its error bar of the dps 30 solve."""
    import time

    p = generate("gaussian", 9, 4, 0, model="positive")
    cfg = FlowConfig(L=3, r0=0.5, eta_r=0.05, eta_u=1.0)
    t = time.perf_counter()
    res = limit_solve(p, cfg, time_limit=30)
    assert res.status is Status.CONVERGED, res.message
    assert time.perf_counter() - t < 10
    ref = limit_solve(p, cfg, dps=30, time_limit=60)
    assert ref.status is Status.CONVERGED, ref.message
    assert abs(res.r_inf - float(ref.r_inf)) <= res.r_inf_error + ref.r_inf_error
    assert res.r_inf_error <= tol(DPS_FLOAT64, K_SOLVE) * res.r_inf


def test_limit_result_is_typed_at_dps():
    p = generate("sparse_positive", 12, 4, 5)
    res = limit_solve(p, FlowConfig(L=2, r0=1, eta_r="0.3"), dps=30)
    assert res.status is Status.CONVERGED, res.message
    for v in (res.x_inf, res.x_inf_user, res.beta, res.nu):
        assert isinstance(v, np.ndarray) and v.dtype == object and all(isinstance(t, mpmath.mpf) for t in v)
    assert not hasattr(res, "extras") and res.float64_root is not None and res.unique
    assert res.l1_min is not None and res.l1_lower_bound <= res.l1_min and not res.lp_skipped


def test_matrix_free_limit_agrees_with_dense():
    """A Problem carrying the subsampled DCT (a LinearOperator): the dual Newton by CG, the same limit."""
    from numerics._operators import to_dense

    p = generate("sparse_positive", 400, 40, 1, matrix="dct")
    q = Problem(to_dense(p.A), p.y, model=p.model)
    cfg = FlowConfig(L=2, r0=1, eta_r="0.1")
    op, dense = limit_solve(p, cfg, time_limit=300), limit_solve(q, cfg, time_limit=300)
    assert op.status is Status.CONVERGED and dense.status is Status.CONVERGED, op.message
    assert op.lp_skipped and "matrix-free" in op.message
    assert abs(op.r_inf - dense.r_inf) <= op.r_inf_error + dense.r_inf_error
    with pytest.raises(ValueError, match="float64"):
        limit_solve(p, cfg, dps=30)


def test_huge_magnification_keeps_log_rho_and_log_alpha_eff():
    """log ρ > 709: float64 ρ overflows, but log ρ and log α_eff carry the value (docs/math.md §4, §5)."""
    p = generate("sparse_positive", 20, 8, seed=0, k=2)
    cfg = FlowConfig(L=2, r0="0.5", eta_r="0.001", eta_u=1)
    res = limit_solve(p, cfg)
    assert res.converged, res.message
    assert math.isfinite(res.log_rho) and res.log_rho > 709
    assert res.rho == math.inf  # exp(log ρ) overflows: acceptable only because log_rho is kept
    assert math.isfinite(res.log_alpha_eff)
    n = res.x_inf.shape[0]
    expected = math.log(0.5) - 0.5 * math.log(n) - res.log_rho
    assert abs(res.log_alpha_eff - expected) <= tol(DPS_FLOAT64, K_ROUNDOFF) * abs(expected)
    d = res.to_dict()
    assert "log_rho" in d and "log_alpha_eff" in d
