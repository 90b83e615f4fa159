"""Hypothesis strategies for problems and flow settings — the one place they are defined.

Used by ``wnbias falsify`` and by the property tests (``tests/strategies.py`` re-exports
them).  Problems are drawn through :func:`numerics.problem.generate` from a drawn seed, so a
shrunk counterexample is small (``N``, ``M``, seed and the floats all shrink) and is saved
as an ordinary ``.npz``.  Hypothesis is imported here, so import this module only where
hypothesis is installed (the ``test`` extra).
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from numerics.config import FlowConfig
from numerics.problem import generate

MATRICES = ("gaussian", "rademacher", "correlated")
"""Full-row-rank matrix kinds (``equal_columns`` is pinned as an edge case with ``M = 1``)."""
TRUTHS = ("sparse_positive", "sparse_signed", "gaussian")


@st.composite
def problems(draw, *, max_N: int = 8, min_N: int = 2, models=("positive", "signed"), matrices=MATRICES,
             truths=TRUTHS, max_M=None):
    """A consistent underdetermined problem: ``2 ≤ N ≤ max_N``, ``1 ≤ M < N``; sparse or dense truth."""
    N = draw(st.integers(min_N, max_N), label="N")
    M = draw(st.integers(1, min(N - 1, max_M or N - 1)), label="M")
    model = draw(st.sampled_from(models), label="model")
    matrix = draw(st.sampled_from(matrices), label="matrix")
    kind = draw(st.sampled_from(truths), label="truth")
    k = draw(st.integers(1, max(1, M // 2)), label="k") if kind != "gaussian" else None
    seed = draw(st.integers(0, 2 ** 16), label="seed")
    return generate(kind, N, M, seed, k=k, model=model, matrix=matrix)


def eta_tildes(lo: float = 0.05, hi: float = 5.0):
    """``η̃`` log-uniform in ``[lo, hi]``."""
    return st.floats(math.log(lo), math.log(hi)).map(lambda v: float(f"{math.exp(v):.4g}"))


@st.composite
def configs(draw, *, Ls=(2, 3, 4), r0=(0.1, 3.0), eta=(0.05, 5.0), rates=("constant",)):
    """A WN-GF configuration: depth, initial radius, ``η_r = η̃`` with ``η_u = 1``."""
    L = draw(st.sampled_from(Ls), label="L")
    r = draw(st.floats(*r0, allow_nan=False, allow_infinity=False), label="r0")
    et = draw(eta_tildes(*eta), label="eta_tilde")
    rt = draw(st.sampled_from(rates), label="rates")
    return FlowConfig(L=L, r0=r, eta_r=et, eta_u=1.0, rates=rt)


def settings_pairs(**problem_kw):
    """``(problem, config)`` pairs."""
    cfg_kw = problem_kw.pop("config", {})
    return st.tuples(problems(**problem_kw), configs(**cfg_kw))


# -- edge cases, pinned with @example in the tests -------------------------------------------


def edge_cases():
    """``{name: (problem, config)}``: a single measurement, all-equal columns, a truth on the
    boundary (one nonzero entry), and ``r0`` near ``r_∞``."""
    single = generate("sparse_positive", 4, 1, 0, k=1, model="positive")
    equal = generate("sparse_positive", 4, 1, 1, k=1, model="positive", matrix="equal_columns")
    boundary = generate("sparse_signed", 6, 3, 2, k=1, model="signed")
    near = generate("sparse_positive", 5, 2, 3, k=1, model="positive")
    # for L = 2 the limit has r_∞² = ‖x_∞‖₁ ≈ ‖x_true‖₁ when the truth is the sparse minimiser
    r_near = math.sqrt(float(abs(near.x_true).sum()))
    return {
        "single-measurement": (single, FlowConfig(L=2, r0=1.0, eta_r=0.3)),
        "equal-columns": (equal, FlowConfig(L=3, r0=1.0, eta_r=1.0)),
        "boundary-truth": (boundary, FlowConfig(L=2, r0=0.5, eta_r=0.2)),
        "r0-near-r_inf": (near, FlowConfig(L=2, r0=r_near, eta_r=0.5)),
    }
