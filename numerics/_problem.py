"""Problems: data ``(A, y)``, the model, and generators.

``Problem`` holds the user's data.  The signed model is the positive model with
``Ã = [A, −A]`` (docs/math.md §1); numerics works with :attr:`Problem.A_eff` and maps between
effective and user coordinates with :meth:`Problem.to_user` and :meth:`Problem.to_eff` — the one
home of that map.

``A`` is a dense array or a matrix-free operator (a float64
:class:`scipy.sparse.linalg.LinearOperator`, e.g. :class:`numerics._operators.SubsampledDCT`;
``generate(..., matrix="dct")``).  An operator problem has ``A_eff`` an operator too
(:class:`numerics._operators.SignedOperator` for the signed model); solvers that need entries
(the LP, rescaling) materialise it with :meth:`Problem.dense` where the size allows.  Saving an
operator problem records the operator's parameters (JSON text), never a pickle.

Input is what it claims to be (docs/math.md §1: ``A`` and ``y`` are real): ``Problem``
accepts only real numeric arrays — integer or floating dtypes — and refuses booleans,
complex numbers, dates and durations, structured records, strings and Python objects with a
``ValueError`` naming the array.  Files are read by :meth:`Problem.load` /
:meth:`Problem.from_npy`, which parse the ``.npz``/``.npy`` container themselves (never
unpickling) and raise :class:`ProblemFileError` (a ``ValueError``) naming the file and what
is wrong with it, for every kind of corrupt or wrong file.
"""

from __future__ import annotations

import io
import json
import lzma
import math
import stat
import struct
import sys
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Optional

import numpy as np

if TYPE_CHECKING:
    from scipy.sparse.linalg import LinearOperator


def is_operator(A) -> bool:
    """Whether ``A`` is a ``scipy.sparse.linalg.LinearOperator`` — without importing scipy (an
    operator cannot exist before ``scipy.sparse.linalg`` is imported), so that this module, and
    every command that only reads problems, stays cheap to import."""
    mod = sys.modules.get("scipy.sparse.linalg")
    return mod is not None and isinstance(A, mod.LinearOperator)


def _ops():
    """:mod:`numerics._operators`, imported where an operator is needed."""
    from numerics import _operators

    return _operators

Model = Literal["positive", "signed"]
MODELS = ("positive", "signed")
MATRICES = ("gaussian", "rademacher", "correlated", "equal_columns")
OPERATOR_MATRICES = ("dct",)
"""Matrix-free sensing operators :func:`generate` can draw (``"dct"``: :class:`SubsampledDCT`)."""
TRUTHS = ("sparse_positive", "sparse_signed", "gaussian")

SCALE_LIMIT = 1e100
"""Magnitudes outside ``[1/SCALE_LIMIT, SCALE_LIMIT]`` are reported by :meth:`Problem.scale_issues`.

Chosen so that a square of such a number (the loss ``½‖Ax − y‖²``) times a relative tolerance
down to ``1e-100`` stays inside float64's normal range (about ``2.2e-308 … 1.8e308``)."""

_EXACT_INT = 2**53
"""Integers of larger magnitude are not all exactly representable in float64."""

_DTYPE_KIND_NAMES = {
    "b": "boolean",
    "c": "complex",
    "M": "datetime64",
    "m": "timedelta64",
    "V": "structured-or-void",
    "O": "Python-object",
    "U": "string",
    "S": "bytes-string",
}


# -- validation of the arrays -------------------------------------------------------------


class _Owned(np.ndarray):
    """A float64 array handed over by its only holder (:func:`generate`): adopted without a copy, so
    that drawing a large ``A`` does not need twice its memory.  Private to this module."""


