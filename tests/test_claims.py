"""The claim registry, rows, the shared arithmetic of the checks, and each claim on one setting.

Each planted defect of issue 12 (items 3, 4, 5, 7) has a test here that fails on the old code:
missing machinery, overflow of ρ, per-step monotonicity, C3's discriminator, C5 at dps, the C6
cross-check and wrong bounds, C8's stall, and the empty check."""

from __future__ import annotations

import math
import sys
import textwrap
from fractions import Fraction
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest

from numerics._status import NumericalError, Status
from numerics._config import FlowConfig
from numerics._precision import K_ACCUMULATED, tol, workdps
from numerics._problem import Problem, generate
from numerics._results import FlowResult
from wnbias.claims import FAIL, PASS, SKIP, Row, all_claims, get, select
from wnbias.claims import _common as C
from wnbias.claims import problems as P
from wnbias.claims import registry
from wnbias.claims.registry import AssumptionFailed, Claim, MachineryMissing, Unavailable, need

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


# -- missing machinery, exceptions, plugins (issue 12 items 3, 5) ----------------------------


def test_missing_machinery_raises_and_names_the_module_never_a_skip():
    def check(problem, config, dps, **kw):
        need("numerics.this_module_does_not_exist", "f")

    c = Claim("CX", "t", "s", "§0", check, lambda level: [], "rule")
    with pytest.raises(MachineryMissing) as exc:
        c.run(P.get("tiny"), FlowConfig(), None)
    assert exc.value.module == "numerics.this_module_does_not_exist"
    assert Unavailable is MachineryMissing  # the old name still catches it

    def check2(problem, config, dps, **kw):
        raise AssumptionFailed("r_∞ < r₀")

    (row,) = Claim("CY", "t", "s", "§0", check2, lambda level: [], "rule").run(None, None, None)
    assert row.verdict == SKIP and "assumption fails" in row.reason


def test_c6_with_numerics_limit_unimportable_raises_not_skips(monkeypatch):
    # measured before: `verify --quick --claims C6,C7` printed 0 PASS 0 FAIL 3 SKIP, exit 0
    monkeypatch.setitem(sys.modules, "numerics._limit", None)
    with pytest.raises(MachineryMissing) as exc:
        get("C6").run(P.get("tiny"), FlowConfig(L=2, r0="1", eta_r="0.3"), None)
    assert exc.value.module == "numerics._limit"


def test_lp_or_scipy_optimize_unimportable_is_machinery_missing_not_a_crash(monkeypatch):
    monkeypatch.setitem(sys.modules, "numerics._lp", None)
    with pytest.raises(MachineryMissing) as exc:
        get("C6").run(P.get("cs30"), FlowConfig(L=2, r0="1", eta_r="0.1"), None)
    assert exc.value.module == "numerics._lp"
    monkeypatch.undo()
    # scipy.optimize is imported lazily inside the solvers: still named, never a traceback
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(MachineryMissing) as exc:
        get("C6").run(P.get("cs30"), FlowConfig(L=2, r0="1", eta_r="0.1"), None)
    assert "scipy.optimize" in exc.value.module


def test_flow_claims_with_the_integrator_unimportable_raise_machinery_missing(monkeypatch):
    """The claims call the public ``numerics.integrate``; its engine unimportable is named, never a SKIP."""
    import numerics

    monkeypatch.delattr(numerics, "integrate", raising=False)  # the lazily cached public name
    monkeypatch.setitem(sys.modules, "numerics._integrate", None)
    monkeypatch.setattr(C, "_RUNS", {})
    with pytest.raises(MachineryMissing) as exc:
        get("C1").run(P.get("small"), FlowConfig(L=2, r0="1", eta_r="0.3"), None)
    assert exc.value.module == "numerics._integrate"


