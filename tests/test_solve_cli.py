"""``wnbias solve``: a converged run end to end, honest statuses, and every bad input → exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from numerics import generate
from wnbias.cli import main

SMALL = ["--generate", "sparse_positive", "--N", "12", "--M", "5", "--seed", "1", "--no-progress"]


def test_converged_run_reports_everything(tmp_path, capsys):
    out = tmp_path / "o.json"
    rc = main(["solve", *SMALL, "--L", "2", "--r0", "1", "--eta-r", "0.5", "--eta-u", "1", "--json", str(out),
               "--save-problem", str(tmp_path / "p.npz")])
    d = json.loads(out.read_text())
    assert rc == 0 and d["status"] == "converged", d["message"]
    for key in ("status", "t_final", "r_final", "r_inf", "rho", "alpha_eff", "loss", "x_inf", "invariant_residual",
                "bregman_mismatch", "l1_opt", "l1_gap", "l1_bound", "magnification", "parameters", "versions",
                "wall_time"):
        assert key in d and d[key] is not None, key
    assert len(d["x_inf"]) == 12
    assert set(d["versions"]) >= {"wnbias", "numpy", "scipy", "mpmath", "backend"}
    assert d["l1_gap_S"] <= d["l1_bound"]
    assert "converged" in capsys.readouterr().out
    # the saved problem reloads and gives the same answer
    rc2 = main(["solve", "--problem", str(tmp_path / "p.npz"), "--eta-r", "0.5", "--no-progress",
                "--json", str(tmp_path / "o2.json")])
    assert rc2 == 0
    assert json.loads((tmp_path / "o2.json").read_text())["r_inf"] == pytest.approx(d["r_inf"], rel=1e-12)


def test_json_blocks_are_the_results_to_dict(tmp_path, capsys):
    """Each block is its result's own to_dict() (named fields, no free-form extras), and the
    analysis of the end point is there only when the flow converged."""
    import numerics

    out = tmp_path / "o.json"
    assert main(["solve", *SMALL, "--eta-r", "0.5", "--time-limit", "60", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    fb = d["flow64"]
    problem = generate("sparse_positive", 12, 5, 1)
    flow = numerics.integrate(problem, numerics.FlowConfig(eta_r="0.5"))
    assert set(flow.to_dict()) <= set(fb)
    assert "extras" not in d and fb["role"] == "product" and fb["dps"] is None
    assert fb["r_final"] == pytest.approx(float(flow.r_final), rel=1e-9)
    assert fb["analysis"]["r_inf"] == d["r_inf"] and fb["analysis"]["l1_bound"] == d["l1_bound"]
    assert d["parameters"]["time_limit"] == 60.0
    out2 = tmp_path / "o2.json"
    assert main(["solve", *SMALL, "--L", "3", "--t-max", "1", "--json", str(out2)]) == 1
    assert json.loads(out2.read_text())["flow64"]["analysis"] is None


def test_progress_line_on_stderr_does_not_disturb_the_result(tmp_path, capsys):
    out = tmp_path / "o.json"
    rc = main(["solve", *SMALL[:-1], "--eta-r", "0.5", "--json", str(out)])  # progress on (rich, stderr)
    err = capsys.readouterr().err
    assert rc == 0 and json.loads(out.read_text())["status"] == "converged"
    assert "Traceback" not in err


def test_not_converged_has_no_limit_fields(tmp_path):
    out = tmp_path / "o.json"
    rc = main(["solve", *SMALL, "--L", "3", "--eta-r", "0.1", "--t-max", "1", "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 1 and d["status"] == "not_converged"
    assert d["r_final"] is not None
    for key in ("r_inf", "rho", "x_inf", "l1_gap", "l1_bound", "bregman_mismatch", "magnification"):
        assert d[key] is None, key


def test_inconsistent_positive(tmp_path):
    A = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 0.5]])
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "y.npy", np.array([-1.0, 1.0]))
    out = tmp_path / "o.json"
    rc = main(["solve", "--A", str(tmp_path / "A.npy"), "--y", str(tmp_path / "y.npy"), "--model", "positive",
               "--no-progress", "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 1 and d["status"] == "inconsistent" and "infeasible" in d["message"].lower()


def test_limit_option(tmp_path):
    out = tmp_path / "o.json"
    rc = main(["solve", *SMALL, "--eta-r", "0.5", "--limit", "--t-max", "1e6", "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 0 and d["limit_solver"]["status"] == "converged" and d["flow64"]["status"] == "converged"
    # two independent routes to r_inf: integration and the scalar equation of docs/math.md §4
    assert abs(d["limit_solver"]["r_inf_flow_minus_solver"]) <= 1e-6 * d["r_inf"]


def test_limit_mode_flows_are_a_short_cross_check_of_each_other(tmp_path, capsys):
    """Issue 16: with --limit the limit solver is the product; both flows only run to a short horizon
    (no 1e6 integration), where the float64 and the Taylor flow are compared at the same time T."""
    from wnbias.commands.solve import CROSS_CHECK_T

    out = tmp_path / "o.json"
    rc = main(["solve", *SMALL, "--eta-r", "0.5", "--limit", "--dps", "20", "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 0 and d["product"] == "limit_solver"
    assert d["flow64"]["t_max"] == d["high_precision"]["t_max"] == CROSS_CHECK_T == d["parameters"]["t_max"]
    assert d["flow64"]["t_final"] == pytest.approx(CROSS_CHECK_T)
    cc = d["cross_check"]
    assert cc["flows_t"] == pytest.approx(CROSS_CHECK_T)
    assert abs(cc["r_flow64_minus_taylor"]) <= 1e-8 * d["flow64"]["r_final"]   # float64 rtol 1e-10, amplified
    assert d["limit_solver"]["r_inf_flow_minus_solver"] is None   # the float64 flow was not run to its limit
    assert "float64 flow − Taylor flow" in capsys.readouterr().out


def _files(tmp_path):
    p = generate("sparse_positive", 8, 3, 0)
    np.save(tmp_path / "A.npy", p.A)
    np.save(tmp_path / "y.npy", p.y)
    np.save(tmp_path / "y_short.npy", p.y[:2])
    np.save(tmp_path / "A_nan.npy", np.where(np.eye(3, 8) > 0, np.nan, p.A))
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "evil.npz", A=np.array([{"a": 1}], dtype=object), y=np.ones(1))
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    return tmp_path


BAD = [
    (["--A", "{d}/A.npy", "--y", "{d}/y_short.npy"], "shape mismatch"),
    (["--A", "{d}/A_nan.npy", "--y", "{d}/y.npy"], "--A"),
    (["--A", "{d}/A.npy"], "--A and --y"),
    (["--A", "{d}/obj.npy", "--y", "{d}/y.npy"], "--A"),
    (["--problem", "{d}/missing.npz"], "--problem"),
    (["--problem", "{d}/evil.npz"], "pickled"),
    (["--problem", "{d}/junk.npz"], "--problem"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--L", "1"], "--L"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--L", "2.5"], "--L"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--L", "__import__('os')"], "--L"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--r0", "0"], "--r0"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--r0", "nan"], "--r0"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--eta-r", "-1"], "--eta-r"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--eta-u", "0"], "--eta-u"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--rates", "fast"], "--rates"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--model", "complex"], "--model"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "8"], "--M"),
    (["--generate", "nope", "--N", "8", "--M", "3"], "--generate"),
    (["--generate", "sparse_positive", "--N", "eight", "--M", "3"], "--N"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--t-max", "inf"], "--t-max"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--dps", "0"], "--dps"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--dps", "15"], "--dps"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--rtol", "1"], "--rtol"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--time-limit", "-1"], "--time-limit"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--seed", "-1"], "--seed"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--matrix", "lattice"], "--matrix"),
    ([], "problem source"),
    (["--generate", "sparse_positive", "--N", "8", "--M", "3", "--problem", "{d}/x.npz"], "problem source"),
]


@pytest.mark.parametrize("args, match", BAD, ids=[m + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_input_exits_2_naming_the_argument(tmp_path, capsys, args, match):
    d = _files(tmp_path)
    rc = main(["solve", "--no-progress", *[a.format(d=d) for a in args]])
    err = capsys.readouterr().err
    assert rc == 2
    assert match in err, err
    assert "Traceback" not in err


def test_console_script_subprocess(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "wnbias", "solve", "--generate", "sparse_positive", "--N", "8",
                        "--M", "3", "--L", "x"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--L" in r.stderr and "Traceback" not in r.stderr


def test_dps_option_dispatches_to_the_mp_integrator(tmp_path):
    pytest.importorskip("numerics._taylor")
    out = tmp_path / "o.json"
    rc = main(["solve", "--generate", "sparse_positive", "--N", "5", "--M", "2", "--eta-r", "0.5", "--t-max", "0.5",
               "--dps", "20", "--no-progress", "--json", str(out)])
    d = json.loads(out.read_text())
    assert rc == 1  # t_max 0.5 is far too short to converge
    hp = d["high_precision"]
    assert hp["dps"] == 20 and hp["status"] == "not_converged"
    assert isinstance(hp["r_final"], str) and len(hp["r_final"].replace(".", "")) >= 18
    # with --dps the result is the 20-digit run's, and says so
    assert d["product"] == "taylor" and d["dps"] == 20 and d["r_final"] == hp["r_final"]
    assert d["flow64"]["role"] == "cross-check" and d["flow64"]["dps"] is None
    # the float64 and the 20-digit trajectories agree to the float64 integration's accuracy
    assert float(hp["r_final"]) == pytest.approx(d["flow64"]["r_final"], rel=1e-8)


def test_io_conversions():
    import mpmath

    from numerics import Status
    from wnbias.io import dumps, mp_str, to_jsonable

    with mpmath.workdps(40):
        third = mpmath.mpf(1) / 3
    assert mp_str(third).startswith("0." + "3" * 38)
    assert to_jsonable({"s": Status.CONVERGED, "a": np.array([1.0, np.inf]), "i": np.int64(3)}) == {
        "s": "converged", "a": [1.0, None], "i": 3}
    assert "NaN" not in dumps({"x": float("nan")})


# -- --limit --certify (issue 14; docs/certify.md) -------------------------------------------------
def test_limit_certify_prints_the_enclosures_and_the_json_balls_contain_the_limit(tmp_path, capsys):
    from numerics import _certify as C

    out = tmp_path / "c.json"
    rc = main(["solve", *SMALL, "--L", "2", "--eta-r", "0.3", "--limit", "--dps", "40", "--certify",
               "--json", str(out)])
    text = capsys.readouterr().out
    d = json.loads(out.read_text())
    assert rc == 0 and d["status"] == "converged"
    assert "certificate: certified" in text and "r_inf ∈" in text and "enclosure radii:" in text
    cb = d["certificate"]
    assert cb["certified"] and cb["uniqueness"] == "unique" and cb["toolkit_inside"] is True
    assert cb["r_digits"] > 35 and len(cb["x_inf"]) == 12
    with C._precision(400):
        r = C.ball_from_json(cb["r"])
        assert r.contains(C.to_arb(cb["toolkit_r"]))  # the limit solver's value, to 45 digits
        # the product's r_inf as printed (rounded to 40 digits) is within a unit of its last digit
        assert r.overlaps(C.to_arb(d["r_inf"]) + C.arb(0, 10.0 ** -39))
        x = [C.ball_from_json(b) for b in cb["x_inf"]]
        assert all(b.contains(C.to_arb(v)) for b, v in zip(x, d["x_inf"]))
        assert C.ball_from_json(cb["l1"]["ball"]).contains(C.to_arb(__import__("fractions").Fraction(cb["l1"]["value"])))
    assert cb["l1"]["optimal"] and cb["c6"]["decision"] == "certified"
    assert cb["radii"]["r_inf"] == pytest.approx(float(r.rad()), rel=1e-6)


def test_certify_needs_limit(capsys):
    assert main(["solve", *SMALL, "--certify"]) == 2
    assert "--certify" in capsys.readouterr().err
