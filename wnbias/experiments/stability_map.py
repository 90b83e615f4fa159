"""Beyond the paper: a stability map of WN-GD over (η̃, μ), both across orders of magnitude.

All grid cells of one seed run as a single batched WN-GD computation.  Each run ends in one of
three states: *diverged* (non-finite or loss grown by ``numerics._gd.DIVERGENCE_FACTOR``),
*converged* (loss reached the threshold) or *stalls* (neither within the step budget).  The map
shows the majority state over seeds and, for converged cells, the iterations needed.
"""

from __future__ import annotations

import math
import time

import numpy as np

from wnbias.experiments import _common as C

NAME = "stability_map"
TITLE = "Stability map of WN-GD over (η̃, μ)"
STATES = ("diverged", "failed", "stalls", "converged")


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(N=1000, M=150, L=2, seeds=3, truth="sparse", r0=1.0,
             eta_tildes=[float(e) for e in np.logspace(-3, 2, 11)],
             mus=[float(m) for m in np.logspace(-6, 0, 13)], steps=10000, tol_rel=1e-8, k_frac=0.1)
    if quick:
        s.update(N=200, M=40, seeds=1, eta_tildes=[float(e) for e in np.logspace(-3, 2, 6)],
                 mus=[float(m) for m in np.logspace(-5, 0, 6)], steps=2000)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return s["seeds"]


def _state(status: str) -> str:
    """The map's name of a run's outcome (:func:`C.run_kind`; ``not_converged`` is called *stalls*)."""
    k = C.run_kind(status)
    return "stalls" if k == "not_converged" else k


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._gd import wn_gd

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    ets, mus = np.asarray(s["eta_tildes"]), np.asarray(s["mus"])
    E, MU = np.meshgrid(ets, mus, indexing="ij")
    e, m = E.ravel(), MU.ravel()
    rows = []
    ref_mu = []
    for seed in range(s["seeds"]):
        p = C.make_problem(s["truth"], s["N"], s["M"], seed, k=C.k_of(s))
        _, z_ref = C.l1_reference(p)
        ref_mu.append(C.gd_step(p, s["L"], s["r0"] / math.sqrt(p.n), z_ref, 1.0)
                      / float(np.sum(C.effective(p, z_ref) ** (2.0 / s["L"]))))
        y = p.y
        res = wn_gd(p.A_eff, y, L=s["L"], r0=np.full(e.shape, s["r0"]), eta_r=e, eta_u=np.ones_like(e), mu=m,
                    steps=s["steps"], loss_tol=s["tol_rel"] * 0.5 * float(y @ y))
        st = C.status_names(res.status)
        for i in range(e.size):
            hit = int(res.hit_tol_at[i])
            rows.append({"seed": seed, "eta_tilde": float(e[i]), "mu": float(m[i]), "status": st[i],
                         "state": _state(st[i]), "iters_to_tol": hit if hit >= 0 else None,
                         "loss_final_rel": float(res.loss[-1, i]) / (0.5 * float(y @ y)),
                         "r_final": float(res.r[i]), "rel_error": float(C.rel_error(p, res.x[i:i + 1])[0])})
        tick()
    s["mu_ref_median"] = float(np.median(ref_mu))
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _grid(rows, s):
    ets, mus = s["eta_tildes"], s["mus"]
    state = np.full((len(mus), len(ets)), np.nan)
    its = np.full_like(state, np.nan)
    for i, et in enumerate(ets):
        for j, mu in enumerate(mus):
            cell = [r for r in rows if r["eta_tilde"] == et and r["mu"] == mu]
            counts = [sum(r["state"] == k for r in cell) for k in STATES]
            state[j, i] = int(np.argmax(counts))
            conv = [r["iters_to_tol"] for r in cell if r["state"] == "converged"]
            if conv:
                its[j, i] = float(np.median(conv))
    return state, its


