"""JSON helpers: version stamps, parameters, and numpy / mpmath values → JSON.

* float64 values go out as JSON numbers (``nan``/``inf`` as ``null`` — strict JSON has neither);
* ``mpmath.mpf`` values go out as decimal *strings* with all their digits (``mp_str``), so no
  precision is lost to a float;
* numpy arrays become lists; enums their ``.value``; dataclasses dicts.

Output paths: :func:`check_output_file` and :func:`check_output_dir` test, *before* a command
does its work, that what it will write can be written (a :class:`~wnbias.errors.UsageError`,
exit 2, naming the option otherwise); ``"-"`` as a file name means standard output.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import platform
import sys
import tempfile
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
    kw.setdefault("ensure_ascii", False)
    return json.dumps(to_jsonable(obj), allow_nan=False, **kw)


def _stdout_is_utf() -> bool:
    enc = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return enc.startswith("utf")


def write_json(path, obj: Any):
    """Write ``obj`` (converted by :func:`to_jsonable`) to ``path`` as strict JSON.

    ``path == "-"`` writes to standard output (ASCII escapes where stdout cannot encode
    the text) and returns ``"-"``; otherwise the :class:`~pathlib.Path` written.
    """
    if str(path) == "-":
        sys.stdout.write(dumps(obj, ensure_ascii=not _stdout_is_utf()) + "\n")
        sys.stdout.flush()
        return "-"
    path = Path(path)
    path.write_text(dumps(obj) + "\n", encoding="utf-8")
    return path


# -- output paths, checked before the work ------------------------------------------------


def _usage(option: str, msg: str):
    from wnbias.errors import UsageError

    return UsageError(f"{option}: {msg}")


def check_output_file(path, option: str) -> None:
    """Raise ``UsageError`` (naming ``option``) unless a file can be written at ``path``.

    Refused: a directory, a missing parent directory, a parent that is not a directory, a
    file or folder that cannot be written.  Nothing is left behind (an existing file is
    opened for appending and closed, untouched; a new one is created and removed).
    ``"-"`` (standard output) is always accepted.
    """
    if str(path) == "-":
        return
    p = Path(path)
    if str(path) == "" or p.is_dir():
        raise _usage(option, f"{str(path) or '(empty)'} is a directory; give a file name")
    parent = p.parent
    if not parent.exists():
        raise _usage(option, f"cannot write {p}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise _usage(option, f"cannot write {p}: {parent} is not a directory")
    try:
        if p.exists():
            with open(p, "a", encoding="utf-8"):
                pass
        else:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            os.unlink(p)
    except OSError as exc:
        raise _usage(option, f"cannot write {p} ({exc.strerror or exc})") from None


def check_output_dir(path, option: str) -> Path:
    """Create the directory ``path`` if needed and check that files can be written in it.

    Raises ``UsageError`` naming ``option`` when ``path`` is an existing file, cannot be
    created, or is not writable (a probe file is created and removed).  Returns the path.
    """
    d = Path(path)
    if str(path) == "":
        raise _usage(option, "an empty directory name")
    if d.exists() and not d.is_dir():
        raise _usage(option, f"{d} exists and is not a directory (a directory is expected)")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _usage(option, f"cannot create the directory {d} ({exc.strerror or exc})") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".wnbias-probe-", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _usage(option, f"cannot write into {d} ({exc.strerror or exc})") from None
    return d