def _real_array(name: str, value) -> np.ndarray:
    """``value`` as a new float64 array, or ``ValueError`` naming ``name`` if it is not real numeric data.

    Accepted: integer dtypes (|values| ≤ 2**53, so that float64 holds them exactly) and floating
    dtypes (float16/32/64 exactly; ``longdouble`` rounded once to float64).  Refused: bool,
    complex, datetime64/timedelta64, structured/void, object, string/bytes, and masked arrays
    with masked entries (the mask would be dropped silently)."""
    if type(value) is _Owned:
        return value.view(np.ndarray)
    if isinstance(value, np.ma.MaskedArray) and np.ma.getmaskarray(value).any():
        raise ValueError(f"{name} is a masked array with masked entries; fill them first (the mask would be dropped)")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a rectangular numeric array ({exc})") from None
    kind = arr.dtype.kind
    if kind not in "iuf":
        what = _DTYPE_KIND_NAMES.get(kind, f"dtype kind {kind!r}")
        hint = ""
        if kind == "O" and arr.ndim == 0:
            hint = f" (got a {type(value).__name__}; a sparse matrix needs .toarray())"
        elif kind == "b":
            hint = " (convert it explicitly, e.g. .astype(float), if 0/1 values are meant)"
        elif kind == "c":
            hint = " (the models are real: docs/math.md §1; a complex array is never cut to its real part)"
        raise ValueError(f"{name} has {what} dtype {arr.dtype}: only real numeric (integer or floating) arrays "
                         f"are accepted{hint}")
    if kind in "iu" and arr.size:
        big = max(abs(int(arr.max())), abs(int(arr.min())))
        if big > _EXACT_INT:
            raise ValueError(f"{name} has integer entries up to {big}, beyond 2**53: float64 cannot hold them exactly")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.array(arr, dtype=np.float64, copy=True)
    return out


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry of a float array is finite, without a boolean temporary of its size in the
    common case: a finite sum means every entry is finite (an inf or nan entry makes the sum inf or
    nan); a non-finite sum (an entry, or overflow of the sum) is decided entry by entry."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return True
    return bool(np.all(np.isfinite(arr)))


def _check_finite(name: str, arr: np.ndarray) -> None:
    if not all_finite(arr):
        raise ValueError(f"{name} has non-finite entries (nan or inf, or beyond float64's range ±1.8e308)")


def _matrix_A(value, name: str = "A") -> np.ndarray:
    A = _real_array(name, value)
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got an array of shape {A.shape}")
    if A.size == 0:
        raise ValueError(f"{name} is empty (shape {A.shape})")
    _check_finite(name, A)
    return A


def _vector_y(value, name: str = "y") -> np.ndarray:
    y = _real_array(name, value)
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a vector, got an array of shape {y.shape}")
    _check_finite(name, y)
    return y


def _check_shapes(A: np.ndarray, y: np.ndarray) -> None:
    if A.shape[0] != y.shape[0]:
        raise ValueError(
            f"shape mismatch: A is {A.shape[0]}×{A.shape[1]} but y has {y.shape[0]} entries "
            f"(A needs one row per entry of y)"
        )


def _pow2_exponent(x: np.ndarray) -> np.ndarray:
    """Integer ``e`` with ``x = m·2**e``, ``0.5 ≤ m < 1`` (``x > 0``); 0 where ``x == 0``."""
    _, e = np.frexp(x)
    return np.where(x > 0, e, 0).astype(np.int64)


@dataclass(frozen=True)
class ScaleIssue:
    """A magnitude in the data that float64 work cannot handle faithfully, and what to rescale.

    ``array``: which data (``"A"``, ``"y"``, ``"A rows"``, ``"A columns"``, ``"y/A"``);
    ``value``: the offending magnitude (or ratio); ``message``: one sentence for the user."""

    array: str
    value: float
    message: str

    def __str__(self) -> str:
        return self.message


class ProblemFileError(ValueError):
    """A problem file that cannot be read as what it should be: corrupt, truncated or of the wrong kind.

    ``path``: the file; ``reason``: what is wrong; ``argument``: the option that named the file
    (``"--A"``, ``"--y"``) when known.  ``str()`` gives ``"[argument: ]path: reason"``."""

    def __init__(self, path, reason: str, argument: Optional[str] = None):
        self.path = Path(path)
        self.reason = reason
        self.argument = argument
        prefix = f"{argument}: " if argument else ""
        super().__init__(f"{prefix}{path}: {reason}")


