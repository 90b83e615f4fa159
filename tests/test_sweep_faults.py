"""Faults around a sweep (issue 13, "Sweeps"; issue 19 for TOML numbers): each one ends in a clear
answer — exit 2 before any work with the path or option named, exit 3 after the work with the
results printed, exit 130 on Ctrl-C — never a traceback, a hang or a lost result.

The process tests wait with a generous deadline (a hang guard, not a timing test)."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from itertools import product
from pathlib import Path

import pytest

import wnbias.sweep as sweep_mod
from wnbias.cli import main
from wnbias.io import read_csv
from wnbias.sweep import (
    LOCK_NAME,
    MAX_TASKS,
    SweepBusy,
    SweepLock,
    SweepTooLarge,
    expand,
    load_records,
    read_record,
    run_sweep,
    task_key,
)

HANG_GUARD_S = 30.0  # a stuck process is a failure; nothing here measures speed
TINY = {"truth": "sparse", "N": 30, "M": 10, "L": 2, "steps": 300, "tol_rel": 1e-8}
# One task of this takes over an hour: the sweep is always mid-task when the test acts.
ENDLESS = {"truth": "sparse", "N": 30, "M": 10, "L": 2, "steps": 10**8, "tol_rel": 1e-30, "reference": False}


def _toml_value(v) -> str:
    return json.dumps(v)  # JSON scalars and lists of them are valid TOML


def _write_config(path: Path, params: dict, grid: dict, task: str = "wn_gd_run", extra: str = "") -> Path:
    lines = [f'task = "{task}"', "[params]"] + [f"{k} = {_toml_value(v)}" for k, v in params.items()]
    lines += ["[grid]"] + [f"{k} = {_toml_value(v)}" for k, v in grid.items()]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def _run_cli(capsys, *argv):
    rc = main(["sweep", *map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


# ------------------------------------------------------------------------ process helpers
def _proc_table() -> dict:
    """pid -> (ppid, state) from /proc."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(d)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> set:
    table = _proc_table()
    out, frontier = set(), {pid}
    while frontier:
        children = {p for p, (pp, _) in table.items() if pp in frontier and p not in out}
        out |= children
        frontier = children
    return out


def _running(pids) -> set:
    table = _proc_table()
    return {p for p in pids if p in table and table[p][1] not in ("Z", "X")}


def _wait_for(cond, what: str, guard: float = HANG_GUARD_S):
    deadline = time.monotonic() + guard
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"still waiting after {guard:.0f} s: {what}")


