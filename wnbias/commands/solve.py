"""``wnbias solve``: integrate one flow on one problem to convergence and report its limit."""

from __future__ import annotations

import math
import sys
import time

from wnbias.errors import UsageError

HELP = "integrate one flow (WN-GF, plain GF, rates (r²,1)) to its limit and report ρ, β, ℓ1 gap and bound"
DESCRIPTION = """\
Integrate a flow of MATH.md §2 on one problem (float64, implicit/explicit auto-switching in
coordinates (r, log u)) until it converges, then report the limit: r_∞, ρ, α_eff, x_∞, the
invariant residual, the mismatch with the Bregman projection of β, the ℓ1 gap to the ℓ1
reference (HiGHS) and the §5 bound.  "converged" means the loss reached its tolerance AND the
limit estimate (Bregman projection of β(t)) stopped moving; otherwise the run is reported
not_converged and no limit is claimed (limit fields are null).

The problem comes from --problem P.npz (Problem.save format, never unpickled), a pair
--A A.npy --y y.npy, or --generate KIND --N n --M m --seed s.

--dps D also runs the arbitrary-precision integrator (numerics.taylor) at D digits;
--limit also computes the limit from the scalar equation of MATH.md §4 (numerics.limit).

Exit status: 0 converged (the flow, or with --limit the limit solver), 1 otherwise
(not_converged, diverged, inconsistent, failed), 2 bad input."""


