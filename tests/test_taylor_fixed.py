"""The fixed-point jet of the Taylor integrator (``numerics._taylor._FixedJet``).

Claims tested: with a time unit (every step after the first), the WN jet's mpfr orders run in exact
integer arithmetic at a common time-scaled fixed point; its coefficients agree with the all-mpfr jet
to the working precision in the sense that matters for a step (``|Δc_j| h^j ≤ tol·|c_0|`` per component at
the Jorba–Zou step ``h``, tiny components included), a whole run agrees with the all-mpfr run within the tolerance,
and a step that outgrows the unit is redone in mpfr (bit for bit the all-mpfr run).
"""

from __future__ import annotations

import math

import gmpy2
import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numerics._taylor as taylor
from numerics._config import FlowConfig
from numerics._precision import K_ACCUMULATED, K_ROUNDOFF, tol, workdps
from numerics._problem import generate
from numerics._taylor import _System, integrate_taylor

DPS = 30
_mp = taylor._to_mpf  # exact mpfr → mpf


def _jets(pb, cfg, u, r, p, k0, hint, dps):
    """``(fixed-point jet, mpfr jet, Jorba–Zou step of the mpfr jet)`` of the WN flow at the state
    ``(r, 1/‖u‖, u)``; the fixed-point jet's time unit comes from ``hint(h_JZ)`` (the previous step)."""
    with workdps(dps):
        prec = mpmath.mp.prec
        with gmpy2.context(gmpy2.get_context(), precision=prec):
            sysm = _System(pb, cfg)
            um = [gmpy2.mpfr(float(v)) for v in u]
            q = 1 / gmpy2.sqrt(sum(v * v for v in um))
            sysm.fixed_point = False
            b, _ = sysm.jet_wn(gmpy2.mpfr(r), q, um, p, k0, None)
            assert sysm.int_H is None
            h = taylor._step_size(b, p, -(dps + taylor.TRUNC_DIGITS) * np.log(10.0))[0]
            sysm.fixed_point = True
            a, _ = sysm.jet_wn(gmpy2.mpfr(r), q, um, p, k0, hint(h))
            assert sysm.int_H is not None  # the fixed-point jet ran
            assert h <= sysm.int_H * 2.0 ** (taylor.FIXED_GUARD_BITS / p)  # the integrator would keep it
            return a, b, h


def _assert_close_to_the_mpfr_jet(a, b, h, k0=None):
    """The jet ``a`` is the all-mpfr jet ``b`` up to rounding, and from order ``k0`` on (None: no float
    tail) up to the float tail's own error (relative 1e-12 per coefficient)."""
    with workdps(DPS + 10):
        for sa, sb in zip(a, b):
            c0 = abs(_mp(sb[0]))
            for j, (x, z) in enumerate(zip(sa, sb)):
                hj = mpmath.mpf(h) ** j
                tail = k0 is not None and j >= k0
                lim = tol(DPS, K_ROUNDOFF) * c0 + (1e-12 * abs(_mp(z)) * hj if tail else 0)
                assert abs(_mp(x) - _mp(z)) * hj <= lim, (j, x, z)


@given(seed=st.integers(0, 10_000), L=st.sampled_from([2, 3]), rates=st.sampled_from(["constant", "r2"]),
       tiny=st.booleans(), prev=st.floats(0.4, 2.0))
def test_fixed_point_jet_matches_the_mpfr_jet(seed, L, rates, tiny, prev):
    pb = generate("sparse_positive", 7, 3, seed)
    cfg = FlowConfig(L=L, r0=1.2, eta_r=0.3, eta_u=1.0, rates=rates)
    rng = np.random.default_rng(seed)
    u = rng.uniform(0.1, 1.0, pb.n)
    if tiny:
        u[0] = 1e-40  # per-column scales: a tiny component keeps its relative accuracy
    p = taylor.taylor_order(DPS)
    a, b, h = _jets(pb, cfg, u, 1.2, p, None, lambda hj: prev * hj, DPS)
    _assert_close_to_the_mpfr_jet(a, b, h)


