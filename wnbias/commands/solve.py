"""``wnbias solve``: integrate one flow on one problem to convergence and report its limit."""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction
import os
import re
import sys
import time

from wnbias.errors import CannotRun, UsageError

HELP = "integrate one flow (WN-GF, plain GF, rates (r²,1)) to its limit and report ρ, β, ℓ1 gap and bound"
DESCRIPTION = """\
Integrate a flow of docs/math.md §2 on one problem (float64, implicit/explicit auto-switching in
coordinates (r, log u)) until it converges, then report the limit: r_∞, ρ, α_eff, x_∞, the
invariant residual, the mismatch with the Bregman projection of β, the ℓ1 gap to the ℓ1
reference (HiGHS) and the §5 bound.  "converged" means the loss reached its tolerance AND the
limit estimate (Bregman projection of β(t)) stopped moving; otherwise no limit is claimed
(limit fields are null).

The problem comes from --problem P.npz (Problem.save format, never unpickled), a pair
--A A.npy --y y.npy, or --generate KIND --N n --M m --seed s.  With y = 0 the problem is
trivial (x = 0): it is reported as such and nothing is integrated.

The flow parameters --r0, --eta-r, --eta-u are kept exactly as typed: "--eta-r 0.1" is one
tenth (not the double nearest it); the JSON and the table give them as exact decimals.

What is computed (the "product" names the method whose numbers are the result):
  default   the float64 flow (product: flow64);
  --dps D   also the flow at D digits by a Taylor method (product: taylor, every limit
            quantity computed at D digits);
  --limit   the limit from the scalar equation of docs/math.md §4 (product: limit_solver, at
            D digits with --dps); the flows are then only a bounded cross-check, both to
            a short horizon (0.1 unless --t-max is given), where the two flows are compared with
            each other too.
--time-limit S bounds the whole command: every solver gets what is left of S seconds.
--certify (with --limit) proves the limit on the instance with ball arithmetic (docs/certify.md):
            r_∞ in an explicit interval (certified opposite signs of φ), and enclosures of ρ,
            α_eff, x_∞ and ‖x_∞‖₁; with constant rates and a uniform β also the ℓ1 optimum exactly
            (an LP basis checked in rationals) and gap ≤ bound (§5) on the enclosures.  The
            enclosure radii are printed; the JSON block "certificate" has every ball as mid/rad
            strings.  The certificate has no time limit of its own: it is skipped when
            --time-limit is spent, and it does not change the exit status.

The JSON holds one block per method run ("flow64", "high_precision", "limit_solver",
"certificate"): each is the result's own to_dict() (numbers at the method's precision, mpf as
decimal strings) with its role ("product" or "cross-check"); a flow block's "analysis" is the
analysis of its end point, present only when the flow converged.

Exit status: 0 the product converged (or the problem is trivial), 1 otherwise (not_converged,
time_limit, diverged, inconsistent, failed), 2 bad input, 3 could not run (an output that could
not be written after the work: the JSON then goes to stdout)."""

T_MAX_DEFAULT = 1e6
CROSS_CHECK_T = 0.1
"""Horizon of both flows in --limit mode (unless --t-max is given): there they are a bounded
cross-check of the limit solver, the product, and of each other at the same time T."""
CROSS_CHECK_WALL = 120.0
"""Wall-clock cap (s) of each cross-check integration in --limit mode without --time-limit."""
MEMORY_FRACTION = 0.25
"""--generate refuses a matrix whose float64 copies would need more than this fraction of RAM."""


