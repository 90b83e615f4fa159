"""``wnbias sweep``: run a grid or random sweep of a registered task, locally or on Dask."""

from __future__ import annotations

import argparse

from wnbias.errors import UsageError

HELP = "run a parameter sweep (TOML) with resumable per-task records, locally or on a Dask cluster"
DESCRIPTION = (
    "Expand CONFIG.toml (a registered task, fixed [params], a cartesian [grid] and/or [random] draws) "
    "and run every task without a valid record in --out/records. Each result is one JSON record, "
    "written atomically; rerunning resumes, and corrupted records are recomputed. Results are also "
    "collected in --out/results.csv. Exit 1 if some task raised (its record holds the error)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG.toml", help="sweep configuration (see docs/experiments.md)")
    parser.add_argument("--out", required=True, help="output directory (records/, results.csv, sweep.json)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on an existing Dask scheduler")
    where.add_argument("--dask-local", type=int, metavar="N", help="start a local Dask cluster with N worker processes")
    parser.add_argument("--workers", type=int, default=None, metavar="K",
                        help="local worker processes (default: CPU count)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args) -> int:
    from wnbias.sweep import load_config, run_sweep

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be a positive integer, got {args.workers}")
    if args.dask_local is not None and args.dask_local < 1:
        raise UsageError(f"--dask-local must be a positive integer, got {args.dask_local}")
    try:
        spec = load_config(args.config)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    backend = "dask" if (args.scheduler or args.dask_local) else "local"
    try:
        summary = run_sweep(spec, args.out, backend=backend, workers=args.workers, scheduler=args.scheduler,
                            dask_local=args.dask_local, progress=not args.no_progress)
    except OSError as exc:
        if args.scheduler:
            raise UsageError(f"--scheduler: cannot reach {args.scheduler} ({exc})") from None
        raise
    print(f"sweep {spec.task}: {summary.total} tasks; {summary.skipped} already done, {summary.computed} computed "
          f"({summary.recomputed_invalid} corrupt records recomputed), {summary.failed} failed; "
          f"{summary.wall_time:.1f} s on {summary.backend}; results: {summary.out}/results.csv")
    return 1 if summary.failed else 0
