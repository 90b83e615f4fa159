"""The open question of docs/math.md §6.1: does the WN flow converge for ``L > 2``, and to the
limit the scalar root predicts?

Random small problems (``L = 3, 4``; sparse positive, sparse signed and Gaussian truths; a range of
η̃ and r₀) run through the sweep engine (task ``convergence_run`` of
:mod:`wnbias.experiments.tasks`, one resumable record per problem in ``<out>/convergence_L_sweep``).
For each: the limit from :func:`numerics.limit_solve` (docs/math.md §4) and the float64 flow from
:func:`numerics.integrate` in ``(r, log u)`` (``method="auto-full"``: not the dual coordinates of
``"auto"``, which build the invariant in), each under a wall-time limit, and the relative distance between the
flow's end point and the limit.  Every problem is a row of the CSV and a point of the figure; every
problem whose flow did not reach the limit is also written as a one-task sweep file
``convergence_L_misses/<key>.toml`` (``wnbias sweep FILE --out DIR`` re-runs it).

Cost: the defaults are 300 problems, 30 s per flow (``method="auto-full"``), 20 s per limit solve,
``t_max = 10⁸``; about 500 CPU-seconds in all (docs/experiments.md, "Cost"), most of it 30-digit
limit solves that run out of their 20 s.  Under ``wnbias reproduce --dask-local``/``--scheduler``
the problems go to the experiments' shared cluster (``executor``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from numerics import Status
from wnbias.experiments import _common as C

NAME = "convergence_L"
TITLE = "Convergence for L > 2: does the flow reach the predicted limit?"

PLATEAU_LOSS_REL = 1e-6
"""A flow that did not converge is *on a plateau* when its final loss is above this fraction of
``½‖y‖²``, and in a *slow tail* otherwise (the caption counts both)."""

OUTCOMES = ("reached", "elsewhere", "not_converged", "no_limit", "error")
"""``convergence_run``'s outcomes, plus ``error`` for a task that raised (its record holds the error)."""


def settings(quick: bool = False, seeds: int | None = None) -> dict:
    s = dict(problems_per_seed=60, seeds=5, Ls=[3, 4], kinds=["sparse_positive", "sparse_signed", "gaussian"],
             N=[20, 40], M=[6, 16], eta_tilde=[0.03, 10.0], r0=[0.2, 3.0], flow_time_limit=30.0,
             limit_time_limit=20.0, t_max=1e8, limit_dps=30, draw_seed=17, workers=None)
    if quick:
        s.update(problems_per_seed=6, seeds=1, N=[12, 20], M=[4, 8], flow_time_limit=10.0, limit_time_limit=10.0,
                 workers=1)
    if seeds is not None:
        s["seeds"] = int(seeds)
    s["problems"] = s["problems_per_seed"] * s["seeds"]
    return s


def work_units(s: dict) -> int:
    return s["problems"]


