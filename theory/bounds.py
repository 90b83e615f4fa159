"""MATH.md §5: the ℓ1-gap bounds, derived from ``D_F(x_∞, β) ≤ D_F(z*, β)``.

Notation: ``S = ‖x_∞‖₁``, ``Z = ‖z*‖₁``, uniform ``β_i = α^L`` (``α = α_eff``), ``n`` coordinates
(``n = 2N`` and ``S = ‖w_∞^{⊙L}‖₁`` in the signed model, whose effective matrix is ``[A, −A]``),
and coordinate sums ``X_p = Σ x_i^{2/L}``, ``Z_p = Σ z*_i^{2/L}``, ``X_e = Σ x_i log x_i``,
``Z_e = Σ z*_i log z*_i``.  ``F`` is the potential of :mod:`theory.limit` (``F_2 = ½(z log z − z)``).

Each step of the chain is a sympy manipulation with the inequality named; its ``verify`` checks
the algebra (simplify to zero) and the one-variable fact that makes the named inequality true
(a sign of a derivative).

Result (it coincides with MATH.md §5, constants included):
  * ``L = 2``, ``α < 1``: ``S − Z ≤ [Z log Z − Z − S log(S/n) + S] / (2 log(1/α))``;
  * ``L > 2``: ``S − Z ≤ (L/2) α^{L−2} n^{(L−2)/L} S^{2/L}``.
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
    """The bound as MATH.md §5 states it (for comparison with the derived one)."""
    if Lv == 2:
        return (Z * sp.log(Z) - Z - S * sp.log(S / n) + S) / (2 * sp.log(1 / alpha))
    return Lv / 2 * alpha ** (Lv - 2) * n ** ((Lv - 2) / Lv) * S ** (sp.Integer(2) / Lv)


def check_chain(Lv) -> CheckResult:
    steps, bound = chain(Lv)
    bad = [s.reason for s in steps if not s.verify()]
    same = is_zero(bound - math_md_bound(Lv))
    ok = not bad and same
    detail = (f"{len(steps)} steps verified" if not bad else f"steps failed: {bad}") + \
        f"; derived bound {'equals' if same else 'DIFFERS from'} MATH.md §5: {sp.sstr(bound)}"
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
    return out
