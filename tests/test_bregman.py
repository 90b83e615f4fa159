"""Bregman projection (numerics.bregman): KKT conditions, a generic convex solve, extreme β, infeasibility."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from numerics import Status
from numerics._derived import grad_F as _grad_F_derived
from numerics.bregman import bregman_projection
from numerics.precision import DPS_FLOAT64, K_ROUNDOFF, K_SOLVE, tol, workdps


def grad_F(z, L, lib=np):
    """∇F from the generated module (theory/export.py), not from numerics.bregman."""
    return _grad_F_derived(z, L, lib)


def _problem(seed, N, M):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, N)) / np.sqrt(M)
    # a strictly positive solution exists, so the projection is interior (all x_i > 0); without one
    # the projection sits on the boundary and the dual is unbounded (see tests/test_limit.py)
    x0 = rng.uniform(0.05, 2.0, N)
    return A, A @ x0, rng


def _kernel_residual(A, v):
    """‖P_ker(A) v‖ / max(‖v‖, 1): the part of v outside range(Aᵀ)."""
    Q, _ = np.linalg.qr(A.T)
    r = v - Q @ (Q.T @ v)
    return np.linalg.norm(r) / max(np.linalg.norm(v), 1.0)


def _kernel_residual_mp(A, v):
    M, n = A.shape
    Am = mpmath.matrix([[mpmath.mpf(float(a)) for a in row] for row in A])
    vm = mpmath.matrix(v)
    lam = mpmath.lu_solve(Am * Am.T, Am * vm)
    r = vm - Am.T * lam
    return mpmath.norm(r) / max(mpmath.norm(vm), 1)


@given(seed=st.integers(0, 10_000), N=st.integers(3, 12), M=st.integers(1, 5), L=st.sampled_from([2, 3, 4]),
       logscale=st.floats(-3.0, 1.0))
@example(seed=0, N=3, M=1, L=2, logscale=0.0)
def test_kkt_float64(seed, N, M, L, logscale):
    M = min(M, N - 1)
    A, y, rng = _problem(seed, N, M)
    beta = 10.0 ** (logscale + rng.uniform(-1, 1, N))
    r = bregman_projection(A, y, beta, L)
    assert r.status is Status.CONVERGED, r.message
    scale = max(1.0, np.linalg.norm(y))
    assert np.all(r.x > 0)
    assert np.linalg.norm(A @ r.x - y) <= tol(DPS_FLOAT64, K_SOLVE) * scale
    d = grad_F(r.x, L) - grad_F(beta, L)
    assert _kernel_residual(A, d) <= tol(DPS_FLOAT64, K_SOLVE)
    # the dual vector is the multiplier: ∇F(x) − ∇F(β) = Aᵀν
    assert np.linalg.norm(d - A.T @ r.nu) <= tol(DPS_FLOAT64, K_SOLVE) * max(1.0, np.linalg.norm(d))


def _D_F(z, beta, L):
    if L == 2:
        F = lambda v: 0.5 * np.sum(v * np.log(v) - v)  # noqa: E731
    else:
        F = lambda v: np.sum(v - (L / 2) * v ** (2 / L)) / (L - 2)  # noqa: E731
    return F(z) - F(beta) - grad_F(beta, L) @ (z - beta)


@pytest.mark.parametrize("L", [2, 3])
def test_agrees_with_generic_convex_solver(L):
    from scipy.optimize import minimize

    A, y, rng = _problem(7, 5, 2)
    beta = rng.uniform(0.2, 1.5, 5)
    ours = bregman_projection(A, y, beta, L)
    assert ours.status is Status.CONVERGED
    cons = {"type": "eq", "fun": lambda z: A @ z - y, "jac": lambda z: A}
    ref = minimize(lambda z: _D_F(z, beta, L), np.full(5, 0.5), jac=lambda z: grad_F(z, L) - grad_F(beta, L),
                   constraints=[cons], bounds=[(1e-12, None)] * 5, method="SLSQP",
                   options={"ftol": 1e-15, "maxiter": 1000})
    assert ref.success, ref.message
    # ours is optimal: never worse than the generic solver's feasible point (up to its feasibility error)
    assert _D_F(ours.x, beta, L) <= _D_F(ref.x, beta, L) + 1e-10
    # SLSQP's minimiser is accurate to ~sqrt(ftol) in x (first-order optimality), not to roundoff
    assert np.max(np.abs(ours.x - ref.x)) <= np.sqrt(1e-15) * 10 * max(1.0, np.abs(ref.x).max())


@pytest.mark.parametrize("L", [2, 3])
def test_float64_and_mp_agree(L):
    A, y, rng = _problem(3, 10, 4)
    beta = 10.0 ** rng.uniform(-4, 0, 10)
    r64 = bregman_projection(A, y, beta, L)
    rmp = bregman_projection(A, y, [mpmath.mpf(b) for b in beta], L, dps=40)
    assert r64.status is Status.CONVERGED and rmp.status is Status.CONVERGED
    assert rmp.residual <= tol(40, K_SOLVE) * max(1.0, np.linalg.norm(y))
    x64 = np.array([float(v) for v in rmp.x])
    # float64 solves are accurate to roundoff times the conditioning of the dual Hessian
    assert np.max(np.abs(x64 - r64.x) / x64) <= tol(DPS_FLOAT64, K_SOLVE + 2)


@pytest.mark.parametrize("L,span", [(2, 200), (3, 60)])
def test_beta_spanning_many_orders_at_dps50(L, span):
    """β from 1e-span to 1.  For L > 2, ∇F(β) ~ β^{(2−L)/L} reaches 10^{span/3} (L = 3): the dual
    identity ∇F(x) = ∇F(β) + Aᵀν then cancels that many digits on the support, so the span is
    kept well inside dps there; for L = 2 (∇F = ½ log) the full 200 orders are fine."""
    A, y, rng = _problem(11, 10, 3)
    expo = np.concatenate([[0.0, -float(span)], rng.uniform(-span, 0, 8)])
    with workdps(50):
        beta = [mpmath.mpf(10) ** int(round(e)) for e in expo]
    r = bregman_projection(A, y, beta, L, dps=50)
    assert r.status is Status.CONVERGED, r.message
    assert r.residual <= tol(50, K_SOLVE) * max(1.0, np.linalg.norm(y))
    with workdps(50):
        assert all(v > 0 for v in r.x)
        d = [grad_F(x, L, mpmath) - grad_F(b, L, mpmath) for x, b in zip(r.x, beta)]
        lost = 0 if L == 2 else int(np.ceil(span * (L - 2) / L))  # digits of ∇F(β) above O(1)
        assert _kernel_residual_mp(A, d) <= tol(50, K_SOLVE + lost)


def test_infeasible_is_inconsistent():
    A = np.array([[1.0, 2.0, 0.5], [0.0, 1.0, 1.0]])
    y = np.array([-1.0, 1.0])  # first row: a nonnegative combination of positive entries cannot be −1
    beta = np.ones(3)
    assert bregman_projection(A, y, beta, 2).status is Status.INCONSISTENT
    assert bregman_projection(A, y, beta, 3).status is Status.INCONSISTENT
    r = bregman_projection(A, y, beta, 2, dps=30)
    assert r.status is Status.INCONSISTENT and "nonnegative" in r.message


def test_bad_input_raises():
    A = np.ones((1, 3))
    with pytest.raises(ValueError, match="beta"):
        bregman_projection(A, [1.0], [1.0, -1.0, 1.0], 2)
    with pytest.raises(ValueError, match="beta"):
        bregman_projection(A, [1.0], [1.0, 1.0], 2)
    with pytest.raises(ValueError, match="L"):
        bregman_projection(A, [1.0], [1.0, 1.0, 1.0], 1)
    with pytest.raises(ValueError, match="rows"):
        bregman_projection(A, [1.0, 2.0], [1.0, 1.0, 1.0], 2)
    with pytest.raises(ValueError, match="dps"):
        bregman_projection(A, [1.0], [1.0, 1.0, 1.0], 2, dps=0)


def test_closed_form_uniform():
    # one equation Σ z = 1 with uniform β: by symmetry the projection is 1/n for every L
    for L in (2, 3, 5):
        r = bregman_projection(np.ones((1, 4)), np.array([1.0]), np.full(4, 0.01), L)
        assert np.max(np.abs(r.x - 0.25)) <= tol(DPS_FLOAT64, K_ROUNDOFF)
