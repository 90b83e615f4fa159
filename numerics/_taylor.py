"""Arbitrary-precision integration of the flows by a Taylor-series method.

The right-hand sides of docs/math.md §2 are polynomial in the state once ``q = 1/‖u‖`` is carried
as an auxiliary variable, so the Taylor coefficients of the solution follow from recurrences
(Cauchy products of series; per order one product with ``A`` and one with ``Aᵀ``).

WN-GF (``rates="constant"``; ``"r2"`` is the same with ``η_r = r²``, ``η_u = 1``), state
``(r, q, u)`` with ``a = r q`` (so ``w = a u``)::

    x   = a^L u^L                       A x = a^L ⊛ (A u^L)
    e   = A x − y,   g = Aᵀ e,          ∇ℒ_i = L a^{L−1} u_i^{L−1} g_i
    σ̂   = ⟨u, ∇ℒ⟩ = L a^{L−1} ⟨A u^L, e⟩          (σ = q σ̂)
    ṙ   = −η_r q σ̂
    u̇_i = −η_u a (∇ℒ_i − q² σ̂ u_i) = u_i^{L−1} (Aᵀψ)_i + c₂ u_i,
          ψ = −η_u L a^L e,  c₂ = η_u a q² σ̂
    q̇   = −q³ ⟨u, u̇⟩ = −q³ (⟨A u^L, ψ⟩ + c₂ ‖u‖²)

``q̇`` is the exact derivative of ``1/‖u‖`` along the system, so ``q = 1/‖u‖`` is kept by
the equations; ``‖u‖ = 1`` is *not* imposed anywhere, and ``‖u(t)‖ − 1`` (computed from
``u`` itself) measures the integrator.  Plain GF integrates ``ẇ_i = w_i^{L−1}(Aᵀψ)_i`` with
``ψ = −L (A w^L − y)``.  Folding the scalar series into the ``M``-vectors before ``Aᵀ`` keeps
the per-order cost at ``O(n k + M n)`` (``1.5 n k`` multiplications in Cauchy products for
``L = 2``).

Order and step (Jorba & Zou 2005): for a local relative tolerance ``ε = 10^-(dps+3)``, order
``p = ⌈−ln ε / 2⌉ + 1`` and step ``h = min_{j∈{p−1,p}} (ε/ν_j)^{1/j}``, where ``ν_j`` is the
largest *relative* coefficient ``|c_j| / |c_0|`` over all state components (relative, because
off-support ``u_i`` are tiny and the invariant takes their logarithm).  The neglected term
``ν_p h^p`` is the per-step error estimate.  Dense output evaluates the Taylor polynomials at
requested checkpoints.  Arithmetic is ``gmpy2.mpfr`` at the precision of
``numerics._precision.workdps(dps)`` (``dps`` + guard digits) for speed; results are ``mpf``.

Mixed precision (``mixed=True``, the default): the high orders contribute so little to a
step that they are computed in float64 on time-scaled coefficients (unit ``H``: the previous
step, so ``|c_j| H^j`` stays below ``|c_0|``).  The first step starts the float tail at the
a-priori order ``k0 = float_switch_order`` (about the last third); every later step starts it
where the previous step's own contributions ``ν_j h^j`` fell below
``ε·10^(FLOAT_DIGITS−1−ADAPTIVE_MARGIN_DIGITS)``, at most at the a-priori order (earlier on
long runs), a cap raised only where a step's tail had to be redone (where the coefficients do not
decay geometrically: no alternating rejections).  Each
step checks a posteriori that the float tail's actual contribution times ``10^-FLOAT_DIGITS``
is below ``ε/10``; otherwise the jet is redone with the tail from where this jet's own
contributions allow it and, failing that, all in mpfr (``diagnostics.float_tail_rejected``).
States with components outside ``[1e-60, 1e60]`` never use the tail.  ``mixed=False`` keeps
every order in mpfr.

Speed: the per-coordinate series are ``(p+1, n)`` numpy arrays (object arrays of ``mpfr``,
then float64 in the tail), so one order's Cauchy products for all coordinates are a single
``einsum``; the products with ``A`` and ``Aᵀ`` (float64 data, so exact integers times a power
of two) are exact integer products with one rounding per result (:class:`_IntMatrix`: ``mpz``
object arrays, or for large ``A`` one float64 BLAS product on 16-bit limbs, exact because
every partial sum stays below ``2^53``).  Fixed point (:class:`_FixedJet`, WN flows): the mpfr
orders of a jet run as exact ``mpz`` arithmetic on time-scaled coefficients ``c_j H^j`` (unit ``H = 2^η``
a little above the previous step, or on the first step estimated from the first orders), each column
scaled to ``W`` = working precision + :data:`FIXED_GUARD_BITS` bits relative to its ``|c_0|``: the terms of
every Cauchy sum then share one scale, so products and sums are plain integer operations (several times
cheaper than mpfr on object arrays), the products with ``A``/``Aᵀ`` need no conversion, and only the
truncations to ``W`` bits round (absolute ``2^-W |c_0|`` per coefficient, below the working precision in a
step while ``h ≤ H·2^(FIXED_GUARD_BITS/p)``, checked on every step; otherwise the jet is redone in mpfr).
The scalar series ``r, q, a^m, …`` stay mpfr; at the float-tail order the arrays go straight to float64;
``FIXED_POINT = False`` (module switch) keeps the jets in mpfr.  The step-size data
``ν_j`` (:func:`_rel_norms`) are computed in float64 where every value lies in its normal range (they
steer the step and the float tail to a few digits), else in mpfr.  Measured (python-flint 0.9):
``arb_mat`` and ``fmpz_mat`` products are fast, but converting the jet's integers into them and back
costs 0.3–1 µs per entry, so they do not beat these kernels inside the jet (an ``fmpz_mat`` product
with Python-int results was faster for ``Aᵀ`` of 100×40, but the int→mpz conversion the jet then needs
ate the gain), and packing rows into one big integer each (Kronecker substitution) for the sums
``Σ_j a^{2L}_{k−j} (A u^L)_j`` and ``Σ_j c₂_{k−j} u_j`` was no faster at these orders and sizes (replayed on
the calls of real runs).  Where a jet's time goes: about 100 ns per mpz multiply–add in the Cauchy sums
(object-array ``einsum`` and ``np.dot``: about half of a run at ``N = 20``, ``L = 3``), some 25 numpy
calls per order, and the mpfr scalar series (about 15 %).  The invariant check at the
checkpoints runs in python-flint ball arithmetic (:class:`_InvariantCheck`, ``arb_mat`` with the
basis of ``numerics._formulas.range_basis``), whose radii bound its rounding
(``diagnostics.ball_radius_max``).  The bookkeeping shared with the float64 engine (default
tolerances, checkpoint grid, steady-state test, loss monotonicity) is :mod:`numerics._steady`.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from operator import mul
from typing import Callable, Optional, Sequence

import gmpy2
import mpmath
import numpy as np
import flint
from flint import arb, arb_mat
from gmpy2 import fsum, mpfr

from numerics import _formulas, _steady
from numerics._arith import mp_array
from numerics._config import FlowConfig
from numerics._precision import check_dps, workdps
from numerics._precision import MIN_DPS as _PRECISION_MIN_DPS
from numerics._problem import Problem
from numerics._results import FlowResult, TaylorDiagnostics
from numerics._status import Status
from numerics._steady import CHECK_FACTOR, default_loss_tol, min_loss_tol

__all__ = ["integrate_taylor", "taylor_order", "float_switch_order", "TRUNC_DIGITS", "MIN_DPS",
           "CHECK_FACTOR", "default_loss_tol", "min_loss_tol"]

def arithmetic_text(fixed: int, mpfr_wn: int, mpfr_plain: int, float_tail: int) -> str:
    """``TaylorDiagnostics.arithmetic``: what the run's jets were computed in, counted (each jet
    computed counts, a jet redone counts again): ``fixed`` WN jets in fixed-point mpz
    (:class:`_FixedJet`), ``mpfr_wn`` WN jets in mpfr (``FIXED_POINT = False``, a state the
    fixed-point jet cannot start from, or a jet redone in mpfr), ``mpfr_plain`` plain-GF jets (always
    mpfr), ``float_tail`` of them with their high orders in float64."""
    parts = []
    if fixed:
        parts.append(f"{fixed} WN jets in fixed-point mpz (time-scaled, exact products with A; scalar series "
                     "in mpfr)")
    if mpfr_wn:
        parts.append(f"{mpfr_wn} WN jets in mpfr")
    if mpfr_plain:
        parts.append(f"{mpfr_plain} plain-GF jets in mpfr")
    text = ", ".join(parts) if parts else "no jets"
    tail = f"{float_tail} of them with a float64 tail" if float_tail else "no float64 tail"
    return f"{text}; {tail}; python-flint arb_mat invariant check"

TRUNC_DIGITS = 3
"""The local truncation tolerance per step is ``10**-(dps + TRUNC_DIGITS)`` (relative)."""

MAX_STEPS = 200_000

MIN_DPS = _PRECISION_MIN_DPS
"""(``numerics._precision.MIN_DPS``, one floor for every high-precision solver.)  The smallest ``dps`` :func:`integrate_taylor` accepts: below float64's 15–16 digits the tolerances
``tol(dps, k)`` are meaningless (at dps 1 to 3 a run "converged" at t = 0 after zero steps, at 4 to
6 with a Bregman mismatch of 0.1 to 0.002); use :mod:`numerics._flow64` there."""

def taylor_order(dps: int) -> int:
    """Jorba–Zou order for ``dps`` digits: ``⌈−ln ε / 2⌉ + 1`` with ``ε = 10^-(dps+TRUNC_DIGITS)``."""
    eps_ln = (check_dps(dps) + TRUNC_DIGITS) * math.log(10.0)
    return int(math.ceil(eps_ln / 2.0)) + 1


# -- helpers ------------------------------------------------------------------------------


def _to_mpf(x) -> mpmath.mpf:
    """Exact ``mpfr`` → ``mpf``."""
    if not gmpy2.is_finite(x):
        return mpmath.mpf(float(x))
    m, e = x.as_mantissa_exp()
    return mpmath.mpf((int(m), int(e)))


def _conv(a, b, fsum=fsum, mul=mul, reversed=reversed):
    """The last Cauchy coefficient ``Σ_j a[j] b[k−j]`` of two series of length ``k+1``."""
    return fsum(map(mul, a, reversed(b)))


def _sq(a, fsum=fsum, mul=mul, mpfr=mpfr):
    """The last coefficient of ``a ⊛ a`` (series of length ``k+1``), using the symmetry."""
    k = len(a) - 1
    h = (k + 1) // 2
    s = 2 * fsum(map(mul, a[:h], a[k:k - h:-1])) if h else mpfr(0)
    if k % 2 == 0:
        c = a[k // 2]
        s += c * c
    return s


def _conv_f(a, b, sum=sum, mul=mul, reversed=reversed):
    """:func:`_conv` for float lists."""
    return sum(map(mul, a, reversed(b)))


def _sum_f(x, sum=sum):
    """Sum of a float64 array (Python floats: ~5x faster than iterating numpy scalars)."""
    return sum(x.tolist())


def _sq_f(a, sum=sum, mul=mul):
    """:func:`_sq` for float lists."""
    k = len(a) - 1
    h = (k + 1) // 2
    s = 2.0 * sum(map(mul, a[:h], a[k:k - h:-1]))
    if k % 2 == 0:
        c = a[k // 2]
        s += c * c
    return s


FLOAT_DIGITS = 13
"""Digits trusted from a float64 Cauchy sum (53 bits, less a margin for cancellation)."""


def float_switch_order(dps: int, order: int) -> int:
    """First order computed in float64 (mixed-precision tail; ``order`` means none).

    Coefficient ``j`` contributes about ``ε^{j/p}`` (relative) to a step when the
    coefficients decay geometrically (Jorba–Zou step, ``ε = 10^-(dps+TRUNC_DIGITS)``), so an
    error of ``10^-FLOAT_DIGITS`` relative to the coefficient's own size costs less than
    ``ε/10`` once ``j ≥ p (1 − (FLOAT_DIGITS−1)/log10(1/ε))``.  The integrator checks this
    a posteriori on every step (actual ``ν_j h^j``) and recomputes the jet in mpfr if not.
    """
    e = dps + TRUNC_DIGITS
    k0 = int(math.ceil(order * (1.0 - (FLOAT_DIGITS - 1.0) / e)))
    return k0 if 2 <= k0 < order else order  # low dps: float64 would carry it all; keep mpfr


ADAPTIVE_MARGIN_DIGITS = 1
"""The next step's float tail starts where this step's contributions are below
``ε·10^(FLOAT_DIGITS−1−ADAPTIVE_MARGIN_DIGITS)``: one digit of room for the step to change."""


_NU_FLOAT_MIN = 1e-290
""":func:`_rel_norms` works in float64 where every ``ν_j`` and every ``ν_j · min_i |c_i0|`` is at least this
(so no maximum comes from an entry that float64 underflowed, and no quotient is subnormal) and nothing
overflows."""


def _rel_norms(series):
    """``ν_j = max_i |c_ij| / |c_i0|`` for ``j = 0..p`` (object array of mpfr; ``None`` if some ``c_i0 = 0``).

    The step-size and float-tail decisions need ``ν_j`` to a few digits only: it is computed in float64
    (one correctly rounded division per entry, so within a few units of 2^-53 relative) where every
    entry and quotient lies in float64's normal range as :data:`_NU_FLOAT_MIN` checks, else in mpfr."""
    p1 = len(series[0])
    C = np.empty((len(series), p1), dtype=object)
    for i, s in enumerate(series):
        C[i] = s if isinstance(s, np.ndarray) else _obj_array(s, p1)
    try:
        F = np.abs(C.astype(float))
    except (OverflowError, ValueError, TypeError):
        F = None
    if F is not None and np.all(np.isfinite(F)):
        f0 = F[:, 0]
        m0 = float(f0.min())
        if m0 >= _NU_FLOAT_MIN and float(f0.max()) < 1e300:
            with np.errstate(over="ignore"):  # an overflowing quotient takes the mpfr path below
                nu = (F / f0[:, None]).max(axis=0)
            lo = float(nu.min())  # every quotient normal too (not only the entries): no subnormal ν_j
            if np.all(np.isfinite(nu)) and lo >= _NU_FLOAT_MIN and lo * m0 >= _NU_FLOAT_MIN:
                return _obj_array((_ZERO + v for v in nu.tolist()), p1)
    c0 = np.abs(C[:, 0])
    if any(v == 0 for v in c0):
        return None
    return (np.abs(C) / c0[:, None]).max(axis=0)


