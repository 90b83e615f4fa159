"""Limit solver (numerics.limit): the root of φ against MATH.md §4, against the flow, and K(t)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from numerics import Status, _derived
from numerics.config import FlowConfig
from numerics.limit import limit_solve
from numerics.precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, tol, workdps
from numerics.problem import Problem, generate


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
    from numerics.bregman import bregman_projection

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
    dK/dt = −c‖Ax − y‖² with c = η_u L r^L e^{(2−L)s} (MATH.md §4), checked pointwise from the
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
