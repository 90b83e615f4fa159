"""``wnbias solve``: integrate one flow on one problem to convergence and report its limit."""

from __future__ import annotations

import inspect
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
            D digits with --dps); the flows are then only a bounded cross-check: float64 to
            --t-max, the Taylor flow to a short horizon (1 unless --t-max is given).
--wall-max S bounds the whole command: every solver gets what is left of S seconds.
--certify (with --limit) proves the limit on the instance with ball arithmetic (numerics.certify,
            docs/certify.md): r_∞ in an explicit interval (certified opposite signs of φ), and
            enclosures of ρ, α_eff, x_∞ and ‖x_∞‖₁; with constant rates and a uniform β also the ℓ1
            optimum exactly (an LP basis checked in rationals) and gap ≤ bound (§5) on the
            enclosures.  The enclosure radii are printed; the JSON block "certificate" has every
            ball as mid/rad strings.  The certificate has no time limit of its own: it is skipped
            when --wall-max is spent, and it does not change the exit status.

Exit status: 0 the product converged (or the problem is trivial), 1 otherwise (not_converged,
time_limit, diverged, inconsistent, failed), 2 bad input, 3 could not run (an output that could
not be written after the work: the JSON then goes to stdout)."""

T_MAX_DEFAULT = 1e6
CROSS_CHECK_T_MP = 1.0
"""Horizon of the Taylor cross-check in --limit mode (unless --t-max is given)."""
CROSS_CHECK_WALL = 120.0
"""Wall-clock cap (s) of each cross-check integration in --limit mode without --wall-max."""
MEMORY_FRACTION = 0.25
"""--generate refuses a matrix whose float64 copies would need more than this fraction of RAM."""


def add_arguments(p):
    from wnbias.cli import exact_number, int_at_least

    src = p.add_argument_group("problem (one of)")
    src.add_argument("--problem", metavar="P.npz", help="a problem saved by Problem.save (.npz with A and y)")
    src.add_argument("--A", metavar="A.npy", help="the matrix A (.npy); needs --y")
    src.add_argument("--y", metavar="y.npy", help="the data y (.npy); needs --A")
    src.add_argument("--generate", metavar="KIND", help="sparse_positive | sparse_signed | gaussian")
    src.add_argument("--N", metavar="N", help="with --generate: signal length")
    src.add_argument("--M", metavar="M", help="with --generate: measurements (M < N)")
    src.add_argument("--seed", metavar="S", default="0", help="with --generate: random seed (default 0)")
    src.add_argument("--k", metavar="K", help="with --generate: sparsity (default M//4)")
    src.add_argument("--matrix", metavar="KIND", default="gaussian",
                     help="with --generate: gaussian | rademacher | correlated | equal_columns")
    p.add_argument("--model", metavar="MODEL", help="positive | signed (default: the problem's)")
    flow = p.add_argument_group("flow (parameters are kept exactly as typed)")
    flow.add_argument("--L", metavar="L", type=int_at_least(2, "an integer (the depth)"), default=2,
                      help="depth, an integer >= 2 (default 2)")
    flow.add_argument("--r0", metavar="R", type=exact_number(), default="1", help="initial radius > 0 (default 1)")
    flow.add_argument("--eta-r", metavar="A", type=exact_number(), default="0.1", help="η_r > 0 (default 0.1)")
    flow.add_argument("--eta-u", metavar="B", type=exact_number(), default="1", help="η_u > 0 (default 1)")
    flow.add_argument("--rates", metavar="RATES", default="constant", help="constant | r2 | plain (default constant)")
    run = p.add_argument_group("integration")
    run.add_argument("--t-max", metavar="T", help=f"largest time (default {T_MAX_DEFAULT:g}; "
                                                  f"with --limit --dps, {CROSS_CHECK_T_MP:g} for the Taylor cross-check)")
    run.add_argument("--rtol", metavar="TOL", default="1e-10", help="solver tolerance on (r, log u) (default 1e-10)")
    run.add_argument("--loss-tol", metavar="TOL", help="loss tolerance of every integration (default: each integrator's)")
    run.add_argument("--wall-max", metavar="SEC", help="wall-clock budget in seconds for the whole command (default none)")
    run.add_argument("--dps", metavar="D", help="also work at D decimal digits (numerics.taylor, numerics.limit)")
    run.add_argument("--limit", action="store_true", help="solve for the limit directly (numerics.limit): the product")
    run.add_argument("--certify", action="store_true",
                     help="with --limit: prove the limit with ball arithmetic and print the enclosure radii "
                          "(numerics.certify, docs/certify.md)")
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="OUT", help="write all results as JSON to OUT ('-': stdout)")
    out.add_argument("--save-problem", metavar="P.npz", help="save the problem used (.npz)")
    out.add_argument("--no-progress", action="store_true", help="no progress indicator on stderr")


# -- argument parsing (never eval) ---------------------------------------------------------


def _float(args, name, *, positive=True):
    raw = getattr(args, name.replace("-", "_"))
    try:
        v = float(str(raw).strip())
    except ValueError:
        raise UsageError(f"--{name} must be a number, got {raw!r}") from None
    if not math.isfinite(v):
        raise UsageError(f"--{name} must be finite, got {raw!r}")
    if positive and v <= 0:
        raise UsageError(f"--{name} must be > 0, got {raw!r}")
    return v


def _int(args, name, *, minimum=None, what="an integer"):
    """``--name`` as an integer, read by :func:`wnbias.cli.int_at_least` (UsageError naming it)."""
    import argparse

    from wnbias.cli import int_at_least

    raw = getattr(args, name.replace("-", "_"))
    try:
        return int_at_least(-math.inf if minimum is None else minimum, what)(raw)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--{name} {exc}") from None


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
    from numerics.problem import MATRICES, MODELS, TRUTHS, Problem, generate

    from wnbias.commands.verify import read_problem, refuse_bad_scale

    if args.model is not None and args.model not in MODELS:
        raise UsageError(f"--model must be one of {', '.join(MODELS)}, got {args.model!r}")
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
        kind = args.generate
        if kind not in TRUTHS:
            raise UsageError(f"--generate must be one of {', '.join(TRUTHS)}, got {kind!r}")
        if args.matrix not in MATRICES:
            raise UsageError(f"--matrix must be one of {', '.join(MATRICES)}, got {args.matrix!r}")
        if args.N is None or args.M is None:
            raise UsageError("--generate needs --N and --M")
        N = _int(args, "N", minimum=2, what="a positive integer")
        M = _int(args, "M", minimum=1, what="a positive integer")
        if M >= N:
            raise UsageError(f"--M must be smaller than --N (underdetermined), got M = {M}, N = {N}")
        seed = _int(args, "seed", minimum=0, what="a non-negative integer")
        k = None if args.k is None else _int(args, "k", minimum=1, what="a positive integer")
        if k is not None and k > N:
            raise UsageError(f"--k must be at most N = {N}, got {k}")
        _check_generate_size(N, M, args.model or ("signed" if kind == "sparse_signed" else "positive"))
        try:
            return generate(kind, N, M, seed, k=k, model=args.model, matrix=args.matrix)
        except MemoryError:
            raise UsageError(f"--N/--M: a {M}×{N} problem does not fit in memory; choose a smaller one") from None
    except UsageError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def load_config(args, n=None):
    from numerics.config import RATES, FlowConfig

    if args.rates not in RATES:
        raise UsageError(f"--rates must be one of {', '.join(RATES)}, got {args.rates!r}")
    try:  # the strings as typed: FlowConfig keeps them exactly (docs/math.md §2)
        return FlowConfig(L=args.L, r0=args.r0, eta_r=args.eta_r, eta_u=args.eta_u, rates=args.rates)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def min_dps() -> int:
    from wnbias.commands.verify import min_dps as _m

    return _m()


# -- advice in solver messages: only what the command line can do -------------------------

_API_ONLY = re.compile(r"method\s*=|max_iter|max_steps|nu0|bracket\s*=|\btol\s*=|path_from|\bmixed\b|\border\s*=")
_TO_CLI = ((re.compile(r"\bt_max\b"), "--t-max"), (re.compile(r"(?<![-\w])rtol\b"), "--rtol"),
           (re.compile(r"\bloss_tol\b"), "--loss-tol"), (re.compile(r"\b(time_limit|wall_max)\b"), "--wall-max"),
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


# -- budgets ----------------------------------------------------------------------------------


class _Budget:
    """What is left of ``--wall-max`` (None: no budget)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.t0 = time.perf_counter()

    def left(self, cap=None):
        if self.seconds is None:
            return cap
        rest = max(self.seconds - (time.perf_counter() - self.t0), 1e-3)
        return rest if cap is None else min(rest, cap)