def sweep_config(s: dict) -> dict:
    """The sweep (``wnbias sweep`` TOML, as a dict) of ``s["problems"]`` random problems."""
    return {
        "task": "convergence_run",
        "name": NAME,
        "params": {"flow_time_limit": s["flow_time_limit"], "limit_time_limit": s["limit_time_limit"],
                   "t_max": s["t_max"], "limit_dps": s["limit_dps"]},
        "random": {"draws": s["problems"], "seed": s["draw_seed"], "params": {
            "L": {"choice": list(s["Ls"])}, "kind": {"choice": list(s["kinds"])},
            "N": {"randint": list(s["N"])}, "M": {"randint": list(s["M"])},
            "eta_tilde": {"log_uniform": list(s["eta_tilde"])}, "r0": {"log_uniform": list(s["r0"])},
            "seed": {"randint": [0, 10**6]},
        }},
    }


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)  # a float's repr reads back as the same double
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def miss_toml(task: str, params: dict) -> str:
    """A one-task sweep file that re-runs ``task`` with exactly ``params``."""
    lines = [f'task = "{task}"', f'name = "{NAME}: re-run of one problem"', "", "[params]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in sorted(params.items())]
    return "\n".join(lines) + "\n"


def run(out_dir, *, quick: bool = False, seeds: int | None = None, tick=None, executor=None, executor_workers=None,
        **overrides) -> C.ExperimentOutput:
    """Run the sweep (resuming from ``<out>/convergence_L_sweep``) and draw it.  ``executor``: a
    ``concurrent.futures.Executor`` on a cluster shared with other work (``wnbias reproduce
    --dask-local`` / ``--scheduler``), with ``executor_workers`` workers; without it, the problems
    run on ``settings["workers"]`` local processes.  The records are the same either way."""
    from wnbias.io import atomic_write
    from wnbias.sweep import expand, load_records, run_sweep, task_key

    s = {**settings(quick, seeds), **overrides}
    s["problems"] = s.get("problems") or s["problems_per_seed"] * s["seeds"]
    tick = C.Ticker(tick)
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    spec = expand(sweep_config(s))
    sweep_dir = out_dir / f"{NAME}_sweep"
    where = (dict(backend="dask", executor=executor, executor_workers=executor_workers) if executor is not None
             else dict(backend="local", workers=s["workers"]))
    run_sweep(spec, sweep_dir, progress=False, on_record=lambda rec: tick(), note=lambda msg: None, **where)
    by_key = {r["key"]: r for r in load_records(sweep_dir, task=spec.task)}
    rows = []
    for params in spec.params:  # the sweep's own order: every problem drawn, each once
        rec = by_key[task_key(spec.task, params)]
        row = {k: rec.get(k) for k in ("key", "L", "kind", "N", "M", "seed", "eta_tilde", "r0")}
        if rec.get("error"):
            row.update(status=Status.FAILED.value, outcome="error",
                       flow_message=str(rec["error"]).splitlines()[0][:200])
        else:
            row.update({k: v for k, v in rec.items() if k not in row and k not in ("task", "error", "wall_s")})
        row["wall_s"] = rec.get("wall_s")
        rows.append(row)
    misses = [(p, r) for p, r in zip(spec.params, rows) if r["outcome"] != "reached"]
    if misses:
        mdir = out_dir / f"{NAME}_misses"
        mdir.mkdir(parents=True, exist_ok=True)
        for params, r in misses:
            text = miss_toml(spec.task, params)
            atomic_write(mdir / f"{r['key']}.toml", lambda fh, text=text: fh.write(text))
    fig, rp = _figure(rows, s)
    return C.finish(out_dir, NAME, fig, rp, rows, _caption(rows, s), {k: v for k, v in s.items()}, t0)


def _quantiles(values) -> str:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return "none"
    q = np.percentile(v, [0, 50, 90, 100])
    return f"min {C.fmt(q[0])}, median {C.fmt(q[1])}, 90% {C.fmt(q[2])}, max {C.fmt(q[3])} (n = {v.size})"


def _figure(rows, s):
    from wnbias.experiments.tasks import AGREE_REL

    plt = C.plt()
    fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.5))
    rp = C.RunPlot()
    kinds = C.row_kinds(rows)
    dist = C.place([r.get("dist_x") for r in rows], floor=1e-16)
    tfin = C.place([r.get("t_final") for r in rows])
    colours = {L: f"C{i}" for i, L in enumerate(s["Ls"])}
    for j, L in enumerate(s["Ls"]):
        ks = [i for i, r in enumerate(rows) if r["L"] == L]
        x = [rows[i]["eta_tilde"] for i in ks]
        rp.draw(axes[0, 0], "distance", x, [dist.y[i] for i in ks], [kinds[i] for i in ks], ks, color=colours[L])
        rp.draw(axes[0, 1], "time", x, [tfin.y[i] for i in ks], [kinds[i] for i in ks], ks, color=colours[L])
        for ax, key in ((axes[1, 0], "dist_x"), (axes[1, 1], "t_final")):
            v = np.sort([rows[i][key] for i in ks if rows[i].get(key) is not None and np.isfinite(rows[i][key])])
            if v.size:
                ax.step(np.maximum(v, 1e-16), np.arange(1, v.size + 1) / len(ks), where="post", color=colours[L],
                        label=f"L = {L} ({v.size} of {len(ks)} problems have a value)")
    axes[0, 0].axhline(AGREE_REL, color="k", ls="--", lw=1, label=f"reached: ≤ {AGREE_REL:g}")
    axes[1, 0].axvline(AGREE_REL, color="k", ls="--", lw=1, label=f"reached: ≤ {AGREE_REL:g}")
    axes[0, 1].axhline(s["t_max"], color="gray", ls="--", lw=1, label=f"t_max = {s['t_max']:g}")
    C.mark_levels(axes[0, 0], dist, floor_label="distance < 1e-16: drawn here",
                  missing_label="no limit to compare with: drawn here")
    C.mark_levels(axes[0, 1], tfin)
    axes[0, 0].set(xscale="log", yscale="log", xlabel="η̃", ylabel="‖x(T) − x_∞‖ / ‖x_∞‖",
                   title="final distance to the predicted limit")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="η̃", ylabel="flow time T at which the run stopped",
                   title="time to convergence (or where the budget ended)")
    axes[1, 0].set(xscale="log", xlabel="‖x(T) − x_∞‖ / ‖x_∞‖", ylabel="fraction of problems (≤)",
                   title="distribution of the final distance")
    axes[1, 1].set(xscale="log", xlabel="flow time T", ylabel="fraction of problems (≤)",
                   title="distribution of the time")
    for ax in axes.ravel():
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[0]:
        C.legend_with_runs(ax, rp, fontsize=7)
    for ax in axes[1]:
        ax.legend(fontsize=7)
    fig.suptitle(f"{TITLE} ({len(rows)} random problems, N ∈ [{s['N'][0]}, {s['N'][1]}], "
                 f"M ∈ [{s['M'][0]}, {s['M'][1]}], r₀ ∈ [{s['r0'][0]:g}, {s['r0'][1]:g}])", fontsize=10)
    fig.tight_layout()
    return fig, rp


