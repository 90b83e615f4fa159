"""`wnbias verify`: the table, JSON, report, selection, --problem, and the exit status."""

from __future__ import annotations

import json

import pytest

from numerics.problem import generate
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
    with pytest.raises(SystemExit) as e:
        main(["verify", "--quick", "--full"])
    assert e.value.code == 2


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
