"""``wnbias verify``: check every claim of MATH.md on built-in problems (the main job)."""

from __future__ import annotations

import sys
import time

from wnbias.errors import UsageError

HELP = "check every claim (invariants, limits, ℓ1 bounds, rates) on built-in problems"
DESCRIPTION = """\
Check the claims of MATH.md numerically (and symbolically, via theory/) and print one table:
claim, setting, measured, bound/tolerance, PASS/FAIL/SKIP.  Tolerances follow the precision
of each check (numerics.precision.tol).  A claim whose machinery is missing, or whose
assumption fails on a setting (no convergence within the budget, r_∞ < r₀ where
magnification is claimed), is SKIP with the reason, never PASS.
Exit status 1 if any row FAILs, 2 on bad input."""


def add_arguments(p):
    lvl = p.add_mutually_exclusive_group()
    lvl.add_argument("--quick", action="store_true", help="a subset that runs in under a minute")
    lvl.add_argument("--full", action="store_true", help="more problems, depths and precisions")
    p.add_argument("--claims", metavar="IDS", help="comma-separated claim ids, e.g. C3,C5 (S: the symbolic checks)")
    p.add_argument("--problem", metavar="P.npz", help="check the claims on this problem (Problem.save format) instead")
    p.add_argument("--model", choices=("positive", "signed"), help="with --problem: override the stored model")
    p.add_argument("--L", type=int, default=2, help="with --problem: depth (default 2)")
    p.add_argument("--r0", type=float, default=1.0, help="with --problem: initial radius (default 1)")
    p.add_argument("--eta-r", type=float, default=0.3, help="with --problem: η_r (default 0.3)")
    p.add_argument("--eta-u", type=float, default=1.0, help="with --problem: η_u (default 1)")
    p.add_argument("--rates", choices=("constant", "r2", "plain"), default="constant", help="with --problem: rates")
    p.add_argument("--dps", type=int, help="precision in decimal digits (default: what each claim needs)")
    p.add_argument("--json", metavar="OUT", help="write every row (all numbers, settings, wall times) as JSON")
    p.add_argument("--report", metavar="DIR", help="write a markdown report with figures into DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def level_of(args) -> str:
    return "quick" if args.quick else ("full" if args.full else "default")


def plan(args):
    """The (claim, case) pairs to run."""
    from wnbias.claims.registry import Case, select

    try:
        claims = select(args.claims)
    except KeyError as exc:
        raise UsageError(f"--claims: {exc.args[0]}") from None
    if args.dps is not None and args.dps < 1:
        raise UsageError(f"--dps must be a positive integer, got {args.dps}")
    if not args.problem:
        return claims, [(c, case) for c in claims for case in c.cases(level_of(args))]
    from numerics.config import FlowConfig
    from numerics.problem import Problem

    try:
        problem = Problem.load(args.problem, model=args.model)
    except ValueError as exc:
        raise UsageError(f"--problem: {exc}") from None
    try:
        config = FlowConfig(L=args.L, r0=args.r0, eta_r=args.eta_r, eta_u=args.eta_u, rates=args.rates)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from pathlib import Path

    label = Path(args.problem).name
    pairs = []
    for c in claims:
        if c.id == "S":
            pairs.append((c, Case(f"{label} L={config.L} {problem.model}", None, None, None,
                                  {"L": config.L, "model": problem.model})))
        else:
            pairs.append((c, Case(label, problem, config, args.dps)))
    return claims, pairs


def run_plan(pairs, *, dps_override=None, progress=True, console=None):
    """Run every (claim, case); return the rows in order."""
    rows = []
    if not progress:
        for claim, case in pairs:
            rows += claim.run(case.problem, case.config, dps_override or case.dps, label=case.label, **dict(case.options))
        return rows
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console(stderr=True)
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("verify", total=len(pairs))
        for claim, case in pairs:
            bar.update(task, description=f"{claim.id} {case.label}"[:48])
            rows += claim.run(case.problem, case.config, dps_override or case.dps, label=case.label, **dict(case.options))
            bar.advance(task)
    return rows


def run(args) -> int:
    import platform

    from rich.console import Console

    from wnbias import __version__
    from wnbias import report

    t0 = time.perf_counter()
    claims, pairs = plan(args)
    err = Console(stderr=True)
    show = not args.no_progress and sys.stderr.isatty()
    rows = run_plan(pairs, dps_override=args.dps, progress=show, console=err)
    wall = time.perf_counter() - t0
    level = "problem " + args.problem if args.problem else level_of(args)
    report.print_table(rows, None, title=f"wnbias verify ({level}, {wall:.1f} s)")
    meta = {"wnbias": __version__, "level": level, "claims": ",".join(c.id for c in claims),
            "wall_time_s": round(wall, 2), "python": platform.python_version()}
    if args.json:
        report.write_json(rows, args.json, meta)
        err.print(f"wrote {args.json}")
    if args.report:
        path = report.write_report(rows, args.report, meta, claims)
        err.print(f"wrote {path}")
    return 1 if any(r.verdict == "FAIL" for r in rows) else 0
