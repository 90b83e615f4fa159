"""Exact parameters (issue 19): "0.1" is one tenth, 0.1 is the double, at every precision.

The reference limit is computed here at 60 digits, independently of numerics._limit and
numerics._bregman: a bracketed root-find (the Illinois method) on
φ(r) = Σ x_i(r) − r² (L = 2, docs/math.md §4), with each x(r) the Bregman projection of
β(r) = (w₀/ρ(r))² onto {z ≥ 0 : Az = y} by damped Newton on its dual, written out below:
x(ν) = β ⊙ exp(Aᵀν) maximises ψ(ν) = ⟨ν, y⟩ − Σ x(ν) (for F(z) = Σ z log z − z).
"""

from __future__ import annotations

import decimal
import json
import math
import pickle
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from numerics import Status
from numerics._config import FlowConfig, exact_string
from numerics._limit import limit_solve
from numerics._precision import K_ROUNDOFF, K_SOLVE, tol, workdps
from numerics._problem import Problem

DPS = 40
REF_DPS = 60
TENTH = "0.1"
DOUBLE_TENTH = Fraction(0.1)          # 0.1000000000000000055511151231257827021181583404541015625
DELTA = DOUBLE_TENTH - Fraction(1, 10)  # 5.55e-18: how far the double is from one tenth


@pytest.fixture(scope="module")
def problem():
    # Gaussian 8×20 with a strictly positive truth, so that Az = y has a strictly positive solution
    # and the limit is interior (all x_i > 0, none near float64's underflow)
    rng = np.random.default_rng(19)
    A = rng.standard_normal((8, 20)) / math.sqrt(8)
    return Problem(A, A @ rng.uniform(0.5, 1.5, 20), model="positive")


# ------------------------------------------------------------------------------------------
# the independent 60-digit reference
# ------------------------------------------------------------------------------------------
class _Reference:
    """φ and its root for L = 2, uniform u₀, at the current mpmath precision."""

    def __init__(self, problem, r0, eta):
        self.A = [[mpmath.mpf(float(a)) for a in row] for row in problem.A_eff]
        self.y = [mpmath.mpf(float(v)) for v in problem.y]
        self.n = problem.n
        self.r0, self.eta = mpmath.mpf(r0), mpmath.mpf(eta)
        self.nu = [mpmath.mpf(0)] * len(self.y)
        self.started = False

    def log_beta(self, r, eta):
        log_rho = mpmath.log(self.r0 / r) + (r * r - self.r0 * self.r0) / (2 * eta)
        return [2 * (mpmath.log(self.r0) - mpmath.log(self.n) / 2 - log_rho)] * self.n

    def _newton(self, logb, nu):
        """Damped Newton on the concave dual from ``nu``; the dual point, or None if it stalls."""
        A, y, M = self.A, self.y, len(self.y)
        goal = mpmath.mpf(10) ** (-mpmath.mp.dps + 8) * mpmath.norm(y)

        def point(nu):
            x = [mpmath.exp(lb + mpmath.fdot((A[i][j] for i in range(M)), nu)) for j, lb in enumerate(logb)]
            return x, mpmath.fdot(nu, y) - mpmath.fsum(x)

        x, psi = point(nu)
        for _ in range(100):
            g = [yi - mpmath.fdot(row, x) for row, yi in zip(A, y)]
            if mpmath.norm(g) <= goal:
                return nu, x
            H = mpmath.matrix(M, M)
            for i in range(M):
                for k in range(i, M):
                    H[i, k] = H[k, i] = mpmath.fsum(A[i][j] * A[k][j] * x[j] for j in range(self.n))
            d = mpmath.cholesky_solve(H, mpmath.matrix(g))
            t = mpmath.mpf(1)
            while True:  # backtracking on the concave dual ψ
                cand = [a + t * d[i] for i, a in enumerate(nu)]
                xc, pc = point(cand)
                # Armijo, up to the rounding of ψ itself (near the solution the gain is below it)
                if pc >= psi + t * mpmath.fdot(g, d) / 4 - mpmath.eps * 100 * (abs(psi) + mpmath.fsum(x)):
                    break
                t /= 2
                if t < mpmath.mpf(10) ** -20:
                    return None
            nu, x, psi = cand, xc, pc
        return None

    def project(self, logb):
        if self.started:
            out = self._newton(logb, self.nu)
        else:
            # first call: continuation from β = 1 (where ν = 0 is a good start) to the target β
            out, nu = None, [mpmath.mpf(0)] * len(self.y)
            steps = 8
            for k in range(1, steps + 1):
                out = self._newton([lb * k / steps for lb in logb], nu)
                assert out is not None, "reference continuation stalled"
                nu = out[0]
            self.started = True
        assert out is not None, "reference dual Newton did not converge"
        self.nu, x = out
        return x

    def phi(self, r, eta=None):
        x = self.project(self.log_beta(r, self.eta if eta is None else eta))
        return mpmath.fsum(x) - r * r

    def root(self, lo, hi):
        """Illinois (regula falsi with halving of the stale end) on a bracket, to the working precision."""
        lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
        flo, fhi = self.phi(lo), self.phi(hi)
        assert flo > 0 > fhi, "the reference bracket does not bracket the root"
        r, side = lo, 0
        for _ in range(200):
            r = (lo * fhi - hi * flo) / (fhi - flo)
            fr = self.phi(r)
            if fr == 0 or hi - lo <= mpmath.eps * 10 * r:
                break
            if fr > 0:
                lo, flo = r, fr
                if side == 1:
                    fhi /= 2
                side = 1
            else:
                hi, fhi = r, fr
                if side == -1:
                    flo /= 2
                side = -1
            if abs(fr) <= mpmath.eps * 10 * r * r:
                break
        return r


