"""Claim C11: the sharpened ℓ1-gap bound for ``L > 2`` (docs/math.md §5.1, derived here).

    S − ‖z*‖₁ ≤ α_eff^{L−2} n^{(L−2)/L} S^{2/L}        (L > 2, uniform β),

which is ``2/L`` times the §5 bound of claim C6.  It follows from the optimality condition of the
projection (docs/math.md §4.1) rather than from ``D_F(x_∞, β) ≤ D_F(z*, β)``; the derivation is
``theory.bounds.sharp_chain`` (``l1_gap_bound_Lgt2_sharp`` in ``wnbias derive``).

The gap and the bound are C6's computation, reused, not repeated: :func:`wnbias.claims.limits.gap_and_bound`
solves the limit and the ℓ1 LP and evaluates the §5 bound from ``log α_eff``
(:func:`wnbias.claims._common.l1_bound_log`); C11 judges that bound times ``2/L`` (times
``bound_factor``), so every quantity comes from ``log ρ`` as in C6.  A second row cross-checks
the judged bound against the derived sympy expression, evaluated at 30 digits from the same
``log α_eff``.

Check options: ``bound_factor=`` (the judged bound multiplied by it: a planted wrong bound when
``< 1``) and ``variant=`` one of :data:`VARIANTS` (planted wrong bounds).  The default cases
include the tight cases of :mod:`wnbias.claims.tight_cases` (``tight-L3``, ``tight-L4``), where
``gap`` is above 0.99 of the sharpened bound, so ``bound_factor=0.9`` FAILs there.
"""

from __future__ import annotations

import math

import mpmath

from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, tol, workdps
from wnbias.claims import problems as P
from wnbias.claims.limits import gap_and_bound
from wnbias.claims.registry import FAIL, AssumptionFailed, Case, Claim, Row, need, register, verdict_le

VARIANTS = {
    "": "the sharpened bound α_eff^{L−2} n^{(L−2)/L} S^{2/L}",
    "ratio-1/L": "(1/L) × the §5 bound, i.e. half the sharpened bound (WRONG)",
    "no-n-factor": "the sharpened bound without n^{(L−2)/L} (WRONG)",
}
"""The judged bound: the sharpened one (``""``) or a planted wrong one."""

CROSS_CHECK_DPS = 30
"""Digits at which the derived sympy expression is evaluated for the cross-check row."""


