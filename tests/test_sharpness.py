"""The sharpness search (wnbias.sharpness), the kept tight cases of C6 and `wnbias sharpness`."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, K_SOLVE, tol
from numerics._problem import Problem
from wnbias import sharpness as S
from wnbias.claims.tight_cases import PLANTED_FAILS, TIGHT_CASES, TightCase

RECHECK = S.RECHECK_DPS


@pytest.fixture(scope="module")
def rechecked():
    """Every kept case at dps 30: ``{label: C6Point}``."""
    return {c.label: S.c6_point(c.problem(), c.config(), dps=RECHECK) for c in TIGHT_CASES}


# -- the kept cases -----------------------------------------------------------------------------


def test_tight_case_format():
    assert TIGHT_CASES and all(isinstance(c, TightCase) for c in TIGHT_CASES)
    for c in TIGHT_CASES:
        assert c.claim == "C6" and c.model in ("positive", "signed") and c.L in (2, 3, 4)
        assert all(isinstance(v, str) for row in c.A for v in row) and all(isinstance(v, str) for v in c.y)
        assert isinstance(c.r0, str) and isinstance(c.eta_tilde, str)
        cfg = c.config()
        assert cfg.exact("r0") == Fraction(c.r0) and cfg.exact("eta_tilde") == Fraction(c.eta_tilde)
        assert cfg.eta_u == 1 and cfg.eta_r == cfg.eta_tilde
        assert c.problem().M == len(c.A) and c.problem().N == len(c.A[0])
    assert {c.L for c in TIGHT_CASES} >= {2, 3, 4}


@pytest.mark.parametrize("case", TIGHT_CASES, ids=lambda c: c.label)
def test_tight_case_satisfies_the_bound_at_dps30(case, rechecked):
    q = rechecked[case.label]
    assert q.ok, q.reason
    assert q.gap <= q.bound + q.lp_accuracy  # the real bound holds
    assert q.gap > 0
    # the recorded ratio is what the re-check gives (it is only kept for the docs)
    assert abs(q.ratio - case.ratio) <= tol(DPS_FLOAT64, K_SOLVE) * case.ratio
    # magnified, in the bound's own domain
    assert q.r_inf > q.r0 and q.log_alpha < 0


def test_l2_tight_case_fails_the_bound_times_0_9(rechecked):
    l2 = [c for c in TIGHT_CASES if c.L == 2]
    best = max(rechecked[c.label].ratio for c in l2)
    assert best > 0.9
    q = max((rechecked[c.label] for c in l2), key=lambda p: p.ratio)
    assert q.gap > 0.9 * q.bound + q.lp_accuracy  # the bound × 0.9 FAILs here


@pytest.mark.parametrize("case", [c for c in TIGHT_CASES if c.L > 2], ids=lambda c: c.label)
def test_lgt2_cases_sit_just_below_the_ceiling(case, rechecked):
    q = rechecked[case.label]
    ceiling = S.lgt2_ceiling(case.L)
    assert q.ratio <= ceiling + tol(RECHECK, K_SOLVE)
    assert q.ratio > 0.98 * ceiling  # within 2 % of 2/L (docs/sharpness.md)


@pytest.mark.parametrize("label", sorted(PLANTED_FAILS))
def test_planted_bounds_fail_on_the_kept_cases(label, rechecked):
    q = rechecked[label]
    for variant in PLANTED_FAILS[label]:
        b = S.variant_bound(q, variant)
        assert q.gap > b + q.lp_accuracy, (label, variant, q.gap, b)
    assert q.gap <= S.variant_bound(q, "") + q.lp_accuracy


def test_issue_example_of_the_false_l2_claim():
    """Issue 12: A = [1, 2], y = 20, r0 = 1, η̃ = 2 gives gap 0.342 against η̃/(r_∞² − r₀²) = 0.214."""
    q = S.c6_point(Problem(np.array([[1.0, 2.0]]), np.array([20.0])), FlowConfig(L=2, r0="1", eta_r="2", eta_u=1))
    assert q.ok
    assert abs(q.gap - 0.342) < 5e-4 and abs(S.variant_bound(q, "false-L2") - 0.214) < 5e-4


def test_ceiling_two_over_L_on_drawn_problems():
    """gap/bound ≤ 2/L for L > 2 (the identity in lgt2_ceiling's docstring), on drawn problems."""
    from numerics._problem import generate

    seen = 0
    for seed in range(6):
        for L in (3, 4):
            model = ("positive", "signed")[seed % 2]
            p = generate("sparse_positive" if model == "positive" else "sparse_signed", 4, 2, seed, k=1, model=model)
            q = S.c6_point(p, FlowConfig(L=L, r0=0.5 + seed / 4, eta_r=0.3 + seed))
            if q.ok:
                seen += 1
                assert q.ratio <= S.lgt2_ceiling(L) + tol(DPS_FLOAT64, K_SOLVE)
    assert seen >= 6
    with pytest.raises(S.SharpnessError):
        S.lgt2_ceiling(2)


def test_tiny_scale_lp_is_solved_on_a_rescaled_copy():
    """HiGHS's absolute tolerances would swallow y = −6.5e-10 (‖z*‖₁ reported 0): c6_point rescales."""
    p = Problem(np.array([[0.578309, 0.598393, -0.355427, 0.593278]]), np.array([-6.49215e-10]), "signed")
    q = S.c6_point(p, FlowConfig(L=3, r0="0.000705724", eta_r="0.00100416", eta_u=1))
    assert q.ok
    expected = 6.49215e-10 / 0.598393  # one column carries the whole |y|: z* = |y|/max|a_j|
    assert abs(q.l1_opt - expected) <= tol(DPS_FLOAT64, K_SOLVE) * expected
    assert q.ratio <= S.lgt2_ceiling(3)


def test_not_applicable_points_are_not_numbers():
    p = Problem(np.array([[1.0, 2.0]]), np.array([20.0]))
    q = S.c6_point(p, FlowConfig(L=2, r0=3.0, eta_r=100.0))  # α_eff ≥ 1: the L = 2 bound is not stated
    assert not q.ok and "α_eff" in q.reason and np.isnan(q.ratio)
    q2 = S.c6_point(p, FlowConfig(L=2, r0=3.0, eta_r=100.0), require_bound=False)
    assert q2.ok and np.isnan(q2.bound) and q2.gap >= 0
    assert not S.c6_point(p, FlowConfig(L=2, r0=1.0, eta_r=1.0, rates="plain")).ok


# -- the search ---------------------------------------------------------------------------------


def test_search_is_deterministic_for_a_seed():
    kw = dict(L=2, budget=None, max_evals=8, recheck=False)
    a = S.search(seed=3, **kw)
    b = S.search(seed=3, **kw)
    c = S.search(seed=4, **kw)
    assert a.evaluations == b.evaluations == 8 and a.stopped == "max_evals"
    assert a.best.theta == b.best.theta and a.best.ratio == b.best.ratio
    assert a.exact == b.exact
    assert c.best.theta != a.best.theta


def test_search_honours_its_time_budget():
    r = S.search(L=3, budget=1e-3, recheck=False)
    assert r.stopped == "budget" and r.evaluations <= 2


def test_search_result_is_its_own_recomputation():
    r = S.search(L=3, budget=None, max_evals=12, seed=0, recheck=True)
    assert r.problem is not None and r.recheck is not None and r.recheck.ok
    q = S.c6_point(r.problem, r.config)
    assert q.ratio == r.point64.ratio
    assert r.ratio == r.recheck.ratio and 0 < r.ratio <= S.lgt2_ceiling(3) + tol(RECHECK, K_SOLVE)
    # the exact strings are the parameters evaluated
    assert r.config.exact("r0") == Fraction(r.exact["r0"])
    assert r.problem.A.tolist() == [[float(v) for v in row] for row in r.exact["A"]]


def test_search_refuses_bad_arguments():
    for kw in ({"claim": "C5"}, {"L": 5}, {"variant": "nope"}, {"budget": 0}, {"max_evals": 0},
               {"shapes": ((2, 2),)}, {"models": ("complex",)}):
        with pytest.raises(S.SharpnessError):
            S.search(**{"budget": 1.0, **kw})


# -- the command --------------------------------------------------------------------------------


def _main(argv):
    """``wnbias.cli.main``, or (until the command is listed in cli.COMMANDS) the same wiring."""
    from wnbias import cli

    if "sharpness" in cli.COMMANDS:
        return cli.main(argv)
    from wnbias.commands import sharpness as cmd
    from wnbias.errors import UsageError

    parser = cli._Parser(prog="wnbias sharpness")
    cmd.add_arguments(parser)
    try:
        args = parser.parse_args(argv[1:])
        return int(cmd.run(args) or 0)
    except UsageError as exc:
        import sys

        print(f"wnbias sharpness: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse
        return int(exc.code)


def test_command_saves_a_loadable_problem(tmp_path, capsys):
    rc = _main(["sharpness", "C6", "--L", "3", "--max-evals", "8", "--seed", "0", "--out", str(tmp_path),
                "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "largest gap/bound found" in out
    npz, = tmp_path.glob("sharpness-C6-L3-seed0.npz")
    rec = json.loads((tmp_path / "sharpness-C6-L3-seed0.json").read_text())
    problem = Problem.load(npz)
    ex = rec["exact"]
    cfg = FlowConfig(L=3, r0=ex["r0"], eta_r=ex["eta_tilde"], eta_u=1)
    q = S.c6_point(problem, cfg)
    assert q.ratio == rec["ratio_float64"]
    assert rec["ratio"] == rec["point_recheck"]["ratio"] and rec["recheck_dps"] == RECHECK
    assert rec["evaluations"] == 8 and rec["seed"] == 0
    assert {"wnbias", "numpy", "scipy"} <= set(rec["versions"])


def test_command_usage_errors(tmp_path, capsys, monkeypatch):
    assert _main(["sharpness"]) == 2
    assert "claim id is required" in capsys.readouterr().err
    assert _main(["sharpness", "C5"]) == 2
    assert _main(["sharpness", "C6", "--budget", "0"]) == 2
    assert _main(["sharpness", "C6", "--variant", "nope"]) == 2
    assert _main(["sharpness", "C6", "--L", "2", "--variant", "alpha-L-1"]) == 2

    def no_search(*a, **k):
        raise AssertionError("the search must not start")

    monkeypatch.setattr(S, "search", no_search)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _main(["sharpness", "C6", "--out", str(blocker / "sub")]) == 2
    assert "--out" in capsys.readouterr().err


def test_command_prints_results_when_it_cannot_write(tmp_path, capsys, monkeypatch):
    def cannot_write(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Problem, "save", cannot_write)
    rc = _main(["sharpness", "C6", "--L", "4", "--max-evals", "4", "--out", str(tmp_path), "--no-recheck",
                "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 3
    assert "could not write" in cap.err
    rec = json.loads(cap.out[cap.out.index("{"):])
    assert rec["L"] == 4 and rec["exact"]["A"] and rec["ratio"] > 0
