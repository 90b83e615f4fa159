"""wnbias.claims.matrix: M1–M5 run, report honestly, and planted wrong statements FAIL."""

import math

import numpy as np
import pytest

from numerics._precision import DPS_FLOAT64, K_SOLVE, tol
from wnbias.claims import matrix as MC
from wnbias.claims.registry import FAIL, PASS


def _claim(cid):
    return next(c for c in MC.CLAIMS if c.id == cid)


def test_claims_are_labelled():
    assert [c.id for c in MC.CLAIMS] == ["M1", "M2", "M3", "M4", "M5"]
    for c in MC.CLAIMS:
        assert ("proven here" in c.title) != ("evidence" in c.title), c.title
        assert c.section.startswith("§9")


def test_identity_claims_pass_quick():
    rows = MC.verify_matrix("quick", ids=("M1", "M2", "M3"))
    assert rows and {r.claim for r in rows} == {"M1", "M2", "M3"}
    for r in rows:
        assert r.verdict == PASS, (r.claim, r.setting, r.reason)
        assert math.isfinite(r.measured) and r.measured <= r.bound


def test_planted_wrong_invariant_fails():
    c = _claim("M3")
    case = c.cases("quick")[0]
    rows = c.run(case.problem, None, None, label="planted", **MC.PLANTED_INVARIANT)
    assert [r.verdict for r in rows] == [FAIL]
    assert rows[0].measured > rows[0].bound


def test_planted_norm_drift_fails():
    c = _claim("M1")
    case = c.cases("quick")[0]
    rows = c.run(case.problem, None, None, label="planted", **{**dict(case.options), **MC.PLANTED_NORM})
    assert [r.verdict for r in rows] == [FAIL]


def test_evidence_claims_report_measurements():
    pytest.importorskip("cvxpy", reason="M4 needs the nuclear-norm SDP (optional extra 'matrix')")
    rows = MC.verify_matrix("quick", ids=("M4", "M5"))
    assert {r.claim for r in rows} == {"M4", "M5"}
    for r in rows:
        assert r.verdict in (PASS, FAIL) and math.isfinite(r.measured)
        assert "evidence" in r.reason
    m4 = next(r for r in rows if r.claim == "M4")
    assert set(m4.details["gaps"]) and m4.details["sdp"]["solver"] == "CLARABEL"


def test_rate_ratio_tells_linear_from_sublinear():
    k = np.arange(0, 2001, 10, dtype=float)
    ratio, *_ = MC.rate_ratio(k, 0.99 ** k)
    assert abs(ratio - 1.0) <= tol(DPS_FLOAT64, K_SOLVE)
    ratio_p, _, _, power = MC.rate_ratio(k, (1 + k) ** -2.0)
    assert ratio_p < MC.LINEAR_RATIO
    assert abs(power - 2.0) < 0.05


def _plan(*argv):
    from wnbias.cli import build_parser
    from wnbias.commands import verify

    args = build_parser().parse_args(["verify", *argv])
    return verify.plan(args)


def test_verify_selects_matrix_claims_only_with_model_matrix():
    """`verify --model matrix` runs M1…M5 and nothing else; a plain `verify` runs no M claim."""
    claims, pairs, _ = _plan("--model", "matrix", "--quick")
    assert claims and all(c.id.startswith("M") for c in claims) and pairs
    assert {c.id for c in claims} >= {"M1", "M2", "M3", "M4", "M5"}
    claims, _, _ = _plan("--quick")
    assert claims and not any(c.id.startswith("M") for c in claims)


def test_verify_model_matrix_refuses_what_it_cannot_do(capsys):
    from wnbias.cli import main

    assert main(["verify", "--model", "matrix", "--problem", "p.npz", "--no-progress"]) == 2
    assert "--model matrix" in capsys.readouterr().err
    assert main(["verify", "--model", "matrix", "--claims", "C1", "--no-progress"]) == 2
    assert "matrix claim" in capsys.readouterr().err
    assert main(["derive", "--model", "matrix", "--L", "3"]) == 2
    assert "--L does not apply" in capsys.readouterr().err


def test_verify_model_matrix_runs_from_the_command_line(capsys):
    from wnbias.cli import main

    rc = main(["verify", "--model", "matrix", "--quick", "--claims", "M1,M2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    import re

    m = re.search(r"(\d+) PASS, (\d+) FAIL, (\d+) SKIP", out)
    assert m and int(m.group(1)) >= 2 and m.group(2) == "0", out


@pytest.mark.parametrize("cid", ["M1", "M2"])
def test_a_flow_that_ran_out_of_time_is_a_fail_not_a_shorter_check(cid, monkeypatch):
    """A run stopped by its time limit is not checked on the trajectory it reached."""
    from types import SimpleNamespace

    import numerics
    from numerics._status import Status

    def out_of_time(problem, config, **kw):
        return SimpleNamespace(status=Status.TIME_LIMIT, message="time_limit = 600 s spent", nsteps=3,
                               loss=np.array([1.0, 0.5, 0.4]), t=np.array([0.0, 0.1, 0.2]), method="DOP853",
                               vnorm=np.ones(3), r=np.ones(3), max_step_increase=0.0, steps_checked=2)

    monkeypatch.setattr(numerics, "integrate", out_of_time)
    case = _claim(cid).cases("quick")[0]
    (row,) = _claim(cid).run(case.problem, case.config, case.dps, **dict(case.options))
    assert row.verdict == FAIL and "time_limit" in row.reason