def add_arguments(p):
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
    flow = p.add_argument_group("flow")
    flow.add_argument("--L", metavar="L", default="2", help="depth, an integer >= 2 (default 2)")
    flow.add_argument("--r0", metavar="R", default="1", help="initial radius > 0 (default 1)")
    flow.add_argument("--eta-r", metavar="A", default="0.1", help="η_r > 0 (default 0.1)")
    flow.add_argument("--eta-u", metavar="B", default="1", help="η_u > 0 (default 1)")
    flow.add_argument("--rates", metavar="RATES", default="constant", help="constant | r2 | plain (default constant)")
    run = p.add_argument_group("integration")
    run.add_argument("--t-max", metavar="T", default="1e6", help="largest time (default 1e6)")
    run.add_argument("--rtol", metavar="TOL", default="1e-10", help="solver tolerance on (r, log u) (default 1e-10)")
    run.add_argument("--loss-tol", metavar="TOL", help="loss tolerance (default ½(1e-6‖y‖)²)")
    run.add_argument("--wall-max", metavar="SEC", help="wall-clock budget in seconds (default none)")
    run.add_argument("--dps", metavar="D", help="also integrate at D decimal digits (numerics.taylor)")
    run.add_argument("--limit", action="store_true", help="also solve for the limit directly (numerics.limit)")
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="OUT", help="write all results as JSON to OUT")
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
    raw = getattr(args, name.replace("-", "_"))
    s = str(raw).strip()
    try:
        v = int(s)
    except ValueError:
        try:
            f = float(s)
        except ValueError:
            raise UsageError(f"--{name} must be {what}, got {raw!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise UsageError(f"--{name} must be {what}, got {raw!r}") from None
        v = int(f)
    if minimum is not None and v < minimum:
        raise UsageError(f"--{name} must be {what} >= {minimum}, got {raw!r}")
    return v


def load_problem(args):
    """The problem named by the arguments (UsageError naming the argument on bad input)."""
    from numerics.problem import MATRICES, MODELS, TRUTHS, Problem, generate

    if args.model is not None and args.model not in MODELS:
        raise UsageError(f"--model must be one of {', '.join(MODELS)}, got {args.model!r}")
    sources = [s for s, given in (("--problem", args.problem), ("--A/--y", args.A or args.y),
                                  ("--generate", args.generate)) if given]
    if len(sources) != 1:
        raise UsageError("give exactly one problem source: --problem P.npz, --A A.npy --y y.npy, "
                         "or --generate KIND --N n --M m" + (f" (got {', '.join(sources)})" if sources else ""))
    try:
        if args.problem:
            try:
                return Problem.load(args.problem, model=args.model)
            except ValueError as exc:
                raise UsageError(f"--problem: {exc}") from None
        if args.A or args.y:
            if not (args.A and args.y):
                raise UsageError("--A and --y go together: give both .npy files")
            try:
                return Problem.from_npy(args.A, args.y, model=args.model or "positive")
            except ValueError as exc:
                msg = str(exc)
                if not msg.startswith("--"):
                    which = "--y" if ("y " in msg or "y has" in msg) else "--A"
                    if "shape mismatch" in msg:
                        which = "--A/--y"
                    msg = f"{which}: {msg}"
                raise UsageError(msg) from None
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
        return generate(kind, N, M, seed, k=k, model=args.model, matrix=args.matrix)
    except UsageError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def load_config(args, n):
    from numerics.config import RATES, FlowConfig

    L = _int(args, "L", minimum=2, what="an integer")
    r0 = _float(args, "r0")
    eta_r = _float(args, "eta-r")
    eta_u = _float(args, "eta-u")
    if args.rates not in RATES:
        raise UsageError(f"--rates must be one of {', '.join(RATES)}, got {args.rates!r}")
    try:
        return FlowConfig(L=L, r0=r0, eta_r=eta_r, eta_u=eta_u, rates=args.rates)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


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


# -- the command ------------------------------------------------------------------------------


def run(args) -> int:
    import numpy as np

    from numerics._status import Status
    from numerics.flow64 import integrate
    from numerics.lp import l1_min, least_squares_residual
    from numerics.quantities import analyze
    from wnbias.jsonio import mp_str, versions, write_json

    t_wall = time.perf_counter()
    problem = load_problem(args)
    config = load_config(args, problem.n)
    t_max = _float(args, "t-max")
    rtol = _float(args, "rtol")
    if rtol >= 1:
        raise UsageError(f"--rtol must be < 1, got {args.rtol!r}")
    loss_tol = None if args.loss_tol is None else _float(args, "loss-tol")
    wall_max = None if args.wall_max is None else _float(args, "wall-max")
    dps = None if args.dps is None else _int(args, "dps", minimum=1, what="a positive integer")

    # the optional machinery of other modules: fail early, before a long integration
    integrate_mp = limit_solve = None
    if dps is not None:
        try:
            from numerics.taylor import integrate_mp
        except ImportError:
            raise UsageError("--dps: the arbitrary-precision integrator (numerics.taylor) is not available yet") from None
    if args.limit:
        try:
            from numerics.limit import limit_solve
        except ImportError:
            raise UsageError("--limit: the limit solver (numerics.limit) is not available yet") from None
    if args.save_problem:
        try:
            problem.save(args.save_problem)
        except OSError as exc:
            raise UsageError(f"--save-problem: cannot write {args.save_problem}: {exc}") from None

    prog = _Progress(not args.no_progress, "integrating")
    flow = integrate(problem, config, t_max=t_max, rtol=rtol, loss_tol=loss_tol, wall_max=wall_max, progress=prog)
    prog.done()
    converged = flow.status is Status.CONVERGED

    l1 = l1_min(problem)
    ls = least_squares_residual(problem)
    rep = (analyze(problem, config, flow.r_final, flow.u_final, l1=l1, log_u=flow.extras.get("log_u_final"))
           if converged else None)

    def lim(v):
        return v if converged else None

    out = {
        "status": flow.status.value,
        "message": flow.message,
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
        "parameters": {
            "problem": problem.as_dict(), "config": config.as_dict(), "t_max": t_max, "rtol": rtol,
            "loss_tol": flow.extras.get("loss_tol"), "limit_tol": flow.extras.get("limit_tol"), "wall_max": wall_max,
            "method": flow.method, "method_switches": flow.extras.get("method_switches"),
            "field": flow.extras.get("field"), "coordinates": flow.extras.get("coordinates"),
        },
        "work": {"nfev": flow.nfev, "nsteps": flow.nsteps, "njev": flow.extras.get("njev"),
                 "flow_wall_time": flow.wall_time},
        "trajectory": {"t": flow.t, "loss": flow.loss, "r": flow.r,
                       "invariant_residual": flow.invariant_residual, "unorm_dev": flow.unorm_dev},
        "versions": versions(),
    }

    exit_ok = converged
    if integrate_mp is not None:
        progm = _Progress(not args.no_progress, f"integrating at {dps} digits")
        hp = integrate_mp(problem, config, dps=dps, t_max=t_max, progress=progm)
        progm.done()
        hp_obj = {"dps": dps, "status": hp.status.value, "message": hp.message,
                  "t_final": _mpstr(hp.t_final, mp_str, dps),
                  "r_final": _mpstr(hp.r_final, mp_str, dps), "r_inf": None, "rho": None, "x_inf": None,
                  "wall_time": hp.wall_time, "nsteps": hp.nsteps,
                  # accuracies along the whole trajectory, at the working precision
                  "invariant_residual_max": float(np.nanmax(hp.invariant_residual)) if len(hp.invariant_residual) else None,
                  "unorm_dev_max": float(np.nanmax(np.abs(hp.unorm_dev))) if len(hp.unorm_dev) else None,
                  "loss": float(hp.loss_final), "bregman_mismatch": None}
        if hp.status is Status.CONVERGED:
            hrep = analyze(problem, config, hp.r_final, hp.u_final, dps=dps, l1=l1)
            hp_obj.update(r_inf=_mpstr(hrep.r_inf, mp_str, dps), rho=_mpstr(hrep.rho, mp_str, dps),
                          x_inf=[_mpstr(v, mp_str, dps) for v in hrep.x_inf],
                          bregman_mismatch=None if hrep.bregman_mismatch is None else float(hrep.bregman_mismatch))
        out["high_precision"] = hp_obj
    if limit_solve is not None:
        lr = limit_solve(problem, config, dps=dps)
        out["limit_solver"] = {
            "status": lr.status.value, "message": lr.message, "r_inf": _mpstr(lr.r_inf, mp_str, dps),
            "rho": _mpstr(lr.rho, mp_str, dps), "r_inf_error": lr.r_inf_error,
            "x_inf": [_mpstr(v, mp_str, dps) for v in lr.x_inf_user] if lr.x_inf_user is not None else None,
            "wall_time": lr.wall_time,
        }
        if converged and lr.status is Status.CONVERGED:
            out["limit_solver"]["r_inf_flow_minus_solver"] = float(flow.r_final) - float(lr.r_inf)
        exit_ok = exit_ok or lr.status is Status.CONVERGED

    out["wall_time"] = time.perf_counter() - t_wall
    if args.json:
        try:
            write_json(args.json, out)
        except OSError as exc:
            raise UsageError(f"--json: cannot write {args.json}: {exc}") from None
    _summary(out, problem, config)
    return 0 if exit_ok else 1


def _mpstr(v, mp_str, dps=None):
    if v is None:
        return None
    if isinstance(v, (int, float)) or type(v).__module__ == "numpy":
        return repr(float(v))
    return mp_str(v, dps)


def _fmt(v, spec=".6g"):
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return format(v, spec)
    return str(v)


def _summary(out, problem, config):
    from rich.console import Console
    from rich.table import Table

    con = Console()
    st = out["status"]
    colour = {"converged": "green", "not_converged": "yellow"}.get(st, "red")
    con.print(f"[bold]{problem.description or 'problem'}[/bold]  model={problem.model}  "
              f"L={config.L} r0={config.r0:g} η_r={config.eta_r:g} η_u={config.eta_u:g} rates={config.rates}")
    con.print(f"status: [{colour}]{st}[/{colour}] — {out['message']}")
    tab = Table(show_header=True, header_style="bold")
    tab.add_column("quantity")
    tab.add_column("value", justify="right")
    rows = [
        ("t_final", out["t_final"]), ("loss", out["loss"]), ("r_final", out["r_final"]),
        ("r_inf", out["r_inf"]), ("rho", out["rho"]), ("log rho", out["log_rho"]),
        ("alpha_eff", out["alpha_eff"]), ("invariant residual (max)", out["invariant_residual"]),
        ("| ‖u‖ − 1 | (max)", out["unorm_dev_max"]), ("Bregman mismatch", out["bregman_mismatch"]),
        ("limit movement", out["limit_movement"]), ("ℓ1 opt", out["l1_opt"]), ("ℓ1 gap (user)", out["l1_gap"]),
        ("ℓ1 gap S − ‖z*‖₁", out["l1_gap_S"]), ("ℓ1 bound", out["l1_bound"]), ("gap / bound", out["bound_ratio"]),
        ("magnification (r_inf > r0)", out["magnification"]), ("wall time [s]", out["wall_time"]),
    ]
    for k, v in rows:
        tab.add_row(k, _fmt(v))
    con.print(tab)
    if out.get("notes"):
        con.print(f"note: {out['notes']}")
    if "high_precision" in out:
        hp = out["high_precision"]
        con.print(f"high precision ({hp['dps']} digits): {hp['status']}, r_final = {hp['r_final']}, r_inf = {hp['r_inf']}")
        con.print(f"  max invariant residual {_fmt(hp['invariant_residual_max'], '.2e')}, max |‖u‖ − 1| "
                  f"{_fmt(hp['unorm_dev_max'], '.2e')}, Bregman mismatch {_fmt(hp['bregman_mismatch'], '.2e')}")
    if "limit_solver" in out:
        ls = out["limit_solver"]
        con.print(f"limit solver: {ls['status']}, r_inf = {ls['r_inf']} (± {_fmt(ls['r_inf_error'], '.1e')})")
