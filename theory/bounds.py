"""docs/math.md §5: the ℓ1-gap bounds, derived from ``D_F(x_∞, β) ≤ D_F(z*, β)``.

Notation: ``S = ‖x_∞‖₁``, ``Z = ‖z*‖₁``, uniform ``β_i = α^L`` (``α = α_eff``), ``n`` coordinates
(``n = 2N`` and ``S = ‖w_∞^{⊙L}‖₁`` in the signed model, whose effective matrix is ``[A, −A]``),
and coordinate sums ``X_p = Σ x_i^{2/L}``, ``Z_p = Σ z*_i^{2/L}``, ``X_e = Σ x_i log x_i``,
``Z_e = Σ z*_i log z*_i``.  ``F`` is the potential of :mod:`theory.limit` (``F_2 = ½(z log z − z)``).

Each step of the chain is a sympy manipulation with the inequality named; its ``verify`` checks
the algebra (simplify to zero) and the one-variable fact that makes the named inequality true
(a sign of a derivative).

Result (it coincides with docs/math.md §5, constants included):
  * ``L = 2``, ``α < 1``: ``S − Z ≤ [Z log Z − Z − S log(S/n) + S] / (2 log(1/α))``;
  * ``L > 2``: ``S − Z ≤ (L/2) α^{L−2} n^{(L−2)/L} S^{2/L}``.

The sharpened ``L > 2`` bound of docs/math.md §5.1 (derivation ``l1_gap_bound_Lgt2_sharp``,
:func:`sharp_chain`) starts from the optimality condition of the projection (§4.1) instead:
``x_i^{(2−L)/L} = α^{2−L} − (L − 2)(Aᵀν)_i``, multiplied by ``x_i − z*_i`` and summed
(``A(x_∞ − z*) = 0``), gives ``α^{2−L}(S − Z) = X_p − Σ x_i^{(2−L)/L} z*_i ≤ X_p``, hence
  * ``L > 2``: ``S − Z ≤ α^{L−2} n^{(L−2)/L} S^{2/L}`` (``2/L`` times the bound above).
"""

from __future__ import annotations

import sympy as sp

from theory._core import LATEX_NAMES, CheckResult, Derivation, Step, cached, is_zero, psimp
from theory.limit import F_expr, grad_F, z

S, Z, n, alpha = sp.symbols("S l1_opt n alpha_eff", positive=True)
Xp, Zp = sp.symbols("X_p Z_p", positive=True)
Xe, Ze = sp.symbols("X_e Z_e", real=True)
tv = sp.Symbol("t_", positive=True)
d = sp.Symbol("d", positive=True)  # L = 2 + d for L > 2
LATEX_NAMES.update({Z: r"\|z^*\|_1", alpha: r"\alpha_{\rm eff}", Xp: r"X_p", Zp: r"Z_p", Xe: r"X_e", Ze: r"Z_e"})


def _sum_F(Lv, total, power_sum, ent_sum):
    """``Σ_i F(z_i)`` from the per-coordinate ``F``: linear in ``z``, ``z^{2/L}`` (or ``z log z``)."""
    f = sp.expand(F_expr(Lv))
    basis = ((z * sp.log(z), ent_sum), (z, total)) if Lv == 2 else \
        ((z ** (sp.Integer(2) / Lv), power_sum), (z, total))
    out = 0
    for term in sp.Add.make_args(f):
        for fn, summed in basis:
            coeff = sp.simplify(term / fn)
            if not coeff.has(z):
                out += coeff * summed
                break
        else:
            raise ValueError(f"_sum_F: the term {term} of F is not a multiple of a known coordinate function")
    return out


