"""Item 5 — scaling: time against N for items 1–3, with fitted exponents and a plot; WN-GD with
dense ``A`` as far as memory allows and with the matrix-free subsampled DCT to ``N = 10⁶``."""

from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np

from benchmarks import _anchors as an
from benchmarks import float64_flow, gd_bench, high_precision
from benchmarks._common import ItemResult, Table, Target, Unavailable, fmt_s, log, measure, toolkit
from numerics._problem import generate

KEY = "scaling"
TITLE = "5. Scaling with N"


def fit_exponent(N, t):
    """Least-squares slope of ``log t`` against ``log N`` (``scipy.stats.linregress``; None with
    fewer than two distinct sizes)."""
    from scipy.stats import linregress

    pts = [(n, v) for n, v in zip(N, t) if v is not None and v > 0 and math.isfinite(v)]
    if len({p[0] for p in pts}) < 2:
        return None
    return float(linregress(np.log([p[0] for p in pts]), np.log([p[1] for p in pts])).slope)


def grids(quick):
    if quick:
        return dict(hp=[10, 20, 40], f64=[100, 200], gd=[200, 400, 800], big=[2000], op=[1000, 10000], lim=[2000])
    return dict(hp=[10, 20, 40, 80], f64=[200, 400, 1000], gd=[500, 1000, 2000, 4000, 8000],
                big=[20000, 50000, 100000], op=[10000, 100000, 1000000], lim=[10000, 100000])


MEM_MARGIN = 2 * 2**30
"""Memory left free when deciding whether a dense size fits (bytes)."""


