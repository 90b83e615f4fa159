"""Step-size data of the Taylor integrator (``numerics._taylor._rel_norms``).

Claims tested: the relative coefficient norms ``ν_j = max_i |c_ij|/|c_i0|`` that choose the step and the
float tail are, on the float64 path, within a few units of 2^-53 of the exact mpfr computation; states the
float64 path cannot carry (tiny or huge coefficients, a zero leading coefficient, a column of zeros) take
the mpfr path and give exactly its values; and whole runs (L = 2 and 3, both rate laws, a tiny component)
agree with the all-mpfr run within the tolerance.
"""

from __future__ import annotations

import gmpy2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numerics._taylor as taylor
from numerics._config import FlowConfig
from numerics._precision import K_ACCUMULATED, tol, workdps
from numerics._problem import generate
from numerics._taylor import _rel_norms, integrate_taylor

PREC = 170


def _mpfr_reference(series):
    C = np.array([list(s) for s in series], dtype=object)
    c0 = np.abs(C[:, 0])
    if any(v == 0 for v in c0):
        return None
    return (np.abs(C) / c0[:, None]).max(axis=0)


def _series(rng, n, p, scale_exp):
    """``n`` series of ``p+1`` mpfr coefficients (signs mixed), coefficient ``j`` about ``10^(e_i + j·d)``."""
    out = []
    for i in range(n):
        e0 = int(rng.integers(-scale_exp, scale_exp + 1))
        d = float(rng.uniform(-3, 3))
        row = [gmpy2.mpfr(float(rng.uniform(0.5, 2.0)) * (1 if rng.random() < 0.5 else -1))
               * gmpy2.mpfr(10) ** int(round(e0 + j * d)) for j in range(p + 1)]
        out.append(row if rng.random() < 0.5 else np.array(row, dtype=object))
    return out


@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), p=st.integers(1, 40), scale=st.sampled_from([0, 30, 200]))
def test_float_path_matches_the_mpfr_values(seed, n, p, scale):
    rng = np.random.default_rng(seed)
    with gmpy2.context(gmpy2.get_context(), precision=PREC):
        s = _series(rng, n, p, scale)
        got = _rel_norms(s)
        want = _mpfr_reference(s)
        assert len(got) == len(want) == p + 1
        for g, w in zip(got, want):
            assert abs(g - w) <= 2.0 ** -50 * w, (g, w)
        mags = [abs(v) for row in s for v in row]
        if all(gmpy2.mpfr("1e-140") <= v <= gmpy2.mpfr("1e140") for v in mags):  # every entry and quotient normal
            assert all(g == gmpy2.mpfr(float(g)) for g in got)  # the float64 path was taken (mpfr would keep 170 bits)


@pytest.mark.parametrize("case", ["tiny_leading", "huge", "underflow", "zero_leading", "zero_column", "overflow_ratio",
                                  "subnormal_ratio"])
def test_states_outside_float_range_take_the_exact_path(case):
    rng = np.random.default_rng(1)
    with gmpy2.context(gmpy2.get_context(), precision=PREC):
        s = [[gmpy2.mpfr(1.0) / (j + 1) for j in range(11)] for _ in range(4)]
        if case == "tiny_leading":
            s[1][0] = gmpy2.mpfr("1e-320")
        elif case == "huge":
            s[2][5] = gmpy2.mpfr("1e400")
        elif case == "underflow":  # ν_j tiny: its maximum may sit on an entry float64 cannot hold
            for row in s:
                row[7] = gmpy2.mpfr("1e-330") * float(rng.uniform(1, 2))
        elif case == "zero_leading":
            s[0][0] = gmpy2.mpfr(0)
        elif case == "zero_column":
            for row in s:
                row[3] = gmpy2.mpfr(0)
        elif case == "overflow_ratio":
            s[3][0] = gmpy2.mpfr("1e-280")
            s[3][4] = gmpy2.mpfr("1e200")
        elif case == "subnormal_ratio":  # normal entries, huge leading ones: ν_1 ≈ 3e-322 would be subnormal
            s = [[gmpy2.mpfr(v) for v in (1e299, 3.3e-23, 1e-5)], [gmpy2.mpfr(v) for v in (2e299, 1.7e-23, 1e-4)]]
        want = _mpfr_reference(s)
        got = _rel_norms(s)
        if want is None:
            assert got is None
        else:
            assert all(g == w for g, w in zip(got, want))  # bit for bit the mpfr values


@pytest.mark.parametrize("L,rates,tiny", [(2, "constant", 1e-40), (3, "constant", None), (3, "r2", 1e-8)])
def test_runs_agree_with_the_all_mpfr_run(monkeypatch, L, rates, tiny):
    pb = generate("sparse_positive", 12, 5, 3)
    u0 = None
    if tiny:
        u0 = np.ones(pb.n)
        u0[2] = tiny
        u0 = tuple(u0 / np.linalg.norm(u0))
    cfg = FlowConfig(L=L, r0=1.0, eta_r=0.1, eta_u=1.0, rates=rates, u0=u0)
    a = integrate_taylor(pb, cfg, dps=30, t_max=2.0, checkpoints=[2.0])
    monkeypatch.setattr(taylor, "FIXED_POINT", False)
    monkeypatch.setattr(taylor, "_NU_FLOAT_MIN", float("inf"))  # every ν_j in mpfr
    b = integrate_taylor(pb, cfg, dps=30, t_max=2.0, checkpoints=[2.0])
    assert a.nsteps >= 2 and abs(a.nsteps - b.nsteps) <= 1
    bound = tol(30, K_ACCUMULATED)
    with workdps(30):
        assert abs(a.r_final - b.r_final) <= bound * b.r_final
        for x, z in zip(a.u_final, b.u_final):
            assert abs(x - z) <= bound * z
    assert np.all(a.invariant_residual <= bound)
