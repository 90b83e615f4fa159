"""How tight is the §5 bound?  An adversarial search for small problems where ``gap/bound`` is large.

The §5 bound (claim C6, docs/math.md §5) says ``S − ‖z*‖₁ ≤ bound`` with ``S = ‖x_∞‖₁`` and
``z*`` the ℓ1 minimiser.  :func:`search` maximises ``gap/bound`` over small problems
(``M = 1, 2``; ``N = 2 … 4``; positive and signed models), ``r₀`` and ``η̃`` at a fixed depth ``L``:
seeded random starts over each problem shape, then bounded Nelder–Mead from the best starts,
all in float64 (``numerics._limit.limit_solve`` for ``x_∞``, ``numerics._lp.l1_min`` for ``z*``,
``numerics._quantities.l1_bound_from_log_alpha`` for the bound, with ``α_eff`` entering through
its logarithm so that no magnification overflows).  The best point is rounded to short decimal
parameters (so that its exact values are the strings kept) and re-checked at ``dps = 30``
(:func:`c6_point` with ``dps=30``: the limit solved at 30 digits, the LP solution polished at 30
digits by ``numerics._lp_polish.l1_polish_mp``).

The search is deterministic for a seed: it runs one fixed sequence of evaluations, and a time
budget stops it after a prefix of that sequence (the number of evaluations is reported, and
``max_evals`` equal to it reproduces the run on any machine).

What the search found is recorded in ``docs/sharpness.md``; for ``L > 2`` it is also a theorem
(docs/math.md §5, and :func:`lgt2_ceiling`): ``gap/bound ≤ 2/L`` on every problem.

This module imports scipy only inside :func:`search`; :func:`c6_point` needs the numerics stack.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from numerics._status import NumericalError, Status
from numerics._config import FlowConfig
from numerics._problem import Problem

RECHECK_DPS = 30
"""Precision of the re-check of the best point (docs/math.md §5)."""

SIG_DIGITS = 6
"""Significant digits the best point is rounded to before its re-check (exact decimal strings)."""

SHAPES = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4))
"""The ``(M, N)`` searched (``M < N``: underdetermined)."""
MODELS = ("positive", "signed")

LOG10_R0 = (-6.0, 1.0)
"""Search range of ``log10 r₀``."""
LOG10_ETA = (-3.0, 3.0)
"""Search range of ``log10 η̃``."""
LOG10_SCALE = (-10.0, 1.0)
"""Search range of ``log10`` of the size of the generating solution (``y = A x``)."""


class SharpnessError(ValueError):
    """A bad argument to :func:`search` (the message names it)."""


# -- one point: gap, bound, ratio -----------------------------------------------------------


@dataclass(frozen=True)
class C6Point:
    """The §5 quantities of one ``(problem, config)``.

    ``ok`` is False where the bound does not apply or a solve failed (``reason`` says which);
    then the numbers are nan.  ``log_alpha`` is ``log α_eff`` (docs/math.md §4), ``bound`` the
    §5 bound, ``ratio = gap/bound``.  ``dps`` is None for float64."""

    ok: bool
    reason: str
    L: int
    n: int
    gap: float = float("nan")
    bound: float = float("nan")
    ratio: float = float("nan")
    S: float = float("nan")
    l1_opt: float = float("nan")
    r_inf: float = float("nan")
    r0: float = float("nan")
    eta_tilde: float = float("nan")
    log_alpha: float = float("nan")
    dps: Optional[int] = None
    lp_accuracy: float = float("nan")

    @property
    def alpha_eff(self) -> float:
        try:
            return math.exp(self.log_alpha)
        except OverflowError:
            return math.inf

    def as_dict(self) -> dict:
        d = asdict(self)
        d["alpha_eff"] = self.alpha_eff
        return d


def _not_ok(reason, L, n, dps=None) -> C6Point:
    return C6Point(False, reason, L, n, dps=dps)


def _limit_kwargs(limit_solve, time_limit):
    import inspect

    if time_limit is not None and "time_limit" in inspect.signature(limit_solve).parameters:
        return {"time_limit": float(time_limit)}
    return {}


def c6_point(problem: Problem, config: FlowConfig, *, dps: Optional[int] = None,
             time_limit: Optional[float] = None, require_bound: bool = True) -> C6Point:
    """Gap, bound and ratio of the §5 bound (docs/math.md §5) at float64 (``dps=None``) or ``dps``.

    At ``dps``: ``x_∞`` and ``r_∞`` from ``limit_solve(dps=dps)``, ``‖z*‖₁`` from the LP solution
    polished at ``dps`` and ``log α_eff = log(r₀/√n) − log ρ`` with
    ``log ρ = log(r₀/r_∞) + (r_∞² − r₀²)/(2η̃)`` from the exact parameters at ``dps``; the gap
    is a difference taken at ``dps``.  A failed solve is a point with ``ok=False`` (never a number).
    Where the bound is not defined (``L = 2`` with ``α_eff ≥ 1``) the point is ``ok=False``, unless
    ``require_bound=False``: then it is ``ok`` with ``bound`` and ``ratio`` nan (the gap alone, for a
    variant such as ``false-L2`` that does not use the bound)."""
    from numerics import _formulas as F
    from numerics._limit import limit_solve
    from numerics._precision import DPS_FLOAT64, workdps
    from numerics._quantities import l1_bound_from_log_alpha

    L, n = config.L, problem.n
    if config.rates != "constant":
        return _not_ok("the §5 bound is stated for WN-GF (rates='constant')", L, n, dps)
    if config.u0 is not None and len(set(config.u0)) > 1:
        return _not_ok("the §5 bound needs a uniform β (default u0)", L, n, dps)
    if bool(np.all(problem.y == 0)):
        return _not_ok("y = 0: the limit is trivial", L, n, dps)
    try:
        lim = limit_solve(problem, config, dps=dps, **_limit_kwargs(limit_solve, time_limit))
    except NumericalError as exc:
        return _not_ok(f"the limit solver raised: {exc}", L, n, dps)
    if lim.status is not Status.CONVERGED:
        return _not_ok(f"the limit solver: {lim.status}: {lim.message}", L, n, dps)
    from wnbias.claims.limits import l1_gap_at_limit
    from wnbias.claims.registry import EmptyCheck

    try:  # S, ‖z*‖₁ and the gap at the limit's precision: the claims' own computation (C6)
        g = l1_gap_at_limit(problem, lim)
    except (EmptyCheck, NumericalError) as exc:
        return _not_ok(f"the ℓ1 reference: {exc}", L, n, dps)
    lp_acc = g["lp_accuracy"]
    if dps is None:
        S, Z, gap = g["S"], g["l1_opt"], g["gap"]
        r = float(lim.r_inf)
        r0, et = config.r0, config.eta_tilde
        log_rho = float(F.log_rho(r, float(r0), float(et)))
        log_alpha = float(F.log_alpha_eff(float(r0), n, log_rho))
        bound = l1_bound_from_log_alpha(L, Z, S, n, log_alpha, dps=2 * DPS_FLOAT64)
        r_f, S_f, Z_f, la_f = r, S, Z, log_alpha
    else:
        import mpmath

        with workdps(dps):  # log ρ and the bound from the exact parameters at dps
            S, Z = g["S_mp"], g["l1_opt_mp"]
            r = mpmath.mpf(lim.r_inf)
            r0, et = _mp(config, "r0"), _mp(config, "eta_tilde")
            log_rho = F.log_rho(r, r0, et)
            log_alpha = F.log_alpha_eff(r0, mpmath.mpf(n), log_rho)
            bound = l1_bound_from_log_alpha(L, Z, S, n, log_alpha, dps=dps)
            r_f, S_f, Z_f, la_f, gap = float(r), float(S), float(Z), float(log_alpha), float(g["gap_mp"])
    if bound is None:
        if require_bound:
            return _not_ok(f"the L = 2 bound needs α_eff < 1 (log α_eff = {la_f:.3g})", L, n, dps)
        return C6Point(True, "the L = 2 bound needs α_eff < 1", L, n, gap, float("nan"), float("nan"), S_f, Z_f, r_f,
                       config.r0, config.eta_tilde, la_f, dps, lp_acc)
    bound = float(bound)
    if not (math.isfinite(gap) and bound > 0):
        return _not_ok(f"gap {gap!r} or bound {bound!r} not a finite positive pair", L, n, dps)
    return C6Point(True, "", L, n, gap, bound, gap / bound, S_f, Z_f, r_f, config.r0, config.eta_tilde, la_f,
                   dps, lp_acc)


def _mp(config, name):
    """``config.mp(name)`` (exact parameter at the current precision; docs/math.md §1)."""
    import mpmath

    if hasattr(config, "mp"):
        return config.mp(name)
    return mpmath.mpf(getattr(config, name))


# -- the bound and its planted wrong variants -----------------------------------------------


@dataclass(frozen=True)
class BoundVariant:
    """A form of the §5 bound evaluated on a :class:`C6Point`; ``wrong`` marks a planted error."""

    name: str
    description: str
    Ls: tuple
    value: Callable
    wrong: bool = True
    needs_bound: bool = True
    """False for a variant computed without the §5 bound (it then applies where ``α_eff ≥ 1`` too)."""


def _from_common(name):
    """The planted form ``name`` of the bound, evaluated by the claims' own
    :func:`wnbias.claims._common.l1_bound_log` (one definition of every wrong bound)."""
    from wnbias.claims._common import l1_bound_log

    def value(p):
        return l1_bound_log(p.l1_opt, p.S, p.n, p.log_alpha, p.L, variant=name, eta_tilde=p.eta_tilde,
                            r_inf=p.r_inf, r0=p.r0)
    return value


VARIANTS = {v.name: v for v in (
    BoundVariant("", "the §5 bound (docs/math.md §5)", (2, 3, 4), lambda p: p.bound, wrong=False),
    BoundVariant("half-L2", "the L = 2 bound multiplied by 1/2", (2,), _from_common("half-L2")),
    # at L = 4 the ratio's ceiling is exactly 2/L = 1/2, so "× 1/2" cannot fail there: drawn at L = 3
    BoundVariant("half-Lgt2", "the L > 2 bound multiplied by 1/2", (3,), _from_common("half-Lgt2")),
    BoundVariant("alpha-L-1", "the L > 2 bound with α_eff^{L−1} in place of α_eff^{L−2}", (3, 4),
                 _from_common("alpha-L-1")),
    BoundVariant("false-L2", "the L = 2 'bound' η̃/(r_∞² − r₀²) (false)", (2,), _from_common("false-L2"),
                 needs_bound=False),
    BoundVariant("no-n-factor", "the L > 2 bound without its n^{(L−2)/L} factor", (3, 4), _from_common("no-n-factor")),
)}
"""Named forms of the bound: ``""`` the true one, the rest planted wrong bounds for ``falsify``."""


def variant_bound(point: C6Point, variant: str = "", factor: float = 1.0) -> float:
    """The bound ``variant`` (see :data:`VARIANTS`) on ``point``, times ``factor``; nan where it
    does not apply."""
    if not point.ok:
        return float("nan")
    try:
        v = VARIANTS[variant]
    except KeyError:
        raise SharpnessError(f"no bound variant {variant!r}; known: {', '.join(repr(k) for k in VARIANTS)}") from None
    return factor * float(v.value(point))


def lgt2_ceiling(L: int) -> float:
    """The largest ``gap/bound`` any problem can reach for ``L > 2``: ``2/L`` (docs/math.md §5).

    From the projection's optimality, ``x_i^{(2−L)/L} = α_eff^{2−L} − (L−2)(Aᵀν)_i``, and
    ``A(x_∞ − z*) = 0``, so ``α_eff^{2−L}(S − ‖z*‖₁) = Σ x_i^{2/L} − Σ x_i^{(2−L)/L} z*_i
    ≤ Σ x_i^{2/L} ≤ n^{(L−2)/L} S^{2/L}`` (Hölder): the gap is at most ``2/L`` times the bound.
    The ratio approaches ``2/L`` when ``x_∞`` is close to uniform and ``‖z*‖₁ ≪ S``."""
    if L <= 2:
        raise SharpnessError("the 2/L ceiling is for L > 2 (at L = 2 the ratio approaches 1)")
    return 2.0 / L


# -- the search --------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One evaluated point of the search: the shape, the parameter vector and what it gave."""

    M: int
    N: int
    model: str
    theta: tuple
    ratio: float
    point: Optional[C6Point] = None


