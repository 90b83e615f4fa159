"""``wnbias reproduce --dask-local K`` / ``--scheduler ADDR``: the experiments on Dask workers.

One cluster runs everything: each experiment is one task (it runs in a worker, into a temporary
folder, and comes back as its files' bytes, so a remote cluster needs no shared disk), and the
problems of ``convergence_L`` go to the same workers through the sweep engine
(:func:`wnbias.sweep.run_sweep` with a shared executor), one record per problem as in a local run.

:class:`SlotDispatcher` keeps exactly one task per worker thread in flight, so that the order of
the work is ours and not the scheduler's: an experiment before any sweep problem, and the
experiments longest first (the estimate is :data:`EST_COST_S`); the sweep problems, small and
many, fill the workers at the end (longest processing time first).  A task submitted to a free
worker starts at once; nothing waits behind a long experiment on a worker while another worker
idles.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections import deque
from typing import Callable, Optional

EST_COST_S = {"init_scale": 1985, "eta_ratio": 1385, "rate": 1620, "stability_map": 693, "scaling": 400,
              "depth": 205, "regime_map": 150, "matrix_eta_ratio": 39, "matrix_init_scale": 12, "matrix_rate": 9,
              "convergence_L": 600}
"""Seconds each experiment takes at full defaults, measured or estimated (docs/experiments.md,
"Cost"); used only to order the work (longest first), never to decide what runs."""

EXPERIMENT, SWEEP = 0, 1
"""Dispatch classes: an experiment is dispatched before any queued sweep problem."""

PROGRESS_EVERY_S = 0.5
"""A worker sends an experiment's progress at most this often (one Dask event each time)."""

SLOTS_REFRESH_S = 5.0
"""The dispatcher re-reads the cluster's worker threads from the scheduler at most this often (a
remote cluster may still be joining when the run starts, or lose and gain workers)."""

WAIT_FOR_WORKERS_S = 10.0
"""``--scheduler``: seconds to wait for the first worker before the run starts (then it starts
anyway; its tasks wait for workers)."""


def count_slots(info: dict) -> int:
    """Worker threads in a ``Client.scheduler_info()`` dict (0 when it lists no worker)."""
    return sum(int(w.get("nthreads", 1)) for w in (info.get("workers") or {}).values())


class SlotDispatcher:
    """One task per worker thread in flight on a ``distributed.Client``; queued tasks wait here,
    by class (:data:`EXPERIMENT` first) and in submission order within a class.

    :meth:`executor` gives a ``concurrent.futures.Executor`` view of one class (its ``shutdown``
    cancels only its own tasks), which is what the sweep engine takes.

    ``slots`` is the number of worker threads at the start; with a client that has
    ``scheduler_info`` it is re-read at most every :data:`SLOTS_REFRESH_S` seconds when work is
    submitted or finishes, and on :meth:`refresh` (workers that join later get work)."""

    def __init__(self, client, slots: int):
        self.client = client
        self.slots = max(1, int(slots))
        self._slots_at = time.monotonic()
        self._lock = threading.Lock()
        self._queues = {EXPERIMENT: deque(), SWEEP: deque()}
        self._running: dict = {}  # cf future -> dask future
        self._closed = False

    def submit(self, cls: int, fn: Callable, *args) -> cf.Future:
        fut: cf.Future = cf.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the dispatcher is shut down")
            self._queues[cls].append((fut, fn, args))
        self._dispatch()
        return fut

    def refresh(self) -> None:
        """Re-read the worker threads (throttled) and start queued work on any free slot."""
        self._dispatch()

    def _refresh_slots(self) -> None:
        info = getattr(self.client, "scheduler_info", None)
        now = time.monotonic()
        if info is None or self._closed or now - self._slots_at < SLOTS_REFRESH_S:
            return
        self._slots_at = now
        try:
            n = count_slots(info())
        except Exception:  # noqa: BLE001 - a closing client: keep the last count
            return
        if n > 0:
            self.slots = n

    def _dispatch(self) -> None:
        self._refresh_slots()  # outside the lock: it may ask the scheduler
        while True:
            with self._lock:
                if self._closed or len(self._running) >= self.slots:
                    return
                item = None
                for cls in (EXPERIMENT, SWEEP):
                    q = self._queues[cls]
                    while q:
                        cand = q.popleft()
                        if cand[0].set_running_or_notify_cancel():
                            item = cand
                            break
                    if item is not None:
                        break
                if item is None:
                    return
                fut, fn, args = item
                dfut = self.client.submit(fn, *args, pure=False)
                self._running[fut] = dfut
            dfut.add_done_callback(lambda d, fut=fut: self._finished(fut, d))

    def _finished(self, fut: cf.Future, dfut) -> None:
        with self._lock:
            self._running.pop(fut, None)
        try:
            if dfut.cancelled():
                fut.set_exception(cf.CancelledError("the Dask task was cancelled"))
            else:
                exc = dfut.exception()
                if exc is not None:
                    fut.set_exception(exc)
                else:
                    fut.set_result(dfut.result())
        except Exception as exc:  # noqa: BLE001 - a lost worker, a closed client: the task's failure
            if not fut.done():
                fut.set_exception(exc)
        self._dispatch()

    def cancel(self, futures) -> None:
        """Cancel ``futures``: queued ones never start, running ones are cancelled on the cluster."""
        with self._lock:
            wanted = set(futures)
            for q in self._queues.values():
                for item in [it for it in q if it[0] in wanted]:
                    q.remove(item)
                    if item[0].cancel():
                        item[0].set_running_or_notify_cancel()  # CANCELLED_AND_NOTIFIED: done for cf.wait too
            running = [(f, d) for f, d in self._running.items() if f in wanted]
        for f, d in running:
            d.cancel()
            if not f.done():
                f.set_exception(cf.CancelledError("cancelled"))

    def shutdown(self) -> None:
        """Cancel everything queued or running; no further submissions."""
        with self._lock:
            self._closed = True  # nothing more is dispatched
            every = [it[0] for q in self._queues.values() for it in q] + list(self._running)
        self.cancel(every)

    def executor(self, cls: int) -> "_ClassExecutor":
        return _ClassExecutor(self, cls)


