"""The sweep engine: task expansion, atomic records, resume after a kill, corruption, backends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from wnbias.cli import main
from wnbias.io import read_csv
from wnbias.sweep import (
    expand,
    load_records,
    make_record,
    read_record,
    run_sweep,
    task_key,
    write_csv,
    write_record,
)

# A tiny WN-GD problem: each task takes a few hundredths of a second.
TINY = {"truth": "sparse", "N": 30, "M": 10, "L": 2, "steps": 300, "tol_rel": 1e-8}


def _spec(grid, params=TINY, task="wn_gd_run"):
    return expand({"task": task, "params": dict(params), "grid": grid})


def _numbers(rows):
    """Rows keyed by record key, without the timing column."""
    return {r["key"]: {k: v for k, v in r.items() if k != "wall_s"} for r in rows}


# ------------------------------------------------------------------------- expansion
def test_grid_is_cartesian_product_merged_with_fixed_params():
    spec = _spec({"eta_tilde": [0.1, 1.0, 10.0], "seed": [0, 1]})
    assert len(spec) == 6
    assert {(p["eta_tilde"], p["seed"]) for p in spec.params} == {(e, s) for e in (0.1, 1.0, 10.0) for s in (0, 1)}
    assert all(p["N"] == 30 and p["truth"] == "sparse" for p in spec.params)


def test_random_draws_are_reproducible_and_in_range():
    cfg = {"task": "wn_gd_run", "params": dict(TINY), "grid": {"seed": [0, 1]},
           "random": {"draws": 5, "seed": 3, "params": {"eta_tilde": {"log_uniform": [0.01, 10.0]},
                                                       "r0": {"uniform": [0.5, 2.0]}}}}
    a, b = expand(cfg), expand(cfg)
    assert a.params == b.params and len(a) == 10
    assert all(0.01 <= p["eta_tilde"] <= 10.0 and 0.5 <= p["r0"] <= 2.0 for p in a.params)
    cfg["random"]["seed"] = 4
    assert expand(cfg).params != a.params


@pytest.mark.parametrize("cfg, words", [
    ({"task": "os.system"}, "registered"),
    ({"task": "wn_gd_run", "grid": {"no_such_param": [1]}}, "no_such_param"),
    ({"task": "wn_gd_run", "params": {"N": 30}, "grid": {"N": [30, 40]}}, "both"),
    ({"task": "wn_gd_run", "grid": {"seed": []}}, "non-empty"),
    ({"task": "wn_gd_run", "random": {"draws": 2, "params": {"r0": {"normal": [0, 1]}}}}, "log_uniform"),
    ({"task": "wn_gd_run", "extra": 1}, "unknown top-level"),
])
def test_bad_configs_raise_naming_the_problem(cfg, words):
    with pytest.raises(ValueError, match=words):
        expand(cfg)


def test_cli_bad_config_exits_2(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('task = "not_a_task"\n')
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "registered" in capsys.readouterr().err
    cfg.write_text("task = [unclosed\n")
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2


# --------------------------------------------------------------------------- records
def test_record_roundtrip_and_every_kind_of_damage_is_detected(tmp_path):
    params = {"a": 1, "b": 0.5}
    rec = make_record("wn_gd_run", params, {"result": {"x": 1.25}, "timing": {"wall_s": 0.1}})
    path = write_record(tmp_path, rec)
    assert path.name == f"{task_key('wn_gd_run', params)}.json"
    assert read_record(path) == rec
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was moved into place
    text = path.read_text()
    damaged = {
        "truncated": text[: len(text) // 2],
        "not json": "garbage",
        "edited result": text.replace("1.25", "1.5"),
        "missing field": json.dumps({k: v for k, v in rec.items() if k != "versions"}),
    }
    for what, content in damaged.items():
        path.write_text(content)
        assert read_record(path) is None, what
    path.write_text(text)
    other = tmp_path / ("0" * 24 + ".json")  # a valid record under the wrong name
    other.write_text(text)
    assert read_record(other) is None


def test_csv_roundtrip(tmp_path):
    rows = [{"a": 1, "b": 0.25, "c": "x", "e": True}, {"a": 2, "d": [1, 2], "e": False}]
    back = read_csv(write_csv(rows, tmp_path / "t.csv"))
    assert back[0] == {"a": 1, "b": 0.25, "c": "x", "e": True, "d": None}
    assert back[1]["e"] is False
    assert back[1]["a"] == 2 and json.loads(back[1]["d"]) == [1, 2]


# ------------------------------------------------------------------ resume / corruption
def test_corrupted_records_are_recomputed_identically(tmp_path):
    spec = _spec({"eta_tilde": [0.1, 1.0], "seed": [0, 1]})
    s1 = run_sweep(spec, tmp_path, workers=1, progress=False)
    assert (s1.total, s1.computed, s1.failed) == (4, 4, 0)
    before = _numbers(load_records(tmp_path))
    files = sorted((tmp_path / "records").glob("*.json"))
    files[0].write_text(files[0].read_text()[:40])                       # a partial write
    files[1].write_text(files[1].read_text().replace('"status"', '"statu"'))  # checksum now wrong
    kept = {f: f.stat().st_mtime_ns for f in files[2:]}
    s2 = run_sweep(spec, tmp_path, workers=1, progress=False)
    assert (s2.skipped, s2.computed, s2.recomputed_invalid) == (2, 2, 2)
    assert {f: f.stat().st_mtime_ns for f in files[2:]} == kept
    assert _numbers(load_records(tmp_path)) == before
    assert len(read_csv(tmp_path / "results.csv")) == 4


def test_interrupt_keeps_finished_records_and_resume_skips_them(tmp_path):
    spec = _spec({"eta_tilde": [0.1, 0.3, 1.0, 3.0], "seed": [0, 1]})
    seen = []

    def interrupt_after_two(rec):
        seen.append(rec["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path, workers=1, progress=False, on_record=interrupt_after_two)
    done = {p.stem for p in (tmp_path / "records").glob("*.json") if read_record(p) is not None}
    assert set(seen) <= done and len(done) >= 2
    mtimes = {k: (tmp_path / "records" / f"{k}.json").stat().st_mtime_ns for k in done}
    again = []
    s = run_sweep(spec, tmp_path, workers=1, progress=False, on_record=lambda r: again.append(r["key"]))
    assert s.skipped == len(done) and s.computed == 8 - len(done)
    assert not set(again) & done
    assert {k: (tmp_path / "records" / f"{k}.json").stat().st_mtime_ns for k in done} == mtimes


def test_killed_sweep_process_resumes_without_recomputing(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        'task = "wn_gd_run"\n[params]\ntruth = "sparse"\nN = 60\nM = 20\nsteps = 3000\ntol_rel = 1e-30\n'
        "[grid]\neta_tilde = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]\nseed = [0, 1, 2, 3]\n"
    )
    out = tmp_path / "out"
    rec_dir = out / "records"
    proc = subprocess.Popen([sys.executable, "-m", "wnbias", "sweep", str(cfg), "--out", str(out), "--workers", "1",
                             "--no-progress"], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if rec_dir.is_dir() and len(list(rec_dir.glob("*.json"))) >= 3:
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes (its own session)
        proc.wait()
    files = list(rec_dir.glob("*.json"))
    assert len(files) >= 3, "the sweep made no progress before it was killed"
    valid = {p.stem: p.stat().st_mtime_ns for p in files if read_record(p) is not None}
    assert len(valid) == len(files)  # a record on disk is never partial
    assert len(valid) < 24, "the sweep finished before it could be killed; make its tasks longer"
    spec = expand({"task": "wn_gd_run", "params": {"truth": "sparse", "N": 60, "M": 20, "steps": 3000,
                                                   "tol_rel": 1e-30},
                   "grid": {"eta_tilde": [0.05, 0.1, 0.2, 0.5, 1.0, 2.0], "seed": [0, 1, 2, 3]}})
    computed = []
    s = run_sweep(spec, out, workers=1, progress=False, on_record=lambda r: computed.append(r["key"]))
    assert s.skipped == len(valid) and s.computed == 24 - len(valid)
    assert not set(computed) & set(valid)
    assert {k: (rec_dir / f"{k}.json").stat().st_mtime_ns for k in valid} == valid
    assert len(load_records(out)) == 24


# --------------------------------------------------------------------------- backends
def test_dask_local_cluster_gives_identical_records(tmp_path):
    pytest.importorskip("distributed")
    spec = _spec({"eta_tilde": [0.1, 1.0], "seed": [0, 1, 2]})
    run_sweep(spec, tmp_path / "local", workers=1, progress=False)
    s = run_sweep(spec, tmp_path / "dask", backend="dask", dask_local=1, dask_processes=False, progress=False)
    assert s.computed == 6 and s.failed == 0
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=None) as cluster:  # a running cluster, reached by its address
        s2 = run_sweep(spec, tmp_path / "sched", backend="dask", scheduler=cluster.scheduler_address, progress=False)
    assert s2.computed == 6 and s2.failed == 0
    local, dask = _numbers(load_records(tmp_path / "local")), _numbers(load_records(tmp_path / "dask"))
    sched = _numbers(load_records(tmp_path / "sched"))
    assert local.keys() == dask.keys() and len(local) == 6
    assert local == dask == sched  # parameters and every numeric result, bit for bit
    assert all(r["status"] in ("converged", "not_converged", "diverged") for r in local.values())


def test_a_shared_executor_gives_identical_records_and_stays_open(tmp_path):
    """``run_sweep(executor=...)`` (the cluster ``wnbias reproduce --dask-local`` shares with its
    experiments): the same records as a local run, and the executor's owner keeps it open."""
    from concurrent.futures import ThreadPoolExecutor

    from wnbias.sweep import SweepInputError

    spec = _spec({"eta_tilde": [0.1, 1.0], "seed": [0, 1]})
    run_sweep(spec, tmp_path / "local", workers=1, progress=False)

    class Shared(ThreadPoolExecutor):
        closed = []

        def shutdown(self, wait=True, **kw):  # the sweep's view is closed; the pool itself stays up
            self.closed.append(wait)

    pool = Shared(max_workers=2)
    try:
        s = run_sweep(spec, tmp_path / "shared", backend="dask", executor=pool, executor_workers=2, progress=False)
        assert s.computed == 4 and s.failed == 0 and s.backend == "dask" and pool.closed == [True]
        assert pool.submit(lambda: 7).result() == 7  # still usable
    finally:
        ThreadPoolExecutor.shutdown(pool)
    assert _numbers(load_records(tmp_path / "local")) == _numbers(load_records(tmp_path / "shared"))
    with pytest.raises(SweepInputError, match="backend='dask'"):
        run_sweep(spec, tmp_path / "bad", backend="local", executor=pool, progress=False)


