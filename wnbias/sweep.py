"""Sweeps: many independent tasks, each result kept as its own atomic JSON record.

A sweep is a registered task function (see :data:`wnbias.experiments.tasks.REGISTRY`) and a list of
parameter dicts built from a TOML file (fixed values, a cartesian grid and/or random draws).
Every finished task is written as ``records/<key>.json``, where ``key`` is a hash of the task
name and its parameters; the file is written to a temporary name and moved into place with
``os.replace``, so a record on disk is either complete or absent.  A rerun skips every valid
record, so an interrupted sweep (killed, Ctrl-C, a lost worker) loses no finished task.  A
record that does not parse, lacks a field, or fails its checksum is recomputed.

One backend, :class:`ExecutorBackend`, over a :class:`concurrent.futures.Executor`: local
processes (``ProcessPoolExecutor``, the default) or Dask distributed
(``distributed.Client.get_executor()``, itself a ``concurrent.futures.Executor``; an existing
scheduler address, or a ``LocalCluster`` started here).  Records are written by the
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

Numbers: a TOML integer is an integer; a TOML float is the binary double it reads as, and stays
that double; a string (``eta_tilde = "0.1"``, ``"1/3"``) given for a numeric task parameter is the
exact number it writes.  Each result records ``exact`` (the exact decimal strings of the flow
parameters) and ``precision`` (``"float64"`` or ``"dps=N"``).

Safety: the number of tasks is counted before anything is built, and more than
:data:`MAX_TASKS` is refused unless ``force``; the tasks are generated on demand
(:class:`TaskList`) and only a few per worker are in flight.  One sweep at a time holds the
output directory (:class:`SweepLock`, ``DIR/.sweep.lock``); every file is written through a
temporary name unique to the process.  Local workers exit when the sweep process dies, however
it died (:func:`_worker_init`).  Errors before any work raise :class:`SweepInputError`; Ctrl-C
raises :class:`SweepInterrupted`; a result that could not be saved raises
:class:`SweepIncomplete` carrying it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import platform
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from wnbias.io import atomic_write, canonical, probe_writable, to_jsonable, versions, write_csv as _io_write_csv

SCHEMA = 1
RECORD_FIELDS = ("schema", "task", "key", "params", "result", "error", "versions", "timing", "checksum")
_TOP_KEYS = {"task", "name", "params", "grid", "random"}
_DISTS = ("uniform", "log_uniform", "choice", "randint")

MAX_TASKS = 1_000_000
"""The largest sweep run without ``force=True`` (``--force``).  The size is counted from the
lengths of the ``[grid]`` lists and ``random.draws`` before any task is built; a sweep is a list of
independent tasks, and one above this size is far more likely a typo (an extra grid axis) than a
plan."""

LOCK_NAME = ".sweep.lock"
"""The lock file in ``--out`` held (``flock``) by the sweep running there."""

_INT64 = 2**63 - 1


class SweepInputError(ValueError):
    """Bad input found before any task ran: the config, ``--out`` or ``--scheduler``
    (the command line turns it into exit status 2)."""


class SweepTooLarge(SweepInputError):
    """The sweep has more than :data:`MAX_TASKS` tasks and ``force`` was not given."""

    def __init__(self, n_tasks: int, limit: int):
        self.n_tasks, self.limit = n_tasks, limit
        super().__init__(
            f"the sweep has {n_tasks:,} tasks, more than the limit of {limit:,} (wnbias.sweep.MAX_TASKS); "
            "check the [grid] lists and random.draws, or pass --force to run it anyway"
        )


class SweepBusy(SweepInputError):
    """Another live sweep holds the lock on the same output directory."""

    def __init__(self, lock_path: Path, holder: dict):
        self.lock_path, self.holder = lock_path, holder
        super().__init__(
            f"--out {lock_path.parent} is in use by another sweep ({_describe_holder(holder)}; lock file "
            f"{lock_path}); wait for it to finish or use another --out"
        )


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGINT): the workers were stopped; ``summary`` counts what was saved."""

    def __init__(self, summary: "SweepSummary"):
        self.summary = summary
        super().__init__(f"interrupted: {summary.saved} of {summary.total} tasks have a record in {summary.out}/records")


class SweepIncomplete(RuntimeError):
    """The work ran but something could not be saved (a record, ``results.csv``) or the
    backend lost its workers.  ``unsaved`` holds records computed but not on disk;
    ``summary`` counts the rest (the command line prints both and exits with status 3)."""

    def __init__(self, reason: str, summary: "SweepSummary", unsaved: Sequence[dict] = (), rows=None,
                 csv_failed: bool = False):
        self.reason, self.summary, self.unsaved, self.rows = reason, summary, list(unsaved), rows
        self.csv_failed = csv_failed  # True: every record is saved, only results.csv (``rows``) is not
        super().__init__(reason)


