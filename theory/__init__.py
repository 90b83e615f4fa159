"""Symbolic derivations (sympy) of docs/math.md §2–§5, each a value that checks itself.

    >>> import theory
    >>> ds = theory.derivations(L="symbolic", model="positive")
    >>> all(d.check().verified for d in ds)          # doctest: +SKIP
    True

``theory.export`` prints the derived expressions into ``numerics/_derived.py``.
"""

from __future__ import annotations

from theory._core import CheckResult, Derivation, Step, depth

MODELS = ("positive", "signed")

__all__ = ["CheckResult", "Derivation", "Step", "derivations", "check_all", "MODELS"]


def derivations(L="symbolic", model: str = "positive") -> list:
    """The derivations of docs/math.md §1–§5 for depth ``L`` (``'symbolic'`` or an int ≥ 2).

    Order: §1 loss/gradient, §2 flow and scaling, §3 identities and the invariant, §4 ρ/β, F,
    the limit equation and the radius–dual identity, §5 the ℓ1-gap bounds.
    """
    from theory import bounds, flows, invariant, limit, model as model_mod

    Lv = depth(L)
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    dstr = "symbolic" if not Lv.is_Integer else str(int(Lv))
    out = []
    for mod in (model_mod, flows, invariant, limit, bounds):
        out.extend(mod.derivations(Lv, model, dstr))
    return out


def check_all(L="symbolic", model: str = "positive") -> list:
    """``[(derivation, CheckResult), ...]`` for every derivation of :func:`derivations`."""
    return [(d, d.check()) for d in derivations(L, model)]