@dataclass
class SearchResult:
    """What :func:`search` found.  ``best`` is the float64 maximiser; ``problem``/``config`` its
    rounded form (exact short decimal parameters) and ``recheck`` that form at ``RECHECK_DPS``
    (None when ``recheck=False`` or nothing applicable was found)."""

    claim: str
    L: int
    variant: str
    magnified: bool
    seed: int
    budget: Optional[float]
    max_evals: Optional[int]
    evaluations: int
    applicable: int
    wall: float
    stopped: str
    best: Optional[Candidate]
    problem: Optional[Problem] = None
    config: Optional[FlowConfig] = None
    point64: Optional[C6Point] = None
    recheck: Optional[C6Point] = None
    exact: dict = field(default_factory=dict)
    top: list = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """``gap/bound`` (``bound`` the searched ``variant``) of the kept point: the dps re-check
        when there is one, else float64."""
        for p in (self.recheck, self.point64):
            if p is not None and p.ok:
                return p.ratio if self.variant == "" else p.gap / variant_bound(p, self.variant)
        return float("nan")


class _Stop(Exception):
    pass


def _box(M, N, model):
    """Box of the parameter vector ``θ = (A entries, x directions, log10 scale, log10 r₀, log10 η̃)``.

    ``y = A x·10^scale`` with ``x`` a direction (``≥ 0`` for the positive model), so every problem is
    consistent; positive-model entries of ``A`` are ``10^θ``.  ``θ`` has ``M·N + N + 3`` entries."""
    a = (-1.0, 1.0) if model == "signed" else (-3.0, 0.0)
    x = (-1.0, 1.0) if model == "signed" else (0.0, 1.0)
    return [a] * (M * N) + [x] * N + [LOG10_SCALE, LOG10_R0, LOG10_ETA]


