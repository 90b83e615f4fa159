"""Run the benchmarks and write the markdown report (and the raw results as JSON).

    python -m benchmarks.run [--quick | --long] [--out FILE] [--only ITEM,...] [--json FILE] [--plot FILE]

Items: high_precision, float64_flow, gd, l1_solver, scaling, limit, solve.  ``--quick`` is a smoke run
(small sizes, few repeats; about two minutes); the full run is bounded by per-run wall caps
(about 30 minutes on a quiet 2-core machine).  ``--long`` adds item 4's ``N = 10⁵`` row (dense
``A`` of 1.2 GB handed to HiGHS, capped runs: about 15 minutes more); without it that row is
reported as not run, with the flag that runs it.  A toolkit function that does not exist is reported
as "not available"; an item that crashes is reported as failed with its error — never a number.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import traceback
from pathlib import Path

from wnbias.io import write_json

from benchmarks._common import NOT_AVAILABLE, ItemResult, Table, log, machine_info, machine_line

ITEMS = ("high_precision", "float64_flow", "gd", "l1_solver", "scaling", "limit", "solve")
MODULES = {
    "high_precision": "benchmarks.high_precision",
    "float64_flow": "benchmarks.float64_flow",
    "gd": "benchmarks.gd_bench",
    "l1_solver": "benchmarks.l1_solver",
    "scaling": "benchmarks.scaling",
    "limit": "benchmarks.limit_targets",
    "solve": "benchmarks.solve_cli",
}
TITLES = {
    "high_precision": "1. High precision: `numerics.integrate(dps=…)` (Taylor) vs `mpmath.odefun` and heyoka `real`",
    "float64_flow": "2. float64 flow: `numerics.integrate` (float64) vs scipy DOP853 and heyoka float64",
    "gd": "3. WN-GD: per-iteration cost vs the BLAS floor; batched vs sequential",
    "l1_solver": "4. As an ℓ1 solver: WN-GD / limit solver vs HiGHS",
    "scaling": "5. Scaling with N",
    "limit": "6. Limit solver: the scalar equation of docs/math.md §4 at float64 and at dps digits",
    "solve": "7. `wnbias solve --limit` end to end (one process per run)",
}
ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "_results"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (about two minutes)")
    ap.add_argument("--long", action="store_true", help="also item 4's N = 10⁵ row (about 15 minutes more)")
    ap.add_argument("--out", default=None, help="markdown report (default: BENCHMARKS.md, or "
                    "benchmarks/_results/BENCHMARKS-quick.md with --quick)")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(ITEMS)}")
    ap.add_argument("--json", default=None, help="raw results (default: benchmarks/_results/<out stem>.json)")
    ap.add_argument("--plot", default=None, help="scaling plot (default: benchmarks/scaling.png, or "
                    "benchmarks/_results/scaling-quick.png with --quick)")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit BLAS threads (threadpoolctl); default 1: the targets are single-thread figures, and "
                    "on a shared machine a multi-threaded BLAS stalls; 0 keeps the library's default")
    args = ap.parse_args(argv)
    if args.quick and args.long:
        ap.error("--quick and --long exclude each other")
    if args.blas_threads is not None and args.blas_threads < 0:
        ap.error("--blas-threads must be a non-negative integer (0: the library's default)")
    if args.only:
        items = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [s for s in items if s not in ITEMS]
        if bad:
            ap.error(f"--only: unknown item(s) {bad}; choose from {','.join(ITEMS)}")
        args.items = [i for i in ITEMS if i in items]
    else:
        args.items = list(ITEMS)
    return args


def run_item(key: str, quick: bool, plot_path, long: bool = False) -> ItemResult:
    import importlib

    t0 = time.perf_counter()
    c0 = _cpu()
    try:
        mod = importlib.import_module(MODULES[key])
        if key == "scaling":
            res = mod.run(quick=quick, plot_path=plot_path)
        elif key == "l1_solver":
            res = mod.run(quick=quick, long=long)
        else:
            res = mod.run(quick=quick)
    except Exception as exc:  # an item that crashes is reported, not hidden
        tb = traceback.format_exc(limit=6)
        log(f"item {key} FAILED: {exc!r}")
        res = ItemResult(key, TITLES[key], available=False)
        res.notes.append(f"**The item failed with an error** (no numbers reported):\n\n```\n{tb.strip()}\n```")
    res.wall = time.perf_counter() - t0
    res.cpu = _cpu() - c0
    return res


def _cpu() -> float:
    """CPU seconds of this process and its finished children (≈ wall time on an idle machine for
    single-threaded work; a way to size the run on a busy one)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def markdown(results, info, argv, total, quick) -> str:
    cmd = "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in argv)
    out = ["# Benchmarks" + (" (quick smoke run)" if quick else ""), ""]
    out.append("Generated by `python -m benchmarks.run` (`make bench`; `make bench-quick` for a smoke run). "
               "Each ratio below was measured within one run, on one machine; times are medians of repeats "
               "with [min–max]. Ratios are only as good as the machine was quiet: compare the load average "
               "below.")
    out.append("")
    out.append(f"- **Date:** {info['date_utc']}")
    out.append(f"- **Machine:** {machine_line(info)}")
    out.append(f"- **Commit:** {info.get('git_commit')}{' (with uncommitted changes)' if info.get('git_dirty') else ''}")
    out.append(f"- **Reproduce:** `{cmd}`  (total wall time of this run: {total:.0f} s, CPU {sum(r.cpu for r in results):.0f} s; "
               f"load average at end {'/'.join(f'{v:.2f}' for v in info.get('loadavg_end') or [])})")
    out.append("")
    # summary of targets
    summary = Table("Targets", ["item", "target", "goal", "measured", "verdict"])
    for r in results:
        if not r.targets:
            summary.rows.append([r.title.split(":")[0], "–", "–", NOT_AVAILABLE if not r.available else "–",
                                 NOT_AVAILABLE if not r.available else "–"])
        for t in r.targets:
            summary.rows.append([r.title.split(":")[0]] + t.row())
    out.append("## Summary\n")
    out.append(summary.markdown())
    for r in results:
        out.append(f"## {r.title}\n")
        if r.setup:
            out.append(r.setup + "\n")
        out.append(f"Item wall time: {r.wall:.0f} s (CPU {r.cpu:.0f} s).\n")
        for t in r.tables:
            out.append(t.markdown())
        if r.targets:
            tt = Table("", ["target", "goal", "measured", "verdict"], [t.row() for t in r.targets])
            out.append(tt.markdown())
        for n in r.notes:
            out.append(n + "\n")
    sections = tried_sections(results, ROOT / "TRIED.md") if not quick else []
    if sections:
        out.append("## Missed targets: what was tried\n")
        out.append("*Written by hand in `benchmarks/TRIED.md` and copied here by the generator, one section for "
                   "each item with a target missed in this run; its figures are those of the work it describes, "
                   "not of this run (the tables above are).*\n")
        out += sections
    return "\n".join(out).rstrip() + "\n"