# --------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------
class TaskList(Sequence):
    """The parameter dicts of a sweep, generated on demand (``grid points × draws``, each merged
    with the fixed parameters), so a large grid costs memory only for the tasks in flight."""

    def __init__(self, fixed: dict, names: Sequence[str], lists: Sequence[list], draws: Sequence[dict]):
        self._fixed, self._names = dict(fixed), tuple(names)
        self._lists, self._draws = tuple(tuple(x) for x in lists), tuple(draws)
        self._n = math.prod(len(x) for x in self._lists) * len(self._draws)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        i = int(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("task index out of range")
        g, d = divmod(i, len(self._draws))
        vals = [None] * len(self._lists)
        for k in range(len(self._lists) - 1, -1, -1):  # itertools.product order: the last axis varies fastest
            g, j = divmod(g, len(self._lists[k]))
            vals[k] = self._lists[k][j]
        return {**self._fixed, **dict(zip(self._names, vals)), **self._draws[d]}

    def __iter__(self) -> Iterator[dict]:
        for combo in product(*self._lists):
            point = dict(zip(self._names, combo))
            for d in self._draws:
                yield {**self._fixed, **point, **d}

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self):  # pragma: no cover - mutable-looking, like a list
        raise TypeError("unhashable type: 'TaskList'")

    def __repr__(self) -> str:
        return f"TaskList({self._n} tasks)"


@dataclass(frozen=True)
class SweepSpec:
    """A task name and the parameter dicts of its tasks (in a fixed order; a :class:`TaskList`)."""

    task: str
    params: Sequence
    name: str = ""
    source: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.params)


def _check_value(key: str, v: Any, where: str) -> Any:
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, int):
        if abs(v) > _INT64:
            raise SweepInputError(f"{where}.{key}: integer {v} is out of range (at most 2^63 - 1 in magnitude)")
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise SweepInputError(f"{where}.{key}: values must be finite numbers, got {v!r}"
                                  + (" (a TOML number too large for a double reads as inf)" if math.isinf(v) else ""))
        return v
    raise SweepInputError(f"{where}.{key}: values must be numbers, strings or booleans, got {type(v).__name__}")


def _is_number(a) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool)


