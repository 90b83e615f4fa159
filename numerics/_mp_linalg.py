"""Small high-precision linear algebra helpers (mpmath; vectors are lists of ``mpf``).

The kernel projector ``P_ker(A) = I − Q Qᵀ`` uses the orthonormal basis ``Q`` of ``range(Aᵀ)`` of
:func:`numerics._formulas.range_basis` (the exact rank by python-flint, the basis at ``dps``
digits), so that a rank-deficient ``A`` gives a basis of its rank.

All functions take ``dps=`` and work inside :func:`numerics._precision.workdps`; results are
``mpf`` values rounded at ``dps`` plus guard digits (callers keep them inside their own
``workdps`` block if they need the guard digits to survive arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import mpmath
import numpy as np

from numerics._precision import check_dps, workdps

__all__ = [
    "to_mp_rows",
    "to_mp_vector",
    "to_mp_matrix",
    "norm2",
    "dot",
    "matvec",
    "rmatvec",
    "RangeBasis",
    "range_basis",
    "kernel_projector",
    "project_kernel",
    "kernel_residual",
]


def _mpf(v):
    if isinstance(v, mpmath.mpf):
        return +v
    return mpmath.mpf(float(v)) if isinstance(v, (float, np.floating)) else mpmath.mpf(v)


def to_mp_vector(v, *, dps: int) -> List[mpmath.mpf]:
    """A vector (numpy array or sequence) as a list of ``mpf`` (float64 entries are exact)."""
    with workdps(dps):
        return [_mpf(x) for x in np.asarray(v, dtype=object).reshape(-1)]


def to_mp_rows(A, *, dps: int) -> List[List[mpmath.mpf]]:
    """A matrix as a list of rows, each a list of ``mpf``."""
    A = np.asarray(A, dtype=object)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D matrix, got shape {A.shape}")
    with workdps(dps):
        return [[_mpf(x) for x in row] for row in A]


def to_mp_matrix(A, *, dps: int) -> mpmath.matrix:
    """A matrix as an ``mpmath.matrix``."""
    rows = to_mp_rows(A, dps=dps)
    with workdps(dps):
        return mpmath.matrix(rows)


def dot(a: Sequence, b: Sequence, *, dps: int) -> mpmath.mpf:
    """``⟨a, b⟩`` at ``dps`` digits (guarded)."""
    with workdps(dps):
        return mpmath.fdot(a, b)


def norm2(v: Sequence, *, dps: int) -> mpmath.mpf:
    """Euclidean norm at ``dps`` digits (guarded)."""
    with workdps(dps):
        return mpmath.sqrt(mpmath.fdot(v, v))


def matvec(rows, x: Sequence, *, dps: int) -> List[mpmath.mpf]:
    """``A x`` for ``A`` given as a list of rows."""
    with workdps(dps):
        return [mpmath.fdot(row, x) for row in rows]


def rmatvec(rows, y: Sequence, *, dps: int) -> List[mpmath.mpf]:
    """``Aᵀ y`` for ``A`` given as a list of rows."""
    n = len(rows[0])
    with workdps(dps):
        return [mpmath.fdot([row[i] for row in rows], y) for i in range(n)]


@dataclass(frozen=True)
class RangeBasis:
    """Orthonormal basis of ``range(Aᵀ)``: ``columns[k]`` is a list of ``n`` ``mpf``.

    ``rank`` is the exact rank of ``A``'s entries (``rank_tol = 0``: no threshold), ``dps`` the
    precision the basis was computed at.
    """

    columns: tuple
    rank: int
    n: int
    dps: int
    rank_tol: float

    def project_range(self, h: Sequence) -> List[mpmath.mpf]:
        """``Q Qᵀ h``."""
        with workdps(self.dps):
            h = [_mpf(x) for x in h]
            out = [mpmath.mpf(0)] * self.n
            for q in self.columns:
                c = mpmath.fdot(q, h)
                out = [o + c * qi for o, qi in zip(out, q)]
            return out

    def project_kernel(self, h: Sequence) -> List[mpmath.mpf]:
        """``P_ker(A) h = h − Q Qᵀ h``."""
        with workdps(self.dps):
            h = [_mpf(x) for x in h]
            pr = self.project_range(h)
            return [a - b for a, b in zip(h, pr)]

    def kernel_residual(self, h: Sequence) -> mpmath.mpf:
        """``‖P_ker(A) h‖ / ‖h‖`` (0 when ``h = 0``)."""
        with workdps(self.dps):
            h = [_mpf(x) for x in h]
            nh = mpmath.sqrt(mpmath.fdot(h, h))
            if nh == 0:
                return mpmath.mpf(0)
            p = self.project_kernel(h)
            return mpmath.sqrt(mpmath.fdot(p, p)) / nh


def range_basis(A, *, dps: int) -> RangeBasis:
    """Orthonormal basis of ``range(Aᵀ)`` at ``dps`` digits: :func:`numerics._formulas.range_basis`
    (the rank is the exact rank of the given entries, decided by python-flint; no threshold).

    ``A`` is a float64 matrix (entries taken exactly) or a matrix of ``mpf``."""
    from numerics._formulas import range_basis as _range_basis

    dps = check_dps(dps)
    Q = _range_basis(A, dps=dps)
    n, rank = Q.shape
    return RangeBasis(tuple(tuple(Q[:, k].tolist()) for k in range(rank)), rank, n, dps, 0.0)


def kernel_projector(A, *, dps: int) -> mpmath.matrix:
    """``P_ker(A) = I − Q Qᵀ`` as an ``n × n`` ``mpmath.matrix`` (for small ``n``)."""
    from numerics import _formulas as _F

    Q = _F.range_basis(A, dps=check_dps(dps))
    n = Q.shape[0]
    with workdps(dps):
        P = mpmath.eye(n)
        for k in range(Q.shape[1]):
            q = Q[:, k]
            for i in range(n):
                for j in range(n):
                    P[i, j] -= q[i] * q[j]
        return P


def project_kernel(A, h: Sequence, *, dps: int) -> List[mpmath.mpf]:
    """``P_ker(A) h`` at ``dps`` digits."""
    return range_basis(A, dps=dps).project_kernel(h)


def kernel_residual(A, h: Sequence, *, dps: int) -> mpmath.mpf:
    """``‖P_ker(A) h‖ / ‖h‖`` at ``dps`` digits (the invariant check of docs/math.md §3)."""
    return range_basis(A, dps=dps).kernel_residual(h)

