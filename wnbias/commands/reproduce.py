"""``wnbias reproduce``: run the experiments of docs/math.md §7 (and beyond), write figures and data."""

from __future__ import annotations

import argparse

from wnbias.errors import CannotRun, UsageError

HELP = "reproduce the paper's experiments and the extra ones: PNG + CSV + caption each"
DESCRIPTION = (
    "Run experiments (default: all) and write, for each, NAME.png (figure), NAME.csv (the numbers "
    "behind it) and NAME.md (caption with the measured values) into --out, plus manifest.json "
    "(parameters, versions, timings). --quick uses small sizes for a smoke run of a few minutes, "
    "into its own folder (default out/reproduce-quick). --dask-local K or --scheduler ADDR spreads "
    "the experiments over Dask workers, longest first (convergence_L's problems go to the same "
    "workers): the same CSV rows, drawn points and records as a local run except the columns of measured "
    "times (and the captions where they quote them); Ctrl-C marks the unfinished experiments interrupted. "
    "A name given twice runs once. --out is created and checked writable before any work. "
    "Exit status: 0 all ran, 1 some experiment failed (the others are kept), 2 bad input, "
    "3 the manifest could not be written (it is printed to stdout)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wnbias.experiments import EXPERIMENT_NAMES

    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"experiments to run (default: all): {', '.join(EXPERIMENT_NAMES)}")
    parser.add_argument("--out", default=None,
                        help=f"output directory (default: {DEFAULT_OUT}, or {DEFAULT_OUT_QUICK} with --quick)")
    parser.add_argument("--quick", action="store_true", help="small sizes and budgets (N=200, M=40, fewer steps and seeds)")
    parser.add_argument("--seeds", type=int, default=None, metavar="K", help="seeds per setting (default: per experiment)")
    parser.add_argument("--blas-threads", type=int, default=1, metavar="T",
                        help="BLAS threads (default 1: the batched products are small, and extra threads "
                             "slowed them down up to 10x on a busy machine)")
    parser.add_argument("--no-progress", action="store_true", help="no progress display on stderr")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dask-local", type=int, default=None, metavar="K",
                       help="run on a Dask LocalCluster of K single-threaded worker processes")
    where.add_argument("--scheduler", default=None, metavar="ADDR",
                       help="run on the Dask cluster of this scheduler (tcp://HOST:PORT; its workers need wnbias)")


DEFAULT_OUT = "out/reproduce"
DEFAULT_OUT_QUICK = "out/reproduce-quick"
"""Full and quick runs write to different folders, so a smoke run never overwrites the full figures."""


def run(args) -> int:
    import platform
    import time

    from wnbias import experiments as X
    from wnbias.experiments import EXPERIMENT_NAMES
    from wnbias.io import check_output_dir, dumps, versions

    names = list(dict.fromkeys(args.names)) or list(EXPERIMENT_NAMES)  # each named experiment runs once
    bad = [n for n in names if n not in EXPERIMENT_NAMES]
    if bad:
        raise UsageError(f"NAME: unknown experiment(s) {', '.join(bad)}; choose from {', '.join(EXPERIMENT_NAMES)}")
    if args.blas_threads < 1:
        raise UsageError(f"--blas-threads must be a positive integer, got {args.blas_threads}")
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds must be a positive integer, got {args.seeds}")
    dask_local, scheduler = getattr(args, "dask_local", None), getattr(args, "scheduler", None)
    if dask_local is not None and dask_local < 1:
        raise UsageError(f"--dask-local must be a positive integer (workers), got {dask_local}")
    if scheduler is not None:
        from wnbias.sweep import SweepInputError, check_scheduler_address

        try:
            check_scheduler_address(scheduler)
        except SweepInputError as exc:
            raise UsageError(str(exc)) from None
    if dask_local is not None or scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UsageError("--dask-local/--scheduler need 'distributed': pip install 'wnbias[dask]'") from None
    out_arg = args.out if args.out is not None else (DEFAULT_OUT_QUICK if args.quick else DEFAULT_OUT)
    # --out is created and probed before any work (also: no directory where a file will go)
    out = check_output_dir(out_arg, "--out", files=X.output_files(names))

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    started = time.time()
    t0 = time.perf_counter()
    entries: dict = {}
    unwritten: list = []
    backend = "local" if dask_local is None and scheduler is None else "dask"

    def manifest() -> dict:
        return {
            "command": "wnbias reproduce",
            "experiments": [entries.get(n, {"name": n, "status": "interrupted"}) for n in names],
            "quick": bool(args.quick),
            "seeds": args.seeds,
            "blas_threads": args.blas_threads,
            "backend": backend if backend == "local" else (f"dask-local {dask_local}" if scheduler is None
                                                           else f"dask scheduler {scheduler}"),
            "versions": {**versions(), "matplotlib": __import__("matplotlib").__version__},
            "platform": platform.platform(),
            "started": started,
            "total_wall_s": round(time.perf_counter() - t0, 3),
        }

    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                      TimeRemainingColumn(), console=Console(stderr=True), disable=args.no_progress) as bar:
            if backend == "local":
                _run_local(args, names, out, bar, entries, unwritten)
            else:
                _run_dask(args, names, out, bar, entries, unwritten, dask_local, scheduler)
    except KeyboardInterrupt:  # the finished experiments' files stay; the manifest says what was done
        try:
            _write_atomic(out / "manifest.json", dumps(manifest(), indent=1))
        except OSError:
            pass
        raise
    doc = manifest()
    failed = [e["name"] for e in doc["experiments"] if e["status"] == "failed"]
    for exc in unwritten:
        _print_unwritten(exc)
    text = dumps(doc, indent=1)
    try:
        _write_atomic(out / "manifest.json", text)
    except OSError as exc:
        print(text)
        raise CannotRun(f"--out: could not write {out / 'manifest.json'} ({exc}); the manifest was printed "
                        f"to stdout") from None
    for e in doc["experiments"]:
        if e["status"] == "ok":
            print(f"{e['name']:14s} {e['wall_time_s']:8.1f} s  {out / e['figure']}  {e['csv']}  {e['caption']}")
        elif e["status"] == "not_written":
            print(f"{e['name']:14s} NOT WRITTEN: {e['error']} (its caption and rows are printed above)")
        else:
            print(f"{e['name']:14s} FAILED: {e['error']}")
    print(f"total {doc['total_wall_s']:.1f} s; manifest: {out / 'manifest.json'}")
    if unwritten:
        raise CannotRun(f"--out: the results of {', '.join(e.name for e in unwritten)} could not be written; "
                        f"they were printed to stdout")
    return 1 if failed else 0


