"""The derivations of theory/: every check passes (L symbolic, 2, 3; both models), checks can
fail on a deliberately wrong variant, and the `wnbias derive` command reports them."""

from __future__ import annotations

import dataclasses
import json

import pytest
import sympy as sp

import theory
from theory import _core, bounds, flows, invariant, limit
from wnbias.cli import main

EXPECTED = {
    "loss_gradient", "wn_flow", "wn_scaling", "norm_conserved", "loss_decreases", "r2_rates",
    "invariant_h_eta", "gf_invariant", "r2_invariant", "rho_beta", "potential_F",
    "limit_equation", "radius_dual_identity",
}


@pytest.mark.parametrize("model", ["positive", "signed"])
@pytest.mark.parametrize("L", ["symbolic", 2, 3])
def test_every_derivation_verifies(L, model):
    ds = theory.derivations(L=L, model=model)
    names = {d.name for d in ds}
    assert EXPECTED <= names
    if L == "symbolic":
        assert {"log_L_limit", "potential_F_limit", "l1_gap_bound_L2", "l1_gap_bound_Lgt2"} <= names
    elif L == 2:
        assert "l1_gap_bound_L2" in names and "l1_gap_bound_Lgt2" not in names
    else:
        assert "l1_gap_bound_Lgt2" in names and "l1_gap_bound_L2" not in names
    if model == "signed":
        assert "signed_gradient" in names
    failed = [(d.name, r.detail) for d, r in theory.check_all(L, model) if not r.verified]
    assert failed == []


def test_derivations_are_frozen_values_that_print():
    d = theory.derivations("symbolic")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "x"
    r = d.check()
    assert isinstance(r, theory.CheckResult) and r.method in _core.METHODS
    tex = d.latex()
    assert d.statement in tex and "docs/math.md" in tex
    for d in theory.derivations(3):
        sp.latex(sp.Integer(0))
        assert d.latex()


@pytest.mark.parametrize("bad", [1, 0, "x", "2.5", True])
def test_bad_depth_is_refused(bad):
    with pytest.raises(ValueError, match="L must be"):
        theory.derivations(L=bad)
    with pytest.raises(ValueError, match="model"):
        theory.derivations(L=2, model="sparse")


def test_invariant_rate_is_the_stated_scalar():
    assert sp.simplify(invariant.h_eta_rate(_core.L) - (-_core.eta_u * _core.L * flows.r ** _core.L
                                                         * sp.exp((2 - _core.L) * invariant.s))) == 0
    assert invariant.h_eta_rate(sp.Integer(2)) == -2 * _core.eta_u * flows.r ** 2


# ----------------------------------------------------------------------------- checks can fail
@pytest.mark.parametrize("L", [_core.L, sp.Integer(2), sp.Integer(3)])
def test_wrong_sign_on_s_fails_the_invariant_check(L):
    """h_η with e^{−s} instead of e^{s} is not an invariant: its check must fail."""
    res = invariant.check_invariant(L, sign=-1)
    assert not res.verified
    assert "coordinate-free: False" in res.detail


def test_wrong_scaling_of_eta_u_fails():
    a = flows.ubar_rate(flows.c, _core.eta_u)
    wrong = flows.ubar_rate(sp.Integer(1), _core.eta_u / flows.c)  # η_u/c instead of η_u/c²
    assert not _core.zero_check([("scaling", a - wrong)]).verified


def test_wrong_bound_constant_is_detected():
    """The chain's final comparison distinguishes log(1/α) from 2 log(1/α)."""
    _, bound = bounds.chain(sp.Integer(2))
    assert not _core.is_zero(bound - 2 * bounds.math_md_bound(sp.Integer(2)))


def test_wrong_rho_fails():
    Ks, rs = limit.rho_beta(_core.L)
    wrong = rs * limit.r_inf / limit.r0  # drops the (r0/r∞) factor
    h_inf = _core.log_L(limit.ubar_inf * sp.exp(limit.s_inf), _core.L) - _core.log_L(limit.ubar0, _core.L)
    D = (_core.log_L(limit.r_inf * limit.ubar_inf, _core.L)
         - _core.log_L(limit.r0 * limit.ubar0 / wrong, _core.L) - Ks * h_inf)
    assert not _core.is_zero(D)


def test_coordinate_sum_knows_only_its_three_sums():
    assert flows.coordinate_sum(flows.u * flows.grad) == flows.unorm * flows.sigma
    with pytest.raises(ValueError, match="cannot sum"):
        flows.coordinate_sum(flows.u ** 3)


