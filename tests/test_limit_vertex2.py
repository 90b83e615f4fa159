"""``L = 2`` at tiny β: the limit at the solution of the ℓ1 LP, enclosed by Lagrangian duality
(numerics._vertex2, numerics._limit._l2_vertex_stage; docs/math.md §4.7)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from flint import arb, ctx

import numerics._limit as lim
from numerics import _vertex2 as V
from numerics._bregman import bregman_projection
from numerics._config import FlowConfig
from numerics._precision import workdps
from numerics._problem import generate


def _mp(b):
    """The interval of an ``arb`` ball as two mpf (at the working precision, outward)."""
    return (mpmath.mpf(b.lower().str(40, radius=False)) * (1 - mpmath.mpf(10) ** -35),
            mpmath.mpf(b.upper().str(40, radius=False)) * (1 + mpmath.mpf(10) ** -35))


def _data(N, M, k, seed, kind="sparse_positive"):
    p = generate(kind, N, M, seed, k=k)
    return p, np.asarray(p.A_eff, dtype=float), np.asarray(p.y, dtype=float)


def test_interior_point_value_matches_highs():
    """The interior-point ℓ1 LP (a proposal) reaches HiGHS's optimum to its tolerance."""
    from scipy.optimize import linprog

    for seed in range(3):
        _, A, y = _data(60, 20, None, seed)
        ip = V.ipm_l1(A, y, rtol=1e-11)
        assert ip is not None
        ref = linprog(np.ones(A.shape[1]), A_eq=A, b_eq=y, bounds=(0, None), method="highs")
        assert abs(float(ip.z.sum()) - ref.fun) <= 1e-9 * ref.fun
        assert np.all(ip.z > 0) and np.all(ip.s > 0)


def _bounds(A, y, lam0, ta, tb, h):
    """The proposal, ``(S_lo at t_b, S_hi at t_a)`` as balls, and ``x_error`` from ``S_hi``, for ``λ₀`` (floats)."""
    prop = V.propose(A, y)
    assert prop is not None, V.last_failure
    old = ctx.prec
    ctx.prec = prop.prec
    try:
        cert = V.certificate(A, prop, [arb(float(v)) for v in lam0], np.asarray(lam0, dtype=float))
        assert cert is not None
        lo, hi = cert.bounds(arb(ta), arb(tb), arb(h))
        return prop, lo, hi, cert.x_error(hi)
    finally:
        ctx.prec = old


def _S_ref(A, y, lam):
    """``Σ x*`` and ``x*`` of the projection at ``log β = −λ``, by the dual Newton at 60 digits."""
    ref = bregman_projection(A, y, None, 2, log_beta=-np.asarray(lam, dtype=float), dps=60, time_limit=120)
    assert ref.converged, ref.message
    with workdps(60):
        return mpmath.fsum(ref.x), ref.x


@pytest.mark.parametrize("case", [(30, 10, 2, 0), (40, 15, 3, 7), (60, 20, 4, 2), (80, 30, 10, 3)])
@pytest.mark.parametrize("Lam", [300.0, 1000.0])
def test_bounds_contain_the_60_digit_projection(case, Lam):
    """For uniform ``λ = −log β = Λ`` (``t = 0``) the bounds ``[S_lo, S_hi]`` on ``S = Σ x*`` must contain the
    projection computed independently at 60 digits by the dual Newton of numerics._bregman, and every
    ``|x*_j − z_j|`` must lie within the certificate's ``x_error``.  The enclosure is narrow (1e-11
    relative at most, 4e-14 typically), so a wrong sign or a missing term would show; case (40, 15, 3, 7)
    is one where the weighted correction needs damped steps."""
    N, M, k, seed = case
    _, A, y = _data(N, M, k, seed)
    prop, lo, hi, xerr = _bounds(A, y, np.full(N, Lam), 0, 0, Lam / 2)
    S, x = _S_ref(A, y, np.full(N, Lam))
    with workdps(60):
        assert _mp(lo)[0] <= S <= _mp(hi)[1], (lo, S, hi)
        assert float((hi - lo).upper()) <= 1e-11 * float(S)
        for j in range(N):
            assert abs(x[j] - mpmath.mpf(float(prop.z[j]))) <= mpmath.mpf(float(xerr[j])), j


