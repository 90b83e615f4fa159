"""Limit quantities: the kernel projector, ρ/α_eff/β, the Bregman check and the ℓ1 bound."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import Status
from numerics.config import FlowConfig
from numerics.precision import DPS_FLOAT64, K_ROUNDOFF, tol
from numerics.problem import generate
from numerics.quantities import analyze, kernel_projector

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
    from numerics.limit import limit_solve
    lr = limit_solve(p, cfg)
    assert lr.status is Status.CONVERGED, lr.message
    x = np.asarray(lr.x_inf, dtype=float)
    u = x ** (1.0 / cfg.L)
    return float(lr.r_inf), u / np.linalg.norm(u)


def test_analyze_against_closed_forms():
    pytest.importorskip("numerics.limit")
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
    pytest.importorskip("numerics.limit")
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
