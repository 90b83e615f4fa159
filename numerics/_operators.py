"""Matrix-free sensing operators: ``A`` as a :class:`scipy.sparse.linalg.LinearOperator`.

A :class:`~numerics._problem.Problem` may carry an operator in place of a dense ``A``
(docs/math.md §1: only the products ``A x`` and ``Aᵀ r`` enter the flows, GD and the dual
Newton).  Shipped here:

* :class:`SubsampledDCT` — ``A = √(N/M) · P_Ω C D``: ``D = diag(±1)`` (random signs, optional),
  ``C`` the orthonormal DCT-II of length ``N`` (``scipy.fft.dct(norm="ortho")``), ``P_Ω`` the
  ``M`` rows of a random subset ``Ω``.  One product costs ``O(N log N)`` and no ``M×N`` array is
  ever formed.  Its rows are orthogonal: ``A Aᵀ = (N/M) I_M``, and its columns have mean squared
  norm 1, the scale of the Gaussian ``N(0, 1/M)`` matrices of :func:`~numerics._problem.generate`.
* :class:`SignedOperator` — ``[A, −A]`` for the signed model (``Problem.A_eff``).
* :func:`as_operator` — any ``(M, N)`` array or LinearOperator as a float64 LinearOperator.

Every operator here also has the *row-batched* products :meth:`forward_rows` (``(B, N) → (B, M)``,
the rows of ``X Aᵀ``) and :meth:`adjoint_rows` (``(B, M) → (B, N)``, the rows of ``R A``), the layout
of the batched GD of :mod:`numerics._gd`; for a generic operator they fall back on
``matmat``/``rmatmat``.  :meth:`params` names an operator by its parameters (a dict of ints,
floats, bools and strings) so that a problem file records it without pickling;
:func:`operator_from_params` rebuilds it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse.linalg import LinearOperator, aslinearoperator

__all__ = ["SubsampledDCT", "SignedOperator", "as_operator", "operator_from_params", "is_operator",
           "forward_rows", "adjoint_rows", "to_dense"]

OPERATOR_KINDS = ("subsampled_dct",)


def _int(name, v, lo=1):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer ≥ {lo}, got {v!r}")
    return int(v)


class _RowsOperator(LinearOperator):
    """A float64 LinearOperator defined by ``forward_rows(X)`` / ``adjoint_rows(R)`` on the last
    axis (a vector, or a batch with one vector per row): the scipy hooks, written once."""

    def _matvec(self, x):
        return self.forward_rows(np.ravel(x))

    def _rmatvec(self, r):
        return self.adjoint_rows(np.ravel(r))

    def _matmat(self, X):
        return self.forward_rows(np.asarray(X).T).T

    def _rmatmat(self, R):
        return self.adjoint_rows(np.asarray(R).T).T

    def _adjoint(self):
        return _Transposed(self)

    _transpose = _adjoint


class SubsampledDCT(_RowsOperator):
    """``A = √(N/M) · P_Ω C D`` of shape ``(M, N)``: ``M`` random rows of the orthonormal DCT-II,
    columns signed by a random ``±1`` (``signs=True``), drawn from ``numpy.random.default_rng(seed)``.

    ``A x = √(N/M) (C (d ⊙ x))_Ω``;  ``Aᵀ r = √(N/M) d ⊙ Cᵀ(P_Ωᵀ r)``, with ``Cᵀ = C⁻¹`` the
    orthonormal DCT-III (``scipy.fft.idct(norm="ortho")``).  ``rows`` (sorted) and ``signs`` are
    the drawn subset and signs (read-only arrays)."""

    def __init__(self, N: int, M: int, seed: int = 0, *, signs: bool = True):
        N, M = _int("N", N), _int("M", M)
        if M > N:
            raise ValueError(f"SubsampledDCT needs M ≤ N rows of the N×N DCT, got M = {M}, N = {N}")
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if not isinstance(signs, (bool, np.bool_)):
            raise ValueError(f"signs must be a bool, got {signs!r}")
        super().__init__(dtype=np.dtype(np.float64), shape=(M, N))
        self.N, self.M, self.seed, self.use_signs = N, M, int(seed), bool(signs)
        rng = np.random.default_rng(self.seed)
        rows = np.sort(rng.choice(N, size=M, replace=False)).astype(np.intp)
        d = rng.choice([-1.0, 1.0], size=N) if self.use_signs else np.ones(N)
        rows.setflags(write=False)
        d.setflags(write=False)
        self.rows, self.signs = rows, d
        self.scale = math.sqrt(N / M)
        self._scaled_signs = self.scale * d if self.use_signs else self.scale

    # -- the products (last axis is the transform axis) ---------------------------------
    def forward_rows(self, X, out=None):
        """Rows of ``X Aᵀ``: ``X`` of shape ``(..., N)`` → ``(..., M)`` (into ``out`` when given)."""
        from scipy.fft import dct

        X = np.asarray(X, dtype=np.float64)
        t = np.multiply(X, self.signs) if self.use_signs else np.array(X, dtype=np.float64)
        t = dct(t, type=2, norm="ortho", axis=-1, overwrite_x=True)
        if out is None:
            out = np.take(t, self.rows, axis=-1)
        else:
            np.take(t, self.rows, axis=-1, out=out)
        out *= self.scale
        return out

    def adjoint_rows(self, R, out=None):
        """Rows of ``R A``: ``R`` of shape ``(..., M)`` → ``(..., N)`` (into ``out`` when given)."""
        from scipy.fft import idct

        R = np.asarray(R, dtype=np.float64)
        full = np.zeros(R.shape[:-1] + (self.N,))
        full[..., self.rows] = R
        full = idct(full, type=2, norm="ortho", axis=-1, overwrite_x=True)
        if out is None:
            full *= self._scaled_signs  # √(N/M)·d in one pass
            return full
        np.multiply(full, self._scaled_signs, out=out)  # the scaling and the copy in one pass
        return out

    # -- naming ---------------------------------------------------------------------------
    def params(self) -> dict:
        return {"kind": "subsampled_dct", "N": self.N, "M": self.M, "seed": self.seed, "signs": self.use_signs}

    def __repr__(self) -> str:
        return (f"SubsampledDCT(N={self.N}, M={self.M}, seed={self.seed}"
                f"{'' if self.use_signs else ', signs=False'})")


class _Transposed(LinearOperator):
    """``Aᵀ`` of an operator with row-batched products."""

    def __init__(self, op):
        super().__init__(dtype=np.dtype(np.float64), shape=(op.shape[1], op.shape[0]))
        self.op = op

    def _matvec(self, x):
        return self.op._rmatvec(x)

    def _rmatvec(self, r):
        return self.op._matvec(r)

    def _matmat(self, X):
        return self.op._rmatmat(X)

    def _rmatmat(self, R):
        return self.op._matmat(R)

    def _adjoint(self):
        return self.op

    _transpose = _adjoint


class SignedOperator(_RowsOperator):
    """``[A, −A]`` of shape ``(M, 2N)``: ``[A, −A] (z₊; z₋) = A (z₊ − z₋)``, ``[A, −A]ᵀ r = (Aᵀr; −Aᵀr)``."""

    def __init__(self, A):
        A = as_operator(A)
        M, N = A.shape
        super().__init__(dtype=np.dtype(np.float64), shape=(M, 2 * N))
        self.base = A

    def forward_rows(self, X, out=None):
        X = np.asarray(X, dtype=np.float64)
        N = self.base.shape[1]
        return forward_rows(self.base, X[..., :N] - X[..., N:], out)

    def adjoint_rows(self, R, out=None):
        g = adjoint_rows(self.base, R)
        if out is None:
            out = np.empty(g.shape[:-1] + (2 * g.shape[-1],))
        N = g.shape[-1]
        out[..., :N] = g
        np.negative(g, out=out[..., N:])
        return out

    def params(self):
        inner = getattr(self.base, "params", None)
        return None if inner is None else {"kind": "signed", "base": inner()}

    def __repr__(self) -> str:
        return f"SignedOperator({self.base!r})"


def is_operator(A) -> bool:
    """Whether ``A`` is a LinearOperator (matrix-free), not an array."""
    return isinstance(A, LinearOperator)


def as_operator(A) -> LinearOperator:
    """``A`` as a float64 :class:`LinearOperator`: an operator is returned as it is (float64 only); a
    real 2-D array is wrapped (``aslinearoperator``, no copy beyond float64 conversion)."""
    if isinstance(A, LinearOperator):
        if A.dtype != np.float64:
            raise ValueError(f"the operator must be float64 (real), got dtype {A.dtype}")
        if len(A.shape) != 2 or min(A.shape) < 1:
            raise ValueError(f"the operator must have a 2-D shape with positive sizes, got {A.shape}")
        return A
    arr = np.asarray(A)
    if arr.ndim != 2 or arr.dtype.kind not in "iuf":
        raise ValueError(f"A must be a real 2-D array or a LinearOperator, got {type(A).__name__} "
                         f"of shape {getattr(arr, 'shape', None)} and dtype {arr.dtype}")
    return aslinearoperator(np.asarray(arr, dtype=np.float64))


def forward_rows(A, X, out=None):
    """Rows of ``X Aᵀ`` for an array or operator ``A`` (``X``: ``(N,)`` or ``(B, N)``)."""
    f = getattr(A, "forward_rows", None)
    if f is not None:
        return f(X, out)
    X = np.asarray(X, dtype=np.float64)
    if isinstance(A, LinearOperator):
        r = A.matvec(X) if X.ndim == 1 else np.asarray(A.matmat(X.T)).T
    else:
        r = X @ np.asarray(A).T
    if out is not None:
        out[...] = r
        return out
    return np.asarray(r)


def adjoint_rows(A, R, out=None):
    """Rows of ``R A`` for an array or operator ``A`` (``R``: ``(M,)`` or ``(B, M)``)."""
    f = getattr(A, "adjoint_rows", None)
    if f is not None:
        return f(R, out)
    R = np.asarray(R, dtype=np.float64)
    if isinstance(A, LinearOperator):
        g = A.rmatvec(R) if R.ndim == 1 else np.asarray(A.rmatmat(R.T)).T
    else:
        g = R @ np.asarray(A)
    if out is not None:
        out[...] = g
        return out
    return np.asarray(g)


def to_dense(A, max_entries: int = 50_000_000) -> np.ndarray:
    """The operator as a dense ``(M, N)`` array (``A`` applied to the identity, in column blocks);
    ``ValueError`` beyond ``max_entries`` entries (400 MB at the default)."""
    if not isinstance(A, LinearOperator):
        return np.asarray(A, dtype=np.float64)
    M, N = A.shape
    if M * N > max_entries:
        raise ValueError(f"the {M}×{N} operator has {M * N} entries, above the {max_entries} that may be "
                         f"materialised as a dense matrix")
    out = np.empty((M, N))
    block = max(1, min(N, 4_000_000 // max(M, N)))
    for j in range(0, N, block):
        k = min(N, j + block)
        E = np.zeros((k - j, N))
        E[np.arange(k - j), np.arange(j, k)] = 1.0
        out[:, j:k] = forward_rows(A, E).T
    return out


def operator_from_params(params: dict) -> LinearOperator:
    """The operator named by :meth:`SubsampledDCT.params` (or ``SignedOperator.params``)."""
    if not isinstance(params, dict) or "kind" not in params:
        raise ValueError(f"operator parameters must be a dict with a 'kind', got {params!r}")
    kind = params["kind"]
    if kind == "subsampled_dct":
        extra = set(params) - {"kind", "N", "M", "seed", "signs"}
        if extra:
            raise ValueError(f"unknown subsampled_dct parameters {sorted(extra)}")
        try:
            return SubsampledDCT(params["N"], params["M"], params.get("seed", 0), signs=params.get("signs", True))
        except KeyError as exc:
            raise ValueError(f"subsampled_dct parameters need {exc}") from None
    if kind == "signed":
        return SignedOperator(operator_from_params(params.get("base")))
    raise ValueError(f"unknown operator kind {kind!r}; known: {OPERATOR_KINDS}")