def _round_sig(v: float, digits: int = SIG_DIGITS) -> str:
    """A short decimal string for ``v`` (``digits`` significant digits)."""
    if v == 0:
        return "0"
    s = f"{v:.{digits}g}"
    return s


def decode(theta, M: int, N: int, model: str, L: int, *, digits: Optional[int] = None):
    """``(problem, config, exact)`` for a parameter vector; ``digits`` rounds every parameter to that
    many significant digits (the exact decimal strings are in ``exact``)."""
    th = np.asarray(theta, dtype=float)
    k = M * N
    a = th[:k].reshape(M, N)
    A = a if model == "signed" else 10.0 ** a
    xdir = th[k:k + N]
    scale, lr0, leta = th[k + N:k + N + 3]
    x = xdir * 10.0 ** scale
    r0 = 10.0 ** lr0
    et = 10.0 ** leta
    if digits is not None:
        A_s = [[_round_sig(float(v), digits) for v in row] for row in A]
        y_raw = A @ x
        y_s = [_round_sig(float(v), digits) for v in y_raw]
        r0_s, et_s = _round_sig(r0, digits), _round_sig(et, digits)
        A = np.array([[float(v) for v in row] for row in A_s])
        y = np.array([float(v) for v in y_s])
        cfg = FlowConfig(L=L, r0=r0_s, eta_r=et_s, eta_u=1)
        exact = {"A": A_s, "y": y_s, "r0": r0_s, "eta_tilde": et_s}
    else:
        y = A @ x
        cfg = FlowConfig(L=L, r0=float(r0), eta_r=float(et), eta_u=1.0)
        exact = {}
    prob = Problem(A, y, model, description=f"sharpness search, M={M}, N={N}, {model}")
    return prob, cfg, exact


