"""Experiment 3 (docs/math.md §7): depth L = 2, 3, 4, 5 — convergence to sparse solutions.

Sparse truths; for each seed and depth, plain GD from ``w₀ = α·1`` and WN-GD from the same
``w₀`` (``r₀ = α√n``) with a fixed ``η̃`` (each depth needs its own step size).  Recorded: the
loss along the run (to see plateaus and the tail), the final relative reconstruction error, and
the fraction of ``‖x‖₁`` that sits off the true support (a direct measure of sparsity).  The
depths of one method run as one batch per seed (``L`` per run); each run keeps its own records.
"""

from __future__ import annotations

import math
import time

import numpy as np

from numerics._status import Status

from wnbias.experiments import _common as C

NAME = "depth"
TITLE = "Depth L: convergence to sparse solutions (GD and WN-GD)"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(N=1000, M=150, depths=[2, 3, 4, 5], seeds=5, alpha=0.1, eta_tilde=0.3, steps=30000,
             tol_rel=1e-8, step_c=1.5, k_frac=0.1, records=300)
    if quick:
        s.update(N=200, M=40, seeds=2, steps=6000, records=100)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return len(s["depths"]) * s["seeds"]


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._gd import gd, wn_gd

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    rows, curves = [], []
    a, et = float(s["alpha"]), float(s["eta_tilde"])
    rec_every = max(1, s["steps"] // s["records"])
    for seed in range(s["seeds"]):
        p = C.make_problem("sparse", s["N"], s["M"], seed, k=C.k_of(s))
        _, z_ref = C.l1_reference(p)
        y, n = p.y, p.n
        support = np.asarray(p.x_true) != 0
        loss_tol = s["tol_rel"] * 0.5 * float(y @ y)
        Ls = np.array([int(L) for L in s["depths"]])
        r0 = a * math.sqrt(n)
        # the depths of a method run as one batch (gemm products instead of a gemv pair per run);
        # each run's records are read back as its own (GDResult.run_records)
        mu_gd = np.array([C.gd_step(p, int(L), a, z_ref, s["step_c"]) for L in Ls])
        # r0 = a√n: wn_step's GD step at α = r0/√n is mu_gd's (its curvature is not computed twice)
        mu_wn = np.array([C.wn_step(p, int(L), r0, et, z_ref, s["step_c"], base=mu_gd[i]) for i, L in enumerate(Ls)])
        res_gd = gd(p.A_eff, y, L=Ls, w0=np.full((len(Ls), n), a), mu=mu_gd, steps=s["steps"], loss_tol=loss_tol,
                    record_every=rec_every)
        tick(len(Ls) / 2)
        res_wn = wn_gd(p.A_eff, y, L=Ls, r0=np.full(len(Ls), r0), eta_r=np.full(len(Ls), et),
                       eta_u=np.ones(len(Ls)), mu=mu_wn, steps=s["steps"], loss_tol=loss_tol, record_every=rec_every)
        tick(len(Ls) / 2)
        for i, L in enumerate(Ls):
            L = int(L)
            for method, res in (("GD", res_gd), (f"WN-GD η̃={et:g}", res_wn)):
                x = C.user_x(p, res.x[i:i + 1])[0]
                l1 = float(np.abs(x).sum())
                off = float(np.abs(x[~support]).sum() / l1) if l1 > 0 else float("nan")
                hit = int(res.hit_tol_at[i])
                rows.append({
                    "seed": seed, "L": L, "method": method, "alpha": a, "eta_tilde": et if method != "GD" else None,
                    "mu": float(res.mu[i]), "status": C.status_names(res.status)[i],
                    "iters_to_tol": hit if hit >= 0 else None, "loss_final": float(res.loss[-1, i]),
                    "rel_error": float(C.rel_error(p, res.x[i:i + 1])[0]), "off_support_l1_frac": off,
                })
                its, loss = res.run_records(i)
                curves.append((seed, L, method, np.asarray(its), np.asarray(loss) / (0.5 * float(y @ y))))
    fig, rp = _figure(rows, curves, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _figure(rows, curves, s):
    plt = C.plt()
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = []
    for r in rows:
        if r["method"] not in methods:
            methods.append(r["method"])
    ax = axes[0]
    for i, L in enumerate(s["depths"]):
        for m, ls in zip(methods, ["--", "-"]):
            cs = [c for c in curves if c[1] == L and c[2] == m]
            its = max((c[3] for c in cs), key=len)
            # a run that stopped early keeps its last value (it is at the threshold)
            grid = np.array([np.interp(its, c[3], c[4]) for c in cs])
            med = np.median(grid, axis=0)
            ax.plot(its, med, ls=ls, color=colors[i % len(colors)], label=f"L={L}, {m}")
            ax.fill_between(its, np.percentile(grid, 25, axis=0), np.percentile(grid, 75, axis=0),
                            color=colors[i % len(colors)], alpha=0.15, lw=0)
    # where each run ended (curves[k] belongs to rows[k]): its last iteration and normalised loss
    ends = C.place([c[4][-1] if len(c[4]) else np.nan for c in curves])
    for i, L in enumerate(s["depths"]):
        ks = [k for k, r in enumerate(rows) if r["L"] == L]
        rp.draw(ax, "loss", [curves[k][3][-1] if len(curves[k][3]) else 0 for k in ks], [ends.y[k] for k in ks],
                [kinds[k] for k in ks], ks, color=colors[i % len(colors)], s=18, zorder=6)
    C.mark_levels(ax, ends, floor_label="loss 0: drawn here", missing_label="non-finite loss: drawn here")
    ax.axhline(s["tol_rel"], color="gray", ls=":", lw=1)
    ax.set(yscale="log", xlabel="iteration", ylabel="loss / (½‖y‖²)",
           title="loss along the run (seed median, IQR); markers: end of each run")
    C.legend_with_runs(ax, rp, ncol=2, loc="center right")
    ax.grid(True, which="both", alpha=0.3)
    for ax, key, lab in ((axes[1], "rel_error", "relative error ‖x − x_true‖/‖x_true‖"),
                         (axes[2], "off_support_l1_frac", "fraction of ‖x‖₁ off the true support")):
        pl = C.place([r[key] for r in rows])
        for j, m in enumerate(methods):
            st = C.group_stats([r for r in rows if r["method"] == m], ["L"], key)
            xs = np.array([g["L"] for g in st]) + (j - 0.5) * 0.24
            med = np.array([g["median"] for g in st])
            eb = ax.errorbar(xs, med, yerr=[med - np.array([g["q1"] for g in st]), np.array([g["q3"] for g in st]) - med],
                             fmt="_", ms=14, capsize=3, label=f"{m}: median, IQR")
            ks = [k for k, r in enumerate(rows) if r["method"] == m]
            rp.draw(ax, key, [rows[k]["L"] + (j - 0.5) * 0.24 + 0.06 for k in ks], [pl.y[k] for k in ks],
                    [kinds[k] for k in ks], ks, color=eb[0].get_color(), s=18)
        C.mark_levels(ax, pl, floor_label="0: drawn here", missing_label="no finite value: drawn here")
        ax.set(yscale="log", xlabel="depth L", ylabel=lab, xticks=s["depths"])
        ax.grid(True, which="both", alpha=0.3)
        C.legend_with_runs(ax, rp)
    axes[1].set_title("final error (seed median, IQR)")
    axes[2].set_title("sparsity of the result")
    fig.suptitle(f"{TITLE}: N={s['N']}, M={s['M']}, k={C.k_of(s)}, α={s['alpha']:g}, {s['seeds']} seeds", fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [
        f"**{TITLE}.** Gaussian A, N = {s['N']}, M = {s['M']}, sparse signed truths with k = {C.k_of(s)} "
        f"nonzeros, {s['seeds']} seeds. For each depth L, plain GD from w₀ = α·1 (α = {s['alpha']:g}) and WN-GD "
        f"from the same w₀ (r₀ = α√n, η̃ = {s['eta_tilde']:g}, η_u = 1); steps from the curvature at the ℓ1 "
        f"minimiser (factor {s['step_c']:g}); at most {s['steps']} steps, stop at loss ≤ {s['tol_rel']:g}·½‖y‖². "
        "Left: normalised loss (median over seeds, IQR band; dashed GD, solid WN-GD). Middle: final relative "
        "reconstruction error. Right: fraction of ‖x‖₁ outside the true support. Every run is a marker (left: "
        "where it ended; middle and right: its value, next to the median and IQR bar of all runs at that depth): "
        "filled = reached the loss threshold, open = did not within the budget (its error is that of an "
        "unfinished run), × = diverged, + = failed; a value that is 0 or non-finite is drawn on a labelled dotted "
        "line.",
        "",
        C.run_count_sentence(rows),
        "",
        "Measured (medians over seeds):",
    ]
    for L in s["depths"]:
        for m in sorted({r["method"] for r in rows}):
            sub = [r for r in rows if r["L"] == L and r["method"] == m]
            e = C.median_iqr([r["rel_error"] for r in sub])[0]
            off = C.median_iqr([r["off_support_l1_frac"] for r in sub])[0]
            its = C.median_iqr([r["iters_to_tol"] if r["iters_to_tol"] is not None else np.nan for r in sub])[0]
            nconv = sum(r["status"] == Status.CONVERGED for r in sub)
            lines.append(f"- L = {L}, {m}: error {C.fmt(e)}, off-support mass {C.fmt(off)}, "
                         f"{nconv}/{len(sub)} at threshold (median {C.fmt(its, 3)} iterations)")
    return "\n".join(lines)
