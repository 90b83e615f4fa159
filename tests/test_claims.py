"""The claim registry, rows, the shared arithmetic of the checks, and each claim on one setting."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from numerics.config import FlowConfig
from numerics.precision import K_ACCUMULATED, tol, workdps
from numerics.problem import generate
from wnbias.claims import PASS, SKIP, Row, all_claims, get, select
from wnbias.claims import _common as C
from wnbias.claims import problems as P
from wnbias.claims.registry import AssumptionFailed, Claim, Unavailable, need

NUMERIC = ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10")


def test_registry_has_every_claim_with_a_section_and_rule():
    ids = [c.id for c in all_claims()]
    assert ids[: len(NUMERIC)] == list(NUMERIC)
    assert "S" in ids
    for c in all_claims():
        assert c.section.startswith("§"), c.id
        assert c.tolerance_rule and c.statement and c.title
        for level in ("quick", "default", "full"):
            assert len(c.cases(level)) >= 1
        assert len(c.cases("quick")) <= len(c.cases("default")) <= len(c.cases("full"))


def test_select_and_unknown_claims():
    assert [c.id for c in select("c3, C5")] == ["C3", "C5"]
    with pytest.raises(KeyError, match="unknown claim"):
        select("C3,C99")
    with pytest.raises(KeyError):
        get("nope")


def test_row_is_frozen_and_serialises_nan_as_null():
    r = Row("C1", "s", float("nan"), 1e-9, SKIP, "why")
    with pytest.raises(Exception):
        r.verdict = PASS  # type: ignore[misc]
    d = r.as_dict()
    assert d["measured"] is None and d["bound"] == 1e-9 and d["verdict"] == "SKIP"
    with pytest.raises(ValueError, match="verdict"):
        Row("C1", "s", 0.0, 0.0, "MAYBE")


def test_missing_machinery_is_skip_not_pass():
    def check(problem, config, dps, **kw):
        need("numerics.this_module_does_not_exist", "f")

    c = Claim("CX", "t", "s", "§0", check, lambda level: [], "rule")
    (row,) = c.run(P.get("tiny"), FlowConfig(), None)
    assert row.verdict == SKIP and row.reason == "not available: numerics.this_module_does_not_exist"

    def check2(problem, config, dps, **kw):
        raise AssumptionFailed("r_∞ < r₀")

    (row,) = Claim("CY", "t", "s", "§0", check2, lambda level: [], "rule").run(None, None, None)
    assert row.verdict == SKIP and "assumption fails" in row.reason


def test_a_crashing_check_is_a_failure_with_the_error():
    def check(problem, config, dps, **kw):
        raise ZeroDivisionError("singular")

    (row,) = Claim("CZ", "t", "s", "§0", check, lambda level: [], "rule").run(None, None, None)
    assert row.verdict == "FAIL" and "ZeroDivisionError" in row.reason


def test_need_reports_missing_attribute():
    with pytest.raises(Unavailable, match="not available: numerics.precision.no_such_name"):
        need("numerics.precision", "no_such_name")


# -- the shared arithmetic, against closed forms ------------------------------------------


def test_log_L_limit_and_values():
    v = np.array([0.5, 2.0])
    assert np.allclose(C.log_L(v, 2, None), np.log(v))
    assert np.allclose(C.log_L(v, 3, None), (1 / v - 1) / (-1))
    with workdps(30):
        out = C.log_L([mpmath.mpf(2)], 4, 30)[0]
        assert abs(out - (mpmath.mpf(2) ** -2 - 1) / -2) < mpmath.mpf(10) ** -30


def test_kernel_component_float_and_mp_agree():
    A = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]])
    in_range = A.T @ np.array([0.3, -1.1])
    k, nh = C.kernel_component(A, in_range, None)
    assert k < tol(15, 3) * nh
    kern = np.array([2.0, -1.0, 1.0])  # A @ kern = 0
    k2, _ = C.kernel_component(A, in_range + kern, None)
    assert math.isclose(k2, np.linalg.norm(kern), rel_tol=1e-12)
    with workdps(40):
        k3, _ = C.kernel_component(A, list(in_range + kern), 40)
    assert math.isclose(k3, np.linalg.norm(kern), rel_tol=1e-12)


def test_wn_invariant_wrong_sign_differs_by_2s_on_L2():
    u0 = np.full(4, 0.5)
    u = np.array([0.4, 0.6, 0.5, 0.5])
    h = C.wn_invariant(1.3, u, u0, 1.0, 0.5, 2, None)
    hw = C.wn_invariant(1.3, u, u0, 1.0, 0.5, 2, None, s_sign=-1)
    s = (1.3 ** 2 - 1.0) / (2 * 0.5)
    assert np.allclose(h - hw, 2 * s)


def test_l1_bound_formulas():
    # L > 2: (L/2) α^{L−2} n^{(L−2)/L} S^{2/L}
    assert math.isclose(C.l1_bound(1.0, 2.0, 8, 0.1, 3), 1.5 * 0.1 * 8 ** (1 / 3) * 2 ** (2 / 3))
    assert math.isclose(C.l1_bound(1.0, 2.0, 8, 0.1, 3, variant="no-n-factor"), 1.5 * 0.1 * 2 ** (2 / 3))
    # L = 2 needs α < 1
    assert math.isnan(C.l1_bound(1.0, 2.0, 8, 1.5, 2))
    b = C.l1_bound(1.0, 1.2, 8, 0.01, 2)
    assert math.isclose(b, (0 - 1 - 1.2 * math.log(1.2 / 8) + 1.2) / (2 * math.log(100)))


def test_fit_line_recovers_slope_and_error():
    x = np.log([0.1, 0.05, 0.025, 0.0125])
    b, se, a = C.fit_line(x, 2.0 + 1.0 * x)
    assert math.isclose(b, 1.0, rel_tol=1e-12) and se < 1e-10
    b, se, a = C.fit_line(x, 2.0 + x + np.array([0.1, -0.1, 0.1, -0.1]))
    assert se > 0.01


def test_w0_at_dps_is_not_rounded_through_float64():
    cfg = FlowConfig(L=2, r0=1.0)
    with workdps(40):
        w0 = C.w0_at(cfg, 3, 40)
        assert abs(w0[0] - 1 / mpmath.sqrt(3)) < mpmath.mpf(10) ** -40


# -- each claim on one small setting (the checks themselves) -------------------------------


@pytest.mark.parametrize("cid", ["C1", "C2", "C10"])
def test_cheap_claims_pass_on_their_quick_case(cid):
    c = get(cid)
    case = c.cases("quick")[0]
    rows = c.run(case.problem, case.config, case.dps, label=case.label)
    assert rows and all(r.verdict == PASS for r in rows), [(r.verdict, r.reason) for r in rows]


def test_c3_passes_at_dps30_and_the_wrong_sign_would_fail():
    c = get("C3")
    prob = generate("sparse_positive", 4, 2, 0, k=1)
    (row,) = c.run(prob, FlowConfig(L=3, r0=1.0, eta_r=0.5), 30, t_max=1.0)
    assert row.verdict == PASS, row.reason
    assert row.bound == tol(30, K_ACCUMULATED)
    assert row.details["wrong_sign_s_residual"] > 1e3 * row.bound


def test_c4_rates_r2_runs_on_the_config_given():
    (inv, lim) = get("C4").run(P.get("small"), FlowConfig(L=2, r0=1.0), None)
    assert inv.verdict == PASS and lim.verdict in (PASS, SKIP)
    assert inv.settings["config"]["rates"] == "constant"  # the user's config; the check switches rates


def test_c6_gap_below_bound_and_skip_where_bound_does_not_apply():
    c = get("C6")
    (row,) = c.run(P.get("small-signed"), FlowConfig(L=2, r0=1.0, eta_r=0.3), None)
    assert row.verdict == PASS and 0 <= row.measured <= row.bound
    # a non-uniform u0: β is not uniform and the §5 bound is not stated for it
    n = P.get("tiny").n
    (row,) = c.run(P.get("tiny"), FlowConfig(L=2, r0=1.0, eta_r=0.3, u0=tuple(range(1, n + 1))), None)
    assert row.verdict == SKIP and "uniform" in row.reason


def test_c7_reports_slope_and_monotonicity():
    (row,) = get("C7").run(P.get("cs30"), FlowConfig(L=2, r0=1.0, eta_r=0.3), None,
                           factors=(2.0, 1.0, 0.5))
    assert row.verdict == PASS, row.reason
    s = row.details["series"]
    order = np.argsort(s["alpha_eff"])[::-1]
    S = np.array(s["S"])[order]
    assert np.all(np.diff(S) <= row.bound * S[:-1])


def test_c7_skips_without_magnification():
    # r0 far above the solution's radius: r_∞ < r₀ at every η̃, magnification cannot happen
    (row,) = get("C7").run(P.get("tiny"), FlowConfig(L=2, r0=20.0, eta_r=0.3), None, factors=(2.0, 1.0, 0.5))
    assert row.verdict == SKIP and "r_∞ > r₀" in row.reason


def test_c8_not_converged_is_skip_never_pass():
    (row,) = get("C8").run(P.get("small"), FlowConfig(L=2, r0=1.0, eta_r=0.3), None, t_max=1.0)
    assert row.verdict == SKIP and "not converged" in row.reason


def test_wall_budget_interrupts_and_restores_precision():
    import time

    prec = mpmath.mp.prec
    with pytest.raises(C.BudgetExceeded, match="budget"):
        with C.wall_budget(0.2, "a slow call"):
            mpmath.mp.prec = 500  # a library call that changes precision and is interrupted
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 5:
                pass
    assert mpmath.mp.prec == prec