def add_arguments(p):
    from numerics._config import RATES
    from numerics._problem import MATRICES, MODELS, TRUTHS
    from numerics import MIN_DPS

    from wnbias.cli import exact_number, int_at_least, positive_float

    src = p.add_argument_group("problem (one of)")
    src.add_argument("--problem", metavar="P.npz", help="a problem saved by Problem.save (.npz with A and y)")
    src.add_argument("--A", metavar="A.npy", help="the matrix A (.npy); needs --y")
    src.add_argument("--y", metavar="y.npy", help="the data y (.npy); needs --A")
    src.add_argument("--generate", metavar="KIND", choices=TRUTHS, help=" | ".join(TRUTHS))
    src.add_argument("--N", metavar="N", type=int_at_least(2, "a positive integer"),
                     help="with --generate: signal length")
    src.add_argument("--M", metavar="M", type=int_at_least(1, "a positive integer"),
                     help="with --generate: measurements (M < N)")
    src.add_argument("--seed", metavar="S", type=int_at_least(0, "a non-negative integer"), default=0,
                     help="with --generate: random seed (default 0)")
    src.add_argument("--k", metavar="K", type=int_at_least(1, "a positive integer"),
                     help="with --generate: sparsity (default M//4)")
    src.add_argument("--matrix", metavar="KIND", choices=MATRICES, default="gaussian",
                     help="with --generate: " + " | ".join(MATRICES))
    p.add_argument("--model", metavar="MODEL", choices=MODELS, help=" | ".join(MODELS) + " (default: the problem's)")
    flow = p.add_argument_group("flow (parameters are kept exactly as typed)")
    flow.add_argument("--L", metavar="L", type=int_at_least(2, "an integer (the depth)"), default=2,
                      help="depth, an integer >= 2 (default 2)")
    flow.add_argument("--r0", metavar="R", type=exact_number(), default="1", help="initial radius > 0 (default 1)")
    flow.add_argument("--eta-r", metavar="A", type=exact_number(), default="0.1", help="η_r > 0 (default 0.1)")
    flow.add_argument("--eta-u", metavar="B", type=exact_number(), default="1", help="η_u > 0 (default 1)")
    flow.add_argument("--rates", metavar="RATES", choices=RATES, default="constant",
                      help=" | ".join(RATES) + " (default constant)")
    run = p.add_argument_group("integration")
    run.add_argument("--t-max", metavar="T", type=positive_float(),
                     help=f"largest time (default {T_MAX_DEFAULT:g}; with --limit, {CROSS_CHECK_T:g}: the flows "
                          "are then a cross-check)")
    run.add_argument("--rtol", metavar="TOL", type=positive_float(below=1), default=1e-10,
                     help="solver tolerance on the stepper's coordinates (default 1e-10)")
    run.add_argument("--loss-tol", metavar="TOL", type=positive_float(),
                     help="loss tolerance of every integration (default: each integrator's)")
    run.add_argument("--time-limit", dest="time_limit", metavar="SEC", type=positive_float(),
                     help="wall-clock budget in seconds for the whole command (default none)")
    run.add_argument("--dps", metavar="D", type=int_at_least(MIN_DPS, "a number of decimal digits"),
                     help=f"also work at D >= {MIN_DPS} decimal digits (the Taylor flow, the limit solver)")
    run.add_argument("--limit", action="store_true", help="solve for the limit directly (numerics.limit_solve): the product")
    run.add_argument("--certify", action="store_true",
                     help="with --limit: prove the limit with ball arithmetic and print the enclosure radii "
                          "(numerics.certify_limit, docs/certify.md)")
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="OUT", help="write all results as JSON to OUT ('-': stdout)")
    out.add_argument("--save-problem", metavar="P.npz", help="save the problem used (.npz)")
    out.add_argument("--no-progress", action="store_true", help="no progress indicator on stderr")


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return 16 << 30


def _check_generate_size(N: int, M: int, model) -> None:
    """Refuse, before anything is allocated, a problem too large for this machine's memory."""
    copies = 3 * (2 if model == "signed" else 1)  # A, its effective form and the solvers' work copies
    need = 8 * M * N * copies
    have = _memory_bytes()
    if need > MEMORY_FRACTION * have:
        raise UsageError(f"--N/--M: a {M}×{N} problem needs about {need / 2**30:.3g} GiB "
                         f"(float64 A and its working copies), more than {MEMORY_FRACTION:.0%} of this machine's "
                         f"{have / 2**30:.3g} GiB; choose a smaller --N or --M")


