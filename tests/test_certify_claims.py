"""Certified verdicts in the claims (C5, C6, C7 with ``certify=True``; issue 14, docs/certify.md).

The certificates come from ``numerics._certify`` (tested in tests/test_certify.py); here: the
mapping of a certificate onto a row's verdict, CERTIFIED on real built-in cases, a planted bound
1 % too small at the tight cases never CERTIFIED, the JSON balls read back and containing the
toolkit's own values, and the root-free iterations that put every root of φ in the bracket.
"""

from __future__ import annotations

import json
from fractions import Fraction

import mpmath
import pytest

from numerics import _certify as C
from numerics._limit import limit_solve
from wnbias.claims import limits as LM
from wnbias.claims import registry as R
from wnbias.claims.registry import CERTIFIED, FAIL, PASS, SKIP, Row, apply_certificate, count_verdicts
from wnbias.claims.tight_cases import TIGHT_CASES


def _row(verdict=PASS, reason="numeric note"):
    return Row("C6", "", 1.0, 2.0, verdict, reason)


# -- the mapping of a certificate onto a verdict -------------------------------------------------
def test_apply_certificate_decides_only_complete_certificates():
    ok = {"decision": "certified", "complete": True, "proven": "gap ≤ bound"}
    r = apply_certificate(_row(PASS), ok)
    assert r.verdict == CERTIFIED and r.reason.startswith("certified: gap ≤ bound") and "numeric note" in r.reason
    assert r.certificate["applied"] and r.certificate["numeric_verdict"] == PASS
    over = apply_certificate(_row(FAIL), ok)  # a proof outranks a tolerance test, and says so
    assert over.verdict == CERTIFIED and "numeric verdict was FAIL" in over.reason
    bad = apply_certificate(_row(PASS), {"decision": "certified_fail", "complete": True, "proven": "gap > bound"})
    assert bad.verdict == FAIL and bad.reason.startswith("certified FAIL: gap > bound")
    assert "numeric verdict was PASS" in bad.reason
    # an incomplete certificate (the enclosed root may not be the flow's limit) decides nothing
    part = apply_certificate(_row(PASS), {"decision": "certified", "complete": False, "proven": "gap ≤ bound",
                                          "incomplete": "other roots not excluded"})
    assert part.verdict == PASS and part.reason.startswith("not certified: gap ≤ bound, but other roots")
    und = apply_certificate(_row(FAIL), {"decision": "undecided", "complete": True, "reason": "straddles"})
    assert und.verdict == FAIL and und.reason.startswith("not certified: straddles")
    na = apply_certificate(_row(PASS), {"decision": "not_applicable", "reason": "finite time"})
    assert na.verdict == PASS and na.reason == "numeric note" and not na.certificate["applied"]
    skip = apply_certificate(_row(SKIP, "assumption fails"), ok)
    assert skip.verdict == SKIP and skip.reason == "assumption fails"
    counts = count_verdicts([r, over, bad, part, und, na, skip])
    assert counts == {CERTIFIED: 2, PASS: 2, FAIL: 2, SKIP: 1, "certified_fail": 1}


def test_certified_is_a_verdict_and_the_row_json_carries_the_certificate():
    assert CERTIFIED in R.VERDICTS and R.VERDICTS[0] == CERTIFIED
    r = apply_certificate(_row(PASS), {"decision": "certified", "complete": True, "proven": "x",
                                       "balls": {"r": {"mid": "1", "rad": "1e-40", "digits": 40.0}}})
    d = json.loads(json.dumps(r.as_dict()))
    assert d["verdict"] == CERTIFIED and d["certificate"]["balls"]["r"]["rad"] == "1e-40"
    assert "certificate" not in _row().as_dict()  # rows without --certify keep their JSON


def test_only_c5_c6_c7_are_certifiable():
    assert {c.id for c in R.all_claims() if c.certifiable} == {"C5", "C6", "C7"}


# -- CERTIFIED on real cases; the balls contain the toolkit's values ------------------------------
def _balls_roundtrip(row):
    """The row's certificate balls, through JSON and back (``ball_from_json``), at 400 bits."""
    doc = json.loads(json.dumps(row.as_dict()))
    with C._precision(400):
        return {k: C.ball_from_json(v) for k, v in doc["certificate"]["balls"].items() if isinstance(v, dict)}


