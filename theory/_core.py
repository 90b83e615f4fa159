"""The shared vocabulary of the derivations: symbols, the ``Derivation`` value, its checks.

A derivation is data: a name, the section of docs/math.md it corresponds to, its statement in
LaTeX, the sympy expressions it produced, the assumptions it used, and a ``check`` that
re-establishes the claim with sympy (simplify a difference to zero, take a limit, exhibit a
sum of squares, or walk an inequality chain step by step).  Checks are cached, so asking
twice costs nothing.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field
from typing import Callable, Union

import sympy as sp

# ----------------------------------------------------------------------------- symbols
# Positive by declaration (docs/math.md §8): the depth, the rates, the initial radius.
L = sp.Symbol("L", positive=True)
eta_r = sp.Symbol("eta_r", positive=True)
eta_u = sp.Symbol("eta_u", positive=True)
eta_tilde = sp.Symbol("eta_tilde", positive=True)
r0 = sp.Symbol("r0", positive=True)
t = sp.Symbol("t", real=True)

Depth = Union[sp.Symbol, sp.Integer]

LATEX_NAMES: dict = {}
"""Symbol → LaTeX name, for symbols whose plain name prints badly (modules register theirs)."""

METHODS = ("simplify to zero", "limit", "sum of squares", "inequality chain")


def depth(L_value) -> Depth:
    """``'symbolic'`` → the symbol ``L``; an integer ≥ 2 → that integer."""
    if isinstance(L_value, str):
        if L_value == "symbolic":
            return L
        try:
            L_value = int(L_value)
        except ValueError:
            raise ValueError(f"L must be 'symbolic' or an integer >= 2, got {L_value!r}") from None
    if isinstance(L_value, bool):
        raise ValueError(f"L must be 'symbolic' or an integer >= 2, got {L_value!r}")
    try:
        value = operator.index(L_value)
    except TypeError:
        raise ValueError(f"L must be 'symbolic' or an integer >= 2, got {L_value!r}") from None
    if value < 2:
        raise ValueError(f"L must be 'symbolic' or an integer >= 2 (the depth), got {value}")
    return sp.Integer(value)


def log_L(v, Lv):
    """The L-logarithm of docs/math.md §3.3: ``(v^{2-L} - 1)/(2 - L)``, and ``log v`` when L is 2."""
    if Lv == 2:
        return sp.log(v)
    return (v ** (2 - Lv) - 1) / (2 - Lv)


def psimp(expr):
    """Simplify with the power and log rules valid for positive bases (docs/math.md §8)."""
    e = sp.sympify(expr)
    e = sp.expand_power_base(e, force=True)
    e = sp.powsimp(e, force=True)
    e = sp.expand_log(e, force=True)
    e = sp.powsimp(sp.expand(e), force=True)
    if e == 0:
        return e
    e = sp.simplify(e)
    if e == 0:
        return e
    return sp.powsimp(sp.powdenest(e, force=True), force=True)


def is_zero(expr) -> bool:
    """Does ``expr`` simplify to zero (power rules for positive bases allowed)?"""
    return psimp(expr) == 0


# ----------------------------------------------------------------------------- values
@dataclass(frozen=True)
class CheckResult:
    """The outcome of one derivation's check."""

    verified: bool
    method: str
    detail: str

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")


@dataclass(frozen=True)
class Step:
    """One step of an inequality chain: ``lhs  relation  rhs`` because of ``reason``.

    ``relation`` is ``'='`` or ``'<='``.  ``verify()`` re-establishes the step with sympy: the
    algebra by simplifying a difference to zero, and the named inequality (Jensen, Hölder, …)
    by the one-variable fact behind it (the sign of a derivative under the stated assumptions).
    """

    lhs: sp.Expr
    relation: str
    rhs: sp.Expr
    reason: str
    verify: Callable[[], bool] = field(compare=False, repr=False)

    def latex(self) -> str:
        rel = "=" if self.relation == "=" else r"\le"
        lhs = sp.latex(self.lhs, symbol_names=LATEX_NAMES)
        rhs = sp.latex(self.rhs, symbol_names=LATEX_NAMES)
        return rf"{lhs} {rel} {rhs} \quad\text{{({_tex_text(self.reason)})}}"


@dataclass(frozen=True)
class Derivation:
    """One derived statement of docs/math.md §2–§5, able to check and print itself."""

    name: str
    section: str
    statement: str
    expressions: tuple  # ((label, sympy expression), ...)
    assumptions: tuple  # (str, ...)
    depth: str  # 'symbolic' or the integer as text
    model: str
    method: str
    _check: Callable[[], CheckResult] = field(compare=False, repr=False)
    steps: tuple = ()

    def check(self) -> CheckResult:
        return _cached_check(self)

    def expr(self, label: str):
        for k, v in self.expressions:
            if k == label:
                return v
        raise KeyError(f"{self.name} has no expression {label!r}; it has {[k for k, _ in self.expressions]}")

    def latex(self) -> str:
        t = _tex_text

        def tex(e):
            return sp.latex(e, symbol_names=LATEX_NAMES)
        lines = [rf"\paragraph{{{t(self.name)}}} (docs/math.md {self.section}; $L = {self.depth}$, {self.model} model)",
                 rf"\[ {self.statement} \]"]
        for label, e in self.expressions:
            lines.append(rf"\[ \text{{{t(label)}}}:\quad {tex(e)} \]")
        for s in self.steps:
            lines.append(rf"\[ {s.latex()} \]")
        if self.assumptions:
            lines.append(r"Assumptions: " + "; ".join(t(a) for a in self.assumptions) + ".")
        return "\n".join(lines)


def _tex_text(text: str) -> str:
    """Escape LaTeX's special characters in running text."""
    out = []
    for ch in text:
        if ch in "_{}&%$#":
            out.append("\\" + ch)
        elif ch == "^":
            out.append(r"\^{}")
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        else:
            out.append(ch)
    return "".join(out)


_CHECK_CACHE: dict = {}


def _cached_check(d: Derivation) -> CheckResult:
    key = (d.name, d.depth, d.model, d.statement)
    if key not in _CHECK_CACHE:
        try:
            res = d._check()
        except Exception as exc:  # a check that crashes has not verified anything
            res = CheckResult(False, d.method, f"check raised {type(exc).__name__}: {exc}")
        _CHECK_CACHE[key] = res
    return _CHECK_CACHE[key]


def zero_check(pairs, what: str = "") -> CheckResult:
    """``simplify to zero`` on each ``(label, lhs - rhs)``; all must vanish."""
    failed = []
    for label, diff in pairs:
        r = psimp(diff)
        if r != 0:
            failed.append(f"{label}: residual {sp.sstr(r)}")
    if failed:
        return CheckResult(False, "simplify to zero", "; ".join(failed))
    labels = ", ".join(lbl for lbl, _ in pairs)
    return CheckResult(True, "simplify to zero", f"{what}{': ' if what else ''}{labels} simplify to 0")


cached = functools.lru_cache(maxsize=None)
