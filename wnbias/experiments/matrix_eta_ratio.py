"""docs/math.md §9.5: nuclear-norm gap and rank of WN-GD against the learning-rate ratio η̃.

WN-GD of ``X = UUᵀ`` from ``r₀`` (large by default: 1) for a range of ``η̃ = η_r/η_V``, against the
nuclear-norm minimiser (SDP).  Evidence, not a theorem (docs/math.md §9).
"""

from __future__ import annotations

import time

import numpy as np

from numerics._status import Status

from wnbias.experiments import _common as C
from wnbias.experiments.matrix_init_scale import draw_runs, run_methods

NAME = "matrix_eta_ratio"
TITLE = "Matrix sensing: nuclear-norm gap and rank of WN-GD against η̃"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(d=8, k_true=1, k=4, m=24, seeds=3, r0=1.0, eta_tildes=[float(v) for v in np.logspace(-2, 1, 7)],
             steps=30000, tol_rel=1e-14, step_c=0.5)
    if quick:
        s.update(d=5, m=10, k=3, seeds=1, eta_tildes=[0.01, 0.1, 1.0], steps=4000)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return s["seeds"]


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._matrix import generate

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    rows = []
    for seed in range(s["seeds"]):
        p = generate(s["d"], s["k_true"], s["m"], seed)
        rows.extend(r for r in run_methods(p, s, [s["r0"]], s["eta_tildes"], seed) if r["method"] == "WN-GD")
        tick()
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _figure(rows, s):
    plt = C.plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    rp = draw_runs(axes, rows, "eta_tilde", [(f"WN-GD, r₀ = {s['r0']:g}", lambda r: True)])
    axes[0].set(yscale="log", ylabel="|‖X‖_* − min ‖X‖_*| / min ‖X‖_*", title="nuclear-norm gap")
    axes[1].set(ylabel="effective rank (σ > 1e-3 σ₁)", title="rank of the end point")
    for ax in axes:
        ax.set(xscale="log", xlabel="η̃ = η_r/η_V")
        ax.grid(True, which="both", alpha=0.3)
        C.legend_with_runs(ax, rp, fontsize=8)
    fig.suptitle(f"{TITLE} (d={s['d']}, rank {s['k_true']}, k={s['k']}, m={s['m']})", fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [f"**{TITLE}.** WN-GD of X = UUᵀ from r₀ = {s['r0']:g} (η_V = 1, η_r = η̃, step μ divided by max(1, η̃)), "
             f"d = {s['d']}, rank-{s['k_true']} truth, k = {s['k']}, m = {s['m']}, {s['seeds']} seed(s), at most "
             f"{s['steps']} steps. Gap relative to the SDP nuclear-norm minimiser; runs that did not reach the loss "
             "tolerance are drawn open (every run is a marker). Evidence, no bound is claimed (docs/math.md §9).", "",
             C.run_count_sentence(rows), "",
             "Measured (medians over seeds):"]
    for et in s["eta_tildes"]:
        sub = [r for r in rows if r["eta_tilde"] == et]
        g = C.median_iqr([r["gap_rel"] for r in sub])[0]
        rk = C.median_iqr([r["rank"] for r in sub])[0]
        lf = C.median_iqr([r["loss_final_rel"] for r in sub])[0]
        nconv = sum(r["status"] == Status.CONVERGED for r in sub)
        lines.append(f"- η̃ = {et:.3g}: relative gap {C.fmt(g, 3)}, rank {C.fmt(rk, 2)}, final loss {C.fmt(lf)}·½‖y‖² "
                     f"({nconv}/{len(sub)} reached the tolerance)")
    return "\n".join(lines)