def _start_endless_sweep(tmp_path, workers: int = 2, backend: str = "local"):
    cfg = _write_config(tmp_path / "endless.toml", ENDLESS, {"seed": list(range(6))})
    where = ["--workers", str(workers)] if backend == "local" else ["--dask-local", str(workers)]
    proc = subprocess.Popen([sys.executable, "-m", "wnbias", "sweep", str(cfg), "--out", str(tmp_path / "out"),
                             *where, "--no-progress"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    # the workers are up once the sweep has at least `workers` + 1 descendants (forkserver + workers)
    kids = _wait_for(lambda: (d := _descendants(proc.pid)) and len(d) >= workers + 1 and d,
                     "the sweep's worker processes to start")
    time.sleep(0.5)  # let the workers pick up their tasks
    return proc, _descendants(proc.pid) | kids


def _cleanup(proc, pids):
    for p in _running(pids | {proc.pid}):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    proc.kill()
    proc.communicate()


# ------------------------------------------------------------------ workers die with the sweep
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker processes")
@pytest.mark.parametrize("backend", ["local", "dask"])
def test_sigkill_of_the_sweep_ends_its_workers_forkserver_and_resource_tracker(tmp_path, backend):
    if backend == "dask":
        pytest.importorskip("distributed")
    proc, kids = _start_endless_sweep(tmp_path, backend=backend)
    try:
        assert _running(kids), "no worker processes found"
        os.kill(proc.pid, signal.SIGKILL)  # the sweep alone, not its process group
        proc.wait()
        _wait_for(lambda: not _running(kids), f"worker processes {sorted(_running(kids))} to exit")
    finally:
        _cleanup(proc, kids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker processes")
def test_sigint_stops_the_sweep_promptly_with_exit_130_and_says_what_was_saved(tmp_path):
    proc, kids = _start_endless_sweep(tmp_path)
    try:
        os.kill(proc.pid, signal.SIGINT)  # e.g. `kill -INT`; the workers are mid-task for an hour
        _wait_for(lambda: proc.poll() is not None, "the interrupted sweep to exit")
        out, err = proc.communicate()
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "interrupted" in err and "0 of 6 tasks have a record" in err
        _wait_for(lambda: not _running(kids), "the workers of the interrupted sweep to exit")
        assert not (tmp_path / "out" / LOCK_NAME).exists()  # the lock is released
    finally:
        _cleanup(proc, kids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker processes")
def test_a_killed_worker_ends_the_sweep_with_exit_3_not_a_traceback(tmp_path):
    proc, kids = _start_endless_sweep(tmp_path)
    try:
        table = _proc_table()
        workers = [p for p in kids if p in table and table[p][0] != proc.pid]  # the forkserver's children
        assert workers, "no worker processes found"
        os.kill(workers[0], signal.SIGKILL)  # as the out-of-memory killer would
        _wait_for(lambda: proc.poll() is not None, "the sweep to notice its lost worker")
        out, err = proc.communicate()
        assert proc.returncode == 3, err
        assert "Traceback" not in err and "lost a task" in err and "0 of 6 tasks have a record" in err
        _wait_for(lambda: not _running(kids), "the remaining workers to exit")
    finally:
        _cleanup(proc, kids)


# ------------------------------------------------------------------------------------ lock
def test_a_second_sweep_on_the_same_out_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    cfg = _write_config(tmp_path / "s.toml", TINY, {"seed": [0, 1]})
    with SweepLock(out):  # as a running sweep holds it
        rc, _, err = _run_cli(capsys, cfg, "--out", out, "--workers", "1")
        assert rc == 2
        assert f"pid {os.getpid()}" in err and socket.gethostname() in err and "started 20" in err
        assert str(out) in err
        assert not list(out.glob("records/*.json"))  # nothing was computed
        with pytest.raises(SweepBusy):
            SweepLock(out).acquire()
    rc, _, _ = _run_cli(capsys, cfg, "--out", out, "--workers", "1")  # free again
    assert rc == 0 and len(load_records(out)) == 2


def test_a_stale_lock_of_a_dead_sweep_is_taken_over_with_a_message(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": 1.0e9}))
    cfg = _write_config(tmp_path / "s.toml", TINY, {"seed": [0]})
    rc, _, err = _run_cli(capsys, cfg, "--out", out, "--workers", "1")
    assert rc == 0
    assert "taking over" in err and f"pid {dead.pid}" in err and "2001-09-09" in err
    assert not (out / LOCK_NAME).exists() and len(load_records(out)) == 1


def test_without_flock_the_lock_falls_back_to_a_pid_file(tmp_path, monkeypatch):
    import fcntl

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    held = SweepLock(tmp_path).acquire()
    with pytest.raises(SweepBusy, match=f"pid {os.getpid()}"):
        SweepLock(tmp_path).acquire()
    held.release()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": 0}))
    lock = SweepLock(tmp_path).acquire()
    assert lock.previous["pid"] == dead.pid
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_temporary_files_are_unique_to_the_process(tmp_path, monkeypatch):
    """Every file is written through a temporary name carrying this process's pid, and a live
    process's in-flight temporary record survives another sweep's start-up."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        spec = expand({"task": "wn_gd_run", "params": dict(TINY), "grid": {"seed": [0, 1]}})
        rec_dir = tmp_path / "records"
        rec_dir.mkdir()
        key = task_key(spec.task, spec.params[0])
        foreign = rec_dir / f".{key}.{sleeper.pid}.abcd1234.tmp"  # another process writing this record
        foreign.write_text("{")
        sources = []
        real_replace = os.replace

        def spy(src, dst, *a, **k):
            sources.append(Path(src).name)
            return real_replace(src, dst, *a, **k)

        monkeypatch.setattr(sweep_mod.os, "replace", spy)
        run_sweep(spec, tmp_path, workers=1, progress=False)
        assert foreign.exists()
        assert len(sources) >= 4  # two records, sweep.json, results.csv
        assert all(f".{os.getpid()}." in s for s in sources), sources
    finally:
        sleeper.kill()
        sleeper.wait()


# ------------------------------------------------------------------------------ grid size
def _grid_of(n_a: int, n_b: int) -> dict:
    return {"task": "wn_gd_run", "params": dict(TINY), "grid": {"seed": list(range(n_a)), "r0": list(range(1, n_b + 1))}}


def test_a_grid_above_max_tasks_is_refused_before_anything_is_built():
    assert MAX_TASKS == 1_000_000
    with pytest.raises(SweepTooLarge, match="1,000,001 tasks.*--force"):
        expand(_grid_of(101, 9901))  # 101 × 9901 = MAX_TASKS + 1
    assert len(expand(_grid_of(1000, 1000))) == MAX_TASKS  # the limit itself is allowed


def test_force_gives_a_lazy_task_list_of_2e10_tasks_in_product_order():
    cfg = {"task": "wn_gd_run", "params": dict(TINY),
           "grid": {"seed": list(range(2000)), "r0": list(range(1, 1001)), "eta_u": list(range(1, 11))},
           "random": {"draws": 1000, "seed": 0, "params": {"eta_tilde": {"log_uniform": [0.1, 1.0]}}}}
    with pytest.raises(SweepTooLarge, match="20,000,000,000"):
        expand(cfg)
    spec = expand(cfg, force=True)
    assert len(spec) == 2 * 10**10
    small = expand({**cfg, "grid": {"seed": [0, 1, 2], "r0": [1, 2]},
                    "random": {**cfg["random"], "draws": 2}})
    draws = [{"eta_tilde": p["eta_tilde"]} for p in small.params[:2]]
    want = [{**TINY, "seed": s, "r0": r, **d} for s, r in product([0, 1, 2], [1, 2]) for d in draws]
    assert list(small.params) == want and [small.params[i] for i in range(len(want))] == want
    assert spec.params[-1]["seed"] == 1999 and spec.params[-1]["eta_u"] == 10


def test_cli_refuses_a_huge_grid_with_exit_2_naming_force(tmp_path, capsys):
    cfg = _write_config(tmp_path / "huge.toml", TINY, {"seed": list(range(2000)), "r0": list(range(1, 1001)),
                                                       "eta_u": list(range(1, 10001))})
    rc, _, err = _run_cli(capsys, cfg, "--out", tmp_path / "o")
    assert rc == 2 and "20,000,000,000 tasks" in err and "--force" in err
    assert not (tmp_path / "o").exists()  # refused before the output was touched


# ------------------------------------------------------------------ bad input: exit 2, before work
def _unwritable_dir(tmp_path) -> Path:
    """A directory this process cannot write in (a read-only folder, or /sys when run as root)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    candidates = [ro, Path("/sys")]
    for d in candidates:
        try:
            probe = d / f".probe{os.getpid()}"
            probe.write_text("x")
            probe.unlink()
        except OSError:
            return d
    pytest.skip("no unwritable directory here (running as root without a read-only /sys)")


@pytest.mark.parametrize("case", ["config is a directory", "config is not UTF-8", "config unreadable",
                                  "config path through a file",
                                  "scheduler not a url", "uniform to 1e400 (inf)", "randint beyond int64",
                                  "string that is not a number", "out is a file", "out read-only",
                                  "records is a file", "a folder where a record goes", "results.csv a folder"])
def test_bad_input_exits_2_naming_the_path_or_option_before_any_work(tmp_path, capsys, case):
    cfg = _write_config(tmp_path / "s.toml", TINY, {"seed": [0, 1]})
    out = tmp_path / "out"
    args = [cfg, "--out", out, "--workers", "1"]
    named = str(cfg)
    if case == "config is a directory":
        args[0] = named = str(tmp_path)
    elif case == "config is not UTF-8":
        cfg.write_bytes(b"task = \"wn_gd_run\"\n\xff\xfe\x00")
    elif case == "config unreadable":
        cfg.chmod(0)
        try:
            cfg.read_bytes()
        except PermissionError:
            pass
        else:  # root reads a mode-0 file; /proc/self/mem opens but every read fails (EIO)
            try:
                Path("/proc/self/mem").read_bytes()
                pytest.skip("no unreadable file here")
            except OSError:
                args[0] = named = "/proc/self/mem"
    elif case == "config path through a file":
        args[0] = named = str(cfg / "inner.toml")
    elif case == "scheduler not a url":
        args = [cfg, "--out", out, "--scheduler", "not a url"]
        named = "--scheduler"
    elif case == "uniform to 1e400 (inf)":
        cfg.write_text(cfg.read_text() + "[random]\ndraws = 2\n[random.params]\nr0 = { uniform = [0.1, 1e400] }\n")
        named = "random.params.r0"
    elif case == "randint beyond int64":
        cfg.write_text(cfg.read_text() + "[random]\ndraws = 2\n[random.params]\n"
                       "k = { randint = [1, 9223372036854775807] }\n")
        named = "random.params.k"
    elif case == "string that is not a number":
        _write_config(cfg, TINY, {"seed": [0], "eta_tilde": ["0.1", "one tenth"]})
        named = "grid.eta_tilde"
    elif case == "out is a file":
        out.write_text("not a directory")
        named = "--out"
    elif case == "out read-only":
        out = _unwritable_dir(tmp_path)
        args[2] = out
        named = "--out"
    elif case == "records is a file":
        out.mkdir()
        (out / "records").write_text("")
        named = str(out / "records")
    elif case == "a folder where a record goes":
        spec = expand({"task": "wn_gd_run", "params": dict(TINY), "grid": {"seed": [0, 1]}})
        d = out / "records" / f"{task_key(spec.task, spec.params[1])}.json"
        (d / "inner").mkdir(parents=True)
        named = str(d)
    elif case == "results.csv a folder":
        (out / "results.csv").mkdir(parents=True)
        named = str(out / "results.csv")
    rc, stdout, err = _run_cli(capsys, *args)
    assert rc == 2, (stdout, err)
    assert named in err, err
    if out.is_dir() and (out / "records").is_dir():
        assert not [p for p in (out / "records").glob("*.json") if p.is_file()]  # nothing was computed


def test_a_record_that_cannot_be_written_gives_exit_3_with_the_results_printed(tmp_path, capsys, monkeypatch):
    cfg = _write_config(tmp_path / "s.toml", TINY, {"seed": [0, 1, 2]})
    real = sweep_mod.write_record
    calls = []

    def disk_full_after_one(directory, record):
        calls.append(record["key"])
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(directory, record)

    monkeypatch.setattr(sweep_mod, "write_record", disk_full_after_one)
    rc, out, err = _run_cli(capsys, cfg, "--out", tmp_path / "o", "--workers", "1")
    assert rc == 3
    assert "No space left on device" in err and "1 of 3 tasks have a record" in err
    printed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(printed) == 2 and all(r["result"]["status"] for r in printed)
    saved = {r["key"] for r in load_records(tmp_path / "o")}
    spec = expand({"task": "wn_gd_run", "params": dict(TINY), "grid": {"seed": [0, 1, 2]}})
    assert len(saved) == 1 and not saved & {r["key"] for r in printed}  # nothing lost, nothing twice
    assert saved | {r["key"] for r in printed} == {task_key(spec.task, p) for p in spec.params}


def test_results_csv_that_cannot_be_written_gives_exit_3_with_the_rows_printed(tmp_path, capsys, monkeypatch):
    cfg = _write_config(tmp_path / "s.toml", TINY, {"seed": [0, 1]})

    def fail(rows, path):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(sweep_mod, "write_csv", fail)
    rc, out, err = _run_cli(capsys, cfg, "--out", tmp_path / "o", "--workers", "1")
    assert rc == 3 and "results.csv" in err and "Input/output error" in err
    assert len(load_records(tmp_path / "o")) == 2  # the records themselves are saved
    assert out.count("wn_gd_run") >= 2 and "rel_error" in out  # the CSV rows on stdout


# ------------------------------------------------------------------- TOML numbers (issue 19)
def test_toml_strings_are_exact_and_floats_are_doubles_and_records_say_which(tmp_path, capsys):
    cfg = _write_config(tmp_path / "s.toml", TINY, {"seed": [0], "eta_tilde": ["0.1", 0.1], "r0": ["1/3"]})
    rc, _, _ = _run_cli(capsys, cfg, "--out", tmp_path / "o", "--workers", "1")
    assert rc == 0
    recs = [read_record(p) for p in sorted((tmp_path / "o" / "records").glob("*.json"))]
    by_type = {type(r["params"]["eta_tilde"]): r for r in recs}
    as_string, as_float = by_type[str], by_type[float]
    assert as_string["params"]["eta_tilde"] == "0.1" and as_string["params"]["r0"] == "1/3"
    assert as_string["result"]["exact"]["eta_tilde"] == "0.1"
    assert as_string["result"]["exact"]["r0"] == "1/3"
    assert as_float["result"]["exact"]["eta_tilde"] == "0.1000000000000000055511151231257827021181583404541015625"
    assert as_string["result"]["precision"] == as_float["result"]["precision"] == "float64"
    # float64 rounds "0.1" once, to the double 0.1: the same numbers, from differently stated questions
    drop = {"exact"}
    assert {k: v for k, v in as_string["result"].items() if k not in drop} == \
        {k: v for k, v in as_float["result"].items() if k not in drop}
    rows = read_csv(tmp_path / "o" / "results.csv")
    assert {r["exact.eta_tilde"] for r in rows} == {"0.1", "0.1000000000000000055511151231257827021181583404541015625"}


def test_limit_run_at_dps_takes_the_exact_string_and_the_double_differently():
    from numerics._config import FlowConfig
    from wnbias.experiments.tasks import limit_run

    if not hasattr(FlowConfig, "exact_strings"):
        pytest.skip("needs exact parameters in numerics._config.FlowConfig (issue 19)")
    common = dict(truth="sparse", N=12, M=4, seed=0, reference=False, dps=40)
    tenth, double = limit_run(eta_tilde="0.1", **common), limit_run(eta_tilde=0.1, **common)
    assert tenth["status"] == double["status"] == "converged"
    assert tenth["precision"] == "dps=40" and tenth["exact"]["eta_tilde"] == "0.1"
    assert double["exact"]["eta_tilde"].startswith("0.10000000000000000555")
    assert tenth["r_inf_digits"] != double["r_inf_digits"]  # the two questions have different answers
