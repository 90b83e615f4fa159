"""The arbitrary-precision Taylor integrator (numerics/_taylor.py).

Claims tested: the invariants of docs/math.md §3 (``h ∈ range(Aᵀ)``, ``‖u‖ = 1``, loss monotone)
hold along trajectories of all three flows and both models at the working precision; the
Taylor jet has the order it claims (closed form of the scalar logistic flow); the integrator
agrees with ``mpmath.odefun`` (same precision) and with scipy's DOP853 (float64).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import gmpy2
from numerics import Status
from numerics._config import FlowConfig
from numerics._precision import K_ACCUMULATED, K_ROUNDOFF, tol, workdps
from numerics._problem import Problem, generate
from numerics._taylor import _System, float_switch_order, integrate_taylor, taylor_order

DPS = 30


def _small_problem(seed, N, M, model):
    kind = "sparse_positive" if model == "positive" else "sparse_signed"
    return generate(kind, N, M, seed, model=model)


# -- invariants along trajectories (property tests) ---------------------------------------


@given(
    seed=st.integers(0, 10_000),
    N=st.integers(2, 6),
    m_frac=st.floats(0.2, 0.8),
    model=st.sampled_from(["positive", "signed"]),
    rates=st.sampled_from(["constant", "r2", "plain"]),
    L=st.sampled_from([2, 3]),
    eta_r=st.sampled_from([0.1, 1.0]),
)
@example(seed=0, N=6, m_frac=0.5, model="positive", rates="constant", L=2, eta_r=0.1)
@example(seed=1, N=4, m_frac=0.5, model="signed", rates="r2", L=3, eta_r=1.0)
@example(seed=2, N=5, m_frac=0.5, model="positive", rates="plain", L=2, eta_r=1.0)
def test_invariants_hold_along_the_trajectory(seed, N, m_frac, model, rates, L, eta_r):
    M = max(1, min(N - 1, int(round(m_frac * N))))
    pb = _small_problem(seed, N, M, model)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=eta_r, eta_u=1.0, rates=rates)
    res = integrate_taylor(pb, cfg, dps=DPS, t_max=4.0, checkpoints=[0.5, 1.0, 2.0, 3.0])
    assert res.status in (Status.CONVERGED, Status.NOT_CONVERGED), res.message
    assert res.t[-1] == pytest.approx(4.0) or res.converged
    bound = tol(DPS, K_ACCUMULATED)
    assert np.all(res.invariant_residual <= bound), res.invariant_residual
    assert np.all(np.abs(res.unorm_dev) <= bound), res.unorm_dev
    assert res.loss_increases == 0
    # monotone up to the noise of dps digits in ½‖Ax − y‖²: relative to the loss, plus the rounding of
    # Ax − y itself (10^-dps‖y‖ times the residual) once the run has reached the noise floor
    lo = res.loss[:-1]
    noise = tol(DPS, K_ROUNDOFF) * (lo + np.sqrt(2 * lo) * np.linalg.norm(pb.y))
    assert np.all(np.diff(res.loss) <= noise)
    assert res.steps_checked == res.nsteps - 1 or res.steps_checked == res.nsteps
    assert res.max_step_increase <= tol(DPS, K_ROUNDOFF) * np.linalg.norm(pb.y)
    assert len(res.u_final) == pb.n and len(res.x_final) == pb.n
    assert all(isinstance(v, mpmath.mpf) for v in res.x_final)


def test_mixed_precision_tail_changes_nothing_beyond_the_tolerance():
    pb = generate("sparse_positive", 8, 3, 5)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    a = integrate_taylor(pb, cfg, dps=DPS, t_max=5.0, mixed=True)
    b = integrate_taylor(pb, cfg, dps=DPS, t_max=5.0, mixed=False)
    assert a.diagnostics.float_from_order < a.diagnostics.order
    assert b.diagnostics.float_from_order is None
    with workdps(DPS):
        assert abs(a.r_final - b.r_final) <= tol(DPS, K_ACCUMULATED) * b.r_final
        for x, z in zip(a.u_final, b.u_final):
            assert abs(x - z) <= tol(DPS, K_ACCUMULATED) * z


# -- order of the Taylor jet on a closed form ---------------------------------------------
#
# Scalar positive model, L = 2, A = [a]: plain GF  ẇ = −2a w (a w² − y).  With v = w²,
# v̇ = 4ay v − 4a² v² (logistic, rate k = 4ay, capacity K = y/a), so
#     w(t)² = K / (1 + (K/w0² − 1) e^{−k t}).
# WN-GF with N = 1 has ū ≡ 1, u̇ = 0 and ṙ = −η_r ∂ℒ/∂r: the same logistic with k = 4 η_r a y.


def _logistic_w(t, w0, a, y, rate_factor=1):
    a, y = mpmath.mpf(a), mpmath.mpf(y)
    k = 4 * rate_factor * a * y
    K = y / a
    return mpmath.sqrt(K / (1 + (K / w0**2 - 1) * mpmath.exp(-k * t)))


def test_jet_error_falls_as_h_to_the_order_plus_one():
    a, y, w0, p = 1.5, 2.0, 0.3, 8
    pb = Problem(np.array([[a]]), np.array([y]))
    cfg = FlowConfig(L=2, r0=w0, rates="plain")
    dps = 50
    errs = []
    hs = [mpmath.mpf(1) / 40, mpmath.mpf(1) / 80, mpmath.mpf(1) / 160]
    with workdps(dps):
        prec = mpmath.mp.prec
        with gmpy2.context(gmpy2.get_context(), precision=prec):
            sysm = _System(pb, cfg)
            (series,), _ = sysm.jet_plain([gmpy2.mpfr(w0)], p)
            coeffs = [mpmath.mpf(str(c)) for c in series]
        for h in hs:
            approx = mpmath.polyval(coeffs[::-1], h)
            errs.append(abs(approx - _logistic_w(h, mpmath.mpf(w0), a, y)))
        slopes = [float(mpmath.log(errs[i] / errs[i + 1], 2)) for i in range(2)]
    # the leading neglected term is c_{p+1} h^{p+1}: halving h divides the error by 2^{p+1}
    assert all(abs(s - (p + 1)) < 0.3 for s in slopes), slopes


@pytest.mark.parametrize("rates", ["plain", "constant"])
def test_integration_matches_the_closed_form(rates):
    a, y, w0 = 1.5, 2.0, 0.3
    pb = Problem(np.array([[a]]), np.array([y]))
    eta_r = 0.5
    cfg = FlowConfig(L=2, r0=w0, eta_r=eta_r, eta_u=1.0, rates=rates)
    dps = 40
    res = integrate_taylor(pb, cfg, dps=dps, t_max=2.0)
    factor = 1 if rates == "plain" else eta_r
    with workdps(dps):
        exact = _logistic_w(mpmath.mpf(res.t_final), mpmath.mpf(w0), a, y, factor)
        assert abs(res.r_final - exact) <= tol(dps, K_ACCUMULATED) * exact


def test_converges_to_loss_tol_on_the_scalar_flow():
    pb = Problem(np.array([[1.0]]), np.array([2.0]))
    cfg = FlowConfig(L=2, r0=0.5, rates="plain")
    res = integrate_taylor(pb, cfg, dps=DPS, t_max=100.0)
    assert res.status is Status.CONVERGED, res.message
    assert res.loss_final <= res.loss_tol
    with workdps(DPS):
        assert abs(res.x_final[0] - 2) <= tol(DPS, K_ACCUMULATED)


# -- cross-checks -------------------------------------------------------------------------


def _wn_rhs_mp(A, y, eta_r, eta_u):
    M, n = len(A), len(A[0])

    def F(t, z):
        r, u = z[0], z[1:]
        nu = mpmath.sqrt(mpmath.fdot(u, u))
        ub = [v / nu for v in u]
        x = [(r * v) ** 2 for v in ub]
        e = [mpmath.fdot(row, x) - yy for row, yy in zip(A, y)]
        g = [mpmath.fdot([A[m][i] for m in range(M)], e) for i in range(n)]
        G = [2 * r * ubi * gi for ubi, gi in zip(ub, g)]
        sig = mpmath.fdot(ub, G)
        return [-eta_r * sig] + [-eta_u * (r / nu) * (Gi - ubi * sig) for Gi, ubi in zip(G, ub)]

    return F


def test_agrees_with_mpmath_odefun_on_a_short_horizon():
    pb = generate("sparse_positive", 4, 2, 1)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    dps, T = 40, 1.0
    res = integrate_taylor(pb, cfg, dps=dps, t_max=T)
    with workdps(dps):
        A = [[mpmath.mpf(float(v)) for v in row] for row in pb.A]
        y = [mpmath.mpf(float(v)) for v in pb.y]
        z0 = [mpmath.mpf(1)] + [1 / mpmath.sqrt(4)] * 4
        sol = mpmath.odefun(_wn_rhs_mp(A, y, mpmath.mpf(cfg.eta_r), mpmath.mpf(cfg.eta_u)), 0, z0)
        zT = sol(mpmath.mpf(T))
        bound = tol(dps, K_ACCUMULATED)
        assert abs(zT[0] - res.r_final) <= bound
        assert max(abs(a - b) for a, b in zip(zT[1:], res.u_final)) <= bound


def test_agrees_with_scipy_dop853_in_float64():
    from scipy.integrate import solve_ivp

    pb = generate("sparse_positive", 8, 3, 2)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    A, y, n = pb.A, pb.y, pb.n

    def rhs(t, z):
        r, u = z[0], z[1:]
        nu = np.linalg.norm(u)
        ub = u / nu
        x = (r * ub) ** 2
        g = A.T @ (A @ x - y)
        G = 2 * r * ub * g
        sig = ub @ G
        return np.concatenate([[-cfg.eta_r * sig], -cfg.eta_u * (r / nu) * (G - ub * sig)])

    T = 10.0
    z0 = np.concatenate([[1.0], np.full(n, 1 / math.sqrt(n))])
    ref = solve_ivp(rhs, (0, T), z0, method="DOP853", rtol=1e-13, atol=1e-16)
    res = integrate_taylor(pb, cfg, dps=DPS, t_max=T)
    got = np.array([float(res.r_final)] + [float(v) for v in res.u_final])
    # DOP853 at rtol 1e-13 over this horizon: the float64 reference itself is good to ~1e-11
    err = np.max(np.abs(got - ref.y[:, -1]) / np.maximum(np.abs(ref.y[:, -1]), 1e-3))
    assert err < 1e-10, err


# -- input checking -----------------------------------------------------------------------


def test_too_low_precision_for_loss_tol_is_a_value_error():
    pb = generate("sparse_positive", 6, 3, 0)
    cfg = FlowConfig()
    with pytest.raises(ValueError, match="dps"):
        integrate_taylor(pb, cfg, dps=20, t_max=1.0, loss_tol=1e-60)


@pytest.mark.parametrize(
    "kw",
    [dict(dps=0, t_max=1.0), dict(dps=20, t_max=-1.0), dict(dps=20, t_max=1.0, order=1),
     dict(dps=20, t_max=1.0, max_steps=0), dict(dps=20, t_max=1.0, checkpoints=[-1.0])],
)
def test_bad_arguments_raise(kw):
    pb = generate("sparse_positive", 6, 3, 0)
    with pytest.raises(ValueError):
        integrate_taylor(pb, FlowConfig(), **kw)


def test_order_rules():
    assert taylor_order(40) == int(math.ceil(43 * math.log(10) / 2)) + 1
    p = taylor_order(40)
    assert 2 <= float_switch_order(40, p) < p
    assert float_switch_order(5, taylor_order(5)) == taylor_order(5)  # nothing left to gain


def test_budget_stop_is_not_converged():
    pb = generate("sparse_positive", 6, 3, 0)
    res = integrate_taylor(pb, FlowConfig(), dps=20, t_max=1e6, max_steps=3)
    assert res.status is Status.NOT_CONVERGED and "step budget (3 steps)" in res.message
    assert res.nsteps == 3 and res.nfev == 3 * res.diagnostics.order  # one jet per step, none at the end


# -- the recurrences against the derived vector fields ------------------------------------


@pytest.mark.parametrize("rates", ["constant", "r2", "plain"])
@pytest.mark.parametrize("L", [2, 3, 4])
def test_first_taylor_coefficient_is_the_derived_vector_field(rates, L):
    """Coefficient 1 of the jet is the right-hand side; compare with numerics._derived."""
    D = pytest.importorskip("numerics._derived")
    pb = generate("sparse_signed", 4, 2, 3)  # signed: n = 8, A_eff = [A, −A]
    cfg = FlowConfig(L=L, r0=1.3, eta_r=0.7, eta_u=1.9, rates=rates)
    rng = np.random.default_rng(L)
    u = rng.uniform(0.2, 1.0, pb.n)
    r, dps = 1.3, DPS
    with workdps(dps):
        prec = mpmath.mp.prec
        with gmpy2.context(gmpy2.get_context(), precision=prec):
            sysm = _System(pb, cfg)
            um = [gmpy2.mpfr(float(v)) for v in u]
            nu = gmpy2.sqrt(sum(v * v for v in um))
            if rates == "plain":
                series, _ = sysm.jet_plain([gmpy2.mpfr(r) * v for v in um], 3)
            else:
                series, _ = sysm.jet_wn(gmpy2.mpfr(r), 1 / nu, um, 3)
            c1 = [mpmath.mpf(str(s[1])) for s in series]
        A = [[mpmath.mpf(float(v)) for v in row] for row in pb.A_eff]
        y = [mpmath.mpf(float(v)) for v in pb.y]
        r = mpmath.mpf(r)  # Python floats would multiply in float64 inside the fields
        um = [mpmath.mpf(float(v)) for v in u]
        unorm = mpmath.sqrt(mpmath.fdot(um, um))
        ubar = [v / unorm for v in um]
        w = [r * v for v in (um if rates == "plain" else ubar)]
        x = [v**L for v in w]
        e = [mpmath.fdot(row, x) - yy for row, yy in zip(A, y)]
        g = [mpmath.fdot([row[i] for row in A], e) for i in range(pb.n)]
        grad = [D.loss_grad(wi, gi, L, mpmath) for wi, gi in zip(w, g)]
        if rates == "plain":
            expected = [D.gf_w_dot(gi, mpmath) for gi in grad]
        else:
            sigma = mpmath.fdot(ubar, grad)
            eta_r, eta_u = (mpmath.mpf(cfg.eta_r), mpmath.mpf(cfg.eta_u)) if rates == "constant" else (r**2, 1)
            expected = [D.wn_r_dot(sigma, eta_r, mpmath)]
            expected += [D.wn_u_dot(r, ui, unorm, gi, sigma, eta_u, mpmath) for ui, gi in zip(um, grad)]
            c1 = [c1[0]] + c1[2:]  # drop q: its field is d(1/‖u‖)/dt, ~0 here
        scale = max(abs(v) for v in expected)
        assert max(abs(a - b) for a, b in zip(c1, expected)) <= tol(dps, K_ROUNDOFF) * scale


def test_dps_100_invariants():
    pb = generate("sparse_positive", 5, 2, 7)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    res = integrate_taylor(pb, cfg, dps=100, t_max=3.0, checkpoints=[1.0, 2.0])
    assert np.all(res.invariant_residual <= tol(100, K_ACCUMULATED))
    assert np.all(np.abs(res.unorm_dev) <= tol(100, K_ACCUMULATED))
    assert res.loss_increases == 0


def test_tiny_components_keep_relative_accuracy_without_the_float_tail():
    """A direction entry of 1e-70 is outside float64's safe range for the tail: the jet stays
    in mpfr, and the invariant (which takes log u_i) still holds to working precision."""
    pb = generate("sparse_positive", 5, 2, 4)
    u0 = (1e-70, 1.0, 1.0, 1.0, 1.0)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0, u0=u0)
    res = integrate_taylor(pb, cfg, dps=DPS, t_max=3.0, checkpoints=[1.0, 2.0])
    assert np.all(res.invariant_residual <= tol(DPS, K_ACCUMULATED))
    assert np.all(np.abs(res.unorm_dev) <= tol(DPS, K_ACCUMULATED))
    assert 0 < float(res.u_final[0]) < 1e-60


def test_float_tail_is_rejected_when_its_error_would_show(monkeypatch):
    """Switch to floats far too early (order 5): the a-posteriori check must reject the float
    tail and recompute in mpfr, giving the full-precision result."""
    import numerics._taylor as taylor

    pb = generate("sparse_positive", 6, 3, 9)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    ref = integrate_taylor(pb, cfg, dps=DPS, t_max=2.0, mixed=False)
    monkeypatch.setattr(taylor, "float_switch_order", lambda dps, order: 5)
    res = integrate_taylor(pb, cfg, dps=DPS, t_max=2.0)
    assert res.diagnostics.float_tail_rejected > 0
    # the jet is redone with the tail from where its own contributions allow it, and later steps start
    # the tail no earlier: one rejection, not one per step (the old code redid every other step in mpfr)
    assert res.diagnostics.float_tail_rejected == 1 < res.nsteps
    assert res.diagnostics.float_from_order_sum > 5 * res.nsteps  # the later steps start it later than 5
    with workdps(DPS):
        assert abs(res.r_final - ref.r_final) <= tol(DPS, K_ACCUMULATED) * ref.r_final


# -- the fast kernels (exact-integer products with A, flint invariant check, adaptive tail) --


@given(seed=st.integers(0, 10_000), M=st.integers(1, 6), n=st.integers(1, 12), spread=st.integers(0, 200),
       limbs=st.booleans())
def test_integer_matvec_matches_exact_rational_arithmetic(seed, M, n, spread, limbs):
    """``_IntMatrix.dot`` against exact rationals: correctly rounded, so within half an ulp
    (``2^-prec`` relative) of the exact ``Σ A_mi v_i``, whatever the spread of magnitudes; both the
    mpz object-array product and the float64-BLAS product on 16-bit limbs (used for large ``A``)."""
    from fractions import Fraction

    from numerics._taylor import _IntMatrix, _limbs_of

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, n)) * 2.0 ** rng.integers(-spread, spread + 1, (M, n))
    with workdps(DPS):
        prec = mpmath.mp.prec
        with gmpy2.context(gmpy2.get_context(), precision=prec):
            v = [gmpy2.mpfr(float(x)) / 3 * gmpy2.mpfr(2) ** int(e)
                 for x, e in zip(rng.standard_normal(n), rng.integers(-spread, spread + 1, n))]
            im = _IntMatrix(A)
            im.limbs = _limbs_of(im.Z) if limbs else None
            got = im.dot(np.array(v, dtype=object))
            for m in range(M):
                exact = sum(Fraction(float(A[m, i])) * Fraction(*v[i].as_integer_ratio()) for i in range(n))
                err = abs(Fraction(*got[m].as_integer_ratio()) - exact)
                assert err <= Fraction(2) ** (-prec) * abs(exact), (m, float(err), float(exact))


def test_flint_invariant_check_matches_the_mpmath_reference():
    """The run's check ``‖h − QQᵀh‖/max(‖h‖, ‖log_L(ū0)‖)`` runs in python-flint balls (``arb_mat``);
    the reference is the mpmath computation of ``numerics._mp_linalg`` (times ``‖h‖/max(‖h‖, ‖log_L(ū0)‖)``).  The subtraction cancels ``‖h‖``, so they differ
    by at most the working precision (dps + guard digits) times ``‖h‖/‖h‖ = 1``, whatever ``h``; the
    ball's radius bounds the flint side's own rounding and is far below that.  The vector in
    ``range(Aᵀ)`` is formed exactly at that precision from float64 ``A`` and ``g``."""
    from numerics._mp_linalg import range_basis, rmatvec, to_mp_rows
    from numerics._precision import GUARD_DIGITS
    from numerics._taylor import _InvariantCheck

    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 9))
    g = rng.standard_normal(4)
    cancel = tol(DPS + GUARD_DIGITS, K_ROUNDOFF)  # the working precision, times the size of what cancels (1)
    pb = Problem(A, rng.standard_normal(4))
    with workdps(DPS):
        basis = range_basis(A, dps=DPS)
        check = _InvariantCheck(pb, FlowConfig(), DPS)
        assert check.rank == basis.rank == 4
        in_range = rmatvec(to_mp_rows(A, dps=DPS), [mpmath.mpf(float(v)) for v in g], dps=DPS)
        generic = [mpmath.mpf(float(x)) for x in rng.standard_normal(9)]
        for hm, vanishes in ((in_range, True), (generic, False)):
            nh = mpmath.sqrt(mpmath.fsum(v * v for v in hm))
            # the check is relative to max(‖h‖, ‖log_L(ū0)‖), the precision h is held to
            ref = basis.kernel_residual(hm) * nh / max(nh, check.scale)
            ball = check.residual_ball(np.array(hm, dtype=object))
            man, exp = ball.mid().man_exp()
            got = mpmath.mpf((int(man), int(exp)))
            assert abs(got - ref) <= cancel + float(ball.rad()), (got, ref)
            assert check.residual(np.array(hm, dtype=object)) == float(ball.upper())
            if vanishes:  # Aᵀg lies in range(Aᵀ) to working precision: the check can see it
                assert got <= tol(DPS, K_ROUNDOFF)
            else:
                assert got > tol(DPS, K_ROUNDOFF)
        assert 0 < check.radius_max <= cancel


def test_result_fields_are_typed_and_consistent():
    """Issue 15: every output is a named field at dps (object arrays of mpf), none in ``extras``."""
    from numerics._results import TaylorDiagnostics

    pb = generate("sparse_signed", 4, 2, 1, model="signed")
    for rates in ("constant", "plain"):
        res = integrate_taylor(pb, FlowConfig(L=2, r0=1.0, eta_r=0.1, rates=rates), dps=DPS, t_max=2.0)
        assert not hasattr(res, "extras")
        assert isinstance(res.diagnostics, TaylorDiagnostics) and res.diagnostics.rank == 2
        assert 0 < res.diagnostics.ball_radius_max < tol(DPS, K_ROUNDOFF)
        for v in (res.u_final, res.log_u_final, res.x_final, res.x_user):
            assert isinstance(v, np.ndarray) and v.dtype == object and all(isinstance(z, mpmath.mpf) for z in v)
        assert len(res.x_user) == pb.N and len(res.x_final) == pb.n
        with workdps(DPS):
            assert max(abs(mpmath.exp(a) - b) for a, b in zip(res.log_u_final, res.u_final)) <= tol(DPS, K_ROUNDOFF)
            assert all(a == b for a, b in zip(res.x_user, pb.to_user(res.x_final)))
            e = [mpmath.fdot([mpmath.mpf(float(v)) for v in row], res.x_final) - mpmath.mpf(float(yy))
                 for row, yy in zip(pb.A_eff, pb.y)]
            assert abs(mpmath.fdot(e, e) / 2 - res.loss_final_exact) <= tol(DPS, K_ROUNDOFF) * res.loss_final_exact
        assert res.loss_final == pytest.approx(float(res.loss_final_exact), rel=1e-12)
        d = res.to_dict()
        assert d["diagnostics"]["order"] == res.diagnostics.order and len(d["x_user"]) == pb.N


def test_adaptive_float_tail_starts_earlier_and_changes_nothing():
    """On a long WN run the contributions ``ν_j h^j`` fall fast, so the float tail starts well
    before the a-priori order; the result agrees with the all-mpfr run."""
    pb = generate("sparse_positive", 10, 4, 0)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    a = integrate_taylor(pb, cfg, dps=DPS, t_max=20.0, checkpoints=[5.0])
    b = integrate_taylor(pb, cfg, dps=DPS, t_max=20.0, checkpoints=[5.0], mixed=False)
    assert a.diagnostics.float_from_order_min < a.diagnostics.float_from_order
    assert a.nsteps == b.nsteps
    with workdps(DPS):
        assert abs(a.r_final - b.r_final) <= tol(DPS, K_ACCUMULATED) * b.r_final
        for x, z in zip(a.u_final, b.u_final):
            assert abs(x - z) <= tol(DPS, K_ACCUMULATED) * z
    assert np.all(a.invariant_residual <= tol(DPS, K_ACCUMULATED))


# -- precision floor, budgets, the limit test, non-finite values (issues 12 and 13) ---------

HANG_GUARD_S = 60.0


@pytest.mark.parametrize("dps", [1, 3, 6, 15])
def test_precision_below_min_dps_is_refused(dps):
    """``--dps 1`` to ``3`` reported "converged" at t = 0 after zero steps, ``4`` to ``6`` "converged"
    with a Bregman mismatch of 0.1 to 0.002."""
    from numerics._taylor import MIN_DPS

    assert MIN_DPS >= 16
    pb = generate("sparse_positive", 6, 3, 0)
    with pytest.raises(ValueError, match=f"dps = {dps} is below MIN_DPS = {MIN_DPS}"):
        integrate_taylor(pb, FlowConfig(), dps=dps, t_max=1.0)


def test_time_limit_is_honoured_inside_a_long_jet():
    """``solve --dps 10000 --time-limit 5`` ignored the budget: one jet at 10000 digits (order ~11500)
    runs for minutes.  The budget is checked inside the jet.  A hang guard, not a speed test."""
    import time

    pb = generate("sparse_positive", 6, 3, 0)
    t0 = time.perf_counter()
    res = integrate_taylor(pb, FlowConfig(L=2, r0=1.0, eta_r=0.1), dps=10000, t_max=10.0, time_limit=2.0)
    assert time.perf_counter() - t0 < HANG_GUARD_S
    assert res.status is Status.TIME_LIMIT, res.message
    assert "time_limit = 2 s" in res.message and "not a limit" in res.message
    # the default loss tolerance at 10000 digits does not underflow float64 to 0 (it did: never converged):
    # the run compares with the exact one, which the message prints
    import re

    printed = re.search(r"loss_tol ([0-9.]+)e-?([0-9]+)\)", res.message)
    assert printed and float(printed.group(1)) > 0 and int(printed.group(2)) > 9000, res.message
    with pytest.raises(ValueError, match="time_limit"):
        integrate_taylor(pb, FlowConfig(), dps=30, t_max=1.0, time_limit=-1.0)


def test_converged_needs_the_limit_estimate_to_stop_moving():
    """As in float64: loss ≤ loss_tol is not enough; the Bregman estimate at dps and r must also stop
    moving over a factor CHECK_FACTOR in time (the old run stopped at the first step below loss_tol)."""
    from numerics._taylor import CHECK_FACTOR

    pb = generate("sparse_positive", 2, 1, 249)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    res = integrate_taylor(pb, cfg, dps=DPS, t_max=40.0)
    assert res.status is Status.CONVERGED, res.message
    t_ref, t_now = res.steady.between
    assert t_now >= CHECK_FACTOR * t_ref
    assert res.steady.movement <= res.steady.limit_tol == tol(DPS, 5)
    # the test can fail: an unreachable limit_tol leaves the run not converged, with the reason
    strict = integrate_taylor(pb, cfg, dps=DPS, t_max=40.0, limit_tol=1e-300)
    assert strict.status is Status.NOT_CONVERGED
    assert "limit estimate moving by" in strict.message


def test_overflowing_state_ends_promptly():
    """A radius whose powers leave any sane range ends at once with a non-finite/collapse status."""
    import time

    pb = generate("sparse_positive", 6, 3, 0)
    t0 = time.perf_counter()
    res = integrate_taylor(pb, FlowConfig(L=2, r0=1e200, eta_r=0.1), dps=DPS, t_max=10.0, time_limit=10.0)
    assert time.perf_counter() - t0 < HANG_GUARD_S
    assert res.status in (Status.DIVERGED, Status.FAILED), res.message


def test_badly_scaled_problem_ends_within_the_budget():
    """``verify --problem`` on a problem scaled by 1e150 ran the Taylor integrator without end; the
    flow's time scale is 1e-300 there.  It ends within the budget, and never converges falsely."""
    import time

    pb = generate("sparse_positive", 6, 3, 0)
    q = Problem(pb.A * 1e150, pb.y * 1e150, pb.model)
    t0 = time.perf_counter()
    res = integrate_taylor(q, FlowConfig(L=2, r0=1.0, eta_r=0.1), dps=DPS, t_max=10.0, time_limit=3.0)
    assert time.perf_counter() - t0 < HANG_GUARD_S
    assert res.status in (Status.CONVERGED, Status.TIME_LIMIT), res.message
    if res.status is Status.CONVERGED:
        with workdps(DPS):
            assert mpmath.sqrt(2 * res.loss_final_exact) <= tol(DPS, K_ROUNDOFF) * float(np.linalg.norm(q.y))
    else:
        assert "badly scaled" in res.message