def tried_sections(results, path) -> list:
    """The sections ``### Item N: …`` of ``path`` whose item (title ``N. …``) missed a target in ``results``."""
    if not path.exists():
        return []
    missed = {r.title.split(".")[0] for r in results if any(t.met is False for t in r.targets)}
    chunks = ("\n" + path.read_text()).split("\n### ")[1:]
    keep = []
    for chunk in chunks:
        head = chunk.split(":", 1)[0]  # "Item N"
        if head.startswith("Item ") and head[5:].strip() in missed:
            keep.append((int(head[5:]), "### " + chunk.strip() + "\n"))
    return [text for _, text in sorted(keep)]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    out = Path(args.out) if args.out else (RESULTS / "BENCHMARKS-quick.md" if args.quick else Path("BENCHMARKS.md"))
    js = Path(args.json) if args.json else RESULTS / (out.stem + ".json")
    plot_path = Path(args.plot) if args.plot else (RESULTS / "scaling-quick.png" if args.quick else ROOT / "scaling.png")
    for p in (out, js, plot_path):
        p.parent.mkdir(parents=True, exist_ok=True)
    blas_threads = 1 if args.blas_threads is None else (args.blas_threads or None)
    with _blas_limit(blas_threads):
        return _main(args, argv, out, js, plot_path, blas_threads)


BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Set to the limit as well, so that the processes an item starts (item 7's ``wnbias solve``) run
under the same limit as this one."""


def _blas_limit(n):
    import contextlib
    import os

    if n is None:
        return contextlib.nullcontext()
    for var in BLAS_ENV:
        os.environ[var] = str(n)
    import numpy  # noqa: F401  -- threadpoolctl limits only libraries already loaded
    import scipy.linalg  # noqa: F401
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log("threadpoolctl is not installed: --blas-threads ignored")
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _main(args, argv, out, js, plot_path, blas_threads):
    import os

    info = machine_info()
    info["blas_threads_limit"] = blas_threads
    log(f"benchmarks {'(quick) ' if args.quick else ''}items={','.join(args.items)} → {out}")
    t0 = time.perf_counter()
    results = []
    for i, key in enumerate(args.items):
        log(f"item {key} …")
        r = run_item(key, args.quick, plot_path, long=args.long)
        log(f"item {key} done in {r.wall:.1f} s (CPU {r.cpu:.1f} s)")
        results.append(r)
        # write after every item: an interrupted run still leaves what it measured (marked partial)
        info["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        _write(out, js, results, info, argv, time.perf_counter() - t0, args, partial=i + 1 < len(args.items))
    total = time.perf_counter() - t0
    log(f"wrote {out} and {js} ({total:.0f} s)")
    return 0


def _write(out, js, results, info, argv, total, args, partial):
    md = markdown(results, info, argv, total, args.quick)
    if partial:
        md = md.replace("\n", "\n\n> **Partial: the run is still going (or was interrupted).**\n", 1)
    out.write_text(md, encoding="utf-8")
    payload = {"machine": info, "argv": argv, "quick": args.quick, "total_seconds": total, "partial": partial,
               "items": [r.as_dict() for r in results]}
    write_json(js, payload, indent=1)  # wnbias.io: strict JSON (NaN → null), written atomically


if __name__ == "__main__":
    sys.exit(main())
