"""Beyond the paper: scaling in N — dense Gaussian ``A`` where memory allows, and the matrix-free
subsampled DCT (:class:`numerics._operators.SubsampledDCT`) to ``N = 10⁶``.

``M = m_frac · N`` and ``k = k_frac · M`` grow with ``N``.  For each size, kind of ``A`` and seed,
plain GD and WN-GD (one run each, ``B = 1``, so the time is that of a single run) go for the same
step budget, until the loss threshold, or until ``time_limit`` seconds (status ``time_limit``).
Reported per run: wall time per iteration (``GDResult.wall_time / steps``), the memory the run
needs (the problem's arrays plus the peak of the run's own allocations, traced by ``tracemalloc``
on a short untimed run), the final relative error, and per method and kind of ``A`` the fitted
exponent of time per iteration against ``N`` (``scipy.stats.linregress`` of the logarithms).

Dense sizes whose estimated peak memory (:func:`dense_bytes`) exceeds ``dense_mem_gb`` are not
run (at defaults the list of dense sizes goes on to ``N = 10⁵``, which needs 34 GB, and that check
skips it); the caption says where the dense series stops and what the next size would have needed.

The limit of the flow (:func:`numerics.limit_solve`, float64, ``L = 2``) on the subsampled DCT at
``limit_Ns`` (default ``10⁴`` and ``10⁵``): the matrix-free dual Newton (conjugate gradients on
``A diag(·) Aᵀ``), at most ``limit_time_limit`` seconds; its status is recorded as the solver
returns it (``time_limit`` when the time ran out: never drawn or counted as converged), with its
wall time, and the error of ``x_∞`` against ``x_true`` when it converged (none otherwise: a solve
that did not converge has no limit to compare).  Its own panel in the figure (wall time of the
solve against ``N``).

Cost at defaults: about 450 s (docs/experiments.md, "Cost"); most of it the dense ``N = 5·10⁴``
(8.4 GB: drawing ``A``, the step-size curvature, and its GD/WN-GD runs, each capped at
``time_limit`` seconds) and the ``N = 10⁵`` limit solve.  The curvature behind the step sizes is
computed once per problem, on ``A`` rather than ``[A, −A]`` (``_common.curvature(on_A=True)``:
``A_eff D² A_effᵀ = A diag(d₊² + d₋²) Aᵀ``, the same eigenvalue at half the cost per product), to
ARPACK's relative tolerance :data:`CURVATURE_RTOL`.
"""

from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np

from wnbias.experiments import _common as C

NAME = "scaling"
TITLE = "Scaling in N: time per iteration, memory and final error"

KINDS = ("gaussian", "dct")
"""Kinds of ``A``: dense Gaussian (``N(0, 1/M)`` entries) and the matrix-free subsampled DCT."""


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(Ns={"gaussian": [250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000],
                 "dct": [1000, 10000, 100000, 1000000]},
             m_frac=0.15, k_frac=0.1, L=2, seeds=1, alpha=0.05, eta_tilde=0.1, steps=3000, tol_rel=1e-8,
             step_c=1.5, time_limit=15.0, dense_mem_gb=12.0, limit_Ns=[10000, 100000], limit_time_limit=300.0,
             limit_eta_tilde=None, limit_r0=None)
    if quick:
        s.update(Ns={"gaussian": [100, 200, 400, 800], "dct": [400, 1600, 6400]}, seeds=1, steps=1500,
                 time_limit=20.0, limit_Ns=[1600, 6400], limit_time_limit=30.0)
    if seeds is not None:
        s["seeds"] = int(seeds)
    return s


def dense_bytes(N: int, M: int) -> int:
    """Peak bytes of a dense signed problem: ``A`` (``M·N`` float64; ``generate`` adopts the array it
    draws, no copy) and ``A_eff = [A, −A]`` (twice that) — ``3·8·M·N``."""
    return 3 * 8 * M * N


def _M(s, N):
    return max(2, int(round(s["m_frac"] * N)))


