"""Limit quantities: the kernel projector, ρ/α_eff/β, the Bregman check and the ℓ1 bound."""

from __future__ import annotations

import dataclasses
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import Status
from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, K_SOLVE, tol, workdps
from numerics._problem import generate
from numerics._quantities import analyze, kernel_projector

TOL = tol(DPS_FLOAT64, K_ROUNDOFF)


@given(seed=st.integers(0, 10_000), M=st.integers(1, 6), extra=st.integers(1, 6))
def test_kernel_projector(seed, M, extra):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, M + extra))
    P = kernel_projector(A)
    assert P.rank == M
    h = rng.standard_normal(M + extra)
    ph = P(h)
    assert np.linalg.norm(A @ ph) <= TOL * np.linalg.norm(A) * np.linalg.norm(h)
    np.testing.assert_allclose(P(ph), ph, atol=TOL * np.linalg.norm(h))
    assert P.residual(A.T @ rng.standard_normal(M)) <= TOL
    assert P.residual(np.zeros(M + extra)) == 0.0


def test_rank_deficient_projector():
    A = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    assert kernel_projector(A).rank == 1


def _limit(p, cfg):
    from numerics._limit import limit_solve
    lr = limit_solve(p, cfg)
    assert lr.status is Status.CONVERGED, lr.message
    x = np.asarray(lr.x_inf, dtype=float)
    u = x ** (1.0 / cfg.L)
    return float(lr.r_inf), u / np.linalg.norm(u)


def test_analyze_against_closed_forms():
    import numerics._limit  # noqa: F401  (a core module: a failed import fails the test)
    p = generate("sparse_positive", 20, 8, 0)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.3, eta_u=1.0)
    r, u = _limit(p, cfg)
    rep = analyze(p, cfg, r, u)
    rho = (1.0 / r) * math.exp((r * r - 1.0) / 0.6)
    assert rep.rho == pytest.approx(rho, rel=TOL)
    assert rep.alpha_eff == pytest.approx(1.0 / (math.sqrt(20) * rho), rel=TOL)
    np.testing.assert_allclose(rep.beta, rep.alpha_eff ** 2, rtol=TOL)
    assert rep.bregman_status is Status.CONVERGED and rep.bregman_mismatch <= tol(DPS_FLOAT64, 6)
    assert rep.l1_gap_S == pytest.approx(rep.l1_gap)  # positive model: S = ‖x‖₁
    assert 0 <= rep.l1_gap <= rep.l1_bound
    assert rep.bound_ratio == pytest.approx(rep.l1_gap_S / rep.l1_bound)
    assert rep.magnification is True


def test_signed_gap_uses_S_for_the_bound():
    import numerics._limit  # noqa: F401  (a core module: a failed import fails the test)
    p = generate("sparse_signed", 20, 8, 1)
    cfg = FlowConfig(L=3, r0=1.0, eta_r=0.5, eta_u=1.0)
    r, u = _limit(p, cfg)
    rep = analyze(p, cfg, r, u)
    assert len(rep.x_inf) == p.N and len(rep.x_inf_eff) == p.n
    assert rep.S >= np.abs(rep.x_inf).sum() - TOL
    assert rep.l1_gap_S >= rep.l1_gap - TOL
    assert rep.l1_gap_S <= rep.l1_bound


def test_no_magnification_is_reported():
    p = generate("sparse_positive", 20, 8, 0)
    cfg = FlowConfig(L=2, r0=5.0, eta_r=0.3)
    rep = analyze(p, cfg, 2.0, np.ones(p.n))
    assert rep.magnification is False and rep.rho < 1
    assert "no magnification" in rep.message


def test_plain_gf_has_rho_one_and_huge_rho_is_logged():
    p = generate("sparse_positive", 20, 8, 0)
    rep = analyze(p, FlowConfig(L=2, r0=0.5, rates="plain"), 1.5, np.ones(p.n))
    assert rep.rho == 1.0 and rep.log_rho == 0.0
    rep = analyze(p, FlowConfig(L=2, r0=1.0, eta_r=0.01), 7.0, np.ones(p.n))  # ρ ≈ e^{2400}
    assert rep.rho == math.inf and rep.log_rho == pytest.approx(math.log(1 / 7) + 48 / 0.02, rel=TOL)
    assert rep.l1_bound is not None and math.isfinite(rep.l1_bound)