def test_every_bound_step_verifies_and_a_broken_step_does_not():
    for Lv in (sp.Integer(2), sp.Integer(3), _core.L):
        steps, _ = bounds.chain(Lv)
        assert all(s.verify() for s in steps)
    # the L > 2 chain's algebra step fails if Δ is scaled wrongly (e.g. by L − 1 instead of L − 2)
    steps, _ = bounds.chain(_core.L)
    lhs, rhs = steps[1].lhs, steps[1].rhs
    delta = steps[0].rhs
    assert not _core.is_zero((_core.L - 1) * delta - (rhs - lhs))


# ----------------------------------------------------------------------------- the command
def test_derive_json_lists_all_items_verified(capsys):
    rc = main(["derive", "--L", "symbolic", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {"name", "section", "statement", "verified", "method", "detail"} <= set(out[0])
    assert EXPECTED <= {o["name"] for o in out}
    assert all(o["verified"] for o in out)


def test_derive_text_and_latex(capsys):
    assert main(["derive", "--L", "2", "--model", "signed"]) == 0
    out = capsys.readouterr().out
    assert "derivations verified" in out and "FAIL" not in out
    assert main(["derive", "--L", "3", "--format", "latex"]) == 0
    assert r"\paragraph{invariant\_h\_eta}" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["1", "x", "0", "-3"])
def test_derive_bad_depth_exits_2(bad, capsys):
    assert main(["derive", "--L", bad]) == 2
    assert "--L" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the sharpened L > 2 bound
@pytest.mark.parametrize("L", ["symbolic", 3, 4])
def test_sharpened_bound_is_derived_and_listed(L):
    """docs/math.md §5.1: from the optimality condition, S − ‖z*‖₁ ≤ α^{L−2} n^{(L−2)/L} S^{2/L},
    2/L times the §5 bound; listed by theory.derivations (and so by `wnbias derive`)."""
    d = {d.name: d for d in theory.derivations(L)}["l1_gap_bound_Lgt2_sharp"]
    res = d.check()
    assert res.verified, res.detail
    Lv = _core.depth(L)
    assert _core.is_zero(d.expr("bound") - bounds.alpha ** (Lv - 2) * bounds.n ** ((Lv - 2) / Lv)
                         * bounds.S ** (sp.Integer(2) / Lv))
    assert _core.is_zero(d.expr("ratio to the §5 bound") - 2 / Lv)
    assert [s.relation for s in d.steps] == ["=", "=", "=", "<=", "<=", "<="]


def test_sharpened_bound_is_not_listed_at_L2():
    assert "l1_gap_bound_Lgt2_sharp" not in {d.name for d in theory.derivations(2)}
    with pytest.raises(ValueError, match="L > 2"):
        bounds.sharp_chain(sp.Integer(2))


@pytest.mark.parametrize("Lv", [_core.L, sp.Integer(3), sp.Integer(4)])
@pytest.mark.parametrize("plant, step", [("ratio-1/L", 3), ("no-n-factor", 4)])
def test_a_planted_wrong_step_of_the_sharpened_chain_fails(Lv, plant, step):
    """Claiming gap/§5-bound ≤ 1/L (Σ x^{(2−L)/L} z* ≥ ½ Σ x^{2/L}) or dropping n^{(L−2)/L} from
    Jensen: exactly that step fails, and with it the check."""
    steps, _ = bounds.sharp_chain(Lv, plant)
    assert [i for i, s in enumerate(steps) if not s.verify()] == [step]
    res = bounds.check_sharp(Lv, plant)
    assert not res.verified and "steps failed" in res.detail
    with pytest.raises(ValueError, match="plant"):
        bounds.sharp_chain(Lv, "wrong")


def test_sharpened_chain_sum_knows_only_its_sums():
    """The summation step accepts (Aᵀν)_i only as (Aᵀν)_i (x_i − z*_i) (what A(x∞ − z*) = 0 removes)."""
    L3 = sp.Integer(3)
    assert bounds.coordinate_sum(bounds.gc * (bounds.xc - bounds.zc), L3) == bounds.G
    with pytest.raises(ValueError, match="Aᵀν"):
        bounds.coordinate_sum(bounds.gc * bounds.xc, L3)
    with pytest.raises(ValueError, match="cannot sum"):
        bounds.coordinate_sum(bounds.xc ** 2, L3)
    # a chain whose sum kept a (Aᵀν) term would not reduce to α^{2−L}(S − ‖z*‖₁)
    steps, _ = bounds.sharp_chain(L3)
    assert not _core.is_zero(bounds.coordinate_sum(steps[1].rhs, L3) - steps[2].lhs)
