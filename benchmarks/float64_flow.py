"""Item 2 — float64 flow: ``numerics._flow64.integrate64`` vs scipy DOP853 and heyoka float64.

Each method integrates the same WN-GF from ``t = 0`` until the end of the first step (or
checkpoint) at which ``loss ≤ THRESHOLD · ½‖y‖²``; the time to get there is what is compared
(wall and CPU, as ratios to scipy DOP853 measured in the same run), and next to it, for every
method, the invariant residual ``‖P_ker(A) h‖ / max(‖h‖, ‖log ū0‖)`` (docs/math.md §3.3) of the
state it reached (for the toolkit, the largest over its checkpoints up to there, from an untimed
re-run to that time: the timed run is stopped from its ``progress`` hook).  The table says for each
method whether that residual is a check (``(r, u)``, ``(r, log u)``) or holds by construction (the
dual coordinates λ of ``numerics._flow64._Reduced``, docs/math.md §6.3), from the typed
``Float64Diagnostics.coordinates`` / ``invariant_checked_from`` of the run.  Where it holds by
construction it is no evidence, so the toolkit's rows also report the accuracy of ``x`` at the time
reached against a tight ``(r, log u)`` reference (DOP853 at ``rtol`` :data:`REF_RTOL`), and the
targets are: ``auto`` (λ) on time and that accuracy, ``auto-full`` (``(r, log u)``) on time and the
invariant.
"""

from __future__ import annotations

import math
import time

import numpy as np

from benchmarks import _anchors as an
from benchmarks._common import (ItemResult, Table, Target, Timing, Unavailable, fmt_g, fmt_ratio, fmt_s, log,
                                measure, toolkit)
from numerics._config import FlowConfig
from numerics._problem import generate

KEY = "float64_flow"
TITLE = "2. float64 flow: `numerics.integrate` (float64) vs scipy DOP853 and heyoka float64"

THRESHOLD = 1e-3
"""Stop when ``loss ≤ THRESHOLD · ½‖y‖²`` (a relative residual ``‖Ax − y‖/‖y‖ ≤ √THRESHOLD ≈ 3.2e-2``)."""
RTOL = 1e-10
INV_TARGET = 1e-12
REF_RTOL = 1e-13
"""The reference for the accuracy of ``x``: ``integrate64(method="DOP853", rtol=REF_RTOL)`` in ``(r, log u)``
to the same time."""
SUPPORT = 1e-6
"""The support, for the worst relative error of ``x``: ``x_i > SUPPORT · max x`` (of the reference)."""


def x_target(rtol=RTOL) -> float:
    """The accuracy of ``x`` the convergence test assumes of a run at ``rtol`` (the steady-state test's
    ``limit_tol``, :func:`numerics._steady.default_limit_tol`): the target for ``auto``'s ``x``."""
    from numerics._steady import default_limit_tol

    return default_limit_tol(rtol=rtol)
T_CAP = 1e4
CHECK_FACTOR = 1.1


def sizes(quick):
    return [(200, 40)] if quick else [(1000, 150)]


CONFIGS = {
    2: FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0),
    3: FlowConfig(L=3, r0=7.0, eta_r=10.0, eta_u=1.0),
}


class _Reached(Exception):
    def __init__(self, t, loss):
        self.t, self.loss = t, loss


def invariant_of_state(problem, config, r, u) -> float:
    """The invariant residual at an ``(r, u)`` state (nan when ``u`` left the positive orthant: its
    logarithm, which the invariant takes, is not defined)."""
    u = np.asarray(u, dtype=float)
    if not (np.all(u > 0) and np.all(np.isfinite(u))):
        return float("nan")
    return invariant_of_log_state(problem, config, r, np.log(u))


def invariant_of_log_state(problem, config, r, log_u) -> float:
    """The invariant residual at a state given as ``(r, log u)`` (the λ runs' reconstructed final
    state: there it is rounding, the invariant holding by construction, but it is measured by the
    same formula as for every other method)."""
    from numerics import _formulas as F
    from numerics._flow64 import invariant_h, invariant_scale

    log_u = np.asarray(log_u, dtype=float)
    if not (np.all(np.isfinite(log_u)) and math.isfinite(float(r)) and float(r) > 0):
        return float("nan")
    ub0 = config.u0_for(problem.n)
    ph, nh = F.kernel_residual(problem.A_eff, invariant_h(float(r), log_u, config, ub0, config.r0))
    return ph / max(nh, invariant_scale(config, ub0, config.r0))