def test_c6_is_certified_on_cs30_and_its_balls_contain_the_toolkits_values():
    case = LM.cases_c6("quick")[0]  # cs30, L = 2, η̃ = 0.1
    rows = R.get("C6").run(case.problem, case.config, case.dps, label=case.label, certify=True)
    main, cross = rows
    assert main.verdict == CERTIFIED, main.reason
    cert = main.certificate
    assert cert["decision"] == "certified" and cert["complete"] and cert["uniqueness"] == "unique"
    assert cert["l1_optimal"] and cert["digits"] > 20
    assert cross.verdict == PASS and cross.certificate["decision"] == "not_applicable"
    balls = _balls_roundtrip(main)
    # the toolkit's own limit at the certificate's dps and, independently, at 60 digits
    for dps in (LM.CERT_DPS, 60):
        lim = limit_solve(case.problem, case.config, dps=dps)
        with C._precision(400):
            assert balls["r"].contains(C.to_arb(lim.r_inf)), dps
            with mpmath.workdps(dps):
                S = mpmath.fsum(mpmath.mpf(v) for v in lim.x_inf)
            assert balls["S"].contains(C.to_arb(S)), dps
    # the exact ℓ1 optimum lies in its ball, and the certified gap in [0, bound]
    with C._precision(400):
        assert balls["l1_opt"].contains(C.to_arb(Fraction(cert["l1_exact"])))
        assert balls["margin"] >= 0 and balls["bound"] > balls["gap"]


def test_c5_limit_rows_are_certified_and_the_finite_time_rows_are_not_applicable():
    case = LM.cases_c5("quick")[0]  # interior, L = 2, dps 30: the Taylor flow converges
    rows = R.get("C5").run(case.problem, case.config, case.dps, label=case.label, certify=True, **dict(case.options))
    by = {r.setting.split("[")[-1].rstrip("]"): r for r in rows}
    for name in ("limit", "flow vs limit, dps=30", "limit re-projected, dps=30"):
        assert by[name].verdict == CERTIFIED, (name, by[name].reason)
        assert by[name].certificate["toolkit_x_inside"] is True  # limit_solve's x_∞ lies in the enclosure
    for name in ("finite time", "finite time, dps=30"):
        assert by[name].verdict == PASS and by[name].certificate["decision"] == "not_applicable"
    balls = _balls_roundtrip(by["limit re-projected, dps=30"])
    lim = limit_solve(case.problem, case.config, dps=60)  # an independent, more precise computation
    with C._precision(400):
        assert balls["r"].contains(C.to_arb(lim.r_inf))
    doc = json.loads(json.dumps(by["limit"].as_dict()))
    with C._precision(400):
        X = [C.ball_from_json(b) for b in doc["certificate"]["balls"]["x"]]
        assert all(b.contains(C.to_arb(v)) for b, v in zip(X, lim.x_inf))


def test_c7_is_certified_and_the_planted_reversal_is_a_certified_fail():
    case = LM.cases_c7("quick")[0]
    c7 = R.get("C7")
    good = c7.run(case.problem, case.config, case.dps, certify=True, **dict(case.options))[0]
    assert good.verdict == CERTIFIED, good.reason
    pts = good.certificate["balls"]["points"]
    assert len(pts) >= 3 and good.certificate["digits"] > 20
    wrong = c7.run(case.problem, case.config, case.dps, certify=True, variant="increasing", **dict(case.options))[0]
    assert wrong.verdict == FAIL and wrong.reason.startswith("certified FAIL"), wrong.reason
    assert wrong.certificate["decision"] == "certified_fail"


# -- a planted bound 1 % too small at the tight cases ------------------------------------------
@pytest.mark.parametrize("tc", TIGHT_CASES, ids=[t.label for t in TIGHT_CASES])
def test_a_bound_one_percent_too_small_at_a_tight_case_is_never_certified(tc):
    c6 = R.get("C6")
    p, cfg = tc.problem(), tc.config()
    true = c6.run(p, cfg, None, certify=True)[0]
    assert true.verdict == CERTIFIED, true.reason  # tight-L3 / tight-L4 through the branch and bound
    assert true.certificate["decision"] == "certified"  # the true bound holds on the whole enclosure
    with C._precision(400):
        ratio = C.ball_from_json(true.certificate["balls"]["ratio"])
    factor = min(0.99, 0.99 * float(ratio.mid()))  # the gap exceeds the planted bound by 1 %
    row = c6.run(p, cfg, None, certify=True, bound_factor=factor)[0]
    assert row.verdict == FAIL, row.reason  # never CERTIFIED, never PASS
    assert row.certificate["decision"] == "certified_fail", row.certificate
    if row.certificate["complete"]:
        assert row.reason.startswith("certified FAIL")
    else:
        assert row.reason.startswith("not certified")
    bnb = row.certificate["roots_branch_and_bound"]
    if bnb is not None:  # the branch and bound at every root never proves the planted bound
        assert bnb["decision"] != "certified", bnb


