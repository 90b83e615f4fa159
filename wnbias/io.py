"""The one I/O module of the app layer: version stamps, JSON, atomic writes, CSV, output paths.

* :func:`versions` — one set of keys, used by every JSON the toolkit writes (``solve --json``,
  sweep records and manifests, ``reproduce``'s manifest).
* JSON has one policy and one converter, :func:`numerics._arith.jsonable`: non-finite floats
  are ``null`` (strict JSON has no NaN), arrays are lists, dataclasses dicts, a ``Status`` its
  value, and an ``mpmath.mpf`` a decimal *string* — here with all the digits its mantissa holds,
  so no precision is lost; a result object with ``to_dict()`` is written as that dict.
  :func:`dumps` and :func:`write_json` never emit a bare ``NaN``.
* :func:`atomic_write` — the one atomic write: a temporary file unique to the process in the
  same directory, then ``os.replace``; readers see the old file or the new one.
* :func:`write_csv` / :func:`read_csv` — rows (dicts) as CSV, lists and dicts as JSON text.
* :func:`check_output_file` / :func:`check_output_dir` — an output path is checked *before* a
  command does its work (:class:`~wnbias.errors.UsageError`, exit 2, naming the option);
  ``"-"`` as a file name means standard output.

Of the toolkit this module imports only :mod:`wnbias.errors` and (where used) numpy, mpmath and
:mod:`numerics._arith`, so every layer of the app may use it without a cycle.
"""

from __future__ import annotations

import csv
import enum
import json
import os
import platform
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from wnbias.errors import UsageError

# numpy, mpmath and numerics._arith are imported where they are used: this module is imported
# while the command line builds its parser, which must not load the numerical stack.

# ------------------------------------------------------------------------------ versions


def versions() -> dict:
    """Versions of wnbias, python, numpy, scipy, mpmath and mpmath's backend (one set of keys)."""
    from importlib.metadata import PackageNotFoundError, version

    import mpmath
    import numpy as np
    import scipy

    try:  # as wnbias.__version__ reads it (not imported from there: wnbias/__init__ imports the app)
        wnbias_version = version("wnbias")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        wnbias_version = "0.0.0+unknown"
    return {
        "wnbias": wnbias_version,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "mpmath": mpmath.__version__,
        "backend": mpmath.libmp.BACKEND,
    }


# ---------------------------------------------------------------------------------- JSON


def mp_str(v, dps: Optional[int] = None) -> str:
    """A decimal string of an mpf with ``dps`` significant digits.

    Default: the digits its mantissa holds (:func:`numerics._arith.mantissa_digits`, the same
    count JSON uses), not the context's current precision, which may be lower than the
    precision it was computed at.
    """
    import mpmath

    from numerics._arith import mantissa_digits

    v = v if isinstance(v, mpmath.mpf) else mpmath.mpf(v)
    return mpmath.nstr(v, mantissa_digits(v) if dps is None else int(dps))