@dataclass(frozen=True, eq=False)
class Problem:
    """``A ∈ R^{M×N}``, ``y ∈ R^M``, the model, and where the data came from.

    ``A``, ``y`` (and ``x_true``) must be real numeric arrays: integer or floating dtypes; bool,
    complex, datetime/timedelta, structured, object and string arrays are refused
    (``ValueError`` naming the array), as are non-finite entries.  They are stored as read-only
    float64 copies.  ``A`` may instead be a float64 ``LinearOperator`` (matrix-free; kept as it
    is: :attr:`matrix_free`).  ``seed`` is ``None`` or an integer (not a bool); ``description`` a string;
    ``meta`` a dict.
    """

    A: "np.ndarray | LinearOperator"
    y: np.ndarray
    model: Model = "positive"
    x_true: Optional[np.ndarray] = None
    seed: Optional[int] = None
    description: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        A = _ops().as_operator(self.A) if is_operator(self.A) else _matrix_A(self.A)
        y = _vector_y(self.y)
        _check_shapes(A, y)
        if not isinstance(self.model, str) or self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        seed = self.seed
        if seed is not None:
            if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
                raise ValueError(f"seed must be an integer or None, got {type(seed).__name__} {seed!r}")
            seed = int(seed)
        if not isinstance(self.description, str):
            raise ValueError(f"description must be a string, got {type(self.description).__name__}")
        if not isinstance(self.meta, dict):
            raise ValueError(f"meta must be a dict, got {type(self.meta).__name__}")
        if not is_operator(A):
            A.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "seed", seed)
        if self.x_true is not None:
            xt = _real_array("x_true", self.x_true).reshape(-1)
            if xt.shape != (A.shape[1],):
                raise ValueError(f"x_true must have N = {A.shape[1]} entries, got {xt.shape}")
            _check_finite("x_true", xt)
            xt.setflags(write=False)
            object.__setattr__(self, "x_true", xt)

    # -- shapes -------------------------------------------------------------------------
    @property
    def M(self) -> int:
        return self.A.shape[0]

    @property
    def N(self) -> int:
        return self.A.shape[1]

    @property
    def n(self) -> int:
        """Number of weights: ``N`` (positive) or ``2N`` (signed)."""
        return self.N if self.model == "positive" else 2 * self.N

    @property
    def matrix_free(self) -> bool:
        """``A`` is a LinearOperator (only its products are available), not an array."""
        return is_operator(self.A)

    @property
    def A_eff(self):
        """The matrix the flow sees: ``A`` or ``[A, −A]`` (an operator when ``A`` is one)."""
        if self.model == "positive":
            return self.A
        if self.matrix_free:
            return _ops().SignedOperator(self.A)
        out = np.hstack([self.A, -self.A])
        out.setflags(write=False)
        return out

    @property
    def operator_params(self) -> Optional[dict]:
        """The parameters naming a matrix-free ``A`` (``A.params()``), None for an array."""
        if not self.matrix_free:
            return None
        f = getattr(self.A, "params", None)
        return None if f is None else f()

    def dense(self, max_entries: int = 50_000_000) -> "Problem":
        """The same problem with ``A`` as a dense array (itself when it is one already).

        ``ValueError`` when ``M·N > max_entries`` (the default is 400 MB of float64)."""
        if not self.matrix_free:
            return self
        meta = dict(self.meta, operator=self.operator_params)
        return Problem(_ops().to_dense(self.A, max_entries), self.y, self.model, self.x_true, self.seed,
                       self.description, meta)

    @property
    def is_trivial(self) -> bool:
        """``y == 0``: the ℓ1 optimum is ``0`` at ``z = 0``, and a flow has nothing to fit.

        Solvers report such a problem with ``Status.TRIVIAL`` rather than dividing by ``‖y‖``."""
        return not bool(np.any(self.y))

    def to_user(self, x_eff):
        """Map effective coordinates (last axis of length ``n``) to the user's ``x`` (length ``N``).

        Signed model: ``x = x₊ − x₋`` (docs/math.md §1); positive model: ``x`` itself.  Works for
        float64 arrays, object arrays of ``mpf``, batches ``(B, n) → (B, N)``, and (for callers
        not yet on arrays) lists of mpmath numbers, which give a list.
        """
        if isinstance(x_eff, np.ndarray):
            if x_eff.shape[-1:] != (self.n,):
                raise ValueError(f"an effective vector has n = {self.n} entries, got shape {x_eff.shape}")
            if self.model == "positive":
                return x_eff
            N = self.N
            return x_eff[..., :N] - x_eff[..., N:]
        if self.model == "positive":
            return x_eff
        N = self.N
        if len(x_eff) != self.n:
            raise ValueError(f"an effective vector has n = {self.n} entries, got {len(x_eff)}")
        return [x_eff[i] - x_eff[N + i] for i in range(N)]

    def to_eff(self, x_user):
        """Map the user's ``x`` (last axis of length ``N``) to effective coordinates (length ``n``).

        Signed model: ``(max(x, 0), max(−x, 0))``, the point of ``[A, −A]``'s positive orthant with
        ``x₊ ⊙ x₋ = 0`` (the ℓ1-minimal split, docs/math.md §1); positive model: ``x`` itself.
        ``to_user(to_eff(x)) == x`` exactly.  Float64 arrays, object arrays of ``mpf`` and batches
        ``(B, N) → (B, n)``; a list gives a list.
        """
        as_list = not isinstance(x_user, np.ndarray)
        x = np.asarray(x_user) if not as_list else np.array(list(x_user), dtype=object)
        if as_list and all(isinstance(v, (float, int, np.floating, np.integer)) for v in x):
            x = x.astype(np.float64)
        if x.shape[-1:] != (self.N,):
            raise ValueError(f"a user vector has N = {self.N} entries, got shape {x.shape}")
        if self.model == "positive":
            return list(x) if as_list else x_user
        zero = x * 0
        out = np.concatenate([np.where(x > 0, x, zero), np.where(x < 0, -x, zero)], axis=-1)
        return list(out) if as_list else out

    def with_model(self, model: Model) -> "Problem":
        return Problem(self.A, self.y, model, self.x_true, self.seed, self.description, dict(self.meta))

    # -- scale ----------------------------------------------------------------------------
    def scale_issues(self) -> tuple:
        """Magnitudes float64 work cannot handle faithfully, each a :class:`ScaleIssue` saying what to rescale.

        Empty when the data are well scaled.  Reported (``L = SCALE_LIMIT = 1e100``):

        * ``max|A|`` or ``max|y|`` outside ``[1/L, L]`` — the squared loss under- or overflows.
          Scaling ``A`` and ``y`` together leaves ``{z : Az = y}``, hence the limit and the ℓ1
          optimum, unchanged (docs/math.md §4); :meth:`rescaled` does it per row, exactly.
        * ``max|y| / max|A|`` outside ``[1/L, L]`` — the solution itself is that large or small;
          joint rescaling cannot help: rescale ``y`` (or ``A``) alone, which scales the solution.
        * rows of ``A`` whose largest entries differ by more than ``L`` — :meth:`rescaled` fixes it.
        * columns of ``A`` whose largest entries differ by more than ``L`` — ℓ1 weighs each
          column by its scale, so only the user can decide to normalise them.
        * subnormal entries (``0 < |a| < 2.2e-308``): they already lost significant bits.
        """
        issues = []

        def add(array, value, message):
            issues.append(ScaleIssue(array, float(value), message))

        tiny = np.finfo(np.float64).tiny
        lo, hi = 1.0 / SCALE_LIMIT, SCALE_LIMIT
        rng = f"[{lo:g}, {hi:g}]"
        if self.matrix_free:
            # only y's entries are at hand; an operator of this module has entries of size ~1/√M
            absy = np.abs(self.y)
            b = float(absy.max())
            nsub = int(np.count_nonzero((absy > 0) & (absy < tiny)))
            if nsub:
                add("y", absy[absy > 0].min(), f"y has {nsub} subnormal entries (0 < |v| < {tiny:.3g}): rescale y")
            if b > 0 and not lo <= b <= hi:
                add("y", b, f"max|y| = {b:.3g} is outside {rng}: the squared loss under- or overflows float64; "
                            f"rescale y (the solution scales with it)")
            return tuple(issues)
        absA, absy = np.abs(self.A), np.abs(self.y)
        a, b = float(absA.max()), float(absy.max())
        for name, arr in (("A", absA), ("y", absy)):
            nsub = int(np.count_nonzero((arr > 0) & (arr < tiny)))
            if nsub:
                add(name, arr[arr > 0].min(),
                    f"{name} has {nsub} subnormal entries (0 < |v| < {tiny:.3g}), which carry fewer than 53 "
                    f"significant bits: rescale {name} where the data are produced")
        if a > 0 and not lo <= a <= hi:
            add("A", a, f"max|A| = {a:.3g} is outside {rng}: multiply A and y together by about "
                        f"1e{round(-math.log10(a))} (or use Problem.rescaled(), exact per-row powers of 2); the "
                        f"feasible set {{Az = y}}, the limit and the ℓ1 optimum do not change (docs/math.md §4)")
        if b > 0 and not lo <= b <= hi:
            add("y", b, f"max|y| = {b:.3g} is outside {rng}: the squared loss ½‖Ax − y‖² ~ {b:.1e}² under- or "
                        f"overflows float64; multiply A and y together by one factor (the feasible set does not change)")
        if a > 0 and b > 0 and not lo <= b / a <= hi:
            add("y/A", b / a, f"the solution has scale max|y|/max|A| ≈ {b / a:.3g}, outside {rng}: rescale y alone "
                              f"(the solution scales with y) and choose r0 to match; scaling A and y together cannot "
                              f"fix this")
        rows = absA.max(axis=1)
        rows = rows[rows > 0]
        if rows.size > 1 and rows.max() / rows.min() > hi:
            add("A rows", rows.max() / rows.min(),
                f"the rows of A differ in scale by a factor {rows.max() / rows.min():.3g}: Problem.rescaled() "
                f"equilibrates them exactly (powers of 2, with y), which changes neither {{Az = y}} nor the limit")
        cols = absA.max(axis=0)
        nz = cols[cols > 0]
        if nz.size > 1 and nz.max() / nz.min() > hi:
            j = int(np.argmax(cols))
            k = int(np.argmin(np.where(cols > 0, cols, np.inf)))
            add("A columns", nz.max() / nz.min(),
                f"the columns of A differ in scale by a factor {nz.max() / nz.min():.3g} (column {j}: {cols[j]:.3g}, "
                f"column {k}: {cols[k]:.3g}): the ℓ1 norm weighs each column by its scale, so normalise the columns "
                f"if that is not meant")
        return tuple(issues)

    def rescaled(self) -> tuple:
        """``(problem, row_log2)``: row ``i`` of ``(A, y)`` times ``2**row_log2[i]``, so its max|A_ij| is in [0.5, 1).

        Row scaling ``(A, y) → (D A, D y)`` with ``D`` diagonal and invertible leaves the feasible
        set ``{z : Az = y}`` and ``range(Aᵀ)`` unchanged.  So the ℓ1 optimum, every Bregman
        projection onto the feasible set, and the limit of docs/math.md §4 (that projection at a
        root ``r_∞`` of ``φ``, which involves the data only through the feasible set) are the same
        for both problems.  A flow's trajectory is not: its loss weighs the rows by ``D`` (a common
        factor ``c`` only rescales time by ``c²``); where ``φ`` has a unique root it converges to
        the same point.  Powers of 2 make the scaling exact (no rounding), which is checked.  Zero
        rows keep factor 1.
        ``x_true`` is carried over unchanged.  ``row_log2`` is an integer array (exponents, not the
        factors, which may lie outside float64's range); ``meta["row_scale_log2"]`` records it too.
        """
        if self.matrix_free:
            raise ValueError("rescaled() needs the entries of A; this problem's A is a matrix-free operator "
                             "(use Problem.dense() first where the size allows)")
        rowmax = np.abs(self.A).max(axis=1)
        k = -_pow2_exponent(rowmax)
        with np.errstate(over="ignore", under="ignore"):
            A = np.ldexp(self.A, k[:, None])
            y = np.ldexp(self.y, k)
            exact = (np.array_equal(np.ldexp(A, -k[:, None]), self.A) and np.array_equal(np.ldexp(y, -k), self.y)
                     and np.all(np.isfinite(A)) and np.all(np.isfinite(y)))
        if not exact:
            raise ValueError("rescaling the rows of (A, y) by powers of 2 would lose bits: an entry of A or y is more "
                             "than ~1e300 times smaller than its row's largest entry of A")
        meta = dict(self.meta, row_scale_log2=[int(v) for v in k])
        note = "rows rescaled by powers of 2"
        desc = f"{self.description} ({note})" if self.description else note
        return Problem(A, y, self.model, self.x_true, self.seed, desc, meta), k

    # -- I/O ------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Save as ``.npz`` (no pickled objects).

        A matrix-free ``A`` is saved as its parameters (member ``operator``: JSON text of
        ``A.params()``); an operator without ``params()`` cannot be saved (``ValueError``)."""
        path = Path(path)
        if self.matrix_free:
            params = self.operator_params
            if params is None:
                raise ValueError(f"cannot save a problem whose A is an operator without params() "
                                 f"({type(self.A).__name__}); save Problem.dense() instead")
            arrays = {"operator": np.array(json.dumps(params, sort_keys=True)), "y": self.y,
                      "model": np.array(self.model)}
        else:
            arrays = {"A": self.A, "y": self.y, "model": np.array(self.model)}
        if self.x_true is not None:
            arrays["x_true"] = self.x_true
        if self.seed is not None:
            arrays["seed"] = np.array(self.seed)
        arrays["description"] = np.array(self.description)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path, model: Optional[Model] = None) -> "Problem":
        """Load a ``.npz`` written by :meth:`save` (or any ``.npz`` holding ``A`` and ``y``).

        Members: ``A`` (or ``operator``: the JSON parameters of a matrix-free operator, see
        :meth:`save`), ``y`` (required); ``model`` (a string), ``seed`` (one integer),
        ``description`` (a string), ``x_true`` (optional); other members are ignored and listed in
        ``meta["ignored_members"]``.  ``model`` overrides the stored model.

        Every way the file can be wrong raises :class:`ProblemFileError` naming it: missing,
        a directory or other non-regular file, unreadable, empty, not a zip archive (a ``.npy``
        array, a pickle, a text file, …), a truncated or corrupt archive (CRC error, bad
        compressed data), a member that is not a valid ``.npy`` array or whose header disagrees
        with its data, a member of object dtype (never unpickled), a missing ``A``/``y``, or
        data that :class:`Problem` refuses (wrong dtype, shape, non-finite, bad metadata).
        The archive is parsed here, with sizes checked before anything is allocated.
        """
        if model is not None and model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        path = Path(path)
        data = _read_bytes(path, None, "a .npz problem file")
        kind = _sniff(data)
        if kind != "zip":
            if kind == "npy":
                raise ProblemFileError(path, "is a single .npy array, not a .npz problem file holding 'A' and 'y' "
                                             "(for a pair of .npy files use --A A.npy --y y.npy, i.e. Problem.from_npy)")
            raise ProblemFileError(path, f"is not a .npz archive: {_describe(kind, data)}")
        try:
            members, ignored = _read_npz(path, data)
        except ProblemFileError:
            raise
        except _READ_ERRORS as exc:
            raise ProblemFileError(path, f"is a corrupt or truncated .npz archive ({type(exc).__name__}: {exc})") from None
        if "A" not in members and "operator" in members:
            text = _meta_string(path, members, "operator", "")
            try:
                members["A"] = _ops().operator_from_params(json.loads(text))
            except (ValueError, TypeError) as exc:
                raise ProblemFileError(path, f"member 'operator' does not name a known operator ({exc})") from None
        elif "A" in members and "operator" in members:
            raise ProblemFileError(path, "the .npz archive holds both 'A' and 'operator'; it must hold one of them")
        missing = [k for k in ("A", "y") if k not in members]
        if missing:
            raise ProblemFileError(path, f"the .npz archive has no array named {' or '.join(map(repr, missing))} "
                                         f"(it needs 'A' and 'y'; it holds {sorted(members) or 'nothing'})")
        A, y = members["A"], members["y"]
        stored_model = _meta_string(path, members, "model", "positive")
        if stored_model not in MODELS:
            raise ProblemFileError(path, f"member 'model' is {stored_model!r}; it must be one of {MODELS}")
        desc = _meta_string(path, members, "description", f"loaded from {path.name}")
        seed = None
        if "seed" in members:
            s = members["seed"]
            if s.dtype.kind not in "iu" or s.size != 1 or s.ndim > 1:
                raise ProblemFileError(path, f"member 'seed' must be one integer, got an array of dtype {s.dtype} "
                                             f"and shape {s.shape}")
            seed = int(s.reshape(()))
        x_true = members.get("x_true")
        meta = {"ignored_members": ignored} if ignored else {}
        try:
            return cls(A, y, model or stored_model, x_true, seed, desc, meta)
        except ValueError as exc:
            raise ProblemFileError(path, str(exc)) from None

    @classmethod
    def from_npy(cls, A_path, y_path, model: Model = "positive") -> "Problem":
        """Build a problem from a pair of ``.npy`` files.

        Every way either file can be wrong raises :class:`ProblemFileError` whose message starts
        with the option naming it (``--A``, ``--y``, or ``--A/--y`` for a shape mismatch), as
        :meth:`load` does for ``.npz`` files.
        """
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        arrays = []
        for name, p in (("A", A_path), ("y", y_path)):
            p = Path(p)
            arg = f"--{name}"
            data = _read_bytes(p, arg, "a .npy array")
            kind = _sniff(data)
            if kind != "npy":
                if kind == "zip":
                    raise ProblemFileError(p, "is a .npz archive, not a single .npy array (give it as --problem)", arg)
                raise ProblemFileError(p, f"is not a .npy array: {_describe(kind, data)}", arg)
            try:
                arr = _parse_npy(data)
            except _Corrupt as exc:
                raise ProblemFileError(p, f"is not a valid .npy array: it {exc}", arg) from None
            except _READ_ERRORS as exc:
                raise ProblemFileError(p, f"is a corrupt or truncated .npy file ({type(exc).__name__}: {exc})", arg) from None
            try:
                arrays.append((_matrix_A if name == "A" else _vector_y)(arr))
            except ValueError as exc:
                raise ProblemFileError(p, str(exc), arg) from None
        try:
            _check_shapes(*arrays)
        except ValueError as exc:
            raise ProblemFileError(f"{A_path}, {y_path}", str(exc), "--A/--y") from None
        return cls(arrays[0], arrays[1], model, description=f"A={Path(A_path).name}, y={Path(y_path).name}")

    def as_dict(self) -> dict:
        out = {
            "M": self.M,
            "N": self.N,
            "model": self.model,
            "seed": self.seed,
            "description": self.description,
        }
        if self.matrix_free:
            out["operator"] = self.operator_params
        return out


# -- reading files ---------------------------------------------------------------------------


class _Corrupt(ValueError):
    """Internal: the container's own structure is inconsistent (turned into ProblemFileError)."""


