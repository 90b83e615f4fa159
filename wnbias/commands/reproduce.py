"""``wnbias reproduce``: run the experiments of docs/math.md §7 (and beyond), write figures and data."""

from __future__ import annotations

import argparse

from wnbias.errors import CannotRun, UsageError

HELP = "reproduce the paper's experiments and the extra ones: PNG + CSV + caption each"
DESCRIPTION = (
    "Run experiments (default: all) and write, for each, NAME.png (figure), NAME.csv (the numbers "
    "behind it) and NAME.md (caption with the measured values) into --out, plus manifest.json "
    "(parameters, versions, timings). --quick uses small sizes for a smoke run of a few minutes. "
    "A name given twice runs once. --out is created and checked writable before any work. "
    "Exit status: 0 all ran, 1 some experiment failed (the others are kept), 2 bad input, "
    "3 the manifest could not be written (it is printed to stdout)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wnbias.experiments import EXPERIMENT_NAMES

    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"experiments to run (default: all): {', '.join(EXPERIMENT_NAMES)}")
    parser.add_argument("--out", default="out/reproduce", help="output directory (default: out/reproduce)")
    parser.add_argument("--quick", action="store_true", help="small sizes and budgets (N=200, M=40, fewer steps and seeds)")
    parser.add_argument("--seeds", type=int, default=None, metavar="K", help="seeds per setting (default: per experiment)")
    parser.add_argument("--blas-threads", type=int, default=1, metavar="T",
                        help="BLAS threads (default 1: the batched products are small, and extra threads "
                             "slowed them down up to 10x on a busy machine)")
    parser.add_argument("--no-progress", action="store_true", help="no progress display on stderr")


def run(args) -> int:
    import platform
    import time
    import traceback

    from wnbias import experiments as X
    from wnbias.experiments import EXPERIMENT_NAMES, get_experiment
    from wnbias.io import check_output_dir, dumps, versions

    names = list(dict.fromkeys(args.names)) or list(EXPERIMENT_NAMES)  # each named experiment runs once
    bad = [n for n in names if n not in EXPERIMENT_NAMES]
    if bad:
        raise UsageError(f"NAME: unknown experiment(s) {', '.join(bad)}; choose from {', '.join(EXPERIMENT_NAMES)}")
    if args.blas_threads < 1:
        raise UsageError(f"--blas-threads must be a positive integer, got {args.blas_threads}")
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds must be a positive integer, got {args.seeds}")
    # --out is created and probed before any work (also: no directory where a file will go)
    out = check_output_dir(args.out, "--out", files=X.output_files(names))

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from wnbias.experiments._common import OutputWriteError

    mods = [get_experiment(n) for n in names]
    started = time.time()
    t0 = time.perf_counter()
    entries, failed, unwritten = [], [], []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                  TimeRemainingColumn(), console=Console(stderr=True), disable=args.no_progress) as bar:
        for name, mod in zip(names, mods):
            s = mod.settings(args.quick, args.seeds)
            tid = bar.add_task(name, total=mod.work_units(s))
            try:
                with _blas_threads(args.blas_threads):
                    res = mod.run(out, quick=args.quick, seeds=args.seeds,
                                  tick=lambda n=1, tid=tid: bar.advance(tid, n))
            except OutputWriteError as exc:  # computed, but not written: its numbers go to stdout
                unwritten.append(exc)
                entries.append({"name": name, "status": "not_written", "error": str(exc), "params": s})
                bar.update(tid, description=f"{name} [red]not written")
                continue
            except Exception as exc:  # one experiment's failure must not lose the others
                failed.append(name)
                entries.append({"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                                "traceback": traceback.format_exc(limit=5), "params": s})
                bar.update(tid, description=f"{name} [red]failed")
                continue
            bar.update(tid, completed=mod.work_units(s))
            entries.append({"status": "ok", **res.as_dict()})
    manifest = {
        "command": "wnbias reproduce",
        "experiments": entries,
        "quick": bool(args.quick),
        "seeds": args.seeds,
        "blas_threads": args.blas_threads,
        "versions": {**versions(), "matplotlib": __import__("matplotlib").__version__},
        "platform": platform.platform(),
        "started": started,
        "total_wall_s": round(time.perf_counter() - t0, 3),
    }
    for exc in unwritten:
        _print_unwritten(exc)
    text = dumps(manifest, indent=1)
    try:
        _write_atomic(out / "manifest.json", text)
    except OSError as exc:
        print(text)
        raise CannotRun(f"--out: could not write {out / 'manifest.json'} ({exc}); the manifest was printed "
                        f"to stdout") from None
    for e in entries:
        if e["status"] == "ok":
            print(f"{e['name']:14s} {e['wall_time_s']:8.1f} s  {out / e['figure']}  {e['csv']}  {e['caption']}")
        elif e["status"] == "not_written":
            print(f"{e['name']:14s} NOT WRITTEN: {e['error']} (its caption and rows are printed above)")
        else:
            print(f"{e['name']:14s} FAILED: {e['error']}")
    print(f"total {manifest['total_wall_s']:.1f} s; manifest: {out / 'manifest.json'}")
    if unwritten:
        raise CannotRun(f"--out: the results of {', '.join(e.name for e in unwritten)} could not be written; "
                        f"they were printed to stdout")
    return 1 if failed else 0


def _print_unwritten(exc) -> None:
    """The caption and the CSV rows of an experiment whose files could not be written."""
    import sys

    from wnbias.io import columns, csv_rows

    print(f"## {exc.name}: {exc} — the results follow")
    print(exc.caption)
    rows = list(exc.rows)
    if rows:
        csv_rows(sys.stdout, columns(rows), rows)


def _write_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`wnbias.io.atomic_write`)."""
    from wnbias.io import atomic_write

    atomic_write(path, lambda fh: fh.write(text), encoding="utf-8")


def _blas_threads(n: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(n)