def test_a_named_wrong_variant_keeps_the_numeric_verdict():
    tc = next(t for t in TIGHT_CASES if t.label == "tight-L2")
    row = R.get("C6").run(tc.problem(), tc.config(), None, certify=True, variant="half-L2")[0]
    assert row.verdict == FAIL and row.reason.startswith("not certified: the named wrong variant")


def test_an_uncertified_limit_keeps_the_numeric_verdict(monkeypatch):
    real = C.certify_limit

    def refuse(*a, **kw):
        out = real(*a, **kw)
        out.certified, out.reason = False, "planted: not certified"
        return out

    monkeypatch.setattr(C, "certify_limit", refuse)
    case = LM.cases_c6("quick")[0]
    row = R.get("C6").run(case.problem, case.config, case.dps, certify=True)[0]
    assert row.verdict == PASS and row.reason.startswith("not certified: the limit is not certified: planted")


# -- every root of φ in the bracket (below √η̃, where numerics._certify proves existence only) --------
def _cert(label):
    tc = next(t for t in TIGHT_CASES if t.label == label)
    p, cfg = tc.problem(), tc.config()
    cert = C.certify_limit(p, cfg, limit_solve(p, cfg, dps=LM.CERT_DPS))
    assert cert.certified
    return p, cfg, cert


def test_all_roots_in_the_bracket_below_sqrt_eta():
    p, cfg, cert = _cert("tight-L2")
    assert cert.uniqueness == "existence only"  # numerics._certify alone cannot decide
    ok, why = LM.prove_all_roots_in_bracket(p, cfg, cert)
    assert ok, why
    assert "every root of φ lies in the bracket" in why


def test_all_roots_in_the_bracket_fails_for_a_bracket_that_misses_the_root():
    p, cfg, cert = _cert("tight-L2")
    with C._precision(cert.prec):
        shift = cert.r_lo * C.to_arb(Fraction(1, 10))  # a bracket 10 % above the root: the root is outside it
        cert.r_lo, cert.r_hi = (cert.r_lo + shift).mid(), (cert.r_hi + shift).mid()
    ok, why = LM.prove_all_roots_in_bracket(p, cfg, cert, max_steps=400)
    assert not ok and ("from below" in why or "stalled" in why), why


def test_a_flat_phi_is_reported_not_proven():
    # tight-L3: S(r) ≈ r² over a long range (φ/r² ~ 1e-5), so the root-free steps are tiny
    p, cfg, cert = _cert("tight-L3")
    ok, why = LM.prove_all_roots_in_bracket(p, cfg, cert, max_steps=200)
    assert not ok and "stopped" in why


# -- C6 at every root of φ: branch and bound over the radius (tight-L3, tight-L4) ------------------
def _bnb(label, **kw):
    p, cfg, cert = _cert(label)
    l1 = C.certify_l1(p)
    return p, cfg, cert, l1, C.certify_c6_at_every_root(p, cfg, cert, l1, **kw)


@pytest.mark.parametrize("label", ["tight-L3", "tight-L4"])
def test_branch_and_bound_certifies_c6_at_every_root_of_the_flat_cases(label):
    p, cfg, cert, l1, res = _bnb(label)
    assert cert.uniqueness == "existence only"
    assert res.decision is C.Decision.CERTIFIED, res.reason
    assert res.fails == 0 and res.unsettled == 0 and res.root_free > 0 and res.holds > 0
    assert res.evaluated <= C.BNB_MAX_INTERVALS
    assert res.reason.startswith("C6 holds at every root of φ in (0, ∞)")
    assert f"{res.root_free} intervals root-free, {res.holds} intervals with the comparison proven" in res.reason
    # the range runs from (min ℓ1)^(1/L) (below it φ > 0) to just below √η̃ (above it φ < 0), and
    # contains the certified bracket
    with C._precision(cert.prec):
        et = C.to_arb(cfg.exact("eta_tilde"))
        assert res.lo <= C.to_arb(l1.lower).root(cfg.L) and res.hi * res.hi <= et
        assert res.lo < cert.r_lo and cert.r_hi < res.hi
    d = json.loads(json.dumps(res.as_dict()))
    assert d["decision"] == "certified" and d["root_free"] == res.root_free and d["holds"] == res.holds


@pytest.mark.parametrize("label", ["tight-L3", "tight-L4"])
def test_the_flat_cases_rows_are_certified_by_the_branch_and_bound(label):
    tc = next(t for t in TIGHT_CASES if t.label == label)
    row = R.get("C6").run(tc.problem(), tc.config(), None, certify=True)[0]
    assert row.verdict == CERTIFIED, row.reason
    cert = row.certificate
    assert cert["complete"] and not cert["all_roots_in_bracket"]  # not through the root-free iterations
    assert cert["roots_branch_and_bound"]["decision"] == "certified"
    assert "C6 holds at every root of φ in (0, ∞)" in row.reason and "intervals root-free" in row.reason


