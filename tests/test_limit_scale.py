"""The limit solver at scale (issue 16 item 5): the exact residual behind the error bars, the
refinement of the root's projection, and the hand-over from the undamped to the damped dual Newton."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from numerics._bregman import bregman_projection
from numerics._config import FlowConfig
from numerics._limit import _Phi, _refine_projection, _residual_dot2, limit_solve
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, tol
from numerics._problem import generate


def _exact_residual(A, x, y):
    return [sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(row, x)) - Fraction(float(yi))
            for row, yi in zip(A, y)]


def test_residual_dot2_is_the_exact_residual_within_its_bound():
    """The residual against exact rational arithmetic, on y = fl(Ax) (the residual is pure rounding, the
    case of a polished projection) with entries of x from 1e-300 to 1e1 and zeros: it is the correctly
    rounded exact residual on every row (``float(Fraction)`` rounds correctly), and the rigorous bound
    holds and is that of a correctly rounded value."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((12, 80))
    x = np.exp(rng.uniform(-690, 2, 80))
    x[::7] = 0.0
    x[:10] = rng.uniform(1, 2, 10)
    y = A @ x
    g, dg = _residual_dot2(A, x, y)
    ex = _exact_residual(A, x, y)
    g64 = A @ x - y
    u = 2.0 ** -53
    for i in range(len(y)):
        assert float(g[i]) == float(ex[i]), i  # correctly rounded
        err = abs(Fraction(float(g[i])) - ex[i])
        assert err <= Fraction(float(dg[i])), (i, float(err), dg[i])
        # 2u|g| for the rounding, 2⁻¹⁰⁷⁴ for a subnormal result, 2⁻¹⁰⁰⁰ per product below 2⁻⁹⁶⁰
        assert dg[i] <= 2 * u * abs(g[i]) + 5e-324 + len(x) * 2.0 ** -1000
    # the float64 residual (0 here: y = fl(Ax)) is wrong by O(eps |A||x|), what the exact one removes:
    # beyond the exact residual's bound on every row
    for i in range(len(y)):
        assert abs(Fraction(float(g64[i])) - ex[i]) > Fraction(float(dg[i])), i


