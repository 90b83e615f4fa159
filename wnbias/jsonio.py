"""JSON helpers: version stamps, parameters, and numpy / mpmath values → JSON.

* float64 values go out as JSON numbers (``nan``/``inf`` as ``null`` — strict JSON has neither);
* ``mpmath.mpf`` values go out as decimal *strings* with all their digits (``mp_str``), so no
  precision is lost to a float;
* numpy arrays become lists; enums their ``.value``; dataclasses dicts.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import platform
from pathlib import Path
from typing import Any


def versions() -> dict:
    """Versions of wnbias, python, numpy, scipy, mpmath and mpmath's backend."""
    import mpmath
    import numpy
    import scipy

    from wnbias import __version__

    return {
        "wnbias": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "mpmath": mpmath.__version__,
        "backend": mpmath.libmp.BACKEND,
    }


def mp_str(v, dps: int | None = None) -> str:
    """A decimal string of an mpf with ``dps`` significant digits.

    Default: the digits its mantissa holds (``bitcount·log10 2``), at least 15 — not the
    context's current precision, which may be lower than the precision it was computed at.
    """
    import mpmath

    v = mpmath.mpf(v) if not isinstance(v, mpmath.mpf) else v
    if dps is None:
        bc = v._mpf_[3] if v._mpf_[1] else 0
        dps = max(15, int(bc * 0.30103) + 1)
    return mpmath.nstr(v, int(dps))


def to_jsonable(obj: Any) -> Any:
    """Recursively convert ``obj`` into plain JSON types (see the module docstring)."""
    import numpy as np

    try:
        import mpmath
        mpf_types = (mpmath.mpf,)
    except ImportError:  # pragma: no cover
        mpf_types = ()
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if mpf_types and isinstance(obj, mpf_types):
        return mp_str(obj)
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()] if obj.dtype != object else [to_jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def dumps(obj: Any, **kw) -> str:
    kw.setdefault("indent", 2)
    return json.dumps(to_jsonable(obj), allow_nan=False, ensure_ascii=False, **kw)


def write_json(path, obj: Any) -> Path:
    """Write ``obj`` (converted by :func:`to_jsonable`) to ``path`` as strict JSON."""
    path = Path(path)
    path.write_text(dumps(obj) + "\n", encoding="utf-8")
    return path