def _expand(obj: Any) -> Any:
    """``obj`` with every result object that has a ``to_dict()`` (at the top or inside dicts,
    lists and tuples) replaced by that dict, so a result is written as its own ``to_dict()``."""
    if not isinstance(obj, type) and callable(getattr(obj, "to_dict", None)):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {k: _expand(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_expand(v) for v in obj]
    return obj


def to_jsonable(obj: Any, digits: Optional[int] = None) -> Any:
    """``obj`` in plain JSON types, by :func:`numerics._arith.jsonable` — the one converter.

    A result object with ``to_dict()`` becomes exactly that dict (its mpf values with its own
    ``dps`` digits), so ``json.loads(dumps(r)) == r.to_dict()``.  Everything else is
    ``jsonable(obj, digits)``: with ``digits=None`` (the default) each finite ``mpf`` keeps all
    the digits its mantissa holds; NaN and infinities are ``None``; an unknown type is a
    ``TypeError`` naming it.
    """
    from numerics._arith import jsonable

    return jsonable(_expand(obj), digits)


def dumps(obj: Any, **kw) -> str:
    """Strict JSON of ``obj`` (:func:`to_jsonable`; NaN → null), indented by 2 unless told."""
    kw.setdefault("indent", 2)
    kw.setdefault("ensure_ascii", False)
    return json.dumps(to_jsonable(obj), allow_nan=False, **kw)


def canonical(obj: Any) -> str:
    """The canonical JSON text of already-JSON-able ``obj`` (sorted keys, no spaces, strict):
    what hashes and checksums are taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _stdout_is_utf() -> bool:
    enc = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return enc.startswith("utf")


def write_json(path, obj: Any, **kw):
    """Write ``obj`` (:func:`to_jsonable`) to ``path`` as strict JSON, atomically.

    ``path == "-"`` writes to standard output (ASCII escapes where stdout cannot encode the
    text) and returns ``"-"``; otherwise the :class:`~pathlib.Path` written.  ``kw`` go to
    :func:`dumps` (``indent``, ``sort_keys``).
    """
    if str(path) == "-":
        sys.stdout.write(dumps(obj, ensure_ascii=not _stdout_is_utf(), **kw) + "\n")
        sys.stdout.flush()
        return "-"
    path = Path(path)
    text = dumps(obj, **kw) + "\n"
    atomic_write(path, lambda fh: fh.write(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- atomic write


def unique_temp(final: Path) -> tuple[int, str]:
    """Create ``.<name>.<pid>.<random>.tmp`` next to ``final`` (exclusive create, mode 0666 less
    the umask, as a plain ``open`` would give the final file); ``(fd, path)``."""
    final = Path(final)
    for _ in range(100):
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(tmp)
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue
    raise FileExistsError(f"no free temporary name next to {final}")  # pragma: no cover


def atomic_write(path, write: Callable, mode: str = "w", *, fsync: bool = False, **open_kw) -> Path:
    """Write ``path`` through a temporary file unique to this process (same directory), then
    ``os.replace``: readers see the old file or the new one, and two processes never share a
    temporary name.  ``write(fh)`` writes to the open temporary file (``mode`` ``"w"`` or
    ``"wb"``); ``fsync`` flushes it to disk before the rename.  Returns the path."""
    path = Path(path)
    fd, tmp = unique_temp(path)
    try:
        with os.fdopen(fd, mode, **open_kw) as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# ------------------------------------------------------------------------------------ CSV


def _cell(v):
    if isinstance(v, enum.Enum):  # a Status: its value (str() of a str-enum is its name)
        return v.value
    if isinstance(v, (list, dict)):
        return json.dumps(to_jsonable(v), allow_nan=False)
    if isinstance(v, float) and v != v:
        return None
    return v


def csv_rows(fh, header: Sequence[str], rows: Iterable[dict]) -> None:
    """Write ``rows`` under ``header`` to an open text file (lists and dicts as JSON text, NaN
    as an empty cell)."""
    w = csv.DictWriter(fh, fieldnames=list(header))
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(v) for k, v in r.items()})


def columns(rows: Iterable[dict]) -> list:
    """The union of the rows' keys, in order of first appearance."""
    cols: list = []
    seen = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return cols


def write_csv(path, rows: Sequence[dict], header: Optional[Sequence[str]] = None) -> Path:
    """Write ``rows`` (dicts) to ``path`` as CSV, atomically; ``header`` defaults to the union of
    their keys.  Lists and dicts become JSON text; a NaN an empty cell (read back as ``None``)."""
    rows = list(rows)
    header = columns(rows) if header is None else list(header)
    return atomic_write(Path(path), lambda fh: csv_rows(fh, header, rows), newline="")


def read_csv(path) -> list[dict]:
    """Read a CSV written by :func:`write_csv`: numbers come back as int/float, ``True``/``False``
    as booleans, empty cells as ``None``; everything else (and every ``exact.*`` and ``*_digits``
    column) stays text."""

    def conv(s: str):
        if s == "":
            return None
        if s in ("True", "False"):
            return s == "True"
        for f in (int, float):
            try:
                return f(s)
            except ValueError:
                pass
        return s

    def text(k: str) -> bool:  # exact decimal strings and many-digit values: kept as text
        return k.startswith("exact.") or k.endswith("_digits")

    with open(path, newline="") as fh:
        return [{k: (v if text(k) else conv(v)) for k, v in row.items()} for row in csv.DictReader(fh)]


# ------------------------------------------------------------- output paths, checked first


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
        raise UsageError(f"{option}: {str(path) or '(empty)'} is a directory; give a file name")
    parent = p.parent
    if not parent.exists():
        raise UsageError(f"{option}: cannot write {p}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise UsageError(f"{option}: cannot write {p}: {parent} is not a directory")
    try:
        if p.exists():
            with open(p, "a", encoding="utf-8"):
                pass
        else:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            os.unlink(p)
    except OSError as exc:
        raise UsageError(f"{option}: cannot write {p} ({exc.strerror or exc})") from None


def probe_writable(directory) -> None:
    """Create and remove a probe file in ``directory`` (``.probe.<pid>.<random>.tmp``): raises
    ``OSError`` unless files can be written there.  The one writability probe of the toolkit."""
    fd, probe = tempfile.mkstemp(prefix=f".probe.{os.getpid()}.", suffix=".tmp", dir=directory)
    os.close(fd)
    os.unlink(probe)


def check_output_dir(path, option: str = "--out", files: Sequence[str] = ()) -> Path:
    """Create the directory ``path`` if needed and check that files can be written in it.

    Raises ``UsageError`` naming ``option`` when ``path`` is empty, an existing file, cannot be
    created, is not writable (a probe file is created and removed), or holds a directory where
    one of ``files`` (names inside it) is to be written.  Returns the path.
    """
    d = Path(path)
    if str(path) == "":
        raise UsageError(f"{option}: an empty directory name")
    if d.exists() and not d.is_dir():
        raise UsageError(f"{option}: {d} is a file, not a directory (a directory is expected)")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option}: cannot create the directory {d} ({exc.strerror or exc})") from None
    try:
        probe_writable(d)
    except OSError as exc:
        raise UsageError(f"{option}: cannot write in {d} ({exc.strerror or exc})") from None
    for name in files:
        if (d / name).is_dir():
            raise UsageError(f"{option}: {d / name} is a directory; a file is written there")
    return d


__all__ = ["atomic_write", "canonical", "check_output_dir", "check_output_file", "columns", "csv_rows", "dumps",
           "mp_str", "probe_writable", "read_csv", "to_jsonable", "unique_temp", "versions", "write_csv", "write_json"]
