"""The precision and tolerance policy, in one place.

Every tolerance in the toolkit is derived from the working precision:
for ``dps`` decimal digits a quantity that should vanish is accepted when it is
below ``10**(-dps + k)``, with a small integer ``k`` named here per kind of check
(the digits lost to conditioning and accumulation).  Float64 is ``dps = 15``
(``DPS_FLOAT64``; 2**-52 ~ 2.2e-16).  No call site hand-tunes a tolerance.

Precision is always an argument; :func:`workdps` is the only way code here sets
mpmath's precision, and it restores the previous value on exit (with guard digits).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import mpmath

DPS_FLOAT64 = 15
"""Decimal digits of float64, for the shared tolerance rule."""

MIN_DPS = DPS_FLOAT64 + 1
"""The smallest ``dps`` a high-precision solve accepts: below it the tolerances ``10**(-dps + k)`` are
looser than float64's, so the float64 path is the one to use (docs/math.md §4)."""

GUARD_DIGITS = 10
"""Extra digits carried internally by high-precision routines."""

# Digits a check may lose, by kind (the ``k`` of 10**(-dps+k)).
K_ROUNDOFF = 3      # an identity evaluated once (a few roundings, sums of n terms)
K_ACCUMULATED = 6   # a quantity accumulated along a trajectory of many steps
K_SOLVE = 5         # the residual of an iterative solve (Newton, LP polish)


def tol(dps: int, k: int = K_ROUNDOFF) -> float:
    """Tolerance ``10**(-dps + k)`` for a check at ``dps`` digits."""
    if dps <= 0:
        raise ValueError(f"dps must be a positive integer, got {dps!r}")
    return 10.0 ** (-int(dps) + int(k))


def check_dps(dps: int) -> int:
    """Validate a user-supplied precision and return it as an ``int``."""
    if isinstance(dps, bool) or not isinstance(dps, int) or dps < 1:
        raise ValueError(f"dps must be a positive integer number of decimal digits, got {dps!r}")
    return dps


def check_mp_dps(dps: int, what: str = "dps") -> int:
    """:func:`check_dps` plus the floor :data:`MIN_DPS` (``ValueError`` naming both)."""
    dps = check_dps(dps)
    if dps < MIN_DPS:
        raise ValueError(f"{what} = {dps} is below the minimum {MIN_DPS} (numerics._precision.MIN_DPS): at fewer "
                         "digits the tolerances are looser than float64's; omit dps for a float64 solve")
    return dps


@contextlib.contextmanager
def workdps(dps: int, guard: int = GUARD_DIGITS) -> Iterator[None]:
    """Work at ``dps + guard`` digits inside the block; restore mpmath's precision after."""
    with mpmath.mp.workdps(check_dps(dps) + guard):
        yield


def mpmath_backend() -> str:
    """Name of mpmath's integer backend ('gmpy' when gmpy2 is in use)."""
    return mpmath.libmp.BACKEND
