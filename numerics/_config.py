"""Flow settings: depth, initial radius and direction, learning rates.

Parameters are kept *exactly* as they were given (docs/math.md §1, §2): a string
``"0.1"`` is one tenth, a Python float ``0.1`` is the binary double it is
(``0.1000000000000000055511151231257827021181583404541015625``).  Float64 code reads
``config.r0`` etc., which are floats rounded once from the exact value; high-precision
code reads :meth:`FlowConfig.mp` / :meth:`FlowConfig.w0_mp` inside
``numerics._precision.workdps(dps)``, which round the exact value once at that precision.
"""

from __future__ import annotations

import decimal
import math
import numbers
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, Optional

import mpmath
import numpy as np

Rates = Literal["constant", "r2", "plain"]
RATES = ("constant", "r2", "plain")

EXACT_NAMES = ("r0", "eta_r", "eta_u", "eta_tilde")
"""The scalar parameters :meth:`FlowConfig.exact` and :meth:`FlowConfig.mp` know."""


class ExactFloat(float):
    """A float (the value rounded once to float64) that remembers the exact value it came from.

    Arithmetic gives plain floats; only :class:`FlowConfig` reads ``.exact``, so that
    ``config.replace(rates="r2")`` or ``FlowConfig(r0=other.r0)`` keep the exact value.
    """

    __slots__ = ("exact",)

    def __new__(cls, exact: Fraction):
        self = super().__new__(cls, _fraction_to_float(exact))
        self.exact = exact
        return self

    def __reduce__(self):
        return (_exact_float, (self.exact.numerator, self.exact.denominator))


def _exact_float(p: int, q: int) -> ExactFloat:
    return ExactFloat(Fraction(p, q))


def _fraction_to_float(q: Fraction) -> float:
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


MAX_DECIMAL_EXPONENT = 10_000
"""The largest decimal exponent a parameter string may carry (``"1e-10000"``); beyond it the
exact value is an integer of more than ten thousand digits, far outside any double or any
sensible precision."""


def _parse_string(s: str) -> Fraction:
    t = s.strip().replace("_", "")
    if not t:
        raise ValueError("empty string")
    if "/" in t:
        num, _, den = t.partition("/")
        if "/" in den:
            raise ValueError("more than one '/'")
        d = _parse_string(den)
        if d == 0:
            raise ValueError("zero denominator")
        return _parse_string(num) / d
    low = t.lower()
    if low.lstrip("+-").startswith("0x"):
        return Fraction(float.fromhex(t))  # a float.hex string is an exact double
    if any(c in low for c in ("j", "nan", "inf")):
        raise ValueError("not a finite real number")
    mant, e, expo = low.partition("e")
    if e and expo.lstrip("+-").isdigit() and abs(int(expo)) > MAX_DECIMAL_EXPONENT:
        # Fraction("1e1000000000") would build a 10^(10^9) integer: refuse before it hangs
        raise ValueError(f"decimal exponent beyond ±{MAX_DECIMAL_EXPONENT}")
    return Fraction(t)


