"""docs/math.md §9.5: loss curves of plain GD against WN-GD in overparameterised matrix sensing.

The follow-up (Wei, Zhang, Li, He 2025) reports linear convergence of its *generalized* WN
(Stiefel direction, symmetric magnitude, Riemannian GD: :func:`numerics._matrix.wn_rgd_matrix`) where plain GD is
sublinear.  Here GD, that scheme and the scalar polar form ``U = rV/‖V‖_F`` run on ``X = UUᵀ`` with ``k`` above the truth's rank and enough measurements
for ``X*`` to be the unique solution; the fitted numbers are the late/early ratio of the slope of
``log loss`` per iteration (1 for a constant linear rate) and the power-law exponent ``p`` of
``loss ≈ c·k^{−p}`` (:func:`wnbias.claims.matrix.rate_ratio`).
"""

from __future__ import annotations

import time

import numpy as np

from wnbias.experiments import _common as C

NAME = "matrix_rate"
TITLE = "Matrix sensing: loss curves of GD and WN-GD (overparameterised)"


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(d=5, k_true=1, k=3, m=30, seeds=3, alpha=0.1, r0=1.0, eta_tildes=[0.1, 1.0], steps=20000, records=200,
             tol_rel=1e-24)
    if quick:
        s.update(seeds=1, steps=3000, records=100, eta_tildes=[0.1])
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def work_units(s: dict) -> int:
    return s["seeds"]


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._matrix import curvature_step, gd_matrix, generate, init_directions, wn_gd_matrix, wn_rgd_matrix
    from wnbias.claims.matrix import rate_ratio

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    rows, curves = [], []
    rec = max(1, s["steps"] // s["records"])
    for seed in range(s["seeds"]):
        p = generate(s["d"], s["k_true"], s["m"], seed)
        V0 = init_directions(p.d, s["k"], 1, 200 + seed)
        mu = curvature_step(p, 1.0)
        runs = [("GD", None, gd_matrix(p, s["alpha"] * V0, mu=mu, steps=s["steps"], record_every=rec))]
        for et in s["eta_tildes"]:
            runs.append(("WN-GD", et, wn_gd_matrix(p, s["r0"], V0, eta_r=et, eta_V=1.0, mu=mu / max(1.0, et),
                                                    steps=s["steps"], record_every=rec)))
        X0, _ = np.linalg.qr(V0[0])
        runs.append(("generalized WN", None, wn_rgd_matrix(p, X0, s["alpha"] * np.eye(s["k"]), mu=mu, steps=s["steps"],
                                                            loss_tol=s["tol_rel"] * p.scale, record_every=10)))
        for method, et, res in runs:
            loss = res.loss[:, 0] / p.scale
            ratio, s1, s2, pw = rate_ratio(res.iters, loss)
            rows.append({"seed": seed, "method": method, "eta_tilde": et, "mu": res.mu, "steps": res.steps,
                         "loss_final_rel": float(loss[-1]), "rate_ratio": ratio, "slope_early": s1, "slope_late": s2,
                         "power": pw, "status": res.status[0].value})
            curves.append((seed, method, et, res.iters, loss))
        tick()
    fig, rp = _figure(curves, rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), s, t0)


def _figure(curves, rows, s):
    plt = C.plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    keys = sorted({(m_, e_ or 0.0) for _, m_, e_, _, _ in curves})
    colours = {key: f"C{i}" for i, key in enumerate(keys)}
    for seed, method, et, it, loss in curves:
        label = method if et is None else f"{method} η̃={et:g}"
        ls = {"GD": "-", "WN-GD": "--"}.get(method, ":")
        for ax in axes:
            ax.plot(it[1:], loss[1:], ls, lw=1, color=colours[(method, et or 0.0)], label=label if seed == 0 else None)
    axes[0].set(yscale="log", xlabel="iteration k", ylabel="loss / ½‖y‖²", title="semi-log (linear rate = straight line)")
    axes[1].set(xscale="log", yscale="log", xlabel="iteration k", title="log-log (power law = straight line)")
    # every run: a marker at its end point (iteration reached, final loss), of its status's kind
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    final = C.place([r["loss_final_rel"] for r in rows])
    for i, r in enumerate(rows):
        key = (r["method"], r["eta_tilde"] or 0.0)
        for ax, panel in ((axes[0], "end_semilog"), (axes[1], "end_loglog")):
            rp.draw(ax, panel, [max(1, r["steps"])], [final.y[i]], [kinds[i]], [i], color=colours[key], zorder=6)
    for ax in axes:
        C.mark_levels(ax, final)
        ax.grid(True, which="both", alpha=0.3)
        C.legend_with_runs(ax, rp, fontsize=8)
    fig.suptitle(f"{TITLE} (d={s['d']}, rank {s['k_true']}, k={s['k']}, m={s['m']}; GD α={s['alpha']:g}, WN r₀={s['r0']:g})",
                 fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    lines = [f"**{TITLE}.** X = UUᵀ, d = {s['d']}, rank-{s['k_true']} truth, k = {s['k']} columns, m = {s['m']} Gaussian "
             f"measurements ({s['seeds']} seed(s), {s['steps']} steps, the same step μ from the curvature; WN-GD's μ "
             "divided by max(1, η̃)); 'generalized WN' is the scheme of Wei, Zhang, Li, He (2025): UUᵀ = XΘXᵀ with X on the "
             "Stiefel manifold and symmetric Θ, Riemannian GD with a QR retraction, from Θ₀ = α·I, stopped at loss ≤ "
             f"{s['tol_rel']:g}·½‖y‖². WN-GD is the scalar polar form U = rV/‖V‖_F of docs/math.md §9.4. Rate ratio: slope of −log loss per iteration over the "
             "last quarter of the second half of the records divided by that over the quarter before (1 = linear convergence, well below "
             "1 = sublinear); power: exponent p of loss ≈ c·k^(−p) over the second half. Each run ends in a marker at "
             "(its last iteration, its final loss).", "", C.run_count_sentence(rows), "",
             "Measured (medians over seeds):"]
    keys = sorted({(r["method"], r["eta_tilde"]) for r in rows}, key=lambda t: (t[0], t[1] or 0))
    for method, et in keys:
        sub = [r for r in rows if r["method"] == method and r["eta_tilde"] == et]
        rr = C.median_iqr([r["rate_ratio"] for r in sub])[0]
        pw = C.median_iqr([r["power"] for r in sub])[0]
        lf = C.median_iqr([r["loss_final_rel"] for r in sub])[0]
        name = method if et is None else f"{method} (η̃ = {et:g})"
        sl = C.median_iqr([r["slope_late"] for r in sub])[0]
        its = C.median_iqr([r["steps"] for r in sub])[0]
        lines.append(f"- {name}: rate ratio {C.fmt(rr, 3)}, late slope {C.fmt(sl, 3)} per iteration, power-law exponent "
                     f"{C.fmt(pw, 3)}, final loss {C.fmt(lf)}·½‖y‖² after {C.fmt(its, 5)} iterations")
    return "\n".join(lines)