_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, struct.error, OSError,
                EOFError, ValueError, KeyError, IndexError, OverflowError, NotImplementedError, RuntimeError,
                SyntaxError, tokenize.TokenError)
"""What the zip/zlib/lzma/bz2 and ``.npy``-header parsers raise on corrupt bytes (numpy parses a
header with ``tokenize`` and ``ast.literal_eval``, hence ``SyntaxError`` and ``TokenError``)."""

_NPY_MAGIC = b"\x93NUMPY"
_MEMBERS = ("A", "y", "model", "description", "seed", "x_true", "operator")
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def _read_bytes(path: Path, argument: Optional[str], what: str) -> bytes:
    """The whole file, or ProblemFileError: missing, not a regular file, unreadable, empty."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ProblemFileError(path, "no such file", argument) from None
    except OSError as exc:
        raise ProblemFileError(path, f"cannot be read ({exc.strerror or exc})", argument) from None
    if stat.S_ISDIR(st.st_mode):
        raise ProblemFileError(path, f"is a directory, not {what}", argument)
    if not stat.S_ISREG(st.st_mode):
        raise ProblemFileError(path, f"is not a regular file (a pipe, socket or device), not {what}", argument)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ProblemFileError(path, f"cannot be read ({exc.strerror or exc})", argument) from None
    if not data:
        raise ProblemFileError(path, f"is empty (0 bytes), not {what}", argument)
    return data


def _sniff(data: bytes) -> str:
    if data.startswith(_ZIP_MAGICS):
        return "zip"
    if data.startswith(_NPY_MAGIC):
        return "npy"
    if data[:1] == b"\x80":
        return "pickle"
    if data.startswith(b"\x1f\x8b"):
        return "gzip"
    head = data[:4096]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # a multi-byte character cut by the 4096-byte window
                return "text"
    return "unknown"


def _describe(kind: str, data: bytes) -> str:
    if kind == "npy":
        return "it is a single .npy array"
    if kind == "pickle":
        return "it is a Python pickle, which is never loaded"
    if kind == "gzip":
        return "it is gzip-compressed; decompress it first"
    if kind == "text":
        start = data[:40].decode("utf-8", errors="replace").replace("\n", "\\n")
        return f"it is a text file (it starts with {start!r})"
    return f"its first bytes {data[:8]!r} are neither a zip archive (.npz) nor a .npy array"


def _read_npz(path: Path, data: bytes) -> tuple:
    """``(arrays, ignored)``: the members a problem uses, parsed without numpy's loader (never
    unpickling, sizes checked), and the names of the other members (listed, never read)."""
    arrays, ignored, seen = {}, [], set()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if key in seen:
                raise ProblemFileError(path, f"the .npz archive has two members named {key!r}")
            seen.add(key)
            if key not in _MEMBERS:
                ignored.append(key)
                continue
            if info.flag_bits & 0x1:
                raise ProblemFileError(path, f"member {info.filename!r} is encrypted")
            raw = zf.read(info)
            try:
                arrays[key] = _parse_npy(raw)
            except _Corrupt as exc:
                raise ProblemFileError(path, f"member {info.filename!r} {exc}") from None
            except _READ_ERRORS as exc:
                raise ProblemFileError(path, f"member {info.filename!r} is not a valid .npy array "
                                             f"({type(exc).__name__}: {exc})") from None
    return arrays, sorted(ignored)


def _parse_npy(raw: bytes) -> np.ndarray:
    """One .npy array from its bytes; the header's size must match the data exactly; never unpickles."""
    fp = io.BytesIO(raw)
    if not raw.startswith(_NPY_MAGIC):
        raise _Corrupt(f"does not start with the .npy magic bytes (starts with {raw[:8]!r})")
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise _Corrupt(f"uses .npy format version {version[0]}.{version[1]}, which problem files never use")
    if dtype.hasobject:
        raise _Corrupt(f"holds pickled Python objects (dtype {dtype}), which are never loaded")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _Corrupt(f"has an invalid shape {shape!r} in its header")
    count = math.prod(shape)
    offset = fp.tell()
    have = len(raw) - offset
    need = count * dtype.itemsize
    if need != have:
        raise _Corrupt(f"has a header declaring shape {shape} of dtype {dtype} ({need} bytes) but holds {have} "
                       f"bytes of data: truncated or corrupt")
    if count == 0 or dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype)
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    if fortran:
        return arr.reshape(shape[::-1]).transpose()
    return arr.reshape(shape)