def _check_dist(key: str, spec: Any) -> tuple:
    """Validate one ``[random.params]`` entry (before anything is drawn)."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in _DISTS:
        raise SweepInputError(
            f"random.params.{key}: give exactly one of {', '.join(_DISTS)}, e.g. "
            f"{key} = {{ log_uniform = [0.01, 1.0] }}; got {spec!r}"
        )
    kind, args = next(iter(spec.items()))
    where = f"random.params.{key}.{kind}"
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise SweepInputError(f"{where}: give a non-empty list")
        return kind, [_check_value(key, a, "random.params") for a in args]
    if not (isinstance(args, list) and len(args) == 2 and all(_is_number(a) for a in args)):
        raise SweepInputError(f"{where}: give two numbers [low, high], got {args!r}")
    for a in args:
        _check_value(key, a, where)
    lo, hi = args
    if not lo <= hi:
        raise SweepInputError(f"{where}: need low <= high, got {args!r}")
    if kind == "log_uniform" and lo <= 0:
        raise SweepInputError(f"{where}: bounds must be positive, got {args!r}")
    if kind == "uniform" and not math.isfinite(float(hi) - float(lo)):
        raise SweepInputError(f"{where}: the interval {args!r} is too wide for a double")
    if kind == "randint":
        if not (isinstance(lo, int) and isinstance(hi, int)):
            raise SweepInputError(f"{where}: bounds must be integers, got {args!r}")
        if hi >= _INT64:
            raise SweepInputError(f"{where}: the high bound must be below 2^63 - 1, got {hi}")
    return kind, args


def _draw(kind: str, args, rng) -> Any:
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    lo, hi = args
    if kind == "uniform":
        return float(rng.uniform(lo, hi))
    if kind == "log_uniform":
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return int(rng.integers(lo, hi + 1))


def count_tasks(config: dict) -> int:
    """The number of tasks ``config`` expands to (grid points × draws), from the list lengths
    alone; nothing is built.  The config must already be structurally valid (see :func:`expand`)."""
    grid = config.get("grid", {}) or {}
    rand = config.get("random", {}) or {}
    n = math.prod(len(v) for v in grid.values()) if grid else 1
    return n * (int(rand["draws"]) if rand else 1)


def expand(config: dict, *, force: bool = False, max_tasks: int = MAX_TASKS) -> SweepSpec:
    """Build the list of tasks from a parsed TOML document (see the module docstring).

    The number of tasks is counted before anything is built; above ``max_tasks``
    (:data:`MAX_TASKS`) it raises :class:`SweepTooLarge` unless ``force``.  String values of
    numeric task parameters must be exact numbers (a decimal such as ``"0.1"`` or ``"p/q"``).
    """
    import numpy as np

    from wnbias.experiments.tasks import REGISTRY as TASKS

    if not isinstance(config, dict):
        raise SweepInputError("the sweep config must be a TOML table")
    unknown = set(config) - _TOP_KEYS
    if unknown:
        raise SweepInputError(f"unknown top-level keys {sorted(unknown)} in the sweep config (allowed: {sorted(_TOP_KEYS)})")
    task = config.get("task")
    if not isinstance(task, str) or task not in TASKS:
        raise SweepInputError(f"task must be one of the registered tasks {sorted(TASKS)}, got {task!r}")
    fixed = config.get("params", {}) or {}
    grid = config.get("grid", {}) or {}
    rand = config.get("random", {}) or {}
    for sec, val in (("params", fixed), ("grid", grid), ("random", rand)):
        if not isinstance(val, dict):
            raise SweepInputError(f"[{sec}] must be a table")
    fixed = {k: _check_value(k, v, "params") for k, v in fixed.items()}
    grid_lists = {}
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise SweepInputError(f"grid.{k}: give a non-empty list of values, got {v!r}")
        grid_lists[k] = [_check_value(k, x, "grid") for x in v]
    rand_params: dict = {}
    n_draws, seed = 1, 0
    if rand:
        extra = set(rand) - {"draws", "seed", "params"}
        if extra:
            raise SweepInputError(f"[random] allows draws, seed and params; unknown {sorted(extra)}")
        n_draws = rand.get("draws")
        if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
            raise SweepInputError(f"random.draws must be a positive integer, got {n_draws!r}")
        seed = rand.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _INT64:
            raise SweepInputError(f"random.seed must be a non-negative integer, got {seed!r}")
        rand_params = rand.get("params", {}) or {}
        if not isinstance(rand_params, dict) or not rand_params:
            raise SweepInputError("[random.params] must name at least one parameter and its distribution")
    dists = {k: _check_dist(k, rand_params[k]) for k in sorted(rand_params)}
    seen: dict[str, str] = {}
    for sec, keys in (("params", fixed), ("grid", grid_lists), ("random.params", rand_params)):
        for k in keys:
            if k in seen:
                raise SweepInputError(f"parameter {k!r} appears in both [{seen[k]}] and [{sec}]; give it in one place")
            seen[k] = sec
    _check_signature(task, TASKS[task], set(seen))
    _check_exact_strings(TASKS[task], fixed, grid_lists, dists)
    n_tasks = math.prod(len(v) for v in grid_lists.values()) * n_draws  # counted, nothing built yet
    if n_tasks > max_tasks and not force:
        raise SweepTooLarge(n_tasks, max_tasks)
    draws: list[dict] = [{}]
    if rand:
        rng = np.random.default_rng(seed)
        draws = [{k: _draw(*dists[k], rng) for k in dists} for _ in range(n_draws)]
    names = list(grid_lists)
    params = TaskList(fixed, names, [grid_lists[k] for k in names], draws)
    return SweepSpec(task=task, params=params, name=str(config.get("name", "")), source=config)


def _numeric_params(fn: Callable) -> set:
    """Names of ``fn``'s parameters annotated as floats (exact strings are allowed for these)."""
    out = set()
    for name, p in inspect.signature(fn).parameters.items():
        ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", str(p.annotation))
        if "float" in str(ann):
            out.add(name)
    return out


def _check_exact_strings(fn: Callable, fixed: dict, grid_lists: dict, dists: dict) -> None:
    from wnbias.experiments.tasks import exact_number

    numeric = _numeric_params(fn)
    values = [("params", k, v) for k, v in fixed.items()]
    values += [("grid", k, x) for k, xs in grid_lists.items() for x in xs]
    values += [("random.params", k, x) for k, (kind, xs) in dists.items() if kind == "choice" for x in xs]
    for sec, k, v in values:
        if k in numeric and isinstance(v, bool):
            raise SweepInputError(f"{sec}.{k}: expected a number, got the boolean {str(v).lower()}")
        if k in numeric and isinstance(v, str):
            try:
                exact_number(v)
            except ValueError as exc:
                raise SweepInputError(f"{sec}.{k}: {exc}") from None


def _check_signature(task: str, fn: Callable, keys: set) -> None:
    sig = inspect.signature(fn)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    allowed = set(sig.parameters)
    bad = keys - allowed
    if bad:
        raise ValueError(f"task {task!r} takes no parameter(s) {sorted(bad)}; it takes {sorted(allowed)}")