def test_only_numerical_errors_become_verdicts():
    def boom(problem, config, dps, **kw):
        raise ZeroDivisionError("singular")

    with pytest.raises(ZeroDivisionError):  # a programming error propagates (it used to be a FAIL row)
        Claim("CZ", "t", "s", "§0", boom, lambda level: [], "rule").run(None, None, None)

    def stuck(problem, config, dps, **kw):
        raise NumericalError(Status.TIME_LIMIT, "time_limit = 600 s spent")

    (row,) = Claim("CW", "t", "s", "§0", stuck, lambda level: [], "rule").run(None, None, None)
    assert row.verdict == FAIL and "time_limit" in row.reason


def test_need_reports_missing_attribute():
    with pytest.raises(MachineryMissing, match="numerics._precision.no_such_name"):
        need("numerics._precision", "no_such_name")


def test_a_slow_limit_solve_is_reported_as_time_limit_not_skipped(monkeypatch):
    """No SIGALRM budget: the solver gets ``time_limit=`` and its TIME_LIMIT status is a FAIL."""
    import numerics._limit as L

    seen = {}

    def slow(problem, config, *, dps=None, time_limit=None, **kw):
        seen["time_limit"] = time_limit
        return SimpleNamespace(status=Status.TIME_LIMIT, message=f"time_limit = {time_limit:g} s spent")

    monkeypatch.setattr(L, "limit_solve", slow)
    rows = get("C6").run(P.get("cs30"), FlowConfig(L=2, r0="1", eta_r="0.1"), None)
    assert [r.verdict for r in rows] == [FAIL] and "time_limit" in rows[0].reason
    assert seen["time_limit"] >= 60  # a budget for the honest work, not a 20 s alarm
    assert not hasattr(C, "wall_budget")