def sharpened_quantities(problem, config, dps=None, *, variant: str = "", bound_factor: float = 1.0, lim=None):
    """C6's quantities (:func:`~wnbias.claims.limits.gap_and_bound`) with the judged bound the
    sharpened one (``variant``, times ``bound_factor``): ``bound`` is what is judged, ``sharp`` the
    sharpened bound itself, ``ratio`` = gap/sharp.  Raises :class:`AssumptionFailed` for ``L = 2``
    and wherever C6's bound does not apply (non-uniform β, other rates)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    L = config.L
    if L == 2:
        raise AssumptionFailed("the sharpened bound is stated for L > 2 (at L = 2 the §5 bound is C6's)")
    factor = 2.0 / L  # sharpened = (2/L) × the §5 bound (docs/math.md §5.1)
    if variant == "ratio-1/L":
        factor = 1.0 / L  # WRONG, planted
    q = gap_and_bound(problem, config, dps, variant="no-n-factor" if variant == "no-n-factor" else "",
                      bound_factor=factor * float(bound_factor), lim=lim)
    sharp = q["bound_true"] * (2.0 / L)
    q = dict(q)
    q.update(sharp=sharp, ratio=q["gap"] / sharp if sharp > 0 else float("nan"),
             variant=variant, bound_factor=float(bound_factor))
    return q


def derived_bound(S: float, n: int, log_alpha: float, L: int) -> float:
    """The bound of ``theory.bounds.sharp_chain(L)`` evaluated at :data:`CROSS_CHECK_DPS` digits
    (``α_eff = exp(log α_eff)`` in mpmath: no underflow), as a float."""
    import sympy as sp

    bounds = need("theory.bounds")
    expr = bounds.sharp_chain(sp.Integer(L))[1]
    f = sp.lambdify((bounds.S, bounds.n, bounds.alpha), expr, "mpmath")
    with workdps(CROSS_CHECK_DPS):
        return float(f(mpmath.mpf(S), mpmath.mpf(n), mpmath.exp(mpmath.mpf(log_alpha))))


def check_c11(problem, config, dps, *, variant: str = "", bound_factor: float = 1.0, **options):
    """Two rows: ``gap ≤ judged bound`` (with C6's LP-accuracy allowance), and the cross-check of
    ``2/L × C6's bound`` against the derived expression of the sharpened bound."""
    q = sharpened_quantities(problem, config, dps, variant=variant, bound_factor=bound_factor)
    what = VARIANTS[variant] + (f" × {float(bound_factor):g}" if float(bound_factor) != 1.0 else "")
    rows = [Row("C11", "", q["gap"], q["bound"], verdict_le(q["gap"], q["bound_with_lp_accuracy"]),
                f"S − ‖z*‖₁ vs {what} (gap/sharpened bound {q['ratio']:.4g}, log α_eff = {q['log_alpha_eff']:.4g}, "
                f"{'r_∞ > r₀' if q['magnified'] else 'r_∞ ≤ r₀: no magnification'})",
                details=q)]
    gen = derived_bound(q["S"], problem.n, q["log_alpha_eff"], config.L)
    if not (math.isfinite(gen) and math.isfinite(q["sharp"])):
        rows.append(Row("C11", "cross-check", float("nan"), float("nan"), FAIL,
                        f"a bound is not finite (2/L × C6's {q['sharp']!r}, derived {gen!r})"))
        return rows
    diff = abs(q["sharp"] - gen)
    # the float64 evaluation exp(log b) loses |log b| ulps; tol(15, K_ROUNDOFF) is ≥ 1000 ulps
    allowed = tol(DPS_FLOAT64, K_ROUNDOFF) * max(1.0, abs(math.log(gen))) * gen if gen > 0 else 0.0
    rows.append(Row("C11", "cross-check", diff, allowed, verdict_le(diff, allowed),
                    f"|2/L × C6's §5 bound − the derived sharpened bound (theory.bounds.sharp_chain, "
                    f"{CROSS_CHECK_DPS} digits)| ({q['sharp']:.6g} vs {gen:.6g})",
                    details={"two_over_L_times_c6": q["sharp"], "derived": gen}))
    return rows


# -- cases ---------------------------------------------------------------------------------------

TIGHT_LABELS = ("tight-L3", "tight-L4")
"""The tight cases of :mod:`wnbias.claims.tight_cases` that C11 is checked on (``L > 2``)."""


def tight_case(label: str, dps=None) -> Case:
    TIGHT = need("wnbias.claims.tight_cases", "TIGHT_CASES")
    for tc in TIGHT:
        if tc.label == label:
            return Case(f"{label} (tight)", tc.problem(), tc.config(), dps)
    raise KeyError(f"no tight case {label!r} in wnbias.claims.tight_cases")


def _c(name, dps=None, **cfg):
    return Case(name, P.get(name), FlowConfig(**cfg), dps)


def cases_c11(level):
    if level == "quick":
        return [tight_case("tight-L3")]
    out = [tight_case(label) for label in TIGHT_LABELS]
    out += [_c("dense", None, L=3, r0="1", eta_r="1"), _c("small-signed", None, L=4, r0="1", eta_r="1")]
    if level == "full":
        at_dps = tight_case("tight-L3", 30)
        out += [Case("tight-L3 (tight, dps 30)", at_dps.problem, at_dps.config, 30),
                _c("correlated", None, L=3, r0="1", eta_r="0.3")]
    return out


register(Claim(
    "C11", "sharpened §5 bound for L > 2 (derived here)",
    r"S - \|z^*\|_1 \le \alpha_{\mathrm{eff}}^{L-2} n^{(L-2)/L} S^{2/L} = \tfrac{2}{L}\times\text{the §5 bound}\ (L > 2)",
    "§5.1", check_c11, cases_c11,
    "gap ≤ bound + tol(d, K_SOLVE)·‖z*‖₁ (C6's LP accuracy); cross-check with the derived expression at 30 digits "
    "within tol(15, K_ROUNDOFF) × max(1, |log bound|) × bound",
    symbolic=("l1_gap_bound_Lgt2_sharp",), requires=("numerics._limit", "numerics._lp", "theory")))
