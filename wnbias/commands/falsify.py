"""``wnbias falsify CLAIM``: hunt for a counterexample to a claim with hypothesis."""

from __future__ import annotations

import json
import sys
import time

from wnbias.errors import UsageError

HELP = "search for a counterexample to a claim (hypothesis); shrink and save it"
DESCRIPTION = """\
Run the claim's property (a cheap float64 form: short flows, float64 limit solves) on
problems drawn by hypothesis.  A counterexample is shrunk to a minimal one, printed, and
saved as a .npz (numerics.problem.Problem.save) with its flow settings in a .json beside it.
Planted wrong variants (e.g. C6:no-n-factor, C3:wrong-sign-s, C5:no-rho) show that the
search works.  Exit status 1 when a counterexample is found, 0 when none is found in K
examples, 2 on bad input."""


def add_arguments(p):
    p.add_argument("claim", nargs="?", help="claim id (C1…C10) or a planted variant such as C6:no-n-factor")
    p.add_argument("--max-examples", type=int, default=50, metavar="K", help="examples to try (default 50)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the search (default 0)")
    p.add_argument("--out", metavar="DIR", default=".", help="where a counterexample is saved (default .)")
    p.add_argument("--max-N", type=int, default=8, help="largest N drawn (default 8)")
    p.add_argument("--list", action="store_true", help="list the properties and planted variants")


def _strategy(prop, max_N):
    from hypothesis import strategies as st

    from wnbias.claims import strategies as S

    cfg_kw = {}
    if "Ls" in prop.config_kw:
        cfg_kw["Ls"] = prop.config_kw["Ls"]
    if "rates" in prop.config_kw:
        cfg_kw["rates"] = prop.config_kw["rates"]
    return st.tuples(S.problems(max_N=max_N, **prop.problem_kw), S.configs(**cfg_kw))


def search(prop, *, max_examples: int, seed: int, max_N: int = 8):
    """Return ``(example or None, outcome or None, stats)``; raises Unavailable if machinery is missing."""
    import random

    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from wnbias.claims.properties import evaluate

    stats = {"tried": 0, "not_applicable": 0}

    def is_counterexample(ex):
        problem, config = ex
        stats["tried"] += 1
        out = evaluate(prop, problem, config)
        if out.ok is None:
            stats["not_applicable"] += 1
        return out.ok is False

    cfg = settings(max_examples=max_examples, database=None, deadline=None, derandomize=False,
                   suppress_health_check=list(HealthCheck),
                   phases=[Phase.generate, Phase.shrink])
    try:
        ex = find(_strategy(prop, max_N), is_counterexample, settings=cfg, random=random.Random(seed))
    except NoSuchExample:
        return None, None, stats
    return ex, evaluate(prop, *ex), stats


def run(args) -> int:
    from pathlib import Path

    from wnbias.claims.properties import PROPERTIES, get_property
    from wnbias.claims.registry import Unavailable

    if args.list or not args.claim:
        for pid, p in PROPERTIES.items():
            print(f"{pid:18} {'planted' if p.planted else 'claim  '}  {p.description}")
        return 0 if args.list else 2
    if args.max_examples < 1:
        raise UsageError(f"--max-examples must be a positive integer, got {args.max_examples}")
    if args.max_N < 2:
        raise UsageError(f"--max-N must be at least 2, got {args.max_N}")
    try:
        prop = get_property(args.claim)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise UsageError("falsify needs hypothesis: pip install 'wnbias[test]'") from None
    t0 = time.perf_counter()
    print(f"falsify {prop.id}: {prop.description}; up to {args.max_examples} examples, seed {args.seed}",
          file=sys.stderr)
    try:
        ex, out, stats = search(prop, max_examples=args.max_examples, seed=args.seed, max_N=args.max_N)
    except Unavailable as exc:
        print(f"falsify {prop.id}: cannot run: {exc}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - t0
    if ex is None:
        print(f"no counterexample in {args.max_examples} examples ({stats['tried']} evaluated, "
              f"{stats['not_applicable']} where an assumption failed; {wall:.1f} s)")
        return 0
    problem, config = ex
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    stem = prop.id.replace(":", "_") + "-counterexample"
    npz = problem.save(outdir / f"{stem}.npz")
    side = {"property": prop.id, "description": prop.description, "config": config.as_dict(),
            "problem": problem.as_dict(), "measured": out.measured, "bound": out.bound, "what": out.note,
            "details": out.details, "seed": args.seed, "max_examples": args.max_examples}
    (outdir / f"{stem}.json").write_text(json.dumps(side, indent=1, default=str))
    print(f"counterexample to {prop.id} (shrunk; {stats['tried']} evaluations, {wall:.1f} s):")
    print(f"  problem: {problem.description} (model {problem.model}, M={problem.M}, N={problem.N})")
    print(f"  A = {problem.A.tolist()}")
    print(f"  y = {problem.y.tolist()}")
    print(f"  config: L={config.L} r0={config.r0:g} eta_r={config.eta_r:g} eta_u={config.eta_u:g} rates={config.rates}")
    print(f"  {out.note}: measured {out.measured:.6g} > bound {out.bound:.6g}")
    print(f"  saved {npz} and {outdir / (stem + '.json')}")
    return 1