def test_fixed_point_jet_hands_over_to_the_float_tail():
    """With the mixed-precision tail the fixed-point orders hand their arrays to float64: the jet is the
    all-mpfr one up to the tail's own error."""
    pb = generate("sparse_positive", 10, 4, 3)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    u = np.full(pb.n, 1 / np.sqrt(pb.n))
    p = taylor.taylor_order(DPS)
    k0 = taylor.float_switch_order(DPS, p)
    a, b, h = _jets(pb, cfg, u, 1.0, p, k0, lambda hj: hj, DPS)
    _assert_close_to_the_mpfr_jet(a, b, h, k0)


@pytest.mark.parametrize("L,mixed", [(2, True), (3, True), (2, False)])
def test_fixed_point_run_agrees_with_the_all_mpfr_run(monkeypatch, L, mixed):
    pb = generate("sparse_positive", 12, 5, 1)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=0.1, eta_u=1.0)
    calls = []
    run = taylor._FixedJet.run

    def counted(self, *args):
        calls.append(1)
        return run(self, *args)

    monkeypatch.setattr(taylor._FixedJet, "run", counted)
    a = integrate_taylor(pb, cfg, dps=DPS, t_max=3.0, checkpoints=[1.0, 3.0], mixed=mixed)
    assert len(calls) >= a.nsteps - 1 >= 2  # every step after the first
    n_a = len(calls)
    monkeypatch.setattr(taylor, "FIXED_POINT", False)
    b = integrate_taylor(pb, cfg, dps=DPS, t_max=3.0, checkpoints=[1.0, 3.0], mixed=mixed)
    assert len(calls) == n_a  # the reference made no fixed-point jets
    assert a.nsteps == b.nsteps
    bound = tol(DPS, K_ACCUMULATED)
    with workdps(DPS):
        assert abs(a.r_final - b.r_final) <= bound * b.r_final
        for x, z in zip(a.u_final, b.u_final):
            assert abs(x - z) <= bound * z
    assert np.all(a.invariant_residual <= bound)


def test_a_step_that_outgrows_the_time_unit_is_redone_in_mpfr(monkeypatch):
    """A unit far below the step (H = h_prev / 2^10): the step check must redo every such jet in mpfr,
    so the run is bit for bit the all-mpfr run."""
    pb = generate("sparse_positive", 8, 3, 2)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)
    monkeypatch.setattr(taylor, "_fixed_unit_exponent", lambda h: int(np.floor(np.log2(h))) - 10)
    a = integrate_taylor(pb, cfg, dps=DPS, t_max=2.0, checkpoints=[2.0])
    monkeypatch.setattr(taylor, "FIXED_POINT", False)
    b = integrate_taylor(pb, cfg, dps=DPS, t_max=2.0, checkpoints=[2.0])
    assert a.nsteps == b.nsteps >= 3
    assert a.r_final == b.r_final and all(x == z for x, z in zip(a.u_final, b.u_final))


@pytest.mark.parametrize("seed,L,rates,tiny", [(0, 2, "constant", False), (1, 3, "constant", False),
                                               (2, 2, "r2", True), (3, 3, "r2", True)])
