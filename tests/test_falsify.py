"""`wnbias falsify`: planted wrong variants are found (at every seed 0–4 with the default budget)
and shrunk; the true claims are not; exit codes; properties registered from a plugin."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from numerics._config import FlowConfig  # noqa: E402
from numerics._problem import Problem  # noqa: E402
from wnbias.claims import properties as props  # noqa: E402
from wnbias.claims.properties import PROPERTIES, Outcome, evaluate, get_property, register_property  # noqa: E402
from wnbias.cli import build_parser, main  # noqa: E402
from wnbias.commands import falsify  # noqa: E402

PLANTED = ("C6:half-L2", "C6:half-Lgt2", "C6:alpha-L-1", "C6:false-L2", "C6:no-n-factor",
           "C3:wrong-sign-s", "C5:no-rho")
"""The planted wrong bounds of issue 12 (the four C6 variants of the issue and the three older ones)."""


def _default_max_examples() -> int:
    args = build_parser().parse_args(["falsify", "C6"])
    return args.max_examples


def _counterexample(tmp_path, pid):
    stem = pid.replace(":", "_") + "-counterexample"
    problem = Problem.load(tmp_path / f"{stem}.npz")
    side = json.loads((tmp_path / f"{stem}.json").read_text())
    ex = side["config"].get("exact", {})
    cfg = {k: ex.get(k, side["config"][k]) for k in ("r0", "eta_r", "eta_u")}
    return problem, FlowConfig(L=side["config"]["L"], rates=side["config"]["rates"], **cfg), side


# -- the default budget finds every planted variant, at every seed ----------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("pid", PLANTED)
def test_default_budget_finds_planted_variant(pid, seed):
    prop = get_property(pid)
    assert prop.planted
    ex, out, stats = falsify.search(prop, max_examples=_default_max_examples(), seed=seed, shrink_time=0)
    assert ex is not None, f"{pid} not found at seed {seed} in the default budget: {stats}"
    assert out.ok is False and stats["found_at"] <= _default_max_examples()
    # the same example satisfies the true claim (or the claim's assumption fails there)
    assert evaluate(PROPERTIES[prop.claim], *ex).ok in (True, None)


@pytest.mark.parametrize("pid", ["C6:no-n-factor", "C6:half-L2", "C3:wrong-sign-s", "C5:no-rho"])
def test_planted_variant_is_found_shrunk_and_saved(tmp_path, capsys, pid):
    rc = main(["falsify", pid, "--seed", "0", "--shrink-time", "10", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1, out
    assert f"counterexample to {pid}" in out
    problem, config, side = _counterexample(tmp_path, pid)
    assert problem.M <= 2 and problem.N <= 4  # small: tight draws have N ≤ 4, shrinking only reduces
    assert side["measured"] > side["bound"]
    prop = get_property(pid)
    assert evaluate(prop, problem, config).ok is False  # the saved example reproduces
    assert evaluate(PROPERTIES[prop.claim], problem, config).ok in (True, None)


def test_true_claim_has_no_counterexample(tmp_path, capsys):
    rc = main(["falsify", "C6", "--max-examples", "15", "--seed", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "no counterexample in 15 examples" in out
    assert not list(tmp_path.iterdir())


# -- exit codes --------------------------------------------------------------------------------


def test_list_and_bad_input(capsys):
    assert main(["falsify", "--list"]) == 0
    listing = capsys.readouterr().out
    for pid in PLANTED:
        assert pid in listing
    assert "planted" in listing
    assert main(["falsify", "C42"]) == 2
    assert "no property" in capsys.readouterr().err
    assert main(["falsify", "C6", "--max-examples", "0"]) == 2
    assert "--max-examples" in capsys.readouterr().err


def test_no_claim_is_a_usage_error_with_a_message(capsys):
    assert main(["falsify"]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "claim id is required" in err


def _no_search(*a, **k):
    raise AssertionError("the search must not start")


def test_unwritable_out_is_refused_before_the_search(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(falsify, "search", _no_search)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["falsify", "C6", "--out", str(blocker / "sub")]) == 2
    assert "--out" in capsys.readouterr().err


def test_missing_machinery_exits_3_naming_the_module(tmp_path, capsys, monkeypatch):
    from wnbias.claims.registry import MachineryMissing

    def missing(*a, **k):
        raise MachineryMissing("numerics._limit", "not installed or not built")

    monkeypatch.setattr(falsify, "search", missing)
    assert main(["falsify", "C6", "--out", str(tmp_path)]) == 3
    assert "numerics._limit" in capsys.readouterr().err


def _issue_example():
    """The counterexample of issue 12 to the false L = 2 claim: A = [1, 2], y = 20, r0 = 1, η̃ = 2."""
    return Problem(np.array([[1.0, 2.0]]), np.array([20.0])), FlowConfig(L=2, r0="1", eta_r="2", eta_u=1)


def test_unwritable_result_is_printed_inline_and_exits_3(tmp_path, capsys, monkeypatch):
    prop = get_property("C6:false-L2")
    ex = _issue_example()
    out = evaluate(prop, *ex)
    assert out.ok is False  # the issue's example is a counterexample of the planted claim

    def found(*a, **k):
        return ex, out, {"tried": 1, "not_applicable": 0, "found_at": 1, "time_to_find": 0.0, "shrink_evaluations": 0}

    def cannot_write(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(falsify, "search", found)
    monkeypatch.setattr(Problem, "save", cannot_write)
    rc = main(["falsify", "C6:false-L2", "--out", str(tmp_path)])
    cap = capsys.readouterr()
    assert rc == 3
    assert "could not write" in cap.err
    record = json.loads(cap.out[cap.out.index("{"):])
    assert record["problem"]["A"] == [[1.0, 2.0]] and record["problem"]["y"] == [20.0]
    assert record["config"]["exact"]["r0"] == "1" and record["config"]["exact"]["eta_r"] == "2"
    assert record["measured"] > record["bound"]


# -- registration and plugins ---------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the property registry (a plugin's registrations vanish after the test)."""
    monkeypatch.setattr(props, "PROPERTIES", dict(props.PROPERTIES))
    return props.PROPERTIES


