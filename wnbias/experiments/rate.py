"""Beyond the paper: the measured convergence rate of WN-GD against η̃, r₀ and L (docs/math.md §6.1).

From each run's recorded loss, the rate is the slope of ``−log(loss)`` against the iteration,
fitted over the final stretch of the run: from where the loss first falls below ``fit_from``
(relative to ``½‖y‖²``) to where the run stops.  It is reported per iteration and per unit of
flow time ``t = μ·k`` (the step sizes differ across η̃).  A linear fit of ``log loss`` is the
exponential-rate model; the fit's R² is kept so that sub-exponential tails show as a poor fit.

Against it: the rate the Łojasiewicz (Polyak–Łojasiewicz) argument gives near the end point.
Along WN-GF ``ẇ = −P ∇_w ℒ`` with ``P = η_r ūūᵀ + η_u r²(I − ūūᵀ)`` (``‖u‖ = 1``), so the residual
``e = Ax − y`` obeys ``ė = −K e`` with ``K = A D P D Aᵀ``, ``D = diag(L w^{L−1})``, and
``dℒ/dt ≤ −2 λ_min(K) ℒ``: the loss decays at least at the rate ``2 λ_min(K)`` per unit flow time
while ``K`` stays as it is.  For ``L = 2`` this is the local form of the inequality [CRW] use to
prove convergence; for ``L > 2`` the same linearisation is evaluated, with no proof behind it.
:func:`pl_rate` evaluates it at the run's final iterate.
"""

from __future__ import annotations

import time

import numpy as np

from numerics import Status
from wnbias.experiments import _common as C

NAME = "rate"
TITLE = "Measured convergence rate of WN-GD against η̃, r₀ and L"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    # N = 400 (not the paper's 1000): at N = 1000 no L = 3 run reached the fit level in 2·10⁴ steps,
    # and the tail is what this experiment measures; 4·10⁴ steps at N = 400 cost about as much
    s = dict(N=400, M=80, Ls=[2, 3], seeds=3, truths=["sparse", "gaussian"], r0s=[0.3, 1.0, 3.0],
             eta_tildes=[float(v) for v in np.logspace(-2, 1, 7)], steps=40000, tol_rel=1e-10, fit_from=1e-4,
             step_c=1.5, k_frac=0.1, records=400)
    if quick:
        s.update(N=200, M=40, seeds=1, truths=["sparse"], r0s=[0.5, 2.0],
                 eta_tildes=[float(v) for v in np.logspace(-2, 1, 4)], steps=5000, records=200)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return len(s["truths"]) * s["seeds"]


def fit_rate(iters: np.ndarray, loss: np.ndarray, start_level: float,
             end_level: float | None = None) -> tuple[float, float, int]:
    """``(rate, R², points)``: least-squares slope of ``−log loss`` over iterations after the loss
    first drops below ``start_level`` and up to the first record at or below ``end_level`` (the
    run's loss threshold: in a batch a finished run may be recorded further, down to its rounding
    floor, where the loss no longer decays); nan when fewer than 3 usable points."""
    iters, loss = np.asarray(iters, dtype=float), np.asarray(loss, dtype=float)
    ok = np.isfinite(loss) & (loss > 0)
    below = np.nonzero(ok & (loss <= start_level))[0]
    if below.size == 0:
        return float("nan"), float("nan"), 0
    stop = len(loss)
    if end_level is not None:
        done = np.nonzero(ok & (loss <= end_level))[0]
        if done.size:
            stop = int(done[0]) + 1
    sel = np.arange(below[0], max(stop, below[0] + 1))
    sel = sel[ok[sel]]
    if sel.size < 3 or iters[sel[-1]] == iters[sel[0]]:
        return float("nan"), float("nan"), int(sel.size)
    x, yv = iters[sel], np.log(loss[sel])
    coef = np.polyfit(x, yv, 1)
    pred = np.polyval(coef, x)
    ss = float(np.sum((yv - yv.mean()) ** 2))
    r2 = 1.0 - float(np.sum((yv - pred) ** 2)) / ss if ss > 0 else float("nan")
    return float(-coef[0]), r2, int(sel.size)


