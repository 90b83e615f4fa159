"""``wnbias derive``: re-derive docs/math.md §1–§5 symbolically and check every step."""

from __future__ import annotations

import argparse

from wnbias.errors import UsageError

HELP = "re-derive the theory (docs/math.md §1–§5) with sympy and check each derivation"
DESCRIPTION = (HELP + ". Prints each derivation with its check result; exit status 1 if any "
               "check fails. --L symbolic treats the depth as a positive symbol (L = 2 as a limit "
               "and by substitution); an integer L >= 2 derives at that depth.")


def _depth_arg(text: str):
    if text == "symbolic":
        return text
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"--L must be 'symbolic' or an integer >= 2, got {text!r}") from None
    if v < 2:
        raise UsageError(f"--L must be 'symbolic' or an integer >= 2 (the depth), got {v}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--L", default="symbolic", metavar="L",
                        help="depth: 'symbolic' (default) or an integer >= 2")
    parser.add_argument("--model", default="positive", choices=("positive", "signed", "matrix"),
                        help="positive (x = w^L), signed (x = w+^L − w-^L), or matrix (X = UUᵀ and UWᵀ, "
                             "docs/math.md §9; --L does not apply)")
    parser.add_argument("--format", default="text", choices=("text", "latex", "json"),
                        help="output format (text shows progress on stderr)")


def _as_dict(d, res, seconds):
    return {"name": d.name, "section": d.section, "statement": d.statement, "depth": d.depth,
            "model": d.model, "verified": bool(res.verified), "method": res.method,
            "detail": res.detail, "assumptions": list(d.assumptions), "seconds": round(seconds, 3),
            "steps": [{"latex": s.latex(), "relation": s.relation, "reason": s.reason} for s in d.steps]}


def run(args) -> int:
    import sys
    import time

    from wnbias.io import dumps

    L = _depth_arg(str(args.L))
    if args.model == "matrix" and L != "symbolic":
        raise UsageError("--L does not apply to --model matrix (the matrix model has no depth); drop --L")
    import theory

    t_start = time.perf_counter()
    if args.model == "matrix":
        import theory.matrix

        ds = theory.matrix.derivations()
    else:
        ds = theory.derivations(L=L, model=args.model)
    results = []
    if args.format == "text":
        from rich.console import Console
        from rich.progress import Progress

        err = Console(stderr=True)
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("deriving", total=len(ds))
            for d in ds:
                progress.update(task, description=f"checking {d.name}")
                t0 = time.perf_counter()
                res = d.check()
                results.append((d, res, time.perf_counter() - t0))
                progress.advance(task)
    else:
        for d in ds:
            t0 = time.perf_counter()
            res = d.check()
            results.append((d, res, time.perf_counter() - t0))
    total = time.perf_counter() - t_start
    n_ok = sum(1 for _, r, _ in results if r.verified)

    if args.format == "json":
        print(dumps([_as_dict(d, r, s) for d, r, s in results], indent=2))
    elif args.format == "latex":
        for d, r, _ in results:
            print(d.latex())
            print(rf"\textbf{{Check}} ({r.method}): {'verified' if r.verified else 'FAILED'}.")
            print()
    else:
        for d, r, s in results:
            mark = "ok  " if r.verified else "FAIL"
            print(f"[{mark}] {d.section:5} {d.name:24} ({r.method}, {s:.2f} s)")
            print(f"       {d.statement}")
            print(f"       {r.detail}")
        where = "matrix model" if args.model == "matrix" else f"L = {L}, {args.model} model"
        print(f"{n_ok}/{len(results)} derivations verified ({where}) in {total:.1f} s")
    if args.format != "text":
        print(f"{n_ok}/{len(results)} derivations verified in {total:.1f} s", file=sys.stderr)
    return 0 if n_ok == len(results) else 1
