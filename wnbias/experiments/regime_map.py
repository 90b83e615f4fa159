"""Beyond the paper: the regime map over (r₀, η̃) from the exact limit (docs/math.md §4), no integration.

For each initial radius ``r₀`` and ratio ``η̃``, :func:`numerics._limit.limit_solve` (float64) gives
``r_∞`` as the root of ``φ(r) = Σ x_i(r)^{2/L} − r²``; from it ``log ρ``, the limit ``x_∞`` and its
relative ℓ1 gap against the LP.  The shrinking-radius region ``r_∞ < r₀`` (docs/math.md §4.5: there
``ρ < r₀/r_∞``, and ``ρ < 1`` unless ``η̃`` is large; the CSV column keeps its old name
``no_magnification``) is marked from the
solver's ``r_∞``, and independently from the sign of ``φ(r₀)``: at ``r = r₀`` the factor ``ρ`` is 1,
so ``φ(r₀)`` is one Bregman projection of ``β = w₀^{⊙L}`` (the plain-GF limit from ``w₀``) and does
not depend on ``η̃``; where the root is unique, ``r_∞ < r₀`` exactly when ``φ(r₀) < 0``.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from numerics._status import Status

from wnbias.experiments import _common as C

NAME = "regime_map"
TITLE = "Regime map over (r₀, η̃): magnification ρ and ℓ1 gap of the exact limit"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(N=200, M=40, L=2, seeds=3, truth="sparse", k_frac=0.1, models=["signed", "positive"],
             r0s=[float(v) for v in np.logspace(-1, 1.5, 8)], eta_tildes=[float(v) for v in np.logspace(-2, 1, 8)])
    if quick:
        s.update(N=40, M=12, seeds=1, r0s=[float(v) for v in np.logspace(-1, 1.5, 5)],
                 eta_tildes=[float(v) for v in np.logspace(-2, 1, 5)])
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return s["seeds"] * len(s["r0s"]) * len(s["models"])


def phi_at_r0(problem, L: int, r0: float) -> float:
    """``φ(r₀) = Σ x_i^{2/L} − r₀²`` with ``x`` the Bregman projection of ``β = (r₀/√n)^L·1``."""
    from numerics._bregman import bregman_projection

    n = problem.n
    res = bregman_projection(problem.A_eff, problem.y, None, L, log_beta=np.full(n, L * math.log(r0 / math.sqrt(n))))
    if res.status is not Status.CONVERGED:
        return float("nan")
    return float(np.sum(np.asarray(res.x, dtype=float) ** (2.0 / L)) - r0 * r0)


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._config import FlowConfig
    from numerics._limit import limit_solve

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    rows = []
    for model, seed in [(m, sd) for m in s["models"] for sd in range(s["seeds"])]:
        p = C.make_problem(s["truth"], s["N"], s["M"], seed, k=C.k_of(s), model=model)
        l1_opt, _ = C.l1_reference(p)
        for r0 in s["r0s"]:
            phi0 = phi_at_r0(p, s["L"], r0)
            for et in s["eta_tildes"]:
                t1 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    res = limit_solve(p, FlowConfig(L=s["L"], r0=r0, eta_r=et, eta_u=1.0))
                ok = res.status is Status.CONVERGED
                row = {"model": model, "seed": seed, "r0": r0, "eta_tilde": et, "status": res.status.value,
                       "message": res.message.splitlines()[0][:200] if res.message else "",
                       "phi_r0": phi0, "solve_s": time.perf_counter() - t1,
                       "r_inf": None, "log10_rho": None, "rel_l1_gap": None, "no_magnification": None}
                if ok:
                    r_inf = float(res.r_inf)
                    x = np.asarray(res.x_inf_user, dtype=float)
                    row.update(r_inf=r_inf, log10_rho=float(C.log_rho(r_inf, r0, et)) / math.log(10),
                               rel_l1_gap=(float(np.abs(x).sum()) - l1_opt) / l1_opt, no_magnification=bool(r_inf < r0))
                rows.append(row)
            tick()
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _median_grid(rows, s, key):
    g = np.full((len(s["r0s"]), len(s["eta_tildes"])), np.nan)
    for i, r0 in enumerate(s["r0s"]):
        for j, et in enumerate(s["eta_tildes"]):
            v = [r[key] for r in rows if r["r0"] == r0 and r["eta_tilde"] == et and r[key] is not None]
            if v:
                g[i, j] = float(np.median(np.asarray(v, dtype=float)))
    return g


def _figure(rows, s):
    plt = C.plt()
    lx, ly = np.log10(s["eta_tildes"]), np.log10(s["r0s"])
    dx, dy = (lx[1] - lx[0]) / 2, (ly[1] - ly[0]) / 2
    ext = [lx[0] - dx, lx[-1] + dx, ly[0] - dy, ly[-1] + dy]
    nm = len(s["models"])
    fig, axes = plt.subplots(nm, 2, figsize=(12.5, 4.6 * nm), squeeze=False)
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    ns = max(1, s["seeds"])
    for k, model in enumerate(s["models"]):
        ks = [q for q, r in enumerate(rows) if r["model"] == model]
        sub = [rows[q] for q in ks]
        # every solve as a marker in the lower part of its cell, seeds side by side
        xs = [math.log10(r["eta_tilde"]) + ((r["seed"] + 0.5) / ns - 0.5) * 1.2 * dx for r in sub]
        ys = [math.log10(r["r0"]) - 0.55 * dy for r in sub]
        rho = _median_grid(sub, s, "log10_rho")
        gap = _median_grid(sub, s, "rel_l1_gap")
        nomag = _median_grid([dict(r, nm=(None if r["no_magnification"] is None else float(r["no_magnification"])))
                              for r in sub], s, "nm")
        phi_neg = _median_grid([dict(r, pn=float(r["phi_r0"] < 0) if np.isfinite(r["phi_r0"]) else None)
                                for r in sub], s, "pn")
        failed = np.isnan(rho)
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = np.log10(np.maximum(gap, 1e-16))
        for ax, data, lab, cmap in ((axes[k, 0], rho, "log10 ρ (median over seeds)", "magma"),
                                    (axes[k, 1], lg, "log10 relative ℓ1 gap (floored at 1e-16)", "viridis")):
            im = ax.imshow(data, origin="lower", extent=ext, aspect="auto", cmap=cmap)
            fig.colorbar(im, ax=ax, label=lab)
            for i in range(len(s["r0s"])):
                for j in range(len(s["eta_tildes"])):
                    xc, yc = lx[j], ly[i]
                    if failed[i, j]:
                        ax.add_patch(plt.Rectangle((xc - dx, yc - dy), 2 * dx, 2 * dy, fill=True, color="#dddddd",
                                                   hatch="xx", ec="gray", lw=0))
                        ax.text(xc, yc, "fail", ha="center", va="center", fontsize=7, color="k")
                    if nomag[i, j] >= 0.5:
                        ax.add_patch(plt.Rectangle((xc - dx, yc - dy), 2 * dx, 2 * dy, fill=False, ec="cyan", lw=2))
                    if phi_neg[i, j] >= 0.5:
                        ax.plot(xc, yc, marker="D", mfc="none", mec="white", ms=8)
            panel = "rho" if ax is axes[k, 0] else "gap"
            rp.draw(ax, panel, xs, ys, [kinds[q] for q in ks], ks, color="white", s=12 if ns > 1 else 16, lw=0.8)
            ax.set_xlim(ext[0], ext[1])
            ax.set_ylim(ext[2], ext[3])
            ax.set(xlabel="log10 η̃", ylabel="log10 r₀")
        axes[k, 0].set_title(f"{model} model: magnification ρ of the limit")
        axes[k, 1].set_title(f"{model} model: ℓ1 gap of the limit vs the LP minimiser")
    fig.suptitle(f"{TITLE}\n{s['truth']} truth, N={s['N']}, M={s['M']}, L={s['L']}, {s['seeds']} seed(s); cyan frame: "
                 "r_∞ < r₀ (shrinking radius); white diamond: φ(r₀) < 0; hatched: limit_solve failed in every seed",
                 fontsize=9)
    h = rp.legend_handles(rp.kinds_drawn(), color="0.35")
    fig.legend(handles=h, loc="lower center", ncol=len(h), fontsize=8,
               title="each solve (white markers at the bottom of its cell, seeds side by side)", title_fontsize=8)
    fig.tight_layout(rect=(0, 0.06 / nm, 1, 1))
    return fig, rp


def _caption(rows, s):
    lines = [
        f"**{TITLE}.** {s['truth']} truth, Gaussian A, N = {s['N']}, M = {s['M']}, L = {s['L']}, models "
        f"{' and '.join(s['models'])} (one row each), {s['seeds']} seed(s); "
        f"{len(s['r0s'])} radii r₀ in [{min(s['r0s']):.3g}, {max(s['r0s']):.3g}] × {len(s['eta_tildes'])} ratios η̃ in "
        f"[{min(s['eta_tildes']):.3g}, {max(s['eta_tildes']):.3g}]. Each cell is the exact WN-GF limit from "
        "numerics._limit.limit_solve (float64 root of φ, docs/math.md §4): left log10 ρ with ρ = (r₀/r_∞)·exp((r_∞² − "
        "r₀²)/(2η̃)), right the relative ℓ1 gap (‖x_∞‖₁ − ‖z*‖₁)/‖z*‖₁ against the LP (medians over seeds). Cyan "
        "frames: r_∞ < r₀, the shrinking-radius regime of docs/math.md §4.5, where ρ < r₀/r_∞ for every η̃ and "
        "ρ < 1 unless η̃ > (r₀² − r_∞²)/(2 log(r₀/r_∞)); the ρ of each cell is the one measured (left panel, CSV). "
        "White diamonds: φ(r₀) < 0, computed independently "
        "from one Bregman projection of w₀^L (the plain-GF limit), which does not depend on η̃. Hatched: the solver "
        "reported failure in every seed of the cell (its message is in the CSV); the medians are over the seeds "
        "whose solve converged. Every solve is a small white marker at the bottom of its cell (seeds side by "
        "side): filled = converged, open = stopped without reaching its tolerance (time limit, noise floor, "
        "step budget), × = diverged, + = failed. In the signed model with the uniform u₀, A_eff·w₀^L = 0, "
        "so the plain-GF projection only adds mass (φ(r₀) > 0) and r_∞ > r₀ is expected throughout; the positive "
        "model has a shrinking-radius region at large r₀.",
        "",
        C.run_count_sentence(rows, noun="limit solves"),
        "",
        "Measured:",
    ]
    for model in s["models"]:
        mrows = [r for r in rows if r["model"] == model]
        ok = [r for r in mrows if r["status"] == Status.CONVERGED]
        nomag = [r for r in ok if r["no_magnification"]]
        agree = sum(1 for r in ok if np.isfinite(r["phi_r0"]) and (r["phi_r0"] < 0) == r["no_magnification"])
        r0_nm = sorted({r["r0"] for r in nomag})
        mag_anyway = sum(1 for r in nomag if r["log10_rho"] is not None and r["log10_rho"] > 0)
        lines.append(f"- {model} model: limit_solve converged in {len(ok)}/{len(mrows)} cells; r_∞ < r₀ in {len(nomag)} "
                     f"of them{' (r₀ ≥ ' + C.fmt(r0_nm[0], 3) + ')' if r0_nm else ''}, of which {mag_anyway} "
                     f"still have ρ > 1 (large η̃, docs/math.md §4.5); the sign of φ(r₀) agrees with "
                     f"r_∞ < r₀ in {agree}/{len(ok)}; median solve time "
                     f"{C.fmt(C.median_iqr([r['solve_s'] for r in mrows])[0])} s.")
        for et in s["eta_tildes"]:
            sub = [r for r in ok if r["eta_tilde"] == et]
            if sub:
                lines.append(f"  - η̃ = {et:.3g}: gap from {C.fmt(min(r['rel_l1_gap'] for r in sub))} to "
                             f"{C.fmt(max(r['rel_l1_gap'] for r in sub))}, log10 ρ from "
                             f"{C.fmt(min(r['log10_rho'] for r in sub), 3)} to {C.fmt(max(r['log10_rho'] for r in sub), 3)}")
    fails = [r for r in rows if r["status"] != Status.CONVERGED]
    if fails:
        lines.append(f"- failures ({len(fails)}): e.g. r₀ = {fails[0]['r0']:.3g}, η̃ = {fails[0]['eta_tilde']:.3g}: "
                     f"{fails[0]['message'][:120]}")
    return "\n".join(lines)