def _adaptive_switch(nu, h, k0_max, eps):
    """First float order for the next step, from this step's jet and step ``h``.

    The a-priori :func:`float_switch_order` assumes coefficient ``j`` contributes
    ``ε^{j/p}``; on the WN flows the relative contributions ``ν_j h^j`` usually fall far
    faster at low orders (and then flatten at a tiny level set by a nearby singularity of
    small residue), so the float tail can start much earlier.  Returns one more than the
    smallest ``k`` with ``ν_j h^j ≤ ε·10^(FLOAT_DIGITS−1−ADAPTIVE_MARGIN_DIGITS)`` for every
    ``j ≥ k``, clipped to ``[2, k0_max]`` (``k0_max = p`` means no float tail).  The a-posteriori check in :func:`integrate_taylor` still guards each step.
    """
    if nu is None:
        return k0_max
    p = len(nu) - 1
    bound = eps * 10.0 ** (FLOAT_DIGITS - 1 - ADAPTIVE_MARGIN_DIGITS)
    k = p + 1
    hj = h ** p
    for j in range(p, 1, -1):
        if not gmpy2.is_finite(nu[j]) or nu[j] * hj > bound:
            break
        k = j
        hj = hj / h
    return max(2, min(k0_max, k + 1))


_FLOAT_RANGE = 1e-60  # float tail only if every |state component| lies in [1e-60, 1e60]


_ZERO = mpfr(0)
"""``_ZERO + x`` converts a float or mpz to mpfr at the context precision ~10x faster than
``mpfr(x)`` (exact for floats; one correct rounding for integers)."""


def _obj_array(seq, count):
    """Object array from an iterable of ``count`` numbers (``np.array(list)`` inspects every
    element for the sequence protocol and costs ~15x more)."""
    return np.fromiter(seq, dtype=object, count=count)


def _cc(X, Y, k, _es=np.einsum):
    """Column-wise last Cauchy coefficient ``Σ_j X[j] Y[k−j]`` of two ``(p+1, n)`` arrays."""
    return _es("ij,ij->j", X[:k + 1], Y[k::-1])