def test_bounds_hold_on_either_side_of_the_reference():
    """``S_lo`` is a bound at ``t_b`` (so for every ``t ≤ t_b``), ``S_hi`` at ``t_a`` (every ``t ≥ t_a``): with
    ``t_a = −Λ/4 < t_b = +Λ/4`` both must hold against 60-digit projections at ``λ = Λ + t_a`` and ``Λ + t_b``,
    and stay narrow.  A swap of ``t_a`` and ``t_b`` or a wrong coefficient of ``Σ s_j z_j`` would show here (at
    ``t = 0`` the two sides are symmetric)."""
    N, Lam = 60, 1000.0
    _, A, y = _data(N, 20, 4, 2)
    _, lo, hi, _ = _bounds(A, y, np.full(N, Lam), -Lam / 4, Lam / 4, Lam / 2)
    S_a, _ = _S_ref(A, y, np.full(N, Lam - Lam / 4))
    S_b, _ = _S_ref(A, y, np.full(N, Lam + Lam / 4))
    with workdps(60):
        assert S_b <= S_a  # S does not increase in t
        assert _mp(lo)[0] <= S_b and S_a <= _mp(hi)[1], (lo, S_b, S_a, hi)
        assert float((hi - lo).upper()) <= 1e-11 * float(S_a)


def test_bounds_with_a_nonuniform_reference_and_the_signed_model():
    """A ``λ₀`` that varies by ±2 across coordinates (a non-uniform ``u₀``) on the signed model (``A_eff = [A, −A]``,
    twin columns): the bounds still contain the 60-digit projection and stay narrow."""
    p = generate("sparse_signed", 40, 16, 1)
    A, y = np.asarray(p.A_eff, dtype=float), np.asarray(p.y, dtype=float)
    lam0 = 1000.0 + np.random.default_rng(5).uniform(-2, 2, A.shape[1])
    _, lo, hi, _ = _bounds(A, y, lam0, 0, 0, 500.0)
    S, _ = _S_ref(A, y, lam0)
    with workdps(60):
        assert _mp(lo)[0] <= S <= _mp(hi)[1], (lo, S, hi)
        assert float((hi - lo).upper()) <= 1e-11 * float(S)


def test_l1_lower_bound_is_below_highs_and_close_to_it():
    """``l1_lower`` (weak duality with ``μ/m``) lies below HiGHS's ``min Σz`` and within 1e-12 of it."""
    from scipy.optimize import linprog

    for seed in range(3):
        _, A, y = _data(60, 20, None, seed)
        prop = V.propose(A, y)
        assert prop is not None, V.last_failure
        lb = float(V.l1_lower(prop).upper())
        ref = linprog(np.ones(A.shape[1]), A_eq=A, b_eq=y, bounds=(0, None), method="highs")
        assert lb <= ref.fun * (1 + 1e-9) and lb >= ref.fun * (1 - 1e-12)


def test_feasible_point_is_exact_at_60_digits():
    """``z`` is defined exactly (``z_B = A_B⁻¹(y − A_{B^c} z_{B^c})``) and enclosed: at 60 digits the residual of
    the balls' midpoints is within what their radii allow, every entry is positive, and ``Σz`` lies in
    its ball."""
    _, A, y = _data(60, 20, 4, 2)
    prop = V.propose(A, y)
    assert prop is not None, V.last_failure
    with workdps(60):
        mids = [mpmath.mpf(b.mid().str(50, radius=False)) for b in prop.zb]
        rads = [mpmath.mpf(float(b.rad())) for b in prop.zb]
        for i in range(A.shape[0]):
            r = mpmath.fsum(mpmath.mpf(float(a)) * m for a, m in zip(A[i], mids)) - mpmath.mpf(float(y[i]))
            allow = mpmath.fsum(abs(mpmath.mpf(float(a))) * d for a, d in zip(A[i], rads)) + mpmath.mpf(10) ** -45
            assert abs(r) <= allow, i
        assert all(m - d > 0 for m, d in zip(mids, rads))
        lo, hi = _mp(prop.Sz)
        assert lo <= mpmath.fsum(mids) <= hi


