"""The built-in problem set of ``wnbias verify``: small, fixed, reproducible.

Each problem is drawn by :func:`numerics._problem.generate` with a fixed seed, so the set is
the same on every machine.  ``tiny*`` problems are for high-precision integration
(dps 30–50), ``small*`` for float64 flows and limit solves, ``interior`` for a high-precision flow
that converges.
"""

from __future__ import annotations

import math
from functools import lru_cache

from numerics._problem import Problem, generate

# name -> (kind, N, M, seed, k, model, matrix)
SPECS = {
    "tiny": ("sparse_positive", 6, 3, 1, 1, "positive", "gaussian"),
    "tiny-signed": ("sparse_signed", 5, 2, 2, 1, "signed", "gaussian"),
    "small": ("sparse_positive", 20, 8, 0, 2, "positive", "gaussian"),
    "small-signed": ("sparse_signed", 12, 5, 3, 2, "signed", "gaussian"),
    "cs30": ("sparse_positive", 30, 10, 4, 3, "positive", "gaussian"),
    "rademacher": ("sparse_positive", 16, 6, 5, 2, "positive", "rademacher"),
    "correlated": ("sparse_signed", 16, 6, 6, 2, "signed", "correlated"),
    "dense": ("gaussian", 14, 6, 7, None, "positive", "gaussian"),
    "interior": ("gaussian", 4, 2, 9, None, "positive", "gaussian"),
}
"""``interior``: a dense positive truth with ``M = 2``, ``N = 4`` whose limit lies inside the orthant
(every ``x_i`` of order 1), so the flow converges exponentially and a Taylor run at dps 30 reaches
its tolerance in ``t < 100`` (C5 compares that *flow* with the limit solver at dps)."""


@lru_cache(maxsize=None)
def get(name: str) -> Problem:
    """The built-in problem ``name`` (see :data:`SPECS`)."""
    if name not in SPECS:
        raise KeyError(f"unknown built-in problem {name!r}; known: {', '.join(SPECS)}")
    kind, N, M, seed, k, model, matrix = SPECS[name]
    p = generate(kind, N, M, seed, k=k, model=model, matrix=matrix)
    return Problem(p.A, p.y, p.model, p.x_true, p.seed, f"{name}: {p.description}", dict(p.meta, name=name))


def name_of(problem: Problem) -> str:
    return problem.meta.get("name", "") if isinstance(problem.meta, dict) else ""


def r_true(problem: Problem, L: int) -> float:
    """``(Σ|x_true|^{2/L})^{1/2}``: the radius of the planted solution, a proxy for ``r_∞``."""
    if problem.x_true is None:
        return float("nan")
    return math.sqrt(sum(abs(v) ** (2.0 / L) for v in problem.x_true))