def test_exact_parameters_enter_at_working_precision():
    """η_r = "1/10" (a string, exactly one tenth) and the double 0.1 differ at 1e-17: the Taylor run
    at dps 30 must see the difference (the old code rounded every parameter through float64)."""
    pb = generate("sparse_positive", 5, 2, 1)
    a = integrate_taylor(pb, FlowConfig(L=2, r0=1.0, eta_r="1/10"), dps=DPS, t_max=2.0, checkpoints=[1.0])
    b = integrate_taylor(pb, FlowConfig(L=2, r0=1.0, eta_r=0.1), dps=DPS, t_max=2.0, checkpoints=[1.0])
    with workdps(DPS):
        d = abs(a.r_final - b.r_final)
        assert d > tol(DPS, K_ACCUMULATED) * b.r_final  # the runs differ at the double's 5.6e-18
        assert d < 1e-15 * b.r_final


def test_float_tail_underflow_near_a_fixed_point_is_redone_in_mpfr():
    """Near the fixed point at dps 200 the last Taylor coefficients fall below float64's range in the
    float tail and became exactly 0: the Jorba–Zou step was then infinite, the step ran to t_max and
    the dense output gave w = −4e6 (then a crash on log of a negative number).  The jet is redone in
    mpfr instead, and the run stays on the solution."""
    dps = 200
    pb = Problem(np.array([[1.0]]), np.array([2.0]))
    res = integrate_taylor(pb, FlowConfig(L=2, r0=0.5, rates="plain"), dps=dps, t_max=100.0)
    assert res.status in (Status.CONVERGED, Status.NOT_CONVERGED), res.message
    assert res.diagnostics.float_tail_rejected > 0
    assert np.all(res.r > 0) and np.all(res.invariant_residual <= tol(dps, K_ACCUMULATED))
    with workdps(dps):
        assert abs(res.x_final[0] - 2) <= tol(dps, K_ACCUMULATED)


def test_limb_products_give_the_same_run_as_mpz_products(monkeypatch):
    """Large ``A`` multiplies through float64 BLAS on 16-bit limbs; both products are exact integer
    products rounded once, so a whole run is bit-for-bit the same as with mpz object arrays."""
    import numerics._taylor as taylor

    pb = generate("gaussian", 60, 25, 2)  # signed: A_eff is 25 × 120, 3000 entries (below the default threshold)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    monkeypatch.setattr(taylor, "_LIMB_MIN_ENTRIES", 1000)
    a = integrate_taylor(pb, cfg, dps=DPS, t_max=0.05, checkpoints=[0.05])
    monkeypatch.setattr(taylor, "_LIMB_MIN_ENTRIES", 10**9)
    b = integrate_taylor(pb, cfg, dps=DPS, t_max=0.05, checkpoints=[0.05])
    assert a.nsteps == b.nsteps >= 1
    assert a.r_final == b.r_final and all(x == z for x, z in zip(a.u_final, b.u_final))
