"""The two arithmetics of the toolkit, and one way to hold a vector in each.

A vector is always a 1-D ``numpy`` array: ``float64`` (float64 work) or ``dtype=object`` holding
``mpmath.mpf`` (work at ``dps`` digits, inside :func:`numerics.workdps`).  Scalars are
``float`` or ``mpf``.  These helpers convert between the two without silent rounding: a float64
array becomes the exact binary values as ``mpf``; an ``mpf`` array becomes float64 only by
:func:`to_float`, which is the one explicit rounding.

:func:`jsonable` is the one JSON policy of the toolkit (:mod:`wnbias.io` uses it too): ``mpf`` as a
decimal string of ``digits`` digits (``digits=None``: all the digits its mantissa holds,
:func:`mantissa_digits`), non-finite floats as ``None`` (JSON has no NaN), arrays as lists,
dataclasses as dicts, enums (a ``Status``) their value, paths strings; any other type is a
``TypeError`` naming it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
from typing import Any, Iterable, Optional

import mpmath
import numpy as np

from numerics._status import Status


def mp_array(values: Iterable) -> np.ndarray:
    """A ``dtype=object`` array of ``mpf`` (at the current mpmath precision) from an iterable of
    mpf, int, exact strings or floats (a float is taken as the binary double it is)."""
    vals = values.reshape(-1).tolist() if isinstance(values, np.ndarray) else list(values)
    out = np.empty(len(vals), dtype=object)
    for i, v in enumerate(vals):
        out[i] = v if isinstance(v, mpmath.mpf) else mpmath.mpf(v)
    return out


def is_mp_array(a: Any) -> bool:
    """True for a ``dtype=object`` array (the high-precision kind)."""
    return isinstance(a, np.ndarray) and a.dtype == object


def to_float(a: Any) -> Any:
    """Round an mpf array (or scalar) to float64; float64 input is returned as a float64 array / float."""
    if isinstance(a, np.ndarray):
        if a.dtype == object:
            return np.array([float(v) for v in a.reshape(-1)], dtype=float).reshape(a.shape)
        return a.astype(float, copy=False)
    return float(a)


def mantissa_digits(v: "mpmath.mpf") -> int:
    """The decimal digits an mpf's mantissa holds (``bitcount·log10 2``, at least 15): not the
    context's current precision, which may be lower than the precision it was computed at."""
    bc = v._mpf_[3] if v._mpf_[1] else 0
    return max(15, int(bc * 0.30103) + 1)


def jsonable(v: Any, digits: Optional[int] = 15) -> Any:
    """A JSON-able copy of ``v`` (see the module docstring for the policy)."""
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Status):
        return v.value
    if isinstance(v, mpmath.mpf):
        if not mpmath.isfinite(v):
            return None
        return mpmath.nstr(v, mantissa_digits(v) if digits is None else int(digits), min_fixed=1, max_fixed=0)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return [jsonable(t, digits) for t in v.reshape(-1).tolist()] if v.ndim <= 1 else \
            [jsonable(row, digits) for row in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: jsonable(getattr(v, f.name), digits) for f in dataclasses.fields(v)}
    if isinstance(v, (list, tuple)):
        return [jsonable(t, digits) for t in v]
    if isinstance(v, dict):
        return {str(k): jsonable(t, digits) for k, t in v.items()}
    if isinstance(v, enum.Enum):
        return jsonable(v.value, digits)
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    raise TypeError(f"jsonable: cannot convert an object of type {type(v).__module__}.{type(v).__qualname__} to JSON")