def test_register_property_with_variants(registry):
    def holds(problem, config, variant=""):
        return Outcome(variant != "wrong", 1.0, 0.0, "plugin")

    p = register_property("X1", holds, description="a plugin property", variants={"wrong": "always fails"})
    assert p.id == "X1" and registry["X1"] is p
    v = props.get_property("x1:wrong")
    assert v.planted and v.variant == "wrong" and v.claim == "X1"
    with pytest.raises(ValueError, match="registered twice"):
        register_property("X1", holds)
    with pytest.raises(ValueError):
        register_property("bad:id", holds)
    with pytest.raises(TypeError):
        register_property("X2", None)


PLUGIN = '''
from wnbias.claims.properties import Outcome, register_property

def holds(problem, config, variant=""):
    """y stays finite (true), or a planted wrong statement: 'M > 5'."""
    if variant == "m-large":
        return Outcome(problem.M > 5, problem.M, 5, "M vs 5")
    return Outcome(bool(abs(problem.y).max() < float("inf")), 0.0, 0.0, "finite y")

register_property("PLUG", holds, description="a plugin property", variants={"m-large": "M > 5 (WRONG)"})
'''


def test_plugin_property_runs_in_falsify(tmp_path, capsys, monkeypatch, registry):
    mod = "wnbias_test_plugin_props"
    (tmp_path / f"{mod}.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, mod, raising=False)
    out = tmp_path / "out"
    assert main(["falsify", "--plugin", mod, "PLUG:m-large", "--max-examples", "5", "--out", str(out)]) == 1
    assert "counterexample to PLUG:m-large" in capsys.readouterr().out
    # the true property holds (the module is imported once per process: no second registration)
    assert main(["falsify", "--plugin", mod, "PLUG", "--max-examples", "5", "--out", str(out)]) == 0


def test_missing_plugin_is_a_usage_error(capsys):
    assert main(["falsify", "--plugin", "no_such_module_wnbias_xyz", "C6"]) == 2
    assert "no_such_module_wnbias_xyz" in capsys.readouterr().err


def test_property_plugin_example_of_the_docs_runs(tmp_path):
    """The worked property plugin of docs/extending.md, as written, through the real command line
    from the folder that holds it: the true property holds (exit 0), the planted one is found,
    shrunk and saved (exit 1)."""
    import re
    import subprocess
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```py\n(.*?)^```", text, flags=re.S | re.M)
              if b.lstrip().startswith('"""my_props.py')]
    assert len(blocks) == 1, "docs/extending.md must hold the my_props.py example"
    cmd = re.search(r"^wnbias falsify --plugin my_props U2:half[^\n]*$", text, flags=re.M)
    assert cmd, "docs/extending.md must show the command that finds the planted variant"
    (tmp_path / "my_props.py").write_text(blocks[0], encoding="utf-8")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "wnbias", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)

    r = run("falsify", "--plugin", "my_props", "U2", "--max-examples", "10", "--seed", "0")
    assert r.returncode == 0 and "no counterexample in 10 examples" in r.stdout, r.stdout + r.stderr
    r = run(*cmd.group(0).split()[1:], "--out", "found")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "counterexample to U2:half" in r.stdout
    saved = sorted(p.name for p in (tmp_path / "found").iterdir())
    assert saved == ["U2_half-counterexample.json", "U2_half-counterexample.npz"]
    Problem.load(tmp_path / "found" / "U2_half-counterexample.npz")