def test_task_errors_are_recorded_and_retried(tmp_path):
    spec = _spec({"seed": [0]}, params={**TINY, "truth": "no_such_truth"})
    s = run_sweep(spec, tmp_path, workers=1, progress=False)
    assert s.failed == 1
    (row,) = load_records(tmp_path)
    assert "truth must be one of" in row["error"]
    assert run_sweep(spec, tmp_path, workers=1, progress=False).computed == 1  # retried, not skipped


# ------------------------------------------------------------------ examples and exact numbers
def test_the_examples_expand():
    from pathlib import Path

    from wnbias.sweep import load_config

    root = Path(__file__).resolve().parent.parent / "examples"
    eta = load_config(root / "sweep_eta.toml")
    assert len(eta) == 6 * 3 * 3 and {p["eta_tilde"] for p in eta.params} >= {"0.1", "1"}
    assert len(load_config(root / "sweep_limit_random.toml")) == 24


def test_exact_parameter_strings_survive_record_and_csv_at_dps(tmp_path):
    """A string parameter reaches the task unchanged, and the record and CSV give it back digit
    for digit, next to the precision, with r_inf to dps significant digits (issue 19)."""
    spec = expand({"task": "limit_run", "params": {"truth": "sparse", "N": 12, "M": 4, "seed": 0, "dps": 30,
                                                   "reference": False},
                   "grid": {"eta_tilde": ["1/3", "0.1000000000000000000000000001"], "r0": ["2.5"]}})
    s = run_sweep(spec, tmp_path, workers=1, progress=False)
    assert (s.computed, s.failed) == (2, 0)
    recs = {r["params"]["eta_tilde"]: r for r in map(read_record, (tmp_path / "records").glob("*.json"))}
    for given, rec in recs.items():
        res = rec["result"]
        assert res["status"] == "converged" and res["precision"] == "dps=30"
        assert res["exact"]["eta_tilde"] == given and res["exact"]["r0"] == "2.5"
        assert res["r_inf_digits"] == _limit_digits(given, "2.5", 30)  # all 30 digits, for the exact η̃
    assert len({r["result"]["r_inf_digits"][:12] for r in recs.values()}) == 2
    rows = {r["exact.eta_tilde"]: r for r in read_csv(tmp_path / "results.csv")}
    assert set(rows) == set(recs)
    assert all(rows[g]["r_inf_digits"] == recs[g]["result"]["r_inf_digits"] for g in recs)