def test_residual_dot2_underflowing_products_stay_within_the_bound():
    """Products below 2⁻⁹⁶⁰, where TwoProduct may underflow (a·x ≈ 1e-310): the bound still holds."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((5, 30))
    x = np.exp(rng.uniform(-715, -705, 30))
    y = np.zeros(5)
    g, dg = _residual_dot2(A, x, y)
    ex = _exact_residual(A, x, y)
    for i in range(5):
        assert abs(Fraction(float(g[i])) - ex[i]) <= Fraction(float(dg[i])), i


def test_residual_dot2_refuses_entries_that_would_overflow_the_split():
    A = np.array([[1e300, 1.0]])
    assert _residual_dot2(A, np.array([1.0, 1.0]), np.array([1.0])) is None


def _chain_L3():
    p = generate("sparse_positive", 1000, 150, 0)
    cfg = FlowConfig(L=3, r0=1, eta_r="0.1", eta_u=1)
    phi = _Phi(np.asarray(p.A_eff, dtype=float), p.y, cfg, 1000, None)
    v1 = phi.value(1.0)
    v2 = phi.value(2.0)
    return phi, v1, v2


def test_the_undamped_newton_hands_over_to_the_damped_one_when_it_stalls():
    """N = 1000, M = 150, L = 3, η̃ = 0.1 (issue 16 item 5): the projection at r = 4 warm-started from
    r = 2 took 1497 Newton steps, 9 s of the 9 s solve, because every point of the path-following ran
    the undamped basis form to its 30-step budget (stalled at ‖Ax − y‖ ≈ 2e-9, far above the rounding
    level) before the damped run finished it in two.  The undamped run now stops once it stalls."""
    phi, _, v2 = _chain_L3()
    res = bregman_projection(phi.A, phi.y, None, 3, log_beta=phi.logbeta(4.0), polish=True, nu0=v2.proj.nu,
                             path_from=(v2.logb, v2.proj.nu, v2.proj.log_x))
    assert res.converged, res.message
    assert res.iterations < 400, res.message
    assert res.residual <= phi.ar.rounding_level(res.x)


def test_refinement_lowers_the_exact_residual_and_keeps_the_projection():
    """At r = 2 of the N = 1000, M = 150, L = 3 chain the refinement lowers the exact residual (a step
    was kept, so a new projection comes back), and it moves S by no more than the first-order error
    bars of the two points allow (the same projection, two float64 points of it)."""
    phi, _, v2 = _chain_L3()
    proj = v2.proj
    before = float(np.linalg.norm(_residual_dot2(phi.A, proj.x, phi.y)[0]))
    new = _refine_projection(phi.ar, phi.A, phi.y, 3, proj, v2.logb)
    assert new is not proj
    after = float(np.linalg.norm(_residual_dot2(phi.A, new.x, phi.y)[0]))
    assert after < before
    assert np.all(new.x >= 0)
    S0, S1 = phi.S(proj.log_x), phi.S(new.log_x)
    d0 = phi._derivative(2.0, proj, v2.logb, bounds=True)
    d1 = phi._derivative(2.0, new, v2.logb, bounds=True)
    assert abs(S1 - S0) <= (d0.dS_proj + d0.dS_round) + (d1.dS_proj + d1.dS_round)


def test_n1000_m150_L3_error_bar_claims_no_cancellation_on_its_degenerate_vertex(monkeypatch):
    """The N = 1000, M = 150, L = 3 limit (η̃ = 0.1) sits on a degenerate vertex: B = D^{1/2}Aᵀ at the root
    has κ ≈ 5e14, beyond float64's resolution of its SVD, so the computed v̂ = H⁻¹Ax may be wrong in
    every digit and the bar may not use the cancellation in v̂ᵀg (the exact residual g against v̂): its
    projection term is at least the worst case over every residual within float64's rounding (the bar
    without the exact residual).  The round that let 2|v̂ᵀg| decide called this limit converged."""
    import math

    import numerics._limit as lim

    p = generate("sparse_positive", 1000, 150, 0)
    cfg = FlowConfig(L=3, r0=1, eta_r="0.1", eta_u=1)
    res = limit_solve(p, cfg, time_limit=120)
    assert res.r_inf is not None, res.message
    phi = _Phi(np.asarray(p.A_eff, dtype=float), p.y, cfg, 1000, None)
    for r in (1.0, 2.0, 4.0):  # warm starts along the way (a cold projection at the root path-follows far)
        phi.value(r)
    v = phi.value(res.r_inf, bounds=True)
    assert v.d is not None
    sqrtD = math.sqrt(3) * np.exp((2 / 3) * np.asarray(v.proj.log_x))
    sv = lim._svd_rows(sqrtD, phi.A)[2]
    assert sv[-1] < tol(DPS_FLOAT64, K_ROUNDOFF) * sv[0]  # unresolved: κ(B) beyond 1/ε_svd
    exact = v.d.dS_proj
    monkeypatch.setattr(lim, "_residual_dot2", lambda A, x, y: None)
    worst = phi._derivative(res.r_inf, v.proj, v.logb, bounds=True).dS_proj
    assert exact >= worst, (exact, worst)


def test_cg_gives_up_at_its_first_time_check_once_the_deadline_has_passed():
    """The caller's time limit is checked inside CG every 16 steps: with the deadline already past, a
    Newton system that needs hundreds of steps (matrix-free, D spanning 24 orders) stops after exactly
    16, returns no step (non-finite) and is not counted as a CG failure."""
    import time

    from numerics._bregman import _Float64

    p = generate("sparse_signed", 2000, 300, 0, k=30, matrix="dct")
    op = p.A_eff
    n = op.shape[1]
    rng = np.random.default_rng(1)
    w = 10.0 ** rng.uniform(-30, -6, n)
    w[rng.choice(n, 60, replace=False)] = 1.0
    ar = _Float64(op, p.y)
    ar.deadline = time.perf_counter() - 1.0
    s = ar.hessian_solver(w, shift=True)(rng.standard_normal(300))
    assert not np.all(np.isfinite(s))
    assert ar.cg_iterations == 16
    assert ar.cg_failures == 0


def test_a_matrix_free_projection_honours_its_time_limit_inside_cg():
    """Matrix-free (subsampled DCT, N = 20000, M = 2000) at log β = −600, where each CG solve runs to
    its 2000-step cap: the projection returns TIME_LIMIT (the check inside CG itself is the test
    above)."""
    p = generate("sparse_positive", 20000, 2000, 0, matrix="dct")
    r = bregman_projection(None, p.y, None, 2, operator=p.A_eff, log_beta=np.full(20000, -600.0), time_limit=0.5)
    assert r.status.value == "time_limit", r.message


def _degenerate_small():
    """k = 2 nonzeros of the truth and M = 10: at η̃ = 0.1, L = 3 the limit sits next to a degenerate
    vertex (two large x_i, the rest tiny), where B = D^{1/2}Aᵀ has M − 2 tiny singular values and the
    float64 H⁻¹Ax may be wrong in every digit."""
    return generate("sparse_positive", 30, 10, 0, k=2), FlowConfig(L=3, r0=1, eta_r="0.1")


@pytest.mark.parametrize("case", ["degenerate L=3", "L=2", "signed L=2", "L=3 small eta"])
def test_float64_root_lies_within_its_error_bar_of_the_dps_root(case):
    """The float64 error bar is a bound: |r_∞(float64) − r_∞(dps = 30)| ≤ r_inf_error (plus the dps bar
    and the rounding of the dps value to float64), whatever the float64 status."""
    if case == "degenerate L=3":
        p, cfg = _degenerate_small()
    elif case == "L=2":
        p, cfg = generate("sparse_positive", 20, 8, 0), FlowConfig(L=2, r0=1, eta_r="0.3")
    elif case == "signed L=2":
        p, cfg = generate("sparse_signed", 20, 8, 1), FlowConfig(L=2, r0="0.5", eta_r="0.1")
    else:
        p, cfg = generate("sparse_positive", 24, 8, 2, k=3), FlowConfig(L=3, r0=1, eta_r="0.05")
    r64 = limit_solve(p, cfg, time_limit=120)
    assert r64.r_inf is not None, r64.message
    ref = limit_solve(p, cfg, dps=30, time_limit=300)
    assert ref.converged, ref.message
    gap = abs(r64.r_inf - float(ref.r_inf))
    assert gap <= r64.r_inf_error + float(ref.r_inf_error) + np.finfo(float).eps * abs(float(ref.r_inf)), \
        (gap, r64.r_inf_error, r64.message)