def pl_rate(A_eff: np.ndarray, w: np.ndarray, L: int, eta_r: float, eta_u: float = 1.0) -> float:
    """``2 λ_min(A D P D Aᵀ)`` at the weights ``w`` (effective coordinates): the loss rate per unit
    flow time that the Polyak–Łojasiewicz inequality gives there (module docstring); nan if ``w``
    is not finite and positive."""
    w = np.asarray(w, dtype=float)
    r = float(np.linalg.norm(w))
    if not (np.all(np.isfinite(w)) and r > 0):
        return float("nan")
    ubar = w / r
    AD = A_eff * (L * w ** (L - 1))[None, :]  # A D
    v = AD @ ubar
    K = eta_u * r * r * (AD @ AD.T) + (eta_r - eta_u * r * r) * np.outer(v, v)  # A D P D Aᵀ
    from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, tol

    ev = np.linalg.eigvalsh(0.5 * (K + K.T))
    lam = float(ev[0])
    if lam <= tol(DPS_FLOAT64, K_ROUNDOFF) * float(ev[-1]) * K.shape[0]:
        return 0.0  # below what float64 resolves in K: no positive rate is guaranteed
    return 2.0 * lam


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._gd import wn_gd

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    grid = [(int(L), float(r0), float(et)) for L in s["Ls"] for r0 in s["r0s"] for et in s["eta_tildes"]]
    Ls = np.array([g[0] for g in grid])
    r0s = np.array([g[1] for g in grid])
    ets = np.array([g[2] for g in grid])
    rows = []
    for truth in s["truths"]:
        for seed in range(s["seeds"]):
            p = C.make_problem(truth, s["N"], s["M"], seed, k=C.k_of(s))
            _, z_ref = C.l1_reference(p)
            y = p.y
            scale = 0.5 * float(y @ y)
            mu = np.array([C.wn_step(p, L, r0, et, z_ref, s["step_c"]) for L, r0, et in grid])
            res = wn_gd(p.A_eff, y, L=Ls, r0=r0s, eta_r=ets, eta_u=np.ones_like(ets), mu=mu,
                        steps=s["steps"], loss_tol=s["tol_rel"] * scale, record_every=max(1, s["steps"] // s["records"]))
            st = C.status_names(res.status)
            for i, (L, r0, et) in enumerate(grid):
                rate, r2, npts = fit_rate(res.iters, res.loss[:, i] / scale, s["fit_from"], s["tol_rel"])
                hit = int(res.hit_tol_at[i])
                per_time = rate / float(mu[i]) if np.isfinite(rate) else float("nan")
                pred = pl_rate(p.A_eff, res.w[i], L, et)
                rows.append({"truth": truth, "seed": seed, "L": L, "r0": r0, "eta_tilde": et, "mu": float(mu[i]),
                             "status": st[i], "iters_to_tol": hit if hit >= 0 else None, "rate_per_iter": rate,
                             "rate_per_time": per_time, "pl_rate_per_time": pred,
                             "measured_over_pl": per_time / pred if np.isfinite(per_time) and pred > 0 else float("nan"),
                             "fit_r2": r2, "fit_points": npts, "r_final": float(res.r[i]),
                             "loss_final_rel": float(res.loss[-1, i]) / scale})
            tick()
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _figure(rows, s):
    plt = C.plt()
    nL = len(s["Ls"])
    fig, axes = plt.subplots(nL, 3, figsize=(15, 4.2 * nL), squeeze=False)
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    # a run without a rate (the loss never fell below fit_from, or too few records after it) or with a
    # rate ≤ 0 is drawn on a "no rate" level below the others
    places = {key: C.place([r[key] for r in rows], missing="bottom")
              for key in ("rate_per_iter", "rate_per_time", "pl_rate_per_time")}
    colours = {r0: f"C{i}" for i, r0 in enumerate(s["r0s"])}
    series = [(truth, r0) for truth in s["truths"] for r0 in s["r0s"]]
    for a, L in enumerate(s["Ls"]):
        for j, (truth, r0) in enumerate(series):
            ks = [k for k, r in enumerate(rows) if r["truth"] == truth and r["r0"] == r0 and r["L"] == L]
            sub = [rows[k] for k in ks]
            ls = "-" if truth == s["truths"][0] else "--"
            for ax, key in ((axes[a, 0], "rate_per_iter"), (axes[a, 1], "rate_per_time")):
                st = C.group_stats(sub, ["eta_tilde"], key)
                C.band(ax, [g["eta_tilde"] for g in st], st, f"{truth}, r₀ = {r0:g}", marker="none",
                       color=colours[r0], ls=ls)
                rp.draw(ax, key, C.jitter([r["eta_tilde"] for r in sub], j, len(series)),
                        [places[key].y[k] for k in ks], [kinds[k] for k in ks], ks, color=colours[r0], zorder=6)
            rp.draw(axes[a, 2], "measured_vs_pl", [places["pl_rate_per_time"].y[k] for k in ks],
                    [places["rate_per_time"].y[k] for k in ks], [kinds[k] for k in ks], ks, color=colours[r0], zorder=6)
        ax = axes[a, 2]
        fin = [v for r in rows if r["L"] == L for v in (r["pl_rate_per_time"], r["rate_per_time"])
               if v is not None and np.isfinite(v) and v > 0]
        if fin:
            lo, hi = min(fin) / 2, max(fin) * 2
            ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="measured = 2λ_min(K)")
        for c, key in ((0, "rate_per_iter"), (1, "rate_per_time")):
            C.mark_levels(axes[a, c], places[key], floor_label="rate ≤ 0: drawn here",
                          missing_label=f"no rate (loss never < {s['fit_from']:g}·½‖y‖²): drawn here")
        C.mark_levels(ax, places["rate_per_time"], floor_label="measured rate ≤ 0: drawn here",
                      missing_label="no measured rate: drawn here")
        px = places["pl_rate_per_time"]
        if px.n_floored and px.floor is not None:
            ax.axvline(px.floor, color="gray", ls=":", lw=1, label="2λ_min(K) unresolved (0): drawn here")
        if px.n_missing and px.missing is not None:
            ax.axvline(px.missing, color="tab:red", ls=":", lw=1, label="no PL rate (non-finite end point): drawn here")
        lab = "the Łojasiewicz (PL) rate" if L == 2 else "the same linearisation (no proof for L > 2)"
        axes[a, 0].set(ylabel=f"L = {L}: rate per iteration", title=f"L = {L}: per iteration (at each run's step μ)")
        axes[a, 1].set(ylabel="rate per unit flow time (t = μk)", title=f"L = {L}: per unit flow time")
        ax.set(xlabel="2 λ_min(A D P D Aᵀ) at the end point", ylabel="measured rate per unit flow time",
               title=f"L = {L}: measured against {lab}")
        for c in range(2):
            axes[a, c].set(xscale="log", yscale="log", xlabel="η̃ = η_r/η_u")
        ax.set(xscale="log", yscale="log")
        for c in range(3):
            axes[a, c].grid(True, which="both", alpha=0.3)
            C.legend_with_runs(axes[a, c], rp, fontsize=6)
    fig.suptitle(f"{TITLE} (N={s['N']}, M={s['M']}; fit after loss < {s['fit_from']:g}·½‖y‖²; median, IQR band; "
                 "colour = r₀, dashed = second truth)", fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [
        f"**{TITLE}.** WN-GD (L ∈ {s['Ls']}, r₀ ∈ {s['r0s']}, η_u = 1, η_r = η̃) on Gaussian A, N = {s['N']}, "
        f"M = {s['M']}, truths {', '.join(s['truths'])}, {s['seeds']} seed(s), at most {s['steps']} steps, stop at loss "
        f"≤ {s['tol_rel']:g}·½‖y‖². The rate is the least-squares slope of −log(loss) against the iteration over the "
        f"records after the loss first falls below {s['fit_from']:g}·½‖y‖² (an exponential-rate model; R² in the CSV "
        "shows how well it fits). Left: per iteration; middle: per unit of flow time t = μk, which removes the "
        "different step sizes (μ is set from the curvature and divided by max(r², η̃)). Right: the measured rate per "
        "unit time against 2λ_min(A D P D Aᵀ) at the run's end point, D = diag(L w^{L−1}), "
        "P = η_r ūūᵀ + η_u r²(I − ūūᵀ): the rate dℒ/dt ≤ −2λ_min ℒ that the Polyak–Łojasiewicz inequality gives "
        "there (for L = 2 the local form of the argument of [CRW]; for L > 2 the same linearisation, unproven). "
        "A PL rate of 0 (drawn on the floor line) means λ_min(K) is below what float64 resolves: no positive "
        "rate is guaranteed there, and the residual has no component left in the slowest directions. "
        "Every run is a marker: filled = reached the loss threshold, open = did not within the budget (its rate is "
        "that of the stretch it ran), × = diverged, + = failed. A run that never reached the fit level (or has "
        "fewer than 3 records after it) has no rate and is drawn on the red dotted \"no rate\" line at the bottom; "
        "a rate ≤ 0 is drawn on the gray dotted line. The lines are medians of the runs with a rate.",
        "",
        C.run_count_sentence(rows),
        f"Runs without a rate: {sum(1 for r in rows if not np.isfinite(r['rate_per_iter']))} of {len(rows)}.",
        "",
        "Measured (medians over seeds and truths):",
    ]
    for L in s["Ls"]:
        sub_L = [r for r in rows if r["L"] == L]
        conv = [r for r in sub_L if r["status"] == Status.CONVERGED]
        cr = [r["measured_over_pl"] for r in conv if r["measured_over_pl"] is not None
              and np.isfinite(r["measured_over_pl"])]
        span = f"{C.fmt(min(cr), 3)} – {C.fmt(max(cr), 3)}, median {C.fmt(float(np.median(cr)), 3)}" if cr else "none"
        ratio = C.median_iqr([r["measured_over_pl"] for r in sub_L])
        lines.append(f"- L = {L}: {len(conv)} of {len(sub_L)} runs converged; measured / 2λ_min(K) over the "
                     f"{len(cr)} converged runs with a resolved 2λ_min(K) (the end point is then near the limit): "
                     f"{span}; over every run with both rates (the end point of an unfinished run is not near a "
                     f"limit): median {C.fmt(ratio[0], 3)} (IQR {C.fmt(ratio[1], 3)} – {C.fmt(ratio[2], 3)})")
        for r0 in s["r0s"]:
            parts = []
            for et in s["eta_tildes"]:
                sub = [r for r in sub_L if r["r0"] == r0 and r["eta_tilde"] == et]
                rtt = C.median_iqr([r["rate_per_time"] for r in sub])[0]
                pl = C.median_iqr([r["pl_rate_per_time"] for r in sub])[0]
                parts.append(f"η̃ = {et:.3g}: {C.fmt(rtt)} (PL {C.fmt(pl)})")
            lines.append(f"  - r₀ = {r0:g}, rate per unit time: " + "; ".join(parts))
    return "\n".join(lines)