def _caption(rows, s):
    from wnbias.experiments.tasks import AGREE_REL

    n = len(rows)
    count = {o: sum(r["outcome"] == o for r in rows) for o in OUTCOMES}
    lines = [
        f"**{TITLE}** {n} random problems drawn by the sweep engine (seed {s['draw_seed']}): L ∈ {s['Ls']}, "
        f"truths {', '.join(s['kinds'])}, Gaussian A with N ∈ [{s['N'][0]}, {s['N'][1]}] and M ∈ [{s['M'][0]}, "
        f"{s['M'][1]}] (k = max(1, M/4) nonzeros), η̃ log-uniform in [{s['eta_tilde'][0]:g}, {s['eta_tilde'][1]:g}], "
        f"r₀ log-uniform in [{s['r0'][0]:g}, {s['r0'][1]:g}], η_u = 1. Each problem: the limit x_∞ from the scalar "
        f"root (numerics.limit_solve: float64, and where that does not converge at {s['limit_dps']} digits; at most "
        f"{s['limit_time_limit']:g} s each) and the float64 flow "
        f"(numerics.integrate in (r, log u), method auto-full, to t = {s['t_max']:g} or {s['flow_time_limit']:g} s "
        f"of wall time); the flow *reached* "
        f"the limit when it CONVERGED (its own steady-state test) within {AGREE_REL:g} relative distance of x_∞. "
        "Top: every problem is a marker (its flow's status: filled = converged, open = not converged, × = diverged, "
        "+ = failed), colour = L; bottom: the empirical distributions. The CSV has every parameter of every problem; "
        "each problem whose flow did not reach the limit is also a one-task sweep file in convergence_L_misses/ "
        "(re-run: wnbias sweep FILE --out DIR).",
        "",
        C.run_count_sentence(rows, noun="flows"),
        f"Outcomes: {count['reached']} of {n} reached the predicted limit; {count['elsewhere']} converged elsewhere "
        f"(farther than {AGREE_REL:g}); {count['not_converged']} did not converge in their budget; "
        f"{count['no_limit']} have no limit to compare with (the limit solver did not converge); "
        f"{count['error']} raised.",
        "",
        "Measured:",
    ]
    for L in s["Ls"]:
        sub = [r for r in rows if r["L"] == L]
        conv = [r for r in sub if r["status"] == Status.CONVERGED]
        lines.append(f"- L = {L}: {sum(r['outcome'] == 'reached' for r in sub)} of {len(sub)} reached the limit; "
                     f"distance of the converged flows: {_quantiles([r.get('dist_x') for r in conv])}; flow time T "
                     f"of the converged flows: {_quantiles([r.get('t_final') for r in conv])}; wall time per "
                     f"problem: {_quantiles([r.get('wall_s') for r in sub])} s")
    slow = [r for r in rows if r["outcome"] == "not_converged"]
    if slow:
        tail = [r for r in slow if r.get("loss_final_rel") is not None and r["loss_final_rel"] <= PLATEAU_LOSS_REL]
        plateau = [r for r in slow if r not in tail]
        lines += ["", f"Of the {len(slow)} flows that did not converge in their budget, {len(tail)} had a loss at or below "
                  f"{PLATEAU_LOSS_REL:g}·½‖y‖² (a slow tail; their distance to x_∞: "
                  f"{_quantiles([r.get('dist_x') for r in tail])}) and {len(plateau)} were still on a plateau "
                  f"(loss above that; final losses {_quantiles([r.get('loss_final_rel') for r in plateau])}·½‖y‖²)."]
    misses = [r for r in rows if r["outcome"] != "reached"]
    if misses:
        lines += ["", f"Every problem that did not reach the limit ({len(misses)}):"]
        for r in misses:
            d = r.get("dist_x")
            lines.append(f"- {r['key']}: {r['outcome']} (flow {r['status']}, limit {r.get('limit_status')}); "
                         f"{r['kind']}, N = {r['N']}, M = {r['M']}, seed {r['seed']}, L = {r['L']}, "
                         f"η̃ = {r['eta_tilde']:.4g}, r₀ = {r['r0']:.4g}; distance {C.fmt(d) if d is not None else '—'}, "
                         f"T = {C.fmt(r.get('t_final'))}")
    else:
        lines += ["", "Every problem reached the predicted limit."]
    return "\n".join(lines)


__all__ = ["NAME", "OUTCOMES", "TITLE", "miss_toml", "run", "settings", "sweep_config", "work_units"]