def _limit_digits(eta_tilde: str, r0: str, dps: int) -> str:
    """r_∞ from limit_solve directly (same problem as the sweep), printed to dps digits."""
    import math

    import mpmath

    from numerics._config import FlowConfig
    from numerics._limit import limit_solve
    from wnbias.experiments._common import make_problem

    res = limit_solve(make_problem("sparse", 12, 4, 0, k=1), FlowConfig(L=2, r0=r0, eta_r=eta_tilde, eta_u=1), dps=dps)
    with mpmath.workdps(dps + 10):
        return mpmath.nstr(res.r_inf, dps, min_fixed=-math.inf, max_fixed=math.inf)


def test_dask_client_leaves_the_memory_limit_to_dask_unless_asked(monkeypatch):
    """``wnbias.sweep.dask_client`` (shared by ``sweep --dask-local`` and ``reproduce --dask-local``) passes
    ``memory_limit`` to ``LocalCluster`` only when given (``reproduce`` gives 0: none), so a sweep keeps
    Dask's default share of the machine's memory per worker; an unreachable scheduler is a
    ``SweepInputError`` naming the address."""
    pytest.importorskip("distributed")
    import distributed

    from wnbias.sweep import SweepInputError, dask_client

    seen = []

    class FakeCluster:
        def __init__(self, **kw):
            seen.append(kw)

        def close(self):
            pass

    monkeypatch.setattr(distributed, "LocalCluster", FakeCluster)
    monkeypatch.setattr(distributed, "Client", lambda *a, **k: "client")
    client, cluster = dask_client(None, 2)
    assert client == "client" and isinstance(cluster, FakeCluster)
    dask_client(None, 2, memory_limit=0)
    assert "memory_limit" not in seen[0] and seen[1]["memory_limit"] == 0
    assert all(kw["n_workers"] == 2 and kw["threads_per_worker"] == 1 for kw in seen)

    def unreachable(*a, **k):
        raise OSError("connection refused")

    monkeypatch.setattr(distributed, "Client", unreachable)
    with pytest.raises(SweepInputError, match="cannot reach tcp://127.0.0.1:1"):
        dask_client("tcp://127.0.0.1:1", None)