def run_toolkit(problem, config, loss_tol, *, method="auto", rtol=RTOL, time_limit=None, cpu_sink=None,
                reread=True):
    """``integrate64`` stopped (via its ``progress`` hook) at the first checkpoint with
    ``loss ≤ loss_tol``; checkpoints are geometric, factor 1.1 from t = 0.01.  The invariant
    residual is read from an untimed re-run to the time reached (same steps; ``loss_tol=0``;
    skipped with ``reread=False``, then ``invariant_*`` are nan).  ``cpu_sink``: a list that gets the
    CPU seconds of the timed run (not of the re-run)."""
    integrate = toolkit("flow64", "integrate64")
    k = int(math.ceil(math.log(T_CAP / 1e-2) / math.log(CHECK_FACTOR)))
    cps = np.concatenate([[0.0], 1e-2 * CHECK_FACTOR ** np.arange(k + 1)])

    def progress(t, lo):
        if lo <= loss_tol:
            raise _Reached(t, lo)

    t0 = time.perf_counter()
    c0 = time.process_time()
    try:
        fr = integrate(problem, config, t_max=T_CAP, rtol=rtol, method=method, checkpoints=cps, progress=progress,
                       check_inconsistent=False, time_limit=time_limit)
    except _Reached as hit:
        wall = time.perf_counter() - t0
        if cpu_sink is not None:
            cpu_sink.append(time.process_time() - c0)
        out = {"reached": True, "t_final": hit.t, "loss": hit.loss, "wall": wall, "method": method,
               "invariant_max": float("nan"), "invariant_final": float("nan")}
        if reread:
            again = integrate(problem, config, t_max=hit.t, rtol=rtol, method=method, checkpoints=cps,
                              check_inconsistent=False, loss_tol=0.0)
            out.update(_coordinates(again), nsteps=again.nsteps, nfev=again.nfev, x_final=again.x_final,
                       invariant_state=invariant_of_log_state(problem, config, again.r_final, again.log_u_final),
                       method_switches=[list(sw) for sw in again.diagnostics.method_switches])
        return out
    if cpu_sink is not None:
        cpu_sink.append(time.process_time() - c0)
    return {"reached": False, "t_final": float(fr.t_final), "loss": fr.loss_final, "wall": time.perf_counter() - t0,
            "status": str(fr.status), "message": fr.message, "nsteps": fr.nsteps, "method": method,
            "x_final": fr.x_final, **_coordinates(fr)}


def _coordinates(fr) -> dict:
    """What the invariant residual of ``fr`` is, from its typed diagnostics: ``coordinates``,
    ``invariant_checked_from`` (None: it held by construction the whole run) and the residual (max over
    the checkpoints from that time on, and last); nan where nothing was checked."""
    d = fr.diagnostics
    t0 = d.invariant_checked_from
    inv = np.asarray(fr.invariant_residual, dtype=float)
    checked = inv[np.asarray(fr.t, dtype=float) >= t0] if t0 is not None else inv[:0]
    return {"coordinates": d.coordinates, "invariant_checked_from": t0,
            "invariant_max": float(np.nanmax(checked)) if checked.size else float("nan"),
            "invariant_final": float(checked[-1]) if checked.size else float("nan")}


def x_errors(x, ref) -> tuple:
    """``(max |Δx| / max x, worst relative error on the support)`` of ``x`` against the reference ``x``."""
    x, ref = np.asarray(x, dtype=float), np.asarray(ref, dtype=float)
    big = ref > SUPPORT * float(np.max(ref))
    return (float(np.max(np.abs(x - ref)) / np.max(ref)),
            float(np.max(np.abs(x[big] - ref[big]) / ref[big])))


def reference_x(problem, config, t, time_limit=None):
    """``x(t)`` from DOP853 in ``(r, log u)`` at ``rtol`` :data:`REF_RTOL` (untimed); None where it did not
    get to ``t`` within ``time_limit`` seconds."""
    integrate = toolkit("flow64", "integrate64")
    fr = integrate(problem, config, t_max=t, rtol=REF_RTOL, method="DOP853", check_inconsistent=False, loss_tol=0.0,
                   time_limit=time_limit)
    if not float(fr.t_final) >= t * (1 - 1e-12):
        return None
    return np.asarray(fr.x_final, dtype=float)


def measure_toolkit(fn, repeats, *, budget):
    """Like :func:`~benchmarks._common.measure`, but each run's time is the wall time of the timed
    integration that :func:`run_toolkit` reports (``"wall"``), not of the call: the call also holds
    the untimed re-run that reads the invariant residual.  ``fn(first)``: ``first`` is True on the
    first run only (the one that re-runs for the invariant; the others are timed alone)."""
    times, value, start = [], None, time.perf_counter()
    for i in range(max(1, repeats)):
        out = fn(i == 0)
        value = out if value is None else {**value, "reached": value["reached"] and out["reached"]}
        times.append(out["wall"])
        if (time.perf_counter() - start) + times[-1] > budget:
            break
    return Timing(times, value)


