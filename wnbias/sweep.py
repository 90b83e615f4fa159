"""Sweeps: many independent tasks, each result kept as its own atomic JSON record.

A sweep is a registered task function (see :data:`wnbias.experiments.TASKS`) and a list of
parameter dicts built from a TOML file (fixed values, a cartesian grid and/or random draws).
Every finished task is written as ``records/<key>.json``, where ``key`` is a hash of the task
name and its parameters; the file is written to a temporary name and moved into place with
``os.replace``, so a record on disk is either complete or absent.  A rerun skips every valid
record, so an interrupted sweep (killed, Ctrl-C, a lost worker) loses no finished task.  A
record that does not parse, lacks a field, or fails its checksum is recomputed.

Backends share one interface (``submit``/``as_completed``/``close``): local processes
(:class:`concurrent.futures.ProcessPoolExecutor`, the default) and Dask distributed (an
existing scheduler address, or a ``LocalCluster`` started here).  Records are written by the
process that runs the sweep, never by workers, so a remote Dask cluster needs no shared disk.

The TOML file::

    task = "wn_gd_run"          # a registered task name (never a code path)
    name = "eta sweep"          # optional, for the manifest

    [params]                    # fixed values for every task
    N = 200
    M = 40

    [grid]                      # cartesian product of these lists
    eta_tilde = [0.01, 0.1, 1.0]
    seed = [0, 1, 2]

    [random]                    # optional: `draws` random points, reproducible from `seed`
    draws = 10
    seed = 1
    [random.params]
    r0 = { log_uniform = [0.1, 10.0] }   # also: uniform = [a, b], choice = [...], randint = [a, b]

Tasks are the product ``grid points × random draws`` (a missing section counts as one empty
point), each merged with ``[params]``.  A key may appear in one section only.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import platform
import socket
import tempfile
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

SCHEMA = 1
RECORD_FIELDS = ("schema", "task", "key", "params", "result", "error", "versions", "timing", "checksum")
_TOP_KEYS = {"task", "name", "params", "grid", "random"}
_DISTS = ("uniform", "log_uniform", "choice", "randint")


# --------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepSpec:
    """A task name and the parameter dicts of its tasks (in a fixed order)."""

    task: str
    params: tuple
    name: str = ""
    source: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.params)


def _check_value(key: str, v: Any, where: str) -> Any:
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"{where}.{key}: values must be finite numbers, got {v!r}")
        return v
    raise ValueError(f"{where}.{key}: values must be numbers, strings or booleans, got {type(v).__name__}")


def _draw(key: str, spec: Any, rng) -> Any:
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in _DISTS:
        raise ValueError(
            f"random.params.{key}: give exactly one of {', '.join(_DISTS)}, e.g. "
            f"{key} = {{ log_uniform = [0.01, 1.0] }}; got {spec!r}"
        )
    kind, args = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ValueError(f"random.params.{key}.choice: give a non-empty list")
        return _check_value(key, args[int(rng.integers(len(args)))], "random.params")
    if not (isinstance(args, list) and len(args) == 2 and all(isinstance(a, (int, float)) for a in args)):
        raise ValueError(f"random.params.{key}.{kind}: give two numbers [low, high], got {args!r}")
    lo, hi = args
    if not lo <= hi:
        raise ValueError(f"random.params.{key}.{kind}: need low <= high, got {args!r}")
    if kind == "uniform":
        return float(rng.uniform(lo, hi))
    if kind == "log_uniform":
        if lo <= 0:
            raise ValueError(f"random.params.{key}.log_uniform: bounds must be positive, got {args!r}")
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    if not (isinstance(lo, int) and isinstance(hi, int)):
        raise ValueError(f"random.params.{key}.randint: bounds must be integers, got {args!r}")
    return int(rng.integers(lo, hi + 1))


def expand(config: dict) -> SweepSpec:
    """Build the list of tasks from a parsed TOML document (see the module docstring)."""
    import numpy as np

    from wnbias.experiments import TASKS

    if not isinstance(config, dict):
        raise ValueError("the sweep config must be a TOML table")
    unknown = set(config) - _TOP_KEYS
    if unknown:
        raise ValueError(f"unknown top-level keys {sorted(unknown)} in the sweep config (allowed: {sorted(_TOP_KEYS)})")
    task = config.get("task")
    if task not in TASKS:
        raise ValueError(f"task must be one of the registered tasks {sorted(TASKS)}, got {task!r}")
    fixed = config.get("params", {}) or {}
    grid = config.get("grid", {}) or {}
    rand = config.get("random", {}) or {}
    for sec, val in (("params", fixed), ("grid", grid), ("random", rand)):
        if not isinstance(val, dict):
            raise ValueError(f"[{sec}] must be a table")
    fixed = {k: _check_value(k, v, "params") for k, v in fixed.items()}
    grid_lists = {}
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ValueError(f"grid.{k}: give a non-empty list of values, got {v!r}")
        grid_lists[k] = [_check_value(k, x, "grid") for x in v]
    rand_params = {}
    draws: list[dict] = [{}]
    if rand:
        extra = set(rand) - {"draws", "seed", "params"}
        if extra:
            raise ValueError(f"[random] allows draws, seed and params; unknown {sorted(extra)}")
        n = rand.get("draws")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"random.draws must be a positive integer, got {n!r}")
        seed = rand.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"random.seed must be a non-negative integer, got {seed!r}")
        rand_params = rand.get("params", {}) or {}
        if not isinstance(rand_params, dict) or not rand_params:
            raise ValueError("[random.params] must name at least one parameter and its distribution")
        rng = np.random.default_rng(seed)
        draws = [{k: _draw(k, rand_params[k], rng) for k in sorted(rand_params)} for _ in range(n)]
    seen: dict[str, str] = {}
    for sec, keys in (("params", fixed), ("grid", grid_lists), ("random.params", rand_params)):
        for k in keys:
            if k in seen:
                raise ValueError(f"parameter {k!r} appears in both [{seen[k]}] and [{sec}]; give it in one place")
            seen[k] = sec
    _check_signature(task, TASKS[task], set(seen))
    names = list(grid_lists)
    points = [dict(zip(names, combo)) for combo in product(*(grid_lists[k] for k in names))] or [{}]
    params = tuple({**fixed, **g, **d} for g in points for d in draws)
    return SweepSpec(task=task, params=params, name=str(config.get("name", "")), source=config)


def _check_signature(task: str, fn: Callable, keys: set) -> None:
    sig = inspect.signature(fn)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    allowed = set(sig.parameters)
    bad = keys - allowed
    if bad:
        raise ValueError(f"task {task!r} takes no parameter(s) {sorted(bad)}; it takes {sorted(allowed)}")


def load_config(path) -> SweepSpec:
    """Read a sweep TOML file and expand it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            config = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"CONFIG: no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"CONFIG: {path} is not valid TOML ({exc})") from None
    return expand(config)


