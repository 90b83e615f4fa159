"""`wnbias verify`: the table, JSON, report, selection, --problem, and the exit status."""

from __future__ import annotations

import json

import pytest

from numerics._problem import generate
from wnbias.claims import registry
from wnbias.claims.registry import FAIL, Case, Claim, Row
from wnbias.cli import main


def test_quick_selected_claims_table_and_json(tmp_path, capsys):
    out = tmp_path / "rows.json"
    rc = main(["verify", "--quick", "--claims", "C1,C2,C10", "--json", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0
    for col in ("claim", "setting", "measured", "bound / tol", "verdict"):
        assert col in text
    doc = json.loads(out.read_text())
    claims = {r["claim"] for r in doc["rows"]}
    assert claims == {"C1", "C2", "C10"}
    for r in doc["rows"]:
        assert r["verdict"] == "PASS"
        assert isinstance(r["measured"], float) and isinstance(r["bound"], float)
        assert r["settings"]["problem"]["N"] >= 2 and "config" in r["settings"]
        assert r["wall_time"] >= 0


def test_exit_status_is_one_when_a_row_fails(monkeypatch, capsys):
    def check(problem, config, dps, **kw):
        return Row("CF", "", 2.0, 1.0, FAIL, "planted failure")

    registry.all_claims()  # load the real ones first
    fake = Claim("CF", "a failing claim", "1 \\le 0", "§0", check,
                 lambda level: [Case("none", None, None, None)], "none")
    monkeypatch.setitem(registry._REGISTRY, "CF", fake)
    rc = main(["verify", "--claims", "CF", "--no-progress"])
    assert rc == 1
    assert "FAIL" in capsys.readouterr().out


def test_bad_input_exits_2(tmp_path, capsys):
    assert main(["verify", "--claims", "C99", "--no-progress"]) == 2
    assert "unknown claim" in capsys.readouterr().err
    assert main(["verify", "--problem", str(tmp_path / "missing.npz"), "--no-progress"]) == 2
    assert "--problem" in capsys.readouterr().err
    p = generate("sparse_positive", 6, 3, 0).save(tmp_path / "p.npz")
    assert main(["verify", "--problem", str(p), "--L", "1", "--no-progress"]) == 2
    assert main(["verify", "--quick", "--full"]) == 2  # argparse's own errors are returned too
    assert "not allowed with" in capsys.readouterr().err


def test_problem_file_with_solve_options(tmp_path):
    p = generate("sparse_signed", 6, 3, 1, model="signed").save(tmp_path / "p.npz")
    out = tmp_path / "r.json"
    rc = main(["verify", "--problem", str(p), "--claims", "C2,C6", "--L", "3", "--r0", "0.8",
               "--eta-r", "1.0", "--json", str(out), "--no-progress"])
    doc = json.loads(out.read_text())
    assert rc == 0
    assert {r["claim"] for r in doc["rows"]} == {"C2", "C6"}
    for r in doc["rows"]:
        assert r["settings"]["config"]["L"] == 3 and r["settings"]["config"]["r0"] == 0.8
        assert r["settings"]["problem"]["model"] == "signed"
        assert r["setting"].startswith("p.npz")


def test_report_writes_markdown_and_figures(tmp_path):
    d = tmp_path / "rep"
    rc = main(["verify", "--quick", "--claims", "C3,C8,C10", "--report", str(d), "--no-progress"])
    assert rc == 0
    md = (d / "report.md").read_text()
    assert "| C3 |" in md and "| C8 |" in md and "## Figures" in md
    for png in ("loss.png", "gd_drift.png", "invariant.png"):
        assert (d / png).stat().st_size > 1000, png
        assert png in md
    assert json.loads((d / "rows.json").read_text())["rows"]


# -- --certify (issue 14; docs/certify.md) -------------------------------------------------------
def test_certify_adds_certified_rows_a_certificate_column_and_json_balls(tmp_path, capsys):
    from numerics import _certify as C
    from numerics._limit import limit_solve
    from wnbias.claims import limits

    out = tmp_path / "rows.json"
    rc = main(["verify", "--quick", "--claims", "C6", "--certify", "--json", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "certificate" in text and "CERTIFIED" in text and "gap ≤ bound" in text
    assert "CERTIFIED, " in text.splitlines()[-1] and "FAIL certified" in text.splitlines()[-1]
    doc = json.loads(out.read_text())
    assert doc["meta"]["certify"] is True
    assert doc["summary"]["CERTIFIED"] >= 1 and doc["summary"]["FAIL"] == 0
    certified = [r for r in doc["rows"] if r["verdict"] == "CERTIFIED"]
    assert certified and all(r["claim"] == "C6" for r in certified)
    case = limits.cases_c6("quick")[0]
    lim = limit_solve(case.problem, case.config, dps=limits.CERT_DPS)
    row = next(r for r in certified if r["setting"].startswith(case.label))
    with C._precision(400):
        ball = C.ball_from_json(row["certificate"]["balls"]["r"])
        assert ball.contains(C.to_arb(lim.r_inf))
    assert isinstance(row["certificate"]["balls"]["gap"]["mid"], str)


def test_a_certified_fail_counts_as_a_fail():
    from wnbias import report
    from wnbias.claims.registry import CERTIFIED, apply_certificate
    from wnbias.commands.verify import exit_status

    base = Row("C6", "", 1.0, 2.0, "PASS", "n")
    ok = apply_certificate(base, {"decision": "certified", "complete": True, "proven": "p", "short": "gap ≤ bound"})
    bad = apply_certificate(base, {"decision": "certified_fail", "complete": True, "proven": "q", "short": "gap > bound"})
    assert ok.verdict == CERTIFIED and exit_status([ok]) == 0
    assert bad.verdict == "FAIL" and exit_status([ok, bad]) == 1
    assert report.summary_line([ok, bad]) == "1 CERTIFIED, 0 PASS, 1 FAIL, 0 SKIP (1 FAIL certified)"
    assert report.document([ok, bad])["summary"] == {"CERTIFIED": 1, "PASS": 0, "FAIL": 1, "SKIP": 0,
                                                     "FAIL_certified": 1}
    assert report.certificate_cell(bad.certificate).startswith("certified FAIL")
    # without certificates the summary keeps its old form
    assert report.summary_line([base]) == "1 PASS, 0 FAIL, 0 SKIP"


def test_certify_without_a_certifiable_claim_is_bad_input(capsys):
    assert main(["verify", "--quick", "--claims", "C1", "--certify", "--no-progress"]) == 2
    assert "--certify" in capsys.readouterr().err


def test_verify_function_returns_the_rows_of_the_command():
    """The plain function behind ``wnbias verify`` (re-exported as ``wnbias.verify``)."""
    from wnbias.commands.verify import VerifyResult, verify

    res = verify(["C1", "C10"], level="quick")
    assert isinstance(res, VerifyResult) and res.claims == ("C1", "C10")
    assert res.rows and {r.claim for r in res.rows} == {"C1", "C10"}
    assert res.ok and res.exit_status() == 0 and res.summary() == f"{len(res.rows)} PASS, 0 FAIL, 0 SKIP"
    assert res.to_dict()["rows"][0]["claim"] == "C1"
    prob = generate("sparse_positive", 6, 3, 0)
    one = verify("C1", problem=prob)
    assert len(one.rows) == 1 and one.level == "problem" and one.rows[0].verdict == "PASS"
    for bad in (dict(claims="C99"), dict(claims=",,"), dict(dps=10), dict(level="huge"), dict(model="tensor")):
        with pytest.raises(ValueError):
            verify(**bad)


def test_verify_function_fails_as_a_row_not_an_exception(monkeypatch):
    from wnbias.commands.verify import verify

    def check(problem, config, dps, **kw):
        return Row("CF", "", 2.0, 1.0, FAIL, "planted failure")

    registry.all_claims()
    monkeypatch.setitem(registry._REGISTRY, "CF", Claim("CF", "a failing claim", "1 \\le 0", "§0", check,
                                                        lambda level: [Case("none", None, None, None)], "none"))
    res = verify("CF")
    assert not res.ok and res.exit_status() == 1 and res.counts["FAIL"] == 1