def test_dps_path_agrees():
    p = generate("sparse_positive", 12, 5, 3)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)
    u = np.linspace(1, 2, p.n)
    a = analyze(p, cfg, 1.7, u)
    b = analyze(p, cfg, mpmath.mpf("1.7"), [mpmath.mpf(float(v)) for v in u], dps=30)
    assert isinstance(b.rho, mpmath.mpf)
    assert float(b.rho) == pytest.approx(a.rho, rel=TOL)
    np.testing.assert_allclose([float(v) for v in b.x_inf_eff], a.x_inf_eff, rtol=TOL)


# -- issue 12.1: at dps, every number is computed at dps ----------------------------------------
# The 20×8 sparse problem of the issue: at dps = 30 the old analyze printed a Bregman mismatch of
# 4.1e-18 (float64 ū₀ = 1/√n in log w₀, vectors rounded to float64 before differencing) where the
# 30-digit mismatch is 1.5e-33.  Unplanted, the mismatch must be at the working precision:
# ≤ tol(dps, K_ROUNDOFF) (measured: 1.6e-33 at dps 30, 3.5e-51 at dps 40; the limit itself is
# converged to ~1e-41 and 1e-51).  A planted relative error δ = 10^(−dps+5) in one entry of x_∞, or
# in r_∞, must show up linearly in it.
PLANT_K = 5


def _mp_limit(p, cfg, dps):
    from numerics._limit import limit_solve
    lr = limit_solve(p, cfg, dps=dps)
    assert lr.status is Status.CONVERGED, lr.message
    with workdps(dps):
        u = [v ** (mpmath.mpf(1) / cfg.L) for v in lr.x_inf]
    return lr, u


@pytest.mark.parametrize("dps, L", [(30, 2), (40, 2), (30, 3)])
def test_bregman_mismatch_is_at_dps_and_sees_a_planted_error(dps, L):
    import numerics._limit  # noqa: F401  (a core module: a failed import fails the test)
    p = generate("sparse_positive", 20, 8, 0)
    cfg = FlowConfig(L=L, r0=1, eta_r="0.3")
    lr, u = _mp_limit(p, cfg, dps)
    rep = analyze(p, cfg, lr.r_inf, u, dps=dps)
    assert rep.bregman_status is Status.CONVERGED
    assert rep.bregman_mismatch <= tol(dps, K_ROUNDOFF), rep.bregman_mismatch
    assert rep.invariant_residual <= tol(dps, K_ROUNDOFF), rep.invariant_residual
    assert rep.precision.bregman_mismatch == dps and rep.precision.invariant_residual == dps
    assert isinstance(rep.mp.bregman_mismatch, mpmath.mpf)
    with workdps(dps):
        delta = mpmath.mpf(10) ** (-dps + PLANT_K)
        i = max(range(p.n), key=lambda j: lr.x_inf[j])
        share = lr.x_inf[i] / mpmath.sqrt(mpmath.fsum(v * v for v in lr.x_inf))  # |δx|/‖x‖ per unit δ
        seen = {}
        for k in (1, 2):
            ux = list(u)
            ux[i] = u[i] * (1 + k * delta) ** (mpmath.mpf(1) / L)  # x_i → x_i (1 + kδ)
            seen["x", k] = analyze(p, cfg, lr.r_inf, ux, dps=dps).bregman_mismatch
            seen["r", k] = analyze(p, cfg, lr.r_inf * (1 + k * delta), u, dps=dps).bregman_mismatch
    # a planted error in x_i moves x by share·δ and leaves β alone: the mismatch is that, to first order
    assert seen["x", 1] == pytest.approx(float(share * delta), rel=1e-3)
    for which in ("x", "r"):
        assert seen[which, 1] >= float(delta) / 10 >= 100 * rep.bregman_mismatch
        assert seen[which, 2] == pytest.approx(2 * seen[which, 1], rel=1e-3)  # linear in the plant