def _blame(msg: str) -> str:
    """Prefix a Problem error with the option it concerns (``--A``, ``--y`` or ``--A/--y``)."""
    if msg.startswith("--"):
        return msg
    if "shape mismatch" in msg:
        return f"--A/--y: {msg}"
    head = msg.split(None, 1)[0].strip(":,") if msg.strip() else ""
    if head in ("y", "y_true"):
        return f"--y: {msg}"
    return f"--A: {msg}"


def load_problem(args):
    """The problem named by the arguments (UsageError naming the argument on bad input)."""
    from numerics import Problem, generate

    from wnbias.commands.verify import read_problem, refuse_bad_scale

    sources = [s for s, given in (("--problem", args.problem), ("--A/--y", args.A or args.y),
                                  ("--generate", args.generate)) if given]
    if len(sources) != 1:
        raise UsageError("give exactly one problem source: --problem P.npz, --A A.npy --y y.npy, "
                         "or --generate KIND --N n --M m" + (f" (got {', '.join(sources)})" if sources else ""))
    try:
        if args.problem:
            return read_problem(args.problem, args.model)
        if args.A or args.y:
            if not (args.A and args.y):
                raise UsageError("--A and --y go together: give both .npy files")
            try:
                problem = Problem.from_npy(args.A, args.y, model=args.model or "positive")
            except (ValueError, OSError) as exc:
                raise UsageError(_blame(str(exc))) from None
            refuse_bad_scale(problem, "--A/--y")
            return problem
        kind, N, M, k = args.generate, args.N, args.M, args.k
        if N is None or M is None:
            raise UsageError("--generate needs --N and --M")
        if M >= N:
            raise UsageError(f"--M must be smaller than --N (underdetermined), got M = {M}, N = {N}")
        if k is not None and k > N:
            raise UsageError(f"--k must be at most N = {N}, got {k}")
        _check_generate_size(N, M, args.model or ("signed" if kind == "sparse_signed" else "positive"))
        try:
            return generate(kind, N, M, args.seed, k=k, model=args.model, matrix=args.matrix)
        except MemoryError:
            raise UsageError(f"--N/--M: a {M}×{N} problem does not fit in memory; choose a smaller one") from None
    except UsageError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def load_config(args, n=None):
    from numerics import FlowConfig

    try:  # the strings as typed: FlowConfig keeps them exactly (docs/math.md §2)
        return FlowConfig(L=args.L, r0=args.r0, eta_r=args.eta_r, eta_u=args.eta_u, rates=args.rates)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# -- advice in solver messages: only what the command line can do -------------------------

_API_ONLY = re.compile(r"method\s*=|max_iter|max_steps|nu0|bracket\s*=|\btol\s*=|path_from|\bmixed\b|\border\s*=")
_TO_CLI = ((re.compile(r"\bt_max\b"), "--t-max"), (re.compile(r"(?<![-\w])rtol\b"), "--rtol"),
           (re.compile(r"\bloss_tol\b"), "--loss-tol"), (re.compile(r"\btime_limit\b"), "--time-limit"),
           (re.compile(r"(?<![-\w])dps\s*=\s*(\d+)"), r"--dps \1"), (re.compile(r"(?<![-\w])dps\s*="), "--dps"))


def cli_advice(message: str) -> str:
    """A solver message with its advice in terms of command-line options.

    API names with an option of their own become that option (``t_max`` → ``--t-max``,
    ``rtol`` → ``--rtol``); a clause that can only be followed from Python (``method='Radau'``,
    ``max_iter``, ``max_steps``, ``nu0``) is dropped.
    """
    if not message:
        return message
    clauses = re.split(r"(;\s*|,\s+or\s+|\s+or\s+|\s+/\s+)", message)
    kept = []
    for i in range(0, len(clauses), 2):
        part = clauses[i]
        sep = clauses[i + 1] if i + 1 < len(clauses) else ""
        if _API_ONLY.search(part):
            if kept and not sep:  # drop the separator that led into the dropped clause
                kept[-1] = (kept[-1][0], "")
            continue
        kept.append((part, sep))
    text = "".join(p + s for p, s in kept).strip()
    text = re.sub(r"(;|,|\bor|/)\s*$", "", text).strip()
    text = re.sub(r"\btry\s*$", "", text).strip().rstrip(";,").strip()
    for pat, repl in _TO_CLI:
        text = pat.sub(repl, text)
    return text