@cached
def chain(Lv):
    """The inequality chain for depth ``Lv`` (``2`` or symbolic/integer ``> 2``): (steps, bound)."""
    theta = grad_F(Lv).subs(z, alpha ** Lv)  # ∇F(β) per coordinate (uniform β)
    # Δ = [F(z*) − ⟨∇F(β), z*⟩] − [F(x) − ⟨∇F(β), x⟩] ≥ 0: x_∞ minimises D_F(·, β) on {Az = y, z ≥ 0}
    delta = (_sum_F(Lv, Z, Zp, Ze) - theta * Z) - (_sum_F(Lv, S, Xp, Xe) - theta * S)
    # the same Δ from the definition D_F(z, β) = Σ_i [F(z_i) − F(β) − ∇F(β)(z_i − β)]
    Fb = F_expr(Lv).subs(z, alpha ** Lv)

    def bregman(total, power_sum, ent_sum):
        return _sum_F(Lv, total, power_sum, ent_sum) - n * Fb - theta * (total - n * alpha ** Lv)

    def premise():
        return is_zero(delta - (bregman(Z, Zp, Ze) - bregman(S, Xp, Xe)))

    steps = []
    if Lv == 2:
        lam = 2 * sp.log(1 / alpha)
        rhs0 = Ze - Z - Xe + S
        steps.append(Step(
            sp.Integer(0), "<=", delta, "Bregman projection: D_F(x∞,β) ≤ D_F(z*,β); F(β), ⟨∇F(β),β⟩ cancel",
            premise))
        steps.append(Step(
            lam * (S - Z), "<=", rhs0, "algebra: 2Δ = rhs − 2log(1/α)(S − Z) ≥ 0 (multiply by 2 > 0)",
            lambda: is_zero(2 * delta - (rhs0 - lam * (S - Z)))))
        rhs1 = Z * sp.log(Z) - Z - Xe + S
        steps.append(Step(
            rhs0, "<=", rhs1, "monotonicity of log: z*_i ≤ Z ⇒ z*_i log z*_i ≤ z*_i log Z, summed",
            lambda: bool(sp.diff(sp.log(tv), tv).is_positive) and is_zero((rhs1 - rhs0).subs(Ze, Z * sp.log(Z)))))
        rhs2 = Z * sp.log(Z) - Z - S * sp.log(S / n) + S
        steps.append(Step(
            rhs1, "<=", rhs2, "Jensen: t log t convex ((t log t)'' = 1/t > 0) ⇒ Σ x_i log x_i ≥ S log(S/n)",
            lambda: bool(sp.diff(tv * sp.log(tv), tv, 2).is_positive)
            and is_zero(n * (S / n) * sp.log(S / n) - S * sp.log(S / n))))
        bound = rhs2 / lam
        steps.append(Step(
            S - Z, "<=", bound, "divide by 2 log(1/α) > 0 (needs α < 1)",
            lambda: bool(sp.log(1 / alpha).subs(alpha, 1 / (1 + d)).is_positive)))
        return tuple(steps), bound
    Lg = Lv if Lv.is_Integer else 2 + d  # L > 2 for the sign facts
    lhs1 = alpha ** (2 - Lv) * (S - Z)
    rhs1 = Lv / 2 * (Xp - Zp)
    steps.append(Step(
        sp.Integer(0), "<=", delta, "Bregman projection: D_F(x∞,β) ≤ D_F(z*,β); F(β), ⟨∇F(β),β⟩ cancel",
        premise))
    steps.append(Step(
        lhs1, "<=", rhs1, "algebra: (L−2)Δ = rhs − lhs ≥ 0 (multiply by L − 2 > 0)",
        lambda: is_zero((Lv - 2) * delta - (rhs1 - lhs1)) and bool((Lg - 2).is_positive)))
    rhs2 = Lv / 2 * Xp
    steps.append(Step(rhs1, "<=", rhs2, "drop −(L/2)Z_p ≤ 0 (z* ≥ 0)",
                      lambda: is_zero(rhs2 - rhs1 - Lv / 2 * Zp) and bool(Zp.is_nonnegative)))
    rhs3 = Lv / 2 * n ** ((Lv - 2) / Lv) * S ** (sp.Integer(2) / Lv)
    steps.append(Step(
        rhs2, "<=", rhs3,
        "Jensen (power mean / Hölder): t^{2/L} concave for L > 2 ⇒ Σ x_i^{2/L} ≤ n (S/n)^{2/L} = n^{(L−2)/L} S^{2/L}",
        lambda: bool(psimp(sp.diff(tv ** (sp.Integer(2) / Lg), tv, 2)).is_negative)
        and is_zero(n * (S / n) ** (sp.Integer(2) / Lv) - n ** ((Lv - 2) / Lv) * S ** (sp.Integer(2) / Lv))))
    bound = alpha ** (Lv - 2) * rhs3
    steps.append(Step(S - Z, "<=", bound, "multiply by α^{L−2} > 0",
                      lambda: is_zero(alpha ** (Lv - 2) * lhs1 - (S - Z))))
    return tuple(steps), bound