def load_config(path, *, force: bool = False) -> SweepSpec:
    """Read a sweep TOML file and expand it (:func:`expand`).

    TOML numbers: an integer is an integer; a float is the binary double TOML reads it as (so
    ``0.1`` is the double nearest one tenth, kept as that double); a string such as ``"0.1"`` or
    ``"1/3"`` for a numeric parameter is the exact number it writes (one tenth, one third).
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            config = tomllib.load(fh)
    except FileNotFoundError:
        raise SweepInputError(f"CONFIG: no such file: {path}") from None
    except IsADirectoryError:
        raise SweepInputError(f"CONFIG: {path} is a directory, not a TOML file") from None
    except OSError as exc:
        raise SweepInputError(f"CONFIG: cannot read {path} ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise SweepInputError(f"CONFIG: {path} is not UTF-8 text, so not TOML ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepInputError(f"CONFIG: {path} is not valid TOML ({exc})") from None
    except RecursionError:
        raise SweepInputError(f"CONFIG: {path} nests too deeply to read") from None
    return expand(config, force=force)


# --------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------
def _canonical(obj: Any) -> str:
    return canonical(obj)


def task_key(task: str, params: dict) -> str:
    """Hash of the task name and its parameters: the record's file name."""
    return hashlib.sha256(_canonical({"task": task, "params": params}).encode()).hexdigest()[:24]


def _checksum(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


def make_record(task: str, params: dict, outcome: dict) -> dict:
    """The record of one finished task: strict JSON (the one policy of :mod:`wnbias.io`: a NaN in
    a result is ``null``), with its key and checksum."""
    rec = {
        "schema": SCHEMA,
        "task": task,
        "key": task_key(task, params),
        "params": params,
        "seed": params.get("seed"),
        "result": to_jsonable(outcome.get("result")),
        "error": outcome.get("error"),
        "versions": outcome.get("versions") or versions(),
        "timing": to_jsonable(outcome.get("timing", {})),
    }
    rec["checksum"] = _checksum(rec)
    return rec


def write_record(directory, record: dict) -> Path:
    """Write ``record`` as ``directory/<key>.json`` atomically (temp file, fsync, os.replace)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, sort_keys=True, indent=1, allow_nan=False)
    return atomic_write(directory / f"{record['key']}.json", lambda fh: fh.write(text), fsync=True)


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
        if k == "exact" and isinstance(v, dict):  # exact parameter strings: one text column each
            for name, text in v.items():
                row[f"exact.{name}"] = text
            continue
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
    """Write rows (dicts) as CSV with the union of their columns (:func:`wnbias.io.write_csv`,
    which takes ``(path, rows)``; this order is the sweep's own, kept for its callers)."""
    return _io_write_csv(path, rows)


# --------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------
def execute_task(task: str, params: dict) -> dict:
    """Run one registered task (in a worker).  Never raises for an error inside the task."""
    import traceback

    from wnbias.experiments.tasks import REGISTRY as TASKS

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
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


# --------------------------------------------------------------------------------------
# workers die with the sweep
# --------------------------------------------------------------------------------------
_PR_SET_PDEATHSIG = 1


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker_init(sweep_pid: int) -> None:
    """Initializer of every local worker: ignore SIGINT (the sweep handles Ctrl-C and stops the
    workers itself) and exit as soon as the sweep process is gone, whatever killed it.

    Three layers: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux (the worker's parent is the
    forkserver, which itself exits when the sweep's end of its pipe closes); a daemon thread that
    waits on a pidfd of the sweep process (Linux ≥ 5.3) — or polls its pid and the worker's
    parent pid twice a second elsewhere — and ends the worker with ``os._exit``.  With the
    workers gone, multiprocessing's resource tracker sees its pipe close and exits too."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(sweep_pid)
        except OSError:
            pidfd = None
    if not _pid_alive(sweep_pid):
        os._exit(1)
    threading.Thread(target=_watch_sweep, args=(sweep_pid, pidfd, os.getppid()), daemon=True,
                     name="wnbias-sweep-watch").start()


def _watch_sweep(sweep_pid: int, pidfd: Optional[int], ppid: int) -> None:
    if pidfd is not None:
        import select

        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while not poller.poll(1000):  # a pidfd becomes readable when its process exits
            pass
    else:  # pragma: no cover - no pidfd (not Linux)
        while _pid_alive(sweep_pid) and os.getppid() == ppid:
            time.sleep(0.5)
    os._exit(1)


class ExecutorBackend:
    """The one backend: a :class:`concurrent.futures.Executor` (``submit``; its futures are
    waited on with :func:`concurrent.futures.wait`) and what to close after it.

    :func:`local_backend` gives a ``ProcessPoolExecutor`` (forkserver start on Linux; the workers
    exit when the sweep process dies, :func:`_worker_init`); :func:`dask_backend` gives
    ``distributed.Client.get_executor()``, which is already a ``concurrent.futures.Executor``."""

    def __init__(self, name: str, executor, workers: int, *, stop_now: Callable[[], None] = lambda: None,
                 on_close: Callable[[], None] = lambda: None):
        self.name, self.workers = name, int(workers)
        self._executor, self._stop_now, self._on_close = executor, stop_now, on_close
        self._live: set = set()

    def submit(self, fn, *args):
        fut = self._executor.submit(fn, *args)
        self._live.add(fut)
        return fut

    def wait_any(self, futures, timeout: float = 0.5) -> set:
        """The finished futures among ``futures`` (waits at most ``timeout`` seconds)."""
        from concurrent.futures import FIRST_COMPLETED, wait

        done = set(wait(futures, timeout=timeout, return_when=FIRST_COMPLETED).done)
        self._live -= done
        return done

    def close(self, cancel: bool = False):
        """Shut the executor down: waiting for what runs, or (``cancel``) at once, cancelling
        every task in flight (it has no record yet, and runs again on the next call)."""
        try:
            if cancel:
                for fut in self._live:
                    fut.cancel()
                self._stop_now()
            self._executor.shutdown(wait=not cancel)
        finally:
            self._on_close()


def local_backend(workers: Optional[int] = None) -> ExecutorBackend:
    """``workers`` local processes (default: one per CPU)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    n = workers or os.cpu_count() or 1
    ctx = multiprocessing.get_context("spawn" if platform.system() != "Linux" else "forkserver")
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),))

    def stop_now() -> None:  # running tasks would otherwise finish first
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            try:
                p.terminate()
            except (OSError, AttributeError):  # pragma: no cover - already gone
                pass
        for p in procs:
            p.join(timeout=5)

    return ExecutorBackend("local", pool, n, stop_now=stop_now)


