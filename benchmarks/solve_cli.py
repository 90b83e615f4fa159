"""Item 7 — ``wnbias solve --limit`` end to end: the whole command, as a user runs it.

Each case runs the installed command line in a fresh process (``python -m wnbias solve …``), so the
time includes the interpreter's start, the imports, generating the problem, the limit solve, the
bounded cross-check integrations and writing the JSON.  The JSON is read back: a run counts only
if its product is the limit solver's and its status is ``converged``, at the precision asked for.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ItemResult, Table, Target, Timing, fmt_g, log

KEY = "solve"
TITLE = "7. `wnbias solve --limit` end to end (one process per run)"

CASES = (
    # (label, arguments, target seconds): issue 16 item 1
    ("100×40, L=2, η̃=0.1, --dps 40",
     ["--generate", "sparse_positive", "--N", "100", "--M", "40", "--L", "2", "--eta-r", "0.1", "--limit",
      "--dps", "40"], 10.0),
    ("1000×150, L=2, η̃=0.1, float64",
     ["--generate", "sparse_positive", "--N", "1000", "--M", "150", "--L", "2", "--eta-r", "0.1", "--limit"], 5.0),
)


def run_once(args, timeout):
    """One ``wnbias solve`` process; ``(seconds, parsed JSON or None, exit code, stderr tail)``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "solve.json"
        cmd = [sys.executable, "-m", "wnbias", "solve", *args, "--no-progress", "--json", str(out)]
        t0 = time.perf_counter()
        try:  # the environment is inherited: benchmarks.run sets the BLAS thread limit in it
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - t0, None, None, f"killed after {timeout:g} s"
        dt = time.perf_counter() - t0
        data = json.loads(out.read_text()) if out.exists() else None
        return dt, data, proc.returncode, proc.stderr[-400:]


def run(quick: bool = False) -> ItemResult:
    res = ItemResult(KEY, TITLE)
    repeats = 1 if quick else 3
    res.setup = ("`python -m wnbias solve <problem> --limit [--dps 40] --no-progress --json OUT` in a fresh process "
                 f"(median of {repeats}), under the run's BLAS thread limit (inherited through the environment); "
                 "wall time of the whole process. A run counts when the JSON says "
                 "`product = limit_solver`, `status = converged` and the precision asked for.")
    tab = Table("End to end", ["case", "wall time", "exit code", "product", "status", "precision", "r∞", "r∞ error bar",
                               "cross-checks (status)"])
    res.tables = [tab]
    cases = CASES[:1] if quick else CASES
    for label, args, target in cases:
        log(f"[7] solve {label}")
        times, data, rc, err = [], None, None, ""
        for _ in range(repeats):
            dt, data, rc, err = run_once(args, timeout=10 * target)
            times.append(dt)
            if data is None:
                break
        t = Timing(times, data)
        want_dps = int(args[args.index("--dps") + 1]) if "--dps" in args else None
        ok = (data is not None and data.get("product") == "limit_solver" and data.get("status") == "converged"
              and data.get("dps") == want_dps)
        checks = "–"
        if data is not None:  # the bounded cross-check flows (not limits: they run to a short horizon)
            checks = "; ".join(f"{k} to t = {fmt_g(data[k].get('t_max'))}: {data[k].get('status')}"
                               for k in ("flow64", "high_precision") if isinstance(data.get(k), dict)) or "–"
        tab.rows.append([label, t.cell(), rc, (data or {}).get("product", "–"), (data or {}).get("status", "–"),
                         (data or {}).get("precision", "–"), str((data or {}).get("r_inf", "–"))[:24],
                         fmt_g((data or {}).get("r_inf_error"), 2), checks])
        res.raw[label] = {"times": times, "exit_code": rc, "ok": ok, "stderr_tail": err if data is None else "",
                          "status": (data or {}).get("status"), "product": (data or {}).get("product")}
        res.targets.append(Target(f"`solve --limit` {label}", f"< {target:g} s, converged",
                                  f"{t.cell()} ({(data or {}).get('status', 'no JSON: ' + err[-80:])})",
                                  ok and t.median < target))
    return res


if __name__ == "__main__":  # python -m benchmarks.solve_cli [--quick]
    out = run(quick="--quick" in sys.argv)
    for tb in out.tables:
        print(tb.markdown())
    for tg in out.targets:
        print(tg)