MAGNIFIED_MARGIN = 0.1
"""``magnified=True`` in :func:`search` keeps points with ``r_∞ ≥ (1 + MAGNIFIED_MARGIN) r₀``."""


def _score(point: C6Point, variant: str, magnified: bool = False) -> float:
    if not point.ok or (magnified and not point.r_inf >= (1.0 + MAGNIFIED_MARGIN) * point.r0):
        return 0.0
    if variant == "":
        return point.ratio
    b = variant_bound(point, variant)
    return point.gap / b if b > 0 and math.isfinite(b) else 0.0


def search(claim: str = "C6", L: int = 2, *, budget: Optional[float] = 60.0, seed: int = 0,
           max_evals: Optional[int] = None, shapes=SHAPES, models=MODELS, variant: str = "",
           starts: int = 24, local_starts: int = 4, local_maxfev: int = 150, recheck: bool = True,
           recheck_dps: int = RECHECK_DPS, eval_time_limit: float = 10.0, magnified: bool = False,
           progress: Optional[Callable[[int, float, float], None]] = None) -> SearchResult:
    """Maximise ``gap/bound`` of the §5 bound (claim ``C6``, docs/math.md §5) at depth ``L``.

    Phase 1 evaluates ``starts`` seeded random points per ``(M, N, model)``; phase 2 runs bounded
    Nelder–Mead (``local_maxfev`` evaluations each) from the ``local_starts`` best of them, and
    then from further random restarts around the incumbent until the budget is spent.  ``budget``
    (seconds, or None) and ``max_evals`` stop the search after a prefix of its fixed sequence.
    ``variant`` maximises ``gap/variant_bound`` instead (a planted wrong bound, see
    :data:`VARIANTS`); ``magnified=True`` counts only points with ``r_∞ ≥ (1 + MAGNIFIED_MARGIN) r₀`` (docs/math.md §4).
    ``progress(evaluations, best_ratio, elapsed)`` is called after each
    evaluation.  The best point is rounded to ``SIG_DIGITS`` digits and re-checked at
    ``recheck_dps`` (``recheck=True``)."""
    from scipy.optimize import minimize

    if claim.strip().upper() != "C6":
        raise SharpnessError(f"sharpness is implemented for the bound claim C6 only, got {claim!r}")
    if L not in (2, 3, 4):
        raise SharpnessError(f"L must be 2, 3 or 4, got {L!r}")
    if variant not in VARIANTS:
        raise SharpnessError(f"no bound variant {variant!r}; known: {', '.join(repr(k) for k in VARIANTS)}")
    if budget is not None and not budget > 0:
        raise SharpnessError(f"budget must be a positive number of seconds, got {budget!r}")
    if max_evals is not None and max_evals < 1:
        raise SharpnessError(f"max_evals must be a positive integer, got {max_evals!r}")
    shapes = tuple((int(m), int(n)) for m, n in shapes)
    if not shapes or any(not (1 <= m < n) for m, n in shapes):
        raise SharpnessError(f"shapes must be (M, N) pairs with 1 ≤ M < N, got {shapes!r}")
    for m in models:
        if m not in MODELS:
            raise SharpnessError(f"model must be one of {MODELS}, got {m!r}")

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    state = {"evals": 0, "applicable": 0, "best": None}
    pool: list[Candidate] = []

    def f(theta, M, N, model) -> float:
        if max_evals is not None and state["evals"] >= max_evals:
            raise _Stop("max_evals")
        if budget is not None and time.perf_counter() - t0 >= budget:
            raise _Stop("budget")
        state["evals"] += 1
        try:
            prob, cfg, _ = decode(theta, M, N, model, L)
        except ValueError:
            return 0.0
        left = None if budget is None else max(budget - (time.perf_counter() - t0), 0.1)
        pt = c6_point(prob, cfg, time_limit=min(eval_time_limit, left) if left else eval_time_limit)
        s = _score(pt, variant, magnified)
        if pt.ok:
            state["applicable"] += 1
        c = Candidate(M, N, model, tuple(float(v) for v in theta), s, pt)
        if state["best"] is None or s > state["best"].ratio:
            state["best"] = c
        if progress is not None:
            progress(state["evals"], state["best"].ratio, time.perf_counter() - t0)
        return s

    stopped = "done"
    structures = [(M, N, model) for (M, N) in shapes for model in models]
    try:
        # phase 1: random starts, interleaved over the shapes so a short budget sees all of them
        for i in range(starts):
            for (M, N, model) in structures:
                box = np.array(_box(M, N, model))
                th = box[:, 0] + rng.random(len(box)) * (box[:, 1] - box[:, 0])
                s = f(th, M, N, model)
                pool.append(Candidate(M, N, model, tuple(th), s))
        # phase 2: local searches from the best starts, then restarts near the incumbent
        pool.sort(key=lambda c: -c.ratio)
        seeds = [c for c in pool[:local_starts] if c.ratio > 0]
        rounds = 0
        while True:
            for c in seeds:
                box = _box(c.M, c.N, c.model)
                minimize(lambda th: -f(th, c.M, c.N, c.model), np.array(c.theta), method="Nelder-Mead",
                         bounds=box, options={"maxfev": local_maxfev, "xatol": 1e-6, "fatol": 1e-9,
                                              "adaptive": True})
            rounds += 1
            if budget is None and max_evals is None and rounds >= 2:
                break
            b = state["best"]
            if b is None or b.ratio <= 0:
                break
            box = np.array(_box(b.M, b.N, b.model))
            width = (box[:, 1] - box[:, 0]) * 0.1
            th = np.clip(np.array(b.theta) + rng.normal(0.0, 1.0, len(box)) * width, box[:, 0], box[:, 1])
            seeds = [Candidate(b.M, b.N, b.model, tuple(th), 0.0)]
    except _Stop as stop:
        stopped = str(stop)
    wall = time.perf_counter() - t0
    res = SearchResult("C6", L, variant, magnified, seed, budget, max_evals, state["evals"], state["applicable"], wall,
                       stopped, state["best"])
    b = state["best"]
    if b is None or b.point is None or not b.point.ok:
        return res
    res.top = sorted(pool, key=lambda c: -c.ratio)[:5]
    prob, cfg, exact = decode(b.theta, b.M, b.N, b.model, L, digits=SIG_DIGITS)
    res.problem, res.config, res.exact = prob, cfg, exact
    res.point64 = c6_point(prob, cfg)
    if recheck:
        res.recheck = c6_point(prob, cfg, dps=recheck_dps)
    return res