def _reference_root(problem, eta, around):
    """The root of φ for η̃ = ``eta`` at REF_DPS digits, bracketed by ``around·(1 ± 1e-9)``;
    also returns dr/dη̃ = −∂φ/∂η̃ / ∂φ/∂r by central differences (h² error ≈ 1e-30)."""
    with workdps(REF_DPS):
        ref = _Reference(problem, 1, eta)
        r = ref.root(around * (1 - 1e-9), around * (1 + 1e-9))
        h = mpmath.mpf(10) ** -15
        dphi_dr = (ref.phi(r + h) - ref.phi(r - h)) / (2 * h)
        dphi_de = (ref.phi(r, ref.eta + h) - ref.phi(r, ref.eta - h)) / (2 * h)
        return +r, +(-dphi_de / dphi_dr), +ref.phi(r)


# ------------------------------------------------------------------------------------------
# issue 19, done-when: "0.1" at dps = 40 is the one-tenth limit; 0.1 is the double's
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def solves(problem):
    tenth = limit_solve(problem, FlowConfig(L=2, r0=1, eta_r=TENTH), dps=DPS)
    double = limit_solve(problem, FlowConfig(L=2, r0=1, eta_r=0.1), dps=DPS)
    assert tenth.status is Status.CONVERGED, tenth.message
    assert double.status is Status.CONVERGED, double.message
    around = float(tenth.r_inf)
    with workdps(REF_DPS):
        ref_tenth = _reference_root(problem, mpmath.mpf(1) / 10, around)
        ref_double = _reference_root(problem, mpmath.mpf(0.1), around)  # mpf(0.1) is the double, exactly
    return tenth, double, ref_tenth, ref_double


def test_string_tenth_is_one_tenth_against_a_60_digit_reference(solves):
    tenth, _, (r_ref, _, phi_ref), _ = solves
    with workdps(REF_DPS):
        assert abs(phi_ref) <= tol(REF_DPS, K_SOLVE) * r_ref ** 2  # the reference is a root
        err = abs(tenth.r_inf - r_ref)
        assert err <= tol(DPS, K_SOLVE) * r_ref
        assert err <= tenth.r_inf_error  # the reported error bar holds
    assert tenth.params["eta_r"] == "0.1" and tenth.params["eta_tilde"] == "0.1"


