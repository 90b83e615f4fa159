"""docs/math.md §9.5: nuclear-norm gap and rank of GD and WN-GD against the initialisation scale.

Symmetric matrix sensing ``X = UUᵀ`` (``U ∈ R^{d×k}``, ``k`` above the truth's rank, fewer
measurements than the ``d(d+1)/2`` unknowns of a symmetric ``X``).  Plain GD starts at ``U₀ = α·U_dir``
and WN-GD at ``r₀ = α``, ``V₀ = U_dir`` (``‖U_dir‖_F = 1``).  The reference is the nuclear-norm
minimiser over PSD matrices (an SDP, :func:`numerics._matrix.nuclear_norm_min`).  Evidence, not a
theorem (docs/math.md §9).
"""

from __future__ import annotations

import time

import numpy as np

from numerics._status import Status

from wnbias.experiments import _common as C

NAME = "matrix_init_scale"
TITLE = "Matrix sensing: nuclear-norm gap and rank against the initialisation scale"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(d=8, k_true=1, k=4, m=24, seeds=3, alphas=[1e-3, 1e-2, 1e-1, 1.0], eta_tilde=0.1, steps=30000,
             tol_rel=1e-14, step_c=0.5)
    if quick:
        s.update(d=5, m=10, k=3, seeds=1, alphas=[1e-3, 1e-1, 1.0], steps=4000)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return s["seeds"]


def run_methods(p, s, alphas, eta_tildes, seed):
    """Rows for GD (one per α) and WN-GD (one per (α, η̃)) on problem ``p``; the SDP reference once."""
    from numerics._matrix import (curvature_step, effective_rank, gd_matrix, init_directions, nuclear_norm,
                                 nuclear_norm_min, wn_gd_matrix)

    nn = nuclear_norm_min(p)
    alphas = np.asarray(alphas, dtype=float)
    V0 = np.repeat(init_directions(p.d, s["k"], 1, 100 + seed), len(alphas), axis=0)
    mu = curvature_step(p, max(1.0, float(alphas.max())), s["step_c"])
    tol_abs = s["tol_rel"] * p.scale
    out = []
    runs = [("GD", None, gd_matrix(p, alphas[:, None, None] * V0, mu=mu, steps=s["steps"], loss_tol=tol_abs))]
    for et in eta_tildes:
        mu_w = mu / max(1.0, et)
        runs.append(("WN-GD", et, wn_gd_matrix(p, alphas, V0, eta_r=et, eta_V=1.0, mu=mu_w, steps=s["steps"],
                                                loss_tol=tol_abs)))
    for method, et, res in runs:
        for i, a in enumerate(alphas):
            X = res.X[i]
            nuc = nuclear_norm(X)
            out.append({"seed": seed, "method": method, "alpha": float(a), "eta_tilde": et, "mu": res.mu,
                        "status": res.status[i].value, "loss_final_rel": float(res.loss[-1, i]) / p.scale,
                        "nuclear": nuc, "nuclear_min": nn.value, "gap_rel": (nuc - nn.value) / nn.value,
                        "rank": effective_rank(X), "sdp_status": nn.status.value, "sdp_residual": nn.primal_residual,
                        "sdp_gap": nn.gap, "r_final": float(res.r[i])})
    return out


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._matrix import generate

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    rows = []
    for seed in range(s["seeds"]):
        p = generate(s["d"], s["k_true"], s["m"], seed)
        rows.extend(run_methods(p, s, s["alphas"], [s["eta_tilde"]], seed))
        tick()
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def draw_runs(axes, rows, xkey: str, groups, rp=None):
    """Every run as a marker (its status's kind, :data:`_common.RUN_STYLE`) on the gap and rank axes,
    with the median bands of each group ``(label, rows-filter)``; returns the :class:`RunPlot`."""
    rp = rp or C.RunPlot()
    kinds = C.row_kinds(rows)
    gap = C.place([abs(r["gap_rel"]) if r["gap_rel"] is not None else None for r in rows])
    rank = C.place([r["rank"] for r in rows], log=False)
    for j, (label, keep) in enumerate(groups):
        ks = [i for i, r in enumerate(rows) if keep(r)]
        sub = [rows[i] for i in ks]
        colour = None
        for ax, key, placed in ((axes[0], "gap_rel", gap), (axes[1], "rank", rank)):
            vals = [dict(r, v=abs(r[key]) if key == "gap_rel" else r[key]) for r in sub]
            st = C.group_stats(vals, [xkey], "v")
            line = C.band(ax, [g[xkey] for g in st], st, label, marker="none", color=colour)
            colour = line.get_color()
            rp.draw(ax, key, C.jitter([r[xkey] for r in sub], j, len(groups)), [placed.y[i] for i in ks],
                    [kinds[i] for i in ks], ks, color=colour, zorder=6)
    C.mark_levels(axes[0], gap, floor_label="gap 0 (or below the floor): drawn here")
    C.mark_levels(axes[1], rank)
    return rp


