"""Bregman projection onto ``{z ≥ 0 : Az = y}`` by Newton's method on the dual (docs/math.md §4).

The potential is normalised so that its gradient is the ``L``-logarithm of ``z^{1/L}``::

    ∇F(z) = log_L(z^{1/L})          # ½ log z for L = 2;  (z^{(2−L)/L} − 1)/(2 − L) for L > 2
    F(z)  = ½ Σ (z log z − z)        (L = 2)
    F(z)  = Σ (z − (L/2) z^{2/L})/(L − 2)   (L > 2)

(for ``L = 2`` this is half the usual negative entropy ``Σ z log z − z``; a positive
multiple gives the same projection, docs/math.md §4.1).
The projection ``x = argmin{D_F(z, β) : Az = y, z ≥ 0}`` satisfies ``∇F(x) = ∇F(β) + Aᵀν``
for a dual vector ``ν ∈ R^M``, i.e.::

    L = 2:  log x = log β + 2 Aᵀν
    L > 2:  x = (β^{(2−L)/L} − (L − 2) Aᵀν)^{−L/(L−2)}     (base must stay positive)

``ν`` minimises the convex dual function ``ψ(ν) = F*(∇F(β) + Aᵀν) − ⟨ν, y⟩``; with this
normalisation ``F*(∇F(x)) = ½ x^{2/L}`` for every ``L``, so ``ψ(ν) = ½ Σ x_i(ν)^{2/L} − ⟨ν, y⟩``
(``+∞`` where a base is not positive), ``∇ψ = A x(ν) − y`` and ``∇²ψ = A diag(dx/dθ) Aᵀ`` with
``dx/dθ = L x^{2(L−1)/L}``.  Newton's method with a backtracking (Armijo) line search and a cap
on how fast any ``x_i`` may grow in one step is used; ``β`` enters only through ``log β``, so
``β`` spanning hundreds of orders of magnitude is fine (float64 holds the logarithms; entries of
``x`` below the float64 range are simply 0 there).  For ``L > 2`` the float64 dual does carry
``β^{(2−L)/L}`` itself: beyond ``e^{709.78}`` a float64 projection fails at once, saying so
(:func:`_base_overflow`; ``dps=`` reaches it, and the float64 limit solver encloses such limits at an LP
vertex, numerics._limit).

**One algorithm, two arithmetics.**  The Newton iteration, its line search, the predictors and the
path-following are written once (:func:`_newton`, :func:`_follow`) over an arithmetic object:
:class:`_Float64` (numpy float64; ``A`` a dense array, or a matrix-free
``scipy.sparse.linalg.LinearOperator`` whose Newton systems ``A diag(d) Aᵀ δ = g`` are solved by
conjugate gradients, preconditioned where ``d`` spans many orders by ``A_S diag(d_S) A_Sᵀ + τ I`` on the
large columns ``S`` (Woodbury; ``A_Sᵀ A_S`` in closed form for a subsampled DCT): see
:meth:`_Float64._cg_preconditioner`) or :class:`_MP` (``dtype=object`` arrays of ``mpf`` at ``dps`` + guard digits;
the ``M × M`` Newton systems formed and solved by python-flint's ``arb_mat`` in floating-point mode,
about 100× faster than mpmath's Cholesky at ``M = 40``).  With ``dps`` set a float64 pass supplies the
starting point unless ``nu0`` is given.

**The base is the state.**  For ``L > 2`` and tiny ``β`` the support's bases ``b_i = x_i^{(2−L)/L}`` are
``O(1)`` while ``β^{(2−L)/L}`` and ``(L−2)Aᵀν`` are huge (``10^{15}`` at ``log β = −100``, ``L = 3``): the
base computed from ``ν`` cancels every digit there.  The iteration therefore carries the base itself
(updated by the small increments ``−(L−2)Aᵀδ``), and the predictor from a solved point to a new ``β``
is the tangent written in a basis ``S`` of the ``M`` largest ``dx/dθ`` (:func:`tangent_dtheta`): the
part of ``Δ∇F(β)`` that the constraint absorbs is removed analytically, never by subtracting two huge
numbers.  The computed ``x`` then satisfies ``Ax = y`` to rounding and ``∇F(x) − ∇F(β) ∈ range(Aᵀ)`` to
the rounding of ``∇F(β)`` (what float64 can hold of ``β`` at all).

No nonnegative solution of ``Az = y`` means ``ψ`` is unbounded below; this is detected from a Farkas
certificate (a direction ``d`` with ``Aᵀd ≤ 0 < ⟨d, y⟩``, counted only when a HiGHS feasibility LP on a
scaled copy finds no feasible point: on the boundary of the cone ``A·R₊ⁿ`` rounding alone produces such
directions) or from the LP, and reported as :attr:`Status.INCONSISTENT`.

Statuses mean what they say (docs/math.md §4): CONVERGED only with ``‖Ax − y‖ ≤ tol`` (``tol``
relative to ``‖y‖``), the iterate returned being the best one seen; NOISE_FLOOR when the working
precision cannot reduce the residual further (the reached residual is on the result and in the
message); TIME_LIMIT when the caller's ``time_limit=`` runs out (checked at every Newton step and
line-search trial); NOT_CONVERGED when the iterations run out.  Path-following in ``log β`` warm
starts each point from a predictor along the dual path (an 8×20 problem with ``A`` scaled by 1e-5
needed ``β = e^{-1.4e6}`` in the limit solver's root search, and stalled without it).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Optional

import mpmath
import numpy as np
import scipy.linalg

from numerics import _derived
from numerics import _formulas
from numerics._arith import jsonable, mp_array
from numerics._operators import is_operator
from numerics._precision import DPS_FLOAT64, GUARD_DIGITS, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, check_dps, tol as _tol, workdps
from numerics._status import Status

__all__ = ["ProjectionResult", "bregman_projection", "grad_F", "grad_F_inv", "dual_hessian_solver",
           "tangent_dtheta"]

# Largest growth of log x_i allowed in one Newton step (the far-from-solution phase).
_LOG_GROWTH_CAP = 30.0
_ARMIJO = 1e-4

Vector = np.ndarray
"""A 1-D numpy array: float64, or ``dtype=object`` of ``mpmath.mpf`` (docs: numerics._arith)."""


@dataclass(frozen=True)
class ProjectionResult:
    """A Bregman projection ``x`` of ``β`` onto ``{z ≥ 0 : Az = y}`` and its dual ``ν``.

    ``x``, ``log_x`` and ``nu`` are 1-D numpy arrays: float64, or ``dtype=object`` arrays of
    ``mpmath.mpf`` when ``dps`` is set (``None`` where no iterate exists).  ``log_x`` stays finite
    below float64's range.  ``residual`` is ``‖Ax − y‖`` (float) at the precision used; ``tol`` the
    accepted (absolute) residual.  ``iterations`` counts every Newton step (``float64_iterations`` of
    them by the float64 start of a ``dps`` solve); ``linear_solver`` names how the Newton systems were
    solved (``"cholesky"``, ``"cg"`` (matrix-free), ``"flint"`` (arb_mat at dps)), ``cg_iterations``
    the conjugate-gradient steps (matrix-free only) and ``cg_failures`` the CG solves that did not
    reach their tolerance (each makes that Newton step fail: an unconverged CG is never used)."""

    x: Optional[Vector]
    nu: Optional[Vector]
    status: Status
    message: str
    iterations: int
    residual: float
    dps: Optional[int]
    L: int
    tol: float
    log_x: Optional[Vector] = None
    wall_time: float = float("nan")
    float64_iterations: int = 0
    linear_solver: str = ""
    cg_iterations: int = 0
    cg_failures: int = 0

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    def to_dict(self) -> dict:
        """JSON-able form (``numerics._arith.jsonable``: mpf as decimal strings of ``dps`` digits)."""
        return jsonable(self, DPS_FLOAT64 if self.dps is None else self.dps)


# -------------------------------------------------------------------------------------------
# the potential, in this module's normalisation
# -------------------------------------------------------------------------------------------
def grad_F(z, L: int, lib=np):
    """``∇F(z) = log_L(z^{1/L})`` elementwise (``½ log z`` for ``L = 2``): ``numerics._derived.grad_F``."""
    return _derived.grad_F(z, L, lib)


def grad_F_inv(theta, L: int, lib=np):
    """``(∇F)^{-1}(θ)``: ``exp(2θ)`` for ``L = 2``, ``(1 − (L−2)θ)^{−L/(L−2)}`` for ``L > 2``."""
    return _derived.grad_F_inv(theta, L, lib)


# -------------------------------------------------------------------------------------------
# the two arithmetics
# -------------------------------------------------------------------------------------------
def _single_thread_blas():
    """Small dense solves (``M × M``) gain nothing from threads, and an oversubscribed machine makes
    threaded BLAS orders of magnitude slower; limit it to one thread when threadpoolctl is present."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _gram64(A, w):
    """``A diag(w) Aᵀ`` (``w ≥ 0``) by a symmetric rank-k update of ``A diag(√w)`` (BLAS ``dsyrk``:
    half the flops of the general product, which dominates a Newton step when ``n ≫ M``)."""
    from scipy.linalg.blas import dsyrk

    B = A * np.sqrt(w)
    H = dsyrk(1.0, B)  # upper triangle
    return np.triu(H) + np.triu(H, 1).T


def _solve_spd64(H, g):
    try:
        cf = scipy.linalg.cho_factor(H, check_finite=False)
        s = scipy.linalg.cho_solve(cf, g, check_finite=False)
        if np.all(np.isfinite(s)):
            return s
    except (np.linalg.LinAlgError, ValueError):
        pass
    s, *_ = np.linalg.lstsq(H, g, rcond=None)
    return s


_PIVOT_RATIO = _tol(DPS_FLOAT64, K_ACCUMULATED)
"""A basis ``A_S`` is used when its LU pivots' ratio min/max exceeds ``tol(15, K_ACCUMULATED)``
(k = K_ACCUMULATED: the basis solves may lose that many digits and still leave float64 accurate ones)."""


