"""Experiment 2 (docs/math.md §7): WN-GD across learning-rate ratios η̃ at a fixed initialisation.

For each truth, seed and ``η̃`` (one batched WN-GD run per seed), measure the ℓ1 gap
``S − ‖z*‖₁`` (``S = ‖w^L‖₁``, the quantity the §5 bound controls; ``z*`` from the LP) and the
iterations to the loss threshold.  Each run's own ``ρ`` comes from its final radius,
``ρ = (r₀/r)·exp((r² − r₀²)/(2η̃))``, and gives ``α_eff = r₀/(√n ρ)`` and the §5 bound evaluated
by ``numerics._derived``; the figure overlays gap and bound, and plots error against speed.
"""

from __future__ import annotations

import math
import time

import numpy as np

from numerics._status import Status

from wnbias.experiments import _common as C

NAME = "eta_ratio"
TITLE = "WN-GD across learning-rate ratios η̃: error against speed, with the §5 bound"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(
        N=1000, M=150, L=2, seeds=5, truths=["sparse", "gaussian"], r0=1.0,
        eta_tildes=[float(e) for e in np.logspace(-2, 1, 10)], steps=40000, tol_rel=1e-8, step_c=1.5, k_frac=0.1,
    )
    if quick:
        s.update(N=200, M=40, seeds=2, eta_tildes=[float(e) for e in np.logspace(-2, 1, 6)], steps=6000)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return len(s["truths"]) * s["seeds"]


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._gd import wn_gd

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    L, r0, ets = s["L"], float(s["r0"]), np.asarray(s["eta_tildes"], dtype=float)
    rows = []
    for truth in s["truths"]:
        for seed in range(s["seeds"]):
            p = C.make_problem(truth, s["N"], s["M"], seed, k=C.k_of(s))
            l1_opt, z_ref = C.l1_reference(p)
            y = p.y
            base = C.gd_step(p, L, r0 / math.sqrt(p.n), z_ref, s["step_c"])  # the same for every η̃: once
            mu = np.array([C.wn_step(p, L, r0, et, z_ref, s["step_c"], base=base) for et in ets])
            res = wn_gd(p.A_eff, y, L=L, r0=np.full(ets.shape, r0), eta_r=ets, eta_u=np.ones_like(ets), mu=mu,
                        steps=s["steps"], loss_tol=s["tol_rel"] * 0.5 * float(y @ y))
            status = C.status_names(res.status)
            lr = C.log_rho(res.r, r0, ets)
            la = C.log_alpha_eff(r0, p.n, lr)
            for i, et in enumerate(ets):
                S = float(np.sum(res.x[i]))
                gap = S - l1_opt
                bound = C.gap_bound(L, l1_opt, S, p.n, float(la[i]))
                hit = int(res.hit_tol_at[i])
                rows.append({
                    "truth": truth, "seed": seed, "eta_tilde": float(et), "r0": r0, "mu": float(res.mu[i]),
                    "status": status[i], "iters_to_tol": hit if hit >= 0 else None, "loss_final": float(res.loss[-1, i]),
                    "r_final": float(res.r[i]), "log_rho": float(lr[i]), "log_alpha_eff": float(la[i]),
                    "magnified": bool(res.r[i] > r0), "l1_opt": l1_opt, "S": S, "gap_abs": gap,
                    "gap_rel": gap / l1_opt, "bound_abs": bound, "bound_rel": bound / l1_opt,
                    "tightness": gap / bound if bound and np.isfinite(bound) and bound > 0 else None,
                    "rel_error": float(C.rel_error(p, res.x[i:i + 1])[0]),
                })
            tick()
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _conv(rows, key, floor):
    """Converged runs' values (others nan), floored at the resolution of the loss threshold."""
    return [dict(r, v=(max(r[key], floor) if r["status"] == Status.CONVERGED and r[key] is not None else np.nan))
            for r in rows]


