"""The benchmark harness stays runnable: one quick run writes every item, and its anchors
integrate the same flow as the toolkit."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

from benchmarks import _anchors as an
from benchmarks import run as bench_run
from benchmarks.scaling import fit_exponent
from numerics import _fields as fields
from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, tol, workdps
from numerics._problem import generate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_run_writes_every_item(tmp_path):
    out, js, png = tmp_path / "B.md", tmp_path / "B.json", tmp_path / "s.png"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out), "--json", str(js), "--plot", str(png)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = out.read_text(encoding="utf-8")
    for key in bench_run.ITEMS:
        assert f"## {bench_run.TITLES[key]}" in md, f"item {key} missing from the report"
    assert "**Machine:**" in md and "**Reproduce:**" in md and "backend" in md
    assert "failed with an error" not in md, md[md.find("failed with an error") - 200:][:3000]
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [it["key"] for it in data["items"]] == list(bench_run.ITEMS)
    for it in data["items"]:
        assert it["tables"] and any(t["rows"] for t in it["tables"]), f"{it['key']}: no measurements"
    assert png.stat().st_size > 1000


def test_fit_exponent_recovers_a_power_law():
    N = [10, 20, 40, 80]
    t = [3.0 * n**1.7 for n in N]
    assert math.isclose(fit_exponent(N, t), 1.7, rel_tol=0, abs_tol=tol(DPS_FLOAT64, K_ROUNDOFF))
    assert fit_exponent([10], [1.0]) is None
    assert fit_exponent([10, 20], [1.0, None]) is None


def test_only_rejects_unknown_items():
    with pytest.raises(SystemExit):
        bench_run.parse_args(["--only", "nope"])
    assert bench_run.parse_args(["--only", "gd,scaling"]).items == ["gd", "scaling"]


@pytest.mark.parametrize("L", [2, 3])
def test_anchor_fields_match_the_toolkit_field(L):
    """The anchors' float64 and mpmath fields agree with ``numerics._fields`` (written apart)."""
    p = generate("sparse_positive", 12, 5, 3)
    rng = np.random.default_rng(L)
    r, u = 1.3, rng.uniform(0.2, 1.0, p.n)
    rd, ud = fields.wn_field(p.A_eff, p.y, r, u, L, 0.3, 1.2)
    ref = np.concatenate([[rd], ud])
    f64 = an.wngf_rhs64(p.A_eff, p.y, L, 0.3, 1.2)(0.0, np.concatenate([[r], u]))
    scale = np.max(np.abs(ref))
    assert np.max(np.abs(f64 - ref)) <= tol(DPS_FLOAT64, K_ROUNDOFF) * scale
    with workdps(30):
        fmp = an.wngf_rhs_mp(p.A_eff, p.y, L, 0.3, 1.2)(0, [mpmath.mpf(r)] + [mpmath.mpf(float(v)) for v in u])
        got = np.array([float(v) for v in fmp])
    assert np.max(np.abs(got - ref)) <= tol(DPS_FLOAT64, K_ROUNDOFF) * scale


def test_heyoka_system_matches_the_toolkit_field():
    hy = pytest.importorskip("heyoka")
    p = generate("sparse_positive", 8, 3, 1)
    cfg = FlowConfig(L=3, r0=1.0, eta_r=0.4, eta_u=1.0)
    sys_ = an.heyoka_system(p, cfg)
    names = [str(v) for v, _ in sys_]
    cf = hy.cfunc([rhs for _, rhs in sys_], vars=[v for v, _ in sys_])
    rng = np.random.default_rng(0)
    r, u = 0.9, rng.uniform(0.2, 1.0, p.n)
    got = cf(np.concatenate([[r], u]))
    rd, ud = fields.wn_field(p.A_eff, p.y, r, u, 3, 0.4, 1.0)
    ref = np.concatenate([[rd], ud])
    assert names[0] == "r" and len(names) == p.n + 1
    assert np.max(np.abs(got - ref)) <= tol(DPS_FLOAT64, K_ROUNDOFF) * np.max(np.abs(ref))


def test_long_rows_only_with_long():
    """Item 4's N = 10⁵ rows run only with ``--long``; ``--quick --long`` is refused."""
    from benchmarks import l1_solver, run

    assert all(N < 10**5 for N, _ in l1_solver.sizes(False))
    assert set(l1_solver.LONG_SIZES) <= set(l1_solver.sizes(False, long=True))
    assert run.parse_args(["--long"]).long
    with pytest.raises(SystemExit):
        run.parse_args(["--quick", "--long"])


def test_tried_sections_follow_the_missed_targets(tmp_path):
    """Only the hand-written sections of items that missed a target in the run are copied."""
    from benchmarks._common import ItemResult, Target
    from benchmarks.run import tried_sections

    f = tmp_path / "TRIED.md"
    f.write_text("### Item 1: one\n\ntext one\n\n### Item 3: three\n\ntext three\n")
    r1 = ItemResult("high_precision", "1. High precision: x", targets=[Target("a", "g", "m", False)])
    r3 = ItemResult("gd", "3. WN-GD: y", targets=[Target("b", "g", "m", True)])
    got = tried_sections([r1, r3], f)
    assert len(got) == 1 and got[0].startswith("### Item 1: one") and "text three" not in got[0]
    r3.targets[0].met = False
    assert len(tried_sections([r1, r3], f)) == 2
    assert tried_sections([r1, r3], tmp_path / "absent.md") == []