def test_dps_report_uses_the_exact_parameters():
    """log w₀ at dps from r₀ and u₀ given exactly, never via float64 (issue 12.1, issue 19)."""
    import numerics._limit  # noqa: F401  (a core module: a failed import fails the test)
    p = generate("sparse_positive", 20, 8, 0)
    dps = 40
    cfg = FlowConfig(L=2, r0="0.7", eta_r="0.3", u0=tuple(f"{k}/7" for k in range(1, 21)))
    lr, u = _mp_limit(p, cfg, dps)
    rep = analyze(p, cfg, lr.r_inf, u, dps=dps)
    assert rep.bregman_mismatch <= tol(dps, K_ROUNDOFF) and rep.invariant_residual <= tol(dps, K_ROUNDOFF)
    assert rep.params["r0"] == "0.7" and rep.params["u0"][0] == "1/7"
    with workdps(dps):
        r0, eta = mpmath.mpf(7) / 10, mpmath.mpf(3) / 10
        r = lr.r_inf
        log_rho = mpmath.log(r0 / r) + (r * r - r0 * r0) / (2 * eta)
        assert abs(rep.log_rho - log_rho) <= tol(dps, K_ROUNDOFF) * abs(log_rho)
        ub = [mpmath.mpf(k) / 7 for k in range(1, 21)]
        nrm = mpmath.sqrt(mpmath.fsum(v * v for v in ub))
        for lb, v in zip(rep.log_beta, ub):
            want = 2 * (mpmath.log(r0 * v / nrm) - log_rho)
            assert abs(lb - want) <= tol(dps, K_ROUNDOFF) * abs(want)


def test_gap_and_S_at_dps_use_the_polished_lp():
    """C7's S and the gap at dps: S = ‖w^L‖₁ in mpmath, minus the ℓ1 minimum certified at dps."""
    import numerics._limit  # noqa: F401  (a core module: a failed import fails the test)
    from numerics._lp import l1_min
    from numerics._lp_polish import l1_polish_mp

    p = generate("sparse_positive", 20, 8, 0)
    dps = 30
    cfg = FlowConfig(L=3, r0=1, eta_r="0.3")
    lr, u = _mp_limit(p, cfg, dps)
    rep = analyze(p, cfg, lr.r_inf, u, dps=dps)
    pol = l1_polish_mp(p, l1_min(p).z, dps)
    assert pol.status is Status.CONVERGED
    with workdps(dps):
        S = mpmath.fsum(lr.x_inf)
        assert abs(rep.S - S) <= tol(dps, K_ROUNDOFF) * S
        gap = S - pol.value
        assert rep.l1_gap_S == pytest.approx(float(gap), rel=1e-12)
    assert isinstance(rep.S, mpmath.mpf) and rep.precision.S == dps and rep.precision.l1_gap_S == dps
    with workdps(dps):
        # the gap is a small difference (~1e-14 here): float64 inputs would leave only ~2 digits of it
        assert abs(rep.mp.l1_gap_S - gap) <= tol(dps, K_ROUNDOFF) * S
        assert rep.mp.l1_gap_S >= -tol(dps, K_ROUNDOFF) * S  # S ≥ ‖z*‖₁ at dps, not a −2e-16 artefact
    assert rep.l1_bound is not None and rep.precision.l1_bound == dps


def test_log_u_at_dps_and_json():
    import json

    import numerics._limit  # noqa: F401  (a core module: a failed import fails the test)
    p = generate("sparse_positive", 20, 8, 0)
    dps = 30
    cfg = FlowConfig(L=2, r0=1, eta_r="0.5")
    lr, u = _mp_limit(p, cfg, dps)
    a = analyze(p, cfg, lr.r_inf, u, dps=dps)
    with workdps(dps):
        b = analyze(p, cfg, lr.r_inf, None, dps=dps, log_u=[mpmath.log(v) + 100 for v in u])  # any norm
        assert abs(a.r_inf - b.r_inf) == 0 and abs(a.log_rho - b.log_rho) <= tol(dps, K_ROUNDOFF)
    assert b.bregman_mismatch <= tol(dps, K_ROUNDOFF)
    doc = json.loads(json.dumps(a.as_dict()))
    assert doc["precision"]["bregman_mismatch"] == dps and doc["params"]["eta_r"] == "0.5"
    with workdps(dps):
        assert abs(mpmath.mpf(doc["r_inf"]) - a.r_inf) <= tol(dps, K_ROUNDOFF)
    f = analyze(p, cfg, float(lr.r_inf), [float(v) for v in u])
    assert set(dataclasses.astuple(f.precision)) <= {DPS_FLOAT64, None} and f.mp is None
    json.dumps(f.as_dict())


def test_float_path_reports_float64_precision():
    p = generate("sparse_positive", 20, 8, 0)
    rep = analyze(p, FlowConfig(L=2, r0=5.0, eta_r=0.3), 2.0, np.ones(p.n))
    assert rep.precision.r_inf == DPS_FLOAT64 and rep.mp is None


