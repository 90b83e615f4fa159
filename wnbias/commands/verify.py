"""``wnbias verify``: check every claim of docs/math.md on built-in problems (the main job)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Optional

from wnbias.errors import CannotRun, UsageError

HELP = "check every claim (invariants, limits, ℓ1 bounds, rates) on built-in problems"
DESCRIPTION = """\
Check the claims of docs/math.md numerically (and symbolically, via theory/) and print one
table: claim, setting, measured, bound/tolerance, PASS/FAIL/SKIP, then the summary line
"P PASS, F FAIL, S SKIP".  Tolerances follow the precision of each check
(numerics.tol).  SKIP means an assumption of the claim fails on that setting (the
reason is printed); it is never a PASS.  Missing machinery is not a SKIP: verify stops with
exit status 3 and names the module.

--certify also decides every limit row of C5, C6 and C7 on rigorous enclosures (ball arithmetic,
python-flint; docs/certify.md): CERTIFIED (a success above PASS: the relation holds on the whole
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
                   help="precision in decimal digits (default: what each claim needs; at least numerics.MIN_DPS)")
    p.add_argument("--json", metavar="OUT", help="write every row (all numbers, settings, wall times) as JSON ('-': stdout)")
    p.add_argument("--report", metavar="DIR", help="write a markdown report with figures into DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def level_of(args) -> str:
    return "quick" if args.quick else ("full" if args.full else "default")


def min_dps() -> int:
    """The smallest ``--dps`` whose tolerances mean something (``numerics.MIN_DPS``)."""
    from numerics._precision import MIN_DPS

    return int(MIN_DPS)


def load_plugins(names) -> None:
    """Import each ``--plugin`` module (it registers its claims); UsageError naming it on failure."""
    if not names:
        return
    from wnbias.claims.registry import MachineryMissing, load_plugin as load

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
        except MachineryMissing:
            raise  # a module its checks need is missing: exit 3, named
        except Exception as exc:  # the user's module raised while importing
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
                         f"save one with numerics.Problem(A, y).save('P.npz') or "
                         f"wnbias solve --A A.npy --y y.npy --save-problem P.npz")


