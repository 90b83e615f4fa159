"""``wnbias falsify CLAIM``: hunt for a counterexample to a claim with hypothesis."""

from __future__ import annotations

import sys
import time

from wnbias.errors import UsageError
from wnbias.io import dumps, write_json

HELP = "search for a counterexample to a claim (hypothesis); shrink and save it"
DESCRIPTION = """\
Run the claim's property (a cheap float64 form: short flows, float64 limit solves) on
problems drawn by hypothesis.  A counterexample is shrunk to a minimal one, printed, and
saved as a .npz (numerics._problem.Problem.save) with its flow settings in a .json beside it.
Planted wrong variants (e.g. C6:half-L2, C6:false-L2, C3:wrong-sign-s, C5:no-rho; see --list)
show that the search works.  --plugin MODULE imports a module that registers its own
properties (wnbias.claims.properties.register_property).
Exit status: 0 no counterexample in K examples, 1 a counterexample was found, 2 bad input,
3 could not run (missing machinery, or the counterexample could not be written: it is then
printed in full on stdout)."""

SHRINK_TIME = 30.0
"""Default wall-clock seconds spent shrinking a counterexample (the smallest found so far is kept)."""


def add_arguments(p):
    p.add_argument("claim", nargs="?", help="claim id (C1…C10) or a planted variant such as C6:no-n-factor")
    p.add_argument("--max-examples", type=int, default=50, metavar="K", help="examples to try (default 50)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the search (default 0)")
    p.add_argument("--out", metavar="DIR", default=".", help="where a counterexample is saved (default .)")
    p.add_argument("--max-N", type=int, default=8, help="largest N drawn (default 8)")
    p.add_argument("--shrink-time", type=float, default=SHRINK_TIME, metavar="SECONDS",
                   help=f"time spent shrinking a counterexample (default {SHRINK_TIME:g}; 0: no shrinking)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it may register properties and claims); repeatable")
    p.add_argument("--list", action="store_true", help="list the properties and planted variants")


def _strategy(prop, max_N):
    from hypothesis import strategies as st

    from wnbias.claims import strategies as S

    cfg_kw = {k: prop.config_kw[k] for k in ("Ls", "rates") if k in prop.config_kw}
    pkw = {k: v for k, v in prop.problem_kw.items() if k not in ("tight", "regimes")}
    if prop.problem_kw.get("tight"):
        if "regimes" in prop.problem_kw:
            cfg_kw["regimes"] = tuple(prop.problem_kw["regimes"])
        return S.tight_pairs(max_N=max_N, **cfg_kw)
    return st.tuples(S.problems(max_N=max_N, **pkw), S.configs(**cfg_kw))


def search(prop, *, max_examples: int, seed: int, max_N: int = 8, shrink_time=SHRINK_TIME):
    """Return ``(example or None, outcome or None, stats)``.

    ``stats``: ``tried`` (evaluations), ``not_applicable``, ``found_at`` (the evaluation that
    first found a counterexample, None if none), ``time_to_find`` (s), ``shrink_evaluations``.
    Shrinking stops after ``shrink_time`` seconds (the smallest counterexample so far is kept).
    Raises :class:`wnbias.claims.registry.MachineryMissing` if machinery is missing."""
    import random

    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from wnbias.claims.properties import evaluate

    stats = {"tried": 0, "not_applicable": 0, "found_at": None, "time_to_find": None, "shrink_evaluations": 0}
    t0 = time.perf_counter()

    seen = {}

    def key(ex):
        problem, config = ex
        return (problem.A.tobytes(), problem.A.shape, problem.y.tobytes(), problem.model, repr(config))

    def is_counterexample(ex):
        k = key(ex)
        if k in seen:  # hypothesis replays examples: answer as before (and do not re-evaluate)
            return seen[k]
        if stats["found_at"] is not None:
            if shrink_time is not None and time.perf_counter() - stats["_t_found"] > shrink_time:
                return False  # shrink budget spent: keep the smallest counterexample found so far
            stats["shrink_evaluations"] += 1
        problem, config = ex
        stats["tried"] += 1
        out = evaluate(prop, problem, config)
        if out.ok is None:
            stats["not_applicable"] += 1
        if out.ok is False and stats["found_at"] is None:
            stats["found_at"] = stats["tried"]
            stats["_t_found"] = time.perf_counter()
            stats["time_to_find"] = stats["_t_found"] - t0
        seen[k] = out.ok is False
        return seen[k]

    phases = [Phase.generate] + ([Phase.shrink] if shrink_time is None or shrink_time > 0 else [])
    cfg = settings(max_examples=max_examples, database=None, deadline=None, derandomize=False,
                   suppress_health_check=list(HealthCheck), phases=phases)
    try:
        ex = find(_strategy(prop, max_N), is_counterexample, settings=cfg, random=random.Random(seed))
    except NoSuchExample:
        ex = None
    stats.pop("_t_found", None)
    if ex is None:
        return None, None, stats
    return ex, evaluate(prop, *ex), stats


