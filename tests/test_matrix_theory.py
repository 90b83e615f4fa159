"""theory.matrix (docs/math.md §9): every derivation checks, and false statements fail their checks."""

import sympy as sp

import theory.matrix as M
from theory import Derivation


def test_every_matrix_derivation_verifies():
    ds = M.derivations()
    names = [d.name for d in ds]
    assert {"matrix_sym_gradient", "matrix_asym_gradient", "matrix_wn_flow", "matrix_norm_conserved",
            "matrix_loss_decreases", "matrix_balancedness_gf", "matrix_balancedness_wn",
            "matrix_diagonal_reduction"} <= set(names)
    for d in ds:
        assert isinstance(d, Derivation) and d.model == "matrix" and d.section.startswith("§9")
        res = d.check()
        assert res.verified, (d.name, res.detail)
        assert "\\paragraph" in d.latex()


def test_planted_wrong_invariant_fails():
    """UᵀU alone is not conserved along plain GF of X = UWᵀ: the check must say so."""
    res = M.planted_wrong_invariant().check()
    assert not res.verified
    assert "residual" in res.detail


def test_wn_balancedness_matrix_is_not_conserved_but_its_trace_is():
    """Claiming UᵀU − WᵀW conserved under WN is false (k ≥ 2): the symbolic zero test rejects it on
    the radius relations r² = ‖U‖_F², r_W² = ‖W‖_F²; the trace r_U² − r_W² passes the same test."""
    rel = M._polar_relations(2, 2)
    (_, wrong), = [(lbl, res) for lbl, res in M._invariant_residuals("wn", "balancedness")(2, 2) if "[1,2]" in lbl]
    assert not M._zero(wrong, rel)
    (_, right), = M._invariant_residuals("wn", "trace")(2, 2)
    assert M._zero(right, rel)


def test_witness_is_nonzero_exactly_where_no_invariant_exists():
    for d in (2, 3):
        entry, value = M._witness(d, 2, "wn", "balancedness")
        assert value != 0 and value.is_Rational
        assert M._witness(d, 2, "plain", "balancedness") is None  # plain GF: a true invariant has no witness
        assert M._witness(d, 2, "wn", "trace") is None


def test_zero_test_is_not_blind():
    """The fast zero test must reject a nonzero expression with square roots of sums of squares."""
    V = M._mat("v", 2, 1, real=True)
    nu = sp.sqrt(V[0] ** 2 + V[1] ** 2)
    assert M._zero(nu ** 2 - V[0] ** 2 - V[1] ** 2)
    assert not M._zero(nu ** 3 - V[0] ** 2 - V[1] ** 2)
    assert not M._zero(V[0] / nu)