def read_problem(path, model=None, option: str = "--problem"):
    """The problem saved at ``path``: UsageError naming the option and the file when it cannot be
    read, and when its scale is beyond what the solvers handle faithfully
    (:meth:`numerics.Problem.scale_issues`: the message says what to rescale)."""
    from numerics._problem import Problem

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
    from numerics._config import FlowConfig

    problem = read_problem(args.problem, args.model)
    opts = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in DEFAULTS.items()}
    try:
        config = FlowConfig(L=opts["L"], r0=opts["r0"], eta_r=opts["eta_r"], eta_u=opts["eta_u"], rates=opts["rates"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return problem, config


def plan(args):
    """The claims and the (claim, case) pairs to run, from the parsed command line."""
    _check_claims_and_dps(args.claims, args.dps, True)
    matrix = args.model == "matrix"
    given = [k for k in PROBLEM_ONLY if getattr(args, k) is not None and not (k == "model" and matrix)]
    if given and not args.problem:
        names = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UsageError(f"{names}: used only with --problem P.npz (the built-in cases fix their own settings); "
                         f"drop {'it' if len(given) == 1 else 'them'} or give --problem")
    if matrix and args.problem:
        raise UsageError("--model matrix: the matrix claims run on their built-in cases; drop --problem")
    problem = config = label = None
    if args.problem:
        from pathlib import Path

        problem, config = load_problem_config(args)
        label = Path(args.problem).name
    return plan_cases(args.claims, level=level_of(args), problem=problem, config=config, dps=args.dps,
                      certify=bool(args.certify), plugins=args.plugin, matrix=matrix,
                      label=label, option_names=True)


def _namer(option_names: bool):
    return (lambda cli, api: cli) if option_names else (lambda cli, api: api)


def _check_claims_and_dps(claims, dps, option_names: bool):
    """``claims`` as a comma-separated string (or None); UsageError on an empty list or a ``dps``
    below the floor."""
    opt = _namer(option_names)
    if claims is not None and not isinstance(claims, str):
        claims = ",".join(str(c) for c in claims)
    if claims is not None and not any(s.strip() for s in claims.split(",")):
        raise UsageError(f"{opt('--claims', 'claims=')}: no claim id in {claims!r}; give ids such as C3,C5")
    if dps is not None and (isinstance(dps, bool) or not isinstance(dps, int) or dps < min_dps()):
        raise UsageError(f"{opt('--dps', 'dps=')} must be at least {min_dps()} (numerics.MIN_DPS: below it the "
                         f"tolerances 10^(-dps+k) mean nothing), got {dps!r}; omit it for each claim's own precision")
    return claims


def plan_cases(claims=None, *, level: str = "default", problem=None, config=None, dps=None, certify: bool = False,
               plugins=(), matrix: bool = False, label=None, option_names: bool = False):
    """``(claims, [(claim, case), ...], config)``: the claims selected by ``claims`` (``None``: every
    diagonal-model claim, or every matrix claim with ``matrix``; a comma-separated string or a sequence
    of ids) and their cases at ``level``, or the one case ``(problem, config)``.  ``UsageError`` (a
    ``ValueError``) on bad input; ``option_names``: messages name the command-line options."""
    from wnbias.claims.registry import LEVELS, MATRIX_CLAIMS_PREFIX, Case, select

    opt = _namer(option_names)
    if level not in LEVELS:
        raise UsageError(f"level= must be one of {', '.join(LEVELS)}, got {level!r}")
    claims = _check_claims_and_dps(claims, dps, option_names)
    if matrix and problem is not None:
        raise UsageError("the matrix claims run on their built-in cases; give no problem with the matrix model")
    if problem is None and config is not None:
        raise UsageError("config= is used only with problem= (the built-in cases fix their own settings)")
    load_plugins(plugins)
    try:
        selected = select(claims)
    except KeyError as exc:
        raise UsageError(f"{opt('--claims', 'claims=')}: {exc.args[0]}") from None
    if matrix:
        selected = [c for c in selected if c.id.startswith(MATRIX_CLAIMS_PREFIX)]
        if not selected:
            where = opt("--model matrix", "model='matrix'")
            raise UsageError(f"{where}: none of the selected claims is a matrix claim (M1…)")
    elif claims is None:
        selected = [c for c in selected if not c.id.startswith(MATRIX_CLAIMS_PREFIX)]
    if certify:
        certifiable = [c.id for c in selected if c.certifiable]
        if not certifiable:
            from wnbias.claims.registry import all_claims

            known = ", ".join(c.id for c in all_claims() if c.certifiable)
            raise UsageError(f"{opt('--certify', 'certify=True')}: none of the selected claims "
                             f"({', '.join(c.id for c in selected)}) can be certified; the certifiable claims are "
                             f"{known}")
        try:
            import numerics._certify  # noqa: F401  (python-flint): fail before the work, exit 3
        except ImportError as exc:
            raise CannotRun(f"certify needs numerics._certify (python-flint), which cannot be imported: {exc}") from None
    if problem is None:
        return selected, [(c, case) for c in selected for case in c.cases(level)], None
    if config is None:
        from numerics._config import FlowConfig

        config = FlowConfig(**DEFAULTS)
    label = label or (problem.meta.get("name") if isinstance(getattr(problem, "meta", None), dict) else None) \
        or "problem"
    pairs = []
    for c in selected:
        if c.id == "S":
            pairs.append((c, Case(f"{label} L={config.L} {problem.model}", None, None, None,
                                  {"L": config.L, "model": problem.model})))
        else:
            pairs.append((c, Case(label, problem, config, dps)))
    return selected, pairs, config


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: one :class:`~wnbias.claims.registry.Row` per check, in order."""

    rows: tuple
    level: str
    claims: tuple        # the claim ids run
    wall_time: float     # seconds
    certify: bool = False
    dps: Optional[int] = None

    @property
    def counts(self) -> dict:
        """``{verdict: count}`` over the rows."""
        from wnbias.claims.registry import count_verdicts

        return count_verdicts(self.rows)

    @property
    def ok(self) -> bool:
        """True when no row FAILs (SKIPs allowed; CERTIFIED is a success)."""
        return exit_status(self.rows) == 0

    def exit_status(self, strict: bool = False) -> int:
        """The command's exit status: 1 if a row FAILs (or, ``strict``, is SKIP), else 0."""
        return exit_status(self.rows, strict)

    def summary(self, strict: bool = False) -> str:
        """The summary line, e.g. ``"81 PASS, 0 FAIL, 2 SKIP"``."""
        from wnbias import report

        return report.summary_line(self.rows, strict)

    def to_dict(self) -> dict:
        """The JSON document of ``wnbias verify --json``."""
        from wnbias import report

        return report.document(self.rows, {"level": self.level, "claims": ",".join(self.claims),
                                           "certify": self.certify, "dps": self.dps,
                                           "wall_time_s": round(self.wall_time, 2)})


def verify(claims=None, *, level: str = "default", problem=None, config=None, dps: Optional[int] = None,
           certify: bool = False, plugins=(), model: Optional[str] = None, progress: bool = False) -> VerifyResult:
    """Check the claims of docs/math.md, as ``wnbias verify`` does, and return the rows.

    ``claims``: ids (``"C3,C5"`` or ``["C3", "C5"]``; ``"S"`` the symbolic checks; default every claim
    of the diagonal model).  ``level``: ``"quick"``, ``"default"`` or ``"full"``.  ``problem`` (a
    :class:`numerics.Problem`) with ``config`` (a :class:`numerics.FlowConfig`; default
    ``L=2, r0=1, eta_r=0.3, eta_u=1``): check on that problem instead of the built-in cases.
    ``dps``: force a precision (at least :data:`numerics.MIN_DPS`).  ``certify``: decide the limit rows
    of C5, C6, C7 on rigorous enclosures.  ``plugins``: modules to import that register claims.
    ``model="matrix"``: the matrix-model claims M1–M5.  ``progress``: a progress bar on stderr.

    Bad input raises ``ValueError`` (:class:`wnbias.errors.UsageError`); missing machinery raises
    :class:`wnbias.claims.registry.MachineryMissing` (never a SKIP).  A FAIL is a row, not an
    exception: see :attr:`VerifyResult.ok`."""
    if model not in (None, "matrix"):
        raise UsageError(f"model= is None (the diagonal model) or 'matrix', got {model!r}")
    t0 = time.perf_counter()
    selected, pairs, _ = plan_cases(claims, level=level, problem=problem, config=config, dps=dps, certify=certify,
                                    plugins=tuple(plugins or ()), matrix=model == "matrix")
    rows = run_plan(pairs, dps_override=dps, progress=progress, certify=certify, wrap_missing=False)
    return VerifyResult(tuple(rows), level if problem is None else "problem", tuple(c.id for c in selected),
                        time.perf_counter() - t0, bool(certify), dps)


def _run_one(claim, case, dps_override, certify=False, wrap_missing=True):
    from wnbias.claims.registry import MachineryMissing

    options = dict(case.options)
    if certify and claim.certifiable:
        options["certify"] = True
    try:
        return claim.run(case.problem, case.config, dps_override or case.dps, label=case.label, **options)
    except MachineryMissing as exc:
        if not wrap_missing:
            raise
        raise CannotRun(f"claim {claim.id} ({case.label}) needs {exc.module}, which is missing: {exc}") from None


def run_plan(pairs, *, dps_override=None, progress=True, console=None, certify=False, wrap_missing=True):
    """Run every (claim, case); return the rows in order.  ``certify``: the certifiable claims
    run with ``certify=True``.  ``wrap_missing``: missing machinery becomes :class:`CannotRun`
    (exit 3, the command line) rather than propagating as ``MachineryMissing`` (the API)."""
    rows = []
    if not progress:
        for claim, case in pairs:
            rows += _run_one(claim, case, dps_override, certify, wrap_missing)
        return rows
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console(stderr=True)
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("verify", total=len(pairs))
        for claim, case in pairs:
            bar.update(task, description=f"{claim.id} {case.label}"[:48])
            rows += _run_one(claim, case, dps_override, certify, wrap_missing)
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
    from rich.console import Console

    from wnbias import report
    from wnbias.io import check_output_dir, check_output_file, dumps, versions

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
    meta = {"level": level, "claims": ",".join(c.id for c in claims),
            "plugins": list(args.plugin), "strict": bool(args.strict), "certify": bool(args.certify), "dps": args.dps,
            "wall_time_s": round(wall, 2), "versions": versions()}
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
