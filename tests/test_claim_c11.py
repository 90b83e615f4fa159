"""Claim C11 (wnbias/claims/sharpened.py): the sharpened §5 bound for L > 2 (docs/math.md §5.1),
``S − ‖z*‖₁ ≤ α_eff^{L−2} n^{(L−2)/L} S^{2/L}``.

It PASSes on the tight cases with gap/bound above 0.99 (measured here), FAILs with the bound
multiplied by 0.9 and with the planted wrong bounds, SKIPs only for failed assumptions, and its
cross-check row sees a wrong bound.  Independently of the claims layer, the bound holds on random
small projections (numerics._bregman + scipy's LP)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import linprog

import wnbias.claims.sharpened as C11  # not in registry.CLAIM_MODULES yet: load it explicitly
from numerics._status import Status
from numerics._bregman import bregman_projection
from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, K_SOLVE, tol
from theory import bounds
from wnbias.claims import registry
from wnbias.claims.registry import FAIL, PASS, SKIP
from wnbias.claims.tight_cases import TIGHT_CASES

TIGHT = {tc.label: tc for tc in TIGHT_CASES}


def claim():
    return registry.get("C11")


def run_case(case, **options):
    return claim().run(case.problem, case.config, case.dps, label=case.label, **options)


@pytest.fixture(scope="module")
def tight_rows():
    """The rows of each tight case (default options), computed once."""
    return {label: run_case(C11.tight_case(label)) for label in C11.TIGHT_LABELS}


def test_registered_with_cases_at_every_level():
    c = claim()
    assert c.section == "§5.1" and "l1_gap_bound_Lgt2_sharp" in c.symbolic
    quick, default, full = (c.cases(level) for level in registry.LEVELS)
    assert [k.label for k in quick] == ["tight-L3 (tight)"]
    labels = [k.label for k in default]
    assert labels[:2] == ["tight-L3 (tight)", "tight-L4 (tight)"]
    ordinary = [k for k in default if "tight" not in k.label]
    assert sorted(k.config.L for k in ordinary) == [3, 4]
    assert len(quick) <= len(default) <= len(full)


@pytest.mark.parametrize("label", C11.TIGHT_LABELS)
def test_passes_on_the_tight_cases_with_ratio_above_0_99(tight_rows, label):
    head, cross = tight_rows[label]
    assert head.verdict == PASS and cross.verdict == PASS, (head.reason, cross.reason)
    ratio = head.measured / head.bound  # bound_factor 1: the judged bound is the sharpened one
    assert 0.99 < ratio <= 1.0
    assert math.isclose(ratio, head.details["ratio"], rel_tol=tol(DPS_FLOAT64, K_SOLVE))
    # the same quantities as C6: the ratio is L/2 times C6's gap/bound
    c6_ratio = head.details["gap"] / head.details["bound_true"]
    L = TIGHT[label].L
    assert math.isclose(ratio, c6_ratio * L / 2, rel_tol=tol(DPS_FLOAT64, K_SOLVE))
    assert c6_ratio <= 2 / L  # the theorem: C6's bound is never attained for L > 2


@pytest.mark.parametrize("label", C11.TIGHT_LABELS)
@pytest.mark.parametrize("options", [{"bound_factor": 0.9}, {"variant": "ratio-1/L"}, {"variant": "no-n-factor"}])
def test_fails_the_bound_times_0_9_and_the_planted_bounds(label, options):
    head = run_case(C11.tight_case(label), **options)[0]
    assert head.verdict == FAIL, head.reason
    assert head.measured > head.bound


def test_planted_bounds_are_the_stated_multiples(tight_rows):
    head = tight_rows["tight-L3"][0]
    case = C11.tight_case("tight-L3")
    q = C11.sharpened_quantities(case.problem, case.config, None, variant="ratio-1/L")
    assert math.isclose(q["bound"], head.bound / 2, rel_tol=tol(DPS_FLOAT64, K_SOLVE))
    q = C11.sharpened_quantities(case.problem, case.config, None, bound_factor=0.9)
    assert math.isclose(q["bound"], 0.9 * head.bound, rel_tol=tol(DPS_FLOAT64, K_SOLVE))
    q = C11.sharpened_quantities(case.problem, case.config, None, variant="no-n-factor")
    n, L = case.problem.n, case.config.L
    assert math.isclose(q["bound"], head.bound / n ** ((L - 2) / L), rel_tol=tol(DPS_FLOAT64, K_SOLVE))


def test_default_level_fails_the_bound_times_0_9():
    rows = [r for case in claim().cases("default") for r in run_case(case, bound_factor=0.9)]
    heads = [r for r in rows if not r.setting.endswith("[cross-check]")]
    assert all(r.verdict in (PASS, FAIL) for r in rows)
    failed = [r.setting for r in heads if r.verdict == FAIL]
    assert len(failed) == 2 and all("tight" in s for s in failed), failed


def test_skips_only_for_failed_assumptions():
    tc = TIGHT["tight-L2"]
    row = claim().run(tc.problem(), tc.config())[0]
    assert row.verdict == SKIP and "L > 2" in row.reason
    case = C11.tight_case("tight-L3")
    cfg = FlowConfig(L=3, r0=case.config.r0, eta_r=case.config.eta_r, eta_u=1, u0=(1, 2, 3, 1, 2, 3))
    row = claim().run(case.problem, cfg)[0]
    assert row.verdict == SKIP and "uniform" in row.reason


def test_unknown_variant_is_refused():
    case = C11.tight_case("tight-L3")
    with pytest.raises(ValueError, match="variant"):
        C11.check_c11(case.problem, case.config, None, variant="half")


def test_cross_check_sees_a_wrong_derived_bound(monkeypatch):
    right = C11.derived_bound
    monkeypatch.setattr(C11, "derived_bound", lambda *a: right(*a) * (1 + 1e-6))
    head, cross = run_case(C11.tight_case("tight-L4"))
    assert head.verdict == PASS and cross.verdict == FAIL


# -- the bound itself, on random small problems (independent of the claims layer) -----------------

_SHARP = {L: sp.lambdify((bounds.S, bounds.n, bounds.alpha), bounds.sharp_chain(sp.Integer(L))[1], "math")
          for L in (3, 4)}


@pytest.mark.parametrize("L", [3, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gap_below_the_sharpened_bound_on_random_projections(L, seed):
    rng = np.random.default_rng(seed)
    M, N = 2, 6
    A = rng.standard_normal((M, N))
    x_true = np.zeros(N)
    x_true[rng.choice(N, 2, replace=False)] = rng.uniform(0.5, 2, 2)
    y = A @ x_true
    lp = linprog(np.ones(N), A_eq=A, b_eq=y, bounds=[(0, None)] * N, method="highs")
    assert lp.status == 0
    Z = float(lp.fun)
    for alpha in (0.7, 0.4, 0.2):
        res = bregman_projection(A, y, np.full(N, alpha ** L), L)
        assert res.status is Status.CONVERGED, res.message
        x = np.asarray(res.x, dtype=float)
        S = float(np.sum(x))
        sharp = _SHARP[L](S, N, alpha)
        slack = tol(DPS_FLOAT64, K_SOLVE) * max(1.0, S)  # z* from a float64 LP
        assert -slack <= S - Z <= sharp + slack, (alpha, S - Z, sharp)
        # and the identity behind it: α^{2−L}(S − ‖z*‖₁) = Σ x^{2/L} − Σ x^{(2−L)/L} z*_i
        lhs = alpha ** (2 - L) * (S - Z)
        rhs = float(np.sum(x ** (2 / L)) - np.sum(x ** ((2 - L) / L) * lp.x))
        assert math.isclose(lhs, rhs, rel_tol=0, abs_tol=tol(DPS_FLOAT64, K_SOLVE) * alpha ** (2 - L) * max(1.0, S))