_SCHEDULER_RE = re.compile(r"^(?:(tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})/?$")


def check_scheduler_address(address: str) -> str:
    """``address`` if it has the form ``[tcp|tls|ws|wss|ucx://]HOST:PORT``, else
    :class:`SweepInputError` naming ``--scheduler``."""
    m = _SCHEDULER_RE.match(address or "")
    if not m or not 0 < int(m.group(3)) < 65536:
        raise SweepInputError(f"--scheduler: {address!r} is not a Dask scheduler address; give tcp://HOST:PORT "
                              "(for example tcp://127.0.0.1:8786)")
    return address


def dask_client(address: Optional[str] = None, n_workers: Optional[int] = None, *, processes: bool = True,
                memory_limit=None):
    """``(client, cluster)``: a client of the scheduler at ``address`` (checked first; ``cluster`` None), or of a
    ``LocalCluster`` of ``n_workers`` single-threaded workers that this process starts (``memory_limit`` per
    worker, as ``LocalCluster`` takes it, ``0`` for none; None leaves ``LocalCluster``'s default, the
    machine's memory shared among the workers).  The one place the toolkit connects to Dask
    (:func:`dask_backend`, :func:`wnbias.dispatch.open_cluster`).  A missing ``distributed`` or an
    unreachable scheduler is a :class:`SweepInputError`; a local cluster that fails to start raises as
    ``LocalCluster`` does."""
    try:  # an optional dependency (the ``dask`` extra)
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepInputError("the Dask backend needs 'distributed': pip install 'wnbias[dask]'") from None

    if address:
        check_scheduler_address(address)
        try:
            return Client(address, timeout=30), None
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise SweepInputError(f"--scheduler: cannot reach {address} ({type(exc).__name__}: {exc})") from None
    kw = {} if memory_limit is None else {"memory_limit": memory_limit}
    cluster = LocalCluster(n_workers=n_workers or 1, threads_per_worker=1, processes=processes,
                           dashboard_address=None, **kw)
    try:
        return Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def dask_backend(address: Optional[str] = None, n_workers: Optional[int] = None,
                 processes: bool = True) -> ExecutorBackend:
    """Dask distributed: an existing scheduler (``address``) or a ``LocalCluster`` of ``n_workers``
    single-threaded workers (:func:`dask_client`); tasks go through ``Client.get_executor(pure=False)``."""
    client, cluster = dask_client(address, n_workers, processes=processes)
    workers = len(client.scheduler_info().get("workers", {})) or (n_workers or 1)
    return ExecutorBackend("dask", client.get_executor(pure=False), workers, on_close=dask_closer(client, cluster))


def dask_closer(client, cluster=None):
    """A function that closes ``client`` and then ``cluster`` (a ``LocalCluster`` this process started,
    or None for a remote scheduler's), even when closing the client raises."""
    def close() -> None:
        try:
            client.close()
        finally:
            if cluster is not None:
                cluster.close()

    return close


