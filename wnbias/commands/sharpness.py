"""``wnbias sharpness C6``: how tight is the §5 bound?  An adversarial search for the largest gap/bound."""

from __future__ import annotations

import sys

from wnbias.errors import MachineryMissing, UsageError
from wnbias.io import dumps, write_json

HELP = "adversarial search for the largest gap/bound of a bound claim (C6); saves the problem found"
DESCRIPTION = """\
Maximise gap/bound of the §5 bound (claim C6, docs/math.md §5) over small problems
(M = 1, 2; N = 2..4; positive and signed models), r0 and eta_tilde at a fixed depth L:
seeded random starts, then bounded Nelder-Mead, in float64; the best point is rounded to
short decimal parameters and re-checked at dps 30.  Prints the largest ratio found and saves
the problem (.npz, numerics._problem.Problem.save) with a .json of its exact parameters,
ratios and versions.  Deterministic for a seed: the time budget stops a fixed sequence of
evaluations early (--max-evals N reproduces a run of N evaluations anywhere).
For L > 2 the ratio cannot exceed 2/L (docs/sharpness.md).
Exit status: 0 the bound held at the best point, 1 gap > bound (a counterexample to C6),
2 bad input, 3 could not run (missing machinery, no point where the bound applies, or
the results could not be written: they are then printed in full on stdout)."""


def add_arguments(p):
    p.add_argument("claim", nargs="?", help="the bound claim: C6")
    p.add_argument("--L", type=int, default=2, choices=(2, 3, 4), help="depth (default 2)")
    p.add_argument("--budget", type=float, default=60.0, metavar="SECONDS", help="search time (default 60)")
    p.add_argument("--max-evals", type=int, default=None, metavar="N",
                   help="stop after N evaluations (reproducible on any machine)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", metavar="DIR", default=".", help="where the problem found is saved (default .)")
    p.add_argument("--variant", default="", metavar="NAME",
                   help="maximise gap over a planted wrong bound instead (see wnbias.sharpness.VARIANTS)")
    p.add_argument("--magnified", action="store_true", help="count only points with r_inf ≥ 1.1 r0")
    p.add_argument("--no-recheck", action="store_true", help="skip the dps-30 re-check of the best point")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _progress(enabled, budget, max_evals):
    """A (callback, context manager) pair: a rich progress bar on stderr, or nothing."""
    import contextlib

    if not enabled:
        return None, contextlib.nullcontext()
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("sharpness"), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)
    total = float(budget) if budget is not None else float(max_evals or 1)
    task = prog.add_task("search", total=total, info="")

    def cb(evals, best, elapsed):
        done = elapsed if budget is not None else evals
        prog.update(task, completed=min(done, total), info=f"{evals} evaluations, best gap/bound {best:.4g}")

    return cb, prog


def run(args) -> int:
    from wnbias.commands.falsify import _writable

    if not args.claim:
        raise UsageError("a claim id is required: 'wnbias sharpness C6' (C6 is the bound claim)")
    if args.claim.strip().upper() != "C6":
        raise UsageError(f"sharpness is implemented for the bound claim C6 only, got {args.claim!r}")
    if not args.budget > 0:
        raise UsageError(f"--budget must be a positive number of seconds, got {args.budget}")
    if args.max_evals is not None and args.max_evals < 1:
        raise UsageError(f"--max-evals must be a positive integer, got {args.max_evals}")
    try:
        from wnbias import sharpness as S
    except ImportError as exc:  # exit 3, naming the module (the CLI prints it)
        raise MachineryMissing(exc.name or "wnbias.sharpness", str(exc)) from exc
    if args.variant not in S.VARIANTS:
        raise UsageError(f"--variant: no bound variant {args.variant!r}; known: "
                         f"{', '.join(repr(k) for k in S.VARIANTS)}")
    if args.L not in S.VARIANTS[args.variant].Ls:
        raise UsageError(f"--variant {args.variant} is stated for L in {S.VARIANTS[args.variant].Ls}, not --L {args.L}")
    outdir = _writable(args.out)
    show = not args.no_progress and sys.stderr.isatty()
    cb, ctx = _progress(show, args.budget, args.max_evals)
    print(f"sharpness C6 at L = {args.L}{' (' + args.variant + ')' if args.variant else ''}: budget {args.budget:g} s, "
          f"seed {args.seed}", file=sys.stderr)
    try:
        with ctx:
            res = S.search("C6", args.L, budget=args.budget, seed=args.seed, max_evals=args.max_evals,
                           variant=args.variant, magnified=args.magnified, recheck=not args.no_recheck, progress=cb)
    except ImportError as exc:  # a lazy import inside the search (scipy.optimize, …)
        raise MachineryMissing(exc.name or "an imported module", str(exc)) from exc
    except S.SharpnessError as exc:
        raise UsageError(str(exc)) from None
    print(f"{res.evaluations} evaluations ({res.applicable} where the bound applies) in {res.wall:.1f} s, "
          f"stopped: {res.stopped}")
    if res.problem is None:
        print("wnbias sharpness: no point where the bound applies was found (a larger --budget or "
              "--max-evals may help); nothing saved", file=sys.stderr)
        return 3
    rec = S.result_record(res)
    p64, pr = res.point64, res.recheck
    print(f"largest gap/bound found: {res.ratio:.10g}"
          + (f" (re-checked at dps {pr.dps}; float64 {p64.ratio:.10g})" if pr is not None and pr.ok else " (float64)"))
    if pr is not None and not pr.ok:
        print(f"  the dps re-check did not complete: {pr.reason}")
    if args.L > 2:
        print(f"  (for L = {args.L} no problem can exceed 2/L = {2 / args.L:.6g}: docs/sharpness.md)")
    q = pr if pr is not None and pr.ok else p64
    print(f"  problem: {res.problem.description}, A = {res.exact['A']}, y = {res.exact['y']}")
    print(f"  r0 = {res.exact['r0']}, eta_tilde = {res.exact['eta_tilde']}, L = {args.L}; "
          f"gap {q.gap:.6g}, bound {q.bound:.6g}, r_inf {q.r_inf:.6g}, alpha_eff {q.alpha_eff:.4g}")
    stem = f"sharpness-C6-L{args.L}" + (f"-{args.variant}" if args.variant else "") + f"-seed{args.seed}"
    try:
        npz = res.problem.save(outdir / f"{stem}.npz")
        write_json(outdir / f"{stem}.json", rec, indent=1)
    except OSError as exc:
        print(f"wnbias sharpness: could not write the results to {outdir} ({exc}); here they are in full:",
              file=sys.stderr)
        print(dumps(rec, indent=1))
        return 3
    print(f"  saved {npz} and {outdir / (stem + '.json')}")
    violated = q.ok and q.gap > S.variant_bound(q, args.variant) + q.lp_accuracy
    if violated:
        print(f"  gap > bound: a counterexample to {'C6' if not args.variant else S.VARIANTS[args.variant].description}")
        return 1
    return 0
