"""``wnbias verify``: check every claim of docs/math.md on built-in problems (the main job)."""

from __future__ import annotations

import os
import sys
import time

from wnbias.errors import CannotRun, UsageError

HELP = "check every claim (invariants, limits, ℓ1 bounds, rates) on built-in problems"
DESCRIPTION = """\
Check the claims of docs/math.md numerically (and symbolically, via theory/) and print one
table: claim, setting, measured, bound/tolerance, PASS/FAIL/SKIP, then the summary line
"P PASS, F FAIL, S SKIP".  Tolerances follow the precision of each check
(numerics.precision.tol).  SKIP means an assumption of the claim fails on that setting (the
reason is printed); it is never a PASS.  Missing machinery is not a SKIP: verify stops with
exit status 3 and names the module.

--certify also decides every limit row of C5, C6 and C7 on rigorous enclosures (ball arithmetic,
numerics.certify; docs/certify.md): CERTIFIED (a success above PASS: the relation holds on the whole
enclosure) or a certified FAIL (verdict FAIL: it fails on the whole enclosure); a row that cannot
be decided keeps its numeric verdict and says "not certified: <why>".  The table then has a
certificate column (width in digits, what was proven) and --json carries the balls as mid/rad
strings.

--plugin MODULE imports a module of your own that registers claims (docs/extending.md);
--problem P.npz checks the claims on your problem with the flow options --L, --r0, --eta-r,
--eta-u, --rates, --model (used only with --problem; the parameters are kept exactly as typed).

Exit status: 0 no FAIL (SKIPs allowed; CERTIFIED is a success), 1 a FAIL (certified or not) (or, with --strict, a SKIP), 2 bad input,
3 could not run (missing machinery; an output that could not be written: the results then go
to stdout)."""

PROBLEM_ONLY = ("model", "L", "r0", "eta_r", "eta_u", "rates")
DEFAULTS = {"L": 2, "r0": "1", "eta_r": "0.3", "eta_u": "1", "rates": "constant"}


