"""Faults and bad input at the command line (issues 12, 13, 19): each test names one defect.

Every case ends in a clear answer with the exit status of README.md ("Exit status"): 0 / 1 as
the work earned, 2 bad input (a message naming the argument, no traceback), 3 could not run
(the module named; results that could not be written go to stdout).  The problems are tiny and
the claims are stand-ins where the claim itself is not what is tested, so these tests run in
seconds and do not depend on the numerics of the built-in claims.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from numerics._problem import generate
from wnbias.claims import registry
from wnbias.claims.registry import PASS, SKIP, Case, Claim, Row
from wnbias.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--generate", "sparse_positive", "--N", "8", "--M", "3", "--seed", "1", "--eta-r", "0.5", "--no-progress"]
HANG_GUARD_S = 600  # a generous bound for a subprocess, not a timing assertion


def _env(**extra):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def _wnbias(args, cwd=None, **env):
    return subprocess.run([sys.executable, "-m", "wnbias", *args], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, cwd=cwd, env=_env(**env))


# -- stand-in claims ----------------------------------------------------------------------------

CALLS = []


def _fake(claim_id, verdict=PASS, check=None):
    def default(problem, config, dps, **kw):
        CALLS.append(claim_id)
        return Row(claim_id, "", 0.0, 1.0, verdict, f"planted {verdict}")

    problem = generate("sparse_positive", 6, 3, 0)
    return Claim(claim_id, f"a planted {verdict}", "0 \\le 1", "§0", check or default,
                 lambda level: [Case("planted", problem, None, None)], "none")


@pytest.fixture
def fake_claims(monkeypatch):
    registry.all_claims()  # the real ones first
    CALLS.clear()

    def add(claim):
        monkeypatch.setitem(registry._REGISTRY, claim.id, claim)
        return claim

    return add


def _readonly_dir(tmp_path) -> Path:
    """A folder nobody here can write into (chmod; as root, a read-only kernel folder)."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    for cand in ("/sys", "/proc/sys"):
        try:
            fd, probe = tempfile.mkstemp(dir=cand)
        except OSError:
            return Path(cand)
        os.close(fd)
        os.unlink(probe)
    pytest.skip("no read-only folder is available to root on this machine")


# -- A. exit statuses hold with a closed pipe, an ASCII terminal, a broken command module -------


def test_closed_stdout_pipe_is_not_an_error():
    """`wnbias solve … | head -1` exited 1 with a BrokenPipeError traceback; now: the status earned."""
    p = subprocess.Popen([sys.executable, "-m", "wnbias", "solve", *SMALL], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=_env(), text=True)
    p.stdout.close()  # no reader from the start: every write meets EPIPE
    _, err = p.communicate(timeout=HANG_GUARD_S)
    assert p.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize("args", [["solve", *SMALL], ["derive", "--L", "2"]], ids=["solve", "derive"])
def test_ascii_terminal(args):
    """With PYTHONIOENCODING=ascii, solve and derive died with UnicodeEncodeError after computing."""
    r = _wnbias(args, PYTHONIOENCODING="ascii")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "UnicodeEncodeError" not in r.stderr and "Traceback" not in r.stderr
    assert r.stdout.strip()