def math_md_bound(Lv):
    """The bound as docs/math.md §5 states it (for comparison with the derived one)."""
    if Lv == 2:
        return (Z * sp.log(Z) - Z - S * sp.log(S / n) + S) / (2 * sp.log(1 / alpha))
    return Lv / 2 * alpha ** (Lv - 2) * n ** ((Lv - 2) / Lv) * S ** (sp.Integer(2) / Lv)


def check_chain(Lv) -> CheckResult:
    steps, bound = chain(Lv)
    bad = [s.reason for s in steps if not s.verify()]
    same = is_zero(bound - math_md_bound(Lv))
    ok = not bad and same
    detail = (f"{len(steps)} steps verified" if not bad else f"steps failed: {bad}") + \
        f"; derived bound {'equals' if same else 'DIFFERS from'} docs/math.md §5: {sp.sstr(bound)}"
    return CheckResult(ok, "inequality chain", detail)


def derivations(Lv, model: str, dstr: str):
    ns = "n = 2N, S = ‖w∞^L‖₁ (effective [A, −A] coordinates)" if model == "signed" else "n = N, S = ‖x∞‖₁"
    out = []
    if Lv == 2 or not Lv.is_Integer:
        out.append(Derivation(
            "l1_gap_bound_L2", "§5",
            r"S - \|z^*\|_1 \le \frac{\|z^*\|_1\log\|z^*\|_1 - \|z^*\|_1 - S\log(S/n) + S}{2\log(1/\alpha_{\rm eff})}",
            (("bound", chain(sp.Integer(2))[1]),),
            ("L = 2", "α_eff < 1", "β_i = α_eff²", ns),
            dstr, model, "inequality chain", lambda: check_chain(sp.Integer(2)), steps=chain(sp.Integer(2))[0]))
    if Lv != 2:
        out.append(Derivation(
            "l1_gap_bound_Lgt2", "§5",
            r"S - \|z^*\|_1 \le \frac L2\,\alpha_{\rm eff}^{L-2}\, n^{(L-2)/L} S^{2/L}",
            (("bound", chain(Lv)[1]),),
            ("L > 2", "β_i = α_eff^L", ns),
            dstr, model, "inequality chain", lambda: check_chain(Lv), steps=chain(Lv)[0]))
        out.append(sharp_derivation(Lv, model, dstr, ns))
    return out


# ----------------------------------------------------------------------------- §5.1 the sharpened L > 2 bound
# docs/math.md §5.1 ("For L > 2 the constant L/2 is never needed"): from the optimality condition of
# the projection (§4.1) instead of the comparison D_F(x∞, β) ≤ D_F(z*, β).  Per-coordinate symbols:
# x_i > 0 (every component of the projection is positive for L > 2), z*_i ≥ 0, g_i = (Aᵀν)_i.
xc = sp.Symbol("x_i", positive=True)
zc = sp.Symbol("zstar_i", nonnegative=True)
gc = sp.Symbol("g_i", real=True)
Y = sp.Symbol("Y", nonnegative=True)  # Σ_i x_i^{(2−L)/L} z*_i
G = sp.Symbol("G", real=True)  # Σ_i (Aᵀν)_i (x_i − z*_i) = ⟨ν, A(x∞ − z*)⟩
qc = sp.Symbol("q_i", positive=True)  # the base x_i^{(2−L)/L} of docs/math.md §4.1, which is positive
LATEX_NAMES.update({xc: "x_i", zc: r"z^*_i", gc: r"(A^\top\nu)_i", Y: "Y", G: "G", qc: "q_i"})