def shared_backend(executor, workers: int) -> ExecutorBackend:
    """The Dask backend on an executor that other work shares (``wnbias reproduce --dask-local`` /
    ``--scheduler`` hands its cluster's dispatcher): ``executor`` is a ``concurrent.futures.Executor``
    for this sweep alone, whose ``shutdown`` cancels only this sweep's tasks and leaves the cluster
    open; ``workers`` sets the number of tasks kept in flight."""
    return ExecutorBackend("dask", executor, max(1, int(workers)))


# --------------------------------------------------------------------------------------
# the output directory: checks and the lock
# --------------------------------------------------------------------------------------
def _describe_holder(h: dict) -> str:
    started = h.get("started")
    when = (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
            if isinstance(started, (int, float)) and math.isfinite(started) else "at an unknown time")
    return f"pid {h.get('pid', '?')} on host {h.get('host', '?')}, started {when}"


class SweepLock:
    """An exclusive lock on an output directory: the file ``DIR/.sweep.lock``, held with
    ``flock`` (released by the kernel whatever ends the process) and holding the holder's pid,
    host and start time.  A lock file left by a process that no longer holds it (a killed sweep)
    is taken over; :attr:`previous` then describes that process."""

    def __init__(self, directory):
        self.path = Path(directory) / LOCK_NAME
        self._fd: Optional[int] = None
        self.previous: Optional[dict] = None

    @staticmethod
    def _read(fd: int) -> dict:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            data = os.read(fd, 65536)
            h = json.loads(data.decode("utf-8")) if data.strip() else {}
            return h if isinstance(h, dict) else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "SweepLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self._acquire_exclusive_create()
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._read(fd)
                os.close(fd)
                raise SweepBusy(self.path, holder) from None
            except OSError:  # a filesystem without flock (ENOLCK): pid-file locking instead
                os.close(fd)
                return self._acquire_exclusive_create()
            try:  # the file may have been removed (and re-created) by the previous holder
                same = os.path.samestat(os.stat(self.path), os.fstat(fd))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            left = self._read(fd)
            self.previous = left or None
            self._write(fd)
            self._fd = fd
            return self
        raise SweepInputError(f"--out: cannot take the lock {self.path}: it keeps being replaced")  # pragma: no cover

    def _acquire_exclusive_create(self) -> "SweepLock":
        """Without ``flock`` (not POSIX, or a filesystem without it): create the file exclusively;
        an existing one is stale if it names a dead process on this host (or nothing at all)."""
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                with open(self.path, "rb") as fh:
                    try:
                        holder = json.loads(fh.read().decode() or "{}")
                    except ValueError:
                        holder = {}
                holder = holder if isinstance(holder, dict) else {}
                pid = holder.get("pid")
                if not holder or (holder.get("host") == socket.gethostname() and isinstance(pid, int)
                                  and not _pid_alive(pid)):  # empty (never written) or its process is dead
                    self.previous = holder
                    os.unlink(self.path)
                    continue
                raise SweepBusy(self.path, holder) from None
            self._write(fd)
            self._fd = fd
            return self
        raise SweepBusy(self.path, self.previous or {})

    @staticmethod
    def _write(fd: int) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "argv": sys.argv}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it: a waiting process re-checks the inode
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _prepare_out(out: Path, note: Callable[[str], None]) -> SweepLock:
    """Check ``out`` before any work: a directory (created if missing), writable, with
    ``records/`` a directory and ``results.csv``/``sweep.json`` not directories; take its lock."""
    if out.exists() and not out.is_dir():
        raise SweepInputError(f"--out: {out} is a file, not a directory; give a directory for the records")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepInputError(f"--out: cannot create the directory {out} ({exc.strerror or exc})") from None
    try:
        lock = SweepLock(out).acquire()
    except OSError as exc:
        raise SweepInputError(f"--out: cannot write in {out} ({exc.strerror or exc})") from None
    try:
        if lock.previous:
            note(f"wnbias sweep: taking over the lock {lock.path} left by a sweep that is no longer running "
                 f"({_describe_holder(lock.previous)})")
        rec_dir = out / "records"
        if rec_dir.exists() and not rec_dir.is_dir():
            raise SweepInputError(f"--out: {rec_dir} is a file; it must be the directory of records")
        for name in ("results.csv", "sweep.json"):
            if (out / name).is_dir():
                raise SweepInputError(f"--out: {out / name} is a directory; the sweep writes a file there")
        try:
            rec_dir.mkdir(exist_ok=True)
            probe_writable(rec_dir)
        except OSError as exc:
            raise SweepInputError(f"--out: cannot write in {rec_dir} ({exc.strerror or exc})") from None
    except BaseException:
        lock.release()
        raise
    return lock


