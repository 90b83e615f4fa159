"""``wnbias sweep``: run a grid or random sweep of a registered task, locally or on Dask."""

from __future__ import annotations

import argparse
import sys

from wnbias.errors import EXIT_CANNOT_RUN, EXIT_INTERRUPTED, UsageError

HELP = "run a parameter sweep (TOML) with resumable per-task records, locally or on a Dask cluster"
DESCRIPTION = (
    "Expand CONFIG.toml (a registered task, fixed [params], a cartesian [grid] and/or [random] draws) "
    "and run every task without a valid record in --out/records. Each result is one JSON record, "
    "written atomically; rerunning resumes, and corrupted records are recomputed. Results are also "
    "collected in --out/results.csv. TOML floats are binary doubles; write a numeric parameter as a "
    "string (\"0.1\", \"1/3\") for its exact value. One sweep at a time per --out (a lock file). "
    "Exit 0 done, 1 some task raised (its record holds the error), 2 bad input (nothing run), "
    "3 results computed but not all saved (the unsaved ones go to stdout), 130 interrupted."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wnbias.sweep import MAX_TASKS

    parser.add_argument("config", metavar="CONFIG.toml", help="sweep configuration (see docs/experiments.md)")
    parser.add_argument("--out", required=True, help="output directory (records/, results.csv, sweep.json)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on an existing Dask scheduler")
    where.add_argument("--dask-local", type=int, metavar="N", help="start a local Dask cluster with N worker processes")
    parser.add_argument("--workers", type=int, default=None, metavar="K",
                        help="local worker processes (default: CPU count)")
    parser.add_argument("--force", action="store_true",
                        help=f"run a sweep of more than {MAX_TASKS:,} tasks (refused without it)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _say(text: str, stream=None) -> None:
    print(text, file=stream or sys.stdout)  # wnbias.cli.main makes stdout safe for closed pipes and ASCII


def _summary_line(spec, summary) -> str:
    return (f"sweep {spec.task}: {summary.total} tasks; {summary.skipped} already done, {summary.computed} computed "
            f"({summary.recomputed_invalid} corrupt records recomputed), {summary.failed} failed; "
            f"{summary.wall_time:.1f} s on {summary.backend}; results: {summary.out}/results.csv")


def run(args) -> int:
    from wnbias.sweep import (
        SweepIncomplete,
        SweepInputError,
        SweepInterrupted,
        check_scheduler_address,
        load_config,
        run_sweep,
    )
    from wnbias.io import dumps

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be a positive integer, got {args.workers}")
    if args.dask_local is not None and args.dask_local < 1:
        raise UsageError(f"--dask-local must be a positive integer, got {args.dask_local}")
    try:
        if args.scheduler is not None:
            check_scheduler_address(args.scheduler)
        spec = load_config(args.config, force=args.force)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except MemoryError:
        raise UsageError(f"CONFIG: the sweep in {args.config} is too large to hold in memory") from None
    backend = "dask" if (args.scheduler or args.dask_local) else "local"
    try:
        summary = run_sweep(spec, args.out, backend=backend, workers=args.workers, scheduler=args.scheduler,
                            dask_local=args.dask_local, progress=not args.no_progress)
    except SweepInputError as exc:
        raise UsageError(str(exc)) from None
    except SweepInterrupted as exc:
        s = exc.summary
        _say(f"wnbias sweep: interrupted; {s.saved} of {s.total} tasks have a record in {s.out}/records "
             f"({s.computed} written in this run); rerun the same command to resume", sys.stderr)
        return EXIT_INTERRUPTED
    except SweepIncomplete as exc:
        s = exc.summary
        _say(_summary_line(spec, s))
        for rec in exc.unsaved:  # computed but not on disk: the results themselves, one JSON line each
            _say(dumps(rec, sort_keys=True, indent=None))
        if exc.csv_failed:
            _print_csv(exc.rows)  # the table that could not be written
        _say(f"wnbias sweep: error: {exc.reason}; {s.saved} of {s.total} tasks have a record"
             + (f", {len(exc.unsaved)} computed but not saved (printed above as JSON)" if exc.unsaved else ""),
             sys.stderr)
        return EXIT_CANNOT_RUN
    _say(_summary_line(spec, summary))
    return 1 if summary.failed else 0


def _print_csv(rows) -> None:
    from io import StringIO

    from wnbias.io import columns, csv_rows

    buf = StringIO()
    csv_rows(buf, columns(rows), rows)
    _say(buf.getvalue().rstrip("\n"))