SHARP_PLANTS = {
    "": "the sharpened bound (derived)",
    "ratio-1/L": "claims Σ x_i^{(2−L)/L} z*_i ≥ ½ Σ x_i^{2/L}, i.e. gap ≤ (1/L) × the §5 bound (WRONG)",
    "no-n-factor": "Jensen without n: Σ x_i^{2/L} ≤ S^{2/L} (WRONG)",
}
"""Planted wrong steps of :func:`sharp_chain` (each must fail its step's check)."""


def _summands(Lv):
    """Each coordinate sum of the chain and its summand (docs/math.md §5.1)."""
    two = sp.Integer(2)
    return {S: xc, Z: zc, Xp: xc ** (two / Lv), Y: xc ** ((2 - Lv) / Lv) * zc, G: gc * (xc - zc)}


_Gx, _Gz = sp.symbols("G_x G_z", real=True)  # Σ g_i x_i and Σ g_i z*_i (only their difference G is known)


def coordinate_sum(expr, Lv):
    """``Σ_i expr`` for ``expr`` a combination, with coordinate-free coefficients, of the summands
    of :func:`_summands`; ``(Aᵀν)_i`` may only appear as ``(Aᵀν)_i (x_i − z*_i)``, summed to ``G``
    (raises ``ValueError`` on any other per-coordinate term)."""
    summ = {total: fn for total, fn in _summands(Lv).items() if total is not G}
    summ.update({_Gx: gc * xc, _Gz: gc * zc})
    out = 0
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff, dep = term.as_independent(xc, zc, gc, as_Add=False)
        if dep == 1:
            raise ValueError(f"coordinate_sum: the term {term} does not depend on the coordinate")
        for total, fn in summ.items():
            if is_zero(dep - fn):
                out += coeff * total
                break
        else:
            raise ValueError(f"coordinate_sum: cannot sum the per-coordinate term {dep}")
    out = sp.expand(out.subs(_Gx, G + _Gz))
    if out.has(_Gz):
        raise ValueError(f"coordinate_sum: (Aᵀν)_i appears other than as (Aᵀν)_i(x_i − z*_i) in {expr}")
    return out


def _nonneg_combination(expr, Lg, Lv) -> bool:
    """Is ``expr`` (in the coordinate sums) a combination with coefficients ≥ 0 of sums whose
    summands are ≥ 0 under the assumptions (``L = Lg`` with ``Lg > 2``)?"""
    e = sp.expand(psimp(expr))
    if e == 0:
        return True
    summ = _summands(Lv)

    def at_Lg(expr_):  # the symbolic depth replaced by 2 + d, d > 0, for the sign facts
        return expr_ if Lv.is_Integer else expr_.subs(Lv, Lg)
    for term in sp.Add.make_args(e):
        coeff, total = term.as_independent(*summ, as_Add=False)
        if total not in summ or not bool(at_Lg(coeff).is_nonnegative) or not bool(at_Lg(summ[total]).is_nonnegative):
            return False
    return True


def _transpose_identity() -> bool:
    """``⟨Aᵀν, d⟩ = ⟨ν, A d⟩`` for a generic 2 × 3 matrix (so ``G = ⟨ν, A(x∞ − z*)⟩ = 0``)."""
    A = sp.Matrix(2, 3, sp.symbols("a0:6", real=True))
    nu = sp.Matrix(sp.symbols("nu0:2", real=True))
    dv = sp.Matrix(sp.symbols("d0:3", real=True))
    return sp.expand((A.T * nu).dot(dv) - nu.dot(A * dv)) == 0