def _figure(rows, s):
    plt = C.plt()
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    nt = len(s["truths"])
    fig, axes = plt.subplots(nt, 2, figsize=(11, 4.2 * nt), squeeze=False)
    lo, hi = math.log10(min(s["eta_tildes"])), math.log10(max(s["eta_tildes"]))
    for i, truth in enumerate(s["truths"]):
        idx = [k for k, r in enumerate(rows) if r["truth"] == truth]
        sub = [rows[k] for k in idx]
        ax = axes[i, 0]
        floor = math.sqrt(s["tol_rel"])
        g = C.group_stats(_conv(sub, "gap_rel", floor), ["eta_tilde"], "v")
        line = C.band(ax, [x["eta_tilde"] for x in g], g, "median gap (S − ‖z*‖₁)/‖z*‖₁, converged runs", marker="none")
        b = C.group_stats(_conv(sub, "bound_rel", floor), ["eta_tilde"], "v")
        C.band(ax, [x["eta_tilde"] for x in b], b, "§5 bound at the run's own ρ", ls="--", marker="none")
        gap = C.place([r["gap_rel"] for r in sub], floor=floor)
        rp.draw(ax, "gap", [r["eta_tilde"] for r in sub], gap.y, [kinds[k] for k in idx], idx,
                color=line.get_color(), zorder=6)
        nomag = [k for k, r in zip(range(len(sub)), sub) if not r["magnified"]]
        if nomag:
            ax.scatter([sub[k]["eta_tilde"] for k in nomag], [gap.y[k] for k in nomag], marker="s", s=80,
                       facecolors="none", edgecolors="k", label="r_final < r₀ (shrinking radius)", zorder=5)
        ax.axhline(floor, color="gray", ls=":", lw=1, label="resolution √tol (gaps below drawn here)")
        if gap.n_missing:
            ax.axhline(gap.missing, color="tab:red", ls=":", lw=1, label="no finite gap: drawn here")
        ax.set(xscale="log", yscale="log", xlabel="η̃ = η_r/η_u", ylabel="relative ℓ1 gap",
               title=f"{truth} truth: gap and bound vs η̃")
        ax.grid(True, which="both", alpha=0.3)
        C.legend_with_runs(ax, rp)
        ax = axes[i, 1]
        its = [r["iters_to_tol"] if r["iters_to_tol"] is not None else s["steps"] for r in sub]
        rp.draw(ax, "speed", its, gap.y, [kinds[k] for k in idx], idx,
                colors=[math.log10(r["eta_tilde"]) for r in sub], cmap="viridis", vmin=lo, vmax=hi, s=25)
        sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(lo, hi))
        ax.axhline(floor, color="gray", ls=":", lw=1)
        ax.axvline(s["steps"], color="gray", ls="--", lw=1, label=f"budget {s['steps']} (not reached: drawn here)")
        fig.colorbar(sm, ax=ax, label="log10 η̃")
        ax.set(xscale="log", yscale="log", xlabel=f"iterations to loss ≤ {s['tol_rel']:g}·½‖y‖²",
               ylabel="relative ℓ1 gap", title=f"{truth} truth: error against speed (each run)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        C.tidy_log_axis(ax)
    fig.suptitle(f"{TITLE}\nN={s['N']}, M={s['M']}, L={s['L']}, r₀={s['r0']:g}, {s['seeds']} seeds; median, IQR band",
                 fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [
        f"**{TITLE}.** Gaussian A, N = {s['N']}, M = {s['M']}, L = {s['L']}, signed model, r₀ = {s['r0']:g} with "
        f"the uniform direction, η_u = 1, η_r = η̃; {s['seeds']} seeds per truth; step μ from the curvature "
        f"at the ℓ1 minimiser (factor {s['step_c']:g}) divided by max(r², η̃). Runs stop at loss ≤ "
        f"{s['tol_rel']:g}·½‖y‖² or after {s['steps']} steps. Left: the ℓ1 gap S − ‖z*‖₁ (S = ‖w^L‖₁, z* from "
        "the LP), relative to ‖z*‖₁, and the a-posteriori bound of docs/math.md §5 evaluated at each run's own "
        "ρ = (r₀/r)·exp((r² − r₀²)/(2η̃)) from its final radius (medians and IQR over seeds, converged runs only). "
        f"Gaps below the resolution √tol = {math.sqrt(s['tol_rel']):g} set by the loss threshold (they can be "
        "slightly negative, since Ax ≠ y exactly) are drawn at that level (dotted line); the CSV has the values. "
        "Every run is also drawn on its own: filled = reached the threshold, open = did not (its gap is that of "
        "an unfinished run), × = diverged, + = failed; a non-finite gap is drawn on the red dotted line. "
        "Squares: runs that ended with r < r₀, the shrinking-radius regime of docs/math.md §4.5, where "
        "ρ < r₀/r (their ρ, from the final radius, is in the CSV as log_rho). Right: gap against iterations to the "
        "loss threshold, one point per run, colour = log10 η̃; a run that did not reach the threshold has no such "
        f"number and is drawn at its budget of {s['steps']} steps (dashed line) with the open marker.",
        "",
        C.run_count_sentence(rows),
        "",
        "Measured (medians over converged runs):",
    ]
    for truth in s["truths"]:
        for et in s["eta_tildes"]:
            sub = [r for r in rows if r["truth"] == truth and r["eta_tilde"] == et and r["status"] == Status.CONVERGED]
            if not sub:
                lines.append(f"- {truth}, η̃ = {et:.3g}: no run reached the threshold")
                continue
            gap = C.median_iqr([r["gap_rel"] for r in sub])[0]
            bnd = C.median_iqr([r["bound_rel"] for r in sub])[0]
            its = C.median_iqr([r["iters_to_tol"] for r in sub])[0]
            viol = sum(1 for r in sub if r["bound_abs"] is not None and np.isfinite(r["bound_abs"])
                       and r["gap_abs"] > r["bound_abs"])
            lines.append(f"- {truth}, η̃ = {et:.3g}: gap {C.fmt(gap)}, bound {C.fmt(bnd)}, {C.fmt(its, 3)} iterations; "
                         f"gap > bound in {viol}/{len(sub)} runs")
    return "\n".join(lines)