def _figure(rows, s):
    from matplotlib.colors import BoundaryNorm, ListedColormap

    plt = C.plt()
    state, its = _grid(rows, s)
    lx, ly = np.log10(s["eta_tildes"]), np.log10(s["mus"])
    ext = [lx[0] - (lx[1] - lx[0]) / 2, lx[-1] + (lx[1] - lx[0]) / 2, ly[0] - (ly[1] - ly[0]) / 2, ly[-1] + (ly[1] - ly[0]) / 2]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    cmap = ListedColormap(["#d62728", "#9467bd", "#bbbbbb", "#2ca02c"])
    im = axes[0].imshow(state, origin="lower", extent=ext, aspect="auto", cmap=cmap,
                        norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5, 3.5], 4))
    cb = fig.colorbar(im, ax=axes[0], ticks=[0, 1, 2, 3])
    cb.ax.set_yticklabels(["diverges", "fails", "stalls", "converges"])
    axes[0].set_title(f"outcome within {s['steps']} steps (majority of {s['seeds']} seeds)")
    im2 = axes[1].imshow(np.log10(its), origin="lower", extent=ext, aspect="auto", cmap="viridis")
    fig.colorbar(im2, ax=axes[1], label="log10 iterations to threshold")
    axes[1].set_title("speed of the converged cells (median)")
    # every run inside its cell: seeds side by side, marker by outcome
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    dx = (lx[1] - lx[0]) if len(lx) > 1 else 1.0
    ns = max(1, s["seeds"])
    xs = [math.log10(r["eta_tilde"]) + ((r["seed"] + 0.5) / ns - 0.5) * 0.7 * dx for r in rows]
    ys = [math.log10(r["mu"]) for r in rows]
    for ax, panel in ((axes[0], "outcome"), (axes[1], "speed")):
        rp.draw(ax, panel, xs, ys, kinds, range(len(rows)), color="k", s=14 if ns > 1 else 22)
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
    for ax in axes:
        ax.set(xlabel="log10 η̃", ylabel="log10 μ")
        ax.axhline(math.log10(s["mu_ref_median"]), color="k", ls="--", lw=1)
    h = rp.legend_handles(rp.kinds_drawn())
    fig.legend(handles=h, loc="lower center", ncol=len(h), fontsize=8, title="each run (seeds side by side in a cell)",
               title_fontsize=8)
    axes[0].text(ext[0] + 0.1, math.log10(s["mu_ref_median"]) + 0.1, "μ_ref (curvature at z*, r = r_est)", fontsize=8)
    fig.suptitle(f"{TITLE}: {s['truth']} truth, N={s['N']}, M={s['M']}, L={s['L']}, r₀={s['r0']:g}", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig, rp


def _caption(rows, s):
    n = len(rows)
    counts = {k: sum(r["state"] == k for r in rows) for k in STATES}
    state, _ = _grid(rows, s)
    lines = [
        f"**{TITLE}.** WN-GD (L = {s['L']}, r₀ = {s['r0']:g}, uniform direction, η_u = 1, η_r = η̃) on a "
        f"{s['truth']} truth, Gaussian A, N = {s['N']}, M = {s['M']}, over {len(s['eta_tildes'])} values of η̃ "
        f"in [{min(s['eta_tildes']):g}, {max(s['eta_tildes']):g}] and {len(s['mus'])} step sizes μ in "
        f"[{min(s['mus']):g}, {max(s['mus']):g}], {s['seeds']} seed(s), at most {s['steps']} steps. A run "
        f"*converges* when the loss reaches {s['tol_rel']:g}·½‖y‖², *diverges* when the loss becomes non-finite or "
        "grows by the divergence factor of numerics._gd, and otherwise *stalls*. Left: the majority outcome per "
        "cell (a *failed* run, one the integrator gave up on, is its own state); right: median iterations of the "
        "converged runs (blank: no run of the cell converged). Every run is also a marker inside its cell (seeds "
        "side by side): filled = converged, open = stalled (threshold not reached within the budget), "
        "× = diverged, + = failed. Dashed: the reference step μ_ref = 1/(λ_max of "
        "the loss Hessian at the ℓ1 minimiser) / r_est², with r_est² = Σ x_i^{2/L} of that minimiser.",
        "",
        f"Measured: {counts['converged']}/{n} runs converged, {counts['diverged']}/{n} diverged, "
        f"{counts['stalls']}/{n} stalled, {counts['failed']}/{n} failed.",
        C.run_count_sentence(rows),
    ]
    for i, et in enumerate(s["eta_tildes"]):
        col = state[:, i]
        conv = [s["mus"][j] for j in range(len(s["mus"])) if col[j] == STATES.index("converged")]
        div = [s["mus"][j] for j in range(len(s["mus"])) if col[j] == 0]
        lines.append(f"- η̃ = {et:.3g}: converges for μ in "
                     f"{'[' + C.fmt(min(conv)) + ', ' + C.fmt(max(conv)) + ']' if conv else 'none'}; "
                     f"smallest diverging μ {C.fmt(min(div)) if div else 'none'}")
    return "\n".join(lines)