def _writable(outdir):
    """Raise UsageError unless ``outdir`` exists (or can be made) and a file can be written in it."""
    import os
    import tempfile
    from pathlib import Path

    d = Path(outdir)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".wnbias-write-test-", dir=d)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise UsageError(f"--out {outdir}: not a writable directory ({exc.strerror or exc})") from None
    return d


def _load_plugins(names):
    """Import each plugin module as ``verify --plugin`` does (the current folder on the path, a
    UsageError naming the module on failure); returns the property ids they added."""
    from wnbias.claims.properties import PROPERTIES
    from wnbias.commands.verify import load_plugins

    before = set(PROPERTIES)
    load_plugins(names)
    return sorted(set(PROPERTIES) - before)


def _describe(problem, config, out, prop):
    lines = [f"  problem: {problem.description} (model {problem.model}, M={problem.M}, N={problem.N})",
             f"  A = {problem.A.tolist()}", f"  y = {problem.y.tolist()}"]
    ex = config.exact_strings() if hasattr(config, "exact_strings") else {}
    lines.append(f"  config: L={config.L} r0={ex.get('r0', repr(config.r0))} eta_r={ex.get('eta_r', repr(config.eta_r))} "
                 f"eta_u={ex.get('eta_u', repr(config.eta_u))} rates={config.rates}")
    lines.append(f"  {out.note}: measured {out.measured:.6g} > bound {out.bound:.6g}")
    return lines


def run(args) -> int:
    from wnbias.claims.properties import PROPERTIES, get_property
    from wnbias.claims.registry import MachineryMissing

    try:
        added = _load_plugins(args.plugin)
    except MachineryMissing as exc:
        print(f"wnbias falsify: cannot run: {exc}", file=sys.stderr)
        return 3
    if args.list:
        for pid, p in PROPERTIES.items():
            print(f"{pid:18} {'planted' if p.planted else 'claim  '}  {p.description}")
        return 0
    if not args.claim:
        raise UsageError("a claim id is required, e.g. 'wnbias falsify C6' (see 'wnbias falsify --list')")
    if args.max_examples < 1:
        raise UsageError(f"--max-examples must be a positive integer, got {args.max_examples}")
    if args.max_N < 2:
        raise UsageError(f"--max-N must be at least 2, got {args.max_N}")
    if not args.shrink_time >= 0:
        raise UsageError(f"--shrink-time must be a number of seconds ≥ 0, got {args.shrink_time}")
    try:
        prop = get_property(args.claim)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        print("wnbias falsify: cannot run: missing machinery: hypothesis (pip install 'wnbias[test]')",
              file=sys.stderr)
        return 3
    outdir = _writable(args.out)
    t0 = time.perf_counter()
    extra = f"; plugins added {', '.join(added)}" if added else ""
    print(f"falsify {prop.id}: {prop.description}; up to {args.max_examples} examples, seed {args.seed}{extra}",
          file=sys.stderr)
    try:
        ex, out, stats = search(prop, max_examples=args.max_examples, seed=args.seed, max_N=args.max_N,
                                shrink_time=args.shrink_time)
    except MachineryMissing as exc:
        print(f"wnbias falsify {prop.id}: cannot run: {exc}", file=sys.stderr)
        return 3
    wall = time.perf_counter() - t0
    if ex is None:
        print(f"no counterexample in {args.max_examples} examples ({stats['tried']} evaluated, "
              f"{stats['not_applicable']} where an assumption failed; {wall:.1f} s)")
        return 0
    problem, config = ex
    print(f"counterexample to {prop.id} (found at evaluation {stats['found_at']} after {stats['time_to_find']:.1f} s; "
          f"shrunk in {stats['shrink_evaluations']} more; {wall:.1f} s in all):")
    for line in _describe(problem, config, out, prop):
        print(line)
    stem = prop.id.replace(":", "_") + "-counterexample"
    side = {"property": prop.id, "claim": prop.claim, "description": prop.description, "config": config.as_dict(),
            "problem": {**problem.as_dict(), "A": problem.A.tolist(), "y": problem.y.tolist()},
            "measured": out.measured, "bound": out.bound, "what": out.note, "details": out.details,
            "seed": args.seed, "max_examples": args.max_examples, "found_at": stats["found_at"],
            "evaluations": stats["tried"]}
    try:
        npz = problem.save(outdir / f"{stem}.npz")
        write_json(outdir / f"{stem}.json", side, indent=1)
    except OSError as exc:
        print(f"wnbias falsify: could not write the counterexample to {outdir} ({exc}); it is printed above "
              "and here in full:", file=sys.stderr)
        print(dumps(side, indent=1))
        return 3
    print(f"  saved {npz} and {outdir / (stem + '.json')}")
    return 1