def test_command_module_that_fails_to_import_is_not_dropped(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wnbias.commands.derive", None)  # importing it now fails
    assert "unavailable" in build_parser().format_help()
    rc = main(["derive"])
    err = capsys.readouterr().err
    assert rc == 3 and "wnbias.commands.derive" in err, err
    # every other command still runs, and says on stderr which command module is broken
    rc = main(["verify", "--claims", "C1", "--help"])
    err = capsys.readouterr().err
    assert rc == 0 and "warning: the command module wnbias.commands.derive could not be loaded" in err, err


# -- B. verify ------------------------------------------------------------------------------------


def test_summary_counts_skips_and_strict_fails_on_them(fake_claims, capsys):
    fake_claims(_fake("CQ1", PASS))
    fake_claims(_fake("CQ2", SKIP))
    assert main(["verify", "--claims", "CQ1,CQ2", "--no-progress"]) == 0
    assert "1 PASS, 0 FAIL, 1 SKIP" in capsys.readouterr().out
    assert main(["verify", "--claims", "CQ1,CQ2", "--no-progress", "--strict"]) == 1
    assert "1 PASS, 0 FAIL, 1 SKIP" in capsys.readouterr().out
    assert main(["verify", "--claims", "CQ1", "--no-progress", "--strict"]) == 0


def test_missing_machinery_exits_3_naming_the_module(fake_claims, capsys):
    def check(problem, config, dps, **kw):
        registry.need("numerics.no_such_module_for_this_test", "f")
        raise AssertionError("not reached")

    fake_claims(_fake("CQ3", check=check))
    rc = main(["verify", "--claims", "CQ3", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 3, err
    assert "numerics.no_such_module_for_this_test" in err


def _doc_plugin() -> str:
    text = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```py\n(.*?)^```", text, flags=re.S | re.M)
    mods = [b for b in blocks if b.lstrip().startswith('"""my_claims.py')]
    assert len(mods) == 1, "docs/extending.md must hold the my_claims.py example"
    cmd = re.search(r"^wnbias verify --plugin my_claims[^\n]*$", text, flags=re.M)
    assert cmd, "docs/extending.md must show the command that runs the example"
    return mods[0], cmd.group(0).split()[1:]


def test_plugin_example_of_the_docs_runs(tmp_path):
    """The worked example of docs/extending.md, as written: the module, then the command."""
    module, args = _doc_plugin()
    (tmp_path / "my_claims.py").write_text(module, encoding="utf-8")
    r = _wnbias([*args, "--no-progress", "--json", "rows.json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 PASS, 0 FAIL, 0 SKIP" in r.stdout
    doc = json.loads((tmp_path / "rows.json").read_text())
    assert {row["claim"] for row in doc["rows"]} == {"U1"} and doc["meta"]["plugins"] == ["my_claims"]
    assert doc["summary"] == {"PASS": 2, "FAIL": 0, "SKIP": 0}
    # the table (η̃ in every setting) on an ASCII terminal: escapes, not UnicodeEncodeError
    r = _wnbias([*args, "--no-progress"], cwd=tmp_path, PYTHONIOENCODING="ascii")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "2 PASS, 0 FAIL, 0 SKIP" in r.stdout


def test_plugin_that_cannot_be_found_exits_2(capsys):
    assert main(["verify", "--plugin", "no_such_plugin_module_here", "--no-progress"]) == 2
    assert "--plugin no_such_plugin_module_here" in capsys.readouterr().err


@pytest.mark.parametrize("args, match", [
    (["--claims", ",,,"], "--claims"),
    (["--L", "3", "--quick", "--claims", "C10"], "--L"),
    (["--eta-r", "0.2", "--quick", "--claims", "C10"], "--eta-r"),
    (["--dps", "5", "--quick", "--claims", "C10"], "--dps"),
], ids=["empty-claims", "L-without-problem", "eta-without-problem", "dps-below-minimum"])
def test_verify_refuses_what_it_would_ignore(args, match, capsys, fake_claims):
    rc = main(["verify", "--no-progress", *args])
    err = capsys.readouterr().err
    assert rc == 2 and match in err, err
    assert "Traceback" not in err


def test_dps_minimum_is_the_integrators(capsys):
    try:
        from numerics._taylor import MIN_DPS
    except ImportError:
        MIN_DPS = 16
    assert main(["verify", "--no-progress", "--dps", str(MIN_DPS - 1), "--claims", "C10"]) == 2
    assert str(MIN_DPS) in capsys.readouterr().err


def _outputs(tmp_path):
    d = tmp_path / "outs"
    d.mkdir()
    (d / "a_file").write_text("x")
    return d


@pytest.mark.parametrize("opt, target", [
    ("--json", "{d}"),                      # a directory where a file is expected
    ("--json", "{d}/missing/rows.json"),    # a missing parent
    ("--json", "{d}/a_file/rows.json"),     # a parent that is a file
    ("--report", "{d}/a_file"),             # an existing file where a directory is expected
    ("--json", "{ro}/rows.json"),           # a read-only folder
    ("--report", "{ro}"),
], ids=["json-dir", "json-missing-parent", "json-parent-file", "report-file", "json-readonly", "report-readonly"])
def test_verify_outputs_checked_before_the_work(tmp_path, capsys, fake_claims, opt, target):
    fake_claims(_fake("CQ4"))
    d = _outputs(tmp_path)
    path = target.format(d=d, ro=_readonly_dir(tmp_path) if "{ro}" in target else "")
    rc = main(["verify", "--claims", "CQ4", "--no-progress", opt, path])
    err = capsys.readouterr().err
    assert rc == 2 and opt in err, err
    assert CALLS == [], "the work ran before the output was checked"


def test_verify_failed_write_prints_results_and_exits_3(tmp_path, capsys, fake_claims, monkeypatch):
    from wnbias import report

    fake_claims(_fake("CQ5"))

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_json", broken)
    rc = main(["verify", "--claims", "CQ5", "--no-progress", "--json", str(tmp_path / "rows.json")])
    cap = capsys.readouterr()
    assert rc == 3 and "No space left" in cap.err
    doc = json.loads(cap.out[cap.out.index("{"):])
    assert [r["claim"] for r in doc["rows"]] == ["CQ5"]


def test_verify_json_dash_is_stdout(tmp_path, capsys, fake_claims, monkeypatch):
    fake_claims(_fake("CQ6"))
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--claims", "CQ6", "--no-progress", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)  # only the JSON: the table went to stderr
    assert doc["rows"][0]["claim"] == "CQ6"
    assert not (tmp_path / "-").exists()


def test_verify_problem_parameters_kept_exactly(tmp_path, capsys, fake_claims):
    fake_claims(_fake("CQ7"))
    p = generate("sparse_positive", 6, 3, 0).save(tmp_path / "p.npz")
    r0 = "1.00000000000000000000000000000000000000000000000000000000001"
    out = tmp_path / "rows.json"
    assert main(["verify", "--problem", str(p), "--claims", "CQ7", "--r0", r0, "--eta-r", "0.1",
                 "--no-progress", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["meta"]["parameters_exact"]["r0"] == r0 and doc["meta"]["parameters_exact"]["eta_r"] == "0.1"
    assert doc["rows"][0]["settings"]["config"]["exact"]["r0"] == r0


# -- problem files: exit 2 with the file named, in solve and in verify ---------------------------


def _bad_files(d: Path):
    p = generate("sparse_positive", 6, 3, 0)
    good = p.save(d / "good.npz")
    data = good.read_bytes()
    (d / "truncated.npz").write_bytes(data[: len(data) // 2])
    np.save(d / "A.npy", p.A)
    (d / "text.npz").write_text("A = [[1, 2]]\ny = [3]\n")
    return {"truncated": d / "truncated.npz", "npy": d / "A.npy", "text": d / "text.npz"}


@pytest.mark.parametrize("command", ["solve", "verify"])
@pytest.mark.parametrize("kind", ["truncated", "npy", "text"])
def test_bad_problem_file_exits_2_naming_it(tmp_path, capsys, command, kind):
    path = _bad_files(tmp_path)[kind]
    extra = ["--claims", "C10"] if command == "verify" else []
    rc = main([command, "--problem", str(path), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "--problem" in err and path.name in err and "Traceback" not in err
    if kind == "npy":
        assert ".npy" in err and "--A" in err or "not a problem" in err
    if kind == "text":  # a plain-text file was misreported as "holds pickled objects"
        assert "pickle" not in err, err


def test_verify_problem_npy_message(tmp_path, capsys):
    path = _bad_files(tmp_path)["npy"]
    assert main(["verify", "--problem", str(path), "--no-progress"]) == 2
    assert "single .npy array" in capsys.readouterr().err


# -- C. solve ----------------------------------------------------------------------------------


def _spy(monkeypatch):
    """Record the keyword arguments each solver is called with (the solvers still run)."""
    import numerics
    import numerics._flow64
    import numerics._limit
    import numerics._taylor

    seen = {}
    # each engine under the name numerics.integrate finds it by (the newer name first)
    engines = ((numerics._flow64, ("integrate64",), "flow64"),
               (numerics._taylor, ("integrate_taylor",), "taylor"),
               (numerics._limit, ("limit_solve",), "limit_solve"))
    for mod, names, key in engines:
        name = next(n for n in names if hasattr(mod, n))
        real = getattr(mod, name)

        def wrapper(*a, _real=real, _key=key, **kw):
            seen.setdefault(_key, []).append(kw)
            return _real(*a, **kw)

        wrapper.__signature__ = __import__("inspect").signature(real)
        monkeypatch.setattr(mod, name, wrapper)
        if key == "limit_solve":  # solve calls it by its public name, numerics.limit_solve
            monkeypatch.setattr(numerics, "limit_solve", wrapper, raising=False)
    return seen


def test_budget_and_loss_tol_reach_every_integrator(tmp_path, monkeypatch):
    """`solve --dps 10000 --time-limit 5` ignored --time-limit: the Taylor run got no time_limit=."""
    seen = _spy(monkeypatch)
    out = tmp_path / "o.json"
    main(["solve", *SMALL, "--dps", "20", "--t-max", "0.5", "--time-limit", "30", "--loss-tol", "1e-30",
          "--json", str(out)])
    for name in ("flow64", "taylor"):
        (kw,) = seen[name]
        assert 0 < kw["time_limit"] <= 30, (name, kw)
        assert kw["loss_tol"] == 1e-30, (name, kw)
    seen.clear()
    main(["solve", *SMALL, "--limit", "--time-limit", "30", "--json", str(out)])
    assert 0 < seen["limit_solve"][0]["time_limit"] <= 30


def test_time_limit_bounds_a_huge_dps_run(tmp_path):
    """A hang guard (not a timing test): with --time-limit the 10000-digit run ends with time_limit."""
    out = tmp_path / "o.json"
    r = _wnbias(["solve", "--generate", "sparse_positive", "--N", "5", "--M", "2", "--no-progress",
                 "--dps", "10000", "--time-limit", "5", "--json", str(out)])
    assert r.returncode == 1, r.stderr[-2000:]
    d = json.loads(out.read_text())
    assert d["high_precision"]["status"] == "time_limit"


def test_limit_mode_the_limit_is_the_product(tmp_path, monkeypatch):
    """In --limit --dps mode the Taylor flow ran to t_max = 1e6 (15 minutes on 100×40); the
    top-level numbers were the float64 run's."""
    seen = _spy(monkeypatch)
    out = tmp_path / "o.json"
    rc = main(["solve", *SMALL, "--limit", "--dps", "30", "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 0 and d["product"] == "limit_solver" and d["dps"] == 30
    assert d["r_inf"] == d["limit_solver"]["r_inf"] and isinstance(d["r_inf"], str)
    assert len(d["r_inf"].replace(".", "")) >= 28
    assert "30 decimal digits" in d["precision"] and d["limit_solver"]["role"] == "product"
    assert d["flow64"]["role"] == "cross-check" and d["flow64"]["precision"].startswith("float64")
    assert d["high_precision"]["role"] == "cross-check" and d["high_precision"]["dps"] == 30
    assert seen["taylor"][0]["t_max"] == d["high_precision"]["t_max"] <= 1.0
    assert seen["limit_solve"][0]["dps"] == 30


def test_exact_parameter_round_trip_at_60_digits(tmp_path, capsys):
    """Issue 19: a parameter string survives CLI → config → result → JSON digit for digit."""
    r0 = "1.00000000000000000000000000000000000000000000000000000000001"
    out = tmp_path / "o.json"
    rc = main(["solve", *SMALL, "--limit", "--dps", "60", "--r0", r0, "--eta-r", "0.1", "--t-max", "0.01",
               "--json", str(out)])
    text = capsys.readouterr().out
    d = json.loads(out.read_text())
    assert rc == 0, d["message"]
    assert d["parameters_exact"]["r0"] == r0 and d["parameters_exact"]["eta_r"] == "0.1"
    assert d["parameters"]["config"]["exact"]["r0"] == r0
    assert d["limit_solver"]["params"]["r0"] == r0 and d["limit_solver"]["params"]["eta_r"] == "0.1"
    assert f"r0={r0}" in text and "eta_r=0.1" in text  # the table states them too


def test_python_float_is_the_double(tmp_path):
    """The same --eta-r from Python as a float is reported as the double it is (issue 19)."""
    from numerics._config import FlowConfig

    exact = FlowConfig(eta_r=0.1).exact_strings()["eta_r"]
    assert exact.startswith("0.1000000000000000055511151231257827")


def test_json_into_a_missing_directory_is_caught_before_the_run(tmp_path, monkeypatch, capsys):
    import numerics._flow64

    def must_not_run(*a, **k):
        raise AssertionError("integrated before checking --json")

    monkeypatch.setattr(numerics._flow64, "integrate64", must_not_run)
    rc = main(["solve", *SMALL, "--json", str(tmp_path / "missing" / "o.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "--json" in err and "does not exist" in err


def test_solve_failed_write_prints_json_and_exits_3(tmp_path, monkeypatch, capsys):
    import wnbias.io

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wnbias.io, "write_json", broken)  # solve writes its JSON through wnbias.io
    rc = main(["solve", *SMALL, "--json", str(tmp_path / "o.json")])
    cap = capsys.readouterr()
    assert rc == 3 and "No space left" in cap.err
    assert json.loads(cap.out[cap.out.index("\n{") + 1:])["status"] == "converged"


def test_solve_json_dash_is_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["solve", *SMALL, "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "converged"
    assert not (tmp_path / "-").exists()


def test_one_dimensional_A_blames_A(tmp_path, capsys):
    np.save(tmp_path / "A_1d.npy", np.ones(4))
    np.save(tmp_path / "y.npy", np.ones(4))
    rc = main(["solve", "--A", str(tmp_path / "A_1d.npy"), "--y", str(tmp_path / "y.npy"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "--A" in err and "--y:" not in err, err


def test_huge_generate_refused_before_allocating(capsys):
    rc = main(["solve", "--generate", "sparse_positive", "--N", "10000000", "--M", "1000000", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "--N" in err and "GiB" in err and "Traceback" not in err


def test_advice_names_only_cli_options():
    from wnbias.commands.solve import cli_advice

    for msg in ("the BDF solver failed at t = 3: step too small; try a smaller rtol or method='Radau'",
                "not converged after 100 iterations; try a larger max_iter",
                "the starting dual point is outside the domain; start from nu0 = 0",
                "not converged at t = 1; try a larger t_max / max_steps, or the limit solver (--limit)"):
        out = cli_advice(msg)
        for knob in ("method=", "Radau", "max_iter", "max_steps", "nu0"):
            assert knob not in out, (msg, out)
    assert "--rtol" in cli_advice("failed; try a smaller rtol or method='Radau'")
    assert "--t-max" in cli_advice("not converged; try a larger t_max / max_steps")
    # the limit solver's "pass dps=" is the option --dps on the command line
    assert cli_advice("float64 cannot resolve φ; pass dps= to solve at higher precision").endswith(
        "pass --dps to solve at higher precision")
    assert "--dps 30" in cli_advice("use dps=30 or a larger t_max")


def test_not_converged_advice_in_solve_output(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["solve", *SMALL, "--L", "3", "--t-max", "1", "--json", str(out)]) == 1
    text = capsys.readouterr().out + json.loads(out.read_text())["message"]
    for knob in ("method=", "max_iter", "max_steps", "nu0"):
        assert knob not in text


def test_zero_y_is_trivial(tmp_path, capsys):
    np.save(tmp_path / "A.npy", generate("sparse_positive", 6, 3, 0).A)
    np.save(tmp_path / "y.npy", np.zeros(3))
    out = tmp_path / "o.json"
    rc = main(["solve", "--A", str(tmp_path / "A.npy"), "--y", str(tmp_path / "y.npy"), "--no-progress",
               "--limit", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and json.loads(out.read_text())["status"] == "trivial"
    assert "trivial" in text and "t_max" not in text and "--t-max" not in text


def test_solve_dps_below_minimum_refused(capsys):
    assert main(["solve", *SMALL, "--dps", "5"]) == 2
    assert "--dps" in capsys.readouterr().err


# -- D. reproduce ------------------------------------------------------------------------------


class _FakeExperiment:
    def __init__(self):
        self.runs = 0

    def settings(self, quick, seeds):
        return {"quick": quick}

    def work_units(self, s):
        return 1

    def run(self, out, *, quick, seeds, tick):
        self.runs += 1
        raise RuntimeError("stand-in experiment: not a real run")


def test_reproduce_name_twice_runs_once(tmp_path, monkeypatch, capsys):
    import wnbias.experiments as X

    fake = _FakeExperiment()
    monkeypatch.setattr(X, "get_experiment", lambda name: fake)
    name = X.EXPERIMENT_NAMES[0]
    main(["reproduce", name, name, "--out", str(tmp_path / "r"), "--no-progress"])
    assert fake.runs == 1
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert [e["name"] for e in manifest["experiments"]] == [name]


def test_reproduce_out_checked_before_the_work(tmp_path, monkeypatch, capsys):
    import wnbias.experiments as X

    fake = _FakeExperiment()
    monkeypatch.setattr(X, "get_experiment", lambda name: fake)
    name = X.EXPERIMENT_NAMES[0]
    (tmp_path / "a_file").write_text("x")
    for out in (_readonly_dir(tmp_path), tmp_path / "a_file"):
        rc = main(["reproduce", name, "--out", str(out), "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2 and "--out" in err and "Traceback" not in err, err
    assert fake.runs == 0


def test_cli_eta_r_is_one_tenth_not_the_double(tmp_path):
    """Issue 19: `--eta-r 0.1 --limit --dps 40` solves for η_r = 1/10; FlowConfig(eta_r=0.1) (a
    Python float) for the double nearest it, and the two answers differ in the digits reported."""
    from numerics._config import FlowConfig
    from numerics._limit import limit_solve
    from numerics._problem import Problem

    out = tmp_path / "o.json"
    rc = main(["solve", *SMALL[:-3], "--eta-r", "0.1", "--limit", "--dps", "40", "--t-max", "0.01",
               "--no-progress", "--save-problem", str(tmp_path / "p.npz"), "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 0, d["message"]
    problem = Problem.load(tmp_path / "p.npz")
    tenth = limit_solve(problem, FlowConfig(eta_r="0.1"), dps=40)
    double = limit_solve(problem, FlowConfig(eta_r=0.1), dps=40)
    assert d["r_inf"] == tenth.to_dict()["r_inf"]
    assert d["r_inf"] != double.to_dict()["r_inf"]
    assert d["parameters_exact"]["eta_r"] == "0.1"
    assert double.params["eta_r"].startswith("0.1000000000000000055511151231257827")


@pytest.mark.parametrize("command", ["solve", "verify"])
@pytest.mark.parametrize("scale", ["A-tiny", "both-huge", "columns-apart"])
def test_badly_scaled_problem_is_refused_with_what_to_rescale(tmp_path, capsys, command, scale):
    """A problem float64 cannot handle faithfully is refused at the door (exit 2, what to rescale),
    instead of a misdiagnosis ("inconsistent"), a noise-floor status or an endless run."""
    import dataclasses

    p = generate("sparse_positive", 20, 8, 1)
    if scale == "A-tiny":
        p = dataclasses.replace(p, A=p.A * 1e-150, x_true=None)
    elif scale == "both-huge":
        p = dataclasses.replace(p, A=p.A * 1e150, y=p.y * 1e150)
    else:
        A = p.A.copy()
        A[:, 0] *= 1e-120
        A[:, 1] *= 1e120
        p = dataclasses.replace(p, A=A, y=A @ p.x_true)
    path = tmp_path / "p.npz"
    p.save(path)
    args = ["solve", "--problem", str(path), "--limit"] if command == "solve" else \
        ["verify", "--problem", str(path), "--claims", "C1"]
    rc = main([*args, "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "badly scaled" in err and "rescale" in err and "Traceback" not in err
