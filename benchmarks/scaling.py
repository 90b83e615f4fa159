"""Item 5 — scaling: time against N for items 1–3, with fitted exponents and a plot."""

from __future__ import annotations

import math

import numpy as np

from benchmarks import _anchors as an
from benchmarks import float64_flow, gd_bench, high_precision
from benchmarks._common import ItemResult, Table, Target, Unavailable, fmt_s, log, measure
from numerics.problem import generate

KEY = "scaling"
TITLE = "5. Scaling with N"


def fit_exponent(N, t):
    """Least-squares slope of ``log t`` against ``log N`` (None with fewer than two points)."""
    pts = [(n, v) for n, v in zip(N, t) if v is not None and v > 0 and math.isfinite(v)]
    if len(pts) < 2:
        return None
    x = np.log([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def grids(quick):
    if quick:
        return dict(hp=[10, 20, 40], f64=[100, 200], gd=[200, 400, 800])
    return dict(hp=[10, 20, 40, 80], f64=[200, 400, 1000], gd=[500, 1000, 2000, 4000, 8000])


def _series(label, what, Ns, times):
    return {"label": label, "what": what, "N": list(Ns), "seconds": list(times),
            "exponent": fit_exponent(Ns, times)}


def sweep_high_precision(Ns, quick):
    dps, T = 38, 1.0
    tk, hy = [], []
    for N in Ns:
        M = max(2, int(round(0.4 * N)))
        log(f"[5] high precision N={N}")
        p = generate("sparse_positive", N, M, 0)
        c = high_precision.config_for(2)
        try:
            t = measure(lambda: high_precision.run_toolkit(p, c, dps, T), 2, budget=30)
            tk.append(t.median)
        except Unavailable:
            tk.append(None)
        if an.have_heyoka():
            h = high_precision.HeyokaReal(p, c, dps)
            hy.append(measure(lambda: h.run(T), 2, budget=30).median)
        else:
            hy.append(None)
    what = f"WN-GF to T={T:g} at dps={dps}, M=0.4N, L=2"
    return [_series("toolkit integrate_mp", what, Ns, tk), _series("heyoka real (run)", what, Ns, hy)]


def sweep_float64(Ns, quick):
    cfg = float64_flow.CONFIGS[2]
    tk, sp = [], []
    cap = 20.0 if quick else 60.0
    for N in Ns:
        M = max(2, int(round(0.15 * N))) if N >= 400 else max(2, int(round(0.2 * N)))
        log(f"[5] float64 N={N}")
        p = generate("sparse_positive", N, M, 0)
        thr = float64_flow.THRESHOLD * 0.5 * float(p.y @ p.y)
        s = measure(lambda: an.dop853_wngf(p, cfg, t_max=float64_flow.T_CAP, loss_tol=thr,
                                           rtol=float64_flow.RTOL, wall_max=cap), 1)
        sp.append(s.median if s.value["reached"] else None)
        try:
            t = measure(lambda: float64_flow.run_toolkit(p, cfg, thr, wall_max=cap), 1)
            tk.append(t.median if t.value["reached"] else None)
        except Unavailable:
            tk.append(None)
    what = f"WN-GF L=2 to loss ≤ {float64_flow.THRESHOLD:g}·½‖y‖², M≈0.15–0.2N"
    return [_series("toolkit flow64 (auto)", what, Ns, tk), _series("scipy DOP853", what, Ns, sp)]


def sweep_gd(Ns, quick):
    gd_t, fl_t = [], []
    for N in Ns:
        M = max(2, int(round(0.15 * N)))
        log(f"[5] WN-GD N={N}")
        try:
            d = gd_bench.per_iteration(N, M, True)
            gd_t.append(float(np.median(d["gd_per_it"])))
            fl_t.append(float(np.median(d["floor_per_it"])))
        except Unavailable:
            gd_t.append(None)
            p = generate("sparse_positive", N, M, 0)
            k = gd_bench.calibrate(lambda k: gd_bench.floor_loop(p.A, k), 0.3)
            fl_t.append(measure(lambda: gd_bench.floor_loop(p.A, k), 3).median / k)
    what = "seconds per iteration, M=0.15N"
    return [_series("toolkit wn_gd", what, Ns, gd_t), _series("floor: A@v + Aᵀ@r", what, Ns, fl_t)]


def plot(panels, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2))
    for ax, (title, series) in zip(np.atleast_1d(axes), panels):
        for s in series:
            pts = [(n, v) for n, v in zip(s["N"], s["seconds"]) if v]
            if not pts:
                continue
            n, v = zip(*pts)
            lab = s["label"] + (f" (slope {s['exponent']:.2f})" if s["exponent"] is not None else "")
            line, = ax.loglog(n, v, "o-", label=lab)
            if s["exponent"] is not None and len(pts) >= 2:
                x = np.array(n, dtype=float)
                c = np.exp(np.mean(np.log(v) - s["exponent"] * np.log(x)))
                ax.loglog(x, c * x ** s["exponent"], ":", color=line.get_color(), alpha=0.7)
        from matplotlib.ticker import NullFormatter

        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("N")
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _relative(path) -> str:
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def run(quick: bool = False, plot_path=None) -> ItemResult:
    res = ItemResult(KEY, TITLE)
    g = grids(quick)
    res.setup = (
        "Time against N with the exponent of a log-log least-squares fit (dotted lines in the plot). "
        "High precision: `integrate_mp` and heyoka real run (build excluded) to T=1 at dps=38, M=0.4N, L=2 "
        "(median of 2). float64: time to the item-2 threshold (L=2), M≈0.15N (0.2N below N=400), one run "
        "each. WN-GD: seconds per iteration (item 3's method), M=0.15N. Exponents over small ranges and "
        "on a shared machine are rough."
    )
    panels = []
    for title, fn, Ns in (("1. high precision (dps 38, T=1)", sweep_high_precision, g["hp"]),
                          ("2. float64 flow to threshold", sweep_float64, g["f64"]),
                          ("3. WN-GD per iteration", sweep_gd, g["gd"])):
        series = fn(Ns, quick)
        panels.append((title, series))
        res.scaling += series
    tab = Table("Times and fitted exponents", ["item", "series", "N", "seconds", "fitted exponent"])
    for title, series in panels:
        for s in series:
            tab.rows.append([title.split(" ")[0] + " " + " ".join(title.split(" ")[1:3]), s["label"],
                             ", ".join(str(n) for n in s["N"]),
                             ", ".join(fmt_s(v) if v else "n/a" for v in s["seconds"]),
                             f"{s['exponent']:.2f}" if s["exponent"] is not None else "n/a"])
    res.tables = [tab]
    if plot_path is not None:
        plot(panels, plot_path)
        shown = _relative(plot_path)
        res.raw["plot"] = shown
        res.notes.append(f"Plot: `{shown}`.")
    res.raw["series"] = res.scaling
    return res