def _failed_entry(name: str, exc: BaseException, params: dict) -> dict:
    import traceback

    return {"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=5)),
            "params": params}


def _run_one_here(name: str, args, out, tick, entries: dict, unwritten: list, bar, tid, stop=None, **kw) -> None:
    """Run experiment ``name`` in this process; its entry goes into ``entries``.  ``stop``: a
    ``threading.Event`` set when the whole run is being stopped (Ctrl-C in Dask mode, where this runs
    in a thread and its cluster tasks are cancelled): an experiment that ends then without a result
    is recorded as ``interrupted``, not as failed."""
    from wnbias.experiments import get_experiment
    from wnbias.experiments._common import OutputWriteError

    s = None
    try:
        mod = get_experiment(name)
        s = mod.settings(args.quick, args.seeds)
        with _blas_threads(args.blas_threads):
            res = mod.run(out, quick=args.quick, seeds=args.seeds, tick=tick, **kw)
    except OutputWriteError as exc:  # computed, but not written: its numbers go to stdout
        unwritten.append(exc)
        entries[name] = {"name": name, "status": "not_written", "error": str(exc), "params": s}
        bar.update(tid, description=f"{name} [red]not written")
        return
    except Exception as exc:  # one experiment's failure must not lose the others
        if stop is not None and stop.is_set():  # its tasks were cancelled because the run is stopping
            entries[name] = {"name": name, "status": "interrupted", "params": s}
            bar.update(tid, description=f"{name} [yellow]interrupted")
            return
        entries[name] = _failed_entry(name, exc, s)
        bar.update(tid, description=f"{name} [red]failed")
        return
    bar.update(tid, completed=mod.work_units(s), description=name)
    entries[name] = {"status": "ok", **res.as_dict()}


def _run_local(args, names, out, bar, entries: dict, unwritten: list) -> None:
    from wnbias.experiments import get_experiment

    for name in names:
        mod = get_experiment(name)
        tid = bar.add_task(name, total=mod.work_units(mod.settings(args.quick, args.seeds)))
        _run_one_here(name, args, out, lambda n=1, tid=tid: bar.advance(tid, n), entries, unwritten, bar, tid)


SWEEP_EXPERIMENTS = ("convergence_L",)
"""Experiments that run their problems through the sweep engine: in Dask mode they run here and send
the problems to the cluster (one task each) instead of running in one worker."""