def exact_value(value, name: str = "value") -> Fraction:
    """The exact rational value of a parameter given as int, float, str (decimal, ``"p/q"`` or
    ``float.hex``), Fraction, Decimal, mpmath.mpf or a numpy scalar.

    A float is the exact double it is.  Raises ``ValueError`` naming ``name`` for anything
    else (bool, complex, a bad string, a non-finite number)."""
    v = value
    try:
        if isinstance(v, ExactFloat):
            return v.exact
        if isinstance(v, (bool, np.bool_)):
            raise ValueError("a bool is not a number here")
        if isinstance(v, (complex, np.complexfloating, mpmath.mpc)):
            raise ValueError("complex values are not allowed")
        if isinstance(v, (int, np.integer)):
            return Fraction(int(v))
        if isinstance(v, numbers.Rational):
            return Fraction(int(v.numerator), int(v.denominator))
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                raise ValueError("not finite")
            p, q = v.as_integer_ratio()
            return Fraction(int(p), int(q))
        if isinstance(v, decimal.Decimal):
            if not v.is_finite():
                raise ValueError("not finite")
            return Fraction(v)
        if isinstance(v, mpmath.mpf):
            if not mpmath.isfinite(v):
                raise ValueError("not finite")
            sign, man, exp, _bc = v._mpf_
            man = -int(man) if sign else int(man)
            return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2 ** (-exp))
        if isinstance(v, str):
            return _parse_string(v)
        if isinstance(v, np.ndarray) and v.ndim == 0:
            return exact_value(v[()], name)
    except (ValueError, ZeroDivisionError, decimal.InvalidOperation, OverflowError) as exc:
        raise ValueError(f"{name} must be a finite real number, got {value!r} ({exc})") from None
    raise ValueError(
        f"{name} must be an int, float, str, Fraction, Decimal or mpmath.mpf, "
        f"got {value!r} of type {type(value).__name__}")


def exact_string(q: Fraction) -> str:
    """The exact decimal string of ``q`` when it terminates (``"0.1"``, ``"1e-30"`` written out
    in full as ``"0.000…1"``), else ``"p/q"``.  ``Fraction(exact_string(q)) == q``."""
    q = Fraction(q)
    den = q.denominator
    a = b = 0
    while den % 2 == 0:
        den //= 2
        a += 1
    while den % 5 == 0:
        den //= 5
        b += 1
    if den != 1:
        return f"{q.numerator}/{q.denominator}"
    k = max(a, b)
    scaled = abs(q.numerator) * 10**k // q.denominator
    sign = "-" if q < 0 else ""
    if k == 0:
        return f"{sign}{scaled}"
    digits = str(scaled).rjust(k + 1, "0")
    whole, frac = digits[:-k], digits[-k:].rstrip("0")
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def mpf_of(q: Fraction):
    """``q`` rounded once (to nearest) at mpmath's current precision."""
    q = Fraction(q)
    raw = mpmath.libmp.from_rational(q.numerator, q.denominator, mpmath.mp.prec, "n")
    return mpmath.mp.make_mpf(raw)


def _positive_exact(value, name: str) -> ExactFloat:
    q = exact_value(value, name)
    if q <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    f = _fraction_to_float(q)
    if not math.isfinite(f) or f < np.finfo(float).tiny:
        raise ValueError(f"{name} = {value!r} lies outside the normal float64 range "
                         f"[{np.finfo(float).tiny:.3g}, {np.finfo(float).max:.3g}]")
    return ExactFloat(q)