# -- budget and progress ----------------------------------------------------------------------


class _Budget:
    """What is left of ``--time-limit`` (None: no budget)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.t0 = time.perf_counter()

    def left(self, cap=None):
        if self.seconds is None:
            return cap
        rest = max(self.seconds - (time.perf_counter() - self.t0), 1e-3)
        return rest if cap is None else min(rest, cap)


@contextlib.contextmanager
def _progress(enabled: bool, label: str):
    """A ``progress(t, loss)`` callback drawing a rich progress line on stderr (None when disabled)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("t = {task.fields[t]}"),
               TextColumn("loss = {task.fields[loss]}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, t="—", loss="—")

        def update(t, loss):
            bar.update(task, t=f"{float(t):.4g}", loss=f"{float(loss):.3e}")

        yield update


# -- the blocks of the result (each a result dataclass's to_dict(), and where it stands) ---------

FLOAT64 = "float64 (about 15 significant digits)"
_REPORT_KEYS = ("r_inf", "rho", "log_rho", "alpha_eff", "log_alpha_eff", "x_inf", "invariant_residual",
                "bregman_mismatch", "l1_opt", "l1_gap", "l1_gap_S", "l1_bound", "bound_name", "bound_ratio",
                "magnification")
"""The quantities of a limit (:class:`numerics.LimitReport`) that the summary of a flow block repeats."""


def _digits(dps):
    return f"{dps} decimal digits" if dps is not None else FLOAT64


def _max_abs(values):
    import numpy as np

    values = np.asarray(values, dtype=float)
    return float(np.nanmax(np.abs(values))) if values.size and not np.all(np.isnan(values)) else None


def _flow_block(flow, report, role, engine):
    """A flow's block: ``flow.to_dict()``, its role and precision, what the trajectory held, and (only
    when the run converged) the analysis of its end point, ``report.to_dict()``."""
    block = {"engine": engine, "role": role, "precision": _digits(flow.dps), **flow.to_dict()}
    block["message"] = cli_advice(flow.message)
    block["loss"] = flow.loss_final
    block["invariant_residual_max"] = _max_abs(flow.invariant_residual)
    block["unorm_dev_max"] = _max_abs(flow.unorm_dev)
    block["analysis"] = report.to_dict() if report is not None else None
    return block


def _summary_of_flow(block) -> dict:
    """The top-level numbers when a flow is the product: its end, and the limit quantities of its
    analysis (``None`` unless it converged: a run that did not converge claims no limit)."""
    rep = block["analysis"] or {}
    out = {k: block.get(k) for k in ("status", "message", "engine", "method", "precision", "dps", "t_final",
                                      "r_final", "loss", "unorm_dev_max")}
    out.update({k: rep.get(k) for k in _REPORT_KEYS})
    out["invariant_residual"] = block["invariant_residual_max"]
    out["invariant_residual_limit"] = rep.get("invariant_residual")
    out["notes"] = rep.get("message", "")
    return out


def _limit_block(lr, dps, role):
    d = lr.to_dict()
    d.update(engine="limit_solver: the scalar equation of docs/math.md §4 (numerics.limit_solve)", role=role,
             precision=_digits(dps), dps=dps, message=cli_advice(lr.message))
    return d


def _summary_of_limit(block) -> dict:
    out = {k: block.get(k) for k in ("status", "message", "engine", "method", "precision", "dps", "r_inf", "rho",
                                      "alpha_eff", "residual", "r_inf_error", "x_inf_error")}
    out["x_inf"] = block.get("x_inf_user")  # the user's coordinates, as for the flows
    return out


# -- the command ------------------------------------------------------------------------------


def run(args) -> int:
    import numerics
    from numerics import Status
    from wnbias import io

    t_wall = time.perf_counter()
    problem = load_problem(args)
    config = load_config(args, problem.n)
    if args.t_max is not None:
        t_max = args.t_max
    else:  # in --limit mode the flows are a bounded cross-check (issue 16): a short horizon
        t_max = CROSS_CHECK_T if args.limit else T_MAX_DEFAULT
    rtol, loss_tol, time_limit, dps = args.rtol, args.loss_tol, args.time_limit, args.dps
    if args.certify and not args.limit:
        raise UsageError("--certify certifies the limit solver's result: give --limit too")
    # outputs are checked before any work
    if args.json:
        io.check_output_file(args.json, "--json")
    if args.save_problem:
        if args.save_problem == "-":
            raise UsageError("--save-problem needs a file name (a .npz cannot go to stdout)")
        io.check_output_file(args.save_problem, "--save-problem")
        try:
            problem.save(args.save_problem)
        except OSError as exc:
            raise UsageError(f"--save-problem: cannot write {args.save_problem}: {exc}") from None

    exact = config.exact_strings()
    common = {"parameters_exact": exact,
              "parameters": {"problem": problem.as_dict(), "config": config.as_dict(), "t_max": t_max, "rtol": rtol,
                             "loss_tol": loss_tol, "time_limit": time_limit, "dps": dps, "limit": bool(args.limit)}}
    if not bool(problem.y.any()):
        out = {"status": Status.TRIVIAL.value, "product": None, "precision": None,
               "message": "y = 0: the problem is trivial (x = 0 fits it exactly and is its ℓ1 minimiser); "
                          "nothing was integrated", **common, "versions": io.versions(),
               "wall_time": time.perf_counter() - t_wall}
        return _finish(args, out, problem, config, exit_ok=True)

    budget = _Budget(time_limit)
    cross_cap = None if time_limit is not None or not args.limit else CROSS_CHECK_WALL
    product = "limit_solver" if args.limit else ("taylor" if dps is not None else "flow64")
    blocks = {}
    lr = None
    if args.limit:  # the product first, then the cross-checks
        lr = numerics.limit_solve(problem, config, dps=dps, time_limit=budget.left())
        blocks["limit_solver"] = _limit_block(lr, dps, "product")

    with _progress(not args.no_progress, "integrating (float64)") as prog:
        # (r, log u) coordinates: the invariant residual reported is a check, not built in (docs/math.md §6.3)
        flow = numerics.integrate(problem, config, t_max=t_max, rtol=rtol, loss_tol=loss_tol, progress=prog,
                                  time_limit=budget.left(cross_cap), method="auto-full")
    l1 = numerics.l1_min(problem)
    ls = numerics.least_squares_residual(problem)
    rep = None
    if flow.converged:
        rep = numerics.analyze_flow(problem, flow, l1=l1)
    blocks["flow64"] = _flow_block(flow, rep, "product" if product == "flow64" else "cross-check",
                                   "flow64: float64 integration (numerics.integrate)")

    hp = None
    if dps is not None:
        with _progress(not args.no_progress, f"integrating at {dps} digits") as prog:
            hp = numerics.integrate(problem, config, dps=dps, t_max=t_max, loss_tol=loss_tol, progress=prog,
                                    time_limit=budget.left(cross_cap))
        hrep = None
        if hp.converged:
            hrep = numerics.analyze_flow(problem, hp, l1=l1)   # at the run's dps
        blocks["high_precision"] = _flow_block(hp, hrep, "product" if product == "taylor" else "cross-check",
                                               "taylor: Taylor integration at dps digits (numerics.integrate(dps=))")
        blocks["high_precision"]["t_max"] = t_max
    blocks["flow64"]["t_max"] = t_max

    cross = {}
    if lr is not None and lr.converged:
        if flow.converged:
            cross["r_inf_flow64_minus_limit"] = float(flow.r_final) - float(lr.r_inf)
        if hp is not None:
            import mpmath

            from numerics._arith import jsonable

            with numerics.workdps(dps):
                cross["taylor_t"] = jsonable(hp.t_final, dps)
                cross["taylor_r_minus_limit_r_inf"] = jsonable(mpmath.mpf(hp.r_final) - mpmath.mpf(lr.r_inf), dps)
            cross["note"] = ("the Taylor flow ran only to the cross-check horizon; its distance to r_inf is the "
                             "distance still to travel, not an error, unless it converged")
        blocks["limit_solver"]["r_inf_flow_minus_solver"] = cross.get("r_inf_flow64_minus_limit")
    if hp is not None and float(hp.t_final) == float(flow.t_final):
        # the two engines at the same time T: independent integrations of one trajectory
        cross["flows_t"] = float(flow.t_final)
        cross["r_flow64_minus_taylor"] = float(flow.r_final) - float(hp.r_final)

    if args.certify and lr is not None:
        if time_limit is not None and budget.left() <= 1e-3:
            blocks["certificate"] = {"certified": False, "reason": "not run: the --time-limit budget is spent"}
        else:
            blocks["certificate"] = _certificate_block(problem, config, lr)

    for b in blocks.values():  # the exact parameters next to each block's precision
        b.setdefault("parameters_exact", exact)
    if product == "limit_solver":
        head = _summary_of_limit(blocks["limit_solver"])
    else:
        head = _summary_of_flow(blocks["high_precision" if product == "taylor" else "flow64"])
    out = {"product": product, **head, **common}
    out["l1_opt"] = l1.value if l1.status is Status.CONVERGED else None
    out["l1_status"] = l1.status.value
    out["least_squares_residual"] = ls.residual
    out.update(blocks)
    if cross:
        out["cross_check"] = cross
    out["versions"] = io.versions()
    out["wall_time"] = time.perf_counter() - t_wall
    return _finish(args, out, problem, config, exit_ok=head["status"] == Status.CONVERGED.value)


def _certificate_block(problem, config, lr) -> dict:
    """The ``certificate`` block of ``--limit --certify`` (docs/certify.md): the certified limit
    (balls as mid/rad strings, user coordinates too), and where the §5 bound applies the exact
    ℓ1 optimum and the certified comparison gap ≤ bound."""
    import numerics
    from numerics import Status
    from numerics._certify import MIN_PREC

    t0 = time.perf_counter()
    if lr.status is not Status.CONVERGED:
        return {"certified": False, "reason": f"the limit solver did not converge ({lr.status.value}): nothing to certify",
                "wall_time": 0.0}
    cert = numerics.certify_limit(problem, config, lr)
    block = {"method": "numerics.certify_limit: Krawczyk test on the dual equations, certified signs of φ (ball arithmetic)",
             **cert.as_dict()}
    block["x_eff"] = block.pop("x")
    if cert.certified and cert.uniqueness != "unique":  # every root of φ in the bracket (wnbias.claims.limits)
        from wnbias.claims.limits import prove_all_roots_in_bracket

        ok, why = prove_all_roots_in_bracket(problem, config, cert)
        block["all_roots_in_bracket"], block["all_roots_reason"] = ok, why
    t_limit = time.perf_counter() - t0
    if cert.certified:
        x_user = problem.to_user(list(cert.x))
        block["x_inf"] = [numerics.ball_json(v) for v in x_user]
        block["x_inf_digits"] = min(numerics.width_digits(v) for v in x_user)
        block["radii"] = {"r_inf": float(cert.r.rad()), "rho": float(cert.rho.rad()), "log_rho": float(cert.log_rho.rad()),
                          "alpha_eff": float(cert.alpha_eff.rad()) if cert.alpha_eff is not None else None,
                          "S": float(cert.S.rad()), "x_inf_max": max(float(v.rad()) for v in x_user)}
        if config.rates == "constant" and cert.log_alpha_eff is not None:
            t1 = time.perf_counter()
            l1 = numerics.certify_l1(problem)
            cmp = numerics.compare_c6(cert, l1)
            from flint import ctx as flint_ctx

            old_prec, flint_ctx.prec = flint_ctx.prec, max(cert.prec, MIN_PREC)
            try:  # the exact optimum as a ball at the certificate's precision
                l1_ball = l1.value_ball()
                l1_json = numerics.ball_json(l1_ball) if l1_ball is not None else None
            finally:
                flint_ctx.prec = old_prec
            block["l1"] = {"optimal": l1.optimal, "reason": l1.reason, "value": str(l1.value) if l1.optimal else None,
                           "ball": l1_json,
                           "basis": list(l1.basis), "pivots": l1.pivots, "wall_time": time.perf_counter() - t1}
            block["c6"] = cmp.as_dict()
    block["wall_time_limit"] = t_limit
    block["wall_time"] = time.perf_counter() - t0
    return block


def _print_certificate(con, cb) -> None:
    """The enclosures of ``--certify``: each ball as ``mid ± rad`` (the rigorous strings are in the JSON)."""
    if cb is None:
        return
    if not cb.get("certified"):
        con.print(f"certificate: NOT certified — {cb.get('reason', '')}", markup=False, highlight=False)
        return
    roots = {True: " (every root of φ lies in the bracket)", False: " (other roots not excluded)"}.get(
        cb.get("all_roots_in_bracket"), "")
    con.print(f"certificate: certified at {cb['prec_bits']} bits in {cb['wall_time']:.3g} s — root of φ "
              f"{cb['uniqueness']}{roots}; toolkit r_inf inside: {_fmt(cb.get('toolkit_inside'))}, its error bar proven: "
              f"{_fmt(cb.get('toolkit_error_bar_holds'))}", markup=False, highlight=False)

    def ball(b):
        if not b:
            return "—"
        d = b.get("digits")
        return f"{b['mid']} ± {b['rad']}" + (f"  ({d:.1f} digits)" if isinstance(d, (int, float)) and math.isfinite(d) else "")

    for label, key in (("r_inf", "r"), ("rho", "rho"), ("log rho", "log_rho"), ("alpha_eff", "alpha_eff"),
                       ("‖x_inf‖₁ (S, effective)", "S")):
        if cb.get(key):
            con.print(f"  {label} ∈ {ball(cb[key])}", markup=False, highlight=False)
    radii = cb.get("radii") or {}
    if radii:
        con.print(f"  x_inf: {len(cb['x_inf'])} balls, largest radius {radii['x_inf_max']:.3g}, "
                  f"worst {cb['x_inf_digits']:.1f} digits (all in the JSON)", markup=False, highlight=False)
        con.print("  enclosure radii: " + ", ".join(f"{k} {v:.3g}" for k, v in radii.items() if v is not None),
                  markup=False, highlight=False)
    l1 = cb.get("l1")
    if l1:
        con.print(f"  ℓ1 optimum: {'exact, ' + format(float(Fraction(l1['value'])), '.17g') if l1['optimal'] else 'not proven optimal'}"
                  f" ({l1['reason'].split(': ‖z')[0]})", markup=False, highlight=False)
    c6 = cb.get("c6")
    if c6:
        con.print(f"  §5 bound: {c6['decision']} — {c6['message']}", markup=False, highlight=False)


def _finish(args, out, problem, config, *, exit_ok: bool) -> int:
    from wnbias.io import dumps, write_json

    to_stdout = args.json == "-"
    _summary(out, problem, config, stderr=to_stdout)
    if args.json:
        try:
            write_json(args.json, out)
        except OSError as exc:
            sys.stdout.write(dumps(out) + "\n")
            raise CannotRun(f"--json: could not write {args.json} ({exc}); the JSON was printed to stdout") from None
    return 0 if exit_ok else 1


def _fmt(v, spec=".6g"):
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return format(v, spec)
    return str(v)


def _summary(out, problem, config, *, stderr=False):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console(stderr=stderr)
    if not con.is_terminal:  # a file or a pipe: wide enough that 40-digit values are not cut
        con = Console(stderr=stderr, width=max(con.width, 160))
    st = out["status"]
    colour = {"converged": "green", "trivial": "green", "not_converged": "yellow"}.get(st, "red")
    ex = out["parameters_exact"]
    con.print(f"[bold]{escape(problem.description or 'problem')}[/bold]  model={problem.model}  "
              f"L={config.L} rates={config.rates}")
    con.print("parameters (exact): " + ", ".join(f"{k}={v}" for k, v in ex.items() if v is not None),
              markup=False, highlight=False)
    con.print(f"status: [{colour}]{st}[/{colour}] — {escape(out['message'] or '')}")
    if out.get("product") is None:
        return
    con.print(f"result from {escape(out['engine'])}, precision {out['precision']}", highlight=False)
    tab = Table(show_header=True, header_style="bold")
    tab.add_column("quantity")
    tab.add_column("value", justify="right", overflow="fold")
    tab.add_column("from", no_wrap=True)
    block = out[{"taylor": "high_precision"}.get(out["product"], out["product"])]
    src = f"{out['product']} ({'float64' if out.get('dps') is None else str(out['dps']) + ' digits'})"

    def add(rows, where=out):
        for label, key in rows:
            if key in where:
                tab.add_row(label, _fmt(where[key]), src)

    head = [("r_inf", "r_inf"), ("rho", "rho"), ("log rho", "log_rho"), ("alpha_eff", "alpha_eff")]
    if out["product"] == "limit_solver":
        add(head + [("r_inf error bar", "r_inf_error"), ("x_inf error bar", "x_inf_error"),
                    ("‖Ax_inf − y‖", "residual")])
        add([("|φ(r_inf)|", "phi_residual"), ("wall time [s]", "wall_time")], block)
    else:
        add([("t_final", "t_final"), ("loss", "loss"), ("r_final", "r_final")] + head +
            [("invariant residual (max)", "invariant_residual"), ("| ‖u‖ − 1 | (max)", "unorm_dev_max"),
             ("Bregman mismatch", "bregman_mismatch")])
        add([("limit movement", "movement")], block.get("steady") or {})
        add([("ℓ1 opt", "l1_opt"), ("ℓ1 gap (user)", "l1_gap"), ("ℓ1 gap S − ‖z*‖₁", "l1_gap_S"),
             ("ℓ1 bound", "l1_bound"), ("gap / bound", "bound_ratio"), ("magnification (r_inf > r0)", "magnification")])
        add([("wall time [s]", "wall_time")], block)
    con.print(tab)
    if out.get("notes"):
        con.print(f"note: {escape(str(out['notes']))}")
    fb = out.get("flow64")
    if fb and out["product"] != "flow64":
        fa = fb["analysis"] or {}
        con.print(f"cross-check, float64 flow: {fb['status']} at t = {_fmt(fb['t_final'])}, r_inf = {_fmt(fa.get('r_inf'))}, "
                  f"ℓ1 gap {_fmt(fa.get('l1_gap'))} vs bound {_fmt(fa.get('l1_bound'))}", highlight=False)
    hp = out.get("high_precision")
    if hp and out["product"] != "taylor":
        con.print(f"cross-check, Taylor flow at {hp['dps']} digits to t = {hp['t_max']:g}: {hp['status']}, "
                  f"r(t) = {hp['r_final']}, max invariant residual {_fmt(hp['invariant_residual_max'], '.2e')}",
                  highlight=False)
    cc = out.get("cross_check")
    if cc and "r_inf_flow64_minus_limit" in cc:
        con.print(f"r_inf(float64 flow) − r_inf(limit solver) = {cc['r_inf_flow64_minus_limit']:.3e}", highlight=False)
    if cc and "r_flow64_minus_taylor" in cc:
        con.print(f"r(t = {cc['flows_t']:g}): float64 flow − Taylor flow = {cc['r_flow64_minus_taylor']:.3e}",
                  highlight=False)
    _print_certificate(con, out.get("certificate"))
    con.print(f"wall time {out['wall_time']:.3g} s", highlight=False)
