"""Beyond the paper: scaling in N (up to 10⁴) — time per iteration and final error.

``M = m_frac · N`` and ``k = k_frac · M`` grow with ``N``.  For each size and seed, plain GD and
WN-GD (one run each, ``B = 1``, so the time is that of a single run) go for the same step budget
or until the loss threshold.  Reported: wall time per iteration (``GDResult.wall_time / steps``)
and the final relative error.
"""

from __future__ import annotations

import math
import time

import numpy as np

from wnbias.experiments import _common as C

NAME = "scaling"
TITLE = "Scaling in N: time per iteration and final error"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(Ns=[250, 500, 1000, 2000, 5000, 10000], m_frac=0.15, k_frac=0.1, L=2, seeds=1, alpha=0.05,
             eta_tilde=0.1, steps=3000, tol_rel=1e-8, step_c=1.5)
    if quick:
        s.update(Ns=[100, 200, 400, 800], seeds=1, steps=1500)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return int(sum(N * N for N in s["Ns"]) / 1e4) * s["seeds"] + 1


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics.gd import gd, wn_gd

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    rows = []
    a, et = float(s["alpha"]), float(s["eta_tilde"])
    for N in s["Ns"]:
        M = max(2, int(round(s["m_frac"] * N)))
        for seed in range(s["seeds"]):
            p = C.make_problem("sparse", N, M, seed, k=max(1, int(round(s["k_frac"] * M))))
            z_ref = np.asarray(p.x_true)  # the step-size reference; an LP at N = 10⁴ would take minutes
            y, n = p.y, p.n
            loss_tol = s["tol_rel"] * 0.5 * float(y @ y)
            r0 = a * math.sqrt(n)
            for method, res in (
                ("GD", gd(p.A_eff, y, L=s["L"], w0=np.full((1, n), a), mu=C.gd_step(p, s["L"], a, z_ref, s["step_c"]),
                          steps=s["steps"], loss_tol=loss_tol)),
                (f"WN-GD η̃={et:g}", wn_gd(p.A_eff, y, L=s["L"], r0=r0, eta_r=et, eta_u=1.0,
                                          mu=C.wn_step(p, s["L"], r0, et, z_ref, s["step_c"]), steps=s["steps"],
                                          loss_tol=loss_tol)),
            ):
                hit = int(res.hit_tol_at[0])
                rows.append({"N": N, "M": M, "n": n, "seed": seed, "method": method, "steps_run": int(res.steps),
                             "time_per_iter_s": res.wall_time / max(1, res.steps), "wall_s": res.wall_time,
                             "status": C.status_names(res.status)[0],
                             "iters_to_tol": hit if hit >= 0 else None, "rel_error": float(C.rel_error(p, res.x)[0]),
                             "loss_final_rel": float(res.loss[-1, 0]) / (0.5 * float(y @ y))})
            tick(int(N * N / 1e4))
    tick(1)
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _slope(rows, key):
    xs = np.log([r["N"] for r in rows])
    ys = np.log([r[key] for r in rows])
    if len(set(xs)) < 2:
        return float("nan")
    return float(np.polyfit(xs, ys, 1)[0])


def _figure(rows, s):
    plt = C.plt()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.5))
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    ms = C.methods(rows)
    tpi = C.place([r["time_per_iter_s"] for r in rows])
    err = C.place([r["rel_error"] for r in rows])
    for j, m in enumerate(ms):
        ks = [k for k, r in enumerate(rows) if r["method"] == m]
        sub = [rows[k] for k in ks]
        st = C.group_stats(sub, ["N"], "time_per_iter_s")
        line = C.band(axes[0], [g["N"] for g in st], st, f"{m} (slope {_slope(sub, 'time_per_iter_s'):.2f})", marker="none")
        st = C.group_stats(sub, ["N"], "rel_error")
        C.band(axes[1], [g["N"] for g in st], st, m, color=line.get_color(), marker="none")
        xs = C.jitter([r["N"] for r in sub], j, len(ms), width=0.02)
        for ax, pl, panel in ((axes[0], tpi, "time_per_iter"), (axes[1], err, "rel_error")):
            rp.draw(ax, panel, xs, [pl.y[k] for k in ks], [kinds[k] for k in ks], ks, color=line.get_color(), zorder=6)
    C.mark_levels(axes[0], tpi, floor_label="0 s: drawn here", missing_label="no time: drawn here")
    C.mark_levels(axes[1], err, floor_label="error 0: drawn here", missing_label="no finite error: drawn here")
    Ns = np.array(sorted({r["N"] for r in rows}), dtype=float)
    t_ref = np.median([r["time_per_iter_s"] for r in rows if r["N"] == Ns[-1]])
    axes[0].plot(Ns, t_ref * (Ns / Ns[-1]) ** 2, "k:", lw=1, label="∝ N² (one M×n product pair)")
    axes[0].set(xscale="log", yscale="log", xlabel="N (M = %.2g N)" % s["m_frac"], ylabel="seconds per iteration",
                title="time per iteration")
    axes[1].set(xscale="log", yscale="log", xlabel="N", ylabel="relative error ‖x − x_true‖/‖x_true‖",
                title=f"final error after ≤ {s['steps']} steps (open: threshold not reached)")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    C.legend_with_runs(axes[1], rp, fontsize=8)
    fig.suptitle(f"{TITLE} (L={s['L']}, α={s['alpha']:g}, sparse truths k={s['k_frac']:g}·M; median, IQR band)",
                 fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [
        f"**{TITLE}.** Sparse signed truths with k = {s['k_frac']:g}·M nonzeros, Gaussian A with M = {s['m_frac']:g}·N, "
        f"N in {s['Ns']}, {s['seeds']} seed(s). Plain GD from w₀ = α·1 and WN-GD from the same w₀ (r₀ = α√n, "
        f"η̃ = {s['eta_tilde']:g}), α = {s['alpha']:g}, L = {s['L']}; each run stops at loss ≤ {s['tol_rel']:g}·½‖y‖² "
        f"or after {s['steps']} steps (step sizes from the curvature at x_true: no LP at these sizes). Left: wall "
        "time per iteration (one run per call, one process, BLAS threads as set by `reproduce`; the "
        "dotted line is ∝ N², the cost of the two M×n matrix–vector products with M ∝ N); the legend gives the "
        "fitted log–log slope. Right: final relative reconstruction error. Every run is a marker on both panels "
        "(shifted slightly in N per method): filled = reached the loss threshold, open = did not within the "
        "budget (its error is that of an unfinished run), × = diverged, + = failed; a non-finite value is drawn on "
        "a labelled dotted line.",
        "",
        C.run_count_sentence(rows),
        "",
        "Measured (medians over seeds):",
    ]
    for m in C.methods(rows):
        for N in sorted({r["N"] for r in rows}):
            sub = [r for r in rows if r["method"] == m and r["N"] == N]
            tpi = C.median_iqr([r["time_per_iter_s"] for r in sub])[0]
            err = C.median_iqr([r["rel_error"] for r in sub])[0]
            nconv = sum(r["status"] == "converged" for r in sub)
            lines.append(f"- {m}, N = {N}: {tpi * 1e3:.3g} ms/iteration, error {C.fmt(err)}, {nconv}/{len(sub)} at threshold")
    return "\n".join(lines)