def _run_dask(args, names, out, bar, entries: dict, unwritten: list, dask_local, scheduler) -> None:
    """The experiments on Dask workers (:mod:`wnbias.dispatch`), longest first; each result's files
    are written into ``out`` as it arrives."""
    import concurrent.futures as cf
    import threading
    import uuid

    from wnbias.dispatch import EST_COST_S, EXPERIMENT, SWEEP, SlotDispatcher, open_cluster, run_remote
    from wnbias.experiments import get_experiment

    from wnbias.sweep import SweepInputError

    try:
        client, close, slots = open_cluster(dask_local, scheduler)
    except SweepInputError as exc:  # distributed missing, or the scheduler unreachable
        raise UsageError(str(exc)) from None
    except (OSError, TimeoutError, ValueError, TypeError) as exc:  # the local cluster, or the first contact
        # with a reached scheduler (its workers, its scheduler_info)
        if scheduler:
            raise UsageError(f"--scheduler: cannot reach {scheduler} ({type(exc).__name__}: {exc})") from None
        raise CannotRun(f"--dask-local: could not start the cluster ({type(exc).__name__}: {exc})") from None
    tids, settings = {}, {}
    for name in names:
        mod = get_experiment(name)
        settings[name] = mod.settings(args.quick, args.seeds)
        tids[name] = bar.add_task(f"{name} [dim](queued)", total=mod.work_units(settings[name]))
    topic = f"wnbias-reproduce-{uuid.uuid4().hex}"

    def on_progress(event) -> None:
        msg = event[1] if isinstance(event, tuple) and len(event) == 2 else event
        try:
            name, n = msg
            bar.update(tids[name], advance=float(n), description=name)
        except (KeyError, TypeError, ValueError):  # not ours
            pass

    client.subscribe_topic(topic, on_progress)
    d = SlotDispatcher(client, slots)
    stop = threading.Event()  # set before the dispatcher cancels: the sweep thread then records "interrupted"
    futs = {}
    threads = []
    try:
        remote = sorted((n for n in names if n not in SWEEP_EXPERIMENTS), key=lambda n: -EST_COST_S.get(n, 0))
        for name in remote:
            futs[d.submit(EXPERIMENT, run_remote, name, bool(args.quick), args.seeds, args.blas_threads,
                          topic)] = name
        for name in (n for n in names if n in SWEEP_EXPERIMENTS):
            tid = tids[name]
            t = threading.Thread(target=_run_one_here, daemon=True, name=f"wnbias-{name}",
                                 args=(name, args, out, lambda n=1, tid=tid: bar.advance(tid, n), entries, unwritten,
                                       bar, tid),
                                 kwargs=dict(stop=stop, executor=d.executor(SWEEP),
                                             executor_workers=max(slots, d.slots)))
            bar.update(tid, description=name)
            t.start()
            threads.append(t)
        pending = set(futs)
        while pending or any(t.is_alive() for t in threads):
            done, pending = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_COMPLETED)
            d.refresh()  # workers that joined since: they get queued work
            for f in done:
                _collect(futs[f], f, out, bar, tids[futs[f]], entries, unwritten, settings[futs[f]])
        for t in threads:
            t.join()
    except BaseException:
        stop.set()  # first: the cancellations below are a stop, not a failure
        d.shutdown()  # Ctrl-C: nothing more starts, the running tasks are cancelled
        for t in threads:  # the sweep thread records its entry before the manifest is written
            t.join(timeout=JOIN_TIMEOUT_S)
        raise
    finally:
        close()


JOIN_TIMEOUT_S = 30.0
"""Seconds a stopping Dask run waits for convergence_L's thread to see its cancelled tasks and
record itself (it polls every half second); a thread still running after that is left (a daemon)
and its experiment is ``interrupted`` in the manifest."""


def get_experiment_units(name: str, params: dict) -> int:
    from wnbias.experiments import get_experiment

    return get_experiment(name).work_units(params)


def _collect(name, fut, out, bar, tid, entries: dict, unwritten: list, params: dict) -> None:
    """Write the files of a finished remote experiment into ``out`` and record its entry."""
    from wnbias.experiments._common import OutputWriteError
    from wnbias.io import atomic_write

    try:
        got = fut.result()
    except BaseException as exc:  # noqa: BLE001 - a lost worker (killed, out of memory) or a cancelled task
        if isinstance(exc, KeyboardInterrupt):
            raise
        entries[name] = _failed_entry(name, exc, params)
        entries[name]["error"] = f"the Dask task was lost ({entries[name]['error']})"
        bar.update(tid, description=f"{name} [red]failed")
        return
    if got["status"] == "failed":
        entries[name] = {k: got[k] for k in ("name", "status", "error", "traceback", "params")}
        bar.update(tid, description=f"{name} [red]failed")
        return
    if got["status"] == "not_written":
        exc = OutputWriteError(name, out / name, OSError(0, got["error"]), got["caption"], got["rows"])
        unwritten.append(exc)
        entries[name] = {k: got[k] for k in ("name", "status", "error", "params")}
        bar.update(tid, description=f"{name} [red]not written")
        return
    path = out
    try:
        for rel, data in got["files"].items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda fh, data=data: fh.write(data), mode="wb")
    except OSError as exc:
        rows = []
        csv_bytes = got["files"].get(got["entry"]["csv"])
        if csv_bytes is not None:
            import csv as _csv
            import io

            rows = list(_csv.DictReader(io.StringIO(csv_bytes.decode("utf-8"))))
        caption = got["files"].get(got["entry"]["caption"], b"").decode("utf-8")
        err = OutputWriteError(name, path, exc, caption, rows)
        unwritten.append(err)
        entries[name] = {"name": name, "status": "not_written", "error": str(err), "params": params}
        bar.update(tid, description=f"{name} [red]not written")
        return
    entries[name] = {"status": "ok", **got["entry"]}
    bar.update(tid, completed=get_experiment_units(name, params), description=name)


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
