"""Hypothesis strategies for problems and flow settings — the one place they are defined.

Used by ``wnbias falsify`` and by the property tests (``tests/strategies.py`` re-exports
them).  Problems are drawn through :func:`numerics._problem.generate` from a drawn seed, so a
shrunk counterexample is small (``N``, ``M``, seed and the floats all shrink) and is saved
as an ordinary ``.npz``.  Hypothesis is imported here, so import this module only where
hypothesis is installed (the ``test`` extra).
"""

from __future__ import annotations

import math

import numpy as np

from hypothesis import strategies as st

from numerics._config import FlowConfig
from numerics._problem import Problem, generate

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
def configs(draw, *, Ls=(2, 3, 4), r0=(0.1, 3.0), eta=(0.05, 5.0), rates=("constant",), log_r0=False):
    """A WN-GF configuration: depth, initial radius (uniform, or log-uniform with ``log_r0``),
    ``η_r = η̃`` with ``η_u = 1``."""
    L = draw(st.sampled_from(Ls), label="L")
    if log_r0:
        r = draw(eta_tildes(*r0), label="r0")
    else:
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


# -- the tight region of the §5 bound ---------------------------------------------------------

TIGHT_SCALE_EXP = ((-3, -1), (2, 8))
"""``y`` is multiplied by ``10^(−e)`` for ``e`` drawn from one of these two ranges (each with
probability ½).  The §5 bound at ``L = 2`` is
nearly attained only at small scales (gap/bound ≈ 1 − O(1/log(1/β))), the false ``L = 2`` claim
``gap ≤ η̃/(r_∞² − r₀²)`` fails at large ones (``‖z*‖₁ ≳ 10``); docs/sharpness.md."""
TIGHT_REGIMES = {
    "near-uniform": {"r0_rel": (1.5, 60.0), "m": (2e-3, 1.0)},
    "magnified": {"r0_rel": (1e-3, 1.0), "m": (0.3, 30.0)},
}
"""The two regimes of :func:`tight_configs`: ``r₀`` relative to the radius ``s = ‖x_true‖₁^{1/L}``
of the truth and the magnification exponent ``m ≈ (r_∞² − r₀²)/(2η̃)``, both log-uniform.
*magnified* (``r₀ < s``): the ``L = 2`` ratio is large at small scales and the false ``L = 2``
claim fails at large ones; *near-uniform* (``r₀ ≫ s``, large ``η̃``): ``x_∞`` stays close to the
uniform ``β`` while ``‖z*‖₁ ≪ S``, where ``L > 2`` ratios approach their ceiling ``2/L``."""


@st.composite
def tight_problems(draw, *, max_N: int = 4, models=("positive", "signed")):
    """Small problems where the adversarial search of :mod:`wnbias.sharpness` found the §5 bound
    nearly attained: ``M ∈ {1, 2}``, ``N ≤ 4``, one-sparse truths, and ``y`` rescaled over eleven
    decades, large and small scales equally often (tiny ``y`` relative to ``β``: ``x_∞`` close to uniform and ``‖z*‖₁ ≪ S``, where
    ``gap/bound`` approaches ``2/L`` for ``L > 2`` and 1 for ``L = 2``)."""
    N = draw(st.integers(2, max(2, min(max_N, 4))), label="N")
    M = draw(st.integers(1, min(2, N - 1)), label="M")
    model = draw(st.sampled_from(models), label="model")
    matrix = draw(st.sampled_from(MATRICES), label="matrix")
    kind = "sparse_signed" if model == "signed" else "sparse_positive"
    seed = draw(st.integers(0, 2 ** 16), label="seed")
    small = draw(st.booleans(), label="small scale")
    e = draw(st.integers(*TIGHT_SCALE_EXP[1 if small else 0]), label="scale exponent")
    base = generate(kind, N, M, seed, k=1, model=model, matrix=matrix)
    f = 10.0 ** (-e)
    xt = None if base.x_true is None else base.x_true * f
    return Problem(base.A, base.y * f, model, xt, base.seed, f"{base.description}, y × 1e{-e}")


def _log_uniform(lo, hi):
    return st.floats(math.log(lo), math.log(hi), allow_nan=False, allow_infinity=False).map(math.exp)


@st.composite
def tight_configs(draw, problem, *, Ls=(2, 3, 4), rates=("constant",), regimes=tuple(TIGHT_REGIMES)):
    """A configuration scaled to ``problem``: ``r₀ = s·u`` and ``η̃ = s²/(2m)`` with
    ``s = ‖x_true‖₁^{1/L}`` (the radius of the truth), ``u`` and ``m`` drawn in one of
    :data:`TIGHT_REGIMES`; both given as decimal strings of four significant digits (their exact
    values, docs/math.md §1)."""
    L = draw(st.sampled_from(Ls), label="L")
    regime = TIGHT_REGIMES[draw(st.sampled_from(tuple(regimes)), label="regime")]
    xt = problem.x_true
    size = float(np.sum(np.abs(xt))) if xt is not None and np.any(xt) else float(np.max(np.abs(problem.y)))
    s = size ** (1.0 / L)
    r0 = f"{s * draw(_log_uniform(*regime['r0_rel']), label='r0/s'):.4g}"  # exact short decimals
    m = draw(_log_uniform(*regime["m"]), label="magnification exponent")
    et = f"{s * s / (2.0 * m):.4g}"
    rt = draw(st.sampled_from(rates), label="rates")
    return FlowConfig(L=L, r0=r0, eta_r=et, eta_u=1.0, rates=rt)


def tight_pairs(*, Ls=(2, 3, 4), rates=("constant",), max_N: int = 8, generic_share: int = 6,
                regimes=tuple(TIGHT_REGIMES)):
    """``(problem, config)`` pairs biased toward the tight region of the §5 bound: a draw is from
    :func:`tight_problems` and :func:`tight_configs` (in one of ``regimes``), except one draw in
    ``generic_share`` from :func:`problems` / :func:`configs` (the ordinary ranges)."""
    for r in regimes:
        if r not in TIGHT_REGIMES:
            raise ValueError(f"no regime {r!r}; known: {', '.join(TIGHT_REGIMES)}")
    generic = st.tuples(problems(max_N=max_N), configs(Ls=Ls, rates=rates))

    @st.composite
    def pick(draw):
        which = draw(st.integers(0, generic_share - 1), label="generic draw")
        if which == generic_share - 1:
            return draw(generic)
        problem = draw(tight_problems(max_N=max_N))
        return problem, draw(tight_configs(problem, Ls=Ls, rates=rates, regimes=regimes))

    return pick()