def test_float_tenth_is_the_double_and_differs_at_the_25th_digit(solves):
    tenth, double, (r_t, drde, _), (r_d, _, _) = solves
    with workdps(REF_DPS):
        assert abs(double.r_inf - r_d) <= tol(DPS, K_SOLVE) * r_d
        assert abs(double.r_inf - r_d) <= double.r_inf_error
        diff = double.r_inf - tenth.r_inf
        # first order in δ = 0.1(double) − 1/10: r(η̃ + δ) − r(η̃) = (dr/dη̃)·δ (1 + O(δ/η̃))
        predicted = drde * mpmath.mpf(DELTA.numerator) / DELTA.denominator
        allowance = (tenth.r_inf_error + double.r_inf_error) / abs(predicted) + 10 * float(DELTA / Fraction(1, 10))
        assert abs(diff / predicted - 1) <= allowance
        digit = -mpmath.log10(abs(diff) / r_t)
    assert 23 <= digit <= 27, f"the two limits differ at relative 1e-{float(digit):.1f}"
    assert double.params["eta_r"] == exact_string(DOUBLE_TENTH) != tenth.params["eta_r"]
    # reported differently: their 40-digit strings differ
    assert mpmath.nstr(double.r_inf, DPS) != mpmath.nstr(tenth.r_inf, DPS)


def test_parameter_string_survives_config_result_json_at_60_digits(problem):
    s = "0.123456789012345678901234567890123456789012345678901234567891"  # 60 significant digits
    r0 = "0.98765432109876543210987654321098765432109876543210987654321"
    cfg = FlowConfig(L=2, r0=r0, eta_r=s, eta_u="1")
    with workdps(REF_DPS):
        assert cfg.mp("eta_r") == mpmath.mpf(s) and cfg.mp("r0") == mpmath.mpf(r0)
    # config → dict → JSON → config
    back = FlowConfig.from_dict(json.loads(json.dumps(cfg.as_dict())))
    assert back == cfg and back.exact("eta_r") == Fraction(s) and back.exact_strings()["r0"] == r0
    # config → result → JSON-able dict
    res = limit_solve(problem, cfg, dps=REF_DPS)
    assert res.status is Status.CONVERGED, res.message
    doc = json.loads(json.dumps(res.to_dict()))
    assert doc["params"]["eta_r"] == s and doc["params"]["eta_tilde"] == s and doc["params"]["r0"] == r0
    assert doc["dps"] == REF_DPS
    with workdps(REF_DPS):
        assert abs(mpmath.mpf(doc["r_inf"]) - res.r_inf) <= tol(REF_DPS, K_ROUNDOFF) * res.r_inf
        # and the solve used the 60-digit value: the same problem with η̃ rounded to a double differs
        # by about (dr/dη̃)·(s − double(s)), far above the 60-digit error bar
        rounded = limit_solve(problem, FlowConfig(L=2, r0=r0, eta_r=float(s)), dps=REF_DPS)
        assert abs(rounded.r_inf - res.r_inf) > 1e6 * (res.r_inf_error + rounded.r_inf_error)


# ------------------------------------------------------------------------------------------
# FlowConfig: what it accepts, what it refuses, what it keeps
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, exact", [
    ("0.1", Fraction(1, 10)), (" 1e-3 ", Fraction(1, 1000)), ("1/3", Fraction(1, 3)), ("2", Fraction(2)),
    ("0x1.999999999999ap-4", Fraction(0.1)), (0.1, Fraction(0.1)), (3, Fraction(3)),
    (Fraction(2, 7), Fraction(2, 7)), (decimal.Decimal("0.1"), Fraction(1, 10)),
    (mpmath.mpf(0.1), Fraction(0.1)), (np.float64(0.25), Fraction(1, 4)), (np.float32(0.1), Fraction(float(np.float32(0.1)))),
    (np.int64(5), Fraction(5)),
])
def test_accepted_types_are_kept_exactly(value, exact):
    cfg = FlowConfig(r0=value, eta_r=value, eta_u=value, u0=(value, value))
    for name in ("r0", "eta_r", "eta_u"):
        assert cfg.exact(name) == exact
        assert isinstance(getattr(cfg, name), float) and getattr(cfg, name) == float(exact)
    assert cfg.exact("eta_tilde") == 1 and cfg.u0_exact == (exact, exact)
    assert Fraction(cfg.exact_strings()["r0"]) == exact


def test_float_stays_the_double_and_string_is_decimal():
    d, t = FlowConfig(eta_r=0.1), FlowConfig(eta_r="0.1")
    assert d.eta_r == t.eta_r  # the same float64 rounding ...
    assert d != t and hash(d) != hash(t)  # ... but different parameters
    assert d.exact_strings()["eta_r"] == "0.1000000000000000055511151231257827021181583404541015625"
    assert t.exact_strings()["eta_r"] == "0.1"
    assert FlowConfig(eta_r="1/3").exact_strings()["eta_r"] == "1/3"
    with workdps(30):
        assert t.mp("eta_r") == mpmath.mpf(1) / 10 and d.mp("eta_r") == mpmath.mpf(0.1)
        # η̃ = η_r/η_u formed exactly, then rounded once
        c = FlowConfig(eta_r="1", eta_u="3")
        assert c.mp("eta_tilde") == mpmath.mpf(1) / 3 and c.eta_tilde == 1 / 3


