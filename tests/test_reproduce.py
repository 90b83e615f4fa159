"""`wnbias reproduce --quick`: every experiment writes its figure, data and caption, and the
numbers behind the figures obey what MATH.md says they must."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from numerics.precision import DPS_FLOAT64, K_ACCUMULATED, tol
from wnbias.cli import main
from wnbias.experiments import EXPERIMENT_NAMES, get_experiment
from wnbias.experiments.rate import fit_rate
from wnbias.sweep import read_csv

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_quick_set(tmp_path):
    """The whole quick set, run once (40–95 s on two shared cores), then every check on its output.

    One test, not a module fixture: under ``pytest -n`` a fixture would run once per worker."""
    rc = main(["reproduce", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    _check_files(tmp_path)
    _check_eta_ratio_gap_never_exceeds_the_section5_bound(tmp_path)
    _check_plain_gd_gap_does_not_grow_as_the_initialisation_shrinks(tmp_path)
    _check_regime_map_sign_of_phi_at_r0_decides_magnification(tmp_path)


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
    """MATH.md §5: S − ‖z*‖₁ ≤ bound(ρ) with ρ from the run's own final radius.  The gap of a run
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


def test_bad_names_and_seeds_exit_2(tmp_path, capsys):
    assert main(["reproduce", "no_such_experiment", "--out", str(tmp_path)]) == 2
    assert "unknown experiment" in capsys.readouterr().err
    assert main(["reproduce", "rate", "--seeds", "0", "--out", str(tmp_path)]) == 2
