"""`wnbias reproduce --quick`: every experiment writes its figure, data and caption, and the
numbers behind the figures obey what docs/math.md says they must."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, tol
from wnbias.cli import main
from wnbias.experiments import EXPERIMENT_NAMES, get_experiment
from wnbias.experiments.rate import fit_rate
from wnbias.io import read_csv

try:  # tests/ is on sys.path (rootdir conftest) under plain `pytest`; the package path under `python -m`
    from test_figures_account import check_every_run_accounted
except ImportError:  # pragma: no cover
    from tests.test_figures_account import check_every_run_accounted

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_quick_set(tmp_path):
    """The whole quick set, run once (about a minute), then every check on its output.

    One test, not a module fixture: under ``pytest -n`` a fixture would run once per worker."""
    rc = main(["reproduce", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    _check_files(tmp_path)
    _check_eta_ratio_gap_never_exceeds_the_section5_bound(tmp_path)
    _check_plain_gd_gap_does_not_grow_as_the_initialisation_shrinks(tmp_path)
    _check_regime_map_sign_of_phi_at_r0_decides_magnification(tmp_path)
    check_every_run_accounted(tmp_path)  # issue 17: every CSV row is a point in its figure, counted in the caption


def _check_files(out):
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["name"] for e in manifest["experiments"]] == list(EXPERIMENT_NAMES)
    assert manifest["quick"] is True and {"numpy", "scipy", "matplotlib", "wnbias"} <= set(manifest["versions"])
    import matplotlib.image as mpimg

    for e in manifest["experiments"]:
        assert e["status"] == "ok", e
        png = out / e["figure"]
        assert png.read_bytes()[:8] == PNG_SIGNATURE
        h, w = mpimg.imread(png).shape[:2]
        assert h > 200 and w > 200
        rows = read_csv(out / e["csv"])
        assert len(rows) == e["rows"] > 0
        caption = (out / e["caption"]).read_text()
        assert "Measured" in caption and len(caption) > 200
        assert e["params"] and e["wall_time_s"] > 0


def _check_eta_ratio_gap_never_exceeds_the_section5_bound(out):
    """docs/math.md §5: S − ‖z*‖₁ ≤ bound(ρ) with ρ from the run's own final radius.  The gap of a run
    stopped at loss ≤ tol_rel·½‖y‖² is only resolved to about √tol_rel·‖z*‖₁ (Ax ≠ y exactly)."""
    s = get_experiment("eta_ratio").settings(quick=True)
    rows = [r for r in read_csv(out / "eta_ratio.csv") if r["status"] == "converged" and r["bound_abs"] is not None]
    assert rows, "no converged run with a bound to check"
    for r in rows:
        resolution = math.sqrt(s["tol_rel"]) * r["l1_opt"]
        assert r["gap_abs"] <= r["bound_abs"] + resolution, r


def _check_plain_gd_gap_does_not_grow_as_the_initialisation_shrinks(out):
    """§5 monotonicity with ρ = 1: ‖x_∞‖₁ never increases as α decreases (Gaussian truth, plain GD)."""
    s = get_experiment("init_scale").settings(quick=True)
    rows = [r for r in read_csv(out / "init_scale.csv")
            if r["truth"] == "gaussian" and r["method"] == "GD" and r["status"] == "converged"]
    checked = 0
    for seed in {r["seed"] for r in rows}:
        gaps = [r["error"] for r in sorted((r for r in rows if r["seed"] == seed), key=lambda r: r["alpha"])]
        for small, large in zip(gaps, gaps[1:]):
            assert small <= large + math.sqrt(s["tol_rel"]), gaps
            checked += 1
    assert checked > 0


def _check_regime_map_sign_of_phi_at_r0_decides_magnification(out):
    """§4: ρ(r₀) = 1, so φ(r₀) does not depend on η̃; with a unique root, r_∞ < r₀ iff φ(r₀) < 0."""
    rows = [r for r in read_csv(out / "regime_map.csv") if r["status"] == "converged"]
    assert rows
    for r in rows:
        if r["phi_r0"] is not None and np.isfinite(r["phi_r0"]) and abs(r["phi_r0"]) > 1e-9 * r["r0"] ** 2:
            assert (r["phi_r0"] < 0) == (r["no_magnification"] is True), r


def test_fit_rate_recovers_an_exponential_tail():
    k = np.arange(0, 2000, 10)
    rate = 3.7e-3
    loss = np.where(k < 500, 1.0, np.exp(-rate * (k - 500)))  # plateau, then exponential decay
    got, r2, n = fit_rate(k, loss, start_level=1e-1)
    assert abs(got - rate) <= tol(DPS_FLOAT64, K_ACCUMULATED) * rate
    # the fit starts where the loss first drops below 0.1: k ≥ 500 + ln(10)/rate, i.e. 87 records
    assert r2 == pytest.approx(1.0, abs=tol(DPS_FLOAT64, K_ACCUMULATED)) and n == 87
    assert math.isnan(fit_rate(k, np.ones_like(k, dtype=float), 1e-3)[0])  # never reaches the level


def test_fit_rate_stops_at_the_runs_threshold():
    """In a batch a finished run is recorded on, down to its rounding floor: the fit stops at the
    first record at or below the run's threshold, or the flat floor would halve the rate."""
    k = np.arange(0, 4000, 10)
    rate = 5e-3
    floor = np.where(k < 2500, np.exp(-rate * k), np.exp(-rate * 2500))  # flat after k = 2500
    got, _, _ = fit_rate(k, floor, start_level=1e-1, end_level=np.exp(-rate * 2400))
    assert abs(got - rate) <= tol(DPS_FLOAT64, K_ACCUMULATED) * rate
    assert fit_rate(k, floor, start_level=1e-1)[0] < 0.9 * rate  # without the end level: biased low