def _csq(X, k, _es=np.einsum):
    """Column-wise last coefficient of ``X ⊛ X`` (symmetric: half the products)."""
    h = (k + 1) // 2
    if k % 2 == 0:
        c = X[k // 2]
        s = c * c
        if h:
            s = s + 2 * _es("ij,ij->j", X[:h], X[k:k - h:-1])
        return s
    return 2 * _es("ij,ij->j", X[:h], X[k:k - h:-1])


def _csq_all(X, k, _es=np.einsum):
    """The sum over columns of :func:`_csq` (one full contraction)."""
    h = (k + 1) // 2
    s = 2 * _es("ij,ij->", X[:h], X[k:k - h:-1]) if h else 0
    if k % 2 == 0:
        c = X[k // 2]
        s = s + _es("i,i->", c, c)
    return s


def _sdot(s, X, k):
    """``Σ_j s[k−j] X[j]`` for a scalar series ``s`` (list) and a ``(p+1, m)`` array ``X``."""
    if X.dtype == object:
        return np.dot(_obj_array(s[k::-1], k + 1), X[:k + 1])
    return np.dot(np.array(s[k::-1], dtype=float), X[:k + 1])


def _arr_to_float(X, rows, H, Hf, fast):
    """First ``rows`` rows of the object array ``X`` scaled by ``H^j`` as a float64 array ``(p+1, m)``."""
    F = np.zeros(X.shape, dtype=float)
    if rows:
        if fast:
            F[:rows] = X[:rows].astype(float) * (Hf ** np.arange(rows, dtype=float))[:, None]
        else:
            hp = [mpfr(1)]
            for _ in range(rows - 1):
                hp.append(hp[-1] * H)
            F[:rows] = (X[:rows] * np.array(hp, dtype=object)[:, None]).astype(float)
    return F


class _Tail:
    """Switch of a jet to scaled float64 coefficients (time unit ``H``)."""

    @staticmethod
    def scale(state_series, k0, hint=None):
        """The time unit ``H``, or None when unsafe: ``hint`` (the previous step, so that the
        scaled coefficients ``c_j H^j`` stay below ``|c_0|``), else ~ the radius of convergence
        from coefficient ``k0`` (relative)."""
        nu = 0
        for s in state_series:
            s0 = abs(s[0])
            if not (_FLOAT_RANGE <= s0 <= 1 / _FLOAT_RANGE):
                return None
            nu = max(nu, abs(s[k0]) / s0)
        if hint is not None and 0 < hint < math.inf:
            lh = math.log(hint)
        elif nu == 0:
            return None
        else:
            lh = -float(gmpy2.log(nu)) / k0
        if not (-600 < lh < 600):
            return None
        return mpfr(math.exp(lh))

    @staticmethod
    def convert(lists, H):
        """Scale coefficient ``j`` by ``H^j`` and round to float64, in place.

        When ``H^j`` stays within ``1e±200`` for every ``j`` (and states lie within
        ``[1e-60, 1e60]``, checked by :meth:`scale`) every product stays inside float64's
        range, so the scaling is done in floats; otherwise in mpfr.
        """
        longest = max(len(lst) for lst in lists)
        Hf = float(H)
        if abs(math.log10(Hf)) * longest < 200:
            hp = [Hf ** j for j in range(longest)]
            for lst in lists:
                lst[:] = list(map(mul, map(float, lst), hp))
            return
        hp = [mpfr(1)]
        for _ in range(longest):
            hp.append(hp[-1] * H)
        for lst in lists:
            lst[:] = [float(v * hp[j]) for j, v in enumerate(lst)]

    @staticmethod
    def unscale(saved, state_series, H):
        """Full coefficients: the mpfr ones saved before the switch, then the float tail / H^j."""
        out = []
        p = len(state_series[0]) - 1
        Hf = float(H)
        if abs(math.log10(Hf)) * (p + 1) < 200:
            hp = [Hf ** -j for j in range(p + 1)]
            for sv, s in zip(saved, state_series):
                k0 = len(sv)
                out.append(sv + [_ZERO + s[j] * hp[j] for j in range(k0, p + 1)])
            return out
        hp = [mpfr(1)]
        for _ in range(p):
            hp.append(hp[-1] / H)
        for sv, s in zip(saved, state_series):
            k0 = len(sv)
            out.append(sv + [(_ZERO + s[j]) * hp[j] for j in range(k0, p + 1)])
        return out

    @staticmethod
    def unscale_array(saved, F, H):
        """``(p+1, n)`` object array: the saved mpfr rows ``0..k0``, then float rows ``/ H^j``."""
        p1 = F.shape[0]
        k1 = saved.shape[0]
        out = np.empty(F.shape, dtype=object)
        out[:k1] = saved
        if k1 < p1:
            Hf = float(H)
            if abs(math.log10(Hf)) * p1 < 200:
                hp = Hf ** -np.arange(k1, p1, dtype=float)
                vals = (F[k1:] * hp[:, None]).ravel().tolist()  # Python floats convert fastest
                out[k1:] = _obj_array((_ZERO + v for v in vals), len(vals)).reshape(p1 - k1, F.shape[1])
            else:
                hp = [mpfr(1) / H ** k1]
                for _ in range(k1 + 1, p1):
                    hp.append(hp[-1] / H)
                fl = F[k1:].ravel().tolist()
                vals = _obj_array((_ZERO + v for v in fl), len(fl)).reshape(p1 - k1, F.shape[1])
                out[k1:] = vals * np.array(hp, dtype=object)[:, None]
        return out


class _OutOfTime(Exception):
    """Raised inside a Taylor jet when the caller's time_limit has run out (a jet at thousands of
    digits can take minutes)."""


_MPZ_U = np.frompyfunc(gmpy2.mpz, 1, 1)
_ONE = mpfr(1)
_FIX_MAX_SPAN_BITS = 4096
"""Vectors whose entries span more binades than this use mpfr products (``fsum``) instead."""


_LIMB = 16
_LIMB_MIN_ENTRIES = 4000
"""Matrices with at least this many entries multiply through float64 BLAS on 16-bit limbs."""
_LIMB_MAX_COLS = 1 << 21
"""``n · 2^32 ≤ 2^53``: every partial sum of limb products is an exact float64 integer."""
_LIMB_MAX_BITS = 900
"""Entries of ``Z`` up to about ``2^(53+900)`` (64 limbs at most, so the int64 sums cannot overflow)."""


def _limbs_of(Z):
    """The integer matrix ``Z`` (object array of ints) as signed 16-bit limbs stacked: ``(na·M, n)``
    float64 with ``Z = Σ_a limb_a 2^(16a)``."""
    Zi = np.array([[int(z) for z in row] for row in Z.tolist()], dtype=object).reshape(Z.shape)
    bits = max([abs(int(z)).bit_length() for z in Zi.ravel().tolist()] + [1])
    sg = np.array([[(z > 0) - (z < 0) for z in row] for row in Zi.tolist()], dtype=float).reshape(Z.shape)
    az = np.abs(Zi)
    na = (bits + _LIMB - 1) // _LIMB
    return np.vstack([((az >> (_LIMB * a)) & 0xFFFF).astype(float) * sg for a in range(na)])


def _limb_dot(limbs, M, v):
    """``Z v`` exactly, as Python ints, for integers ``v`` (a list of mpz): both split into 16-bit limbs,
    the limb products summed by one float64 matrix product (every partial sum an integer of at most
    ``n·2^32 ≤ 2^53``, so exact), and the carries propagated in int64."""
    na = limbs.shape[0] // M
    nb = 2 * ((max(x.bit_length() for x in v) + _LIMB) // _LIMB)  # room for the sign bit
    raw = b"".join(x.to_bytes(nb, "little", signed=True) for x in v)  # two's complement:
    V = np.frombuffer(raw, dtype="<u2").reshape(len(v), nb // 2).astype(float)  # unsigned limbs below,
    V[:, -1] = np.frombuffer(raw, dtype="<i2").reshape(len(v), nb // 2)[:, -1]  # a signed top limb
    R = (limbs @ V).astype(np.int64)
    nl = V.shape[1]
    if 3 * M < 8 * (nl + na):
        return _limb_sum_rows(R, M, na, nl)
    D = np.zeros((M, nl + na + 1), dtype=np.int64)
    for a in range(na):  # na ≤ 64 terms below 2^53 each: no int64 overflow
        D[:, a:a + nl] += R[a * M:(a + 1) * M]
    for d in range(nl + na):
        c = D[:, d] >> _LIMB
        D[:, d] -= c << _LIMB
        D[:, d + 1] += c
    low = D[:, :-1].astype("<u2")
    top = _LIMB * (nl + na)
    return [(int(t) << top) + int.from_bytes(low[m].tobytes(), "little") for m, t in enumerate(D[:, -1].tolist())]


def _limb_sum_rows(R, M, na, nl):
    """``Σ_a Σ_d R[a·M + m, d] 2^(16(a+d))`` for every row ``m`` (the tail of :func:`_limb_dot` for few rows):
    the digits (|·| < 2^59) are offset by 2^63 into uint64 words, read four interleaved words at a time as
    Python ints and the offset subtracted: no carry loop."""
    nq = (nl + na + 3) // 4
    D = np.zeros((M, 4 * nq), dtype=np.int64)
    for a in range(na):
        D[:, a:a + nl] += R[a * M:(a + 1) * M]
    G = (D.view(np.uint64) + np.uint64(1 << 63)).reshape(M, nq, 4).transpose(2, 0, 1).copy()
    bias = (((1 << (64 * nq)) - 1) // ((1 << 64) - 1) << 63) * 0x1000100010001
    b0, b1, b2, b3 = (g.tobytes() for g in G)
    w = 8 * nq
    fb = int.from_bytes
    out = []
    for m in range(M):
        i, j = m * w, m * w + w
        out.append(fb(b0[i:j], "little") + (fb(b1[i:j], "little") << 16) + (fb(b2[i:j], "little") << 32)
                   + (fb(b3[i:j], "little") << 48) - bias)
    return out


class _IntMatrix:
    """A float64 matrix held as exact integers (``A = Z · 2^-e``) for products with mpfr vectors.

    ``v`` is written exactly as integers times ``2^-s`` (``s`` from its smallest nonzero
    entry), the integer products and sums are exact, and each result is rounded once to
    ``mpfr``: the correctly rounded ``A v`` (more accurate than ``fsum`` of rounded products)
    and several times cheaper, as ``mpz`` arithmetic on object arrays costs a fraction of
    ``mpfr``'s.  Entries spanning more than ``_FIX_MAX_SPAN_BITS`` binades, zero, inf or nan
    fall back to ``fsum`` of mpfr products.
    """

    def __init__(self, A):
        A = np.asarray(A, dtype=float)
        if not np.all(np.isfinite(A)):
            raise ValueError("the matrix A must be finite")
        self.shape = A.shape
        ratios = [v.as_integer_ratio() for v in A.ravel().tolist()]  # den: a power of two
        e = max([den.bit_length() - 1 for _, den in ratios] + [0])
        self.e = e
        Z = np.empty(len(ratios), dtype=object)
        Z[:] = [gmpy2.mpz(num * ((1 << e) // den)) for num, den in ratios]
        self.Z = Z.reshape(A.shape)  # A = Z · 2^-e exactly
        self._A = A
        self._rows = None
        self.limbs = None
        if A.size >= _LIMB_MIN_ENTRIES and A.shape[1] <= _LIMB_MAX_COLS and e <= _LIMB_MAX_BITS:
            self.limbs = _limbs_of(self.Z)

    def int_dot(self, v):
        """``Z v`` exactly for an object array ``v`` of integers (an object array of mpz)."""
        if self.limbs is None:
            return self.Z.dot(v)
        return _obj_array(map(gmpy2.mpz, _limb_dot(self.limbs, self.shape[0], v.tolist())), self.shape[0])

    @property
    def rows(self):
        """The rows as mpfr lists (for the ``fsum`` fallback; built on first use)."""
        if self._rows is None:
            self._rows = [[mpfr(v) for v in row] for row in self._A.tolist()]
        return self._rows

    def _fallback(self, v):
        rows = self.rows
        return _obj_array((fsum(map(mul, row, v)) for row in rows), len(rows))

    def dot(self, v):
        """``A v`` for an object array ``v`` of mpfr (at the context precision), correctly rounded."""
        av = np.abs(v)
        vmax = av.max()
        if not vmax or not gmpy2.is_finite(vmax):
            return self._fallback(v)
        vmin = min(x for x in av if x)
        lo = gmpy2.get_exp(vmin)
        if gmpy2.get_exp(vmax) - lo > _FIX_MAX_SPAN_BITS:
            return self._fallback(v)
        s = gmpy2.get_context().precision - lo  # every entry times 2^s is an integer
        try:
            vz = _MPZ_U(v * gmpy2.mul_2exp(_ONE, s))
        except (ValueError, OverflowError):  # a nan entry: let mpfr propagate it
            return self._fallback(v)
        r = self.Z.dot(vz) if self.limbs is None else _limb_dot(self.limbs, self.shape[0], vz.tolist())
        return _obj_array((_ZERO + x for x in r), len(r)) * gmpy2.mul_2exp(_ONE, -(s + self.e))



FIXED_POINT = True
"""WN jets with a time unit run their mpfr orders in fixed point (:class:`_FixedJet`); False: all mpfr."""

FIXED_GUARD_BITS = 32
"""Guard bits of the fixed-point jet (:class:`_FixedJet`) beyond the working precision."""

_POW2 = {}


def _pow2(e):
    """The exact ``mpfr`` ``2^e`` (cached; multiplying by it is exact and ~10x cheaper than ``mul_2exp``)."""
    v = _POW2.get(e)
    if v is None:
        v = _POW2[e] = gmpy2.mul_2exp(mpfr(1), e)
    return v


def _fixed_unit_exponent(h_prev):
    """``η`` of the fixed-point jet's time unit ``H = 2^η``: the power of two in ``[2 h_prev, 4 h_prev)``."""
    return int(math.ceil(math.log2(h_prev))) + 1


def _imatvec(mat, v):
    """``Z v`` exactly (object array of ints) for the integer matrix of an :class:`_IntMatrix`."""
    return mat.int_dot(v)


def _rshift(X, s):
    """``X · 2^-s`` rounded down (``s`` an int or an array of ints, either sign)."""
    if isinstance(s, int):
        return X >> s if s >= 0 else X << -s
    return (X >> s[0]) if s[1] is None else (X << s[1]) >> s[0]


def _shifts(s):
    """A per-entry shift ``s`` (list of ints) as the pair (right, left) of non-negative object arrays
    (left None where no entry shifts left)."""
    left = _obj_array((max(0, -v) for v in s), len(s)) if min(s) < 0 else None
    return (_obj_array((max(0, v) for v in s), len(s)), left)


class _NoFixed(Exception):
    """The fixed-point jet cannot start (all first-order coefficients 0): the jet runs in mpfr."""


def _rq_rates(k, S_k, scal, R, Q, aL, conv, sq, r2, eta_r, m_psi):
    """Order ``k`` of ``ṙ`` and ``q̇`` (module docstring), shared by the fixed-point and the mpfr/float jets:
    appends ``q σ̂``, ``r²`` (rates ``(r², 1)``), ``S_k = Σ_i (u²)_k``, ``⟨u, u̇⟩`` and ``q³`` to their scalar
    series in ``scal`` (in place) and returns ``(ṙ_k, q̇_k)``; ``conv``/``sq`` are the arithmetic of the
    order (mpfr, or float64 in the tail)."""
    D2, d, sig, q2, aq2, c2, qs, rr, S, uu, q3 = scal
    qs.append(conv(Q, sig))
    if r2:
        rr.append(sq(R))
        rdot = -conv(rr, qs)
    else:
        rdot = -eta_r * qs[k]
    S.append(S_k)
    uu.append(m_psi * conv(aL, d) + conv(c2, S))
    q3.append(conv(q2, Q))
    return rdot, -conv(q3, uu)


class _FixedJet:
    """The mpfr orders of :meth:`_System.jet_wn` in exact integer (fixed-point) arithmetic.

    The time unit is ``H = 2^η ≥ 2 h_prev`` (``h_prev``: the previous step), and coefficient ``j``
    of every per-coordinate series is held as the integer ``c_j H^j 2^{s_i}``, column ``i`` scaled
    so that ``|c_0|`` is about ``2^W`` (``W``: the working precision plus
    :data:`FIXED_GUARD_BITS`); the ``M``-series ``A u^L`` with one scale.  All terms of a Cauchy
    sum then carry the same scale, so its products and sums are exact integer operations (mpz;
    several times cheaper than mpfr), the products with ``A``/``Aᵀ`` need no conversion, and only
    the truncations to ``W`` bits round: an absolute error ``2^-W |c_0|`` per coefficient, whose
    contribution ``2^-W |c_0| (h/H)^j`` to a step of size ``h`` is below the working precision
    while ``h ≤ H · 2^(FIXED_GUARD_BITS / p)`` (checked by the integrator; otherwise the jet is
    redone in mpfr).  The scalar series stay mpfr (true coefficients).  At the first float-tail
    order the arrays are handed back as mpfr, so the float tail is unchanged.
    """

    def __init__(self, sysm, r0, q0, u0, p, H_hint):
        self.ok = False
        self.s, self.p = sysm, p
        if not (H_hint is None or 0 < H_hint < math.inf) or not all(gmpy2.is_finite(v) and v > 0 for v in u0):
            return
        if not (gmpy2.is_finite(r0) and gmpy2.is_finite(q0) and r0 > 0 and q0 > 0):
            return
        self.first = H_hint is None  # no previous step: the unit is estimated from the first orders
        self.eta = None if self.first else _fixed_unit_exponent(H_hint)
        self.H = None if self.first else 2.0 ** self.eta
        prec = gmpy2.get_context().precision
        self.W = W = prec + FIXED_GUARD_BITS
        L = sysm.L
        self.cU = [W - gmpy2.get_exp(v) for v in u0]
        self.c = {m: [m * c - (m - 1) * W for c in self.cU] for m in range(1, L + 1)}
        self.u0 = u0
        self.ok = True

    def _provisional_unit(self, U0, udot, phi, R, Q):
        """First step: ``η`` with ``2^η ≈ 2^4 / ν_1`` from the first-order coefficients (a unit too large
        costs only bigger integers; :meth:`_settle_unit` lowers it after a few orders)."""
        lg = [x.bit_length() - z.bit_length() - phi for x, z in zip(udot.tolist(), U0.tolist()) if x]
        for s in (R, Q):
            if s[1]:
                lg.append(gmpy2.get_exp(s[1]) - gmpy2.get_exp(s[0]))
        if not lg:
            raise _NoFixed
        eta = 4 - max(lg)
        if not -1000 < eta < 1000:  # a unit outside float64's range: leave such states to mpfr
            raise _NoFixed
        self.eta = eta
        self.H = 2.0 ** eta
        return eta

    def _settle_unit(self, eta, kk, R, Q, U, pw, Bz, Phi, at, ct):
        """First step, after ``kk`` orders: the unit from the radius estimate ``ρ = min_j ν_j^{-1/j}`` as a
        previous step would give it (``h ≈ ρ ε^{1/p}`` with ``ε^{1/p} ≈ e^{-2}`` for the Jorba–Zou order),
        where that is below the provisional one: every row ``j`` is then shifted right by ``(η₀ − η) j``
        (a truncation to the new scale, which keeps ``W`` bits relative to ``|c_0|``)."""
        lg = -math.inf
        U0 = [z.bit_length() for z in U[0].tolist()]
        for j in range(1, kk + 1):
            lj = max((x.bit_length() - z for x, z in zip(U[j].tolist(), U0) if x), default=-math.inf) - eta * j
            for s in (R, Q):
                if s[j]:
                    lj = max(lj, gmpy2.get_exp(s[j]) - gmpy2.get_exp(s[0]))
            lg = max(lg, lj / j)
        if not math.isfinite(lg):
            return eta
        log2_h = 1.0 - lg - 2.0 * (self.p - 1) / self.p / math.log(2.0)  # log2(2 h_est)
        if not -1000 < log2_h < 1000:
            return eta
        new = _fixed_unit_exponent(2.0 ** log2_h)
        if new >= eta:
            return eta
        d = eta - new
        for j in range(1, kk + 1):
            U[j] = U[j] >> (d * j)
        for j in range(1, kk):
            for X in [pw[m] for m in pw if m > 1] + [Bz, Phi]:
                X[j] = X[j] >> (d * j)
            at[j] >>= d * j
            ct[j] >>= d * j
        self.eta = new
        self.H = 2.0 ** new
        return new

    def _true(self, X, rows, cols_scale, out):
        """Rows ``0..rows-1`` of the integer array ``X`` (column scales ``cols_scale``) as mpfr into ``out``."""
        if not rows:
            return
        eta = self.eta
        cp = _obj_array((_pow2(-c) for c in cols_scale), len(cols_scale))
        rp = _obj_array((_pow2(-eta * j) for j in range(rows)), rows)
        out[:rows] = ((_ZERO + X[:rows]) * cp[None, :]) * rp[:, None]

    def run(self, kend, R, Q, ap, scal, U_out):
        """Orders ``0..kend-1``: the scalar lists appended in place, ``U`` rows ``0..kend`` written as
        mpfr into ``U_out``; returns ``kend``.  The other arrays stay integers here (``self.ints``):
        :meth:`to_mpfr` or :meth:`floats` converts them where the jet goes on past ``kend``."""
        sysm, p, W, eta = self.s, self.p, self.W, self.eta
        L, M, n = sysm.L, sysm.M, sysm.n
        mpz, p2 = gmpy2.mpz, _pow2
        Am, At = sysm.A_obj, sysm.At_obj
        eA, ey, Yint = Am.e, sysm.ey, sysm.y_int
        eta_u, eta_r = sysm.eta_u, sysm.eta_r
        m_psi = -eta_u * L
        r2 = sysm.mode == "r2"
        cU, cL, c2s = self.cU, self.c[L], self.c[2]
        U = np.empty((p + 1, n), dtype=object)
        U[0] = [mpz(v * p2(c)) for v, c in zip(self.u0, cU)]
        pw = {1: U}
        for m in range(2, L + 1):
            pw[m] = np.empty((p + 1, n), dtype=object)
        P, Um1, Z = pw[L], pw[L - 1], pw[2]
        tau = min(cL)
        shP = _shifts([c - tau for c in cL])
        mu = min(c2s)
        # folding 2^-ey into the multiplier of y errs by at most |Yint|/2 before ">> W": below 2^-9 of an ulp
        y_fold = max([abs(v).bit_length() for v in Yint.tolist()] + [0]) <= W - 8
        shS = shP if L == 2 else _shifts([c - mu for c in c2s])
        shU = None if L == 2 else _shifts([(L - 2) * (c - W) for c in cU])
        beta = tau  # the scale of the M-series A u^L
        a = ap[1]
        aL, aLm1, a2L = ap[L], ap[L - 1], ap[2 * L]
        D2, d, sig, q2, aq2, c2, qs, rr, S, uu, q3 = scal
        conv, sq = _conv, _sq
        Bz = np.empty((p + 1, M), dtype=object)
        Phi = np.empty((p + 1, n), dtype=object)
        at = np.empty(p + 1, dtype=object)  # m_psi a^{2L}_j H^j 2^gamma (integers)
        ct = np.empty(p + 1, dtype=object)  # c2_j H^j 2^phi (integers)
        # the powers of a: a², a^m (3 ≤ m ≤ L), a^{2L}, each from ones already appended
        apow = [(ap[2], sq, a, None)] + [(ap[m], conv, ap[m - 1], a) for m in range(3, L + 1)] + [(a2L, sq, aL, None)]
        gamma = phi = s_phi = None
        eta = self.eta  # None on the first step until order 0 is done (H^0 = 1 whatever the unit)
        k_est = min(4, kend)  # first step: the unit is settled after this many orders
        deadline = sysm.deadline
        for k in range(kend):
            if deadline is not None and k % 8 == 0 and time.perf_counter() > deadline:
                raise _OutOfTime(k)
            a.append(conv(R, Q))
            for dst, f, x, z in apow:
                dst.append(f(x) if z is None else f(x, z))
            for m in range(2, L + 1):
                pw[m][k] = (_csq(U, k) if m == 2 else _cc(pw[m - 1], U, k)) >> W
            Pk = _rshift(P[k], shP)
            Bzk = _imatvec(Am, Pk) >> eA
            Bz[k] = Bzk
            ek = eta * k if k else 0
            if k == 0:
                e0 = [aL[0] * ((_ZERO + b) * p2(-beta)) - ym for b, ym in zip(Bzk.tolist(), sysm.y)]
                self.e0 = e0
                gamma = W - gmpy2.get_exp(m_psi * a2L[0])
            D2.append((_ZERO + _csq_all(Bz, k)) * p2(-(2 * beta + ek)))
            d.append(conv(aL, D2) - (_ZERO + Yint.dot(Bzk)) * p2(-(beta + ey + ek)))
            sig.append(L * conv(aLm1, d))
            at[k] = mpz(m_psi * a2L[k] * p2(ek + gamma))
            # y a^L_k at the scale of Σ_j at_{k−j} Bz_j
            if y_fold:
                yk = Yint * mpz(m_psi * aL[k] * p2(ek + beta + gamma - ey))
            else:
                yk = (Yint * mpz(m_psi * aL[k] * p2(ek + beta + gamma))) >> ey
            psik = (np.dot(at[k::-1], Bz[:k + 1]) - yk) >> W
            q2.append(sq(Q))
            aq2.append(conv(a, q2))
            c2.append(eta_u * conv(aq2, sig))
            X = _imatvec(At, psik)
            if k == 0:
                bl = max(abs(x).bit_length() for x in X.tolist())
                if bl == 0:
                    bl = W  # Aᵀψ = 0: any scale
                s_phi = bl - W
                phi = beta + gamma - W + eA - s_phi
            ctk = ct[k] = mpz(c2[k] * p2(ek + phi))
            if L == 2:
                Phi[k] = _rshift(X, s_phi) + ctk
                udot = _cc(U, Phi, k)
            else:
                Phi[k] = _rshift(X, s_phi)
                udot = _rshift(_cc(Um1, Phi, k), shU) + np.dot(ct[k::-1], U[:k + 1])
            Zk = Pk if L == 2 else _rshift(Z[k], shS)  # (L = 2: Z = P, at the common scale already)
            rdot, qdot = _rq_rates(k, (_ZERO + sum(Zk.tolist())) * p2(-(mu + ek)), scal, R, Q, aL, conv, sq, r2,
                                   eta_r, m_psi)
            k1 = k + 1
            R.append(rdot / k1)
            Q.append(qdot / k1)
            if eta is None:  # first step, order 0: a generous provisional unit 2^4 / ν_1
                eta = self._provisional_unit(U[0], udot, phi, R, Q)
            sh = phi - eta
            U[k1] = (udot >> sh) // k1 if sh >= 0 else (udot << -sh) // k1  # (= udot // (k1·2^sh), floors nest)
            if self.first and k1 == k_est:
                eta = self._settle_unit(eta, k1, R, Q, U, pw, Bz, Phi, at, ct)
        self._true(U, kend + 1, cU, U_out)
        self.ints = (U, pw, Bz, Phi, beta, phi, kend)
        return kend

    def to_mpfr(self, pw_out, Bz_out, Phi_out):
        """The other integer arrays of :meth:`run` as mpfr (rows ``0..kend-1``) into the ``*_out`` arrays; not
        ``u^L`` (``pw[L]``), whose rows the later orders never read (only row ``k`` enters ``A u^L``)."""
        U, pw, Bz, Phi, beta, phi, kend = self.ints
        for m in range(2, self.s.L):
            self._true(pw[m], kend, self.c[m], pw_out[m])
        self._true(Bz, kend, [beta] * self.s.M, Bz_out)
        self._true(Phi, kend, [phi] * self.s.n, Phi_out)

    def _float(self, X, rows, cols_scale, Hf):
        """Rows ``0..rows-1`` of ``X`` as float64 coefficients scaled by ``Hf^j`` (the float tail's unit), in a
        ``(p+1, m)`` array; None where an entry leaves float64's range."""
        F = np.zeros(X.shape, dtype=float)
        if rows:
            try:
                G = X[:rows].astype(float)
            except OverflowError:
                return None
            j = np.arange(rows)
            G = np.ldexp(G, -np.asarray(cols_scale, dtype=np.int64)[None, :])  # c_j H^j, H = 2^eta
            F[:rows] = G * ((Hf / self.H) ** j.astype(float))[:, None]  # c_j Hf^j
            if not np.all(np.isfinite(F[:rows])):
                return None
        return F

    def floats(self, Hf):
        """``(U, {m: U^m}, A u^L, Φ)`` as the float tail's scaled float64 arrays, or None (out of range);
        ``U^L`` comes back as zeros (the tail reads only the rows it computes itself, see :meth:`to_mpfr`)."""
        U, pw, Bz, Phi, beta, phi, kend = self.ints
        L = self.s.L
        if not (0.25 <= Hf / self.H <= 4.0):
            return None
        out = [self._float(U, kend + 1, self.cU, Hf), {}, self._float(Bz, kend, [beta] * self.s.M, Hf),
               self._float(Phi, kend, [phi] * self.s.n, Hf)]
        for m in range(2, L):
            out[1][m] = self._float(pw[m], kend, self.c[m], Hf)
        out[1][L] = np.zeros(pw[L].shape, dtype=float)
        if any(v is None for v in (out[0], out[2], out[3])) or any(v is None for v in out[1].values()):
            return None
        return out


def _int_matrix(A) -> "_IntMatrix":
    """:class:`_IntMatrix` of ``A``, kept for the last few matrices (runs on one problem repeat; like the
    range basis of the invariant check, the exact integer form is a set-up cost of the problem)."""
    A = np.ascontiguousarray(A, dtype=float)
    return _int_matrix_cached(A.tobytes(), A.shape, _LIMB_MIN_ENTRIES)  # (the threshold: tests change it)


@functools.lru_cache(maxsize=8)
def _int_matrix_cached(A_bytes: bytes, shape: tuple, _limb_min: int) -> "_IntMatrix":
    return _IntMatrix(np.frombuffer(A_bytes, dtype=float).reshape(shape))


class _System:
    """The flow's data in ``mpfr`` and the recurrences for its Taylor coefficients."""

    def __init__(self, problem: Problem, config: FlowConfig):
        A = problem.A_eff
        self.M, self.n = A.shape
        self.rows = [[_ZERO + v for v in row] for row in np.asarray(A, dtype=float).tolist()]  # exact
        self.y_f = np.asarray(problem.y, dtype=float).tolist()
        self.y = [_ZERO + v for v in self.y_f]
        self.A_obj = _int_matrix(np.asarray(A, dtype=float))
        self.At_obj = _int_matrix(np.asarray(A, dtype=float).T)
        self.y_obj = np.array(self.y, dtype=object)
        self.A_f = np.array(A, dtype=float)
        self.At_f = np.ascontiguousarray(self.A_f.T)
        self.y_farr = np.array(self.y_f, dtype=float)
        self.L = config.L
        self.mode = config.rates
        if self.mode == "constant":
            # the exact parameters rounded once at the working precision (not via float64)
            self.eta_r = _mpf_to_mpfr(config.mp("eta_r"))
            self.eta_u = _mpf_to_mpfr(config.mp("eta_u"))
        else:
            self.eta_r = None  # r² (rates "r2"); unused for plain GF
            self.eta_u = mpfr(1)
        self.nfev = 0
        self.used_float = False
        self.deadline = None  # time.perf_counter() value: the jets raise _OutOfTime after it
        self.fixed_point = True  # WN jets with a time unit run their mpfr orders in fixed point (_FixedJet)
        self.int_H = None  # the time unit of the last fixed-point jet (None: that jet was all mpfr)
        self.jets = {"fixed": 0, "mpfr_wn": 0, "mpfr_plain": 0, "float_tail": 0}  # jets computed, by arithmetic
        yr = [v.as_integer_ratio() for v in self.y_f]
        self.ey = max([den.bit_length() - 1 for _, den in yr] + [0])
        self.y_int = _obj_array((gmpy2.mpz(num * ((1 << self.ey) // den)) for num, den in yr), len(yr))

    # ---- WN-GF: state (r, q, u) --------------------------------------------------------
    def jet_wn(self, r0, q0, u0, p, k0=None, H_hint=None):
        """Taylor coefficients ``0..p`` of ``(r, q, u_1..u_n)`` from the state; also ``e(0)``.

        Scalar series fold into ``M``-vectors (``e = a^L ⊛ Bz − y``, ``Bz = A u^L``)::

            d   = ⟨Bz, e⟩ = a^L ⊛ Σ_m Bz_m⊛Bz_m − ⟨y, Bz⟩,   σ̂ = L a^{L−1} ⊛ d
            ψ_m = −η_u L (a^{2L} ⊛ Bz_m − a^L y_m),          ⟨Bz, ψ⟩ = −η_u L a^L ⊛ d

        The per-coordinate series are ``(p+1, n)`` numpy arrays (``object`` arrays of
        ``mpfr``, then float64 in the tail), so each order's Cauchy products and the products
        with ``A``/``Aᵀ`` run as whole-array operations.  Orders ``>= k0`` are computed in
        float64 on time-scaled coefficients (see :func:`float_switch_order`); ``k0 = None``
        or ``>= p`` keeps every order in mpfr.  Returns ``([R, Q, U_1, ..., U_n], e0)``.
        """
        L, M, n = self.L, self.M, self.n
        Am, At, y = self.A_obj, self.At_obj, self.y_obj
        eta_u, eta_r = self.eta_u, self.eta_r
        m_psi = -eta_u * L
        r2 = self.mode == "r2"
        R, Q = [r0], [q0]
        U = np.empty((p + 1, n), dtype=object)
        U[0] = list(u0)
        pw = {1: U}
        for m in range(2, L + 1):
            pw[m] = np.empty((p + 1, n), dtype=object)
        P, Um1, Z = pw[L], pw[L - 1], pw[2]
        a = []
        ap = {1: a}
        for m in range(2, 2 * L + 1):
            ap[m] = []
        aL, aLm1, a2L = ap[L], ap[L - 1], ap[2 * L]
        Bz = np.empty((p + 1, M), dtype=object)
        Phi = np.empty((p + 1, n), dtype=object)
        scal = [[] for _ in range(11)]
        D2, d, sig, q2, aq2, c2, qs, rr, S, uu, q3 = scal
        e0 = None
        conv, sq, fs = _conv, _sq, fsum
        Hf = None
        if k0 is None:
            k0 = p
        deadline = self.deadline
        k_start = 0
        self.int_H = None
        fx = None
        if self.fixed_point and FIXED_POINT:
            fx = _FixedJet(self, r0, q0, u0, p, H_hint)
            if fx.ok:
                try:
                    k_start = fx.run(min(k0, p), R, Q, ap, scal, U)
                except _NoFixed:
                    self.fixed_point = False
                    try:
                        return self.jet_wn(r0, q0, u0, p, k0, H_hint)
                    finally:
                        self.fixed_point = True
                e0 = fx.e0
                self.int_H = fx.H
            else:
                fx = None
        for k in range(k_start, p):
            if deadline is not None and k % 8 == 0 and time.perf_counter() > deadline:
                raise _OutOfTime(k)
            if k == k0:
                H = _Tail.scale([R, Q] + list(U.T), k0, H_hint)
                if H is not None:
                    saved_rq = [list(R), list(Q)]
                    saved_u = U[:k0 + 1].copy()
                    Hf = float(H)
                    fast = abs(math.log10(Hf)) * (k0 + 1) < 200
                    _Tail.convert([R, Q] + [ap[m] for m in range(1, 2 * L + 1)] + scal, H)
                    fl = None if fx is None else fx.floats(Hf)
                    if fl is None:
                        if fx is not None:
                            fx.to_mpfr(pw, Bz, Phi)
                        U = _arr_to_float(U, k0 + 1, H, Hf, fast)
                        for m in range(2, L + 1):
                            if m == L and fx is not None:  # rows 0..k0-1 of u^L are never read again (to_mpfr skips them)
                                pw[m] = np.zeros(pw[m].shape, dtype=float)
                            else:
                                pw[m] = _arr_to_float(pw[m], k0, H, Hf, fast)
                        Bz = _arr_to_float(Bz, k0, H, Hf, fast)
                        Phi = _arr_to_float(Phi, k0, H, Hf, fast)
                    else:
                        U, pw2, Bz, Phi = fl
                        pw.update(pw2)
                    pw[1] = U
                    P, Um1, Z = pw[L], pw[L - 1], pw[2]
                    Am, At, y = self.A_f, self.At_f, self.y_farr
                    eta_u = float(eta_u)
                    eta_r = None if eta_r is None else float(eta_r)
                    m_psi = float(m_psi)
                    conv, sq, fs = _conv_f, _sq_f, _sum_f
                elif fx is not None:  # the tail is refused: go on in mpfr
                    fx.to_mpfr(pw, Bz, Phi)
            a.append(conv(R, Q))
            for m in range(2, 2 * L + 1):
                if m == 2:
                    ap[2].append(sq(a))
                elif m == 2 * L:
                    a2L.append(sq(aL))
                elif m <= L:
                    ap[m].append(conv(ap[m - 1], a))
            for m in range(2, L + 1):
                pw[m][k] = _csq(U, k) if m == 2 else _cc(pw[m - 1], U, k)
            Bzk = Am.dot(P[k])
            Bz[k] = Bzk
            if k == 0:
                e0 = [aL[0] * Bzk[m] - y[m] for m in range(M)]
            D2.append(fs(_csq(Bz, k)))
            d.append(conv(aL, D2) - y.dot(Bzk))
            sig.append(L * conv(aLm1, d))
            psik = (_sdot(a2L, Bz, k) - y * aL[k]) * m_psi
            q2.append(sq(Q))
            aq2.append(conv(a, q2))
            c2.append(eta_u * conv(aq2, sig))
            if L == 2:
                Phi[k] = At.dot(psik) + c2[k]
                udot = _cc(U, Phi, k)
            else:
                Phi[k] = At.dot(psik)
                udot = _cc(Um1, Phi, k) + _sdot(c2, U, k)
            rdot, qdot = _rq_rates(k, fs(Z[k]), scal, R, Q, aL, conv, sq, r2, eta_r, m_psi)
            if Hf is None:  # exact division in mpfr
                k1 = k + 1
                R.append(rdot / k1)
                Q.append(qdot / k1)
                U[k + 1] = udot / k1
            else:
                f = Hf / (k + 1)
                R.append(rdot * f)
                Q.append(qdot * f)
                U[k + 1] = udot * f
        self.nfev += p
        self.used_float = Hf is not None
        self.jets["fixed" if fx is not None else "mpfr_wn"] += 1
        self.jets["float_tail"] += Hf is not None
        if Hf is not None:
            R, Q = _Tail.unscale(saved_rq, [R, Q], H)
            U = _Tail.unscale_array(saved_u, U, H)
        return [R, Q] + list(U.T), e0

    # ---- plain GF: state w -------------------------------------------------------------
    def jet_plain(self, w0, p, k0=None, H_hint=None):
        """Taylor coefficients ``0..p`` of ``w`` (plain GF) and ``e(0)``; arrays and float tail as in :meth:`jet_wn`."""
        L, n = self.L, self.n
        Am, At, y = self.A_obj, self.At_obj, self.y_obj
        W = np.empty((p + 1, n), dtype=object)
        W[0] = list(w0)
        pw = {1: W}
        for m in range(2, L + 1):
            pw[m] = np.empty((p + 1, n), dtype=object)
        P, Wm1 = pw[L], pw[L - 1]
        Phi = np.empty((p + 1, n), dtype=object)
        e0 = None
        mL = -L
        Hf = None
        if k0 is None:
            k0 = p
        deadline = self.deadline
        for k in range(p):
            if deadline is not None and k % 8 == 0 and time.perf_counter() > deadline:
                raise _OutOfTime(k)
            if k == k0:
                H = _Tail.scale(list(W.T), k0, H_hint)
                if H is not None:
                    saved = W[:k0 + 1].copy()
                    Hf = float(H)
                    fast = abs(math.log10(Hf)) * (k0 + 1) < 200
                    W = _arr_to_float(W, k0 + 1, H, Hf, fast)
                    pw[1] = W
                    for m in range(2, L + 1):
                        pw[m] = _arr_to_float(pw[m], k0, H, Hf, fast)
                    P, Wm1 = pw[L], pw[L - 1]
                    Phi = _arr_to_float(Phi, k0, H, Hf, fast)
                    Am, At = self.A_f, self.At_f
            for m in range(2, L + 1):
                pw[m][k] = _csq(W, k) if m == 2 else _cc(pw[m - 1], W, k)
            ek = Am.dot(P[k])
            if k == 0:
                ek = ek - y
                e0 = list(ek)
            Phi[k] = At.dot(ek * mL)
            wdot = _cc(Wm1, Phi, k)
            if Hf is None:
                W[k + 1] = wdot / (k + 1)
            else:
                W[k + 1] = wdot * (Hf / (k + 1))
        self.nfev += p
        self.used_float = Hf is not None
        self.jets["mpfr_plain"] += 1
        self.jets["float_tail"] += Hf is not None
        if Hf is not None:
            W = _Tail.unscale_array(saved, W, H)
        return list(W.T), e0

    def residual(self, x):
        return [fsum(map(mul, row, x)) - yi for row, yi in zip(self.rows, self.y)]


def _mpf_to_mpfr(x):
    """Exact ``mpf`` → ``mpfr`` (the mantissa fits the context precision it was made at)."""
    sign, man, exp, _ = x._mpf_
    if not man:
        return mpfr(float(x))  # 0, inf or nan
    v = gmpy2.mul_2exp(mpfr(gmpy2.mpz(man)), exp)
    return -v if sign else v


def _mpf_to_arb(x) -> "arb":
    """Exact ``mpf`` → ``arb`` (radius 0): python-flint reads mpmath's ``(man, exp)`` tuple."""
    sign, man, exp, _ = x._mpf_
    if not man:
        return arb(float(x))
    return arb((int(-man if sign else man), int(exp)))


# -- the invariant check, at dps (docs/math.md §3.3) --------------------------------------


def _norm_arb(col) -> "arb":
    """The 2-norm of an ``arb_mat`` column, a ball (``Σ v²`` is clipped to ``[0, upper]`` where its ball
    reaches below 0, as a ball around a tiny ``v`` does)."""
    s = sum((v * v for v in col.entries()), arb(0))
    if s.lower() < 0:
        return arb(0).union(s.upper().sqrt())
    return s.sqrt()


@functools.lru_cache(maxsize=8)
def _basis_balls(A_bytes: bytes, shape: tuple, dps: int, prec: int):
    """``(rank, Qᵀ, Q)`` with ``Q`` the orthonormal basis of ``range(Aᵀ)`` of
    ``numerics._formulas.range_basis`` at ``dps`` as exact ``arb_mat`` balls (None for rank 0);
    kept for the last few matrices, as runs on one problem repeat (the basis is a set-up cost
    of the problem, like a compiled integrator's build)."""
    A = np.frombuffer(A_bytes, dtype=float).reshape(shape)
    Q = np.asarray(_formulas.range_basis(A, dps=dps), dtype=object).reshape(shape[1], -1)
    rank = Q.shape[1]
    if not rank:
        return 0, None, None
    saved = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        Qt = arb_mat([[_mpf_to_arb(v) for v in row] for row in Q.T.tolist()])
        return rank, Qt, Qt.transpose()
    finally:
        flint.ctx.prec = saved


class _InvariantCheck:
    """``‖P_ker(A) h‖ / max(‖h‖, ‖log_L(b)‖)`` of the invariant ``h`` of docs/math.md §3 at a state
    (``b = ū0`` for WN-GF, ``w0`` otherwise).

    ``h`` is a difference of two ``L``-logarithms of the size of ``log_L(b)`` (in the log form, of
    ``d = log a − log b`` scaled by ``b^{2−L}``), so at ``dps`` digits it is held only to about
    ``10^-dps ‖log_L(b)‖``: the residual is relative to that where ``‖h‖`` is smaller (docs/math.md §6,
    "report such residuals relative to the precision the components are held to"; the float64 engine
    does the same, ``numerics._flow64.invariant_scale``).  Without it a start with a component of
    ``1e-40`` at ``L = 3`` (``log_L(ū0) ≈ 1e40``) reported the rounding of ``h`` as a residual of order 1.

    ``h`` comes from the one home of the formula (:mod:`numerics._formulas.invariant_h`, in log
    form: with ``s`` for constant rates, with ``s = 0`` and ``log w`` for plain GF and the rates
    ``(r², 1)``), at ``dps``, from ``log u`` (no underflow for tiny components).  The projection
    ``h − Q (Qᵀ h)`` runs in python-flint ball arithmetic (``arb_mat``) with the orthonormal basis
    ``Q`` of ``range(Aᵀ)`` from ``numerics._formulas.range_basis`` (rank decided exactly by
    flint); the balls' radii bound the rounding of this check, and :attr:`radius_max` keeps the
    largest relative one (reported as ``TaylorDiagnostics.ball_radius_max``).
    """

    def __init__(self, problem: Problem, config: FlowConfig, dps: int):
        self.config = config
        self.L = config.L
        self.dps = dps
        n = problem.n
        A = np.ascontiguousarray(problem.A_eff, dtype=float)
        self.rank, self.Qt, self.Q = _basis_balls(A.tobytes(), A.shape, dps, mpmath.mp.prec)
        self.log_w0 = mp_array(config.log_w0_mp(n))  # log w0 at dps, formed without w0 (no underflow)
        self.log_ubar0 = self.log_w0 - mpmath.log(config.mp("r0"))
        self.r0 = config.mp("r0")
        self.eta_t = config.mp("eta_tilde")
        self.radius_max = 0.0
        self.prec = mpmath.mp.prec
        # ‖log_L(b)‖ at dps from log b (log_L(b) = h_log(log b, 0): no b^{2−L} is formed before the product)
        log_b = self.log_ubar0 if config.rates == "constant" else self.log_w0
        zero = mp_array([mpmath.mpf(0)] * n)
        lb = _formulas.invariant_h(log_b, zero, mpmath.mpf(0), self.L)
        self.scale = mpmath.sqrt(mpmath.fsum(v * v for v in lb))

    def h(self, log_u, r):
        """``h`` at dps from ``log u`` (object array of mpf) and ``r`` (WN) or ``log w`` (plain: ``r`` None)."""
        L = self.L
        rates = self.config.rates
        if rates == "constant":
            s = _formulas.s_of_r(r, self.r0, self.eta_t)
            return _formulas.invariant_h(_formulas.log_direction(log_u=log_u), self.log_ubar0, s, L)
        # plain GF and the rates (r², 1): log_L(w) − log_L(w0), from log w (s = 0 in the log form)
        log_w = log_u if rates == "plain" else mpmath.log(r) + _formulas.log_direction(log_u=log_u)
        return _formulas.invariant_h(log_w, self.log_w0, mpmath.mpf(0), L)

    def residual(self, h) -> float:
        """``‖h − Q Qᵀ h‖ / max(‖h‖, ‖log_L(b)‖)`` for ``h`` (object array of mpf) in ball arithmetic at the working
        precision: the upper end of the ball (float; 0 for ``h = 0``); the radius enters
        :attr:`radius_max`."""
        ball = self.residual_ball(h)
        rad = float(ball.rad())
        if rad > self.radius_max:
            self.radius_max = rad
        return float(ball.upper())

    def residual_ball(self, h) -> "arb":
        """A ball whose upper end bounds ``‖h − Q Qᵀ h‖ / max(‖h‖, ‖log_L(b)‖)`` from above (exactly 0 for
        ``h = 0``): it encloses that quotient where ``‖h‖``'s ball lies above ``‖log_L(b)‖``; elsewhere the
        divisor is ``‖log_L(b)‖`` itself, and the ball encloses a quotient at least as large."""
        saved = flint.ctx.prec
        flint.ctx.prec = self.prec
        try:
            hb = arb_mat([[_mpf_to_arb(v)] for v in h])
            p = hb - self.Q * (self.Qt * hb) if self.rank else hb
            nh = _norm_arb(hb)
            if nh.is_zero():
                return arb(0)
            sc = _mpf_to_arb(self.scale)
            return _norm_arb(p) / (nh if nh.lower() >= sc else sc)
        finally:
            flint.ctx.prec = saved


# -- options -------------------------------------------------------------------------------


def _positive_number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _options(problem, config, *, dps, t_max, loss_tol, time_limit, checkpoints, max_steps, order, mixed,
             limit_tol) -> dict:
    """Check every argument (``ValueError`` with the reason) and return the settings as a dict."""
    dps = check_dps(dps)
    if dps < MIN_DPS:
        raise ValueError(
            f"dps = {dps} is below MIN_DPS = {MIN_DPS}: the high-precision tolerances are meaningless below "
            f"float64's precision (at dps 1 to 3 a run 'converged' at t = 0); use the float64 integrator")
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
        time_limit = None if math.isinf(time_limit) else float(time_limit)
    if limit_tol is not None:
        limit_tol = _positive_number(limit_tol, "limit_tol")
    if not isinstance(problem, Problem):
        raise ValueError("problem must be a numerics._problem.Problem")
    if not isinstance(config, FlowConfig):
        raise ValueError("config must be a numerics._config.FlowConfig")
    try:
        t_max = float(t_max)
    except (TypeError, ValueError):
        raise ValueError(f"t_max must be a positive number, got {t_max!r}") from None
    if not (math.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be a finite positive number, got {t_max!r}")
    max_steps = MAX_STEPS if max_steps is None else max_steps
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    if order is None:
        order = taylor_order(dps)
    elif isinstance(order, bool) or not isinstance(order, int) or order < 2:
        raise ValueError(f"order must be an integer >= 2 (or None for the Jorba–Zou choice), got {order!r}")
    floor = min_loss_tol(problem, dps)
    if loss_tol is not None:
        loss_tol = float(loss_tol)
        if not loss_tol > 0:
            raise ValueError(f"loss_tol must be positive, got {loss_tol!r}")
        if loss_tol < floor:
            need = int(math.ceil(-math.log10(math.sqrt(2 * loss_tol) / max(float(np.linalg.norm(problem.y)), 1e-300))))
            raise ValueError(
                f"loss_tol = {loss_tol:.3g} is below what dps = {dps} digits can resolve "
                f"(½(10^-{dps}‖y‖)² = {floor:.3g}): raise dps to at least {need} or loosen loss_tol")
    n = problem.n
    if config.u0 is not None and len(config.u0) != n:
        raise ValueError(f"config.u0 has length {len(config.u0)} but the model has n = {n} weights")
    cps = _steady.checkpoint_grid(t_max, checkpoints)
    return dict(dps=dps, order=order, k0=float_switch_order(dps, order) if mixed else None, t_max=t_max,
                loss_tol=default_loss_tol(problem, dps) if loss_tol is None else loss_tol, loss_tol_given=loss_tol,
                limit_tol=limit_tol, max_steps=max_steps, checkpoints=cps, time_limit=time_limit)


# -- the pieces of a run -----------------------------------------------------------------------


class _State:
    """Views of a state list (mpfr): WN ``[r, q, u_1..u_n]``, plain ``[w_1..w_n]``."""

    def __init__(self, plain: bool, L: int):
        self.plain = plain
        self.L = L

    def split(self, st):
        """``(r, u, x, ‖u‖)`` in mpfr (plain GF: ``r = ‖w‖``, ``u = w/‖w‖``, ``‖u‖`` reported as 1)."""
        L = self.L
        if self.plain:
            nw = gmpy2.sqrt(fsum(v * v for v in st))
            return nw, [v / nw for v in st], [v ** L for v in st], mpfr(1)
        r, u = st[0], st[2:]
        nu = gmpy2.sqrt(fsum(v * v for v in u))
        a = r / nu
        return r, u, [(a * v) ** L for v in u], nu

    def valid(self, st) -> bool:
        """Finite, and positive where the flow keeps it positive."""
        if any(not gmpy2.is_finite(v) for v in st):
            return False
        return all(v > 0 for v in (st if self.plain else [st[0]] + st[2:]))


class _Records:
    """The checkpoint records: ``t, loss, r``, the invariant residual and ``‖u‖ − 1`` (floats)."""

    def __init__(self, sysm, states: _State, check: _InvariantCheck, progress):
        self.sysm, self.states, self.check, self.progress = sysm, states, check, progress
        self.t, self.loss, self.r, self.inv, self.udev = [], [], [], [], []

    def loss_of(self, st):
        _, _, x, _ = self.states.split(st)
        return fsum(v * v for v in self.sysm.residual(x)) / 2

    def log_u(self, st):
        """``(log u, r)`` at dps as (object array of mpf, mpf); plain GF: ``(log w, None)``."""
        comp = st if self.states.plain else st[2:]
        log_u = np.array([_to_mpf(gmpy2.log(v)) for v in comp], dtype=object)
        return log_u, (None if self.states.plain else _to_mpf(st[0]))

    def add(self, tt, st, lo=None):
        """Record the checks at time ``tt`` (at ``t = 0`` ``h = 0`` exactly: residual 0)."""
        r, _, _, nu = self.states.split(st)
        if lo is None:
            lo = self.loss_of(st)
        if tt == 0:
            inv = 0.0
        else:
            log_u, rr = self.log_u(st)
            inv = self.check.residual(self.check.h(log_u, rr))
        self.t.append(float(tt))
        self.loss.append(float(lo))
        self.r.append(float(r))
        self.inv.append(inv)
        self.udev.append(0.0 if self.states.plain else float(nu - 1))
        if self.progress is not None:
            self.progress(float(tt), float(lo))
        return lo


class _LimitTest:
    """The steady-state test of :mod:`numerics._steady` fed with the limit estimate at dps: the
    Bregman projection of ``β(t)`` onto ``{Az = y, z ≥ 0}`` (docs/math.md §4)."""

    def __init__(self, problem: Problem, config: FlowConfig, o: dict, states: _State, deadline, log_w0=None):
        self.problem, self.config, self.o, self.states, self.deadline = problem, config, o, states, deadline
        # log w0 at dps (the invariant check's, computed by the same expression, when given)
        self.log_w0 = mp_array(config.log_w0_mp(problem.n)) if log_w0 is None else log_w0
        self.r0 = config.mp("r0")
        self.eta_t = config.mp("eta_tilde")
        self.test = _steady.SteadyTest(o["limit_tol_mp"], dps=o["dps"])

    def check(self, t, st) -> bool:
        """Offer the estimate at ``t`` (when the test is due); True when the test passes."""
        from numerics._bregman import bregman_projection

        if not self.test.due(t):
            return False
        r = _to_mpf(self.states.split(st)[0])
        lrho = _formulas.log_rho(r, self.r0, self.eta_t) if self.config.rates == "constant" else mpmath.mpf(0)
        logb = list(_formulas.log_beta(self.log_w0, lrho, self.config.L))
        left = None if self.deadline is None else self.deadline - time.perf_counter()
        if left is not None and left <= 0:
            raise _OutOfTime(0)
        pr = bregman_projection(self.problem.A_eff, self.problem.y, None, self.config.L, dps=self.o["dps"],
                                log_beta=logb, time_limit=left)
        if pr.status is Status.TIME_LIMIT:
            raise _OutOfTime(0)
        if pr.status not in (Status.CONVERGED, Status.NOISE_FLOOR):
            self.test.failed(t, f"{pr.status.value}: {pr.message}")
            return False
        return self.test.offer(_to_mpf(t), mp_array(pr.x), r, lrho,
                               noise_floor=pr.status is Status.NOISE_FLOOR)


class _StepStats:
    """Step sizes, error estimates and float-tail bookkeeping (``TaylorDiagnostics``)."""

    def __init__(self, k0, order):
        self.h_min, self.h_max = math.inf, 0.0
        self.err_max, self.err_sum = 0.0, 0.0
        self.k0_min = k0 if k0 is not None else order
        self.k0_sum = 0
        self.rejected = 0


def _unit_ok(sysm, hstep, room, order) -> bool:
    """The step fits the last jet's fixed-point time unit (or that jet was all mpfr): ``h ≤ H·2^(G/p)``."""
    return sysm.int_H is None or min(hstep, float(room)) <= sysm.int_H * 2.0 ** (FIXED_GUARD_BITS / order)


def _jet(sysm, plain, state, order, k0, h_unit, fixed=True):
    if plain:
        sysm.int_H = None
        return sysm.jet_plain(state, order, k0, h_unit)
    sysm.fixed_point = fixed
    try:
        return sysm.jet_wn(state[0], state[1], state[2:], order, k0, h_unit)
    finally:
        sysm.fixed_point = True


def _step_size(series, order, ln_eps):
    """Jorba–Zou step from the last two relative coefficients; also ``ν_p`` and all ``ν_j``."""
    lh = math.inf
    nus = {}
    nu_all = _rel_norms(series)
    for j in (order - 1, order):
        nuj = max(abs(sr[j]) / abs(sr[0]) for sr in series) if nu_all is None else nu_all[j]
        nus[j] = nuj
        if nuj > 0:
            lh = min(lh, (ln_eps - float(gmpy2.log(nuj))) / j)
    return (math.exp(lh) if lh < 700 else math.inf), nus[order], nu_all


def _tail_too_large(series, nu_all, hstep, room, k0, order, eps) -> bool:
    """A-posteriori check of the float tail: its coefficients carry a relative error ~10^-FLOAT_DIGITS,
    so their contribution to this step must stay below ε/10.  An infinite step means the last
    coefficients are 0: in the float tail that is float64 underflow (near a fixed point), not a
    polynomial solution, so the tail is rejected too."""
    if not math.isfinite(hstep):
        return True
    hm = min(mpfr(hstep), room)
    if nu_all is None:
        tail = max(max(abs(sr[j]) / abs(sr[0]) for sr in series) * hm ** j for j in range(k0, order + 1))
    else:
        tail = max(nu_all[j] * hm ** j for j in range(k0, order + 1))
    return not gmpy2.is_finite(tail) or tail * 10.0 ** (-FLOAT_DIGITS) > eps / 10


def _horner(series, dt, order):
    """The Taylor polynomials of ``series`` at ``dt`` (mpfr)."""
    powers = [mpfr(1)]
    for _ in range(order):
        powers.append(powers[-1] * dt)
    return [fsum(map(mul, s, powers)) for s in series]


def _scale_note(problem: Problem, ny) -> str:
    amax = float(np.max(np.abs(problem.A_eff)))
    nyf = float(ny)
    if not (1e-100 <= amax <= 1e100) or (nyf > 0 and not (1e-100 <= nyf <= 1e100)):
        return (f" (A and y are badly scaled: max|A| = {amax:.3g}, ‖y‖ = {nyf:.3g}; the flow's time scale "
                "grows as 1/c² when both are scaled by c, so scale them to order 1)")
    return ""


# -- the integrator ---------------------------------------------------------------------------


def integrate_taylor(
    problem: Problem,
    config: FlowConfig,
    *,
    dps: int,
    t_max: float = 1e6,
    loss_tol: Optional[float] = None,
    time_limit: Optional[float] = None,
    checkpoints: Optional[Sequence[float]] = None,
    progress: Optional[Callable[[float, float], None]] = None,
    max_steps: Optional[int] = None,
    order: Optional[int] = None,
    mixed: bool = True,
    limit_tol: Optional[float] = None,
) -> FlowResult:
    """Integrate the flow of ``config`` on ``problem`` at ``dps`` digits by a Taylor method.

    ``dps`` must be at least :data:`MIN_DPS` (below it use the float64 integrator).
    Status ``converged`` needs, as in float64, both the loss at most ``loss_tol`` (default
    :func:`default_loss_tol`, a residual ``‖Ax − y‖ ≈ 10^-(dps−3) ‖y‖``) and the limit estimate
    stopped moving: the Bregman projection at ``dps`` of ``β(t)`` onto ``{Az = y, z ≥ 0}``
    (docs/math.md §4) and ``r(t)`` each move by at most ``limit_tol`` (relative; default
    ``tol(dps, K_SOLVE)``) between two times at least a factor ``CHECK_FACTOR`` apart, both past
    ``loss_tol`` (the record is ``result.steady``).  Otherwise the run ends at ``t_max`` or after
    ``max_steps`` steps (``not_converged``), or after ``time_limit`` seconds of wall time, checked
    inside every Taylor jet (``time_limit``).  A non-positive or non-finite state, loss or step is
    ``diverged``/``failed``.

    ``checkpoints``: times at which the state is evaluated by dense output and the checks are
    recorded (the invariant residual ``‖P_ker(A) h(t)‖/‖h(t)‖``, ``‖u(t)‖ − 1``, the loss and
    ``r``); ``t = 0`` and the final time are always recorded; ``progress(t, loss)`` is called there.
    Loss monotonicity is checked at every step (``loss_increases``, ``max_rel_loss_increase``,
    ``max_step_increase`` over ``steps_checked`` comparisons).

    The final state is at ``dps`` (``mpf``; vectors object arrays of ``mpf``): ``r_final``,
    ``u_final`` (the state ``u``; plain GF: ``w/‖w‖`` with ``r_final = ‖w‖``), ``log_u_final``,
    ``x_final = (r u/‖u‖)^L`` (effective coordinates), ``x_user``, ``loss_final_exact``.
    ``nfev`` counts Taylor-coefficient orders computed (each costs one product with ``A`` and one
    with ``Aᵀ``); ``nsteps`` counts steps; ``diagnostics`` is a :class:`TaylorDiagnostics`.

    ``mixed=True`` computes the high orders in float64 on time-scaled coefficients: from
    ``float_switch_order(dps, order)`` on the first step, then from where the previous step's
    contributions ``ν_j h^j`` fell below ``ε·10^(FLOAT_DIGITS−1−ADAPTIVE_MARGIN_DIGITS)``
    (``diagnostics.float_from_order_min``/``_sum``); each step's float tail must pass the
    a-posteriori check or the jet is redone in mpfr (``diagnostics.float_tail_rejected``).
    ``mixed=False`` keeps every order at full precision.
    """
    o = _options(problem, config, dps=dps, t_max=t_max, loss_tol=loss_tol, time_limit=time_limit,
                 checkpoints=checkpoints, max_steps=max_steps, order=order, mixed=mixed, limit_tol=limit_tol)
    dps = o["dps"]
    t_start = time.perf_counter()
    deadline = None if o["time_limit"] is None else t_start + o["time_limit"]
    with workdps(dps):
        prec_bits = mpmath.mp.prec
        check = _InvariantCheck(problem, config, dps)
        ubar0_mp = config.ubar0_mp(problem.n)
        r0_mp = config.mp("r0")
        with gmpy2.context(gmpy2.get_context(), precision=prec_bits):
            # the tolerances at dps (10^-dps underflows float64 above ~300 digits)
            o["loss_tol_mp"] = _steady.loss_tol_at(problem, dps, o["loss_tol_given"])
            o["loss_tol_m"] = _mpf_to_mpfr(o["loss_tol_mp"])
            o["limit_tol_mp"] = (_steady.default_limit_tol(dps) if o["limit_tol"] is None
                                 else mpmath.mpf(o["limit_tol"]))
            sysm = _System(problem, config)
            sysm.deadline = deadline
            run = _Run(problem, config, o, sysm, check, progress, deadline, t_start, prec_bits)
            u0 = [_mpf_to_mpfr(v) for v in ubar0_mp]
            r0 = _mpf_to_mpfr(r0_mp)
            if run.states.plain:
                state = [r0 * v for v in u0]
            else:
                state = [r0, 1 / gmpy2.sqrt(fsum(v * v for v in u0))] + u0  # q0 = 1/‖u0‖ (= 1)
            return run.loop(state)



class _Run:
    """One integration: the stepping loop and the result."""

    def __init__(self, problem, config, o, sysm, check, progress, deadline, t_start, prec_bits):
        self.problem, self.config, self.o, self.sysm, self.check = problem, config, o, sysm, check
        self.deadline, self.t_start, self.prec_bits = deadline, t_start, prec_bits
        self.states = _State(config.rates == "plain", config.L)
        self.records = _Records(sysm, self.states, check, progress)
        ny = gmpy2.sqrt(fsum(mpfr(float(v)) ** 2 for v in problem.y))
        self.monitor = _steady.LossMonitor(noise=_mpf_to_mpfr(_steady.loss_noise(o["dps"])), ny=ny)
        self.limit = _LimitTest(problem, config, o, self.states, deadline, log_w0=check.log_w0)
        self.stats = _StepStats(o["k0"], o["order"])
        self.note = _scale_note(problem, ny)
        self.nsteps = 0

    def loop(self, state):
        o, sysm, rec, stats = self.o, self.sysm, self.records, self.stats
        order, k0, dps = o["order"], o["k0"], o["dps"]
        plain = self.states.plain
        eps = mpfr(10) ** (-(dps + TRUNC_DIGITS))
        ln_eps = -(dps + TRUNC_DIGITS) * math.log(10.0)
        cps = o["checkpoints"]
        t = mpfr(0)
        tmax_m = mpfr(o["t_max"])
        cp_i = 0
        k0_cur = self.k0_cap = k0  # the cap rises only where a step's float tail had to be redone
        h_unit = None  # time unit of the float tail: the previous Jorba–Zou step
        lo = rec.add(t, state)
        try:
            while True:
                at_end = t >= tmax_m or self.nsteps >= o["max_steps"]
                if at_end:  # the last state needs its loss, not a jet
                    lo = rec.loss_of(state)
                else:
                    series, e0 = _jet(sysm, plain, state, order, k0_cur, h_unit)
                    lo = fsum(v * v for v in e0) / 2
                if not gmpy2.is_finite(lo):
                    return self.finish(Status.DIVERGED, f"the loss became non-finite at t = {float(t):.6g}", t, state)
                self.monitor.step(lo, gmpy2.sqrt(2 * lo))
                if lo <= o["loss_tol_m"] and self.limit.check(t, state):
                    return self.finish(Status.CONVERGED, f"loss {lo:.3e} <= loss_tol {o['loss_tol_m']:.3e}; "
                                       f"{self.limit.test.settled_message()}", t, state)
                if at_end:
                    why = (f"reached t_max = {o['t_max']:g}" if t >= tmax_m else
                           f"the step budget ({o['max_steps']} steps) was spent at t = {float(t):.6g}")
                    return self.finish(Status.NOT_CONVERGED, (
                        f"{why} with {self._why_not(lo)}; this state is not a limit — a longer horizon (t_max; "
                        f"the tail can decay as a power law, docs/math.md §6) or solving for the limit directly may "
                        f"help"), t, state)
                if self.deadline is not None and time.perf_counter() > self.deadline:
                    raise _OutOfTime(0)
                hstep, nu_p, nu_all = _step_size(series, order, ln_eps)
                if not _unit_ok(sysm, hstep, tmax_m - t, order):
                    # the step outgrew the fixed-point jet's time unit: its truncations could show; redo in mpfr
                    series, e0 = _jet(sysm, plain, state, order, k0_cur, h_unit, fixed=False)
                    hstep, nu_p, nu_all = _step_size(series, order, ln_eps)
                if sysm.used_float and _tail_too_large(series, nu_all, hstep, tmax_m - t, k0_cur, order, eps):
                    series, hstep, nu_p, nu_all = self._redo_tail(state, tmax_m - t, hstep, nu_all, k0_cur, h_unit)
                if not (hstep > 0) or not math.isfinite(float(t)):
                    return self.finish(Status.FAILED, f"step size collapsed at t = {float(t):.6g}; the solution may "
                                       f"blow up", t, state)
                h = mpfr(hstep) if math.isfinite(hstep) else tmax_m - t
                h_unit = hstep if math.isfinite(hstep) else None
                last = t + h >= tmax_m
                if last:
                    h = tmax_m - t
                hf = float(h)
                stats.h_min, stats.h_max = min(stats.h_min, hf), max(stats.h_max, hf)
                est = float(nu_p * h ** order) if nu_p > 0 else 0.0
                stats.err_max = max(stats.err_max, est)
                stats.err_sum += est
                if k0 is not None:  # where this step's own contributions allow the float tail to start
                    k0_cur = _adaptive_switch(nu_all, h, self.k0_cap, eps)
                    stats.k0_min = min(stats.k0_min, k0_cur)
                    stats.k0_sum += k0_cur
                # dense output at checkpoints inside (t, t+h]
                t_end = tmax_m if last else t + h
                while cp_i < len(cps) and mpfr(float(cps[cp_i])) <= t_end:
                    tc = mpfr(float(cps[cp_i]))
                    if tc > t and not (last and tc == t_end):
                        rec.add(tc, _horner(series, tc - t, order))
                    cp_i += 1
                new_state = _horner(series, h, order)
                self.nsteps += 1
                if not self.states.valid(new_state):
                    return self.finish(Status.DIVERGED, f"the state left the positive orthant or overflowed at "
                                       f"t = {float(t):.6g}", t, state)
                state = new_state
                t = t_end
                if last:
                    rec.add(t, state)
        except _OutOfTime:
            return self.finish(Status.TIME_LIMIT, (
                f"time_limit = {o['time_limit']:g} s spent at t = {float(t):.6g} (loss {lo:.3e}, loss_tol "
                f"{o['loss_tol_m']:.3e}); this state is not a limit"), t, state)

    def _redo_tail(self, state, room, hstep, nu_all, k0_cur, h_unit):
        """The jet again after its float tail failed the a-posteriori check: with the tail from where
        the failed jet's own contributions allow it (their float error does not matter for that
        choice), and if that fails too, all in mpfr.  Returns ``(series, hstep, ν_p, ν_j)``."""
        o, sysm, stats = self.o, self.sysm, self.stats
        order, dps = o["order"], o["dps"]
        eps = mpfr(10) ** (-(dps + TRUNC_DIGITS))
        ln_eps = -(dps + TRUNC_DIGITS) * math.log(10.0)
        plain = self.states.plain
        stats.rejected += 1
        k_retry = _adaptive_switch(nu_all, min(mpfr(hstep), room), order, eps) if math.isfinite(hstep) else order
        if k0_cur < k_retry < order:
            series, _ = _jet(sysm, plain, state, order, k_retry, h_unit)
            hstep, nu_p, nu_all = _step_size(series, order, ln_eps)
            if not (sysm.used_float and _tail_too_large(series, nu_all, hstep, room, k_retry, order, eps)) and \
                    _unit_ok(sysm, hstep, room, order):
                self.k0_cap = max(self.k0_cap, k_retry)  # later steps may start the tail as late
                return series, hstep, nu_p, nu_all
            stats.rejected += 1
        series, _ = _jet(sysm, plain, state, order, None, None, fixed=False)
        hstep, nu_p, nu_all = _step_size(series, order, ln_eps)
        return series, hstep, nu_p, nu_all

    def _why_not(self, lo) -> str:
        lt = self.o["loss_tol_m"]
        if lo > lt:
            return f"loss {lo:.3e} > loss_tol {lt:.3e}"
        return f"loss {lo:.3e} <= loss_tol {lt:.3e} but the {self.limit.test.unsettled_message()}"

    def finish(self, status, message, tt, st) -> FlowResult:
        o, mon, stats, rec = self.o, self.monitor, self.stats, self.records
        message += self.note
        note = mon.warning(f"dps = {o['dps']} digits")
        if note is not None:
            note += "; raise dps"
            message = f"{message}; WARNING: {note}"
            warnings.warn(note, RuntimeWarning, stacklevel=4)
        r, u, x, _ = self.states.split(st)
        lo = rec.loss_of(st)
        if not rec.t or rec.t[-1] != float(tt):
            rec.add(tt, st, lo)
        log_u, _ = rec.log_u(st)
        if self.states.plain:  # the direction w/‖w‖
            log_u = log_u - _to_mpf(gmpy2.log(r))
        x_mp = mp_array(_to_mpf(v) for v in x)
        diag = TaylorDiagnostics(
            order=o["order"], arithmetic=arithmetic_text(**self.sysm.jets), prec_bits=self.prec_bits,
            trunc_tol=10.0 ** (-(o["dps"] + TRUNC_DIGITS)), rank=self.check.rank,
            h_min=stats.h_min if self.nsteps else math.nan, h_max=stats.h_max if self.nsteps else math.nan,
            err_est_max=stats.err_max, err_est_sum=stats.err_sum, float_from_order=o["k0"],
            float_from_order_min=stats.k0_min if o["k0"] is not None else None, float_from_order_sum=stats.k0_sum,
            float_tail_rejected=stats.rejected, ball_radius_max=self.check.radius_max)
        return FlowResult(
            status=status, message=message, config=self.config, method=f"taylor(order={o['order']})", dps=o["dps"],
            t=np.array(rec.t), loss=np.array(rec.loss), r=np.array(rec.r),
            invariant_residual=np.array(rec.inv), unorm_dev=np.array(rec.udev),
            t_final=_to_mpf(tt), r_final=_to_mpf(r), u_final=mp_array(_to_mpf(v) for v in u),
            x_final=x_mp, nfev=self.sysm.nfev, nsteps=self.nsteps,
            log_u_final=log_u, x_user=mp_array(self.problem.to_user(x_mp)), loss_final_exact=_to_mpf(lo),
            loss_tol=o["loss_tol"], wall_time=time.perf_counter() - self.t_start,
            steady=self.limit.test.record(), diagnostics=diag, **mon.fields())