class _ClassExecutor(cf.Executor):
    """The executor of one dispatch class (the sweep engine's view of the shared cluster)."""

    def __init__(self, dispatcher: SlotDispatcher, cls: int):
        self._d, self._cls = dispatcher, cls
        self._mine: set = set()
        self._shut = False

    def submit(self, fn, /, *args, **kwargs):
        if self._shut:
            raise RuntimeError("cannot schedule new futures after shutdown")
        if kwargs:
            raise TypeError("the shared executor passes positional arguments only")
        fut = self._d.submit(self._cls, fn, *args)
        self._mine.add(fut)
        fut.add_done_callback(self._mine.discard)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False):
        self._shut = True
        live = [f for f in list(self._mine) if not f.done()]
        if wait and not cancel_futures:
            cf.wait(live)
        else:
            self._d.cancel(live)


def open_cluster(dask_local: Optional[int], scheduler: Optional[str]):
    """``(client, close, slots)``: a ``LocalCluster`` of ``dask_local`` single-threaded worker
    processes without a memory limit (a local run has none; the dense ``scaling`` sizes need
    several GB in one worker), or a client of the scheduler at ``scheduler``
    (:func:`wnbias.sweep.dask_client`).  ``slots`` is the number of worker threads."""
    from wnbias.sweep import dask_client, dask_closer

    client, cluster = dask_client(scheduler, dask_local, memory_limit=0)
    if scheduler:
        try:  # a cluster still starting: its first worker, briefly (the slots are re-read as the run goes)
            client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
        except (TimeoutError, OSError):
            pass
    slots = count_slots(client.scheduler_info()) or (dask_local or 1)
    return client, dask_closer(client, cluster), slots


def run_remote(name: str, quick: bool, seeds: Optional[int], blas_threads: int, topic: Optional[str]) -> dict:
    """Run experiment ``name`` in this (worker) process, into a temporary folder; return its
    manifest entry and the bytes of every file it wrote (relative paths).  Never raises: a failure
    (of the experiment, its settings or the temporary folder) comes back as ``{"status": "failed",
    ...}`` and an unwritable output as ``"not_written"``; only a lost worker loses the task."""
    import shutil
    import tempfile
    import traceback
    from pathlib import Path

    from threadpoolctl import threadpool_limits

    from wnbias.experiments import get_experiment
    from wnbias.experiments._common import OutputWriteError

    tick = _remote_ticker(name, topic)
    s, tmp = None, None
    try:
        try:
            mod = get_experiment(name)
            s = mod.settings(quick, seeds)
            tmp = Path(tempfile.mkdtemp(prefix=f"wnbias-{name}-"))
            with threadpool_limits(blas_threads):
                res = mod.run(tmp, quick=quick, seeds=seeds, tick=tick)
        except OutputWriteError as exc:
            return {"status": "not_written", "name": name, "error": str(exc), "params": s,
                    "caption": exc.caption, "rows": list(exc.rows)}
        except Exception as exc:  # noqa: BLE001 - reported; the other experiments go on
            return {"status": "failed", "name": name, "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=5), "params": s}
        finally:
            tick.flush()
        files = {str(p.relative_to(tmp)): p.read_bytes() for p in sorted(tmp.rglob("*")) if p.is_file()}
        return {"status": "ok", "entry": res.as_dict(), "files": files}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


class _remote_ticker:
    """Progress from a worker: units accumulated and sent as a Dask event (``topic``) at most every
    :data:`PROGRESS_EVERY_S` seconds."""

    def __init__(self, name: str, topic: Optional[str]):
        self.name, self.topic, self.n, self.last = name, topic, 0.0, time.monotonic()

    def __call__(self, n: float = 1.0) -> None:
        self.n += n
        if time.monotonic() - self.last >= PROGRESS_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.topic is None or not self.n:
            return
        try:
            from distributed import get_worker

            get_worker().log_event(self.topic, (self.name, self.n))
        except (ValueError, RuntimeError, ImportError):  # not in a worker: no progress to send
            pass
        self.n, self.last = 0.0, time.monotonic()


__all__ = ["EST_COST_S", "SlotDispatcher", "count_slots", "open_cluster", "run_remote"]