def available_bytes():
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (None where there is none): the reproduction's own
    reading (:func:`wnbias.experiments._common.mem_available_bytes`)."""
    from wnbias.experiments._common import mem_available_bytes

    return mem_available_bytes()


def _traced_peak(fn):
    """``(value, peak bytes allocated while fn() runs)`` (tracemalloc; numpy reports to it)."""
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _wn_per_iteration(A, y, n, K):
    """Seconds per iteration of one WN-GD run of K steps (item 3's settings), and its result."""
    wn_gd = toolkit("gd", "wn_gd")
    t0 = time.perf_counter()
    out = wn_gd(A, y, steps=K, loss_tol=0.0, record_every=K, stop_when_all_done=False, **gd_bench.SETTINGS)
    return (time.perf_counter() - t0) / K, out


def sweep_gd_large(Ns, quick):
    """WN-GD seconds per iteration and memory with dense ``A`` (positive model) at large N, where
    it fits: the need is ``8·M·N`` bytes for ``A`` (``generate`` adopts its array, no copy)."""
    t_it, mem, notes = [], [], []
    for N in Ns:
        M = max(2, int(round(0.15 * N)))
        need = 8 * M * N
        avail = available_bytes()
        if avail is not None and need + MEM_MARGIN > avail:
            log(f"[5] dense N={N}: needs {need / 2**30:.1f} GB, {avail / 2**30:.1f} GB available: not run")
            notes.append(f"dense N={N} (M={M}) not run: A needs {need / 2**30:.1f} GB, "
                         f"{avail / 2**30:.1f} GB available (margin {MEM_MARGIN / 2**30:.0f} GB)")
            t_it.append(None)
            mem.append(None)
            continue
        log(f"[5] WN-GD dense N={N}")
        p = generate("sparse_positive", N, M, 0)
        K = 3 if N >= 50000 else (5 if N >= 10000 else 20)
        _, peak = _traced_peak(lambda: _wn_per_iteration(p.A_eff, p.y, p.n, 2))
        t_it.append(min(_wn_per_iteration(p.A_eff, p.y, p.n, K)[0] for _ in range(2)))
        mem.append((p.A.nbytes + peak) / 2**20)
        del p
    return t_it, mem, notes


def sweep_operator(Ns, quick):
    """WN-GD and GD seconds per iteration with the matrix-free subsampled DCT (positive model, M = 0.15 N),
    the operator floor (one ``A x`` and one ``Aᵀ r``), and the memory of a run."""
    gd_fn = toolkit("gd", "gd")
    wn, gdt, fl, mem = [], [], [], []
    for N in Ns:
        M = max(2, int(round(0.15 * N)))
        log(f"[5] WN-GD, subsampled DCT, N={N}")
        p = generate("sparse_positive", N, M, 0, matrix="dct")
        A, y = p.A_eff, p.y
        K = 10 if N >= 10**6 else (30 if N >= 10**5 else 200)
        _, peak = _traced_peak(lambda: _wn_per_iteration(A, y, p.n, 2))
        wn.append(min(_wn_per_iteration(A, y, p.n, K)[0] for _ in range(2)))
        t0 = time.perf_counter()
        gd_fn(A, y, L=2, w0=np.full(p.n, 0.05), mu=0.005, steps=K, loss_tol=0.0, record_every=K,
              stop_when_all_done=False)
        gdt.append((time.perf_counter() - t0) / K)
        x, r = np.full(N, 1.0 / N), np.ones(M)
        t0 = time.perf_counter()
        for _ in range(K):
            A.matvec(x)
            A.rmatvec(r)
        fl.append((time.perf_counter() - t0) / K)
        mem.append((peak + sum(getattr(A, a).nbytes for a in ("rows", "signs")) + p.y.nbytes) / 2**20)
        del p, A
    return wn, gdt, fl, mem


LIMIT_TIME_LIMIT = 300.0
"""Seconds allowed to each matrix-free limit solve (its status is reported as returned)."""


def sweep_limit_operator(Ns, quick):
    """The float64 limit (``limit_solve``, the matrix-free dual Newton) on the subsampled DCT, signed
    model, ``M = 0.15 N``, ``k = 0.1 M``, ``L = 2``, ``r₀ = 0.05·√n``, ``η̃ = 0.1``: seconds (None unless
    CONVERGED) and one note per size with the status, the time and the error of ``x_∞`` (converged
    solves only; otherwise "no limit")."""
    from numerics import FlowConfig, limit_solve

    times, notes = [], []
    for N in Ns:
        M = max(2, int(round(0.15 * N)))
        log(f"[5] limit_solve, subsampled DCT, N={N}")
        p = generate("sparse_signed", N, M, 0, k=max(1, int(round(0.1 * M))), matrix="dct")
        cfg = FlowConfig(L=2, r0=0.05 * math.sqrt(p.n), eta_r=0.1, eta_u=1.0)
        t0 = time.perf_counter()
        res = limit_solve(p, cfg, time_limit=LIMIT_TIME_LIMIT)
        wall = time.perf_counter() - t0
        ok = res.status.value == "converged"
        times.append(wall if ok else None)
        if ok and res.x_inf_user is not None:  # only a converged solve has a limit to compare with x_true
            err = float(np.linalg.norm(np.asarray(res.x_inf_user, dtype=float) - p.x_true) / np.linalg.norm(p.x_true))
            what = f"error of x_inf {err:.2g}"
        else:
            what = "no limit"
        notes.append(f"limit_solve (matrix-free, float64), subsampled DCT N={N}, M={M}: {res.status.value} in "
                     f"{wall:.1f} s (time limit {LIMIT_TIME_LIMIT:g} s), {what}")
        del p
    return times, notes


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
    return [_series("toolkit Taylor (numerics.integrate, dps)", what, Ns, tk), _series("heyoka real (run)", what, Ns, hy)]


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
                                           rtol=float64_flow.RTOL, time_limit=cap), 1)
        sp.append(s.median if s.value["reached"] else None)
        try:
            t = measure(lambda: float64_flow.run_toolkit(p, cfg, thr, time_limit=cap), 1)
            tk.append(t.median if t.value["reached"] else None)
        except Unavailable:
            tk.append(None)
    what = f"WN-GF L=2 to loss ≤ {float64_flow.THRESHOLD:g}·½‖y‖², M≈0.15–0.2N"
    return [_series("toolkit flow64 (auto)", what, Ns, tk), _series("scipy DOP853", what, Ns, sp)]