def result_record(res: SearchResult) -> dict:
    """A JSON-able record of a search: exact parameters, ratios, versions (``wnbias sharpness``)."""
    from wnbias.io import versions

    def pt(p):
        return None if p is None else p.as_dict()

    rec = {
        "claim": res.claim, "L": res.L, "variant": res.variant, "magnified_only": res.magnified,
        "variant_description": VARIANTS[res.variant].description,
        "ratio": res.ratio, "ratio_float64": None if res.point64 is None else res.point64.ratio,
        "recheck_dps": None if res.recheck is None else res.recheck.dps,
        "seed": res.seed, "budget_s": res.budget, "max_evals": res.max_evals, "evaluations": res.evaluations,
        "applicable": res.applicable, "wall_s": res.wall, "stopped": res.stopped,
        "lgt2_ceiling": (2.0 / res.L) if res.L > 2 else None,
        "exact": res.exact,
        "problem": None if res.problem is None else {**res.problem.as_dict(), "A": res.problem.A.tolist(),
                                                      "y": res.problem.y.tolist()},
        "config": None if res.config is None else res.config.as_dict(),
        "point_float64": pt(res.point64), "point_recheck": pt(res.recheck),
        "versions": versions(),
        "spec": "docs/math.md §5",
    }
    return rec