def work_units(s: dict) -> int:
    Ns = s["Ns"]
    dense = sum(N * _M(s, N) for N in Ns["gaussian"] if dense_bytes(N, _M(s, N)) <= s["dense_mem_gb"] * 2**30)
    return int((dense + sum(N * 20 for N in Ns["dct"]) + sum(N * 100 for N in s.get("limit_Ns", ()))) / 1e4) \
        * s["seeds"] + 1


def _problem(kind, N, M, seed, k):
    from numerics._problem import generate

    if kind == "dct":
        return generate("sparse_signed", N, M, seed, k=k, matrix="dct")
    return C.make_problem("sparse", N, M, seed, k=k)


def _steps(p, s, a, r0, z_ref):
    """``(μ_GD, μ_WN)``: ``_common.gd_step`` and ``_common.wn_step`` (the curvature at ``x_true`` by
    ``svds``) on the products of ``A`` itself (``on_A``: no ``[A, −A]`` or scaled copy is formed; at
    N = 5·10⁴ each would be 6 GB), to :data:`CURVATURE_RTOL`; the curvature is computed once when both
    use the same ``α`` (``wn_step``'s is ``r₀/√n``)."""
    L, c = s["L"], s["step_c"]
    kw = dict(rtol=CURVATURE_RTOL, on_A=True)
    mu_gd = C.gd_step(p, L, a, z_ref, c, **kw)
    same = r0 / math.sqrt(p.n) == a
    mu_wn = C.wn_step(p, L, r0, float(s["eta_tilde"]), z_ref, c, base=mu_gd if same else None, **kw)
    return mu_gd, mu_wn


def _traced_peak(fn) -> int:
    """Peak bytes allocated (numpy and Python, ``tracemalloc``) while ``fn()`` runs."""
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        return max(0, tracemalloc.get_traced_memory()[1] - base)
    finally:
        if not was:
            tracemalloc.stop()


def _data_bytes(p) -> int:
    """Bytes of the problem's arrays: ``A`` and ``A_eff`` (dense) or the operator's index and sign
    arrays, plus ``y`` and ``x_true``."""
    out = p.y.nbytes + (p.x_true.nbytes if p.x_true is not None else 0)
    if p.matrix_free:
        return out + sum(getattr(p.A, a).nbytes for a in ("rows", "signs") if hasattr(p.A, a))
    return out + p.A.nbytes + (p.A.nbytes * 2 if p.model == "signed" else 0)