def sweep_gd(Ns, quick, large=(), op=()):
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
    out = [_series("toolkit wn_gd", what, Ns, gd_t), _series("floor: A@v + Aᵀ@r", what, Ns, fl_t)]
    sweep_gd.notes, sweep_gd.memory = [], {}
    if large:
        t_big, mem_big, notes = sweep_gd_large(large, quick)
        allN = list(Ns) + list(large)
        out[0] = _series("toolkit wn_gd (dense)", what, allN, gd_t + t_big)
        sweep_gd.notes += notes
        sweep_gd.memory["dense"] = dict(zip(large, mem_big))
    if op:
        wn, gdt, fl, mem = sweep_operator(op, quick)
        w = "seconds per iteration, subsampled DCT (matrix-free), M=0.15N"
        out += [_series("wn_gd, subsampled DCT", w, op, wn), _series("gd, subsampled DCT", w, op, gdt),
                _series("floor: DCT A x + Aᵀ r", w, op, fl)]
        sweep_gd.memory["dct"] = dict(zip(op, mem))
    return out


def sweep_limit(Ns, quick):
    times, notes = sweep_limit_operator(Ns, quick)
    sweep_limit.notes = notes
    return [_series("limit_solve, subsampled DCT (matrix-free dual Newton)",
                    "seconds per limit solve (float64, L=2, η̃=0.1), M=0.15N; None: not converged", Ns, times)]


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
        "High precision: the Taylor engine and heyoka real run (build excluded) to T=1 at dps=38, M=0.4N, L=2 "
        "(median of 2). float64: time to the item-2 threshold (L=2), M≈0.15N (0.2N below N=400), one run "
        "each. WN-GD: seconds per iteration (item 3's method), M=0.15N; beyond item 3's sizes, dense A (positive "
        "model, 8·M·N bytes: 12 GB at N = 10⁵, run only where /proc/meminfo's MemAvailable leaves 2 GB) with a few "
        "iterations per size, and the matrix-free subsampled DCT (`generate(..., matrix='dct')`, O(N log N) per "
        "product) to N = 10⁶ with WN-GD, plain GD and the operator's own product pair. The limit x_∞ by "
        "`limit_solve` (float64, the matrix-free dual Newton) on the same operator at N = 10⁴ and 10⁵ (L = 2, "
        "η̃ = 0.1, r₀ = 0.05√n; its status is in the notes, a time only when CONVERGED). Exponents: "
        "scipy.stats.linregress of log t on log N; over small ranges and on a shared machine they are rough."
    )
    panels = []
    for title, fn, Ns in (("1. high precision (dps 38, T=1)", sweep_high_precision, g["hp"]),
                          ("2. float64 flow to threshold", sweep_float64, g["f64"]),
                          ("3. WN-GD per iteration", sweep_gd, g["gd"]),
                          ("4. limit, matrix-free", sweep_limit, g["lim"])):
        series = fn(Ns, quick, g["big"], g["op"]) if fn is sweep_gd else fn(Ns, quick)
        panels.append((title, series))
        res.scaling += series
    tab = Table("Times and fitted exponents", ["item", "series", "N", "seconds", "fitted exponent"])
    for title, series in panels:
        for s in series:
            tab.rows.append([title.split(" ")[0] + " " + " ".join(title.split(" ")[1:3]), s["label"],
                             ", ".join(str(n) for n in s["N"]),
                             ", ".join(fmt_s(v) if v else "n/a" for v in s["seconds"]),
                             f"{s['exponent']:.2f}" if s["exponent"] is not None else "n/a"])
    mem = Table("WN-GD memory at large N (MB: A's array, or the operator's index and sign arrays, plus the peak "
                "of a run's own allocations, tracemalloc)", ["A", "N", "MB"])
    for kind, d in getattr(sweep_gd, "memory", {}).items():
        for N, v in d.items():
            mem.rows.append([kind, N, f"{v:.4g}" if v is not None else "not run"])
    res.tables = [tab, mem]
    res.notes += getattr(sweep_gd, "notes", [])
    res.notes += getattr(sweep_limit, "notes", [])
    res.raw["memory_MB"] = {k: {str(N): v for N, v in d.items()} for k, d in getattr(sweep_gd, "memory", {}).items()}
    if plot_path is not None:
        plot(panels, plot_path)
        shown = _relative(plot_path)
        res.raw["plot"] = shown
        res.notes.append(f"Plot: `{shown}`.")
    res.raw["series"] = res.scaling
    return res