def add_arguments(p):
    from wnbias.cli import exact_number, int_at_least

    lvl = p.add_mutually_exclusive_group()
    lvl.add_argument("--quick", action="store_true", help="a subset that runs in under a minute")
    lvl.add_argument("--full", action="store_true", help="more problems, depths and precisions")
    p.add_argument("--claims", metavar="IDS", help="comma-separated claim ids, e.g. C3,C5 (S: the symbolic checks)")
    p.add_argument("--plugin", metavar="MODULE", action="append", default=[],
                   help="import MODULE, which registers claims of its own (repeatable; docs/extending.md)")
    p.add_argument("--strict", action="store_true", help="exit 1 if any row is SKIP (default: only FAIL)")
    p.add_argument("--certify", action="store_true",
                   help="decide the limit rows of C5, C6, C7 on rigorous enclosures: CERTIFIED or a certified "
                        "FAIL (docs/certify.md)")
    p.add_argument("--problem", metavar="P.npz", help="check the claims on this problem (Problem.save format) instead")
    p.add_argument("--model", choices=("positive", "signed", "matrix"),
                   help="with --problem: override the stored model; 'matrix' (without --problem): run the "
                        "matrix-model claims M1–M5 of docs/math.md §9 instead of the diagonal ones")
    p.add_argument("--L", type=int_at_least(2, "an integer (the depth)"), help="with --problem: depth (default 2)")
    p.add_argument("--r0", type=exact_number(), help="with --problem: initial radius (default 1)")
    p.add_argument("--eta-r", type=exact_number(), help="with --problem: η_r (default 0.3)")
    p.add_argument("--eta-u", type=exact_number(), help="with --problem: η_u (default 1)")
    p.add_argument("--rates", choices=("constant", "r2", "plain"), help="with --problem: rates (default constant)")
    p.add_argument("--dps", type=int_at_least(1, "a positive integer"),
                   help="precision in decimal digits (default: what each claim needs; at least numerics.taylor.MIN_DPS)")
    p.add_argument("--json", metavar="OUT", help="write every row (all numbers, settings, wall times) as JSON ('-': stdout)")
    p.add_argument("--report", metavar="DIR", help="write a markdown report with figures into DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def level_of(args) -> str:
    return "quick" if args.quick else ("full" if args.full else "default")


def min_dps() -> int:
    """The smallest ``--dps`` whose tolerances mean something (``numerics.taylor.MIN_DPS``)."""
    try:
        from numerics.taylor import MIN_DPS
    except ImportError:  # the integrator's constant is not there: the floor of the contract
        return 16
    return int(MIN_DPS)


def load_plugins(names) -> None:
    """Import each ``--plugin`` module (it registers its claims); UsageError naming it on failure."""
    if not names:
        return
    from wnbias.claims import registry

    load = getattr(registry, "load_plugin", None)
    if load is None:
        raise CannotRun("wnbias.claims.registry.load_plugin is missing: plugins cannot be loaded")
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:  # a module in the current folder is found
        sys.path.append(here)
    for name in names:
        if not name.strip():
            raise UsageError("--plugin: an empty module name")
        try:
            load(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                raise UsageError(f"--plugin {name}: no module named {exc.name!r} (is its folder the current "
                                 f"directory or on PYTHONPATH?)") from None
            raise UsageError(f"--plugin {name}: importing it failed: {exc}") from None
        except ValueError as exc:  # registry.PluginError (not found), a clashing or bad claim
            raise UsageError(f"--plugin {name}: {exc}") from None
        except Exception as exc:  # the user's module raised while importing
            if type(exc).__name__ == "MachineryMissing":
                raise  # a module its checks need is missing: exit 3, named
            raise UsageError(f"--plugin {name}: importing it failed: {type(exc).__name__}: {exc}") from None


def _check_problem_file(path: str) -> None:
    """A clear message for a ``.npy`` (or anything that is not a ``.npz``) given to --problem."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError:
        return  # Problem.load names the file and the reason
    if head == b"\x93NUMPY":
        raise UsageError(f"--problem: {path} is a single .npy array, not a problem (.npz with A and y); "
                         f"save one with numerics.problem.Problem(A, y).save('P.npz') or "
                         f"wnbias solve --A A.npy --y y.npy --save-problem P.npz")


def read_problem(path, model=None, option: str = "--problem"):
    """The problem saved at ``path``: UsageError naming the option and the file when it cannot be
    read, and when its scale is beyond what the solvers handle faithfully
    (:meth:`numerics.problem.Problem.scale_issues`: the message says what to rescale)."""
    from numerics.problem import Problem

    _check_problem_file(path)
    try:
        problem = Problem.load(path, model=model)
    except (ValueError, OSError) as exc:
        msg = str(exc)
        raise UsageError(f"{option}: {msg}" if str(path) in msg else f"{option} {path}: {msg}") from None
    refuse_bad_scale(problem, option)
    return problem


def refuse_bad_scale(problem, option: str) -> None:
    """UsageError listing the problem's scale issues, if any (float64 under- or overflow in the
    loss, solutions beyond float64's faithful range, rows or columns 1e100 apart)."""
    issues = problem.scale_issues()
    if issues:
        raise UsageError(f"{option}: the problem is badly scaled for float64 work: "
                         + "; ".join(i.message for i in issues))


def load_problem_config(args):
    """The ``(problem, config)`` of ``--problem`` and the flow options (UsageError on bad input)."""
    from numerics.config import FlowConfig

    problem = read_problem(args.problem, args.model)
    opts = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in DEFAULTS.items()}
    try:
        config = FlowConfig(L=opts["L"], r0=opts["r0"], eta_r=opts["eta_r"], eta_u=opts["eta_u"], rates=opts["rates"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return problem, config


def plan(args):
    """The claims and the (claim, case) pairs to run."""
    from wnbias.claims.registry import Case, select

    if args.claims is not None and not any(s.strip() for s in args.claims.split(",")):
        raise UsageError(f"--claims: no claim id in {args.claims!r}; give ids such as C3,C5")
    if args.dps is not None and args.dps < min_dps():
        raise UsageError(f"--dps must be at least {min_dps()} (numerics.taylor.MIN_DPS: below it the tolerances "
                         f"10^(-dps+k) mean nothing), got {args.dps}; omit --dps for each claim's own precision")
    matrix = args.model == "matrix"
    if matrix and args.problem:
        raise UsageError("--model matrix: the matrix claims run on their built-in cases; drop --problem")
    given = [k for k in PROBLEM_ONLY if getattr(args, k) is not None and not (k == "model" and matrix)]
    if given and not args.problem:
        names = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UsageError(f"{names}: used only with --problem P.npz (the built-in cases fix their own settings); "
                         f"drop {'it' if len(given) == 1 else 'them'} or give --problem")
    load_plugins(args.plugin)
    try:
        claims = select(args.claims)
    except KeyError as exc:
        raise UsageError(f"--claims: {exc.args[0]}") from None
    from wnbias.claims.registry import MATRIX_CLAIMS_PREFIX

    if matrix:
        claims = [c for c in claims if c.id.startswith(MATRIX_CLAIMS_PREFIX)]
        if not claims:
            raise UsageError("--model matrix: none of the selected --claims is a matrix claim (M1…)")
    elif args.claims is None:
        claims = [c for c in claims if not c.id.startswith(MATRIX_CLAIMS_PREFIX)]
    if getattr(args, "certify", False):
        certifiable = [c.id for c in claims if getattr(c, "certifiable", False)]
        if not certifiable:
            from wnbias.claims.registry import all_claims

            known = ", ".join(c.id for c in all_claims() if getattr(c, "certifiable", False))
            raise UsageError(f"--certify: none of the selected claims ({', '.join(c.id for c in claims)}) can be "
                             f"certified; the certifiable claims are {known}")
        try:
            import numerics.certify  # noqa: F401  (python-flint): fail before the work, exit 3
        except ImportError as exc:
            raise CannotRun(f"--certify needs numerics.certify (python-flint), which cannot be imported: {exc}") from None
    if not args.problem:
        return claims, [(c, case) for c in claims for case in c.cases(level_of(args))], None
    problem, config = load_problem_config(args)
    from pathlib import Path

    label = Path(args.problem).name
    pairs = []
    for c in claims:
        if c.id == "S":
            pairs.append((c, Case(f"{label} L={config.L} {problem.model}", None, None, None,
                                  {"L": config.L, "model": problem.model})))
        else:
            pairs.append((c, Case(label, problem, config, args.dps)))
    return claims, pairs, config


def _run_one(claim, case, dps_override, certify=False):
    from wnbias.claims import registry

    missing = getattr(registry, "MachineryMissing", None)
    options = dict(case.options)
    if certify and getattr(claim, "certifiable", False):
        options["certify"] = True
    try:
        return claim.run(case.problem, case.config, dps_override or case.dps, label=case.label, **options)
    except Exception as exc:
        if missing is not None and isinstance(exc, missing):
            module = getattr(exc, "module", "?")
            raise CannotRun(f"claim {claim.id} ({case.label}) needs {module}, which is missing: {exc}") from None
        raise


def run_plan(pairs, *, dps_override=None, progress=True, console=None, certify=False):
    """Run every (claim, case); return the rows in order.  ``certify``: the certifiable claims
    run with ``certify=True``."""
    rows = []
    if not progress:
        for claim, case in pairs:
            rows += _run_one(claim, case, dps_override, certify)
        return rows
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console(stderr=True)
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("verify", total=len(pairs))
        for claim, case in pairs:
            bar.update(task, description=f"{claim.id} {case.label}"[:48])
            rows += _run_one(claim, case, dps_override, certify)
            bar.advance(task)
    return rows


def exit_status(rows, strict: bool = False) -> int:
    """1 if a row FAILs (a certified FAIL is a FAIL; or, ``strict``, is SKIP), else 0 (CERTIFIED is a success)."""
    if any(r.verdict == "FAIL" for r in rows):
        return 1
    if strict and any(r.verdict == "SKIP" for r in rows):
        return 1
    return 0


def run(args) -> int:
    import platform

    from rich.console import Console

    from wnbias import __version__
    from wnbias import report
    from wnbias.jsonio import check_output_dir, check_output_file, dumps

    t0 = time.perf_counter()
    claims, pairs, config = plan(args)
    # every output is checked before the work starts
    if args.json:
        check_output_file(args.json, "--json")
    if args.report:
        check_output_dir(args.report, "--report")
    err = Console(stderr=True)
    show = not args.no_progress and sys.stderr.isatty()
    rows = run_plan(pairs, dps_override=args.dps, progress=show, console=err, certify=args.certify)
    wall = time.perf_counter() - t0
    level = "problem " + args.problem if args.problem else level_of(args)
    to_stdout = args.json == "-"
    report.print_table(rows, err if to_stdout else None, title=f"wnbias verify ({level}, {wall:.1f} s)",
                       strict=args.strict)
    meta = {"wnbias": __version__, "level": level, "claims": ",".join(c.id for c in claims),
            "plugins": list(args.plugin), "strict": bool(args.strict), "certify": bool(args.certify), "dps": args.dps,
            "wall_time_s": round(wall, 2), "python": platform.python_version()}
    if config is not None:
        meta["parameters_exact"] = config.exact_strings()
        (err if to_stdout else Console()).print(
            "parameters (exact): " + ", ".join(f"{k}={v}" for k, v in config.exact_strings().items() if v is not None),
            markup=False, highlight=False)
    status = exit_status(rows, args.strict)
    written = []
    try:
        if args.json:
            report.write_json(rows, args.json, meta)
            if not to_stdout:
                written.append(args.json)
        if args.report:
            written.append(str(report.write_report(rows, args.report, meta, claims)))
    except OSError as exc:
        if not to_stdout:
            sys.stdout.write(dumps(report.document(rows, meta)) + "\n")
        raise CannotRun(f"could not write the results ({exc}); they were printed to stdout instead") from None
    for path in written:
        err.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    return status
