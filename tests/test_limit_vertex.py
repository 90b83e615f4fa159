"""The limit at an LP vertex (L > 2, tiny β): the rigorous enclosure of numerics._limit._vertex_enclosure,
the dual simplex that finds its basis, and the float64 limit past float64's range (issue 16 item 5)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import numerics._limit as lim
from numerics._bregman import bregman_projection
from numerics._config import FlowConfig
from numerics._precision import workdps
from numerics._problem import Problem, generate
from numerics._status import Status

try:  # tests/ is on sys.path (rootdir conftest) under plain `pytest`; the package path under `python -m`
    from limit_checks import assert_vertex_root_at_50_digits
except ImportError:  # pragma: no cover
    from tests.limit_checks import assert_vertex_root_at_50_digits


def _lam_of(logb, L):
    """``λ_i = β_i^{(2−L)/L}`` as balls, from float64 ``log β`` taken exactly."""
    from flint import arb

    def lam_of():
        return [((arb(2 - L) / L) * arb(float(v))).exp() for v in logb]

    return lam_of


def _vertex_of(A, y, L, logb):
    """The float64 projection at ``log β`` (reached along a chain of warm starts, as in the limit solver's
    bracket search), the dual simplex basis from it, and the enclosure."""
    ref = None
    for t in (1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1.0):
        p64 = bregman_projection(A, y, None, L, log_beta=t * logb, polish=True,
                                 nu0=None if ref is None else ref[1], path_from=ref)
        assert p64.converged, p64.message
        ref = (t * logb, p64.nu, p64.log_x)
    M = A.shape[0]
    B0 = np.argsort(-np.asarray(p64.log_x), kind="stable")[:M]
    ew = (2 - L) / L * logb
    B = lim._vertex_basis(A, y, np.exp(ew - ew.max()), B0)
    assert B is not None
    enc = lim._vertex_enclosure(A, y, L, _lam_of(logb, L), B)
    assert enc is not None
    return p64, enc


@pytest.mark.parametrize("case", [(30, 10, 2, 0, -75.0), (40, 15, 3, 0, -95.0), (60, 20, 4, 2, -110.0)])
def test_vertex_enclosure_contains_the_high_precision_projection(case):
    """At ``L = 3`` and uniform ``log β`` from −75 to −110 (``λ = β^{−1/3}`` up to e^37, as at the limits of these problems for η̃ = 0.05) the projection sits at
    a degenerate LP vertex.  The enclosure (ball arithmetic, float64 data taken exactly) must contain the
    same projection computed independently at 60 digits by the dual Newton of numerics._bregman
    (mpmath/flint): ``S = Σ x^{2/3}`` in ``[S_lo, S_hi]``, every basis entry within ``δ`` of ``z_B`` and every other
    entry below its ``ε``.  The enclosure is narrow (1e-13 relative), so a wrong basis or a wrong bound
    would show."""
    N, M, k, seed, lb = case
    p = generate("sparse_positive", N, M, seed, k=k)
    A, y, L = np.asarray(p.A_eff, dtype=float), p.y, 3
    logb = np.full(N, lb)
    p64, (s_lo, s_hi, B, zB, dB, eps_c) = _vertex_of(A, y, L, logb)
    assert s_hi - s_lo <= 1e-13 * s_hi
    ref = bregman_projection(A, y, None, L, log_beta=logb, dps=60, time_limit=300)
    assert ref.converged, ref.message
    with workdps(60):
        S_ref = mpmath.fsum(mpmath.exp(mpmath.mpf(2) / 3 * v) for v in ref.log_x)
        slack = mpmath.mpf(10) ** -40 * S_ref
        assert mpmath.mpf(s_lo) - slack <= S_ref <= mpmath.mpf(s_hi) + slack, (s_lo, S_ref, s_hi)
        mask = np.zeros(N, dtype=bool)
        mask[B] = True
        for i, j in enumerate(B):
            assert abs(ref.x[j] - mpmath.mpf(zB[i])) <= mpmath.mpf(dB[i]) + slack, j
        for e, j in zip(eps_c, np.flatnonzero(~mask)):
            assert 0 < ref.x[j] <= mpmath.mpf(e), j


def test_vertex_basis_differs_from_the_float64_support_on_a_degenerate_vertex():
    """N = 1000, M = 150, L = 3 (issue 16 item 5): the float64 projection's 150 largest entries are not the LP
    basis (A_B⁻¹y has negative entries there: its 113 small entries, 1e-15 to 1e-18, are rounding, not the
    projection), and the dual simplex finds the basis that certifies (z_B > 0, reduced costs > 0)."""
    from flint import arb_mat, ctx

    p = generate("sparse_positive", 1000, 150, 0)
    A, y, L = np.asarray(p.A_eff, dtype=float), p.y, 3
    logb = np.full(1000, -700.0)
    p64, (s_lo, s_hi, B, zB, dB, eps_c) = _vertex_of(A, y, L, logb)
    B0 = np.sort(np.argsort(-np.asarray(p64.log_x), kind="stable")[:150])
    old = ctx.prec
    ctx.prec = 256
    try:
        z0 = arb_mat(A[:, B0].tolist()).solve(arb_mat([[float(v)] for v in y]))
        assert any(z0[i, 0] < 0 for i in range(150))  # the float64 support is not a feasible basis
    finally:
        ctx.prec = old
    assert not np.array_equal(np.sort(B), B0)
    assert np.all(zB > 0) and s_hi - s_lo <= 1e-13 * s_hi
    # B0 is dual feasible (reduced costs of a uniform λ all > 0 in float64): only z_B > 0 refuses it
    mu = np.linalg.solve(A[:, B0].T, np.ones(150))
    off = np.setdiff1d(np.arange(1000), B0)
    assert float((1 - A[:, off].T @ mu).min()) > 1e-6
    assert lim._vertex_enclosure(A, y, L, _lam_of(logb, L), B0) is None
    # the float64 S is off by the small entries' rounding, far beyond the enclosure's width
    S64 = float(np.exp(2 / 3 * np.asarray(p64.log_x)).sum())
    assert not (s_lo <= S64 <= s_hi)


def test_a_float64_projection_whose_base_overflows_fails_at_once():
    """L = 3 and log β = −3000: β^{−1/3} = e^1000 is beyond float64, so the float64 dual cannot represent β.
    The projection says so without a single Newton step (it used to path-follow for 10–30 s first)."""
    p = generate("sparse_positive", 20, 8, 0)
    res = bregman_projection(p.A_eff, p.y, None, 3, log_beta=np.full(20, -3000.0))
    assert res.status is Status.FAILED
    assert res.iterations == 0 and res.x is None
    assert "beyond float64's range" in res.message
    # at L = 2 the dual holds log x itself: the same β is no overflow
    assert bregman_projection(p.A_eff, p.y, None, 2, log_beta=np.full(20, -3000.0)).status is not Status.FAILED


def test_limit_past_float64_range_comes_from_the_vertex_and_agrees_with_the_lp():
    """Signed model, Gaussian truth, N = 60, M = 20, L = 3, η̃ = 0.005: the root needs β^{−1/3} beyond e^709.
    The bracket search stops where float64 does, and the root above it is enclosed at the LP vertex.
    Independent check: r_∞² is Σ x^{2/3} of HiGHS's ℓ1 solution (the vertex's large entries) to HiGHS's
    accuracy, and x_∞ is feasible."""
    from scipy.optimize import linprog

    p = generate("gaussian", 60, 20, 0)
    cfg = FlowConfig(L=3, r0=1, eta_r="0.005")
    res = lim.limit_solve(p, cfg, time_limit=120)
    assert res.status is Status.CONVERGED, res.message
    assert "LP vertex" in res.message and "float64 could not evaluate φ beyond r =" in res.message
    assert res.log_rho > 709.79  # β^{−1/3} = e^{log ρ − log w0} > e^{log ρ}: beyond float64 at the root
    A = np.asarray(p.A_eff, dtype=float)
    lp = linprog(np.ones(A.shape[1]), A_eq=A, b_eq=p.y, bounds=(0, None), method="highs")
    assert lp.status == 0
    S_lp = float(np.sum(np.maximum(lp.x, 0.0) ** (2 / 3)))
    assert abs(res.r_inf ** 2 - S_lp) <= 1e-5 * S_lp
    assert_vertex_root_at_50_digits(p, res, 3)  # to the bar, at 50 digits (tests/limit_checks.py)
    assert np.linalg.norm(A @ res.x_inf - p.y) <= 1e-12 * np.linalg.norm(p.y)
    assert res.r_inf_error <= 1e-10 * res.r_inf


@pytest.mark.parametrize("case", [(40, 15, 3, 0), (60, 20, 3, 1), (40, 15, 3, 0, "u0")])
def test_vertex_limit_is_a_root_of_phi_at_high_precision(case):
    """L = 3, η̃ = 0.05: the float64 limit comes from the vertex enclosure.  Checked against φ evaluated
    independently at 60 digits (the dual Newton of numerics._bregman, parameters at 60 digits from their
    exact values): φ(r_∞) = Σ x(r_∞)^{2/3} − r_∞² must be what the bar allows, |φ(r_∞)| ≤ max|φ'| r_inf_error
    with φ' ≈ −2r (S does not move with r at a vertex), and x_∞ within its bar.  On the second problem the
    float64 root lies 1.7e-7 above the enclosed one (its own bar was 0.014, the float64 projection stalled at
    ‖Ax − y‖ = 1e-10): the enclosure is then taken again from just below √S_lo.  The third case has a
    non-uniform ``u0`` (exact decimals), which the enclosure's ``λ`` takes from the exact parameters."""
    from numerics import _formulas as F

    N, M, k, seed = case[:4]
    p = generate("sparse_positive", N, M, seed, k=k)
    u0 = None
    if len(case) > 4:
        u0 = tuple(f"{v:.3f}" for v in np.random.default_rng(0).uniform(0.5, 2.0, N))
    cfg = FlowConfig(L=3, r0=1, eta_r="0.05", u0=u0)
    r64 = lim.limit_solve(p, cfg, time_limit=120)
    assert r64.converged and "LP vertex" in r64.message, r64.message
    with workdps(60):
        r = mpmath.mpf(r64.r_inf)
        logrho = F.log_rho(r, cfg.mp("r0"), cfg.mp("eta_tilde"))
        logb = [F.log_beta(v, logrho, 3) for v in cfg.log_w0_mp(N)]
    ref = bregman_projection(p.A_eff, p.y, None, 3, log_beta=logb, dps=60, time_limit=300)
    assert ref.converged, ref.message
    with workdps(60):
        phi = mpmath.fsum(mpmath.exp(mpmath.mpf(2) / 3 * v) for v in ref.log_x) - r * r
        assert abs(phi) <= 2.01 * r * mpmath.mpf(r64.r_inf_error) + mpmath.mpf(10) ** -40, (phi, r64.r_inf_error)
        dx = max(abs(a - mpmath.mpf(float(b))) for a, b in zip(ref.x, r64.x_inf))
        assert dx <= mpmath.mpf(r64.x_inf_error) + mpmath.mpf(10) ** -40