@dataclass(frozen=True, repr=False)
class FlowConfig:
    """Settings of one flow (docs/math.md §2).

    ``rates``:
      * ``"constant"`` — WN-GF with constant ``(eta_r, eta_u)``;
      * ``"r2"`` — WN-GF with the time-dependent rates ``(r², 1)`` (``eta_r``/``eta_u`` unused);
      * ``"plain"`` — plain GF on ``w`` from ``w0 = r0 * u0`` (``eta_*`` unused).

    ``u0`` is the initial direction (positive, normalised to ``‖u0‖ = 1`` by :meth:`u0_for`);
    ``None`` means the uniform direction ``1/√n · 1``.  Plain GF from ``w0 = α·1`` is
    ``r0 = α√n`` with the default ``u0``.

    **Exact parameters.** ``r0``, ``eta_r``, ``eta_u`` and the entries of ``u0`` may be given as
    ``int``, ``float``, ``str`` (a decimal such as ``"0.1"`` or ``"1e-3"``, a rational ``"1/3"``,
    or a ``float.hex`` string), ``fractions.Fraction``, ``decimal.Decimal``, ``mpmath.mpf`` or a
    numpy scalar, and are kept exactly.  ``FlowConfig(eta_r=0.1)`` means the binary double
    nearest one tenth (a float is the double it is); ``FlowConfig(eta_r="0.1")`` means exactly
    one tenth.  The attributes ``r0``, ``eta_r``, ``eta_u``, ``eta_tilde`` and ``u0`` are floats
    rounded once from the exact values (float64 code is unchanged); :meth:`exact` gives the
    exact ``Fraction`` and :meth:`mp` the value rounded once at mpmath's current precision
    (``η̃ = η_r/η_u`` is formed exactly before rounding).  Equality and hashing use the exact
    values.  Bad values raise ``ValueError`` naming the parameter.
    """

    L: int = 2
    r0: float = 1.0
    eta_r: float = 0.1
    eta_u: float = 1.0
    rates: Rates = "constant"
    u0: Optional[tuple] = None
    _exact: tuple = field(init=False, repr=False, compare=True, default=())

    def __post_init__(self):
        if isinstance(self.L, (bool, np.bool_)) or not isinstance(self.L, (int, np.integer)) or self.L < 2:
            raise ValueError(f"L must be an integer >= 2 (the depth), got {self.L!r}")
        object.__setattr__(self, "L", int(self.L))
        exact = []
        for name in ("r0", "eta_r", "eta_u"):
            v = _positive_exact(getattr(self, name), name)
            object.__setattr__(self, name, v)
            exact.append(v.exact)
        if not isinstance(self.rates, str) or self.rates not in RATES:
            raise ValueError(f"rates must be one of {RATES}, got {self.rates!r}")
        u0_exact = None
        if self.u0 is not None:
            raw = self.u0
            if isinstance(raw, (str, bytes)) or not hasattr(raw, "__len__"):
                raise ValueError(f"u0 must be a 1-D sequence of finite positive entries, got {raw!r}")
            if isinstance(raw, np.ndarray) and raw.ndim != 1:
                raise ValueError(f"u0 must be a 1-D sequence of finite positive entries, got shape {raw.shape}")
            if len(raw) == 0:
                raise ValueError("u0 must have at least one entry")
            entries = tuple(_positive_exact(v, f"u0[{i}]") for i, v in enumerate(raw))
            object.__setattr__(self, "u0", entries)
            u0_exact = tuple(e.exact for e in entries)
        object.__setattr__(self, "_exact", (tuple(exact), u0_exact))

    # -- exact values ------------------------------------------------------------------------

    @property
    def eta_tilde(self) -> float:
        """Learning-rate ratio ``η̃ = η_r / η_u`` (the exact ratio, rounded once to float64)."""
        return ExactFloat(self.exact("eta_tilde"))

    @property
    def u0_exact(self) -> Optional[tuple]:
        """``None`` (uniform direction) or the exact entries of ``u0`` as Fractions."""
        return self._exact[1]

    def exact(self, name: str) -> Fraction:
        """The exact value of ``name`` in {"r0", "eta_r", "eta_u", "eta_tilde"}."""
        r0, eta_r, eta_u = self._exact[0]
        table = {"r0": r0, "eta_r": eta_r, "eta_u": eta_u}
        if name == "eta_tilde":
            return eta_r / eta_u
        if name not in table:
            raise ValueError(f"unknown parameter {name!r}; expected one of {EXACT_NAMES}")
        return table[name]

    def mp(self, name: str):
        """``exact(name)`` rounded once at mpmath's current precision (use inside
        ``numerics._precision.workdps(dps)``)."""
        return mpf_of(self.exact(name))

    def _u0_mp(self, n: int) -> np.ndarray:
        """The entries of ``u0`` (any norm) at the current mpmath precision, each rounded once."""
        from numerics._arith import mp_array

        if self.u0_exact is None:
            return mp_array([1] * n)
        self._check_len(n)
        return mp_array([mpf_of(q) for q in self.u0_exact])

    def log_ubar0_mp(self, n: int) -> np.ndarray:
        """``log ū0`` (an object array of mpf) at the current mpmath precision, from the exact ``u0``
        (:func:`numerics._formulas.log_direction`: no underflow)."""
        from numerics._formulas import log_direction

        return log_direction(self._u0_mp(n))

    def ubar0_mp(self, n: int) -> np.ndarray:
        """The unit initial direction ``ū0`` (an object array of mpf) at the current mpmath precision."""
        from numerics._arith import mp_array

        return mp_array([mpmath.exp(v) for v in self.log_ubar0_mp(n)])

    def w0_mp(self, n: int) -> np.ndarray:
        """Initial weights ``w0 = r0 · ū0`` (an object array of mpf) at the current mpmath precision."""
        return self.mp("r0") * self.ubar0_mp(n)

    def log_w0_mp(self, n: int) -> np.ndarray:
        """``log w0 = log r0 + log ū0`` (an object array of mpf) at the current mpmath precision,
        without forming ``w0`` (no underflow)."""
        return self.log_ubar0_mp(n) + mpmath.log(self.mp("r0"))

    def exact_strings(self) -> dict:
        """Exact decimal strings (``"p/q"`` when not terminating) of r0, eta_r, eta_u,
        eta_tilde and u0 (``None`` or a list).  ``FlowConfig(**{k: s})`` gives the same value."""
        out = {name: exact_string(self.exact(name)) for name in EXACT_NAMES}
        out["u0"] = None if self.u0_exact is None else [exact_string(q) for q in self.u0_exact]
        return out

    # -- float64 views -----------------------------------------------------------------------

    def _check_len(self, n: int) -> None:
        if len(self.u0) != n:
            raise ValueError(f"u0 has length {len(self.u0)} but the model has n = {n} weights")

    def u0_for(self, n: int) -> np.ndarray:
        """The unit initial direction ``ū0`` in R^n (float64)."""
        if self.u0 is None:
            return np.full(n, 1.0 / math.sqrt(n))
        self._check_len(n)
        u0 = np.asarray(self.u0, dtype=float)
        return u0 / np.linalg.norm(u0)

    def w0_for(self, n: int) -> np.ndarray:
        """Initial weights ``w0 = r0 · ū0`` (float64)."""
        return float(self.r0) * self.u0_for(n)

    def replace(self, **changes) -> "FlowConfig":
        """A copy with ``changes``; unchanged parameters keep their exact values."""
        from dataclasses import replace

        return replace(self, **changes)

    def as_dict(self) -> dict:
        """JSON-able settings: float64 values as before, plus the exact strings under "exact"."""
        return {
            "L": self.L,
            "r0": float(self.r0),
            "eta_r": float(self.eta_r),
            "eta_u": float(self.eta_u),
            "eta_tilde": float(self.eta_tilde),
            "rates": self.rates,
            "u0": None if self.u0 is None else [float(v) for v in self.u0],
            "exact": self.exact_strings(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "FlowConfig":
        """Inverse of :meth:`as_dict`: uses the exact strings when present."""
        ex = d.get("exact") or {}
        return cls(
            L=d.get("L", 2),
            r0=ex.get("r0", d.get("r0", 1.0)),
            eta_r=ex.get("eta_r", d.get("eta_r", 0.1)),
            eta_u=ex.get("eta_u", d.get("eta_u", 1.0)),
            rates=d.get("rates", "constant"),
            u0=ex.get("u0", d.get("u0")) if "u0" in ex else d.get("u0"),
        )

    def __repr__(self) -> str:
        def show(v):
            q = v.exact
            return repr(float(v)) if Fraction(float(v)) == q else repr(exact_string(q))

        u0 = None if self.u0 is None else "(" + ", ".join(show(v) for v in self.u0) + (",)" if len(self.u0) == 1 else ")")
        return (f"FlowConfig(L={self.L}, r0={show(self.r0)}, eta_r={show(self.eta_r)}, "
                f"eta_u={show(self.eta_u)}, rates={self.rates!r}, u0={u0})")
