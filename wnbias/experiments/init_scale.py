"""Experiment 1 (docs/math.md §7): GD with and without weight normalisation across initial scales.

For each truth (sparse, Gaussian), seed and initial scale ``α`` (``w₀ = α·1``; WN-GD starts at
``r₀ = α√n`` with the uniform direction, i.e. the same ``w₀``), run plain GD and WN-GD (a few
``η̃``) until the loss is below ``tol_rel · ½‖y‖²`` or the step budget ends.  Reported: the
final error (relative reconstruction error ``‖x − x_true‖/‖x_true‖`` for sparse truths, relative
ℓ1 gap ``(‖x‖₁ − ‖z*‖₁)/‖z*‖₁`` against the LP minimiser for Gaussian truths) and the number of
iterations to the loss threshold.  All scales are one batched GD computation per seed.
"""

from __future__ import annotations

import math
import time

import numpy as np

from numerics._status import Status

from wnbias.experiments import _common as C

NAME = "init_scale"
TITLE = "GD with and without WN across initialisation scales"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(
        N=1000, M=150, L=2, seeds=5, truths=["sparse", "gaussian"],
        alphas=[float(a) for a in np.logspace(-4, 0, 9)], eta_tildes=[0.05, 0.5],
        steps=20000, tol_rel=1e-8, step_c=1.5, k_frac=0.1,
    )
    if quick:
        s.update(N=200, M=40, seeds=2, alphas=[float(a) for a in np.logspace(-3, 0, 4)], steps=6000)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return len(s["truths"]) * s["seeds"] * (1 + len(s["eta_tildes"]))


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._gd import gd, wn_gd

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    L, alphas = s["L"], np.asarray(s["alphas"], dtype=float)
    rows = []
    for truth in s["truths"]:
        for seed in range(s["seeds"]):
            p = C.make_problem(truth, s["N"], s["M"], seed, k=C.k_of(s))
            A, y, n = p.A_eff, p.y, p.n
            l1_opt, z_ref = C.l1_reference(p)
            loss_tol = s["tol_rel"] * 0.5 * float(y @ y)
            runs = []
            mu_gd = np.array([C.gd_step(p, L, a, z_ref, s["step_c"]) for a in alphas])
            w0 = alphas[:, None] * np.ones((1, n))
            runs.append(("GD", float("nan"), gd(A, y, L=L, w0=w0, mu=mu_gd, steps=s["steps"], loss_tol=loss_tol)))
            tick()
            for et in s["eta_tildes"]:
                r0 = alphas * math.sqrt(n)
                # r0 = α√n: wn_step's GD step at α is mu_gd's (its curvature is not computed again per η̃)
                mu = np.array([C.wn_step(p, L, r, et, z_ref, s["step_c"], base=b) for r, b in zip(r0, mu_gd)])
                res = wn_gd(A, y, L=L, r0=r0, eta_r=et * np.ones_like(r0), eta_u=np.ones_like(r0), mu=mu,
                            steps=s["steps"], loss_tol=loss_tol)
                runs.append((f"WN-GD η̃={et:g}", et, res))
                tick()
            for method, et, res in runs:
                err = C.rel_error(p, res.x) if truth == "sparse" else C.l1_gap(p, res.x, l1_opt)
                status = C.status_names(res.status)
                for i, a in enumerate(alphas):
                    hit = int(res.hit_tol_at[i])
                    rows.append({
                        "truth": truth, "seed": seed, "method": method, "eta_tilde": et, "alpha": float(a),
                        "mu": float(res.mu[i]), "error": float(err[i]),
                        "error_kind": "rel_reconstruction" if truth == "sparse" else "rel_l1_gap",
                        "iters_to_tol": hit if hit >= 0 else None, "status": status[i],
                        "loss_final": float(res.loss[-1, i]), "steps_run": int(res.steps),
                        "r_final": float(res.r[i]) if np.isfinite(res.r[i]) else None,
                    })
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _figure(rows, s):
    """Median lines (IQR bands) over the converged runs, and every run as its own marker."""
    plt = C.plt()
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    fig, axes = plt.subplots(2, len(s["truths"]), figsize=(5.2 * len(s["truths"]), 7.5), squeeze=False)
    for j, truth in enumerate(s["truths"]):
        idx = [i for i, r in enumerate(rows) if r["truth"] == truth]
        sub = [rows[i] for i in idx]
        ms = C.methods(sub)
        err = C.place([r["error"] for r in sub])
        its = C.place([r["iters_to_tol"] if r["iters_to_tol"] is not None else s["steps"] for r in sub])
        pos = {i: k for k, i in enumerate(idx)}
        for mk, m in enumerate(ms):
            mi = [i for i in idx if rows[i]["method"] == m]
            rm = [rows[i] for i in mi]
            rm_e = [dict(r, e=(r["error"] if r["status"] == Status.CONVERGED else np.nan)) for r in rm]
            st = C.group_stats(rm_e, ["alpha"], "e")
            line = C.band(axes[0, j], [e["alpha"] for e in st], st, m, marker="none")
            rm_it = [dict(r, it=(r["iters_to_tol"] if r["iters_to_tol"] is not None else np.nan)) for r in rm]
            st = C.group_stats(rm_it, ["alpha"], "it")
            C.band(axes[1, j], [e["alpha"] for e in st], st, m, color=line.get_color(), marker="none")
            xs = C.jitter([r["alpha"] for r in rm], mk, len(ms))
            for ax, pl, panel in ((axes[0, j], err, "error"), (axes[1, j], its, "iterations")):
                rp.draw(ax, panel, xs, [pl.y[pos[i]] for i in mi], [kinds[i] for i in mi], mi,
                        color=line.get_color())
        C.mark_levels(axes[0, j], err, floor_label="error ≤ 0: drawn here", missing_label="no finite error: drawn here")
        axes[1, j].axhline(s["steps"], color="gray", ls="--", lw=1, label=f"budget {s['steps']} (not reached: drawn here)")
        kind = "relative error ‖x − x_true‖/‖x_true‖" if truth == "sparse" else "relative ℓ1 gap vs LP"
        axes[0, j].set(xscale="log", yscale="log", title=f"{truth} truth: final error", ylabel=kind)
        axes[1, j].set(xscale="log", yscale="log", title=f"{truth} truth: speed",
                       ylabel=f"iterations to loss ≤ {s['tol_rel']:g}·½‖y‖²", xlabel="initial scale α (w₀ = α·1)")
        C.legend_with_runs(axes[0, j], rp)
        axes[1, j].legend(fontsize=7)
        axes[0, j].grid(True, which="both", alpha=0.3)
        axes[1, j].grid(True, which="both", alpha=0.3)
    fig.suptitle(f"{TITLE} (N={s['N']}, M={s['M']}, L={s['L']}, {s['seeds']} seeds; median of converged runs, IQR "
                 "band; every run a marker)", fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [
        f"**{TITLE}.** Gaussian A with N = {s['N']}, M = {s['M']}, depth L = {s['L']}, signed model, sparse truths with k = {C.k_of(s)} nonzeros "
        f"(x = w₊^L − w₋^L), {s['seeds']} seeds per truth. Plain GD starts at w₀ = α·1; WN-GD starts at "
        f"the same w₀ (r₀ = α√n, uniform direction) with η_u = 1 and the η̃ shown. Each run stops when the "
        f"loss is ≤ {s['tol_rel']:g}·½‖y‖² or after {s['steps']} steps. Top: final error (sparse truth: "
        "relative reconstruction error; Gaussian truth: relative ℓ1 gap against the LP minimiser). Bottom: "
        "iterations to the loss threshold; a run that did not reach it has no such number and is drawn at its "
        f"budget of {s['steps']} steps (dashed line) with the open marker. Every run is a marker (slightly shifted "
        "in α per method): filled = reached the threshold, open = did not (its error is that of an unfinished run "
        "and says nothing about its limit), × = diverged, + = failed; an error that is not positive is drawn on the "
        "dotted floor line, a non-finite one on the red dotted line. Lines are medians over the converged runs "
        "only, bands the IQR.",
        "",
        C.run_count_sentence(rows),
        "",
        "Measured (median error over the seeds that reached the threshold, at each α where any did):",
    ]
    for truth in s["truths"]:
        for m in C.methods(rows):
            sub = [r for r in rows if r["truth"] == truth and r["method"] == m]
            conv = [r for r in sub if r["status"] == Status.CONVERGED]
            parts = []
            for a in sorted({r["alpha"] for r in conv}):
                med = C.median_iqr([r["error"] for r in conv if r["alpha"] == a])[0]
                parts.append(f"{C.fmt(med)} (α = {a:.2g})")
            lines.append(f"- {truth}, {m}: {len(conv)}/{len(sub)} runs reached the threshold; error "
                         + (", ".join(parts) if parts else "— (none reached it)"))
    return "\n".join(lines)
