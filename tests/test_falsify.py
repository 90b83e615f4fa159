"""`wnbias falsify`: planted wrong variants are found and shrunk; the true claims are not."""

from __future__ import annotations

import json

import pytest

from numerics.config import FlowConfig
from numerics.problem import Problem
from wnbias.claims.properties import PROPERTIES, evaluate, get_property
from wnbias.cli import main

pytest.importorskip("hypothesis")


def _counterexample(tmp_path, pid):
    stem = pid.replace(":", "_") + "-counterexample"
    problem = Problem.load(tmp_path / f"{stem}.npz")
    side = json.loads((tmp_path / f"{stem}.json").read_text())
    cfg = {k: side["config"][k] for k in ("L", "r0", "eta_r", "eta_u", "rates")}
    return problem, FlowConfig(**cfg), side


@pytest.mark.parametrize("pid", ["C6:no-n-factor", "C3:wrong-sign-s", "C5:no-rho"])
def test_planted_variant_is_found_shrunk_and_saved(tmp_path, capsys, pid):
    rc = main(["falsify", pid, "--max-examples", "40", "--seed", "0", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1, out
    assert f"counterexample to {pid}" in out
    problem, config, side = _counterexample(tmp_path, pid)
    # shrunk: hypothesis minimises N and M (the smallest draws are N = 2–3, M = 1)
    assert problem.M == 1 and problem.N <= 4
    assert side["measured"] > side["bound"]
    # the saved example really is a counterexample of the planted variant...
    prop = get_property(pid)
    assert evaluate(prop, problem, config).ok is False
    # ...and not of the true claim
    true_prop = PROPERTIES[prop.claim]
    assert evaluate(true_prop, problem, config).ok in (True, None)


def test_true_claim_has_no_counterexample(tmp_path, capsys):
    rc = main(["falsify", "C6", "--max-examples", "25", "--seed", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "no counterexample in 25 examples" in out
    assert not list(tmp_path.iterdir())


def test_list_and_bad_input(capsys):
    assert main(["falsify", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "C6:no-n-factor" in listing and "planted" in listing
    assert main(["falsify", "C42"]) == 2
    assert "no property" in capsys.readouterr().err
    assert main(["falsify", "C6", "--max-examples", "0"]) == 2
