"""`wnbias reproduce --dask-local K`: the same CSV rows, drawn points and records as a local run (up
to the timing columns), the quick run's own folder, the dispatcher's order (experiments first,
longest first, one task per worker thread, workers that join later), and Ctrl-C (interrupted, never
failed)."""

from __future__ import annotations

import concurrent.futures as cf
import json
import threading

import pytest

from wnbias.cli import main
from wnbias.io import read_csv

TIMING = ("wall_s", "flow_wall_s", "limit_wall_s", "wall_time_s", "time_per_iter_s")
"""Columns that hold measured times: the only ones allowed to differ between two runs."""

CHEAP = ["matrix_rate", "convergence_L"]
"""One experiment that runs in a worker, and the one whose problems go through the sweep engine."""


def _without_timing(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def test_dask_local_gives_the_local_runs_files_and_records(tmp_path):
    pytest.importorskip("distributed")
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert main(["reproduce", *CHEAP, "--quick", "--out", str(local), "--no-progress"]) == 0
    assert main(["reproduce", *CHEAP, "--quick", "--out", str(dask), "--no-progress", "--dask-local", "2"]) == 0
    ml, md = (json.loads((d / "manifest.json").read_text()) for d in (local, dask))
    assert [e["name"] for e in md["experiments"]] == CHEAP == [e["name"] for e in ml["experiments"]]
    assert md["backend"] == "dask-local 2" and ml["backend"] == "local"
    for el, ed in zip(ml["experiments"], md["experiments"]):
        assert ed["status"] == el["status"] == "ok"
        assert ed["params"] == el["params"] and ed["rows"] == el["rows"] and ed["run_counts"] == el["run_counts"]
        assert ed["drawn"] == el["drawn"]
        rows_l, rows_d = read_csv(local / el["csv"]), read_csv(dask / ed["csv"])
        assert rows_l and _without_timing(rows_l) == _without_timing(rows_d), el["name"]
        assert (local / el["caption"]).exists() and (dask / ed["figure"]).read_bytes()[:4] == b"\x89PNG"
    # convergence_L's records: one per problem, the same keys and results
    recs = [sorted(p.name for p in (d / "convergence_L_sweep" / "records").glob("*.json")) for d in (local, dask)]
    assert recs[0] == recs[1] and len(recs[0]) == ml["experiments"][1]["rows"]


def test_quick_mode_has_its_own_default_folder(monkeypatch, tmp_path):
    import wnbias.io

    seen = []

    def stop(path, *a, **k):
        seen.append(str(path))
        raise KeyboardInterrupt  # stop before any work

    monkeypatch.setattr(wnbias.io, "check_output_dir", stop)
    assert main(["reproduce", "rate", "--quick", "--no-progress"]) == 130
    assert main(["reproduce", "rate", "--no-progress"]) == 130
    assert main(["reproduce", "rate", "--quick", "--out", str(tmp_path), "--no-progress"]) == 130
    assert seen == ["out/reproduce-quick", "out/reproduce", str(tmp_path)]


def test_bad_dask_options_exit_2(tmp_path, capsys):
    assert main(["reproduce", "rate", "--quick", "--out", str(tmp_path), "--dask-local", "0"]) == 2
    assert "--dask-local" in capsys.readouterr().err
    assert main(["reproduce", "rate", "--quick", "--out", str(tmp_path), "--scheduler", "not an address"]) == 2
    assert "--scheduler" in capsys.readouterr().err
    # the two are exclusive (argparse; the CLI turns it into exit 2)
    assert main(["reproduce", "rate", "--out", str(tmp_path), "--dask-local", "2", "--scheduler", "tcp://h:1"]) == 2
    assert "not allowed with" in capsys.readouterr().err


class _FakeFuture:
    """Enough of a ``distributed.Future`` for the dispatcher; finished by the test."""

    def __init__(self, fn, args):
        self.fn, self.args, self._cb, self._done, self._value, self._cancelled = fn, args, [], False, None, False

    def add_done_callback(self, cb):
        self._cb.append(cb)

    def finish(self):
        self._value, self._done = self.fn(*self.args), True
        for cb in self._cb:
            cb(self)

    def cancel(self):
        self._cancelled = True

    def cancelled(self):
        return self._cancelled

    def exception(self):
        return None

    def result(self):
        return self._value


class _FakeClient:
    def __init__(self):
        self.submitted, self.lock = [], threading.Lock()

    def submit(self, fn, *args, pure=False):
        f = _FakeFuture(fn, args)
        with self.lock:
            self.submitted.append(f)
        return f


def test_dispatcher_runs_experiments_before_sweep_tasks_one_per_slot():
    from wnbias.dispatch import EXPERIMENT, SWEEP, SlotDispatcher

    client = _FakeClient()
    d = SlotDispatcher(client, slots=2)
    sweep = d.executor(SWEEP)
    s_futs = [sweep.submit(lambda i=i: ("sweep", i)) for i in range(3)]  # queued first
    e_futs = [d.submit(EXPERIMENT, lambda i=i: ("exp", i)) for i in range(3)]
    # two sweep tasks took the two free slots at once; nothing else was sent to the cluster
    assert [f.args == () and f.fn() for f in client.submitted] == [("sweep", 0), ("sweep", 1)]
    client.submitted[0].finish()  # a slot frees: the queued experiments go before the third sweep task
    client.submitted[1].finish()
    assert [f.fn() for f in client.submitted[2:]] == [("exp", 0), ("exp", 1)]
    for f in list(client.submitted[2:4]):
        f.finish()
    assert [f.fn() for f in client.submitted[4:]] == [("exp", 2), ("sweep", 2)]
    for f in list(client.submitted[4:]):
        f.finish()
    assert [f.result() for f in e_futs] == [("exp", i) for i in range(3)]
    assert [f.result() for f in s_futs] == [("sweep", i) for i in range(3)]


def test_dispatcher_shutdown_cancels_queued_and_running_work():
    from wnbias.dispatch import EXPERIMENT, SlotDispatcher

    client = _FakeClient()
    d = SlotDispatcher(client, slots=1)
    running = d.submit(EXPERIMENT, lambda: 1)
    queued = d.submit(EXPERIMENT, lambda: 2)
    d.shutdown()
    assert queued.cancelled() and client.submitted[0].cancelled() and len(client.submitted) == 1
    with pytest.raises(cf.CancelledError):
        running.result(timeout=1)
    with pytest.raises(RuntimeError):
        d.submit(EXPERIMENT, lambda: 3)


def test_ctrl_c_keeps_the_finished_experiments_files_and_the_sweep_records(tmp_path):
    """SIGINT while convergence_L's problems run on the cluster: exit 130, the finished experiment's
    files intact, the manifest says which experiment was interrupted, the records written so far stay
    (a rerun resumes from them)."""
    pytest.importorskip("distributed")
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "wnbias.cli", "reproduce", *CHEAP, "--quick", "--out", str(out),
                             "--no-progress", "--dask-local", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "matrix_rate.md").exists():  # one worker: matrix_rate first, then the problems
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "matrix_rate never finished"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    manifest = json.loads((out / "manifest.json").read_text())
    status = {e["name"]: e["status"] for e in manifest["experiments"]}
    # the quick problems take about 10 s of one worker and SIGINT comes within a second of their start, so
    # convergence_L cannot have finished; its cancelled tasks are a stop, never a failure
    assert status == {"matrix_rate": "ok", "convergence_L": "interrupted"}, manifest["experiments"]
    assert "lost a task" not in err and "out of memory" not in err
    rows = read_csv(out / "matrix_rate.csv")
    assert len(rows) == next(e["rows"] for e in manifest["experiments"] if e["name"] == "matrix_rate")
    assert (out / "matrix_rate.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "convergence_L_sweep").is_dir()


class _CancellingExecutor(cf.Executor):
    """Every task it is given is cancelled before it runs (a shared executor shutting down)."""

    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        fut.cancel()
        fut.set_running_or_notify_cancel()  # as an executor does: now done for concurrent.futures.wait
        return fut

    def shutdown(self, wait=True, *, cancel_futures=False):
        pass


def test_sweep_calls_cancelled_tasks_cancelled_not_lost(tmp_path):
    """The sweep engine on an executor whose tasks are cancelled: SweepIncomplete saying so, not a
    lost worker or memory."""
    from wnbias.experiments import convergence_L
    from wnbias.sweep import SweepIncomplete, expand, run_sweep

    spec = expand(convergence_L.sweep_config(convergence_L.settings(quick=True)))
    with pytest.raises(SweepIncomplete) as info:
        run_sweep(spec, tmp_path / "sw", backend="dask", executor=_CancellingExecutor(), executor_workers=1,
                  progress=False, note=lambda msg: None)
    reason = info.value.reason
    assert "cancelled" in reason and "lost" not in reason and "memory" not in reason, reason
    assert info.value.summary.computed == 0


def _fake_experiment(exc):
    import types

    def run(out, **kw):
        raise exc

    return types.SimpleNamespace(settings=lambda quick, seeds: {"quick": quick}, run=run, work_units=lambda s: 1)


class _Bar:
    def __init__(self):
        self.updates = []

    def update(self, tid, **kw):
        self.updates.append(kw)


@pytest.mark.parametrize("stopping", [False, True])
def test_an_experiment_that_fails_while_the_run_stops_is_interrupted(monkeypatch, tmp_path, stopping):
    """``_run_one_here``: an exception while the stop event is set (its cluster tasks were cancelled by
    Ctrl-C) records ``interrupted``; the same exception without it records ``failed``."""
    import argparse

    import wnbias.experiments
    from wnbias.commands import reproduce
    from wnbias.sweep import SweepIncomplete

    monkeypatch.setattr(wnbias.experiments, "get_experiment",
                        lambda name: _fake_experiment(SweepIncomplete("cancelled", None)))
    stop = threading.Event()
    if stopping:
        stop.set()
    entries = {}
    args = argparse.Namespace(quick=True, seeds=None, blas_threads=1)
    reproduce._run_one_here("convergence_L", args, tmp_path, None, entries, [], _Bar(), 0, stop=stop)
    assert entries["convergence_L"]["status"] == ("interrupted" if stopping else "failed")
    assert entries["convergence_L"]["params"] == {"quick": True}


def test_a_broken_experiment_module_is_a_failure_not_a_lost_task(monkeypatch):
    """``run_remote`` (and ``_run_one_here``) report an experiment whose settings raise as failed, with
    its error: it never escapes as a lost Dask task."""
    import argparse
    import types

    import wnbias.experiments
    from wnbias.commands import reproduce
    from wnbias.dispatch import run_remote

    def settings(quick, seeds):
        raise ValueError("bad settings")

    monkeypatch.setattr(wnbias.experiments, "get_experiment",
                        lambda name: types.SimpleNamespace(settings=settings))
    got = run_remote("matrix_rate", True, None, 1, None)
    assert got["status"] == "failed" and "bad settings" in got["error"] and got["params"] is None
    entries = {}
    args = argparse.Namespace(quick=True, seeds=None, blas_threads=1)
    reproduce._run_one_here("matrix_rate", args, None, None, entries, [], _Bar(), 0)
    assert entries["matrix_rate"]["status"] == "failed" and "bad settings" in entries["matrix_rate"]["error"]


class _InfoClient(_FakeClient):
    """A fake client whose cluster grows: ``scheduler_info`` lists ``self.threads`` worker threads."""

    def __init__(self, threads):
        super().__init__()
        self.threads = threads

    def scheduler_info(self):
        return {"workers": {f"w{i}": {"nthreads": 1} for i in range(self.threads)}}


def test_dispatcher_gives_work_to_workers_that_join_later(monkeypatch):
    import wnbias.dispatch
    from wnbias.dispatch import EXPERIMENT, SlotDispatcher

    monkeypatch.setattr(wnbias.dispatch, "SLOTS_REFRESH_S", 0.0)
    client = _InfoClient(threads=1)
    d = SlotDispatcher(client, slots=1)  # one worker when the run started
    for i in range(3):
        d.submit(EXPERIMENT, lambda i=i: i)
    assert len(client.submitted) == 1
    client.threads = 3  # two more joined
    d.refresh()
    assert len(client.submitted) == 3 and d.slots == 3