def test_first_step_fixed_point_jet_matches_the_mpfr_jet(seed, L, rates, tiny):
    """The first step (``H_hint = None``): the unit is estimated from the first orders
    (``_provisional_unit``) and lowered after a few (``_settle_unit``, which shifts the rows computed
    so far).  The step the integrator takes fits that unit, and every coefficient agrees with the
    all-mpfr jet at that step, as for a jet with a previous step."""
    pb = generate("sparse_positive", 7, 3, seed)
    cfg = FlowConfig(L=L, r0=1.2, eta_r=0.3, eta_u=1.0, rates=rates)
    u = np.random.default_rng(seed).uniform(0.1, 1.0, pb.n)
    if tiny:
        u[0] = 1e-40
    p = taylor.taylor_order(DPS)
    settled = []
    settle = taylor._FixedJet._settle_unit

    def spy(self, eta, *args):
        new = settle(self, eta, *args)
        settled.append((eta, new))
        return new

    mp = pytest.MonkeyPatch()
    mp.setattr(taylor._FixedJet, "_settle_unit", spy)
    try:
        a, b, h = _jets(pb, cfg, u, 1.2, p, None, lambda hj: None, DPS)
    finally:
        mp.undo()
    assert len(settled) == 1  # the first-step path ran: a provisional unit, then settled
    (provisional, unit), = settled
    assert unit < provisional  # lowered: the rows computed so far were shifted to the new scale
    _assert_close_to_the_mpfr_jet(a, b, h)


def test_the_diagnostics_count_the_jets_by_arithmetic(monkeypatch):
    """``TaylorDiagnostics.arithmetic`` says what the jets were computed in: fixed point for a WN run
    (every jet here), mpfr for plain GF and with ``FIXED_POINT = False``."""
    import re

    pb = generate("sparse_positive", 8, 3, 2)
    cfg = FlowConfig(L=2, r0=1.0, eta_r=0.1, eta_u=1.0)

    def counts(res):
        text = res.diagnostics.arithmetic
        got = {k: int(m.group(1)) if (m := re.search(r"(\d+) " + k, text)) else 0
               for k in ("WN jets in fixed-point", "WN jets in mpfr", "plain-GF jets in mpfr")}
        return got, text

    wn = integrate_taylor(pb, cfg, dps=DPS, t_max=2.0, checkpoints=[2.0])
    got, text = counts(wn)
    assert got["WN jets in fixed-point"] >= wn.nsteps >= 2 and got["plain-GF jets in mpfr"] == 0, text
    plain = integrate_taylor(pb, FlowConfig(L=2, r0=1.0, rates="plain"), dps=DPS, t_max=2.0, checkpoints=[2.0])
    got, text = counts(plain)
    assert got["plain-GF jets in mpfr"] >= plain.nsteps >= 1 and "fixed-point" not in text, text
    monkeypatch.setattr(taylor, "FIXED_POINT", False)
    ref = integrate_taylor(pb, cfg, dps=DPS, t_max=2.0, checkpoints=[2.0])
    got, text = counts(ref)
    assert got["WN jets in mpfr"] >= ref.nsteps and "fixed-point" not in text, text


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("speed", [1, 10**10])
def test_a_refused_float_hand_over_converts_through_mpfr(monkeypatch, L, speed):
    """Where the fixed-point arrays cannot go straight to float64 (``_FixedJet.floats`` gives None), they
    go through mpfr (``to_mpfr``) to the float tail; ``u^L``'s old rows, which ``to_mpfr`` skips, are never
    read.  A fast flow (rates times ``speed``: steps near 1e-10) takes the slow path of ``_arr_to_float``
    (``|log10 H|·(k0 + 1) ≥ 200``), where a skipped row used to raise."""
    monkeypatch.setattr(taylor._FixedJet, "floats", lambda self, Hf: None)
    pb = generate("sparse_positive", 10, 4, 3)
    cfg = FlowConfig(L=L, r0=1.0, eta_r=speed / 10, eta_u=speed)
    u = np.full(pb.n, 1 / np.sqrt(pb.n))
    p = taylor.taylor_order(DPS)
    k0 = taylor.float_switch_order(DPS, p)
    a, b, h = _jets(pb, cfg, u, 1.0, p, k0, lambda hj: hj, DPS)
    assert (abs(math.log10(h)) * (k0 + 1) >= 200) == (speed > 1)  # the path named above
    _assert_close_to_the_mpfr_jet(a, b, h, k0)