def test_no_vertex_claim_without_a_certified_basis(monkeypatch):
    """Where the dual simplex finds no basis, the vertex stage claims nothing: the tiny-A L = 3 case then
    fails as before, saying where float64 stopped."""
    monkeypatch.setattr(lim, "_vertex_basis", lambda *a, **k: None)
    p = generate("sparse_positive", 20, 8, 0)
    q = Problem(p.A * 1e-5, p.y, model=p.model)
    res = lim.limit_solve(q, FlowConfig(L=3, r0=1, eta_r=0.3), time_limit=120)
    assert res.status is Status.FAILED
    assert "bracket search reached r =" in res.message and "root lies above it" in res.message
    assert math.isinf(res.r_inf_error)


def test_vertex_enclosure_refuses_a_feasible_basis_that_is_not_optimal():
    """A vertex of ``{Az = y, z ≥ 0}`` optimal for a random positive cost (HiGHS) is feasible (``z_B > 0``) but
    not the vertex that a uniform ``λ`` approaches: a reduced cost is negative, and the enclosure claims
    nothing."""
    from scipy.optimize import linprog

    p = generate("sparse_positive", 30, 10, 0, k=2)
    A, y, L = np.asarray(p.A_eff, dtype=float), p.y, 3
    logb = np.full(30, -75.0)
    _, (_, _, B_opt, _, _, _) = _vertex_of(A, y, L, logb)
    cost = np.random.default_rng(1).uniform(0.1, 10.0, 30)
    lp = linprog(cost, A_eq=A, b_eq=y, bounds=(0, None), method="highs-ds")
    assert lp.status == 0
    B = np.sort(np.argsort(-lp.x, kind="stable")[:10])
    z = np.linalg.solve(A[:, B], y)
    assert np.all(z > 1e-8 * np.abs(z).max())  # a feasible (nondegenerate) basis
    assert not np.array_equal(B, np.sort(B_opt))
    assert lim._vertex_enclosure(A, y, L, _lam_of(logb, L), B) is None
    assert lim._vertex_enclosure(A, y, L, _lam_of(logb, L), B_opt) is not None