# --------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------
def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def task_key(task: str, params: dict) -> str:
    """Hash of the task name and its parameters: the record's file name."""
    return hashlib.sha256(_canonical({"task": task, "params": params}).encode()).hexdigest()[:24]


def _checksum(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


def versions() -> dict:
    """Versions of the software a record was computed with."""
    import numpy
    import scipy

    from wnbias import __version__

    return {"wnbias": __version__, "python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__}


def make_record(task: str, params: dict, outcome: dict) -> dict:
    rec = {
        "schema": SCHEMA,
        "task": task,
        "key": task_key(task, params),
        "params": params,
        "seed": params.get("seed"),
        "result": outcome.get("result"),
        "error": outcome.get("error"),
        "versions": outcome.get("versions") or versions(),
        "timing": outcome.get("timing", {}),
    }
    rec["checksum"] = _checksum(rec)
    return rec


def write_record(directory, record: dict) -> Path:
    """Write ``record`` as ``directory/<key>.json`` atomically (temp file, fsync, os.replace)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{record['key']}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{record['key']}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(record, sort_keys=True, indent=1, allow_nan=True))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return final


def read_record(path) -> Optional[dict]:
    """The record at ``path`` if it is complete and consistent, else ``None``.

    Checks: valid JSON, every field of :data:`RECORD_FIELDS`, the key equals both the file
    name and the hash of (task, params), and the checksum matches the content.
    """
    path = Path(path)
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or any(f not in rec for f in RECORD_FIELDS):
        return None
    if rec.get("schema") != SCHEMA or not isinstance(rec["params"], dict):
        return None
    try:
        if rec["key"] != path.stem or rec["key"] != task_key(rec["task"], rec["params"]):
            return None
        if rec["checksum"] != _checksum(rec):
            return None
    except (TypeError, ValueError):
        return None
    return rec


def _flatten(rec: dict) -> dict:
    row = {"key": rec["key"], "task": rec["task"]}
    row.update(rec["params"])
    for k, v in (rec.get("result") or {}).items():
        row[k if k not in row else f"result.{k}"] = v
    row["error"] = rec.get("error")
    row["wall_s"] = (rec.get("timing") or {}).get("wall_s")
    return row


def load_records(directory, *, task: Optional[str] = None, include_errors: bool = True) -> list[dict]:
    """Every valid record under ``directory`` (or ``directory/records``) as a flat row dict.

    A row holds ``key``, ``task``, the parameters, the result fields (a result field whose
    name clashes with a parameter is prefixed ``result.``), ``error`` and ``wall_s``.  Rows
    are sorted by key, so the order does not depend on completion order.
    """
    directory = Path(directory)
    if (directory / "records").is_dir():
        directory = directory / "records"
    rows = []
    for p in sorted(directory.glob("*.json")):
        rec = read_record(p)
        if rec is None or (task is not None and rec["task"] != task):
            continue
        if rec.get("error") and not include_errors:
            continue
        rows.append(_flatten(rec))
    return rows


def write_csv(rows: Sequence[dict], path) -> Path:
    """Write rows (dicts) as CSV with the union of their columns; lists become JSON text."""
    import csv

    path = Path(path)
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
    os.replace(tmp, path)
    return path


def read_csv(path) -> list[dict]:
    """Read a CSV written by :func:`write_csv`: numbers come back as int/float, ``True``/``False``
    as booleans, empty cells as ``None``; everything else stays text."""
    import csv

    def conv(s: str):
        if s == "":
            return None
        if s in ("True", "False"):
            return s == "True"
        for f in (int, float):
            try:
                return f(s)
            except ValueError:
                pass
        return s

    with open(path, newline="") as fh:
        return [{k: conv(v) for k, v in row.items()} for row in csv.DictReader(fh)]


# --------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------
def execute_task(task: str, params: dict) -> dict:
    """Run one registered task (in a worker).  Never raises for an error inside the task."""
    import traceback

    from wnbias.experiments import TASKS

    start = time.time()
    t0 = time.perf_counter()
    try:
        with _one_blas_thread():
            result = TASKS[task](**params)
        error = None
    except Exception as exc:  # recorded, and retried on the next run
        result = None
        error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=3))
    return {
        "result": result,
        "error": error,
        "versions": versions(),
        "timing": {"started": start, "wall_s": time.perf_counter() - t0, "host": socket.gethostname(), "pid": os.getpid()},
    }


def _one_blas_thread():
    """One BLAS thread while a task runs, on every backend: the same summation order, hence
    bit-identical results from local processes and Dask workers (and no oversubscription)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


class LocalBackend:
    """Local worker processes (``ProcessPoolExecutor``, forkserver start on Linux)."""

    name = "local"

    def __init__(self, workers: Optional[int] = None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers or os.cpu_count() or 1
        ctx = multiprocessing.get_context("spawn" if platform.system() != "Linux" else "forkserver")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)

    def submit(self, fn, *args):
        return self._pool.submit(fn, *args)

    def as_completed(self, futures):
        from concurrent.futures import as_completed

        return as_completed(futures)

    def close(self, cancel: bool = False):
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


class DaskBackend:
    """Dask distributed: an existing scheduler (``address``) or a ``LocalCluster`` of ``n_workers``."""

    name = "dask"

    def __init__(self, address: Optional[str] = None, n_workers: Optional[int] = None, processes: bool = True):
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover
            raise ValueError("the Dask backend needs 'distributed': pip install 'dask[distributed]'") from None
        self._cluster = None
        if address:
            self._client = Client(address, timeout=30)
        else:
            self._cluster = LocalCluster(
                n_workers=n_workers or 1, threads_per_worker=1, processes=processes, dashboard_address=None
            )
            self._client = Client(self._cluster)
        self.workers = len(self._client.scheduler_info().get("workers", {})) or (n_workers or 1)

    def submit(self, fn, *args):
        return self._client.submit(fn, *args, pure=False)

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(futures)

    def close(self, cancel: bool = False):
        try:
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


@dataclass(frozen=True)
class SweepSummary:
    total: int
    skipped: int          # valid records found and kept
    computed: int         # tasks run in this call
    failed: int           # tasks whose function raised (recorded with `error`)
    recomputed_invalid: int  # corrupt/partial records found and recomputed
    wall_time: float
    backend: str
    out: str


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def run_sweep(
    spec: SweepSpec,
    out,
    *,
    backend: str = "local",
    workers: Optional[int] = None,
    scheduler: Optional[str] = None,
    dask_local: Optional[int] = None,
    dask_processes: bool = True,
    progress: bool = True,
    retry_failed: bool = True,
    on_record: Optional[Callable[[dict], None]] = None,
) -> SweepSummary:
    """Run every task of ``spec`` that has no valid record in ``out/records``.

    ``backend``: ``"local"`` (processes; ``workers`` of them) or ``"dask"`` (``scheduler``
    address, or a LocalCluster of ``dask_local`` workers).  ``on_record`` is called with each
    record after it is on disk.  Ctrl-C stops the sweep; finished records stay.
    """
    out = Path(out)
    rec_dir = out / "records"
    rec_dir.mkdir(parents=True, exist_ok=True)
    for stale in rec_dir.glob(".*.tmp"):  # temp files of a killed run
        try:
            stale.unlink()
        except OSError:
            pass
    todo, skipped, invalid = [], 0, 0
    seen = set()
    for params in spec.params:
        key = task_key(spec.task, params)
        if key in seen:
            continue
        seen.add(key)
        path = rec_dir / f"{key}.json"
        if path.exists():
            rec = read_record(path)
            if rec is not None and (rec["error"] is None or not retry_failed):
                skipped += 1
                continue
            if rec is None:
                invalid += 1
        todo.append(params)
    total = len(seen)
    _write_manifest(out, spec, backend, total)
    t0 = time.perf_counter()
    computed = failed = 0
    if todo:
        if backend == "local":
            be = LocalBackend(workers)
        elif backend == "dask":
            be = DaskBackend(scheduler, dask_local if dask_local else (workers or 1), processes=dask_processes)
        else:
            raise ValueError(f"backend must be 'local' or 'dask', got {backend!r}")
        cancelled = False
        try:
            with _progress(progress) as bar:
                tid = bar.add_task(f"{spec.task} ({be.name}, {be.workers} workers)", total=total, completed=skipped)
                futs = {be.submit(execute_task, spec.task, p): p for p in todo}
                for fut in be.as_completed(list(futs)):
                    params = futs[fut]
                    outcome = fut.result()
                    rec = make_record(spec.task, params, outcome)
                    write_record(rec_dir, rec)
                    computed += 1
                    failed += rec["error"] is not None
                    bar.advance(tid)
                    if on_record is not None:
                        on_record(rec)
        except BaseException:
            cancelled = True
            raise
        finally:
            be.close(cancel=cancelled)
    summary = SweepSummary(total, skipped, computed, failed, invalid, time.perf_counter() - t0, backend, str(out))
    rows = load_records(rec_dir, task=spec.task)
    keys = {task_key(spec.task, p) for p in spec.params}
    write_csv([r for r in rows if r["key"] in keys], out / "results.csv")
    return summary


def _write_manifest(out: Path, spec: SweepSpec, backend: str, total: int) -> None:
    path = out / "sweep.json"
    runs = []
    if path.exists():
        try:
            runs = json.loads(path.read_text()).get("runs", [])
        except (OSError, ValueError, AttributeError):
            runs = []
    runs.append({"started": time.time(), "backend": backend, "tasks": total})
    doc = {"task": spec.task, "name": spec.name, "config": spec.source, "n_tasks": total, "versions": versions(), "runs": runs}
    tmp = out / ".sweep.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)