def test_limit_solve_encloses_the_root(monkeypatch):
    """With the size threshold lowered, ``limit_solve`` takes the ℓ1 vertex enclosure on a 60×20 problem at
    ``η̃ = 0.002`` (``log β ≈ −2600`` at the root).  Checked independently at 50 digits: the projection at
    the returned ``r_∞`` has ``S − r_∞² = φ(r_∞)`` within ``2 r_∞ · r_inf_error`` (``φ' ≈ −2r`` at a vertex) and
    lies within ``x_inf_error`` of ``x_∞``; and the float64 bracket search (the default path at this size)
    agrees within the two error bars."""
    p, A, y = _data(60, 20, 4, 2)
    config = FlowConfig(L=2, r0=1, eta_r="0.002", eta_u=1)
    monkeypatch.setattr(lim, "_L2_VERTEX_MIN_ENTRIES", 0)
    out = lim.limit_solve(p, config)
    assert out.converged, out.message
    assert out.method == lim.L1_VERTEX_METHOD
    assert out.unique and out.r_inf_error <= 1e-12 * out.r_inf
    logb = np.asarray(lim._Phi(A, y, config, A.shape[1], None).logbeta(out.r_inf), dtype=float)
    assert float(logb.max()) < -2000
    ref = bregman_projection(A, y, None, 2, log_beta=logb, dps=50, time_limit=120)
    assert ref.converged, ref.message
    with workdps(50):
        r = mpmath.mpf(out.r_inf)
        assert abs(mpmath.fsum(ref.x) - r * r) <= 2.01 * r * out.r_inf_error
        assert max(abs(a - mpmath.mpf(float(b))) for a, b in zip(ref.x, out.x_inf)) <= out.x_inf_error
    monkeypatch.setattr(lim, "_L2_VERTEX_MIN_ENTRIES", lim._LP_MAX_ENTRIES)
    f64 = lim.limit_solve(p, config)
    assert f64.method != lim.L1_VERTEX_METHOD and f64.converged, f64.message
    assert abs(f64.r_inf - out.r_inf) <= f64.r_inf_error + out.r_inf_error


def test_no_claim_without_a_clear_support(monkeypatch):
    """Where the ℓ1 LP has no isolated solution (equal columns: every split of the mass is optimal) the
    proposal stops with its reason and ``limit_solve`` falls back to the float64 root search."""
    p = generate("sparse_positive", 30, 10, 0, matrix="equal_columns")
    A, y = np.asarray(p.A_eff, dtype=float), np.asarray(p.y, dtype=float)
    assert V.propose(A, y) is None
    assert "support" in V.last_failure
    monkeypatch.setattr(lim, "_L2_VERTEX_MIN_ENTRIES", 0)
    out = lim.limit_solve(p, FlowConfig(L=2, r0=1, eta_r="0.1", eta_u=1))
    assert out.method != lim.L1_VERTEX_METHOD


def test_the_stage_runs_once_and_a_broken_proposal_falls_back(monkeypatch):
    """The enclosure is deterministic: one solve runs the proposal at most once (the result is kept for
    the after-failure path).  A proposal step that raises (a singular factorisation) claims nothing: the
    float64 root search answers instead."""
    p, _, _ = _data(60, 20, 4, 2)
    config = FlowConfig(L=2, r0=1, eta_r="0.1", eta_u=1)  # moderate β: the bounds do not enclose
    monkeypatch.setattr(lim, "_L2_VERTEX_MIN_ENTRIES", 0)
    calls = []
    real = V.propose

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(V, "propose", counting)
    out = lim.limit_solve(p, config)
    assert len(calls) == 1 and out.converged and out.method != lim.L1_VERTEX_METHOD

    def broken(*a, **k):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(V, "propose", broken)
    out2 = lim.limit_solve(p, FlowConfig(L=2, r0=1, eta_r="0.002", eta_u=1))
    assert out2.converged and out2.method != lim.L1_VERTEX_METHOD
