"""Beyond the paper: the measured convergence rate of WN-GD against η̃.

From each run's recorded loss, the rate is the slope of ``−log(loss)`` against the iteration,
fitted over the final stretch of the run: from where the loss first falls below ``fit_from``
(relative to ``½‖y‖²``) to where the run stops.  It is reported per iteration and per unit of
flow time ``t = μ·k`` (the step sizes differ across η̃).  A linear fit of ``log loss`` is the
exponential-rate model; the fit's R² is kept so that sub-exponential tails show as a poor fit.
"""

from __future__ import annotations

import time

import numpy as np

from wnbias.experiments import _common as C

NAME = "rate"
TITLE = "Measured convergence rate of WN-GD against η̃"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(N=1000, M=150, L=2, seeds=5, truths=["sparse", "gaussian"], r0=1.0,
             eta_tildes=[float(v) for v in np.logspace(-2, 1, 10)], steps=20000, tol_rel=1e-10, fit_from=1e-4,
             step_c=1.5, k_frac=0.1, records=400)
    if quick:
        s.update(N=200, M=40, seeds=2, truths=["sparse"], eta_tildes=[float(v) for v in np.logspace(-2, 1, 6)],
                 steps=5000, records=200)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return len(s["truths"]) * s["seeds"]


def fit_rate(iters: np.ndarray, loss: np.ndarray, start_level: float) -> tuple[float, float, int]:
    """``(rate, R², points)``: least-squares slope of ``−log loss`` over iterations after the loss
    first drops below ``start_level``; nan when fewer than 3 usable points."""
    iters, loss = np.asarray(iters, dtype=float), np.asarray(loss, dtype=float)
    ok = np.isfinite(loss) & (loss > 0)
    below = np.nonzero(ok & (loss <= start_level))[0]
    if below.size == 0:
        return float("nan"), float("nan"), 0
    sel = np.arange(below[0], len(loss))
    sel = sel[ok[sel]]
    if sel.size < 3 or iters[sel[-1]] == iters[sel[0]]:
        return float("nan"), float("nan"), int(sel.size)
    x, yv = iters[sel], np.log(loss[sel])
    coef = np.polyfit(x, yv, 1)
    pred = np.polyval(coef, x)
    ss = float(np.sum((yv - yv.mean()) ** 2))
    r2 = 1.0 - float(np.sum((yv - pred) ** 2)) / ss if ss > 0 else float("nan")
    return float(-coef[0]), r2, int(sel.size)


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics.gd import wn_gd

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    ets = np.asarray(s["eta_tildes"], dtype=float)
    r0 = float(s["r0"])
    rows = []
    for truth in s["truths"]:
        for seed in range(s["seeds"]):
            p = C.make_problem(truth, s["N"], s["M"], seed, k=C.k_of(s))
            _, z_ref = C.l1_reference(p)
            y = p.y
            scale = 0.5 * float(y @ y)
            mu = np.array([C.wn_step(p, s["L"], r0, et, z_ref, s["step_c"]) for et in ets])
            res = wn_gd(p.A_eff, y, L=s["L"], r0=np.full(ets.shape, r0), eta_r=ets, eta_u=np.ones_like(ets), mu=mu,
                        steps=s["steps"], loss_tol=s["tol_rel"] * scale, record_every=max(1, s["steps"] // s["records"]))
            st = C.status_names(res.status)
            for i, et in enumerate(ets):
                rate, r2, npts = fit_rate(res.iters, res.loss[:, i] / scale, s["fit_from"])
                hit = int(res.hit_tol_at[i])
                rows.append({"truth": truth, "seed": seed, "eta_tilde": float(et), "mu": float(mu[i]), "status": st[i],
                             "iters_to_tol": hit if hit >= 0 else None, "rate_per_iter": rate,
                             "rate_per_time": rate / float(mu[i]) if np.isfinite(rate) else float("nan"),
                             "fit_r2": r2, "fit_points": npts, "r_final": float(res.r[i]),
                             "loss_final_rel": float(res.loss[-1, i]) / scale})
            tick()
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _figure(rows, s):
    plt = C.plt()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.5))
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    # a run without a rate (the loss never fell below fit_from, or too few records after it) or with a
    # rate ≤ 0 is drawn on a "no rate" level below the others
    places = {key: C.place([r[key] for r in rows], missing="bottom") for key in ("rate_per_iter", "rate_per_time")}
    for j, truth in enumerate(s["truths"]):
        ks = [k for k, r in enumerate(rows) if r["truth"] == truth]
        sub = [rows[k] for k in ks]
        for ax, key in ((axes[0], "rate_per_iter"), (axes[1], "rate_per_time")):
            st = C.group_stats(sub, ["eta_tilde"], key)
            line = C.band(ax, [g["eta_tilde"] for g in st], st, f"{truth} truth (median of the runs with a rate)", marker="none")
            rp.draw(ax, key, C.jitter([r["eta_tilde"] for r in sub], j, len(s["truths"])),
                    [places[key].y[k] for k in ks], [kinds[k] for k in ks], ks, color=line.get_color(), zorder=6)
    for ax, key in ((axes[0], "rate_per_iter"), (axes[1], "rate_per_time")):
        C.mark_levels(ax, places[key], floor_label="rate ≤ 0: drawn here",
                      missing_label=f"no rate (loss never < {s['fit_from']:g}·½‖y‖²): drawn here")
    axes[0].set(ylabel="rate per iteration  (−d log loss / dk)", title="per iteration (at each η̃'s step μ)")
    axes[1].set(ylabel="rate per unit flow time  (−d log loss / dt, t = μk)", title="per unit flow time")
    for ax in axes:
        ax.set(xscale="log", yscale="log", xlabel="η̃ = η_r/η_u")
        ax.grid(True, which="both", alpha=0.3)
        C.legend_with_runs(ax, rp)
    fig.suptitle(f"{TITLE} (N={s['N']}, M={s['M']}, L={s['L']}, r₀={s['r0']:g}; fit after loss < {s['fit_from']:g}·½‖y‖²; "
                 "median, IQR band)", fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [
        f"**{TITLE}.** WN-GD (L = {s['L']}, r₀ = {s['r0']:g}, η_u = 1, η_r = η̃) on Gaussian A, N = {s['N']}, "
        f"M = {s['M']}, truths {', '.join(s['truths'])}, {s['seeds']} seed(s), at most {s['steps']} steps, stop at loss "
        f"≤ {s['tol_rel']:g}·½‖y‖². The rate is the least-squares slope of −log(loss) against the iteration over the "
        f"records after the loss first falls below {s['fit_from']:g}·½‖y‖² (an exponential-rate model; R² in the CSV "
        "shows how well it fits). Left: per iteration; right: per unit of flow time t = μk, which removes the "
        "different step sizes (μ is set from the curvature and divided by max(r², η̃)). Every run is a marker: "
        "filled = reached the loss threshold, open = did not within the budget (its rate is that of the "
        "stretch it ran), × = diverged, + = failed. A run that never reached the fit level (or has fewer than "
        "3 records after it) has no rate and is drawn on the red dotted \"no rate\" line at the bottom; a rate "
        "≤ 0 is drawn on the gray dotted line. The lines are medians of the runs with a rate.",
        "",
        C.run_count_sentence(rows),
        f"Runs without a rate: {sum(1 for r in rows if not np.isfinite(r['rate_per_iter']))} of {len(rows)}.",
        "",
        "Measured (medians over seeds):",
    ]
    for truth in s["truths"]:
        for et in s["eta_tildes"]:
            sub = [r for r in rows if r["truth"] == truth and r["eta_tilde"] == et]
            rt = C.median_iqr([r["rate_per_iter"] for r in sub])[0]
            rtt = C.median_iqr([r["rate_per_time"] for r in sub])[0]
            r2 = C.median_iqr([r["fit_r2"] for r in sub])[0]
            lines.append(f"- {truth}, η̃ = {et:.3g}: {C.fmt(rt)} per iteration, {C.fmt(rtt)} per unit time (R² {C.fmt(r2, 3)})")
    return "\n".join(lines)