def test_pl_rate_is_twice_the_smallest_eigenvalue_of_A_D_P_D_At():
    """rate.pl_rate against K = A D P D Aᵀ built with the n×n matrix P = η_r ūūᵀ + η_u r²(I − ūūᵀ)."""
    from wnbias.experiments.rate import pl_rate

    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 12)) / np.sqrt(5)
    w = rng.uniform(0.2, 1.5, 12)
    for L, eta_r, eta_u in ((2, 0.3, 1.0), (3, 4.0, 0.5)):
        r = np.linalg.norm(w)
        ub = w / r
        P = eta_r * np.outer(ub, ub) + eta_u * r * r * (np.eye(12) - np.outer(ub, ub))
        D = np.diag(L * w ** (L - 1))
        K = A @ D @ P @ D @ A.T
        want = 2 * np.linalg.eigvalsh(K)[0]
        assert abs(pl_rate(A, w, L, eta_r, eta_u) - want) <= tol(DPS_FLOAT64, K_ACCUMULATED) * np.linalg.norm(K, 2)
    assert pl_rate(A, np.r_[w[:-1], np.nan], 2, 1.0) != pl_rate(A, np.r_[w[:-1], np.nan], 2, 1.0)  # nan


def test_convergence_L_saves_each_miss_as_a_sweep_file_that_reruns_it(tmp_path):
    from wnbias.experiments.convergence_L import miss_toml, sweep_config, settings
    from wnbias.sweep import expand, load_config, task_key

    spec = expand(sweep_config(settings(quick=True)))
    params = spec.params[0]
    path = tmp_path / "miss.toml"
    path.write_text(miss_toml(spec.task, params))
    again = load_config(path)
    assert len(again) == 1 and again.params[0] == params
    assert task_key(again.task, again.params[0]) == task_key(spec.task, params)


def test_bad_names_and_seeds_exit_2(tmp_path, capsys):
    assert main(["reproduce", "no_such_experiment", "--out", str(tmp_path)]) == 2
    assert "unknown experiment" in capsys.readouterr().err
    assert main(["reproduce", "rate", "--seeds", "0", "--out", str(tmp_path)]) == 2


# ------------------------------------------------------- output checks for `reproduce` (issue 13)
def _unwritable_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    from pathlib import Path

    for d in (ro, Path("/sys")):
        try:
            (d / ".probe").write_text("x")
            (d / ".probe").unlink()
        except OSError:
            return d
    pytest.skip("no unwritable directory here (running as root without a read-only /sys)")


def test_unique_names_keeps_the_first_of_each():
    from wnbias.experiments import unique_names

    assert unique_names(["rate", "depth", "rate", "rate", "depth"]) == ["rate", "depth"]


def test_check_output_dir_refuses_a_file_an_unwritable_dir_and_a_dir_in_place_of_an_output(tmp_path):
    from wnbias.errors import UsageError as OutputDirError
    from wnbias.experiments import output_files
    from wnbias.io import check_output_dir

    made = check_output_dir(tmp_path / "new" / "sub", files=output_files(["rate"]))
    assert made.is_dir() and not list(made.iterdir())  # the probe file is gone
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputDirError, match=r"--out: .*f is a file"):
        check_output_dir(tmp_path / "f")
    ro = _unwritable_dir(tmp_path)
    with pytest.raises(OutputDirError, match="--out: cannot"):
        check_output_dir(ro / "x" if ro.name == "sys" else ro)
    (tmp_path / "d" / "rate.csv").mkdir(parents=True)
    with pytest.raises(OutputDirError, match="rate.csv is a directory"):
        check_output_dir(tmp_path / "d", files=output_files(["rate"]))


def test_save_outputs_that_cannot_write_keeps_the_caption_and_rows(tmp_path):
    from wnbias.experiments._common import OutputWriteError, plt, save_outputs

    (tmp_path / "demo.csv").mkdir()  # a directory where the CSV must go: os.replace fails after the work
    fig = plt().figure()
    rows = [{"a": 1, "b": 2.5}]
    with pytest.raises(OutputWriteError) as info:
        save_outputs(tmp_path, "demo", fig, rows, "Measured: a = 1.")
    err = info.value
    assert err.name == "demo" and err.path == tmp_path / "demo.csv"
    assert err.caption == "Measured: a = 1." and err.rows == rows
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_reproduce_out_unusable_exits_2_before_any_work(tmp_path, capsys, monkeypatch):
    from wnbias import experiments

    def no_work(name):
        raise AssertionError(f"experiment {name} was started although --out is unusable")

    monkeypatch.setattr(experiments, "get_experiment", no_work)
    (tmp_path / "file").write_text("")
    bad = [tmp_path / "file", _unwritable_dir(tmp_path)]
    (tmp_path / "d" / "rate.png").mkdir(parents=True)
    bad.append(tmp_path / "d")
    for out in bad:
        assert main(["reproduce", "rate", "--quick", "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "--out" in err and "Traceback" not in err


def test_reproduce_runs_a_repeated_name_once(tmp_path):
    assert main(["reproduce", "rate", "rate", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [e["name"] for e in manifest["experiments"]] == ["rate"]


def test_reproduce_that_cannot_write_its_results_exits_3_and_prints_them(tmp_path, capsys, monkeypatch):
    import errno

    import wnbias.io

    def disk_full(path, rows, header=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(wnbias.io, "write_csv", disk_full)  # save_outputs writes the CSV through it
    rc = main(["reproduce", "rate", "--quick", "--out", str(tmp_path), "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 3 and "No space left on device" in out + err and "Traceback" not in out + err
    assert "Measured" in out  # the caption, with the measured values, went to stdout