def _budget_kw(fn, seconds) -> dict:
    """``time_limit=seconds`` for ``fn`` (its older spelling ``wall_max`` where that is all it takes)."""
    if seconds is None:
        return {}
    params = inspect.signature(fn).parameters
    if "time_limit" in params:
        return {"time_limit": seconds}
    if "wall_max" in params:
        return {"wall_max": seconds}
    raise CannotRun(f"{fn.__module__}.{fn.__name__} takes no time budget, so --wall-max cannot be honoured")


# -- progress ---------------------------------------------------------------------------------


class _Progress:
    """A one-line progress indicator on stderr (t and loss), throttled."""

    def __init__(self, enabled: bool, label: str):
        self.enabled = enabled
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.t0 = time.perf_counter()

    def __call__(self, t, loss):
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        line = f"{self.label}: t = {float(t):.4g}  loss = {float(loss):.3e}  ({now - self.t0:.0f} s)"
        if self.tty:
            sys.stderr.write("\r" + line + "\x1b[K")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self):
        if self.enabled and self.tty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


# -- the blocks of the result -----------------------------------------------------------------

FLOAT64 = "float64 (about 15 significant digits)"


def _digits(dps):
    return f"{dps} decimal digits" if dps is not None else FLOAT64


def _flow64_block(flow, rep, l1, ls, role):
    import numpy as np

    from numerics._status import Status

    converged = flow.status is Status.CONVERGED

    def lim(v):
        return v if converged else None

    return {
        "method": "flow64: float64 integration (numerics.flow64)",
        "role": role,
        "precision": FLOAT64,
        "dps": None,
        "status": flow.status.value,
        "message": cli_advice(flow.message),
        "t_final": flow.t_final,
        "r_final": flow.r_final,
        "loss": flow.loss_final,
        "residual": math.sqrt(2.0 * flow.loss_final) if math.isfinite(flow.loss_final) else None,
        "r_inf": lim(rep and rep.r_inf),
        "rho": lim(rep and rep.rho),
        "log_rho": lim(rep and rep.log_rho),
        "alpha_eff": lim(rep and rep.alpha_eff),
        "log_alpha_eff": lim(rep and rep.log_alpha_eff),
        "x_inf": lim(rep and rep.x_inf),
        "invariant_residual": float(np.max(flow.invariant_residual)) if len(flow.invariant_residual) else None,
        "invariant_residual_final": float(flow.invariant_residual[-1]) if len(flow.invariant_residual) else None,
        "invariant_residual_limit": lim(rep and rep.invariant_residual),
        "unorm_dev_max": float(np.max(np.abs(flow.unorm_dev))) if len(flow.unorm_dev) else None,
        "bregman_mismatch": lim(rep and rep.bregman_mismatch),
        "l1_opt": l1.value if l1.status is Status.CONVERGED else None,
        "l1_status": l1.status.value,
        "l1_gap": lim(rep and rep.l1_gap),
        "l1_gap_S": lim(rep and rep.l1_gap_S),
        "l1_bound": lim(rep and rep.l1_bound),
        "bound_name": rep.bound_name if rep else None,
        "bound_ratio": lim(rep and rep.bound_ratio),
        "magnification": lim(rep and rep.magnification),
        "limit_movement": flow.extras.get("limit_movement"),
        "x_movement": flow.extras.get("x_movement"),
        "r_movement": flow.extras.get("r_movement"),
        "log_rho_movement": flow.extras.get("log_rho_movement"),
        "least_squares_residual": ls.residual,
        "notes": rep.message if rep else "",
        "settings": {"loss_tol": flow.extras.get("loss_tol", getattr(flow, "loss_tol", None)),
                     "limit_tol": flow.extras.get("limit_tol"), "method": flow.method,
                     "method_switches": flow.extras.get("method_switches"), "field": flow.extras.get("field"),
                     "coordinates": flow.extras.get("coordinates")},
        "work": {"nfev": flow.nfev, "nsteps": flow.nsteps, "njev": flow.extras.get("njev"),
                 "flow_wall_time": flow.wall_time},
        "trajectory": {"t": flow.t, "loss": flow.loss, "r": flow.r,
                       "invariant_residual": flow.invariant_residual, "unorm_dev": flow.unorm_dev},
    }