def _meta_string(path: Path, members: dict, key: str, default: str) -> str:
    if key not in members:
        return default
    v = members[key]
    if v.dtype.kind not in "US" or v.size != 1 or v.ndim > 1:
        raise ProblemFileError(path, f"member {key!r} must be one string, got an array of dtype {v.dtype} and shape {v.shape}")
    s = v.reshape(())[()]
    if isinstance(s, bytes):
        try:
            s = s.decode("utf-8")
        except UnicodeDecodeError:
            raise ProblemFileError(path, f"member {key!r} is not valid UTF-8 text") from None
    return str(s)


def _matrix(kind: str, M: int, N: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "gaussian":
        A = rng.standard_normal((M, N))
        A /= math.sqrt(M)  # in place: the same values as a division into a new array
        return A
    if kind == "rademacher":
        return rng.choice([-1.0, 1.0], size=(M, N)) / math.sqrt(M)
    if kind == "correlated":
        # columns share a common component: correlation 0.5 between any two columns
        common = rng.standard_normal((M, 1))
        return (rng.standard_normal((M, N)) + common) / math.sqrt(2 * M)
    if kind == "equal_columns":
        col = rng.standard_normal((M, 1)) / math.sqrt(M)
        return np.repeat(col, N, axis=1)
    raise ValueError(f"matrix must be one of {MATRICES + OPERATOR_MATRICES}, got {kind!r}")


def generate(
    kind: str = "sparse_positive",
    N: int = 20,
    M: int = 8,
    seed: int = 0,
    *,
    k: Optional[int] = None,
    model: Optional[Model] = None,
    matrix: str = "gaussian",
) -> Problem:
    """Draw a compressed-sensing problem ``y = A x_true``.

    ``kind``: ``"sparse_positive"`` (``k`` entries uniform in [1, 2]), ``"sparse_signed"``
    (the same with random signs) or ``"gaussian"`` (dense standard normal truth; its
    positive part for the positive model).  ``matrix``: ``"gaussian"`` (N(0, 1/M) entries),
    ``"rademacher"`` (±1/√M), ``"correlated"``, ``"equal_columns"``, or ``"dct"``: the matrix-free
    :class:`~numerics._operators.SubsampledDCT` (``O(N log N)`` per product, no ``M×N`` array; its
    own seed is drawn from ``seed`` and recorded in ``meta["operator"]``).  ``model`` defaults to
    ``"positive"`` for ``sparse_positive`` and ``"signed"`` otherwise.  ``k`` defaults to
    ``max(1, M // 4)``.
    """
    if kind not in TRUTHS:
        raise ValueError(f"kind must be one of {TRUTHS}, got {kind!r}")
    for name, v in (("N", N), ("M", M)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if M >= N:
        raise ValueError(f"the problem must be underdetermined: need M < N, got M = {M}, N = {N}")
    if model is None:
        model = "positive" if kind == "sparse_positive" else "signed"
    rng = np.random.default_rng(seed)
    if matrix in OPERATOR_MATRICES:
        A = _ops().SubsampledDCT(N, M, int(rng.integers(2**62)))
    else:
        A = _matrix(matrix, M, N, rng)
    x = np.zeros(N)
    if kind == "gaussian":
        x = rng.standard_normal(N)
        if model == "positive":
            x = np.abs(x)
    else:
        k = max(1, M // 4) if k is None else int(k)
        if not 1 <= k <= N:
            raise ValueError(f"k must be between 1 and N = {N}, got {k}")
        support = rng.choice(N, size=k, replace=False)
        vals = rng.uniform(1.0, 2.0, size=k)
        if kind == "sparse_signed" and model == "signed":
            vals *= rng.choice([-1.0, 1.0], size=k)
        x[support] = vals
    y = A @ x
    if not is_operator(A):
        A = A.view(_Owned)  # generate holds the only reference: Problem adopts it without a copy
    desc = f"{kind} truth, {matrix} A, N={N}, M={M}, seed={seed}"
    meta = {"kind": kind, "matrix": matrix, "k": k}
    if matrix in OPERATOR_MATRICES:
        meta["operator"] = A.params()
    return Problem(A, y, model, x, seed, desc, meta)
