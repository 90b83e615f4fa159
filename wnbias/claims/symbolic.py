"""Symbolic claims (docs/math.md §2–§5): each derivation of :mod:`theory` checks itself (sympy), one row each.

One row per ``(L, model)``: ``measured`` is the number of derivations verified, ``bound`` the
number checked (a symbolic check is exact: ``simplify(lhs − rhs) == 0``, a limit, or a
sum-of-squares form); each derivation's method and detail are in ``details["derivations"]``.  The numeric claims list the derivations they rest on (``Claim.symbolic``).
"""

from __future__ import annotations

from wnbias.claims.registry import FAIL, PASS, AssumptionFailed, Case, Claim, Row, need, register

MODELS = ("positive", "signed")


def check_symbolic(problem, config, dps, *, L="symbolic", model="positive", **options):
    """One row per derivation set: how many of ``theory.derivations(L, model)`` verify."""
    derivations = need("theory", "derivations")
    results, failed = [], []
    for d in derivations(L=L, model=model):
        res = d.check()  # a derivation that raises is a programming error: it propagates
        ok, method, detail = bool(res.verified), res.method, res.detail
        results.append({"name": d.name, "section": getattr(d, "section", ""), "verified": ok,
                        "method": method, "detail": detail})
        if not ok:
            failed.append(d.name)
    if not results:
        raise AssumptionFailed(f"theory.derivations(L={L!r}, model={model!r}) returned nothing")
    n_ok = len(results) - len(failed)
    note = (f"all verified: {', '.join(r['name'] for r in results)}" if not failed
            else f"NOT verified: {', '.join(failed)}")
    return Row("S", "", n_ok, len(results), PASS if not failed else FAIL, note, relation="of",
               details={"derivations": results})


def cases_symbolic(level):
    if level == "quick":
        pairs = [("symbolic", "positive")]
    elif level == "default":
        pairs = [("symbolic", "positive"), ("symbolic", "signed"), (2, "positive")]
    else:
        pairs = [(L, m) for L in ("symbolic", 2, 3, 4) for m in MODELS]
    return [Case(f"L={L} {m}", None, None, None, {"L": L, "model": m}) for L, m in pairs]


register(Claim(
    "S", "symbolic derivations check themselves", r"\text{each derivation of theory/: } \mathrm{simplify}(\mathrm{lhs}-\mathrm{rhs}) = 0",
    "§2–§5", check_symbolic, cases_symbolic, "exact (sympy); no tolerance", requires=("theory",)))