class _Float64:
    """float64 numpy arithmetic; ``A`` dense or a matrix-free LinearOperator (then CG)."""

    kind = "float64"
    digits = DPS_FLOAT64
    # one policy with _MP: tol(digits, K_ROUNDOFF) (k = K_ROUNDOFF: the rounding of one evaluation)
    lm_shift = _tol(DPS_FLOAT64, K_ROUNDOFF)  # Levenberg–Marquardt shift, relative to the largest diagonal entry of the Hessian
    psi_fuzz = _tol(DPS_FLOAT64, K_ROUNDOFF)  # resolution of ψ (a sum of n terms), relative to Σ x^{2/L}
    halvings = 80
    CG_MAXITER = 2000

    def __init__(self, A, y):
        self.op = is_operator(A)
        self.A = A
        self.y = np.asarray(y, dtype=float).reshape(-1)
        self.M, self.n = A.shape
        self.eps = float(np.finfo(float).eps)
        self._absA = None
        self._norm2 = None
        self._colsq = None
        self.cg_iterations = 0
        self.cg_failures = 0
        self.solver = "cg" if self.op else "cholesky"
        self._lu_key = None
        self._lu = None
        self._lu_P = None
        self.deadline = None  # perf_counter() time at which CG solves give up (the caller's time_limit)
        self.pc_columns = 0  # the most explicit columns a preconditioner used
        self._pc_needed = False  # plain CG did not finish in PC_PLAIN_ITER steps once: precondition at once

    # vectors ------------------------------------------------------------------------------
    @staticmethod
    def vec(v):
        if isinstance(v, np.ndarray) and v.dtype == object:
            return np.array([float(t) for t in v.reshape(-1)], dtype=float)
        return np.array([float(t) for t in v], dtype=float) if isinstance(v, (list, tuple)) else \
            np.asarray(v, dtype=float).reshape(-1).copy()

    def zeros(self, k):
        return np.zeros(k)

    @staticmethod
    def num(v):
        return float(v)

    @staticmethod
    def exp(v):
        with np.errstate(over="ignore", under="ignore"):
            return np.exp(v)

    @staticmethod
    def log(v):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(v)

    @staticmethod
    def expm1(v):
        with np.errstate(over="ignore"):
            return np.expm1(v)

    @staticmethod
    def sum(v):
        return float(np.sum(v))

    @staticmethod
    def dot(a, b):
        return float(np.dot(a, b))

    @staticmethod
    def norm(v):
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.linalg.norm(v))

    @staticmethod
    def vmax(v):
        return float(np.max(v)) if len(v) else -math.inf

    @staticmethod
    def finite(v):
        return bool(np.all(np.isfinite(v)))

    @staticmethod
    def positive(v):
        return bool(np.all(v > 0))

    def Ax(self, x):
        return self.A.matvec(x) if self.op else self.A @ x

    def ATv(self, v):
        return self.A.rmatvec(v) if self.op else self.A.T @ v

    # scales ---------------------------------------------------------------------------------
    def norm2(self) -> float:
        """``‖A‖₂`` (ARPACK for large or matrix-free ``A``; computed once)."""
        if self._norm2 is None:
            if not self.op and self.M * self.n <= 250_000:
                self._norm2 = float(np.linalg.norm(self.A, 2))
            else:
                from scipy.sparse.linalg import svds

                try:
                    s = svds(self.A, k=1, return_singular_vectors=False, tol=1e-3)
                    self._norm2 = 1.01 * float(s[0])
                except Exception:  # pragma: no cover - ARPACK failure: the Frobenius bound
                    self._norm2 = math.sqrt(self.M) * float(np.linalg.norm(self.ATv(np.ones(self.M))))
        return self._norm2

    def rounding_level(self, x) -> float:
        """About ``10 eps (‖|A| x‖ + ‖y‖)``: nothing below it is reachable for ``‖Ax − y‖``."""
        if self.op:
            ax = self.norm2() * float(np.linalg.norm(x)) * math.sqrt(max(math.log2(self.n), 1.0))
        else:
            if self._absA is None:
                self._absA = np.abs(self.A)
            ax = float(np.linalg.norm(self._absA @ np.abs(x)))
        return 10 * self.eps * (ax + float(np.linalg.norm(self.y)))

    def colsq(self):
        if self._colsq is None:
            self._colsq = np.einsum("ij,ij->j", self.A, self.A)
        return self._colsq

    # Newton systems -------------------------------------------------------------------------
    def active(self, w):
        """Columns whose ``w_i ‖a_i‖²`` all together stay below 1 % of the Levenberg–Marquardt shift are
        dropped from ``A diag(w) Aᵀ``: their total is below the shift added anyway (at tiny ``β``
        most columns carry ``w_i`` tens of orders below the support's, and the Gram matrix of the rest is
        many times cheaper)."""
        c = w * self.colsq()
        cmax = float(c.max()) if c.size else 0.0
        if not cmax > 0:
            return None
        small = c < 1e-2 * self.lm_shift * cmax / max(1, self.n)
        if not small.any():
            return None
        return np.flatnonzero(~small)

    def hessian_solver(self, w, shift=True, logw=None):
        """A function ``g ↦ (A diag(w) Aᵀ)⁻¹ g``: in the basis form (:meth:`_basis_solver`) for dense ``A``
        with ``M < n`` and a well-conditioned basis; otherwise by Cholesky of the Gram matrix plus the
        Levenberg–Marquardt shift ``μ I`` (when ``shift``), or by CG (matrix-free).  ``logw``: ``log w``
        when known (no underflow of the basis scaling)."""
        if self.op:
            return self._cg_solver(w, shift)
        if self.M < self.n and self._graded(w, logw):
            solve_b = self._basis_solver(w, logw, shift)
            if solve_b is not None:
                fallback = []

                def solve(g):
                    s = solve_b(g)
                    if np.all(np.isfinite(s)):
                        return s
                    if not fallback:  # the basis scaling left float64: the (shifted) Gram form
                        fallback.append(self._gram_solver(w, True))
                    return fallback[0](g)

                return solve
            shift = True  # the Gram form needs the shift wherever the Hessian is singular in float64
        return self._gram_solver(w, shift)

    def _graded(self, w, logw=None) -> bool:
        """Whether the ``M`` largest ``w_i`` span more than 8 orders: then the Gram form loses the small
        directions (and the basis form, about 3× its cost when every column counts, is used)."""
        M = self.M
        v = np.asarray(logw, dtype=float) if logw is not None else np.log(np.maximum(w, 1e-320))
        top = np.partition(v, len(v) - M)[len(v) - M:]
        return bool(float(top.max() - top.min()) > 8 * math.log(10))

    def _gram_solver(self, w, shift):
        """``g ↦ (A diag(w) Aᵀ + μ I)⁻¹ g`` by Cholesky of the Gram matrix (dense ``A``)."""
        act = self.active(w)
        A = self.A if act is None else self.A[:, act]
        H = _gram64(A, w if act is None else w[act])
        d = float(np.max(np.diag(H))) if H.size else 0.0
        if shift:
            H[np.diag_indices_from(H)] += self.lm_shift * d
        try:
            cf = scipy.linalg.cho_factor(H, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            cf = None

        def solve(g):
            if cf is not None:
                s = scipy.linalg.cho_solve(cf, g, check_finite=False)
                if np.all(np.isfinite(s)):
                    return s
            s, *_ = np.linalg.lstsq(H, g, rcond=None)
            return s

        return solve

    def _basis(self, S):
        """LU of ``A_S`` (cached while the basis does not change), or None when ill conditioned."""
        key = np.sort(S).tobytes()
        if self._lu_key != key:
            self._lu_key = key
            try:
                lu = scipy.linalg.lu_factor(self.A[:, S], check_finite=False)
                piv = np.abs(np.diag(lu[0]))
                ok = piv.size and piv.min() > _PIVOT_RATIO * piv.max() and np.all(np.isfinite(lu[0]))
                self._lu = (lu, float(piv.max() / piv.min())) if ok else None
            except (ValueError, np.linalg.LinAlgError):
                self._lu = None
        return self._lu

    def _basis_gram_inv(self, lu):
        """``(A_SᵀA_S)⁻¹ = A_S⁻¹ A_S^{-T}`` for the cached basis (computed once per basis)."""
        if self._lu_P is None or self._lu_P[0] is not lu:
            Ainv = scipy.linalg.lu_solve(lu, np.eye(self.M), check_finite=False)
            self._lu_P = (lu, Ainv @ Ainv.T)
        return self._lu_P[1]

    def _basis_solver(self, w, logw=None, shift=True):
        """``(A diag(w) Aᵀ)⁻¹`` in the basis ``S`` of the ``M`` largest ``w_i``: with ``G = A_S⁻¹ A_c`` and
        ``Kᵀ = diag(w_S^{-1/2}) G diag(w_c^{1/2})``, ``A W Aᵀ = A_S W_S^{1/2} (I + KᵀK) W_S^{1/2} A_Sᵀ``, so
        ``δ = A_S^{-T} W_S^{-1/2} (I + KᵀK)⁻¹ W_S^{-1/2} A_S⁻¹ g``.  ``I + KᵀK`` is well conditioned (``‖K‖ ≤ ‖G‖``
        since ``w_c ≤ min w_S``) however many orders ``w`` spans: the ill-conditioning of the Gram matrix
        (which float64 cannot even form when ``w`` spans more than 16 orders: a degenerate vertex, tiny
        ``x_i`` on a basis) is carried by the diagonal scaling, exactly.  Columns of ``K`` below float64's
        resolution of ``I`` are left out.  None when ``A_S`` is ill conditioned."""
        M, n = self.M, self.n
        S = np.sort(np.argpartition(-w, M - 1)[:M])
        b = self._basis(S)
        if b is None:
            return None
        (lu, kappa) = b
        mask = np.ones(n, dtype=bool)
        mask[S] = False
        wS = w[S]
        if logw is not None:
            lS = np.asarray(logw, dtype=float)[S]
            if not float(lS.max() - lS.min()) < 1000.0:
                return None  # a basis spanning more than e^1000: its scaling leaves float64 (Gram form)
            isq = np.exp(-0.5 * (lS - lS.max())) * math.exp(-0.5 * float(lS.max()))
        else:
            if not np.all(wS > 0):
                return None
            isq = 1.0 / np.sqrt(wS)
        if not np.all(np.isfinite(isq)):
            return None
        wmin = float(np.min(wS))
        c = np.flatnonzero(mask)
        # ‖K_j‖² ≤ (w_j / min w_S) ‖G_j‖², ‖G_j‖ ≲ κ ‖a_j‖/‖a‖: below eps² of I, K_j does not matter
        thr = (self.eps ** 2) / max(kappa, 1.0) ** 2
        c = c[w[c] > thr * wmin] if wmin > 0 else c
        if c.size:
            G = scipy.linalg.lu_solve(lu, self.A[:, c], check_finite=False)
            KT = (G * isq[:, None]) * np.sqrt(w[c])[None, :]
            if not np.all(np.isfinite(KT)):
                return None
            W = KT @ KT.T
            W[np.diag_indices_from(W)] += 1.0
        else:
            W = np.eye(M)
        if not np.all(np.isfinite(W)):
            return None
        if shift:
            # the Levenberg–Marquardt shift μ I of the Gram form, in the basis: μ W_S^{-1/2} (A_SᵀA_S)⁻¹ W_S^{-1/2}.
            # It damps the directions of x_i too small for the residual to resolve (A_i x_i below the
            # rounding of Ax − y): the rounding of g, amplified by 1/w_i, would otherwise steer them
            mu = self.lm_shift * float(np.max(np.einsum("ij,ij->i", self.A * w, self.A)))
            P = self._basis_gram_inv(lu)
            W = W + mu * (isq[:, None] * P * isq[None, :])
            if not np.all(np.isfinite(W)):
                return None
        try:
            cf = scipy.linalg.cho_factor(W, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            return None

        def solve(g):
            u = isq * scipy.linalg.lu_solve(lu, g, check_finite=False)
            v = isq * scipy.linalg.cho_solve(cf, u, check_finite=False)
            return scipy.linalg.lu_solve(lu, v, trans=1, check_finite=False)

        return solve

    # the preconditioner of the matrix-free Newton systems (see _cg_preconditioner)
    PC_MAX_COLUMNS = 3000  # at most this many explicit columns (the dense s×s Gram matrix: 72 MB at 3000)
    PC_PLAIN_ITER = 50  # plain CG steps tried first (enough wherever diag(w) is flat)
    PC_TRY_ITER = 100  # preconditioned CG steps on an unshifted system before plain CG takes over
    use_pc = True  # matrix-free: precondition CG (_cg_preconditioner) when plain CG is slow

    def _ata_columns(self, cols, rows):
        """``(AᵀA)[rows, cols]`` (an ``len(rows) × len(cols)`` array) from the products with unit vectors,
        in blocks (never an ``M × n`` array)."""
        from numerics._operators import adjoint_rows, forward_rows

        out = np.empty((len(rows), len(cols)))
        b = max(1, min(len(cols), 10_000_000 // max(self.n, 1)))
        for j0 in range(0, len(cols), b):
            blk = cols[j0:j0 + b]
            E = np.zeros((len(blk), self.n))
            E[np.arange(len(blk)), blk] = 1.0
            AtA = adjoint_rows(self.A, forward_rows(self.A, E))  # rows: (AᵀA e_j)ᵀ
            out[:, j0:j0 + len(blk)] = AtA[:, rows].T
        return out

    def _gram_cols(self, S):
        """``A_Sᵀ A_S`` for the sorted index set ``S``: its columns in closed form for a subsampled DCT
        (:func:`_dct_gram`), otherwise from products with unit vectors (:meth:`_ata_columns`), reusing
        the entries of earlier calls (a pool of at most ``2 PC_MAX_COLUMNS`` columns: only columns new
        to it are computed)."""
        if getattr(self, "_dct_F", None) is None:
            F = _dct_gram(self.A, None, None)
            self._dct_F = False if F is None else F
        if self._dct_F is not False:
            def columns(cols, rows):
                return _dct_gram(self.A, rows, cols, self._dct_F)
        else:
            columns = self._ata_columns
        old = getattr(self, "_pc_gram", None)
        if old is not None and len(np.union1d(old[0], S)) > 2 * self.PC_MAX_COLUMNS:
            old = None
        if old is None:
            P, GP = S, columns(S, S)
        else:
            S0, G0 = old
            new = np.setdiff1d(S, S0)
            if new.size:
                P = np.union1d(S0, S)
                GP = np.empty((len(P), len(P)))
                io = np.searchsorted(P, S0)
                inn = np.searchsorted(P, new)
                GP[np.ix_(io, io)] = G0
                C = columns(new, P)
                GP[:, inn] = C
                GP[inn, :] = C.T
            else:
                P, GP = S0, G0
        self._pc_gram = (P, GP)
        if len(P) == len(S):
            return GP
        pos = np.searchsorted(P, S)
        return GP[np.ix_(pos, pos)]

    def _cg_preconditioner(self, w, mu):
        """A preconditioner for ``H = A diag(w) Aᵀ + μ I`` (``max w = 1``): with ``S`` the columns where
        ``w_j > lm_shift`` (at most :attr:`PC_MAX_COLUMNS`, the largest), ``U = A_S diag(w_S)^{1/2}`` and
        ``τ = μ + ‖A‖² Σ_{j∉S} w_j / n`` (the rest of ``H``'s trace per row, for orthogonal rows of equal
        norm), ``P = U Uᵀ + τ I``, applied by Woodbury, ``P⁻¹ g = (g − U (τ I + UᵀU)⁻¹ Uᵀ g)/τ``, with
        one product by ``A`` and one by ``Aᵀ`` and a Cholesky factor of the ``|S| × |S|`` matrix.

        Where the support's ``w`` are orders above the rest (the limit at large ``log ρ``), ``A diag(w) Aᵀ``
        has ``M − |S|`` eigenvalues at the scale of the rest and plain CG needs thousands of steps;
        the columns left out contribute at most ``max_{j∉S} w_j ‖A‖² ≤ μ`` (uncapped ``S``), so the
        eigenvalues of ``P⁻¹H`` lie in ``[1, 2]`` up to the trace term.  The preconditioner changes only
        the path of CG, never its stopping test (the residual of ``H``'s own system).  None when it does
        not apply (``S`` empty or half the columns or more).  Measured: 3–5 preconditioned steps per
        Newton system in the limit at ``N = 10⁴``; at ``N = 10⁵``, ``M = 15000``, ``k = 1500`` (``log ρ ≈
        1.7e4``) the limit converges in 137 s where plain CG hits its 2000-step cap at every radius."""
        n = self.n
        lm = self.lm_shift
        big = np.flatnonzero(w > lm)
        if big.size == 0 or big.size >= n // 2:
            return None
        if big.size > self.PC_MAX_COLUMNS:
            big = big[np.argpartition(-w[big], self.PC_MAX_COLUMNS - 1)[:self.PC_MAX_COLUMNS]]
        S = np.sort(big)
        rest = float(np.sum(w)) - float(np.sum(w[S]))
        nrm2 = self.norm2() ** 2
        tau = mu + nrm2 * max(rest, 0.0) / n
        if not tau > 0:
            return None
        G = self._gram_cols(S)
        sw = np.sqrt(w[S])
        K = (sw[:, None] * G) * sw[None, :]
        K[np.diag_indices_from(K)] += tau
        try:
            cf = scipy.linalg.cho_factor(K, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            return None
        A = self.A
        full = np.zeros(n)

        def apply(g):
            g = np.ravel(g)
            u = sw * A.rmatvec(g)[S]
            z = scipy.linalg.cho_solve(cf, u, check_finite=False)
            full[S] = sw * z
            return (g - A.matvec(full)) / tau

        from scipy.sparse.linalg import LinearOperator

        self.pc_columns = max(getattr(self, "pc_columns", 0), len(S))
        return LinearOperator((self.M, self.M), matvec=apply, dtype=float)

    def _cg_solver(self, w, shift):
        """``g ↦ (A diag(w) Aᵀ + μ I)⁻¹ g`` by CG (``μ`` the Levenberg–Marquardt shift when ``shift``).

        Plain CG first, for :attr:`PC_PLAIN_ITER` steps (enough where ``w`` is flat); when it does not
        finish, CG preconditioned by :meth:`_cg_preconditioner` continues from its iterate (for the rest
        of this projection's Newton steps the plain start is skipped).  Shifted, the preconditioned
        spectrum is bounded and it runs to :attr:`CG_MAXITER`; unshifted (the tangent systems, whose
        complement directions carry only the tiny ``w_j`` of the columns left out) it gets
        :attr:`PC_TRY_ITER` steps and plain CG then takes over with the full budget.  Every solve stops
        on the same test, the relative residual ``tol(15, K_SOLVE)`` of this system; one that misses it
        is never used."""
        from scipy.sparse.linalg import LinearOperator, cg

        wmax = float(np.max(w)) if w.size else 0.0
        mu = (self.lm_shift * wmax * self.norm2() ** 2) if shift else 0.0
        A = self.A

        def hv(v):
            return A.matvec(w * A.rmatvec(v)) + mu * v

        H = LinearOperator((self.M, self.M), matvec=hv, dtype=float)

        # the relative residual asked of CG: an iterative solve's tolerance, tol(15, K_SOLVE) (k = K_SOLVE)
        cg_rtol = _tol(DPS_FLOAT64, K_SOLVE)

        deadline = self.deadline
        pc = []  # the preconditioner (or None), built on the first solve that plain CG does not finish

        def solve(g, rtol=cg_rtol):
            count = [0]

            def cb(_):
                count[0] += 1
                if deadline is not None and count[0] % 16 == 0 and time.perf_counter() > deadline:
                    raise _CGTimeUp

            def done(s, info):
                self.cg_iterations += count[0]
                if info != 0:
                    # CG did not reach rtol (info > 0: maxiter; info < 0: breakdown): never use the
                    # unconverged iterate; a non-finite step makes the caller treat the Newton step as failed
                    self.cg_failures += 1
                    return np.full(self.M, np.nan)
                return s

            try:
                x0 = None
                if not self.use_pc:
                    return done(*cg(H, g, rtol=rtol, atol=0.0, maxiter=self.CG_MAXITER, callback=cb))
                if not self._pc_needed:
                    s, info = cg(H, g, rtol=rtol, atol=0.0, maxiter=min(self.PC_PLAIN_ITER, self.CG_MAXITER),
                                 callback=cb)
                    if info == 0:
                        return done(s, info)
                    x0 = s if np.all(np.isfinite(s)) else None
                    if shift:
                        self._pc_needed = True
                if not pc:
                    wm = w / wmax if wmax > 0 else w
                    pc.append(self._cg_preconditioner(wm, mu / wmax if wmax > 0 else mu))
                if pc[0] is not None:
                    Pw = pc[0]
                    if wmax != 1.0 and wmax > 0:
                        Pw = LinearOperator((self.M, self.M), matvec=lambda v, P=pc[0]: P.matvec(v) / wmax,
                                            dtype=float)
                    s, info = cg(H, g, x0=x0, rtol=rtol, atol=0.0,
                                 maxiter=self.CG_MAXITER if shift else self.PC_TRY_ITER, M=Pw, callback=cb)
                    if info == 0 or shift:
                        return done(s, info)
                return done(*cg(H, g, rtol=rtol, atol=0.0, maxiter=self.CG_MAXITER, callback=cb))
            except _CGTimeUp:
                # the caller's time_limit ran out inside CG: no step (the Newton loop reports TIME_LIMIT)
                self.cg_iterations += count[0]
                return np.full(self.M, np.nan)

        return solve


def _dct_gram(A, rows, cols, F=None):
    """``(AᵀA)[rows, cols]`` in closed form for a :class:`~numerics._operators.SubsampledDCT` (or its
    :class:`~numerics._operators.SignedOperator` ``[A, −A]``), else None.  With ``C_{kj} = c_k
    cos(πk(2j+1)/(2N))`` (``c_0² = 1/N``, ``c_k² = 2/N``), ``(AᵀA)_{ij} = (N/M) d_i d_j ½ (F(i − j) + F(i + j + 1))``,
    ``F(m) = Σ_{k∈Ω} c_k² cos(πkm/N)``: one FFT of length ``2N`` gives every ``F(m)``.  ``rows = None``:
    ``F`` alone (to pass back as ``F``)."""
    from numerics._operators import SignedOperator, SubsampledDCT

    base = A.base if isinstance(A, SignedOperator) else A
    if not isinstance(base, SubsampledDCT):
        return None
    N = base.N
    if F is None:
        a = np.zeros(2 * N)
        a[base.rows] = 2.0 / N
        if base.rows.size and base.rows[0] == 0:
            a[0] = 1.0 / N
        F = np.real(np.fft.fft(a))  # F(m) = Σ_k a_k cos(2π k m / 2N), m = 0 … 2N − 1
    if rows is None:
        return F

    def split(idx):
        idx = np.asarray(idx, dtype=np.intp)
        sgn = np.ones(len(idx))
        if base is not A:
            sgn = np.where(idx >= N, -1.0, 1.0)
            idx = np.where(idx >= N, idx - N, idx)
        if base.use_signs:
            sgn = sgn * base.signs[idx]
        return idx, sgn * math.sqrt(base.N / base.M)

    i, di = split(rows)
    j, dj = split(cols)
    G = F[np.abs(i[:, None] - j[None, :])]
    G += F[i[:, None] + j[None, :] + 1]
    G *= 0.5 * di[:, None] * dj[None, :]
    return G


class _CGTimeUp(Exception):
    """The time limit ran out inside a conjugate-gradient solve (internal)."""


def _flint_ctx(bits):
    from flint import ctx

    class _Prec:
        def __enter__(self):
            self.old = ctx.prec
            ctx.prec = bits

        def __exit__(self, *exc):
            ctx.prec = self.old
            return False

    return _Prec()


def _to_arb(v):
    """An ``mpf`` as an exact ``arb`` (through its mantissa and exponent)."""
    from flint import arb, arf

    s, man, e, _bc = v._mpf_ if isinstance(v, mpmath.mpf) else mpmath.mpf(v)._mpf_
    if not man:
        return arb(0)
    return arb(arf((-int(man) if s else int(man), int(e))))


_mp_exp = np.frompyfunc(mpmath.exp, 1, 1)
_mp_log = np.frompyfunc(mpmath.log, 1, 1)
_mp_expm1 = np.frompyfunc(mpmath.expm1, 1, 1)


class _MP:
    """``mpf`` arithmetic at ``digits`` decimal digits (object arrays; call inside ``workdps``).  ``A`` is
    float64 data taken exactly; ``y`` float64 data or an mpf array taken as it is."""

    kind = "mp"
    solver = "flint"
    cg_iterations = 0
    cg_failures = 0

    def __init__(self, A, y, digits):
        self.op = False
        self.A64 = A
        self.M, self.n = A.shape
        self.digits = digits
        self.eps = mpmath.mpf(10) ** (-digits)
        # the policy of _Float64 at these digits: tol(digits, K_ROUNDOFF) (k = K_ROUNDOFF)
        self.lm_shift = mpmath.mpf(10) ** (-digits + K_ROUNDOFF)
        self.psi_fuzz = mpmath.mpf(10) ** (-digits + K_ROUNDOFF)
        self.halvings = 120
        self.rows = [[mpmath.mpf(float(v)) for v in A[i]] for i in range(self.M)]
        self.cols = [[self.rows[i][j] for i in range(self.M)] for j in range(self.n)]
        self.y = mp_array(y) if isinstance(y, np.ndarray) and y.dtype == object else \
            mp_array(np.asarray(y, dtype=float).reshape(-1))
        self.y64 = np.array([float(v) for v in self.y])
        self.bits = int(math.ceil(digits * 3.3219280948873626)) + 16
        from flint import arb

        self._A_arb = [[arb(float(v)) for v in A[i]] for i in range(self.M)]

    vec = staticmethod(mp_array)

    def zeros(self, k):
        return mp_array([0] * k)

    @staticmethod
    def num(v):
        return mpmath.mpf(v)

    @staticmethod
    def exp(v):
        return _mp_exp(v) if isinstance(v, np.ndarray) else mpmath.exp(v)

    @staticmethod
    def log(v):
        return _mp_log(v) if isinstance(v, np.ndarray) else mpmath.log(v)

    @staticmethod
    def expm1(v):
        return _mp_expm1(v) if isinstance(v, np.ndarray) else mpmath.expm1(v)

    @staticmethod
    def sum(v):
        return mpmath.fsum(v)

    @staticmethod
    def dot(a, b):
        return mpmath.fdot(a, b)

    @staticmethod
    def norm(v):
        return mpmath.sqrt(mpmath.fdot(v, v))

    @staticmethod
    def vmax(v):
        return max(v) if len(v) else -mpmath.inf

    @staticmethod
    def finite(v):
        return all(mpmath.isfinite(t) for t in v)

    @staticmethod
    def positive(v):
        return all(t > 0 for t in v)

    def Ax(self, x):
        return mp_array([mpmath.fdot(row, x) for row in self.rows])

    def ATv(self, v):
        return mp_array([mpmath.fdot(col, v) for col in self.cols])

    def norm2(self):
        return mpmath.mpf(float(np.linalg.norm(self.A64, 2)))

    def rounding_level(self, x):
        ax = mpmath.sqrt(mpmath.fsum(mpmath.fsum(abs(a) * abs(b) for a, b in zip(row, x)) ** 2 for row in self.rows))
        return 10 * self.eps * (ax + self.norm(self.y))

    def hessian(self, w):
        """``A diag(w) Aᵀ`` as an ``arb_mat`` (midpoint arithmetic at ``bits``)."""
        from flint import arb_mat

        wa = [_to_arb(t) for t in w]
        B = arb_mat([[a * d for a, d in zip(row, wa)] for row in self._A_arb])
        At = arb_mat(self._A_arb).transpose()
        return B * At

    def hessian_solver(self, w, shift=True, logw=None):
        from flint import arb_mat

        with _flint_ctx(self.bits):
            H = self.hessian(w)
            M = self.M
            dmax = max(H[i, i].mid() for i in range(M)) if M else 0
            if shift:
                mu = _to_arb(self.lm_shift) * dmax
                for i in range(M):
                    H[i, i] = H[i, i] + mu
            # only the midpoints: this is Newton's direction, not an enclosure (numerics._certify does those)
            Hm = arb_mat([[H[i, j].mid() for j in range(M)] for i in range(M)])

        def solve(g):
            with _flint_ctx(self.bits):
                try:
                    s = Hm.solve(arb_mat([[_to_arb(t)] for t in g]), algorithm="approx")
                    out = mp_array([mpmath.mpf(s[i, 0].mid()) for i in range(M)])
                    if all(mpmath.isfinite(t) for t in out):
                        return out
                except ZeroDivisionError:
                    pass
            # singular at working precision: least squares (mpmath QR)
            Hmp = mpmath.matrix([[mpmath.mpf(Hm[i, j].mid()) for j in range(M)] for i in range(M)])
            s, _ = mpmath.qr_solve(Hmp, mpmath.matrix(list(g)))
            return mp_array([s[i] for i in range(M)])

        return solve


# -------------------------------------------------------------------------------------------
# the dual function over either arithmetic
# -------------------------------------------------------------------------------------------
class _Dual:
    """The dual function and its derivatives from ``log β`` (vectors of the arithmetic ``ar``)."""

    def __init__(self, ar, logb, L):
        self.ar, self.L = ar, L
        self.logb = logb
        if L > 2:
            self.e = ar.num(2 - L) / L  # (2 − L)/L
            self.c = ar.exp(self.e * logb)  # β^{(2−L)/L}

    def base(self, nu):
        """``log x`` (L = 2) or the base ``b = β^{(2−L)/L} − (L−2)Aᵀν`` (L > 2) computed from ``nu``."""
        atn = self.ar.ATv(nu)
        return self.logb + 2 * atn if self.L == 2 else self.c - (self.L - 2) * atn

    def dbase(self, delta):
        atd = self.ar.ATv(delta)
        return 2 * atd if self.L == 2 else -(self.L - 2) * atd

    def point(self, base):
        """(x, log x, log D, S2 = ½x^{2/L}) from the base (D = dx/dθ); None outside the domain.

        The base is updated incrementally by the Newton loop (``base + t·dbase``), so that entries
        near 1 keep their relative accuracy even when ``β^{(2−L)/L}`` and ``Aᵀν`` are huge."""
        ar, L = self.ar, self.L
        if L == 2:
            logx = base
            x = ar.exp(logx)
            logD = logx + math.log(2) if ar.kind == "float64" else logx + mpmath.log(2)
            S2 = x / 2
        else:
            if not ar.positive(base):
                return None
            lb = ar.log(base)
            logx = (ar.num(-L) / (L - 2)) * lb
            x = ar.exp(logx)
            logD = logx - lb + ar.log(ar.num(L))
            S2 = ar.exp((ar.num(-2) / (L - 2)) * lb) / 2
        if not ar.finite(S2):
            return None
        return x, logx, logD, S2

    def max_step(self, logx, delta, cap=_LOG_GROWTH_CAP):
        """Largest t for which no ``x_i`` grows by more than ``cap`` nats."""
        ar = self.ar
        d = ar.ATv(delta)
        if self.L == 2:
            m = ar.vmax(2 * d)
            return math.inf if not m > 0 else cap / m
        L = self.L
        b = ar.exp((ar.num(2 - L) / L) * logx)
        dd = (L - 2) * d
        pos = np.flatnonzero(np.array([v > 0 for v in dd], dtype=bool))
        if not pos.size:
            return math.inf
        frac = 1 - ar.exp(ar.num(-cap) * (L - 2) / L)
        return min(frac * b[i] / dd[i] for i in pos)


# -------------------------------------------------------------------------------------------
# one Newton run
# -------------------------------------------------------------------------------------------
@dataclass
class _Run:
    """What one Newton run is asked for."""

    tol_accept: object  # accepted residual (absolute)
    tol_tight: object  # stop early below this
    max_iter: int
    deadline: Optional[float] = None
    polish: bool = False
    A64: Optional[np.ndarray] = None  # dense float64 A for the HiGHS feasibility LP (None: matrix-free)
    y64: Optional[np.ndarray] = None
    damped: bool = False  # the Levenberg–Marquardt shift also in the basis form (see _newton2)


@dataclass
class _Newton:
    """The outcome of a Newton run (internal)."""

    nu: Vector
    x: Optional[Vector]
    logx: Optional[Vector]
    base: Optional[Vector]
    res: object
    it: int
    status: Status
    message: str = ""


def _newton2(f: _Dual, run: _Run, nu0=None, base0=None) -> _Newton:
    """:func:`_newton`, and where it stops short, again from its best iterate with the
    Levenberg–Marquardt shift (dense float64: the basis form solves the Newton systems undamped, which
    is fast and exact however many orders ``x`` spans, but lets the rounding of ``Ax − y`` steer the
    entries of ``x`` too small for the residual to resolve; the shift damps those)."""
    out = _newton(f, run, nu0, base0)
    ar = f.ar
    if out.x is None or ar.kind != "float64" or ar.op or run.damped:
        return out
    if out.status in _DONE and not (run.polish and out.status is Status.CONVERGED
                                    and out.res > ar.rounding_level(out.x)):
        return out
    o2 = _newton(f, replace(run, damped=True), out.nu, out.base)
    o2.it += out.it
    return o2 if (o2.x is not None and (o2.status in _DONE or o2.res <= out.res)) else replace(out, it=o2.it)


def _expired(deadline) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _newton(f: _Dual, run: _Run, nu0=None, base0=None) -> _Newton:
    """One damped Newton run from ``nu0`` (or 0), with its base ``base0`` when given (see the module
    doc: the base, not ``ν``, is the accurate state).  The iterate returned is the best one seen
    (smallest residual), and ``status`` is CONVERGED only when its residual is at most ``tol_accept``.

    ``run.polish``: do not stop at ``tol_tight`` but at the rounding level of ``Ax − y`` or when the
    residual stops halving (the limit solver asks for it where ``Σ x^{2/L}`` is evaluated for its answer)."""
    ar, L = f.ar, f.L
    M = ar.M
    nu = ar.zeros(M) if nu0 is None else ar.vec(nu0)
    base = f.base(nu) if base0 is None else base0
    if not ar.finite(base):
        return _Newton(ar.zeros(M), None, None, None, math.inf, 0, Status.FAILED,
                       "β^{(2−L)/L} or Aᵀν overflows at the starting point")
    pt = f.point(base)
    if pt is None:
        return _Newton(ar.zeros(M), None, None, None, math.inf, 0, Status.FAILED,
                       "the warm-start dual point is outside the domain (a base β^{(2−L)/L} − (L−2)Aᵀν "
                       "is not positive); a cold start (ν = 0) is inside it")
    x, logx, logD, S2 = pt
    y = ar.y
    ny = ar.norm(y)
    tol_tight = 0 if run.polish else run.tol_tight
    cap = _LOG_GROWTH_CAP
    best = math.inf
    keep = None  # (res, nu, x, logx, base) of the best iterate
    stall = 0
    it = 0
    status, message = Status.NOT_CONVERGED, ""
    floor_exit = False  # stopped because the precision cannot make progress (not for lack of iterations)
    digits = ar.digits
    use_shift = run.damped or not (ar.kind == "float64" and not ar.op)  # the basis form: undamped first

    def noise_floor(logD):
        # for L > 2, θ = ∇F(β) + Aᵀν holds |∇F(β)| ~ β^{(2−L)/L}/(L−2): the working precision resolves θ
        # only to eps·|θ_i|, i.e. x_i to D_i·eps·|θ_i|, and Ax − y to about ‖A‖·max_i D_i eps |θ_i|
        if L == 2 or logD is None:
            return 0.0
        v = float(ar.vmax(logD + ar.log(f.c)))
        if not v < 700:
            return 0.0
        fl = 10 * float(ar.eps) * float(ar.norm2()) * math.exp(v) / (L - 2)
        return fl if math.isfinite(fl) else 0.0

    for it in range(1, int(run.max_iter) + 1):
        g = ar.Ax(x) - y
        res = ar.norm(g)
        if not math.isfinite(float(res)):
            status, message = Status.FAILED, f"the residual became non-finite at Newton step {it}"
            break
        if keep is None or res < keep[0]:
            keep = (res, nu, x, logx, base)
        if res <= tol_tight:
            status = Status.CONVERGED
            break
        if run.polish and res <= run.tol_accept and res <= ar.rounding_level(x):
            status = Status.CONVERGED
            break
        if _expired(run.deadline):
            status = Status.TIME_LIMIT
            break
        if res < best / 2:
            best, stall = res, 0
        else:
            stall += 1
            if stall >= 4 and keep[0] <= run.tol_accept:
                status = Status.CONVERGED
                break
            if stall >= 4:
                fr = ar.rounding_level(keep[2])  # at the best iterate (the current one may be far off)
                if best <= fr:
                    status = Status.NOISE_FLOOR
                    message = f"the rounding level {float(fr):.2g} for ‖Ax − y‖ reached at {digits} digits"
                    break
                if not use_shift and best <= _STALL_HANDOVER_REL * ny:
                    # above the rounding level, the undamped basis form has stopped halving the residual
                    # in its local regime (the rounding of Ax − y steers the tiny x_i): hand over to the
                    # damped run of _newton2 now rather than spend the budget.  Far from the solution (a
                    # huge β: residuals of 1e42 that shrink by less than half a step) the undamped
                    # iteration keeps going as before.
                    message = "the undamped Newton iteration stalled"
                    break
                fl = noise_floor(logD) if use_shift else 0.0  # undamped: the damped retry decides
                # a noise floor only where the residual is small in ‖y‖'s units: within
                # tol(digits, K_ACCUMULATED) of ‖y‖ (k = K_ACCUMULATED: rounding accumulated over steps)
                if best <= min(fl, _tol(digits, K_ACCUMULATED) * max(float(ny), 1.0)):
                    status = Status.NOISE_FLOOR
                    message = (f"the noise floor {fl:.2g} for β^{{(2−L)/L}} up to "
                               f"{float(ar.vmax(f.c)):.2g} reached at {digits} digits")
                    break
        # Newton step κ·δ with δ = −(A diag(D/e^m) Aᵀ)^{-1} g, κ = e^{−m}: scaled so that the Hessian
        # stays representable when every x_i is below the range (the far phase, where the growth cap
        # decides the step length anyway); the Levenberg–Marquardt shift matters only in directions
        # where the Hessian is singular at working precision (tiny x_i that must grow by many orders)
        m = ar.vmax(logD)
        if not math.isfinite(float(m)):
            m = ar.num(0)
        solve = ar.hessian_solver(ar.exp(logD - m), shift=use_shift, logw=logD - m)
        delta = -solve(g)
        if not ar.finite(delta) and _expired(run.deadline):
            status = Status.TIME_LIMIT
            break
        if not ar.finite(delta):
            floor_exit = True
            message = f"the Newton system could not be solved at {digits} digits"
            if getattr(ar, "cg_failures", 0):
                message += f" (CG did not converge: {ar.cg_failures} failed solve(s))"
            break
        kappa = ar.exp(-m) if float(m) > -700 or ar.kind == "mp" else ar.num(math.exp(700.0))
        slope = ar.dot(g, delta)
        atd = ar.ATv(delta)
        dy = ar.dot(delta, y)
        # Farkas certificate Aᵀd ≤ 0 < ⟨d, y⟩, with ⟨d, y⟩ clear of roundoff (y on the boundary
        # of the cone {Az : z ≥ 0} gives ⟨d, y⟩ = 0 exactly, and rounding must not flip it)
        if dy > 10.0 ** (-digits + K_SOLVE) * ar.norm(delta) * ny and ar.vmax(atd) <= 0 \
                and _confirm_infeasible(run):
            return _Newton(nu, x, logx, base, res, it, Status.INCONSISTENT,
                           "Az = y has no nonnegative solution: a Farkas certificate d with Aᵀd ≤ 0 < ⟨d, y⟩ "
                           "was found (the dual is unbounded)")
        if not slope < 0:
            floor_exit = True
            message = f"the Newton direction is not a descent direction at {digits} digits"
            break
        db = 2 * atd if L == 2 else -(L - 2) * atd
        tmax = f.max_step(logx, delta, cap)
        t = kappa if tmax == math.inf else min(kappa, tmax)
        accepted = False
        S2sum = ar.sum(S2)
        fuzz = ar.psi_fuzz * (S2sum + 1)
        for _ in range(ar.halvings):
            if _expired(run.deadline):
                break
            trial = base + t * db
            pt = f.point(trial)
            if pt is not None:
                diff = ar.sum(pt[3] - S2) - t * dy  # ψ(trial) − ψ(current), without cancellation
                if diff <= _ARMIJO * t * slope + fuzz:
                    accepted = True
                    break
                # near the optimum ψ's decrease (~ slope) can fall below the resolution of ψ while the
                # residual is still far above its rounding level (tiny x_i that are wrong by orders of
                # magnitude, on a degenerate vertex): then the gradient norm ‖Ax − y‖ is the merit
                # function (it too must decrease by an Armijo fraction)
                if abs(diff) <= 10 * fuzz and abs(slope) <= 10 * fuzz and \
                        ar.norm(ar.Ax(pt[0]) - y) <= (1 - _ARMIJO * t) * res:
                    accepted = True
                    break
            t = t / 2
        if not accepted:
            if _expired(run.deadline):
                status = Status.TIME_LIMIT
                break
            floor_exit = True
            message = f"the line search failed at {digits} digits"
            break
        # the growth cap adapts: doubled after a capped step was accepted whole, reset otherwise
        cap = min(cap * 2, 64 * _LOG_GROWTH_CAP) if (t == tmax and tmax < kappa) else _LOG_GROWTH_CAP
        nu = nu + t * delta
        base = trial
        x, logx, logD, S2 = pt
    else:
        res = ar.norm(ar.Ax(x) - y)
        if math.isfinite(float(res)) and (keep is None or res < keep[0]):
            keep = (res, nu, x, logx, base)
    if keep is None:
        return _Newton(nu, None, None, None, math.inf, it, Status.FAILED, message or "no finite iterate")
    res, nu, x, logx, base = keep
    if status is not Status.INCONSISTENT and res <= run.tol_accept:
        status = Status.CONVERGED
    elif status is Status.CONVERGED:  # never above the tolerance
        status = Status.NOT_CONVERGED
    elif floor_exit and status is Status.NOT_CONVERGED and not res > 10 * ny:
        # the precision stopped the iteration (a residual above 10‖y‖, worse than x = 0, is no floor:
        # the start was too far, and path-following may still reach the point)
        status = Status.NOISE_FLOOR
    return _Newton(nu, x, logx, base, res, it, status, message)


# -------------------------------------------------------------------------------------------
# predictors and path-following
# -------------------------------------------------------------------------------------------
def tangent_dtheta(ar, D, dF, solve=None):
    """``(dθ, dν, ρ)`` with ``dθ = dF + Aᵀdν`` and ``A D dθ = 0`` (``D = dx/dθ``): the first-order change of
    ``θ = ∇F(x)`` when ``∇F(β)`` moves by ``dF`` and ``Ax = y`` is kept.

    Written in a basis ``S`` (the ``M`` largest ``D_i``, dense float64 ``A`` with ``A_S`` well
    conditioned): with ``z = A_S^{-T} dF_S`` and ``ρ = dF_{S^c} − A_{S^c}ᵀ z`` (no cancellation: the
    reduced costs), ``u = H⁻¹(−A_{S^c} D_{S^c} ρ)``, ``dθ_S = A_Sᵀ u``, ``dθ_{S^c} = ρ + A_{S^c}ᵀ u``,
    ``dν = u − z``; ``ρ`` is returned as an ``n``-vector (zero on ``S``; ``None`` when the plain form was
    used) for error estimates.  The plain form ``dθ = dF + Aᵀ(−H⁻¹ A D dF)`` subtracts numbers of size ``|dF|``
    where ``dθ`` is tiny (the support, at tiny ``β`` for ``L > 2``) and keeps no digit there.  ``solve``:
    ``H⁻¹`` for ``H = A D Aᵀ`` (built here when None).  Matrix-free or at dps: the plain form."""
    M, n = ar.M, ar.n
    if solve is None:
        s = float(ar.vmax(D)) if ar.kind == "float64" else ar.vmax(D)
        if not s > 0:
            return None
        solve0 = ar.hessian_solver(D / s, shift=ar.kind != "float64")

        def solve(g):
            return solve0(g / s)
    if ar.kind == "float64" and not ar.op and M < n:
        A = ar.A
        S = np.argpartition(-D, M - 1)[:M] if M < n else np.arange(n)
        mask = np.zeros(n, dtype=bool)
        mask[S] = True
        Sc = np.flatnonzero(~mask)
        AS = A[:, S]
        try:
            lu = scipy.linalg.lu_factor(AS, check_finite=False)
            piv = np.abs(np.diag(lu[0]))
            ok = piv.size and piv.min() > _PIVOT_RATIO * piv.max()
        except (ValueError, np.linalg.LinAlgError):
            ok = False
        if ok:
            z = scipy.linalg.lu_solve(lu, dF[S], trans=1, check_finite=False)
            ASc = A[:, Sc]
            rho = dF[Sc] - ASc.T @ z
            u = solve(-(ASc @ (D[Sc] * rho)))
            dth = np.empty(n)
            dth[S] = AS.T @ u
            dth[Sc] = rho + ASc.T @ u
            if np.all(np.isfinite(dth)):
                rfull = np.zeros(n)
                rfull[Sc] = rho
                return dth, u - z, rfull
    dnu = solve(-ar.Ax(D * dF))
    return dF + ar.ATv(dnu), dnu, None


@dataclass
class _Solved:
    """A solved projection as a reference for predictors: ``log β``, ``ν``, the base."""

    logb: Vector
    nu: Vector
    base: Vector


def _predict(ar, L, ref: _Solved, logb_new):
    """The tangent predictor ``(ν, base)`` at ``log β_new`` from a solved reference, or None."""
    try:
        f = _Dual(ar, ref.logb, L)
        pt = f.point(ref.base)
        if pt is None:
            return None
        logD = pt[2]
        m = ar.vmax(logD)
        D = ar.exp(logD - m)  # D/e^m: the scale cancels in dθ
        # dF = ∇F(β_new) − ∇F(β_ref) = log_L(β_new^{1/L}) − log_L(β_ref^{1/L}), without cancellation:
        # the log-form invariant of numerics._formulas (numerics._derived.h_log), log w = log β / L
        dF = _formulas.invariant_h(logb_new / L, ref.logb / L, 0, L)
        if not (ar.finite(dF) and ar.finite(D)):
            return None
        out = tangent_dtheta(ar, D, dF)
        if out is None:
            return None
        dth, dnu, _ = out
        nu = ref.nu + dnu
        base = ref.base + (2 * dth if L == 2 else (2 - L) * dth)
        if not (ar.finite(nu) and ar.finite(base)):
            return None
        return nu, base
    except (ValueError, FloatingPointError, np.linalg.LinAlgError, ZeroDivisionError):  # pragma: no cover
        return None


def _tangent_start(A, L, logb_ref, nu_ref, logb_new, log_x_ref=None):
    """The tangent predictor's dual point ``ν`` at ``log β_new`` from a solved ``(log β_ref, ν_ref)``
    (float64, dense ``A``), or None."""
    A = np.asarray(A, dtype=float)
    ar = _Float64(A, np.zeros(A.shape[0]))
    p = _predict(ar, L, _as_ref((logb_ref, nu_ref, log_x_ref), L, ar), ar.vec(logb_new))
    return None if p is None else p[0]


_DONE = (Status.CONVERGED, Status.INCONSISTENT, Status.TIME_LIMIT, Status.NOISE_FLOOR)


def _follow(ar, y, logb, L, run: _Run, nu0=None, ref: Optional[_Solved] = None) -> _Newton:
    """Newton from the predictor off ``ref`` (when given), else from ``nu0`` (or 0); when that fails,
    path-following in ``log β_τ = log β₀ + τ (log β − log β₀)`` from the reference (or from ``β₀ = 1``,
    an easy, well-scaled projection), each point warm-started from the tangent predictor (secant as
    a second try), adapting the step in ``τ``."""
    f = _Dual(ar, logb, L)
    total = 0
    out = None
    if ref is not None:
        p = _predict(ar, L, ref, logb)
        if p is not None:
            out = _newton2(f, replace(run, max_iter=min(run.max_iter, 30)), p[0], p[1])
            total += out.it
            if out.status in _DONE:
                out.it = total
                return out
    if out is None or ref is None or (nu0 is not None and not np.array_equal(
            np.asarray(nu0, dtype=object), np.asarray(ref.nu, dtype=object))):
        o2 = _newton2(f, replace(run, max_iter=min(run.max_iter, 60)), nu0)
        total += o2.it
        if out is None or o2.status in _DONE or (o2.x is not None and (out.x is None or o2.res < out.res)):
            out = o2
        if out.status in _DONE:
            out.it = total
            return out
    tau, dtau = 0.0, 1.0
    if ref is not None:
        cur = ref
        logb0 = ref.logb
        origin = "the reference β"
    else:
        logb0 = logb * 0
        first = _newton2(_Dual(ar, logb0, L), replace(run, max_iter=60, polish=False))
        total += first.it
        if first.status is not Status.CONVERGED:
            first.it = total
            if first.status in (Status.INCONSISTENT, Status.TIME_LIMIT):
                return first
            out.it = total
            return out
        cur = _Solved(logb0, first.nu, first.base)
        origin = "β = 1"
    steps = 0
    prev = None  # the previous point on the path, for the secant predictor
    inner = replace(run, max_iter=30, polish=False)
    while tau < 1.0 and total < 20 * run.max_iter and steps < 400:
        steps += 1
        tn = min(1.0, tau + dtau)
        logb_t = logb0 + tn * (logb - logb0)
        ft = _Dual(ar, logb_t, L)
        starts = []
        p = _predict(ar, L, cur, logb_t)
        if p is not None and ft.point(p[1]) is not None:
            starts.append(p)
        elif p is not None and L > 2 and tn - tau > 1e-6:
            # the tangent leaves the domain (a base turns negative): the step in τ is too long for it,
            # and the other starts are worse there -- shorten the step without spending Newton steps
            dtau = (tn - tau) / 4
            continue
        if prev is not None:
            c = (tn - tau) / (tau - prev[0])
            starts.append((cur.nu + c * (cur.nu - prev[1].nu), None))
        starts.append((cur.nu, None))
        o = None
        for s_nu, s_base in starts:
            o = _newton2(ft, inner, s_nu, s_base)
            total += o.it
            if o.status in _DONE:
                break
        if o.status in (Status.CONVERGED, Status.NOISE_FLOOR):  # intermediate points are warm starts only
            prev = (tau, cur)
            tau, cur = tn, _Solved(logb_t, o.nu, o.base)
            if o.it <= 8:
                dtau *= 2
        elif o.status in (Status.INCONSISTENT, Status.TIME_LIMIT):
            o.it = total
            if o.status is Status.TIME_LIMIT:
                o.message = f"path-following from {origin} had reached τ = {tau:.3g}"
            return o
        else:
            dtau /= 4
            if dtau < 1e-8:
                break
    if tau >= 1.0:
        last = _newton2(f, run, cur.nu, cur.base)
        last.it += total
        if last.status in (Status.CONVERGED, Status.NOISE_FLOOR):
            last.message = (last.message + "; " if last.message else "") + \
                f"reached by path-following from {origin} ({steps} steps)"
        return last
    out.it = total
    out.message = f"path-following from {origin} stalled at τ = {tau:.3g}"
    return out


# -------------------------------------------------------------------------------------------
# feasibility
# -------------------------------------------------------------------------------------------
def _feasible_lp(A, y, time_left=None) -> Optional[bool]:
    """HiGHS feasibility of ``{z ≥ 0 : Az = y}`` (None when HiGHS cannot tell).

    Solved on a copy with rows, columns and ``y`` scaled to unit max-norm (the same feasibility,
    up to a positive diagonal change of variables), so badly scaled data do not read as infeasible; only
    HiGHS's "infeasible" status counts as infeasible."""
    from scipy.optimize import linprog

    if time_left is not None and time_left <= 0:
        return None
    n = A.shape[1]
    rs = np.max(np.abs(A), axis=1)
    rs[rs == 0] = 1.0
    As, ys = A / rs[:, None], y / rs
    cs = np.max(np.abs(As), axis=0)
    cs[cs == 0] = 1.0
    As = As / cs[None, :]
    ym = float(np.max(np.abs(ys))) if ys.size else 0.0
    if ym > 0:
        ys = ys / ym  # z ↦ z/ym: the same feasibility
    opts = {} if time_left is None else {"time_limit": float(time_left)}
    try:
        r = linprog(np.zeros(n), A_eq=As, b_eq=ys, bounds=(0, None), method="highs", options=opts)
    except ValueError:  # pragma: no cover - scipy rejects the model
        return None
    if r.status == 0:
        return True
    if r.status == 2 and "infeasib" in str(r.message).lower():  # a HiGHS model error is not infeasibility
        return False
    return None


def _confirm_infeasible(run: _Run) -> bool:
    """A Farkas candidate (``Aᵀd ≤ 0 < ⟨d, y⟩`` from the Newton direction) is rounding-sensitive when
    ``y`` lies on the boundary of the cone ``A·R₊ⁿ`` (feasible, with ``⟨d, y⟩ = 0`` in exact
    arithmetic): it counts only unless HiGHS finds a feasible point (matrix-free: the certificate alone)."""
    if run.A64 is None:
        return True
    left = None if run.deadline is None else run.deadline - time.perf_counter()
    return _feasible_lp(run.A64, run.y64, left) is not True


_STALL_HANDOVER_REL = 1e-6
""":func:`_newton`: the undamped iteration hands a stall over to the damped one only once its best
residual is below this fraction of ``‖y‖`` (Newton's local regime, where four steps that do not
halve the residual mean rounding, not distance)."""


def _res_scale(y) -> float:
    """What ``tol`` is relative to: ``‖y‖`` (absolute when ``y = 0``), so that the accepted
    residual scales with the data (``A`` and ``y`` scaled together give the same verdict)."""
    ny = float(np.linalg.norm(np.asarray([float(v) for v in y]) if isinstance(y, np.ndarray) and y.dtype == object
                              else np.asarray(y, dtype=float)))
    return ny if ny > 0 else 1.0


# -------------------------------------------------------------------------------------------
# input checks
# -------------------------------------------------------------------------------------------
def _check_inputs(A, y, L, dps):
    if is_operator(A):
        if A.dtype != np.float64:
            raise ValueError(f"a matrix-free A must be a float64 LinearOperator, got dtype {A.dtype}")
        if dps is not None:
            raise ValueError("a matrix-free A (LinearOperator) is float64 only: pass a dense A with dps=")
    else:
        A = np.asarray(A, dtype=float)
        if A.ndim != 2:
            raise ValueError(f"A must be a 2-D matrix, got shape {A.shape}")
        if not np.all(np.isfinite(A)):
            raise ValueError("A and y must be finite")
    if isinstance(y, np.ndarray) and y.dtype == object:
        if dps is None:
            y = np.array([float(v) for v in y], dtype=float)
        elif not all(mpmath.isfinite(mpmath.mpf(v)) for v in y):
            raise ValueError("A and y must be finite")
    else:
        y = np.asarray(y, dtype=float).reshape(-1)
        if not np.all(np.isfinite(y)):
            raise ValueError("A and y must be finite")
    if A.shape[0] != y.shape[0]:
        raise ValueError(f"A has {A.shape[0]} rows but y has {y.shape[0]} entries; they must match")
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2:
        raise ValueError(f"L must be an integer >= 2, got {L!r}")
    return A, y, int(L)


def _log_beta_from(beta, n, dps):
    """``log β`` as float64 array (dps None) or mpf object array; checks positivity and length."""
    if dps is None:
        if isinstance(beta, (list, tuple, np.ndarray)) and len(beta) and isinstance(
                (beta.reshape(-1)[0] if isinstance(beta, np.ndarray) else beta[0]), mpmath.mpf):
            vals = list(beta.reshape(-1)) if isinstance(beta, np.ndarray) else list(beta)
            logb = np.array([float(mpmath.log(b)) if b > 0 else np.nan for b in vals])
            bad = not np.all(np.isfinite(logb))
        else:
            b = np.asarray(beta, dtype=float).reshape(-1)
            if b.shape != (n,):
                raise ValueError(f"beta must have n = {n} entries (one per column of A), got {b.shape}")
            bad = not (np.all(np.isfinite(b)) and np.all(b > 0))
            logb = np.log(b) if not bad else None
        if bad:
            raise ValueError("beta must be finite and strictly positive (float64 underflow? pass mpf values with dps=)")
        if len(logb) != n:
            raise ValueError(f"beta must have n = {n} entries, got {len(logb)}")
        return logb
    vals = list(beta) if not isinstance(beta, np.ndarray) else list(beta.reshape(-1))
    if len(vals) != n:
        raise ValueError(f"beta must have n = {n} entries (one per column of A), got {len(vals)}")
    out = []
    for b in vals:
        b = mpmath.mpf(b)
        if not (mpmath.isfinite(b) and b > 0):
            raise ValueError("beta must be finite and strictly positive")
        out.append(mpmath.log(b))
    return mp_array(out)


def _as_ref(path_from, L, ar):
    """``path_from = (log β_ref, ν_ref[, log x_ref])`` as a :class:`_Solved` (the base from ``log x`` when
    given: exact to rounding, unlike the base recomputed from ``ν``)."""
    if path_from is None:
        return None
    logb = ar.vec(path_from[0])
    nu = ar.vec(path_from[1])
    if len(path_from) > 2 and path_from[2] is not None:
        logx = ar.vec(path_from[2])
        base = logx if L == 2 else ar.exp((ar.num(2 - L) / L) * logx)
    else:
        base = _Dual(ar, logb, L).base(nu)
    return _Solved(logb, nu, base)


_EXP_MAX = math.log(np.finfo(float).max)  # 709.78: exp beyond it overflows float64
BASE_OVERFLOW = "beyond float64's range"
"""In the message of a float64 projection that :func:`_base_overflow` refused (the float64 limit solver
then encloses the root at an LP vertex where it can, numerics._limit)."""


def _base_overflow(logb, L) -> Optional[float]:
    """``max log β^{(2−L)/L}`` when it exceeds float64's range (``L > 2``), else None.  The float64 dual
    carries ``β^{(2−L)/L}`` itself (the base ``β^{(2−L)/L} − (L−2)Aᵀν`` and its predictor): beyond
    ``e^{709.78}`` it is ``inf`` and no float64 Newton step or path-following can reach the point
    (measured: 10–33 s of path-following before failing at ``N = 1000``, ``M = 150``), so the
    projection says so at once."""
    if L == 2:
        return None
    v = float(np.max((2 - L) / L * np.asarray(logb, dtype=float))) if len(logb) else -math.inf
    return v if v >= _EXP_MAX else None


def bregman_projection(A, y, beta=None, L: int = 2, *, log_beta=None, dps: Optional[int] = None,
                       tol: Optional[float] = None, nu0=None, time_limit: Optional[float] = None,
                       max_iter: int = 200, polish: bool = False, operator=None,
                       path_from=None) -> ProjectionResult:
    """Bregman projection of ``beta`` onto ``{z ≥ 0 : Az = y}`` for the potential ``F_L``.

    ``A`` (``M × n``, full row rank): float64 data, or a float64 ``scipy.sparse.linalg.LinearOperator``
    (matrix-free: the Newton systems are solved by conjugate gradients; float64 only), also accepted
    as ``operator=`` (then ``A`` may be None).  ``y`` (length ``M``): float64 data; with ``dps`` also a
    ``dtype=object`` mpf array, taken exactly.  ``beta``: positive weights (float64 array; or mpf values
    when ``dps`` is set).  Alternatively pass ``log_beta`` (then ``beta`` may be ``None``): this is how
    callers hand over ``β`` far below float64's range.  ``path_from``: optional
    ``(log_beta_ref, nu_ref[, log_x_ref])`` of a solved projection to predict from (and path-follow from
    when Newton fails; default: from ``β = 1``).  ``dps``: work in mpmath at that many digits (plus guard
    digits).  ``tol``: accepted ``‖Ax − y‖`` relative to ``‖y‖`` (absolute when ``y = 0``), so the
    verdict does not change when ``A`` and ``y`` are scaled together; default ``tol(dps, K_SOLVE)``;
    ``result.tol`` is the absolute bound used.  ``nu0``: a starting dual point (warm start).
    ``time_limit``: wall-clock seconds; when they run out the best iterate so far is returned with
    status TIME_LIMIT (or CONVERGED if it is already within ``tol``).  ``polish`` (float64): iterate on
    to the rounding level of ``Ax − y`` rather than stopping at ``tol(15, K_ROUNDOFF)·‖y‖``.

    Statuses (docs/math.md §4): CONVERGED only with ``residual ≤ tol``; NOISE_FLOOR when the working
    precision cannot reduce the residual further while it is still above ``tol`` (the reached
    residual is ``result.residual`` and in the message; more digits, ``dps=``, help);
    NOT_CONVERGED when the iteration budget ran out; INCONSISTENT when no nonnegative solution
    exists; FAILED on a non-finite value.

    >>> import numpy as np
    >>> r = bregman_projection(np.array([[1.0, 1.0]]), np.array([1.0]), np.array([1.0, 1.0]), 2)
    >>> r.status.value, [round(float(v), 12) for v in r.x]
    ('converged', [0.5, 0.5])
    """
    t_start = time.perf_counter()
    if A is None and operator is not None:
        A = operator
    if dps is not None:
        dps = check_dps(dps)
    A, y, L = _check_inputs(A, y, L, dps)
    M, n = A.shape
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0 \
                or math.isnan(time_limit):
            raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    deadline = None if time_limit is None or math.isinf(time_limit) else t_start + float(time_limit)
    scale = _res_scale(y)
    digits = DPS_FLOAT64 if dps is None else dps
    if tol is None:
        tol = _tol(digits, K_SOLVE)
    elif isinstance(tol, bool) or not (isinstance(tol, (float, int)) and tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    tol_accept = float(tol) * scale
    dense = None if is_operator(A) else A
    y64 = y if dps is None else np.array([float(v) for v in y])
    ctx = _Ctx(A=dense, y=y64, max_iter=max_iter, tol_accept=tol_accept, deadline=deadline, time_limit=time_limit)

    if dps is None:
        ar = _Float64(A, y)
        ar.deadline = deadline
        if log_beta is not None:
            logb = np.asarray([float(v) for v in (log_beta.reshape(-1) if isinstance(log_beta, np.ndarray)
                                                  else log_beta)], dtype=float)
            if logb.shape != (n,) or not np.all(np.isfinite(logb)):
                raise ValueError(f"log_beta must hold n = {n} finite numbers")
        else:
            logb = _log_beta_from(beta, n, None)
        if nu0 is not None:
            nu0 = ar.vec(nu0)
            if nu0.shape != (M,):
                raise ValueError(f"nu0 must have M = {M} entries, got {nu0.shape}")
        run = _Run(tol_accept, min(_tol(DPS_FLOAT64, K_ROUNDOFF) * scale, tol_accept), max_iter, deadline,
                   bool(polish), dense, y64)
        big = _base_overflow(logb, L)
        if big is not None:
            return ProjectionResult(x=None, nu=None, status=Status.FAILED, message=(
                f"β^{{(2−L)/L}} reaches e^{big:.6g}, {BASE_OVERFLOW} (e^709.78): the float64 dual "
                "cannot represent this β; pass dps= (a high-precision solve)"), iterations=0,
                residual=math.inf, dps=None, L=L, tol=tol_accept, wall_time=time.perf_counter() - t_start,
                linear_solver=ar.solver)
        with _single_thread_blas():
            out = _follow(ar, y, logb, L, run, nu0, _as_ref(path_from, L, ar))
        status, message = _final_status(out, ctx, _cancellation_hint(logb, L, DPS_FLOAT64), "")
        return ProjectionResult(x=out.x, nu=out.nu, status=status, message=message, iterations=out.it,
                                residual=float(out.res), dps=None, L=L, tol=tol_accept, log_x=out.logx,
                                wall_time=time.perf_counter() - t_start, linear_solver=ar.solver,
                                cg_iterations=ar.cg_iterations, cg_failures=ar.cg_failures)

    wd = dps + GUARD_DIGITS
    with workdps(dps):
        if log_beta is not None:
            if len(log_beta) != n:
                raise ValueError(f"log_beta must hold n = {n} numbers")
            logb = mp_array(log_beta)
        else:
            logb = _log_beta_from(beta, n, dps)
        it64 = 0
        if nu0 is None:
            logb64 = np.array([float(v) for v in logb])
            ref64 = None if path_from is None else _as_ref(path_from, L, _Float64(A, y64))
            if _base_overflow(logb64, L) is None:
                pre = _follow(_Float64(A, y64), y64, logb64, L,
                              _Run(_tol(DPS_FLOAT64, K_SOLVE) * scale, _tol(DPS_FLOAT64, K_ROUNDOFF) * scale,
                                   max_iter, deadline, False, A, y64), None, ref64)
            else:  # the float64 start cannot represent β (see _base_overflow): start from ν = 0
                pre = _Newton(np.zeros(M), None, None, None, math.inf, 0, Status.FAILED, "")
            it64 = pre.it
            if pre.status is Status.INCONSISTENT:
                return ProjectionResult(x=None, nu=mp_array(pre.nu), status=Status.INCONSISTENT,
                                        message=pre.message, iterations=it64, residual=float(pre.res),
                                        dps=dps, L=L, tol=tol_accept, wall_time=time.perf_counter() - t_start,
                                        float64_iterations=it64, linear_solver="flint")
            start = pre.nu if pre.x is not None and np.all(np.isfinite(pre.nu)) else np.zeros(M)
            nu = mp_array(start)
        else:
            if len(nu0) != M:
                raise ValueError(f"nu0 must have M = {M} entries, got {len(nu0)}")
            nu = mp_array(nu0)
        ar = _MP(A, y, wd)
        tol_tight = min(mpmath.mpf(10) ** (-wd + K_ROUNDOFF) * scale, mpmath.mpf(tol_accept))
        run = _Run(mpmath.mpf(tol_accept), tol_tight, max_iter, deadline, False, A, y64)
        f = _Dual(ar, logb, L)
        out = _newton(f, run, nu)
        if out.x is None and any(v != 0 for v in nu) and out.status is not Status.TIME_LIMIT:
            o2 = _newton(f, run, None)
            o2.it += out.it
            out = o2
        if out.status in (Status.NOT_CONVERGED, Status.FAILED) and nu0 is None:
            o3 = _follow(ar, ar.y, logb, L, run, None, None)
            o3.it += out.it
            if o3.x is not None or out.x is None:
                out = o3
        status, message = _final_status(out, ctx, _cancellation_hint(logb, L, wd), f"{dps} digits")
        x = None if out.x is None else mp_array([+v for v in out.x])
        return ProjectionResult(x=x, nu=out.nu, status=status, message=message, iterations=out.it + it64,
                                residual=float(out.res), dps=dps, L=L, tol=tol_accept, log_x=out.logx,
                                wall_time=time.perf_counter() - t_start, float64_iterations=it64,
                                linear_solver="flint")


def dual_hessian_solver(D, A_rows_mp=None, A=None):
    """A function solving ``A diag(D) Aᵀ s = g`` (float64 ``A``; or, with ``A_rows_mp``, the mp rows at the
    current precision).  Internal helper."""
    if A_rows_mp is None:
        ar = _Float64(np.asarray(A, dtype=float), np.zeros(np.asarray(A).shape[0]))
        return ar.hessian_solver(np.asarray(D, dtype=float), shift=False)
    A64 = np.array([[float(v) for v in row] for row in A_rows_mp])
    ar = _MP(A64, np.zeros(A64.shape[0]), mpmath.mp.dps)
    return ar.hessian_solver(mp_array(D), shift=False)


@dataclass(frozen=True)
class _Ctx:
    A: Optional[np.ndarray]
    y: np.ndarray
    max_iter: int
    tol_accept: float
    deadline: Optional[float]
    time_limit: Optional[float]


def _cancellation_hint(logb, L, digits) -> str:
    """For L > 2 the dual cancels about log10 max β^{(2−L)/L} digits on the support."""
    if L == 2:
        return ""
    lmax = max(-float(v) for v in logb)
    lost = (L - 2) / L * lmax / math.log(10)
    if lost > digits - 5:
        return (f"; β^{{(2−L)/L}} reaches 1e{lost:.0f}, and the dual identity cancels that many digits on the "
                f"support: use dps > {int(lost) + 10}")
    return ""


def _final_status(out: _Newton, ctx: _Ctx, hint="", precision=""):
    status, message = out.status, out.message
    res = float(out.res)
    tol_accept, it = ctx.tol_accept, out.it
    at = precision or "float64"
    if status is Status.CONVERGED:
        return status, f"converged: ‖Ax − y‖ = {res:.3g} ≤ {tol_accept:.3g} after {it} Newton steps" + (
            f" ({message})" if message else "")
    if status is Status.INCONSISTENT:
        return status, message
    if status is Status.FAILED:
        return status, message + hint
    if status is Status.TIME_LIMIT:
        return status, (f"time_limit = {ctx.time_limit:g} s ran out after {it} Newton steps with "
                        f"‖Ax − y‖ = {res:.3g} > {tol_accept:.3g}" + (f" ({message})" if message else ""))
    if status is Status.NOISE_FLOOR:
        return status, (f"noise floor: ‖Ax − y‖ = {res:.3g} is the smallest residual reached at {at} "
                        f"(tolerance {tol_accept:.3g}; {message or 'no further progress'}); more digits "
                        f"(a higher precision) may reach the tolerance{hint}")
    feas = None
    if ctx.A is not None:
        left = None if ctx.deadline is None else ctx.deadline - time.perf_counter()
        feas = _feasible_lp(ctx.A, ctx.y, left)
    if feas is False:
        return Status.INCONSISTENT, ("Az = y has no nonnegative solution (HiGHS feasibility LP says infeasible); "
                                     "the Bregman projection does not exist")
    why = message or f"the iteration budget of {ctx.max_iter} Newton steps was spent"
    return Status.NOT_CONVERGED, (f"not converged: ‖Ax − y‖ = {res:.3g} > {tol_accept:.3g} ({why}); more "
                                  f"iterations, a warm start, more digits or a looser tolerance may help{hint}")