def test_claim_modules_are_an_explicit_tuple_loaded_on_demand():
    import subprocess

    assert isinstance(registry.CLAIM_MODULES, tuple) and "wnbias.claims.flow" in registry.CLAIM_MODULES
    out = subprocess.run([sys.executable, "-c",
                          "import sys, wnbias.claims.registry as r; "
                          "print(any(m in sys.modules for m in r.CLAIM_MODULES))"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # no import cycle: the registry does not import them


def test_load_plugin_registers_a_user_claim(tmp_path, monkeypatch):
    (tmp_path / "wnbias_test_plugin_claims.py").write_text(textwrap.dedent('''
        from wnbias.claims import Claim, Row, PASS, register
        def check(problem, config, dps, **kw):
            return Row("U1", "", 0.0, 1.0, PASS, "a user claim")
        register(Claim("U1", "user claim", "0 <= 1", "§0", check, lambda level: [], "exact"))
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.load_claims()  # the built-in claims first, then a private copy of the registry
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.delitem(sys.modules, "wnbias_test_plugin_claims", raising=False)
    assert registry.load_plugin("wnbias_test_plugin_claims") == ["U1"]
    (row,) = get("U1").run(None, None, None)
    assert row.verdict == PASS
    with pytest.raises(registry.PluginError, match="not found"):
        registry.load_plugin("wnbias_no_such_plugin_module")


def test_entry_point_claims_are_loaded(monkeypatch):
    import importlib.metadata as md

    claim = Claim("U2", "entry-point claim", "s", "§0", lambda *a, **k: None, lambda level: [], "exact")
    ep = SimpleNamespace(name="u2", value="pkg:claim", load=lambda: claim)
    monkeypatch.setattr(md, "entry_points", lambda group=None: [ep] if group == registry.ENTRY_POINT_GROUP else [])
    registry.load_claims()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry._load_entry_points()
    assert get("U2") is claim


# -- the shared arithmetic, against closed forms ------------------------------------------


def test_relative_kernel_residual_float_and_mp_agree():
    A = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]])
    in_range = A.T @ np.array([0.3, -1.1])
    rel, k, nh = C.relative_kernel_residual(A, in_range, None)
    assert k < tol(15, 3) * nh and rel == k / max(nh, 1.0)
    kern = np.array([2.0, -1.0, 1.0])  # A @ kern = 0
    _, k2, _ = C.relative_kernel_residual(A, in_range + kern, None)
    assert math.isclose(k2, np.linalg.norm(kern), rel_tol=tol(15, 3))
    with workdps(40):
        _, k3, _ = C.relative_kernel_residual(A, C.as_mp(in_range + kern), 40)
    assert math.isclose(k3, np.linalg.norm(kern), rel_tol=tol(15, 3))


def test_helpers_refuse_a_precision_below_float64():
    """``dps ≤ 15`` is never silently float64 (issue 15): None is float64, ``dps < MIN_DPS`` is refused."""
    from numerics._precision import MIN_DPS

    assert C.effective_dps(None) == 15 and C.effective_dps(MIN_DPS) == MIN_DPS
    for bad in (1, 10, 15):
        with pytest.raises(ValueError, match="below the minimum"):
            C.effective_dps(bad)
        with pytest.raises(ValueError, match="below the minimum"):
            C.integrate(P.get("tiny"), FlowConfig(L=2, r0="1", eta_r="0.3"), bad, t_max=1.0)


def test_mp_results_keep_their_digits():
    """A Taylor run's final state is an mpf array; the helpers keep it at dps (the former
    type-sniffing helpers rounded an ndarray to float64 on the way in)."""
    prob, cfg = P.get("tiny"), FlowConfig(L=2, r0="1", eta_r="0.3")
    res = C.integrate(prob, cfg, 30, t_max=0.5)
    with workdps(30):
        w = C.final_weights(prob, cfg, res, 30)
        assert isinstance(w, np.ndarray) and w.dtype == object and isinstance(w[0], mpmath.mpf)
        x = C.x_eff_of(w, 2, 30)
        diff = max(abs(a - b) for a, b in zip(x, res.x_final)) / max(abs(v) for v in res.x_final)
    assert diff < tol(30, 3)


def test_wn_invariant_wrong_sign_differs_by_2s_on_L2():
    u0 = np.full(4, 0.5)
    u = np.array([0.4, 0.6, 0.5, 0.5])
    h = C.wn_invariant(1.3, u, u0, 1.0, 0.5, 2, None)
    hw = C.wn_invariant(1.3, u, u0, 1.0, 0.5, 2, None, s_sign=-1)
    s = (1.3 ** 2 - 1.0) / (2 * 0.5)
    assert np.allclose(h - hw, 2 * s, rtol=tol(15, 3), atol=0)


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
    assert math.isclose(b, 1.0, rel_tol=tol(15, 3)) and math.isclose(a, 2.0, rel_tol=tol(15, 3))
    assert se < tol(15, 3)
    noisy = 2.0 + x + np.array([0.1, -0.1, 0.1, -0.1])
    b, se, a = C.fit_line(x, noisy)
    # the standard error of the slope from the least-squares covariance (closed form)
    (b_ref, a_ref), cov = np.polyfit(x, noisy, 1, cov="unscaled")
    resid = noisy - (a_ref + b_ref * x)
    se_ref = math.sqrt(cov[0, 0] * float(resid @ resid) / (len(x) - 2))
    assert math.isclose(b, b_ref, rel_tol=tol(15, 3)) and math.isclose(se, se_ref, rel_tol=tol(15, 3))
    assert se > 0.01
    assert math.isnan(C.fit_line([0.0, 1.0], [1.0, 3.0])[1])  # two points: no error estimate


def test_log_w0_at_dps_uses_the_exact_parameters():
    cfg = FlowConfig(L=2, r0="0.1")
    with workdps(40):
        lw0 = C.log_w0_at(cfg, 3, 40)
        # mpmath.mpf(config.r0) would be the double nearest 0.1: an error of 3e-17 in log w0 here
        assert abs(lw0[0] - mpmath.log(mpmath.mpf(1) / 10 / mpmath.sqrt(3))) < mpmath.mpf(10) ** -40


def test_built_in_cases_carry_exact_parameters():
    case = get("C5").cases("default")[0]
    assert case.config.exact("eta_r") == Fraction(3, 10)
    assert get("C6").cases("quick")[0].config.exact("eta_tilde") == Fraction(1, 10)


# -- log form: no float64 overflow of ρ (issue 12 item 4) ------------------------------------


def test_wn_invariant_and_rho_do_not_overflow():
    # s = (r² − r₀²)/(2η̃) = 1799.5: math.exp(s) raised OverflowError (false FAILs in C3, C5, C6, C7, C10)
    u0 = np.full(4, 0.5)
    u = np.array([0.4, 0.6, 0.5, 0.5])
    for L in (2, 3):
        h = C.wn_invariant(60.0, u, u0, 1.0, 1.0, L, None)
        assert np.all(np.isfinite(h))
    h2 = C.wn_invariant(60.0, u, u0, 1.0, 1.0, 2, None)
    assert np.allclose(h2, np.log(u / np.linalg.norm(u)) - np.log(u0) + 1799.5, rtol=tol(15, 3), atol=0)
    assert math.isclose(C.F.log_rho(60.0, 1.0, 1.0), math.log(1 / 60) + 1799.5, rel_tol=tol(15, 3))
    lb = C.log_beta_of(FlowConfig(L=2, r0="1", eta_r="1"), 4, C.F.log_rho(60.0, 1.0, 1.0), 2)
    assert np.all(np.isfinite(lb)) and lb[0] < -3000  # β = (w₀/ρ)² far below float64, held as log β


def test_c6_bound_with_a_huge_magnification_is_finite(monkeypatch):
    """A limit with r_∞² − r₀² ≈ 3600 η̃: the bound comes from log α_eff (no overflow)."""
    import numerics._limit as L

    prob = P.get("cs30")
    real = L.limit_solve(prob, FlowConfig(L=3, r0="1", eta_r="0.3"))

    def fake(problem, config, **kw):
        return SimpleNamespace(status=Status.CONVERGED, message="", x_inf=real.x_inf, r_inf=60.0, dps=None)

    monkeypatch.setattr(L, "limit_solve", fake)
    rows = get("C6").run(prob, FlowConfig(L=3, r0="1", eta_r="0.5"), None)
    main = rows[0]
    assert math.isfinite(main.bound) and main.bound >= 0
    assert main.details["log_alpha_eff"] < -3000
    assert all(r.verdict in (PASS, FAIL) for r in rows)
    assert "OverflowError" not in " ".join(r.reason for r in rows)


# -- each claim on one small setting (the checks themselves) -------------------------------


@pytest.mark.parametrize("cid", ["C1", "C2", "C10"])
def test_cheap_claims_pass_on_their_quick_case(cid):
    c = get(cid)
    case = c.cases("quick")[0]
    rows = c.run(case.problem, case.config, case.dps, label=case.label)
    assert rows and all(r.verdict == PASS for r in rows), [(r.verdict, r.reason) for r in rows]


def _fake_run(problem, config, *, t, loss, status=Status.NOT_CONVERGED, nsteps=None, max_step_increase=0.0,
              steps_checked=None, message="fake"):
    """A FlowResult with a given loss history (the final state is the true initial state)."""
    t = np.asarray(t, dtype=float)
    loss = np.asarray(loss, dtype=float)
    n = problem.n
    u0 = config.u0_for(n)
    k = len(t)
    return FlowResult(status=status, message=message, config=config, method="fake", t=t, loss=loss,
                      r=np.full(k, config.r0), invariant_residual=np.zeros(k), unorm_dev=np.zeros(k),
                      t_final=float(t[-1]), r_final=config.r0, u_final=u0, x_final=(config.r0 * u0) ** config.L,
                      nfev=0, nsteps=k if nsteps is None else nsteps, dps=None, log_u_final=np.log(u0),
                      x_user=problem.to_user((config.r0 * u0) ** config.L), loss_final_exact=float(loss[-1]),
                      max_step_increase=max_step_increase,
                      steps_checked=(k - 1) if steps_checked is None else steps_checked, loss_tol=1e-12)


def test_c2_judges_every_accepted_step_not_only_checkpoints(monkeypatch):
    import wnbias.claims.flow as F

    prob, cfg = P.get("small"), FlowConfig(L=2, r0="1", eta_r="0.3")
    # checkpoints monotone, but one accepted step between them went up by 1e-6 (invisible before)
    fake = _fake_run(prob, cfg, t=[0, 1, 2], loss=[1.0, 0.5, 0.25], max_step_increase=1e-6, steps_checked=40)
    monkeypatch.setattr(F, "integrate", lambda *a, **k: fake)
    (row,) = get("C2").run(prob, cfg, None)
    assert row.verdict == FAIL and row.details["steps_checked"] == 40
    # an integrator that did not record the steps cannot give a PASS
    fake2 = _fake_run(prob, cfg, t=[0, 1, 2], loss=[1.0, 0.5, 0.25], max_step_increase=float("nan"), steps_checked=0)
    monkeypatch.setattr(F, "integrate", lambda *a, **k: fake2)
    with pytest.raises(MachineryMissing, match="max_step_increase"):
        get("C2").run(prob, cfg, None)


@pytest.mark.parametrize("cid", ["C1", "C2", "C3", "C4", "C5", "C9"])
def test_a_flow_that_never_ran_is_an_empty_check_not_a_pass(cid, monkeypatch):
    import wnbias.claims.flow as F
    import wnbias.claims.limits as LM

    prob, cfg = P.get("tiny"), FlowConfig(L=2, r0="1", eta_r="0.3")
    fake = _fake_run(prob, cfg, t=[0.0], loss=[1.0], status=Status.INCONSISTENT, nsteps=0, steps_checked=0,
                     message="no nonnegative solution of Az = y")
    monkeypatch.setattr(F, "integrate", lambda *a, **k: fake)
    monkeypatch.setattr(LM, "integrate", lambda *a, **k: fake)
    rows = get(cid).run(prob, cfg, None)
    assert rows and all(r.verdict == SKIP and r.reason.startswith("the check would be empty") for r in rows), \
        [(r.verdict, r.reason) for r in rows]


def test_no_nonnegative_solution_gives_empty_checks_on_the_real_flow():
    # y < 0 with A ≥ 0: no z ≥ 0 solves Az = y
    prob = Problem(np.array([[1.0, 2.0, 1.0]]), np.array([-1.0]), "positive")
    for cid in ("C1", "C4", "C5", "C9"):
        rows = get(cid).run(prob, FlowConfig(L=2, r0="1", eta_r="0.3"), None)
        assert all(r.verdict == SKIP and "empty" in r.reason for r in rows), (cid, [(r.verdict, r.reason) for r in rows])


def test_c3_passes_at_dps30_and_judges_its_discriminator():
    c = get("C3")
    prob = generate("sparse_positive", 4, 2, 0, k=1)
    rows = c.run(prob, FlowConfig(L=3, r0="1", eta_r="0.5"), 30, t_max=1.0)
    main, disc = rows
    assert main.verdict == PASS, main.reason
    assert main.bound == tol(30, K_ACCUMULATED)
    assert disc.setting.endswith("[discriminates]") and disc.verdict == PASS
    assert disc.measured > 1e3 * main.bound


def test_c3_skips_the_discriminator_where_s_is_invisible():
    # 1 ∈ range(Aᵀ) (first row all ones) with uniform u0: the wrong sign of s also lies in the range
    A = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 0.5, 3.0]])
    prob = Problem(A, A @ np.array([0.5, 0.0, 1.0, 0.2]), "positive")
    main, disc = get("C3").run(prob, FlowConfig(L=2, r0="1", eta_r="0.5"), 30, t_max=1.0)
    assert main.verdict == PASS, main.reason
    assert disc.verdict == SKIP and "invisible" in disc.reason  # it used to PASS without comment


def test_c3_fails_a_discriminator_that_cannot_see_s():
    # a run so short that r has not moved: the wrong sign of s is as good as the right one
    prob = generate("sparse_positive", 4, 2, 0, k=1)
    main, disc = get("C3").run(prob, FlowConfig(L=2, r0="1", eta_r="0.5"), 30, t_max=1e-26)
    assert disc.verdict == FAIL and "does not discriminate" in disc.reason


def test_c4_rates_r2_runs_on_the_config_given():
    (inv, lim) = get("C4").run(P.get("small"), FlowConfig(L=2, r0="1"), None)
    assert inv.verdict == PASS and lim.verdict in (PASS, SKIP)
    assert inv.settings["config"]["rates"] == "constant"  # the user's config; the check switches rates


def test_c5_at_dps_compares_the_taylor_flow():
    rows = get("C5").run(P.get("tiny"), FlowConfig(L=2, r0="1", eta_r="0.5"), 30, t_max_mp=1.0)
    by = {r.setting.split("[")[-1].rstrip("]"): r for r in rows}
    ft = by["finite time, dps=30"]
    assert ft.verdict == PASS and ft.bound == tol(30, K_ACCUMULATED), ft.reason
    assert "Taylor" in ft.reason
    assert "limit re-projected, dps=30" in by
    assert by["flow vs limit, dps=30"].verdict in (PASS, SKIP)


def test_c5_dps_finite_time_identity_sees_a_wrong_rho():
    """The dps projection used by C5 discriminates: a β(T) off by a factor 1 + 1e-20 is seen."""
    prob = P.get("tiny")
    cfg = FlowConfig(L=2, r0="1", eta_r="0.5")
    res = C.integrate(prob, cfg, 30, t_max=1.0)
    A, n = prob.A_eff, prob.n
    with workdps(30):
        w = C.final_weights(prob, cfg, res, 30)
        x = [v ** 2 for v in w]
        b = C.as_mp([mpmath.fsum(mpmath.mpf(float(A[i, j])) * x[j] for j in range(n)) for i in range(A.shape[0])])
        lb = C.log_beta_of(cfg, n, C.F.log_rho(res.r_final, cfg.mp("r0"), cfg.mp("eta_tilde")), 2, 30)
        px, _, _ = C.project_mp(A, b, lb, 2, 30)
        good = max(abs(p - q) for p, q in zip(px, x)) / max(x)
        bad_lb = [v + mpmath.mpf(10) ** -20 * (j % 2) for j, v in enumerate(lb)]
        qx, _, _ = C.project_mp(A, b, bad_lb, 2, 30)
        bad = max(abs(p - q) for p, q in zip(qx, x)) / max(x)
    assert good < tol(30, K_ACCUMULATED) < 1e-3 * bad


def test_c6_gap_below_bound_and_skip_where_bound_does_not_apply():
    c = get("C6")
    main, cross = c.run(P.get("small-signed"), FlowConfig(L=2, r0="1", eta_r="0.3"), None)
    assert main.verdict == PASS and 0 <= main.measured <= main.bound
    assert cross.verdict == PASS and cross.setting.endswith("[cross-check]")
    # a non-uniform u0: β is not uniform and the §5 bound is not stated for it
    n = P.get("tiny").n
    (row,) = c.run(P.get("tiny"), FlowConfig(L=2, r0="1", eta_r="0.3", u0=tuple(range(1, n + 1))), None)
    assert row.verdict == SKIP and "uniform" in row.reason


def test_c6_judges_its_cross_check(monkeypatch):
    import numerics._quantities as Q

    real = Q.l1_bound_from_log_alpha
    monkeypatch.setattr(Q, "l1_bound_from_log_alpha", lambda *a, **k: 1.01 * real(*a, **k))
    main, cross = get("C6").run(P.get("cs30"), FlowConfig(L=3, r0="1", eta_r="0.3"), None)
    assert main.verdict == PASS and cross.verdict == FAIL  # it used to be stored in details only


def test_c6_false_l2_claim_fails_on_the_known_counterexample():
    # "gap ≤ η̃/(r_∞² − r₀²)": A = [1, 2], y = 20, r0 = 1, η̃ = 2 gives gap 0.342 against 0.214
    prob = Problem(np.array([[1.0, 2.0]]), np.array([20.0]), "positive")
    cfg = FlowConfig(L=2, r0="1", eta_r="2")
    main = get("C6").run(prob, cfg, None)[0]
    assert main.verdict == PASS
    wrong = get("C6").run(prob, cfg, None, variant="false-L2")[0]
    assert wrong.verdict == FAIL and wrong.measured > wrong.bound
    assert math.isclose(wrong.measured, 0.342, abs_tol=5e-3) and math.isclose(wrong.bound, 0.214, abs_tol=5e-3)


def test_default_c6_cases_fail_the_bound_times_0_9_and_each_planted_bound():
    """Target of issue 12: the default `verify` FAILs the bound multiplied by 0.9, and each
    planted wrong bound, on the tight cases (wnbias/claims/tight_cases.py)."""
    from wnbias.claims.tight_cases import TIGHT_CASES

    c = get("C6")
    tight = [case for case in c.cases("default") if case.label.startswith("tight")]
    assert tight and len(tight) == len([t for t in TIGHT_CASES if t.claim == "C6"])

    def fails(**opts):
        return any(c.run(case.problem, case.config, case.dps, **opts)[0].verdict == FAIL for case in tight)

    assert not fails()  # the true bound holds
    assert fails(bound_factor=0.9)
    for variant in ("half-L2", "half-Lgt2", "alpha-L-1", "false-L2"):
        assert fails(variant=variant), variant


def test_c7_reports_slope_and_monotonicity():
    (row,) = get("C7").run(P.get("cs30"), FlowConfig(L=2, r0="1", eta_r="0.3"), None,
                           factors=(2.0, 1.0, 0.5))
    assert row.verdict == PASS, row.reason
    s = row.details["series"]
    order = np.argsort(s["log_alpha_eff"])[::-1]
    S = np.array(s["S"])[order]
    assert np.all(np.diff(S) <= row.bound * S[:-1])


def test_c7_skips_without_magnification():
    # r0 far above the solution's radius: r_∞ < r₀ at every η̃, magnification cannot happen
    (row,) = get("C7").run(P.get("tiny"), FlowConfig(L=2, r0="20", eta_r="0.3"), None, factors=(2.0, 1.0, 0.5))
    assert row.verdict == SKIP and "r_∞ > r₀" in row.reason


def test_c8_still_decaying_is_skip_never_pass():
    (row,) = get("C8").run(P.get("small"), FlowConfig(L=2, r0="1", eta_r="0.3"), None, t_max=1.0)
    assert row.verdict == SKIP and "not converged" in row.reason and "decaying" in row.reason


def test_c8_fails_a_stall():
    # measured: loss 0.3077 from t = 5e3 to 1e5 on cs30, L = 3, η̃ = 0.05 — a SKIP with exit 0 before
    (row,) = get("C8").run(P.get("cs30"), FlowConfig(L=3, r0="1", eta_r="0.05"), None)
    assert row.verdict == FAIL and "stalled" in row.reason, row.reason
    assert row.details["fits"]["relative_drop"] <= row.bound


def test_c8_decaying_tail_is_skip_and_flat_tail_is_fail(monkeypatch):
    import wnbias.claims.dynamics as D

    prob, cfg = P.get("small"), FlowConfig(L=2, r0="1", eta_r="0.3")
    t = np.geomspace(1, 1e5, 18)
    decaying = _fake_run(prob, cfg, t=np.r_[0, t], loss=np.r_[2.0, 1e-2 * t ** -0.5])
    monkeypatch.setattr(D, "integrate", lambda *a, **k: decaying)
    (row,) = get("C8").run(prob, cfg, None)
    assert row.verdict == SKIP and abs(row.details["fits"]["power"]["rate"] - 0.5) < 1e-6
    flat = _fake_run(prob, cfg, t=np.r_[0, t], loss=np.r_[2.0, np.where(t < 100, 1.0 / t, 0.01)])
    monkeypatch.setattr(D, "integrate", lambda *a, **k: flat)
    (row,) = get("C8").run(prob, cfg, None)
    assert row.verdict == FAIL and "stalled" in row.reason


def test_a_real_overflowing_magnification_no_longer_fails():
    # η̃ = 1e-3 on A = [1, 2, ½], y = 20: s = (r² − r₀²)/(2η̃) reaches thousands; math.exp(s) raised
    # OverflowError in the invariant / ρ (formerly _common.rho_of), a false FAIL in C3, C5, C6, C7 and C10
    prob = Problem(np.array([[1.0, 2.0, 0.5]]), np.array([20.0]), "positive")
    cfg = FlowConfig(L=2, r0="1", eta_r="0.001")
    main, disc = get("C3").run(prob, cfg, None, t_max=20.0)
    assert main.verdict == PASS and disc.verdict == PASS, (main.reason, disc.reason)
    assert disc.details["s_T"] > 1000
    rows = get("C6").run(prob, cfg, None)
    assert [r.verdict for r in rows] == [PASS, PASS] and rows[0].details["log_alpha_eff"] < -1000
    (row,) = get("C7").run(prob, cfg, None, factors=(2.0, 1.0, 0.5))
    assert row.verdict == PASS, row.reason


def test_c5_at_dps_compares_a_converged_taylor_flow_with_the_limit():
    case = next(c for c in get("C5").cases("default") if c.label == "interior" and c.config.L == 2)
    rows = get("C5").run(case.problem, case.config, case.dps, **dict(case.options))
    by = {r.setting.split("[")[-1].rstrip("]"): r for r in rows}
    fl = by["flow vs limit, dps=30"]
    assert fl.verdict == PASS, fl.reason
    assert fl.measured < tol(30, K_ACCUMULATED)  # the flow itself, at 30 digits, not the solver against itself


@pytest.mark.parametrize("cid, opts", [
    ("C1", {"variant": "r-conserved"}),
    ("C4", {"variant": "with-rho"}),
    ("C9", {"variant": "with-rho"}),
    ("C10", {"order": 2.0}),
])
def test_planted_wrong_variants_fail_on_the_quick_case(cid, opts):
    c = get(cid)
    case = c.cases("quick")[0]
    if cid in ("C4", "C9"):  # the magnification of WN-GF at η̃ = 0.1 (these flows have none)
        case = type(case)(case.label, case.problem, case.config.replace(eta_r="0.1"), case.dps)
    true_rows = c.run(case.problem, case.config, case.dps)
    wrong_rows = c.run(case.problem, case.config, case.dps, **opts)
    assert all(r.verdict == PASS for r in true_rows), [(r.verdict, r.reason) for r in true_rows]
    assert any(r.verdict == FAIL for r in wrong_rows), [(r.verdict, r.reason) for r in wrong_rows]


def test_c7_planted_wrong_direction_fails():
    (row,) = get("C7").run(P.get("cs30"), FlowConfig(L=2, r0="1", eta_r="0.3"), None,
                           factors=(2.0, 1.0, 0.5), variant="increasing")
    assert row.verdict == FAIL


def test_c3_at_dps_uses_the_exact_parameters():
    # η_r = "0.3" is three tenths; recomputing h_η with mpmath.mpf(config.eta_tilde) (the double
    # nearest 0.3) would put an error of ~1e-17 into s, far above tol(30, K_ACCUMULATED) = 1e-24
    case = get("C3").cases("quick")[0]
    assert case.config.exact("eta_r") == Fraction(3, 10)
    main, disc = get("C3").run(case.problem, case.config, case.dps)
    assert main.verdict == PASS and main.measured <= tol(30, K_ACCUMULATED), main.reason
    res = C.integrate(case.problem, case.config, 30, t_max=2.0)
    with workdps(30):
        n = case.problem.n
        h_float = C.wn_invariant(res.r_final, res.u_final, case.config.ubar0_mp(n), mpmath.mpf(case.config.r0),
                                 mpmath.mpf(case.config.eta_tilde), 2, 30)
    rel_float, _, _ = C.relative_kernel_residual(case.problem.A_eff, h_float, 30)
    assert rel_float > 1e3 * tol(30, K_ACCUMULATED)  # the float path would have FAILed