def _figure(rows, s):
    plt = C.plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    rp = draw_runs(axes, rows, "alpha", [(m, (lambda r, m=m: r["method"] == m)) for m in ("GD", "WN-GD")])
    axes[0].set(yscale="log", ylabel="|‖X‖_* − min ‖X‖_*| / min ‖X‖_*", title="nuclear-norm gap")
    axes[1].set(ylabel="effective rank (σ > 1e-3 σ₁)", title="rank of the end point")
    for ax in axes:
        ax.set(xscale="log", xlabel="initialisation scale α (GD: ‖U₀‖_F, WN: r₀)")
        ax.grid(True, which="both", alpha=0.3)
        C.legend_with_runs(ax, rp, fontsize=8)
    fig.suptitle(f"{TITLE} (d={s['d']}, rank {s['k_true']}, k={s['k']}, m={s['m']}, WN η̃={s['eta_tilde']:g})",
                 fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [f"**{TITLE}.** Symmetric sensing X = UUᵀ with Gaussian A_i, d = {s['d']}, rank-{s['k_true']} PSD truth, "
             f"k = {s['k']} columns, m = {s['m']} measurements (fewer than d(d+1)/2 = {s['d'] * (s['d'] + 1) // 2}), "
             f"{s['seeds']} seed(s), at most {s['steps']} steps, stop at loss ≤ {s['tol_rel']:g}·½‖y‖². GD starts at "
             f"U₀ = α·U_dir, WN-GD at r₀ = α with η̃ = {s['eta_tilde']:g}. The gap is relative to the nuclear-norm "
             "minimiser over PSD matrices (SDP, cvxpy/Clarabel; its residuals are in the CSV). Evidence, no bound is "
             "claimed (docs/math.md §9).", "", C.run_count_sentence(rows), "", "Measured (medians over seeds):"]
    for method in ("GD", "WN-GD"):
        for a in s["alphas"]:
            sub = [r for r in rows if r["method"] == method and r["alpha"] == a]
            g = C.median_iqr([r["gap_rel"] for r in sub])[0]
            lf = C.median_iqr([r["loss_final_rel"] for r in sub])[0]
            rk = C.median_iqr([r["rank"] for r in sub])[0]
            nconv = sum(r["status"] == Status.CONVERGED for r in sub)
            lines.append(f"- {method}, α = {a:g}: relative gap {C.fmt(g, 3)}, rank {C.fmt(rk, 2)}, final loss "
                         f"{C.fmt(lf)}·½‖y‖² ({nconv}/{len(sub)} reached the tolerance)")
    lines += ["", "A run that did not reach the tolerance ends where its step budget ran out; its gap is that of "
              "the point reached, not of a limit. WN-GD from a small r₀ can stay at U ≈ 0: its direction V̄ turns at "
              "the rate η_V r²/‖V‖_F², which vanishes with r, while r grows only where V̄ᵀ(−G)V̄ > 0 at the start "
              "(r_final in the CSV)."]
    return "\n".join(lines)