@pytest.mark.parametrize("label", ["tight-L3", "tight-L4"])
def test_branch_and_bound_never_certifies_a_bound_one_percent_too_small(label):
    p, cfg, cert = _cert(label)
    l1 = C.certify_l1(p)
    ratio = C.compare_c6(cert, l1).details["ratio"]
    factor = 0.99 * float(ratio.mid())  # the gap exceeds the planted bound by 1 % at the root
    res = C.certify_c6_at_every_root(p, cfg, cert, l1, bound_factor=factor)
    assert res.decision is not C.Decision.CERTIFIED, res.reason
    assert res.fails > 0, res.reason  # the radii near the root refute it


def test_branch_and_bound_refutes_at_every_root_where_it_can():
    # tight-L2 (its roots are also located by the root-free iterations): a bound 1 % too small fails at every root
    p, cfg, cert, l1, res = _bnb("tight-L2")
    assert res.decision is C.Decision.CERTIFIED, res.reason
    ratio = C.compare_c6(cert, l1).details["ratio"]
    bad = C.certify_c6_at_every_root(p, cfg, cert, l1, bound_factor=0.99 * float(ratio.mid()))
    assert bad.decision is C.Decision.CERTIFIED_FAIL, bad.reason
    assert bad.holds == 0 and bad.fails > 0 and bad.reason.startswith("C6 fails at every root of φ in (0, ∞)")


def test_branch_and_bound_refuses_when_its_budget_is_too_small():
    p, cfg, cert, l1, res = _bnb("tight-L3", max_intervals=20)
    assert res.decision is C.Decision.UNDECIDED and "budget ran out (20 intervals)" in res.reason, res.reason
    assert res.unsettled > 0 and res.evaluated == 20
    res = C.certify_c6_at_every_root(p, cfg, cert, l1, time_limit=0.0)
    assert res.decision is C.Decision.UNDECIDED and "budget ran out" in res.reason and " s of 0 s" in res.reason


def test_a_row_whose_branch_and_bound_budget_is_too_small_is_not_certified(monkeypatch):
    monkeypatch.setattr(LM, "C6_ROOTS_MAX_INTERVALS", 20)
    real = LM.prove_all_roots_in_bracket  # shorter root-free iterations (they fail here anyway): a fast test
    monkeypatch.setattr(LM, "prove_all_roots_in_bracket", lambda *a, **kw: real(*a, **{**kw, "max_steps": 200}))
    tc = next(t for t in TIGHT_CASES if t.label == "tight-L3")
    row = R.get("C6").run(tc.problem(), tc.config(), None, certify=True)[0]
    assert row.verdict == PASS and row.reason.startswith("not certified"), row.reason
    assert "branch and bound over the radius did not settle it" in row.reason and "budget ran out" in row.reason
    assert not row.certificate["complete"] and row.certificate["roots_branch_and_bound"]["decision"] == "undecided"


def test_branch_and_bound_with_only_uniqueness_above_sqrt_eta():
    # false-L2-claim at L = 3, η̃ = 6: the root lies above √η̃ and is unique; told only "unique above √η̃"
    # (a weaker, true statement), the branch and bound must show (0, √η̃] root-free or holding, and the
    # bracket decides the root above
    import dataclasses

    from numerics._config import FlowConfig

    tc = next(t for t in TIGHT_CASES if t.label == "false-L2-claim")
    p, cfg = tc.problem(), FlowConfig(L=3, r0="1", eta_r="6", eta_u=1)
    cert = C.certify_limit(p, cfg, limit_solve(p, cfg, dps=LM.CERT_DPS))
    assert cert.certified and cert.uniqueness == "unique"
    weak = dataclasses.replace(cert, uniqueness="unique above √η̃")
    l1 = C.certify_l1(p)
    ok = C.certify_c6_at_every_root(p, cfg, weak, l1)
    assert ok.decision is C.Decision.CERTIFIED and "(and the bracket above √η̃)" in ok.reason, ok.reason
    bad = C.certify_c6_at_every_root(p, cfg, weak, l1, bound_factor=Fraction(1, 10))  # ratio 0.16 at L = 2; far off here
    assert bad.decision is C.Decision.CERTIFIED_FAIL, bad.reason
    assert C.certify_c6_at_every_root(p, cfg, cert, l1).decision is C.Decision.CERTIFIED  # unique: the bracket decides