def test_vertex_enclosure_refuses_entries_whose_squares_underflow():
    """``A`` scaled by 1e-160: the float64 column norms would underflow (squares below 1e-308), so the bound
    on ``max ‖a_j‖`` is not certified and the enclosure claims nothing (rather than a too small ``δ``)."""
    p = generate("sparse_positive", 30, 10, 0, k=2)
    A, y, L = np.asarray(p.A_eff, dtype=float), p.y, 3
    logb = np.full(30, -75.0)
    _, (_, _, B, _, _, _) = _vertex_of(A, y, L, logb)
    assert lim._vertex_enclosure(A * 1e-160, y, L, _lam_of(logb, L), B) is None


def test_time_up_in_the_vertex_stage_keeps_the_result_without_it(monkeypatch):
    """The time limit running out inside the vertex stage drops the vertex claim, not the rest: the tiny-A
    L = 3 case then fails exactly as it does with no certified vertex (saying where float64 stopped), not
    with TIME_LIMIT and no result."""
    p = generate("sparse_positive", 20, 8, 0)
    q = Problem(p.A * 1e-5, p.y, model=p.model)
    cfg = FlowConfig(L=3, r0=1, eta_r=0.3)

    def time_up(*a, **k):
        raise lim._TimeUp("in the dual simplex of the vertex enclosure")

    monkeypatch.setattr(lim, "_vertex_basis", lambda *a, **k: None)
    ref = lim.limit_solve(q, cfg, time_limit=120)
    monkeypatch.setattr(lim, "_vertex_basis", time_up)
    res = lim.limit_solve(q, cfg, time_limit=120)
    assert ref.status is Status.FAILED
    assert res.status is ref.status and res.message == ref.message