def _fit(rows, key="time_per_iter_s"):
    """``(slope, stderr)`` of ``log value`` against ``log N`` (``scipy.stats.linregress``); nan with
    fewer than two distinct sizes."""
    from scipy.stats import linregress

    pts = [(r["N"], r[key]) for r in rows if r.get(key) is not None and r[key] > 0 and math.isfinite(r[key])]
    if len({n for n, _ in pts}) < 2:
        return float("nan"), float("nan")
    fit = linregress(np.log([n for n, _ in pts]), np.log([v for _, v in pts]))
    return float(fit.slope), float(fit.stderr) if len(pts) > 2 else float("nan")


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, **overrides) -> C.ExperimentOutput:
    from numerics._gd import gd, wn_gd

    s = {**settings(quick, seeds), **overrides}
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    rows, skipped = [], []
    mem_available = C.mem_available_bytes()  # for the caption: what the machine had free at the start
    a, et = float(s["alpha"]), float(s["eta_tilde"])
    for kind in KINDS:
        for N in s["Ns"][kind]:
            M = _M(s, N)
            if kind == "gaussian" and dense_bytes(N, M) > s["dense_mem_gb"] * 2**30:
                skipped.append((N, M, dense_bytes(N, M)))
                continue
            for seed in range(s["seeds"]):
                k = max(1, int(round(s["k_frac"] * M)))
                holder = {}
                gen_peak = _traced_peak(lambda: holder.update(p=_problem(kind, N, M, seed, k)))
                p = holder["p"]
                z_ref = np.asarray(p.x_true)  # the step-size reference; an LP at N = 10⁴ would take minutes
                y, n = p.y, p.n
                A = p.A_eff
                loss_tol = s["tol_rel"] * 0.5 * float(y @ y)
                r0 = a * math.sqrt(n)
                mu_gd, mu_wn = _steps(p, s, a, r0, z_ref)
                runs = (
                    ("GD", lambda steps, tl: gd(A, y, L=s["L"], w0=np.full(n, a), mu=mu_gd, steps=steps,
                                                loss_tol=loss_tol, time_limit=tl)),
                    (f"WN-GD η̃={et:g}", lambda steps, tl: wn_gd(A, y, L=s["L"], r0=r0, eta_r=et, eta_u=1.0, mu=mu_wn,
                                                                steps=steps, loss_tol=loss_tol, time_limit=tl)),
                )
                for method, call in runs:
                    run_peak = _traced_peak(lambda: call(3, None))  # the working arrays of any run length
                    res = call(s["steps"], s["time_limit"])
                    hit = int(res.hit_tol_at[0])
                    rows.append({"A": kind, "N": N, "M": M, "n": n, "seed": seed, "method": method,
                                 "steps_run": int(res.steps), "time_per_iter_s": res.wall_time / max(1, res.steps),
                                 "wall_s": res.wall_time, "mem_MB": (_data_bytes(p) + run_peak) / 2**20,
                                 "generate_peak_MB": gen_peak / 2**20, "mu": float(res.mu[0]),
                                 "status": C.status_names(res.status)[0],
                                 "iters_to_tol": hit if hit >= 0 else None,
                                 "rel_error": float(C.rel_error(p, res.x)[0]),
                                 "loss_final_rel": float(res.loss[-1, 0]) / (0.5 * float(y @ y))})
                del p, A, holder
                tick(max(1, int(N * (M if kind == "gaussian" else 20) / 1e4)))
    for N in s.get("limit_Ns", ()):
        for seed in range(s["seeds"]):
            rows.append(_limit_row(s, N, seed))
            tick(max(1, int(N * 100 / 1e4)))
    tick(1)
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s, skipped, mem_available), s, t0)


CURVATURE_RTOL = 1e-3
"""ARPACK's relative tolerance for the step-size curvature (``_common.top_singular2``; its default is
1e-6).  The step is ``1.5/λ_max`` (stable below ``2/λ_max``), so 1e-3 is ample; measured here the two
tolerances give the same ``λ_max`` to 3e-12 (dense N = 2·10⁴) and 2e-12 (DCT N = 10⁵) with 51 and
71 products against 81 and 131, and at dense N = 5·10⁴ to 2e-14 in 39 s against 70 s."""


LIMIT_METHOD = "limit (matrix-free dual Newton)"
"""The ``method`` of the rows of :func:`numerics.limit_solve` on the subsampled DCT."""