def _remove_stale_temps(rec_dir: Path, out: Path) -> None:
    """Temporary files of killed runs.  Called with the lock held, so no other sweep writes here;
    a name carrying the pid of a live process on this host is kept all the same."""
    for d in (rec_dir, out):
        for stale in d.glob(".*.tmp"):
            parts = stale.name.split(".")  # ".<name>.<pid>.<random>.tmp"
            pid = int(parts[-3]) if len(parts) >= 5 and parts[-3].isdigit() and len(parts[-3]) <= 7 else None
            if pid is not None and pid != os.getpid() and _pid_alive(pid):
                continue
            try:
                stale.unlink()
            except OSError:
                pass


@dataclass(frozen=True)
class SweepSummary:
    total: int
    skipped: int          # valid records found and kept
    computed: int         # tasks run (and saved) in this call
    failed: int           # tasks whose function raised (recorded with `error`)
    recomputed_invalid: int  # corrupt/partial records found and recomputed
    wall_time: float
    backend: str
    out: str

    @property
    def saved(self) -> int:
        """Tasks that now have a record (kept or written in this call)."""
        return self.skipped + self.computed


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


def _stderr_note(msg: str) -> None:
    print(msg, file=sys.stderr)


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
    note: Callable[[str], None] = _stderr_note,
    executor=None,
    executor_workers: Optional[int] = None,
) -> SweepSummary:
    """Run every task of ``spec`` that has no valid record in ``out/records``.

    ``backend``: ``"local"`` (processes; ``workers`` of them) or ``"dask"`` (``scheduler``
    address, or a LocalCluster of ``dask_local`` workers, or a shared ``executor`` on a cluster that
    stays open, with ``executor_workers`` workers: :func:`shared_backend`).  ``on_record`` is called with each
    record after it is on disk; ``note`` receives messages (default: stderr).

    Before any task runs: ``out`` is checked (a writable directory; :class:`SweepInputError`
    otherwise) and locked (:class:`SweepBusy` if another sweep runs there), and ``scheduler`` is
    checked.  At most a few tasks per worker are in flight, so memory stays bounded and Ctrl-C is
    prompt: it stops the workers and raises :class:`SweepInterrupted` (finished records stay).
    A record or ``results.csv`` that cannot be written, a lost worker pool, or tasks cancelled by the
    owner of a shared ``executor`` (its reason says which) raise :class:`SweepIncomplete` after the
    work, with the unsaved records.
    """
    if backend not in ("local", "dask"):
        raise SweepInputError(f"backend must be 'local' or 'dask', got {backend!r}")
    if backend == "dask" and scheduler:
        check_scheduler_address(scheduler)
    if executor is not None and backend != "dask":
        raise SweepInputError(f"a shared executor needs backend='dask', got {backend!r}")
    out = Path(out)
    rec_dir = out / "records"
    lock = _prepare_out(out, note)
    try:
        return _run_locked(spec, out, rec_dir, backend=backend, workers=workers, scheduler=scheduler,
                           dask_local=dask_local, dask_processes=dask_processes, progress=progress,
                           retry_failed=retry_failed, on_record=on_record, executor=executor,
                           executor_workers=executor_workers)
    finally:
        lock.release()


def _scan(spec: SweepSpec, rec_dir: Path, retry_failed: bool):
    """Indices of the tasks to run, and the counts (total distinct, kept, invalid)."""
    entries = {}
    with os.scandir(rec_dir) as it:
        for e in it:
            if e.name.endswith(".json"):
                entries[e.name] = e
    todo, skipped, invalid = [], 0, 0
    seen = set()
    for i, params in enumerate(spec.params):
        key = task_key(spec.task, params)
        if key in seen:
            continue
        seen.add(key)
        entry = entries.get(f"{key}.json")
        if entry is not None:
            if not entry.is_file():
                raise SweepInputError(f"--out: {rec_dir / entry.name} is not a file; a record goes there "
                                      "(remove it and rerun)")
            rec = read_record(rec_dir / entry.name)
            if rec is not None and (rec["error"] is None or not retry_failed):
                skipped += 1
                continue
            if rec is None:
                invalid += 1
        todo.append(i)
    return todo, len(seen), skipped, invalid


