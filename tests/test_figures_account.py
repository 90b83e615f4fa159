"""Every run accounted for in every figure (issue 17, item 2).

Each experiment records, from the artists of its saved figure, which CSV row each visible point
belongs to and with which marker kind (``ExperimentOutput.drawn``, in the manifest).  The checks
here: in every panel the drawn points and the CSV rows correspond one to one, each point's kind
is its row's status, and the caption's run counts equal the CSV's status counts.

The full quick set is checked on the outputs that ``tests/test_reproduce.py::test_quick_set``
already makes (it calls :func:`check_every_run_accounted`), so the suite runs it once; the tests
in this file cover the helpers and two small runs of their own.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from numerics._status import Status
from wnbias.io import read_csv

ACCOUNTED = ("init_scale", "eta_ratio", "depth", "stability_map", "regime_map", "scaling", "rate",
             "convergence_L", "matrix_init_scale", "matrix_eta_ratio", "matrix_rate")
"""The experiments whose figures draw every run: all of them."""

EXPECTED_KIND = {
    "converged": "converged", "trivial": "converged",
    "not_converged": "not_converged", "noise_floor": "not_converged", "time_limit": "not_converged",
    "diverged": "diverged",
    "failed": "failed", "inconsistent": "failed",
}
"""Marker kind of each status, written out here independently of ``_common.run_kind``."""

COUNTS = re.compile(r"Runs: (\d+) of (\d+) [^;]*? converged; (\d+) did not reach the threshold[^;]*; "
                    r"(\d+) diverged; (\d+) failed\.")


def account_errors(rows: list, drawn: dict, caption: str) -> list:
    """Everything wrong with how a figure accounts for the CSV ``rows`` (empty when all is well)."""
    errors = []
    m = len(rows)
    kinds = [EXPECTED_KIND[r["status"]] for r in rows]
    if not drawn:
        errors.append("the figure records no drawn runs")
    for panel, by_kind in drawn.items():
        seen = [i for idx in by_kind.values() for i in idx]
        if len(seen) != len(set(seen)):
            dup = sorted({i for i in seen if seen.count(i) > 1})
            errors.append(f"{panel}: rows drawn more than once: {dup[:10]}")
        missing = sorted(set(range(m)) - set(seen))
        if missing:
            errors.append(f"{panel}: {len(missing)} of {m} rows not visible, e.g. {missing[:10]} "
                          f"(statuses {sorted({rows[i]['status'] for i in missing})})")
        extra = sorted(set(seen) - set(range(m)))
        if extra:
            errors.append(f"{panel}: points for rows that are not in the CSV: {extra[:10]}")
        wrong = [(i, k) for k, idx in by_kind.items() for i in idx if 0 <= i < m and kinds[i] != k]
        if wrong:
            errors.append(f"{panel}: rows drawn with the wrong marker (row, drawn as): {wrong[:10]}")
    found = COUNTS.findall(caption)
    if len(found) != 1:
        errors.append(f"the caption states the run counts {len(found)} times, not once")
    else:
        n_conv, n_all, n_nc, n_div, n_fail = (int(v) for v in found[0])
        want = (sum(k == "converged" for k in kinds), m, sum(k == "not_converged" for k in kinds),
                sum(k == "diverged" for k in kinds), sum(k == "failed" for k in kinds))
        if (n_conv, n_all, n_nc, n_div, n_fail) != want:
            errors.append(f"caption counts {(n_conv, n_all, n_nc, n_div, n_fail)} != CSV counts {want}")
    return errors


def check_every_run_accounted(out) -> dict:
    """Check the quick outputs in ``out`` (a ``wnbias reproduce --quick`` folder); returns the
    status counts per experiment."""
    manifest = json.loads((out / "manifest.json").read_text())
    entries = {e["name"]: e for e in manifest["experiments"]}
    counts = {}
    for name in ACCOUNTED:
        e = entries[name]
        assert e["status"] == "ok", e
        rows = read_csv(out / e["csv"])
        caption = (out / e["caption"]).read_text()
        errors = account_errors(rows, e["drawn"], caption)
        assert not errors, f"{name}: " + "; ".join(errors)
        want = {k: sum(EXPECTED_KIND[r["status"]] == k for r in rows)
                for k in ("converged", "not_converged", "diverged", "failed")}
        assert e["run_counts"] == want, (name, e["run_counts"], want)
        counts[name] = want
    return counts


# ------------------------------------------------------------------------------- helpers
def test_run_kind_covers_every_status_and_agrees_with_the_table():
    from wnbias.experiments._common import RUN_KINDS, RUN_STYLE, run_kind

    assert set(EXPECTED_KIND) == {s.value for s in Status}
    for s in Status:
        assert run_kind(s) == run_kind(s.value) == EXPECTED_KIND[s.value]
    assert set(RUN_STYLE) == set(RUN_KINDS)
    # the four kinds look different: filled circle, open circle, ×, +
    looks = {(RUN_STYLE[k]["marker"], RUN_STYLE[k]["filled"]) for k in RUN_KINDS}
    assert len(looks) == len(RUN_KINDS)
    with pytest.raises(ValueError, match="unknown run status"):
        run_kind("stalls")


def test_place_gives_every_value_a_visible_position():
    from wnbias.experiments._common import place

    v = [1e-3, 0.5, -2.0, 0.0, float("nan"), None, float("inf"), 3.0]
    p = place(v)
    assert np.all(np.isfinite(p.y)) and np.all(p.y > 0)
    assert p.n_floored == 2 and p.n_missing == 3
    assert list(p.y[[0, 1, 7]]) == [1e-3, 0.5, 3.0]  # drawn as they are
    assert p.y[2] == p.y[3] == p.floor < 1e-3  # below every drawn value
    assert p.y[4] == p.y[5] == p.y[6] == p.missing > 3.0  # above every drawn value
    q = place([float("nan"), 2.0, 4.0], missing="bottom")
    assert q.y[0] == q.missing < 2.0
    f = place([1e-9, 1e-2], floor=1e-4)
    assert list(f.y) == [1e-4, 1e-2] and f.n_floored == 1


def _rows(statuses):
    return [{"status": s} for s in statuses]


def test_drawn_reads_back_only_the_points_a_reader_sees():
    """A point at nan, or ≤ 0 on a log axis, or outside the limits is not in ``drawn``, so a figure
    that loses a run fails :func:`account_errors`."""
    from wnbias.experiments._common import RunPlot, plt, run_count_sentence

    statuses = ["converged", "not_converged", "diverged", "failed", "converged"]
    fig, ax = plt().subplots()
    rp = RunPlot()
    kinds = [EXPECTED_KIND[s] for s in statuses]
    rp.draw(ax, "p", [1, 2, 3, 4, 5], [1.0, 2.0, float("nan"), -1.0, 100.0], kinds, range(5))
    ax.set(yscale="log", ylim=(0.5, 10))
    drawn = rp.drawn(fig)
    plt().close(fig)
    assert drawn == {"p": {"converged": [0], "not_converged": [1], "diverged": [], "failed": []}}
    caption = run_count_sentence(_rows(statuses))
    errors = account_errors(_rows(statuses), drawn, caption)
    assert len(errors) == 1 and "3 of 5 rows not visible, e.g. [2, 3, 4]" in errors[0]


def test_account_errors_catches_each_kind_of_mistake():
    from wnbias.experiments._common import run_count_sentence

    rows = _rows(["converged", "not_converged", "noise_floor", "diverged", "failed"])
    good = {"a": {"converged": [0], "not_converged": [1, 2], "diverged": [3], "failed": [4]}}
    cap = "text. " + run_count_sentence(rows) + " more."
    assert "Runs: 1 of 5 runs converged; 2 did not reach the threshold (budget spent: 1, noise floor: 1); " \
           "1 diverged; 1 failed." in cap
    assert account_errors(rows, good, cap) == []
    # the old figures: only converged runs drawn
    assert any("4 of 5 rows not visible" in e for e in account_errors(rows, {"a": {"converged": [0]}}, cap))
    assert any("more than once" in e for e in
               account_errors(rows, {"a": {**good["a"], "converged": [0, 1]}}, cap))
    assert any("wrong marker" in e for e in
               account_errors(rows, {"a": {"converged": [0, 1, 2], "diverged": [3], "failed": [4]}}, cap))
    assert any("caption counts" in e for e in account_errors(rows[:4], {"a": {"converged": [0],
               "not_converged": [1, 2], "diverged": [3]}}, cap))
    assert any("0 times" in e for e in account_errors(rows, good, "1 of 5 converged"))
    assert any("no drawn runs" in e for e in account_errors(rows, {}, cap))


# --------------------------------------------------------------------- small real runs
def test_init_scale_run_that_never_reaches_the_threshold_is_drawn_at_its_budget(tmp_path):
    """With a budget far too small, no run converges: every run must still be a point, the
    iterations panel at the budget, and the caption must say 0 of m converged."""
    from wnbias.experiments import init_scale

    steps = 20
    out = init_scale.run(tmp_path, quick=True, truths=["sparse"], seeds=1, alphas=[1e-3, 1e-1], steps=steps)
    rows = read_csv(out.csv)
    assert rows and all(r["status"] != "converged" for r in rows)
    caption = out.caption.read_text()
    assert account_errors(rows, out.drawn, caption) == []
    assert f"Runs: 0 of {len(rows)} runs converged" in caption
    assert out.run_counts["converged"] == 0 and sum(out.run_counts.values()) == len(rows)
    assert set(out.drawn) == {"error", "iterations"}
    assert f"budget of {steps} steps" in caption


def test_stability_map_draws_diverged_and_stalled_runs(tmp_path):
    from wnbias.experiments import stability_map

    out = stability_map.run(tmp_path, quick=True, eta_tildes=[1e-2, 1e2], mus=[1e-5, 1.0], steps=300)
    rows = read_csv(out.csv)
    caption = out.caption.read_text()
    assert account_errors(rows, out.drawn, caption) == []
    kinds = {EXPECTED_KIND[r["status"]] for r in rows}
    assert {"diverged", "not_converged"} <= kinds  # μ = 1 at η̃ = 100 diverges; μ = 1e-5 stalls
    for panel in out.drawn.values():
        assert sum(len(v) for v in panel.values()) == len(rows)
    assert not math.isnan(out.params["mu_ref_median"])


def test_scaling_limit_solve_that_runs_out_of_time_is_drawn_as_such(tmp_path):
    """The matrix-free limit series (issue 17, item 3): a solve that ran out of its time limit keeps
    the solver's status (``time_limit``, never converged), and is a point in every panel, the time
    panel on the limit's own axis at its wall time."""
    from wnbias.experiments import scaling

    out = scaling.run(tmp_path, quick=True, Ns={"gaussian": [100], "dct": [400]}, steps=200,
                      limit_Ns=[1600, 3200], limit_time_limit=1e-3)
    rows = read_csv(out.csv)
    lim = [r for r in rows if r["method"] == scaling.LIMIT_METHOD]
    assert [r["N"] for r in lim] == [1600, 3200]
    assert all(r["status"] == "time_limit" and r["rel_error"] is None for r in lim), lim
    caption = out.caption.read_text()
    assert account_errors(rows, out.drawn, caption) == []
    assert set(out.drawn) == {"time_per_iter", "memory", "rel_error"}
    assert "time_limit in" in caption and f"Runs: {out.run_counts['converged']} of {len(rows)}" in caption
