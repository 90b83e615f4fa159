"""Shared helpers: timing with repeats, the machine line, tables, and the item record."""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

NOT_AVAILABLE = "not available"


class Unavailable(Exception):
    """A toolkit function the item needs does not exist (yet); the item says so."""


def toolkit(module: str, name: str):
    """Import ``numerics._<module>.<name>`` or raise :class:`Unavailable` naming what is missing."""
    import importlib

    try:
        mod = importlib.import_module(f"numerics._{module}")
    except ImportError as exc:
        raise Unavailable(f"`numerics._{module}` is not available ({exc})") from None
    fn = getattr(mod, name, None)
    if fn is None:
        raise Unavailable(f"`numerics.{module}.{name}` is not available")
    return fn


@dataclass
class Timing:
    """Wall-clock seconds of ``repeats`` runs of one callable: median and spread."""

    times: list
    value: Any = None  # what the last run returned

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def lo(self) -> float:
        return min(self.times)

    @property
    def hi(self) -> float:
        return max(self.times)

    def as_dict(self) -> dict:
        return {"times": list(self.times), "median": self.median, "min": self.lo, "max": self.hi,
                "repeats": len(self.times)}

    def cell(self) -> str:
        """``median [min–max] (n=k)``."""
        if len(self.times) == 1:
            return f"{fmt_s(self.median)} (n=1)"
        return f"{fmt_s(self.median)} [{fmt_s(self.lo)}–{fmt_s(self.hi)}] (n={len(self.times)})"


def measure(fn: Callable[[], Any], repeats: int, *, budget: Optional[float] = None) -> Timing:
    """Run ``fn`` ``repeats`` times (fewer when one more run would overrun ``budget`` seconds; at
    least once)."""
    times, value = [], None
    start = time.perf_counter()
    for k in range(max(1, repeats)):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
        # stop when another run of the same length would overrun the budget
        if budget is not None and (time.perf_counter() - start) + times[-1] > budget:
            break
    return Timing(times, value)


def ratio_spread(num: Timing, den: Timing) -> tuple:
    """``num/den`` as (median ratio, min ratio, max ratio) from medians and extremes."""
    med = num.median / den.median
    lo = num.lo / den.hi
    hi = num.hi / den.lo
    return med, lo, hi


def fmt_ratio(med, lo=None, hi=None) -> str:
    if med is None or not math.isfinite(med):
        return "n/a"
    if lo is None or (lo == med == hi):
        return f"{med:.3g}×"
    return f"{med:.3g}× [{lo:.3g}–{hi:.3g}]"


def fmt_s(t) -> str:
    if t is None or not math.isfinite(t):
        return "n/a"
    if t < 1e-3:
        return f"{t * 1e6:.3g} µs"
    if t < 1:
        return f"{t * 1e3:.3g} ms"
    return f"{t:.3g} s"


def fmt_g(v, d=3) -> str:
    if v is None:
        return "n/a"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.{d}g}"


@dataclass
class Table:
    caption: str
    headers: list
    rows: list = field(default_factory=list)

    def markdown(self) -> str:
        out = []
        if self.caption:
            out.append(f"*{self.caption}*\n")
        out.append("| " + " | ".join(self.headers) + " |")
        out.append("|" + "|".join("---" for _ in self.headers) + "|")
        for row in self.rows:
            out.append("| " + " | ".join(str(c) for c in row) + " |")
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict:
        return {"caption": self.caption, "headers": self.headers, "rows": [[str(c) for c in r] for r in self.rows]}


@dataclass
class Target:
    """A stated target, the measured ratio, and whether it was met (None: not measured)."""

    name: str
    goal: str
    measured: str
    met: Optional[bool]

    def row(self):
        mark = {True: "met", False: "**missed**", None: NOT_AVAILABLE}[self.met]
        return [self.name, self.goal, self.measured, mark]


@dataclass
class ItemResult:
    """What one benchmark item reports."""

    key: str
    title: str
    setup: str = ""
    tables: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    raw: dict = field(default_factory=dict)
    scaling: list = field(default_factory=list)  # [{"label", "N": [...], "seconds": [...], "what"}]
    available: bool = True
    wall: float = float("nan")
    cpu: float = float("nan")

    def as_dict(self) -> dict:
        return {
            "key": self.key, "title": self.title, "setup": self.setup, "available": self.available,
            "tables": [t.as_dict() for t in self.tables],
            "targets": [t.__dict__ for t in self.targets], "notes": self.notes, "raw": self.raw,
            "scaling": self.scaling, "wall_seconds": self.wall, "cpu_seconds": self.cpu,
        }


def log(msg: str) -> None:
    """Progress to stderr (the markdown goes to a file)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- machine line
def machine_info() -> dict:
    """The machine line: :func:`wnbias.io.versions` (the toolkit's one set of version keys) and,
    on top of it, what a benchmark also needs (date, platform, cores, load, heyoka, BLAS, commit)."""
    from wnbias.io import versions

    info = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **versions(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import heyoka

        info["heyoka"] = heyoka.__version__
    except ImportError:
        info["heyoka"] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: d.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "architecture",
                                   "threading_layer")}
            for d in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                            text=True, timeout=10).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
        info["git_dirty"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = None
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_line(info: dict) -> str:
    blas = info.get("blas")
    if isinstance(blas, list):
        blas_s = "; ".join(f"{b['internal_api']} {b['version']} ({b['num_threads']} threads, {b.get('architecture')})"
                           for b in blas if b.get("user_api") == "blas") or "none found"
    else:
        blas_s = str(blas)
    la = info.get("loadavg_start")
    la_s = "/".join(f"{v:.2f}" for v in la) if la else "n/a"
    return (f"{info['processor']}, {info['logical_cores']} logical cores ({info['affinity_cores']} usable); "
            f"BLAS: {blas_s}; mpmath {info['mpmath']} backend `{info['backend']}`; "
            f"numpy {info['numpy']}, scipy {info['scipy']}, heyoka {info['heyoka']}, Python {info['python']}; "
            f"load average at start {la_s}" +
            (f"; BLAS limited to {info['blas_threads_limit']} thread(s) for this run"
             if info.get("blas_threads_limit") else ""))


def _child(fn, q):
    try:
        t0 = time.perf_counter()
        v = fn()
        q.put(("ok", v, time.perf_counter() - t0))
    except BaseException as exc:  # reported to the parent
        q.put(("error", repr(exc), 0.0))


def timed_in_child(fn: Callable[[], Any], timeout: float):
    """Run ``fn`` in a forked child with a wall-clock ``timeout``; return ``(value, seconds)``.

    Raises :class:`TimeoutError` when the child runs out of time (it is terminated) and
    ``RuntimeError`` when ``fn`` raised.  For calls that have no budget of their own.
    """
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, q), daemon=True)
    p.start()
    try:
        kind, value, secs = q.get(timeout=timeout)
    except Exception:
        p.terminate()
        p.join(5)
        raise TimeoutError(f"no result within {timeout:g} s") from None
    p.join(5)
    if kind == "error":
        raise RuntimeError(value)
    return value, secs