def _limit_row(s, N, seed) -> dict:
    """One matrix-free limit solve (float64, ``L``, ``r₀ = α√n``, ``η̃``, ``η_u = 1``) on the subsampled
    DCT, within ``limit_time_limit`` seconds; the status is the solver's own."""
    import warnings

    from numerics import FlowConfig, Status, limit_solve

    M = _M(s, N)
    k = max(1, int(round(s["k_frac"] * M)))
    holder = {}
    gen_peak = _traced_peak(lambda: holder.update(p=_problem("dct", N, M, seed, k)))
    p = holder.pop("p")
    r0 = float(s["alpha"]) * math.sqrt(p.n) if s.get("limit_r0") is None else float(s["limit_r0"])
    et = float(s["eta_tilde"] if s.get("limit_eta_tilde") is None else s["limit_eta_tilde"])
    config = FlowConfig(L=s["L"], r0=r0, eta_r=et, eta_u=1.0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = limit_solve(p, config, time_limit=float(s["limit_time_limit"]))
    wall = time.perf_counter() - t0
    x = None if res.x_inf_user is None else np.asarray(res.x_inf_user, dtype=float)
    y = p.y
    rel_err = loss = None  # a solve that did not converge has no limit: nothing to compare with x_true
    if res.status is Status.CONVERGED and x is not None and np.all(np.isfinite(x)):
        rel_err = float(np.linalg.norm(x - p.x_true) / np.linalg.norm(p.x_true))
        res_vec = p.A @ x - y
        loss = float(0.5 * res_vec @ res_vec) / (0.5 * float(y @ y))
    return {"A": "dct", "N": N, "M": M, "n": p.n, "seed": seed, "method": LIMIT_METHOD, "steps_run": None,
            "time_per_iter_s": None, "wall_s": wall, "mem_MB": None, "generate_peak_MB": gen_peak / 2**20,
            "mu": None, "status": res.status.value, "iters_to_tol": None, "rel_error": rel_err,
            "loss_final_rel": loss, "limit_iterations": int(res.iterations),
            "limit_message": (res.message or "").splitlines()[0][:200] if res.message else "",
            "time_limit_s": float(s["limit_time_limit"]), "limit_r0": r0, "limit_eta_tilde": et}


def _series(rows):
    """``[(label, A kind, method, row indices)]`` in a fixed order."""
    out = []
    for kind in KINDS:
        for m in (m for m in C.methods(rows) if m != LIMIT_METHOD):
            ks = [i for i, r in enumerate(rows) if r["A"] == kind and r["method"] == m]
            if ks:
                out.append((f"{m}, {'Gaussian' if kind == 'gaussian' else 'DCT (matrix-free)'}", kind, m, ks))
    return out


def _figure(rows, s):
    """Four axes: time per iteration, memory, final error (every run) and the wall time of the
    limit solves.  The panel ``time`` spans the first and the last axis: a GD/WN-GD run is drawn at
    its time per iteration, a limit solve (which has no GD iterations) at the wall time of the solve."""
    plt = C.plt()
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.6))
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    series = _series(rows)
    lim = [i for i, r in enumerate(rows) if r["method"] == LIMIT_METHOD]
    panels = (("time_per_iter", "time_per_iter_s"), ("memory", "mem_MB"), ("rel_error", "rel_error"))
    gd_rows = [i for i, r in enumerate(rows) if r["method"] != LIMIT_METHOD]
    placed = {"time_per_iter_s": C.place([rows[i]["time_per_iter_s"] for i in gd_rows]),
              "mem_MB": C.place([r["mem_MB"] for r in rows]), "rel_error": C.place([r["rel_error"] for r in rows])}
    at = {i: j for j, i in enumerate(gd_rows)}  # row -> position in the time panel's placement
    for j, (label, kind, m, ks) in enumerate(series):
        sub = [rows[k] for k in ks]
        slope, err = _fit(sub)
        ls = "-" if kind == "gaussian" else "--"
        st = C.group_stats(sub, ["N"], "time_per_iter_s")
        line = C.band(axes[0], [g["N"] for g in st], st, f"{label} (slope {slope:.2f})", marker="none", ls=ls)
        for ax, (_, key) in zip(axes[1:], panels[1:]):
            st = C.group_stats(sub, ["N"], key)
            C.band(ax, [g["N"] for g in st], st, label, color=line.get_color(), marker="none", ls=ls)
        xs = C.jitter([r["N"] for r in sub], j, len(series) + 1, width=0.02)
        rp.draw(axes[0], "time_per_iter", xs, [placed["time_per_iter_s"].y[at[k]] for k in ks],
                [kinds[k] for k in ks], ks, color=line.get_color(), zorder=6)
        for ax, (panel, key) in zip(axes[1:3], panels[1:]):
            rp.draw(ax, panel, xs, [placed[key].y[k] for k in ks], [kinds[k] for k in ks], ks,
                    color=line.get_color(), zorder=6)
    if lim:
        col = "C%d" % len(series)
        sub = [rows[k] for k in lim]
        xs = C.jitter([r["N"] for r in sub], len(series), len(series) + 1, width=0.02)
        wall = C.place([r["wall_s"] for r in sub])
        slope, _ = _fit(sub, "wall_s")
        st = C.group_stats(sub, ["N"], "wall_s")
        et = s["eta_tilde"] if s.get("limit_eta_tilde") is None else s["limit_eta_tilde"]
        C.band(axes[3], [g["N"] for g in st], st, f"{LIMIT_METHOD}, DCT, L = {s['L']}, η̃ = {et:g}"
               + (f" (slope {slope:.2f})" if math.isfinite(slope) else ""), color=col, marker="none", ls="--")
        rp.draw(axes[3], "time_per_iter", xs, wall.y, [kinds[k] for k in lim], lim, color=col, zorder=6)
        for ax, (panel, key) in zip(axes[1:3], panels[1:]):
            rp.draw(ax, panel, xs, [placed[key].y[k] for k in lim], [kinds[k] for k in lim], lim, color=col,
                    zorder=6, label=f"{LIMIT_METHOD} (DCT)" if panel == "rel_error" else None)
        axes[3].axhline(s["limit_time_limit"], color="gray", ls="--", lw=1,
                        label=f"time limit {s['limit_time_limit']:g} s")
        C.mark_levels(axes[3], wall, floor_label="0 s: drawn here", missing_label="no time: drawn here")
    axes[3].set(xscale="log", yscale="log", xlabel="N (subsampled DCT, M = %.2g N)" % s["m_frac"],
                ylabel="seconds (whole solve)", title="limit x_∞ (numerics.limit_solve, matrix-free)")
    C.mark_levels(axes[0], placed["time_per_iter_s"], floor_label="0 s: drawn here", missing_label="no time: drawn here")
    C.mark_levels(axes[1], placed["mem_MB"], floor_label="0 MB: drawn here",
                  missing_label="no memory measured (the limit solves): drawn here")
    C.mark_levels(axes[2], placed["rel_error"], floor_label="error 0: drawn here",
                  missing_label="no finite error (or no x_∞): drawn here")
    axes[0].set(xscale="log", yscale="log", xlabel="N (M = %.2g N)" % s["m_frac"], ylabel="seconds per iteration",
                title="time per iteration (GD, WN-GD)")
    axes[1].set(xscale="log", yscale="log", xlabel="N", ylabel="MB (data + the run's peak allocations)",
                title="memory")
    axes[2].set(xscale="log", yscale="log", xlabel="N", ylabel="relative error ‖x − x_true‖/‖x_true‖",
                title=f"final error after ≤ {s['steps']} steps or {s['time_limit']:g} s; limit: x_∞")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    axes[3].legend(fontsize=7)
    C.legend_with_runs(axes[2], rp, fontsize=7)
    fig.suptitle(f"{TITLE} (L={s['L']}, α={s['alpha']:g}, sparse signed truths k={s['k_frac']:g}·M; "
                 f"solid: dense Gaussian A, dashed: subsampled DCT)", fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s, skipped, mem_available=None):
    gN = [N for N in s["Ns"]["gaussian"] if N not in {k[0] for k in skipped}]
    if skipped:
        need = "; ".join(f"N = {N} (M = {M}) would need about {b / 2**30:.1f} GB" for N, M, b in skipped)
        stop = ((f"The dense series stops at N = {max(gN)}: " if gN else "No dense size was run: ")
                + f"{need} (A and [A, −A]: 3·8·M·N bytes), more than the {s['dense_mem_gb']:g} GB allowed "
                "(`dense_mem_gb`), so not run"
                + (f"; the machine had {mem_available / 2**30:.1f} GB available (MemAvailable) when the run "
                   "started." if mem_available else "."))
    else:
        stop = f"Every dense size fitted the {s['dense_mem_gb']:g} GB allowed (`dense_mem_gb`)."
    gd_rows = [r for r in rows if r["method"] != LIMIT_METHOD]
    capped = [r for r in gd_rows if r["status"] == "time_limit"]
    cap = (f" {len(capped)} of the {len(gd_rows)} GD/WN-GD runs ended on that cap (N in "
           f"{sorted({r['N'] for r in capped})}): their final error is that of an unfinished run, and depends on "
           f"the cap." if capped else " No GD/WN-GD run ended on that cap.")
    lines = [
        f"**{TITLE}.** Sparse signed truths with k = {s['k_frac']:g}·M nonzeros, M = {s['m_frac']:g}·N; A dense "
        f"Gaussian (N(0, 1/M) entries; N in {gN}) or the matrix-free subsampled DCT (√(N/M)·M random rows of the "
        f"orthonormal DCT-II with random column signs, O(N log N) per product, no M×N array; N in {s['Ns']['dct']}); "
        f"{s['seeds']} seed(s). Plain GD from w₀ = α·1 and WN-GD from the same w₀ (r₀ = α√n, η̃ = "
        f"{s['eta_tilde']:g}), α = {s['alpha']:g}, L = {s['L']}; each run stops at loss ≤ {s['tol_rel']:g}·½‖y‖², "
        f"after {s['steps']} steps, or after {s['time_limit']:g} s (status time_limit).{cap} Step sizes from the "
        "curvature at x_true (no LP at these sizes; scipy.sparse.linalg.svds on the products of A, relative "
        f"tolerance {CURVATURE_RTOL:g}). Left: wall time per iteration (one run "
        "per call, one process); the legend gives the fitted log–log slope (scipy.stats.linregress). Second: memory "
        "— the problem's arrays plus the peak of the run's own allocations (tracemalloc, on a short untimed run). "
        "Third: final relative reconstruction error. Every run is a marker on these panels (shifted slightly "
        "in N per series): filled = reached the loss threshold, open = did not (step budget or time limit; its "
        "error is that of an unfinished run), × = diverged, + = failed; a non-finite value is drawn on a labelled "
        f"dotted line. {stop} Fourth (right): the limit x_∞ of the flow (numerics.limit_solve, float64: the matrix-free "
        f"dual Newton, conjugate gradients on A diag(·) Aᵀ) on the subsampled DCT at N in {s.get('limit_Ns', [])}, "
        f"same L, {'r₀ = α√n' if s.get('limit_r0') is None else 'r₀ = %g' % s['limit_r0']}, "
        f"η̃ = {s['eta_tilde'] if s.get('limit_eta_tilde') is None else s['limit_eta_tilde']:g}, at most {s.get('limit_time_limit', float('nan')):g} s each; drawn at its wall time "
        "(in the time panel's place: a solve has no GD iterations), the error of its x_∞ in the error panel when it "
        "converged (a solve that did not has no limit: drawn on the labelled level); its memory "
        "was not measured (drawn on the labelled level). Its status is the solver's own: time_limit when the time "
        "ran out, never counted as converged.",
        "",
        C.run_count_sentence(rows),
        "",
        "Fitted exponents of time per iteration against N:",
    ]
    for label, kind, m, ks in _series(rows):
        slope, err = _fit([rows[k] for k in ks])
        lines.append(f"- {label}: {C.fmt(slope, 3)}" + (f" ± {C.fmt(err, 2)}" if math.isfinite(err) else ""))
    lim = [r for r in rows if r["method"] == LIMIT_METHOD]
    if lim:
        lines += ["", "Limit solves (matrix-free, float64):"]
        for r in lim:
            conv = r["status"] == "converged" and r["rel_error"] is not None
            err = f"error of x_∞ {C.fmt(r['rel_error'])}" if conv else "no limit (not converged)"
            lines.append(f"- N = {r['N']} (M = {r['M']}), seed {r['seed']}: {r['status']} in {r['wall_s']:.3g} s "
                         f"({r['limit_iterations']} iterations); {err}; {r['limit_message'][:120]}")
    lines += ["", "Measured (medians over seeds):"]
    for label, kind, m, ks in _series(rows):
        for N in sorted({rows[k]["N"] for k in ks}):
            sub = [rows[k] for k in ks if rows[k]["N"] == N]
            tpi = C.median_iqr([r["time_per_iter_s"] for r in sub])[0]
            mem = C.median_iqr([r["mem_MB"] for r in sub])[0]
            err = C.median_iqr([r["rel_error"] for r in sub])[0]
            nconv = sum(r["status"] == "converged" for r in sub)
            lines.append(f"- {label}, N = {N}: {tpi * 1e3:.3g} ms/iteration, {mem:.3g} MB, error {C.fmt(err)}, "
                         f"{nconv}/{len(sub)} at threshold")
    return "\n".join(lines)