def test_exact_values_survive_replace_pickle_and_repr():
    cfg = FlowConfig(L=3, r0="0.3", eta_r="1/7", eta_u="2", u0=("0.1", "0.2", 0.3))
    for other in (cfg.replace(rates="r2").replace(rates="constant"), pickle.loads(pickle.dumps(cfg)),
                  eval(repr(cfg), {"FlowConfig": FlowConfig})):
        assert other == cfg and other.exact_strings() == cfg.exact_strings()
    assert cfg.replace(eta_r=0.5).exact("eta_r") == Fraction(1, 2) and cfg.replace(eta_r=0.5).exact("r0") == Fraction(3, 10)


def test_w0_at_dps_is_not_the_float64_one():
    n = 3
    cfg = FlowConfig(r0="0.1", u0=("0.1", "0.2", "0.7"))
    with workdps(50):
        u = [mpmath.mpf(1) / 10, mpmath.mpf(2) / 10, mpmath.mpf(7) / 10]
        nrm = mpmath.sqrt(mpmath.fsum(v * v for v in u))
        want = [v / nrm / 10 for v in u]
        for got, w in zip(cfg.w0_mp(n), want):
            assert abs(got - w) <= tol(50, K_ROUNDOFF) * w
        for got, w in zip(cfg.log_w0_mp(n), want):
            assert abs(got - mpmath.log(w)) <= tol(50, K_ROUNDOFF)
        # the float64 route (r0·ū0 in doubles) is off by ~1e-17, which 50 digits must not inherit
        w64 = cfg.w0_for(n)
        assert max(abs(mpmath.mpf(float(a)) - b) / b for a, b in zip(w64, want)) > tol(50, K_ROUNDOFF)
        uni = FlowConfig(r0="1").w0_mp(5)
        assert all(abs(v - 1 / mpmath.sqrt(5)) <= tol(50, K_ROUNDOFF) for v in uni)


@pytest.mark.parametrize("name", ["r0", "eta_r", "eta_u"])
@pytest.mark.parametrize("bad", ["x", "", "nan", "inf", "-1", "0", "1j", "1/0", "1e400", 0, -2.0, math.inf, math.nan,
                                 1j, complex(1, 0), True, None, [1.0], np.complex128(1), mpmath.mpc(1, 0),
                                 decimal.Decimal("NaN")])
def test_bad_values_are_value_errors_naming_the_parameter(name, bad):
    with pytest.raises(ValueError, match=name):
        FlowConfig(**{name: bad})


@pytest.mark.parametrize("bad", [("1", "x"), (1.0, -1.0), (1.0, 0), (1j,), (), "12", 3.0])
def test_bad_u0_is_a_value_error(bad):
    with pytest.raises(ValueError, match="u0"):
        FlowConfig(u0=bad)


def test_as_dict_is_json_and_keeps_the_float_fields():
    cfg = FlowConfig(eta_r="0.1", u0=("1/3", 1))
    d = json.loads(json.dumps(cfg.as_dict()))
    assert d["eta_r"] == 0.1 and d["eta_tilde"] == 0.1 and d["u0"] == [1 / 3, 1.0]
    assert d["exact"] == {"r0": "1", "eta_r": "0.1", "eta_u": "1", "eta_tilde": "0.1", "u0": ["1/3", "1"]}
    assert FlowConfig.from_dict(d) == cfg


@pytest.mark.parametrize("text", ["1e1000000000", "1e-1000000000", "3/1e100000000"])
def test_huge_decimal_exponent_is_refused_not_built(text):
    """``Fraction("1e1000000000")`` builds a 10^(10^9) integer (the CLI hung on ``--r0 1e1000000000``):
    such strings are refused before any big integer is made."""
    with pytest.raises(ValueError, match="exponent beyond"):
        FlowConfig(r0=text)
    from wnbias.cli import main

    assert main(["solve", "--generate", "sparse_positive", "--N", "6", "--M", "3", "--r0", text, "--no-progress"]) == 2