def _run_locked(spec, out, rec_dir, *, backend, workers, scheduler, dask_local, dask_processes, progress,
                retry_failed, on_record, executor=None, executor_workers=None) -> SweepSummary:
    _remove_stale_temps(rec_dir, out)
    todo, total, skipped, invalid = _scan(spec, rec_dir, retry_failed)
    try:
        _write_manifest(out, spec, backend, total)
    except OSError as exc:
        raise SweepInputError(f"--out: cannot write {out / 'sweep.json'} ({exc.strerror or exc})") from None
    t0 = time.perf_counter()
    computed = failed = 0
    unsaved: list[dict] = []
    problem: Optional[str] = None

    def summary():
        return SweepSummary(total, skipped, computed, failed, invalid, time.perf_counter() - t0, backend, str(out))

    if todo:
        if backend == "local":
            be = local_backend(workers)
        elif executor is not None:
            be = shared_backend(executor, executor_workers or workers or 1)
        else:
            be = dask_backend(scheduler, dask_local if dask_local else (workers or 1), processes=dask_processes)
        window = max(2 * be.workers, 4)
        cancelled = True
        try:
            with _progress(progress) as bar:
                tid = bar.add_task(f"{spec.task} ({be.name}, {be.workers} workers)", total=total, completed=skipped)
                queue = iter(todo)
                pending: dict = {}

                def fill():
                    while problem is None and len(pending) < window:
                        i = next(queue, None)
                        if i is None:
                            return
                        params = spec.params[i]
                        pending[be.submit(execute_task, spec.task, params)] = params

                fill()
                while pending:
                    for fut in be.wait_any(list(pending)):
                        params = pending.pop(fut)
                        try:
                            outcome = fut.result()
                        except KeyboardInterrupt:
                            raise
                        except _CANCELLED:  # cancelled by whoever owns the executor: being stopped, not lost
                            problem = problem or (f"the {be.name} backend cancelled a task (the executor is being "
                                                  "shut down); the records saved so far stay, a rerun resumes")
                            continue
                        except Exception as exc:  # noqa: BLE001 - execute_task never raises: the backend failed
                            problem = problem or (f"the {be.name} backend lost a task ({type(exc).__name__}: {exc}); "
                                                  "a worker may have been killed (out of memory?)")
                            continue
                        rec = make_record(spec.task, params, outcome)
                        if problem is None:
                            try:
                                write_record(rec_dir, rec)
                            except OSError as exc:
                                problem = f"cannot write the record {rec_dir / (rec['key'] + '.json')} ({exc.strerror or exc})"
                        if problem is not None:
                            unsaved.append(rec)
                            continue
                        computed += 1
                        failed += rec["error"] is not None
                        bar.advance(tid)
                        if on_record is not None:
                            on_record(rec)
                    fill()
            cancelled = problem is not None
        except KeyboardInterrupt:
            be.close(cancel=True)
            be = None  # results.csv is left as it is: rebuilding it could take minutes for a big sweep
            raise SweepInterrupted(summary()) from None
        finally:
            if be is not None:
                be.close(cancel=cancelled)
    keys = _keys(spec)
    rows = [r for r in load_records(rec_dir, task=spec.task) if r["key"] in keys]
    if problem is not None:
        _try_csv(spec, rec_dir, out, rows)
        raise SweepIncomplete(problem, summary(), unsaved, rows)
    try:
        write_csv(rows, out / "results.csv")
    except OSError as exc:
        raise SweepIncomplete(f"cannot write {out / 'results.csv'} ({exc.strerror or exc}); the records are saved",
                              summary(), (), rows, csv_failed=True) from None
    return summary()


def _cancelled_types() -> tuple:
    import asyncio
    from concurrent.futures import CancelledError

    return (CancelledError, asyncio.CancelledError)


_CANCELLED = _cancelled_types()
"""A task's future raised one of these: it was cancelled (a shared executor shutting down, Ctrl-C in
the process that owns it), which is not a lost worker."""


def _keys(spec: SweepSpec) -> set:
    return {task_key(spec.task, p) for p in spec.params}


def _try_csv(spec, rec_dir: Path, out: Path, rows=None) -> None:
    """``results.csv`` of what is saved, on the way out of a sweep that could not save everything."""
    try:
        if rows is None:
            keys = _keys(spec)
            rows = [r for r in load_records(rec_dir, task=spec.task) if r["key"] in keys]
        write_csv(rows, out / "results.csv")
    except OSError:
        pass


def _write_manifest(out: Path, spec: SweepSpec, backend: str, total: int) -> None:
    path = out / "sweep.json"
    runs = []
    if path.exists():
        try:
            runs = json.loads(path.read_text()).get("runs", [])
        except (OSError, ValueError, AttributeError):
            runs = []
    runs.append({"started": time.time(), "backend": backend, "tasks": total, "pid": os.getpid(),
                 "host": socket.gethostname()})
    doc = {"task": spec.task, "name": spec.name, "config": spec.source, "n_tasks": total, "versions": versions(),
           "runs": runs}
    text = json.dumps(to_jsonable(doc), indent=1, sort_keys=True, allow_nan=False)
    atomic_write(path, lambda fh: fh.write(text))