def cpu_timed(fn, sink):
    """``fn`` that appends its CPU seconds (``time.process_time``, this process) to ``sink``: on a
    loaded machine wall time measures the scheduler, CPU time the work (single BLAS thread)."""
    def wrapped():
        c0 = time.process_time()
        out = fn()
        sink.append(time.process_time() - c0)
        return out
    return wrapped


def cell(t, out):
    if out is None:
        return "not available"
    s = t.cell()
    if not out["reached"]:
        s += f" — NOT reached (stopped at t = {out['t_final']:.3g}, loss {out['loss']:.2e})"
    return s


TOOLKIT_METHODS = ("auto", "auto-full", "DOP853", "reduced")
"""The toolkit's methods timed (numerics._flow64.METHODS): ``auto`` (LSODA in the dual coordinates
λ, where the invariant holds by construction), ``auto-full`` (DOP853 then BDF in ``(r, log u)``,
where the invariant is a genuine check: the previous ``auto``), ``DOP853`` in ``(r, log u)``, and
``reduced`` (DOP853 in λ)."""


def run(quick: bool = False) -> ItemResult:
    res = ItemResult(KEY, TITLE)
    cap = 20.0 if quick else 60.0
    budget = 1.5 * cap
    res.setup = (
        f"Problem `generate('sparse_positive', N, M, seed=0)`. Threshold: loss ≤ {THRESHOLD:g}·½‖y‖² "
        f"(relative residual ≤ {math.sqrt(THRESHOLD):.2g}); every method stops at the end of the first step "
        f"(toolkit: first checkpoint, geometric factor {CHECK_FACTOR}) below it. Configs: L=2: r0=1, η_r=0.1, "
        "η_u=1; L=3: r0=7, η_r=10, η_u=1 (a start near the solution's radius: from r0=1, and from r0=2.5 with "
        "η_r=1, the L=3 flow sits on a plateau at loss ≈ 0.17·½‖y‖² beyond t = 10³ at N=1000, which no "
        "method here crosses in a bounded run). "
        f"Toolkit: `integrate64(..., rtol={RTOL:g}, method=m)` for m in {', '.join(TOOLKIT_METHODS)} "
        "(atol = rtol on the stepper's own coordinates): 'auto' is scipy LSODA in the dual coordinates λ ∈ R^M "
        "(log_L(ū e^s) = log_L(ū0) + Aᵀλ, docs/math.md §6.3) with the dense M×M Jacobian, where the invariant "
        "holds by construction (its residual is rounding only, not a check); 'auto-full' is DOP853 then BDF "
        "(structured Jacobian, Woodbury) in (r, log u), where the invariant is a genuine check; 'DOP853' is "
        "DOP853 in (r, log u); 'reduced' is DOP853 in λ. `check_inconsistent=False` (the LP pre-check is not "
        f"timed). scipy DOP853 on (r, u) with rtol={RTOL:g}, atol=1e-14; heyoka float64 "
        f"`taylor_adaptive(tol={RTOL:g}, compact_mode=True)`, build (JIT) timed apart. Invariant: "
        "‖P_ker(A) h‖/max(‖h‖, ‖log ū0‖) at the state reached (toolkit: the largest over its checkpoints up to "
        "there, from one untimed re-run, where it is a check: from the run's typed "
        "`diagnostics.invariant_checked_from` on; for λ, where it holds by construction, at the reconstructed final "
        "state, by the same formula: rounding; n/a where u left the positive orthant). x error (toolkit): x at the time reached against `integrate64(method='DOP853', "
        f"rtol={REF_RTOL:g})` in (r, log u) to the same time (untimed): max|Δx|/max x, and the worst relative "
        f"error on the support x_i > {SUPPORT:g}·max x. Ratios are against scipy "
        f"DOP853 measured in the same run. Each run is capped at {cap:g} s of wall time, each method at "
        f"{1.5 * cap:g} s. CPU seconds (time.process_time of this process, single BLAS thread, minimum over the "
        "repeats) are reported too: on a loaded machine the wall time measures the scheduler as much as the work."
    )
    tab = Table(f"Time to loss ≤ {THRESHOLD:g}·½‖y‖², the invariant residual of every method at the state "
                f"it reached where it is a check, and the toolkit's x against DOP853 (r, log u) at rtol {REF_RTOL:g} "
                "to the same time (ratios: against scipy DOP853, same run)",
                ["N, M, L", "method", "invariant is", "wall time", "wall / scipy DOP853", "CPU (min)",
                 "CPU / scipy DOP853", "invariant residual (max; last)",
                 f"x error vs rtol {REF_RTOL:g} (max|Δx|/max x; worst on support)", "t reached", "steps", "nfev"])
    res.tables = [tab]
    raw = []
    repeats = 2 if quick else 3
    available = True
    summary = {}
    for (N, M) in sizes(quick):
        for L, config in CONFIGS.items():
            log(f"[2] N={N} M={M} L={L}")
            problem = generate("sparse_positive", N, M, 0)
            thr = THRESHOLD * 0.5 * float(problem.y @ problem.y)
            rec = {"N": N, "M": M, "L": L, "config": config.as_dict(), "loss_threshold": thr, "toolkit": {}}
            cpu_sp = []
            t_sp = measure(cpu_timed(lambda: an.dop853_wngf(problem, config, t_max=T_CAP, loss_tol=thr, rtol=RTOL,
                                                            atol=1e-14, time_limit=cap), cpu_sp), repeats,
                           budget=budget)
            st = t_sp.value["state"]
            inv_sp = invariant_of_state(problem, config, float(st[0]), st[1:])
            rec["scipy"] = {**t_sp.as_dict(), **{k: v for k, v in t_sp.value.items() if k != "state"},
                            "invariant": inv_sp, "cpu_seconds": cpu_sp}
            c_sp = min(cpu_sp)
            case = f"{N}, {M}, {L}"

            def ratio(t, c):
                if t is None or not (t.value["reached"] and t_sp.value["reached"]):
                    return "n/a", None, "n/a", None
                med, lo, hi = t.median / t_sp.median, t.lo / t_sp.hi, t.hi / t_sp.lo
                return fmt_ratio(med, lo, hi), med, fmt_ratio(c / c_sp), c / c_sp

            tab.rows.append([case, "scipy DOP853 (r, u)", "checked", cell(t_sp, t_sp.value), "1×", fmt_s(c_sp), "1×",
                             "n/a (u ≤ 0)" if not math.isfinite(inv_sp) else fmt_g(inv_sp), "not measured",
                             fmt_g(t_sp.value["t_final"]), t_sp.value["nsteps"], t_sp.value["nfev"]])
            if an.have_heyoka():
                ta, build = an.heyoka_build(problem, config, fp="float64", compact_mode=True, tol=RTOL)
                s0 = ta.state.copy()
                cpu_hy = []
                t_hy = measure(cpu_timed(lambda: an.heyoka64_until_loss(ta, s0, problem, config, t_max=T_CAP,
                                                                        loss_tol=thr, time_limit=cap), cpu_hy),
                               repeats, budget=budget)
                sh = t_hy.value["state"]
                inv_hy = invariant_of_state(problem, config, float(sh[0]), sh[1:])
                rec["heyoka"] = {**t_hy.as_dict(), "build": build, "invariant": inv_hy, "cpu_seconds": cpu_hy,
                                 **{k: v for k, v in t_hy.value.items() if k != "state"}}
                rw, _, rc, _ = ratio(t_hy, min(cpu_hy))
                tab.rows.append([case, f"heyoka float64 (build {fmt_s(build)} apart)", "checked",
                                 cell(t_hy, t_hy.value), rw, fmt_s(min(cpu_hy)), rc,
                                 "n/a (u ≤ 0)" if not math.isfinite(inv_hy) else fmt_g(inv_hy), "not measured",
                                 fmt_g(t_hy.value["t_final"]), t_hy.value["nsteps"], "n/a"])
            elif "heyoka is not installed" not in " ".join(res.notes):
                res.notes.append("heyoka is not installed (`pip install heyoka`, the `bench` extra): "
                                 "its rows are not available.")
            refs = {}  # reference x at each time reached (untimed)
            for m in TOOLKIT_METHODS:
                cpu = []
                try:
                    t = measure_toolkit(lambda first: run_toolkit(problem, config, thr, method=m, time_limit=cap,
                                                                  cpu_sink=cpu, reread=first), repeats, budget=budget)
                except Unavailable as exc:
                    available = False
                    if str(exc) not in res.notes:
                        res.notes.append(str(exc))
                    continue
                v = dict(t.value)
                rw, med, rc, cr = ratio(t, min(cpu))
                inv = v["invariant_max"]
                coords, t_chk = v.get("coordinates"), v.get("invariant_checked_from")
                x = v.pop("x_final", None)
                xe = (float("nan"), float("nan"))
                if x is not None and v["reached"]:
                    tr = float(v["t_final"])
                    if tr not in refs:
                        refs[tr] = reference_x(problem, config, tr, time_limit=budget)
                    if refs[tr] is not None:
                        xe = x_errors(x, refs[tr])
                v["x_error_max"], v["x_error_support"] = xe
                rec["toolkit"][m] = {**t.as_dict(), **v, "cpu_seconds": cpu, "wall_over_scipy": med,
                                     "cpu_over_scipy": cr}
                inv_state = v.get("invariant_state", float("nan"))
                summary.setdefault(m, []).append((L, med, cr, inv if coords != "lambda" else inv_state, coords,
                                                  xe[1]))
                if coords == "lambda":
                    kind = "by construction (λ)"
                    inv_cell = f"{fmt_g(inv_state)} (reconstructed final state: rounding)"
                elif coords == "lambda_then_r_log_u":
                    kind = f"checked from t = {fmt_g(t_chk)} (λ before: by construction)"
                    inv_cell = f"{fmt_g(inv)}; {fmt_g(v['invariant_final'])} (from t = {fmt_g(t_chk)})"
                else:
                    kind, inv_cell = "checked", f"{fmt_g(inv)}; {fmt_g(v['invariant_final'])}"
                tab.rows.append([case, f"toolkit {m}", kind, cell(t, v), rw, fmt_s(min(cpu)), rc, inv_cell,
                                 f"{fmt_g(xe[0])}; {fmt_g(xe[1])}", fmt_g(v["t_final"]),
                                 v.get("nsteps", "n/a"), v.get("nfev", "n/a")])
            raw.append(rec)
    res.raw = {"cases": raw, "threshold_relative": THRESHOLD, "invariant_target": INV_TARGET,
               "x_target": x_target(), "reference_rtol": REF_RTOL, "toolkit_methods": list(TOOLKIT_METHODS)}
    res.available = available

    def measured(m, what):
        def one(L, a, c, i, coords, xe):
            how = "by construction: rounding" if coords == "lambda" else f"checked ({coords})"
            tail = (f"invariant {fmt_g(i)} ({how}), x worst on support {fmt_g(xe)}"
                    if what == "x" else
                    f"invariant {fmt_g(i)}" if coords == "r_log_u" else f"invariant not checked ({coords})")
            return f"L={L}: {fmt_g(a)}× (CPU {fmt_g(c)}×), {tail}"
        return "; ".join(one(*row) for row in summary.get(m, []))

    def met(m, what):
        rows = summary.get(m, [])
        if not rows or any(a is None for _, a, *_ in rows):
            return None
        if what == "x":  # λ: the invariant (rounding) and, as the evidence of accuracy, x against the reference
            return all(a <= 1.0 and i <= INV_TARGET and xe <= x_target() for _, a, _, i, _, xe in rows)
        # the invariant target only where the invariant is a check over the whole run
        return all(a <= 1.0 and coords == "r_log_u" and i <= INV_TARGET for _, a, _, i, coords, _ in rows)

    if available and "auto" in summary:
        res.targets.append(Target("toolkit auto (λ: the invariant holds by construction) / scipy DOP853 "
                                  f"(wall; CPU in brackets), and x against DOP853 (r, log u) at rtol {REF_RTOL:g}",
                                  f"≤ 1.0× with invariant ≤ {INV_TARGET:g} (by construction) and x worst relative "
                                  f"error on the support ≤ {x_target():g} "
                                  f"(the steady test's limit_tol at rtol {RTOL:g})",
                                  measured("auto", "x"), met("auto", "x")))
        res.targets.append(Target("toolkit auto-full ((r, log u): the invariant is a check) / scipy DOP853",
                                  f"≤ 1.0× with invariant ≤ {INV_TARGET:g}", measured("auto-full", "inv"),
                                  met("auto-full", "inv")))
        res.notes.append("'auto' and 'reduced' hold the invariant by construction (the dual coordinates λ of "
                         "docs/math.md §6.3): their residual, measured by the same formula at the reconstructed final "
                         "state (r, log u), is rounding, not evidence; their accuracy is that of x against the tight "
                         "(r, log u) reference. 'auto-full' and "
                         "'DOP853' integrate (r, log u), where the residual measures the integration error. A λ run "
                         "that left λ for (r, log u) reports the residual from the switch time on.")
    else:
        res.targets.append(Target("toolkit / scipy DOP853", "report", "not available", None))
    return res
