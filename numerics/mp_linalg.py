"""Small high-precision linear algebra helpers (mpmath; vectors are lists of ``mpf``).

The kernel projector ``P_ker(A) = I − Q Qᵀ`` uses an orthonormal basis ``Q`` of
``range(Aᵀ)`` computed at the working precision by a QR factorisation of ``Aᵀ``
(modified Gram–Schmidt with column pivoting and one re-orthogonalisation pass, so that a
rank-deficient ``A`` gives a basis of the right dimension instead of noise).

All functions take ``dps=`` and work inside :func:`numerics.precision.workdps`; results are
``mpf`` values rounded at ``dps`` plus guard digits (callers keep them inside their own
``workdps`` block if they need the guard digits to survive arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import mpmath
import numpy as np

from numerics.precision import check_dps, workdps

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

    ``rank`` is the numerical rank found (pivots above ``rank_tol`` times the largest),
    ``dps`` the precision it was computed at.
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
    """Orthonormal basis of ``range(Aᵀ)`` at ``dps`` digits (pivoted QR of ``Aᵀ``).

    ``A`` is a float64 matrix (entries converted exactly) or a matrix of ``mpf``.  The rank
    is decided at ``dps`` digits: a pivot below ``10**(-dps/2)`` times the largest column
    norm counts as zero (a float64 matrix that is rank-deficient in exact arithmetic has
    exact zero pivots up to rounding at the working precision, far below this).
    """
    dps = check_dps(dps)
    rows = to_mp_rows(A, dps=dps)
    M = len(rows)
    n = len(rows[0]) if M else 0
    rank_tol = 10.0 ** (-(dps / 2.0))
    with workdps(dps):
        cols = [list(r) for r in rows]  # columns of Aᵀ = rows of A
        norms0 = [mpmath.sqrt(mpmath.fdot(c, c)) for c in cols]
        scale = max(norms0) if norms0 else mpmath.mpf(0)
        Q: list = []
        remaining = list(range(M))
        while remaining:
            # pivot: the remaining column with the largest residual norm
            best, best_norm = None, mpmath.mpf(-1)
            for k in remaining:
                nk = mpmath.sqrt(mpmath.fdot(cols[k], cols[k]))
                if nk > best_norm:
                    best, best_norm = k, nk
            if scale == 0 or best_norm <= rank_tol * scale:
                break
            remaining.remove(best)
            v = cols[best]
            for _ in range(2):  # Gram–Schmidt twice ("twice is enough")
                for q in Q:
                    c = mpmath.fdot(q, v)
                    v = [vi - c * qi for vi, qi in zip(v, q)]
            nv = mpmath.sqrt(mpmath.fdot(v, v))
            q = [vi / nv for vi in v]
            Q.append(q)
            for k in remaining:  # deflate the others (modified Gram–Schmidt)
                c = mpmath.fdot(q, cols[k])
                cols[k] = [ci - c * qi for ci, qi in zip(cols[k], q)]
        return RangeBasis(tuple(tuple(q) for q in Q), len(Q), n, dps, rank_tol)


def kernel_projector(A, *, dps: int) -> mpmath.matrix:
    """``P_ker(A) = I − Q Qᵀ`` as an ``n × n`` ``mpmath.matrix`` (for small ``n``)."""
    B = range_basis(A, dps=dps)
    with workdps(dps):
        P = mpmath.eye(B.n)
        for q in B.columns:
            for i in range(B.n):
                for j in range(B.n):
                    P[i, j] -= q[i] * q[j]
        return P


def project_kernel(A, h: Sequence, *, dps: int) -> List[mpmath.mpf]:
    """``P_ker(A) h`` at ``dps`` digits."""
    return range_basis(A, dps=dps).project_kernel(h)


def kernel_residual(A, h: Sequence, *, dps: int) -> mpmath.mpf:
    """``‖P_ker(A) h‖ / ‖h‖`` at ``dps`` digits (the invariant check of docs/math.md §3)."""
    return range_basis(A, dps=dps).kernel_residual(h)