def sharp_bound(Lv):
    """The sharpened bound as docs/math.md §5.1 states it: ``α^{L−2} n^{(L−2)/L} S^{2/L}``."""
    return alpha ** (Lv - 2) * n ** ((Lv - 2) / Lv) * S ** (sp.Integer(2) / Lv)


@cached
def sharp_chain(Lv, plant: str = ""):
    """The chain from the optimality condition of §4.1 to the sharpened bound, for ``Lv > 2``
    (an integer or the symbol ``L``): ``(steps, bound)``.  ``plant`` names a wrong step
    (:data:`SHARP_PLANTS`) put in the chain, whose check must then fail."""
    if plant not in SHARP_PLANTS:
        raise ValueError(f"plant must be one of {sorted(SHARP_PLANTS)}, got {plant!r}")
    if Lv == 2:
        raise ValueError("the sharpened bound is for L > 2")
    Lg = Lv if Lv.is_Integer else 2 + d  # L > 2 for the sign facts
    two = sp.Integer(2)
    steps = []
    # 0. optimality: ∇F(x_i) = ∇F(β_i) + (Aᵀν)_i  ⇔  x_i^{(2−L)/L} = α^{2−L} − (L − 2)(Aᵀν)_i (§4.1)
    lhs0, rhs0 = xc ** ((2 - Lv) / Lv), alpha ** (2 - Lv) - (Lv - 2) * gc

    def optimality():
        # with q = x^{(2−L)/L} > 0, i.e. x = q^{L/(2−L)}, and g solved from q = α^{2−L} − (L−2)g:
        g_of_q = sp.solve(sp.Eq(qc, rhs0), gc)[0]
        xq = qc ** (Lv / (2 - Lv))
        return (is_zero(grad_F(Lv).subs(z, xq) - grad_F(Lv).subs(z, alpha ** Lv) - g_of_q)
                and is_zero(lhs0.subs(xc, xq) - qc))
    steps.append(Step(lhs0, "=", rhs0,
                      "optimality of the projection (§4.1): ∇F(x_i) − ∇F(β_i) = (Aᵀν)_i with ∇F(z) = log_L(z^{1/L})",
                      optimality))
    # 1. multiply by x_i − z*_i
    lhs1, rhs1 = xc ** (two / Lv) - xc ** ((2 - Lv) / Lv) * zc, alpha ** (2 - Lv) * (xc - zc) - (Lv - 2) * gc * (xc - zc)
    steps.append(Step(lhs1, "=", rhs1, "multiply step 0 by x_i − z*_i",
                      lambda: is_zero((xc - zc) * (lhs0 - rhs0) - (lhs1 - rhs1))))
    # 2. sum over i; Σ (Aᵀν)_i (x_i − z*_i) = ⟨ν, A x∞ − A z*⟩ = ⟨ν, y − y⟩ = 0
    lhs2, rhs2 = alpha ** (2 - Lv) * (S - Z), Xp - Y
    steps.append(Step(lhs2, "=", rhs2,
                      "sum step 1 over i; Σ_i (Aᵀν)_i(x_i − z*_i) = ⟨ν, A(x∞ − z*)⟩ = 0 since A x∞ = A z* = y",
                      lambda: _transpose_identity() and is_zero(coordinate_sum(lhs1, Lv) - rhs2)
                      and is_zero(coordinate_sum(rhs1, Lv).subs(G, 0) - lhs2)))
    # 3. drop Y = Σ x_i^{(2−L)/L} z*_i ≥ 0
    rhs3 = Xp / 2 if plant == "ratio-1/L" else Xp  # WRONG when planted: needs Y ≥ X_p/2
    steps.append(Step(rhs2, "<=", rhs3,
                      "drop −Σ_i x_i^{(2−L)/L} z*_i ≤ 0 (x_i > 0, z*_i ≥ 0)" if not plant == "ratio-1/L"
                      else "drop −Σ_i x_i^{(2−L)/L} z*_i ≤ −X_p/2 (WRONG, planted)",
                      lambda: _nonneg_combination(rhs3 - rhs2, Lg, Lv)))
    # 4. Jensen / power mean: t^{2/L} concave for L > 2
    scale = rhs3 / Xp  # 1 (or ½ when planted above)
    jensen = n ** ((Lv - 2) / Lv) * S ** (two / Lv)
    rhs4 = scale * (S ** (two / Lv) if plant == "no-n-factor" else jensen)  # WRONG when planted: drops n
    steps.append(Step(rhs3, "<=", rhs4,
                      "Jensen (power mean): t^{2/L} concave for L > 2 ⇒ Σ x_i^{2/L} ≤ n (S/n)^{2/L} = n^{(L−2)/L} S^{2/L}"
                      if plant != "no-n-factor" else "Σ x_i^{2/L} ≤ S^{2/L} (WRONG, planted)",
                      lambda: bool(psimp(sp.diff(tv ** (two / Lg), tv, 2)).is_negative)
                      and bool(scale.is_positive)
                      and is_zero(rhs4 / scale - n * (S / n) ** (two / Lv))))
    # 5. multiply by α^{L−2} > 0
    bound = alpha ** (Lv - 2) * rhs4
    steps.append(Step(S - Z, "<=", bound, "multiply by α^{L−2} > 0",
                      lambda: is_zero(alpha ** (Lv - 2) * lhs2 - (S - Z)) and is_zero(bound - alpha ** (Lv - 2) * rhs4)
                      and bool((alpha ** (Lv - 2)).is_positive)))
    return tuple(steps), bound