def test_dps_report_of_a_problem_in_units_of_1e_minus_10():
    """y → s·y, s = 2⁻³⁴ (exact), r₀ → √s r₀, η̃ → s η̃ (L = 2): x_∞, S, the ℓ1 minimum and the gap all
    scale by s.  The LP polish must certify the scaled ℓ1 minimum at dps (its thresholds are relative)."""
    from fractions import Fraction

    from numerics._problem import Problem

    import numerics._limit  # noqa: F401  (a core module: a failed import fails the test)
    p = generate("sparse_positive", 20, 8, 0)
    s = Fraction(1, 2 ** 34)
    q = Problem(p.A, p.y * float(s), model=p.model)
    dps = 30
    cfg1 = FlowConfig(L=2, r0=1, eta_r="0.3")
    cfgs = FlowConfig(L=2, r0=Fraction(1, 2 ** 17), eta_r=Fraction(3, 10) * s)
    lr1, u1 = _mp_limit(p, cfg1, dps)
    lrs, us = _mp_limit(q, cfgs, dps)
    a = analyze(p, cfg1, lr1.r_inf, u1, dps=dps)
    b = analyze(q, cfgs, lrs.r_inf, us, dps=dps)
    assert b.precision.l1_opt == dps, b.message
    assert b.bregman_mismatch <= tol(dps, K_ROUNDOFF)
    with workdps(dps):
        sm = mpmath.mpf(s.numerator) / s.denominator
        assert abs(b.mp.l1_opt - sm * a.mp.l1_opt) <= tol(dps, K_ROUNDOFF) * sm * a.mp.l1_opt
        # S and ρ come from the two limit solves, each accurate to tol(dps, K_SOLVE) relative
        assert abs(b.mp.l1_gap_S - sm * a.mp.l1_gap_S) <= tol(dps, K_SOLVE) * sm * a.S
        assert abs(b.log_rho - a.log_rho) <= tol(dps, K_SOLVE) * abs(a.log_rho)


def test_analyze_refuses_too_few_digits():
    p = generate("sparse_positive", 20, 8, 0)
    with pytest.raises(ValueError, match="below the minimum"):
        analyze(p, FlowConfig(), 2.0, np.ones(p.n), dps=6)


def test_analyze_flow_takes_the_faithful_final_state():
    """analyze_flow reads log_u_final: a direction whose small components underflow float64 in u is
    still analysed (the invariant residual is evaluated), and equals analyze(..., log_u=...)."""
    import types

    from numerics._quantities import analyze_flow

    p = generate("sparse_positive", 12, 5, 3)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.5)
    log_u = np.linspace(-900.0, 0.0, p.n)  # e^{-900} underflows: u_final has zeros
    flow = types.SimpleNamespace(config=cfg, r_final=1.7, u_final=np.exp(log_u), log_u_final=log_u, dps=None)
    assert np.any(flow.u_final == 0)
    a = analyze_flow(p, flow)
    b = analyze(p, cfg, 1.7, None, log_u=log_u)
    assert math.isfinite(a.invariant_residual) and a.precision.invariant_residual == DPS_FLOAT64
    assert a.invariant_residual == b.invariant_residual and a.log_rho == b.log_rho
    c = analyze(p, cfg, 1.7, np.exp(log_u))  # without log u the zero components cannot be analysed
    assert math.isnan(c.invariant_residual) and "zero components" in c.message
    d = a.to_dict()
    assert d["precision"]["invariant_residual"] == DPS_FLOAT64 and d["mp"] is None
    assert isinstance(a.x_inf_eff, np.ndarray) and a.x_inf_eff.dtype == float


@pytest.mark.parametrize("kind", ["sparse_positive", "sparse_signed"])
def test_analyze_of_a_matrix_free_problem_says_to_use_dense(kind):
    """A matrix-free (DCT) problem is refused with a ValueError naming problem.dense() (not an opaque
    TypeError from converting the operator); the dense problem is analysed."""
    p = generate(kind, 64, 12, 0, matrix="dct")
    assert p.matrix_free
    with pytest.raises(ValueError, match=r"problem\.dense\(\)"):
        analyze(p, FlowConfig(), 2.0, np.ones(p.n))
    report = analyze(p.dense(), FlowConfig(), 2.0, np.ones(p.n))
    assert math.isfinite(report.log_rho)