def _mpstr(v, dps=None):
    from wnbias.jsonio import mp_str

    if v is None:
        return None
    if isinstance(v, (int, float)) or type(v).__module__ == "numpy":
        return repr(float(v))
    return mp_str(v, dps)


def _opt_float(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _taylor_block(hp, hrep, dps, role):
    import numpy as np

    block = {"method": "taylor: Taylor integration at dps digits (numerics.taylor)", "role": role,
             "precision": _digits(dps), "dps": dps, "status": hp.status.value, "message": cli_advice(hp.message),
             "t_final": _mpstr(hp.t_final, dps), "r_final": _mpstr(hp.r_final, dps),
             "loss": _opt_float(hp.loss_final), "r_inf": None, "rho": None, "log_rho": None, "alpha_eff": None,
             "x_inf": None, "wall_time": hp.wall_time, "nsteps": hp.nsteps,
             # accuracies along the whole trajectory, at the working precision
             "invariant_residual_max": float(np.nanmax(hp.invariant_residual)) if len(hp.invariant_residual) else None,
             "unorm_dev_max": float(np.nanmax(np.abs(hp.unorm_dev))) if len(hp.unorm_dev) else None,
             "max_step_increase": _opt_float(getattr(hp, "max_step_increase", None)),
             "bregman_mismatch": None, "l1_gap": None, "l1_bound": None, "bound_ratio": None,
             "magnification": None, "precision_of": None}
    if hrep is not None:
        block.update(r_inf=_mpstr(hrep.r_inf, dps), rho=_mpstr(hrep.rho, dps), log_rho=_mpstr(hrep.log_rho, dps),
                     alpha_eff=_mpstr(hrep.alpha_eff, dps) if hrep.alpha_eff is not None else None,
                     x_inf=[_mpstr(v, dps) for v in hrep.x_inf],
                     bregman_mismatch=_opt_float(hrep.bregman_mismatch), l1_gap=_opt_float(hrep.l1_gap),
                     l1_bound=_opt_float(hrep.l1_bound), bound_ratio=_opt_float(hrep.bound_ratio),
                     magnification=bool(hrep.magnification), precision_of=dict(hrep.precision),
                     notes=hrep.message)
    return block


def _limit_block(lr, dps, role):
    d = lr.as_dict()
    d.update(method="limit_solver: the scalar equation of docs/math.md §4 (numerics.limit)", role=role,
             precision=_digits(dps), dps=dps, message=cli_advice(lr.message),
             x_inf=d.get("x_inf_user"))  # the user's coordinates, as in the other blocks
    return d


# -- the command ------------------------------------------------------------------------------


def run(args) -> int:
    from numerics._status import Status
    from wnbias.jsonio import check_output_file, versions

    t_wall = time.perf_counter()
    problem = load_problem(args)
    config = load_config(args, problem.n)
    t_max_given = args.t_max is not None
    t_max = _float(args, "t-max") if t_max_given else T_MAX_DEFAULT
    rtol = _float(args, "rtol")
    if rtol >= 1:
        raise UsageError(f"--rtol must be < 1, got {args.rtol!r}")
    loss_tol = None if args.loss_tol is None else _float(args, "loss-tol")
    wall_max = None if args.wall_max is None else _float(args, "wall-max")
    dps = None if args.dps is None else _int(args, "dps", minimum=1, what="a positive integer")
    if dps is not None and dps < min_dps():
        raise UsageError(f"--dps must be at least {min_dps()} (numerics.taylor.MIN_DPS: below it the tolerances "
                         f"mean nothing), got {dps}; omit --dps for float64")
    certify = bool(getattr(args, "certify", False))
    if certify and not args.limit:
        raise UsageError("--certify certifies the limit solver's result: give --limit too")
    # outputs are checked before any work
    if args.json:
        check_output_file(args.json, "--json")
    if args.save_problem:
        if args.save_problem == "-":
            raise UsageError("--save-problem needs a file name (a .npz cannot go to stdout)")
        check_output_file(args.save_problem, "--save-problem")

    # the optional machinery of other modules: fail early, before a long integration
    integrate_mp = limit_solve = None
    if dps is not None:
        try:
            from numerics.taylor import integrate_mp
        except ImportError as exc:
            raise CannotRun(f"--dps: the arbitrary-precision integrator numerics.taylor cannot be imported ({exc})") from None
    if args.limit:
        try:
            from numerics.limit import limit_solve
        except ImportError as exc:
            raise CannotRun(f"--limit: the limit solver numerics.limit cannot be imported ({exc})") from None
    certify_mod = None
    if certify:
        try:
            import numerics.certify as certify_mod
        except ImportError as exc:
            raise CannotRun(f"--certify: numerics.certify (python-flint) cannot be imported ({exc})") from None
    if args.save_problem:
        try:
            problem.save(args.save_problem)
        except OSError as exc:
            raise UsageError(f"--save-problem: cannot write {args.save_problem}: {exc}") from None

    exact = config.exact_strings()
    common = {"parameters_exact": exact,
              "parameters": {"problem": problem.as_dict(), "config": config.as_dict(), "t_max": t_max, "rtol": rtol,
                             "loss_tol": loss_tol, "wall_max": wall_max, "dps": dps, "limit": bool(args.limit)}}
    trivial = problem.is_trivial if hasattr(problem, "is_trivial") else None
    trivial = trivial() if callable(trivial) else trivial
    if trivial is None:
        trivial = not bool(problem.y.any())
    if trivial:
        out = {"status": Status.TRIVIAL.value, "product": None, "precision": None,
               "message": "y = 0: the problem is trivial (x = 0 fits it exactly and is its ℓ1 minimiser); "
                          "nothing was integrated", **common, "versions": versions(),
               "wall_time": time.perf_counter() - t_wall}
        return _finish(args, out, problem, config, exit_ok=True)

    budget = _Budget(wall_max)
    cross_cap = None if wall_max is not None or not args.limit else CROSS_CHECK_WALL
    product = "limit_solver" if args.limit else ("taylor" if dps is not None else "flow64")
    blocks = {}
    lr = None
    if limit_solve is not None:  # the product first, then the cross-checks
        lr = limit_solve(problem, config, dps=dps, **_budget_kw(limit_solve, budget.left()))
        blocks["limit_solver"] = _limit_block(lr, dps, "product")

    from numerics.flow64 import integrate
    from numerics.lp import l1_min, least_squares_residual
    from numerics.quantities import analyze

    prog = _Progress(not args.no_progress, "integrating (float64)")
    flow = integrate(problem, config, t_max=t_max, rtol=rtol, loss_tol=loss_tol, progress=prog,
                     **_budget_kw(integrate, budget.left(cross_cap)))
    prog.done()
    l1 = l1_min(problem)
    ls = least_squares_residual(problem)
    converged64 = flow.status is Status.CONVERGED
    rep = (analyze(problem, config, flow.r_final, flow.u_final, l1=l1, log_u=flow.extras.get("log_u_final"))
           if converged64 else None)
    blocks["flow64"] = _flow64_block(flow, rep, l1, ls, "product" if product == "flow64" else "cross-check")

    hp = None
    if integrate_mp is not None:
        t_mp = t_max if (t_max_given or not args.limit) else CROSS_CHECK_T_MP
        progm = _Progress(not args.no_progress, f"integrating at {dps} digits")
        hp = integrate_mp(problem, config, dps=dps, t_max=t_mp, loss_tol=loss_tol, progress=progm,
                          **_budget_kw(integrate_mp, budget.left(cross_cap)))
        progm.done()
        hrep = None
        if hp.status is Status.CONVERGED:
            hrep = analyze(problem, config, hp.r_final, hp.u_final, dps=dps, l1=l1,
                           log_u=hp.extras.get("log_u_final"))
        blocks["high_precision"] = _taylor_block(hp, hrep, dps, "product" if product == "taylor" else "cross-check")
        blocks["high_precision"]["t_max"] = t_mp

    cross = {}
    if lr is not None and lr.status is Status.CONVERGED:
        if converged64:
            cross["r_inf_flow64_minus_limit"] = float(flow.r_final) - float(lr.r_inf)
        if hp is not None:
            import mpmath

            from numerics.precision import workdps

            with workdps(dps):
                cross["taylor_t"] = _mpstr(hp.t_final, dps)
                cross["taylor_r_minus_limit_r_inf"] = _mpstr(mpmath.mpf(hp.r_final) - mpmath.mpf(lr.r_inf), dps)
            cross["note"] = ("the Taylor flow ran only to the cross-check horizon; its distance to r_inf is the "
                             "distance still to travel, not an error, unless it converged")
        blocks["limit_solver"]["r_inf_flow_minus_solver"] = cross.get("r_inf_flow64_minus_limit")

    if certify_mod is not None and lr is not None:
        if wall_max is not None and budget.left() <= 1e-3:
            blocks["certificate"] = {"certified": False, "reason": "not run: the --wall-max budget is spent"}
        else:
            blocks["certificate"] = _certificate_block(certify_mod, problem, config, lr)

    for b in blocks.values():  # the exact parameters next to each block's precision
        b.setdefault("parameters_exact", exact)
    head = blocks[{"taylor": "high_precision"}.get(product, product)]
    keys = ("status", "message", "method", "precision", "dps", "r_inf", "rho", "log_rho", "alpha_eff", "x_inf",
            "loss", "t_final", "r_final", "invariant_residual", "unorm_dev_max", "bregman_mismatch", "l1_opt",
            "l1_gap", "l1_gap_S", "l1_bound", "bound_name", "bound_ratio", "magnification", "notes")
    out = {"product": product, **{k: head.get(k) for k in keys if k in head}, **common}
    for k in ("l1_opt", "least_squares_residual"):
        out.setdefault(k, blocks["flow64"][k])
    out.update(blocks)
    if cross:
        out["cross_check"] = cross
    out["versions"] = versions()
    out["wall_time"] = time.perf_counter() - t_wall
    return _finish(args, out, problem, config, exit_ok=head["status"] == Status.CONVERGED.value)


def _certificate_block(C, problem, config, lr) -> dict:
    """The ``certificate`` block of ``--limit --certify`` (docs/certify.md): the certified limit
    (balls as mid/rad strings, user coordinates too), and where the §5 bound applies the exact
    ℓ1 optimum and the certified comparison gap ≤ bound."""
    from numerics._status import Status

    t0 = time.perf_counter()
    if lr.status is not Status.CONVERGED:
        return {"certified": False, "reason": f"the limit solver did not converge ({lr.status.value}): nothing to certify",
                "wall_time": 0.0}
    cert = C.certify_limit(problem, config, lr)
    block = {"method": "numerics.certify: Krawczyk test on the dual equations, certified signs of φ (ball arithmetic)",
             **cert.as_dict()}
    block["x_eff"] = block.pop("x")
    if cert.certified and cert.uniqueness != "unique":  # every root of φ in the bracket (wnbias.claims.limits)
        from wnbias.claims.limits import prove_all_roots_in_bracket

        ok, why = prove_all_roots_in_bracket(problem, config, cert)
        block["all_roots_in_bracket"], block["all_roots_reason"] = ok, why
    t_limit = time.perf_counter() - t0
    if cert.certified:
        x_user = problem.to_user(list(cert.x))
        block["x_inf"] = [C.ball_json(v) for v in x_user]
        block["x_inf_digits"] = min(C.width_digits(v) for v in x_user)
        block["radii"] = {"r_inf": float(cert.r.rad()), "rho": float(cert.rho.rad()), "log_rho": float(cert.log_rho.rad()),
                          "alpha_eff": float(cert.alpha_eff.rad()) if cert.alpha_eff is not None else None,
                          "S": float(cert.S.rad()), "x_inf_max": max(float(v.rad()) for v in x_user)}
        if config.rates == "constant" and cert.log_alpha_eff is not None:
            t1 = time.perf_counter()
            l1 = C.certify_l1(problem)
            cmp = C.compare_c6(cert, l1)
            from flint import ctx as flint_ctx

            old_prec, flint_ctx.prec = flint_ctx.prec, max(cert.prec, C.MIN_PREC)
            try:  # the exact optimum as a ball at the certificate's precision
                l1_ball = l1.value_ball()
                l1_json = C.ball_json(l1_ball) if l1_ball is not None else None
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
    from wnbias.jsonio import dumps, write_json

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
    con.print(f"result from {escape(out['method'])}, precision {out['precision']}", highlight=False)
    tab = Table(show_header=True, header_style="bold")
    tab.add_column("quantity")
    tab.add_column("value", justify="right", overflow="fold")
    tab.add_column("from", no_wrap=True)

    def add(block_name, rows):
        b = out.get(block_name)
        if not b:
            return
        src = f"{block_name} ({'float64' if b.get('dps') is None else str(b['dps']) + ' digits'})"
        for label, key in rows:
            if key in b:
                tab.add_row(label, _fmt(b[key]), src)

    head = [("r_inf", "r_inf"), ("rho", "rho"), ("log rho", "log_rho"), ("alpha_eff", "alpha_eff")]
    if out["product"] == "limit_solver":
        add("limit_solver", head + [("r_inf error bar", "r_inf_error"), ("x_inf error bar", "x_inf_error"),
                                    ("‖Ax_inf − y‖", "residual"), ("|φ(r_inf)|", "phi_residual"),
                                    ("wall time [s]", "wall_time")])
    if out["product"] == "taylor":
        add("high_precision", [("t_final", "t_final"), ("loss", "loss"), ("r_final", "r_final")] + head +
            [("invariant residual (max)", "invariant_residual_max"), ("| ‖u‖ − 1 | (max)", "unorm_dev_max"),
             ("Bregman mismatch", "bregman_mismatch"), ("ℓ1 gap (user)", "l1_gap"), ("ℓ1 bound", "l1_bound"),
             ("gap / bound", "bound_ratio"), ("magnification (r_inf > r0)", "magnification"),
             ("wall time [s]", "wall_time")])
    rows64 = [("t_final", "t_final"), ("loss", "loss"), ("r_final", "r_final")] + head + [
        ("invariant residual (max)", "invariant_residual"), ("| ‖u‖ − 1 | (max)", "unorm_dev_max"),
        ("Bregman mismatch", "bregman_mismatch"), ("limit movement", "limit_movement"), ("ℓ1 opt", "l1_opt"),
        ("ℓ1 gap (user)", "l1_gap"), ("ℓ1 gap S − ‖z*‖₁", "l1_gap_S"), ("ℓ1 bound", "l1_bound"),
        ("gap / bound", "bound_ratio"), ("magnification (r_inf > r0)", "magnification")]
    if out["product"] == "flow64":
        add("flow64", rows64)
    con.print(tab)
    if out.get("notes"):
        con.print(f"note: {escape(str(out['notes']))}")
    fb = out.get("flow64")
    if fb and out["product"] != "flow64":
        con.print(f"cross-check, float64 flow: {fb['status']} at t = {_fmt(fb['t_final'])}, r_inf = {_fmt(fb['r_inf'])}, "
                  f"ℓ1 gap {_fmt(fb['l1_gap'])} vs bound {_fmt(fb['l1_bound'])}", highlight=False)
    hp = out.get("high_precision")
    if hp and out["product"] != "taylor":
        con.print(f"cross-check, Taylor flow at {hp['dps']} digits to t = {hp['t_max']:g}: {hp['status']}, "
                  f"r(t) = {hp['r_final']}, max invariant residual {_fmt(hp['invariant_residual_max'], '.2e')}",
                  highlight=False)
    cc = out.get("cross_check")
    if cc and "r_inf_flow64_minus_limit" in cc:
        con.print(f"r_inf(float64 flow) − r_inf(limit solver) = {cc['r_inf_flow64_minus_limit']:.3e}", highlight=False)
    _print_certificate(con, out.get("certificate"))
    con.print(f"wall time {out['wall_time']:.3g} s", highlight=False)