def _linked(steps) -> bool:
    """The inequality part of the sharpened chain is one chain: each step starts where the last ended."""
    chain_ = steps[2:5]
    return all(is_zero(a.rhs - b.lhs) for a, b in zip(chain_, chain_[1:]))


def check_sharp(Lv, plant: str = "") -> CheckResult:
    """Every step of :func:`sharp_chain` verified, the chain linked, the bound equal to the one
    stated in docs/math.md §5.1, and that bound ``2/L`` times the §5 bound (:func:`math_md_bound`)."""
    steps, bound = sharp_chain(Lv, plant)
    bad = [s.reason for s in steps if not s.verify()]
    linked = _linked(steps)
    same = is_zero(bound - sharp_bound(Lv))
    ratio = psimp(bound / math_md_bound(Lv))
    ok = not bad and linked and same and is_zero(ratio - 2 / Lv)
    detail = (f"{len(steps)} steps verified" if not bad else f"steps failed: {bad}") + \
        ("" if linked else "; the inequality steps do not link") + \
        f"; derived bound {'equals' if same else 'DIFFERS from'} docs/math.md §5.1: {sp.sstr(bound)}" + \
        f"; ratio to the §5 bound {sp.sstr(ratio)}"
    return CheckResult(ok, "inequality chain", detail)


def sharp_derivation(Lv, model: str, dstr: str, ns: str) -> Derivation:
    return Derivation(
        "l1_gap_bound_Lgt2_sharp", "§5.1",
        r"S - \|z^*\|_1 \le \alpha_{\rm eff}^{L-2}\, n^{(L-2)/L} S^{2/L} = \frac 2L \times \text{the §5 bound}",
        (("bound", sharp_chain(Lv)[1]), ("ratio to the §5 bound", psimp(sharp_chain(Lv)[1] / math_md_bound(Lv)))),
        ("L > 2", "β_i = α_eff^L", "x∞ = argmin D_F(·, β) on {Az = y, z ≥ 0}: ∇F(x∞) − ∇F(β) = Aᵀν (§4.1)",
         "A z* = y, z* ≥ 0", ns),
        dstr, model, "inequality chain", lambda: check_sharp(Lv), steps=sharp_chain(Lv)[0])
