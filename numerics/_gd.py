"""Discrete gradient descent, plain and weight-normalised, batched over ``B`` problems.

docs/math.md §2.4: plain GD ``w ← w − μ∇ℒ(w)``; WN-GD ``r ← r − μη_r ∂_rℒ̃``,
``u ← u − μη_u ∇_uℒ̃`` with the actual ``‖u_k‖`` (it grows by ``O(μ²)`` per step;
``renormalize=True`` rescales ``u`` to unit norm after each step instead).

All ``B`` runs advance in one array computation: per iteration one product ``A x`` and one
``Aᵀ res`` (``gemv`` for one run, ``gemm`` for a batch on a shared ``A``, a stacked matmul when
it is ``(B, M, n)``), plus ``O(Bn)`` elementwise work.  The iteration is fused: preallocated work
arrays updated in place, per-run scalars folded into length-``M`` vectors, ``σ`` taken as an inner
product of length ``M``, and the update written as one product ``u ⊙ (α + β …)`` (see
:func:`_wn_loop`); one run uses 1-D vectors and Python floats for its scalars.  A run that reaches
``loss ≤ loss_tol`` or diverges is frozen (its state stops changing) and, with
``stop_when_all_done``, the loop ends when every run is frozen.

``A`` is the *effective* matrix (``problem.A_eff`` for the signed model): an array, or a
matrix-free float64 ``scipy.sparse.linalg.LinearOperator`` shared by the batch (e.g.
:class:`numerics._operators.SubsampledDCT`, ``O(N log N)`` per product; the products then go
through its row-batched ``forward_rows``/``adjoint_rows``, or ``matvec``/``matmat`` and their
adjoints for a generic operator).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from numerics._problem import all_finite, is_operator
from numerics._status import Status

DIVERGENCE_FACTOR = 1e8
"""A run is diverged when its loss exceeds this multiple of its initial loss (or is not finite)."""


@dataclass(frozen=True)
class GDResult:
    """Outcome of a batch of ``B`` gradient-descent runs.

    ``loss[k, b]`` is the loss of run ``b`` *before* iteration ``iters[k]`` (so ``iters[0] = 0``
    is the initial loss; the last record is the final state).  ``hit_tol_at[b]`` is the first
    iteration index whose loss is ``≤ loss_tol`` (−1 if never).  ``status[b]`` is
    ``CONVERGED`` (hit the tolerance), ``DIVERGED`` (non-finite weights or loss, or loss grown
    beyond ``DIVERGENCE_FACTOR`` × the initial loss), ``NOT_CONVERGED`` (the step budget ran
    out) or ``TIME_LIMIT`` (the ``time_limit`` seconds ran out first).  ``r``/``u`` are nan for plain GD.  ``wall_time`` is the loop's wall-clock seconds.

    Shapes: ``w``, ``u``, ``x``: ``(B, n)`` (effective coordinates; ``problem.to_user(x)`` maps
    them); ``r``, ``mu``, ``hit_tol_at``: ``(B,)``; ``loss``: ``(K, B)``; ``iters``: ``(K,)``.
    """

    w: np.ndarray
    r: np.ndarray
    u: np.ndarray
    x: np.ndarray
    loss: np.ndarray
    iters: np.ndarray
    hit_tol_at: np.ndarray
    status: tuple[Status, ...]
    steps: int
    mu: np.ndarray
    wall_time: float

    @property
    def loss_final(self) -> np.ndarray:
        return self.loss[-1]

    @property
    def converged(self) -> np.ndarray:
        """``(B,)`` bool: which runs reached the loss tolerance."""
        return np.array([s is Status.CONVERGED for s in self.status], dtype=bool)


@dataclass(frozen=True)
class _Record:
    """What the bookkeeping hands to the result (internal)."""

    loss: np.ndarray
    iters: np.ndarray
    hit_tol_at: np.ndarray
    status: tuple
    steps: int
    wall_time: float


# -- input handling ---------------------------------------------------------------------


def _as_batch(A, y, named: dict, vectors: dict):
    """Validate and broadcast inputs; return (A, shared, y, B, n, scalars, vectors)."""
    op = is_operator(A)
    if op:
        if A.dtype != np.float64:
            raise ValueError(f"a LinearOperator A must be float64, got dtype {A.dtype}")
    else:
        A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(A.shape) not in (2, 3):
        raise ValueError(f"A must be (M, n) or (B, M, n), got shape {A.shape}")
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be (M,) or (B, M), got shape {y.shape}")
    M, n = A.shape[-2], A.shape[-1]
    if y.shape[-1] != M:
        raise ValueError(f"shape mismatch: A has M = {M} rows but y has {y.shape[-1]} entries")
    if not op and not all_finite(A):
        raise ValueError("A has non-finite entries")
    if not all_finite(y):
        raise ValueError("y has non-finite entries")
    sizes = []
    if not op and A.ndim == 3:
        sizes.append(A.shape[0])
    if y.ndim == 2:
        sizes.append(y.shape[0])
    sc = {}
    for name, v in named.items():
        a = np.asarray(v, dtype=float)
        if a.ndim > 1:
            raise ValueError(f"{name} must be a scalar or a (B,) array, got shape {a.shape}")
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"{name} must be finite and positive, got {v!r}")
        if a.ndim == 1:
            sizes.append(a.shape[0])
        sc[name] = a
    vec = {}
    for name, v in vectors.items():
        if v is None:
            vec[name] = None
            continue
        a = np.asarray(v, dtype=float)
        if a.ndim not in (1, 2) or a.shape[-1] != n:
            raise ValueError(f"{name} must be (n,) or (B, n) with n = {n}, got shape {a.shape}")
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"{name} must have finite positive entries")
        if a.ndim == 2:
            sizes.append(a.shape[0])
        vec[name] = a
    B = 1
    for s in sizes:
        if s != 1 and B != 1 and s != B:
            raise ValueError(f"batch sizes do not broadcast: {sizes}")
        B = max(B, s)
    sc = {k: np.broadcast_to(v, (B,)).astype(float).copy() for k, v in sc.items()}
    vec = {k: (None if v is None else np.broadcast_to(v, (B, n)).astype(float).copy()) for k, v in vec.items()}
    shared = op or A.ndim == 2
    if not shared and A.shape[0] != B:
        A = np.broadcast_to(A, (B, M, n))
    if y.ndim == 1:
        y = np.broadcast_to(y, (B, M))
    elif y.shape[0] != B:
        y = np.broadcast_to(y, (B, M))
    return A, shared, np.ascontiguousarray(y), B, n, sc, vec


def _check_L(L, B):
    La = np.asarray(L)
    if La.ndim > 1:
        raise ValueError("L must be an integer or a (B,) array of integers")
    Lf = np.asarray(La, dtype=float)
    if not np.all(np.isfinite(Lf)) or np.any(Lf != np.round(Lf)) or np.any(Lf < 2):
        raise ValueError(f"L must be an integer >= 2 (or an array of them), got {L!r}")
    return np.broadcast_to(Lf, (B,)).copy()


def _check_steps(steps, loss_tol, record_every):
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not np.isfinite(loss_tol) or loss_tol < 0:
        raise ValueError(f"loss_tol must be finite and >= 0, got {loss_tol!r}")
    if record_every is None:
        record_every = max(1, int(steps) // 1000)
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or record_every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every!r}")
    return int(steps), float(loss_tol), int(record_every)


class _Ops:
    """The two products of an iteration, written into preallocated arrays.

    A shared ``(M, n)`` matrix (or a ``(B, M, n)`` stack that is one matrix broadcast) is kept as
    the single C-contiguous array ``A``: ``A x`` and ``Aᵀ res`` both read it, so there is no second
    transposed copy competing for the cache (at ``N = 4000`` a copy doubled the time of the pair).
    One run (``B = 1``) works on 1-D vectors: two BLAS ``gemv`` calls.  A batch of runs on one
    matrix: two ``gemm`` calls; per-run matrices: a stacked ``matmul``.
    """

    def __init__(self, A, shared):
        self.op = is_operator(A)
        if self.op:  # matrix-free: its own (row-batched) products
            from numerics._operators import adjoint_rows, forward_rows

            self.shared, self.A = True, A
            self.forward_rows, self.adjoint_rows = forward_rows, adjoint_rows
            return
        if not shared and (A.shape[0] == 1 or A.strides[0] == 0):
            A, shared = A[0], True
        self.shared = shared
        self.A = np.ascontiguousarray(A)
        self.AT = self.A.T  # a view: the same memory

    def fwd(self, x, out):  # (n,) -> (M,) or (B, n) -> (B, M)
        if self.op:
            return self.forward_rows(self.A, x, out)
        if self.shared:
            if x.ndim == 1:
                return np.matmul(self.A, x, out=out)
            return np.matmul(x, self.AT, out=out)
        np.matmul(self.A, x[:, :, None], out=out[:, :, None])
        return out

    def adj(self, res, out):  # (M,) -> (n,) or (B, M) -> (B, n)
        if self.op:
            return self.adjoint_rows(self.A, res, out)
        if self.shared:
            return np.matmul(res, self.A, out=out)
        np.matmul(res[:, None, :], self.A, out=out[:, None, :])
        return out


def _power(w, Lc, Lint):
    return w ** Lint if Lint is not None else w ** Lc


def _check_time_limit(time_limit):
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    return float(time_limit)


_FLOAT_MAX = float(np.finfo(float).max)


class _Batch:
    """Per-run scalars and reductions for one run (Python floats, 1-D vectors) or for ``B > 1``
    runs (``(B, 1)`` columns that broadcast against ``(B, n)`` rows).  The iteration's arithmetic is
    written once against this; a single run then costs no small-array numpy calls for its scalars."""

    def __init__(self, B):
        self.B = B
        self.single = B == 1
        self.sqrt = math.sqrt if self.single else np.sqrt

    def col(self, v):
        """A ``(B,)`` array as the per-run scalar type."""
        v = np.asarray(v, dtype=float)
        return float(v[0]) if self.single else v.reshape(self.B, 1).copy()

    def vec(self, a):
        """A ``(B, n)`` array as the working vector type (a fresh C-contiguous copy)."""
        return np.array(a[0] if self.single else a, dtype=float, order="C")

    def dot(self, a, b):
        """Per-run ``⟨a, b⟩`` over the last axis."""
        if self.single:
            return float(np.dot(a, b))
        return np.einsum("bm,bm->b", a, b)[:, None]

    def flat(self, v):
        """A per-run scalar as a fresh ``(B,)`` array."""
        return np.full(1, v, dtype=float) if self.single else np.array(v, dtype=float).reshape(self.B)

    def rows(self, a):
        """A working vector as a fresh ``(B, n)`` array."""
        return np.array(a, dtype=float).reshape(self.B, -1)


class _Book:
    """The loop's bookkeeping: which runs hit the tolerance or diverged, what is recorded, when to
    stop.  :meth:`observe` is called once per iteration with the loss; its common case (every run
    still running, nothing to record, no deadline) is one comparison on ``B`` numbers."""

    def __init__(self, bt, steps, loss_tol, record_every, stop_when_all_done, time_limit):
        self.bt, self.steps, self.loss_tol = bt, steps, loss_tol
        self.record_every, self.stop_when_all_done = record_every, stop_when_all_done
        B = bt.B
        self.t0 = time.perf_counter()
        self.deadline = None if time_limit is None else self.t0 + time_limit
        self.out_of_time = False
        self.hit = np.full(B, -1, dtype=np.int64)
        self.diverged = np.zeros(B, dtype=bool)
        self.done = np.zeros(B, dtype=bool)
        self.any_done = False
        self.frozen = None  # (B, 1) bool where a run is frozen and others are not, else None
        self.all_done = False
        self.rec_loss, self.rec_it = [], []
        self.hi = None  # the divergence threshold per run (a loss above it, or nan, is diverged)
        self.single_quiet = False  # set after the first loss: the one-run case without a deadline

    def _live(self, loss):
        """Every run still running: ``loss_tol < loss ≤ hi`` (false for nan and inf)."""
        if self.bt.single:
            return self.loss_tol < loss <= self.hi
        return bool(np.all((loss > self.loss_tol) & (loss <= self.hi)))

    def observe(self, k, loss):
        """Account for the loss before iteration ``k``; return True when the loop must end."""
        if (self.single_quiet and self.loss_tol < loss <= self.hi and k < self.steps
                and k % self.record_every):
            return False  # one run, still running, nothing to record, no deadline
        if self.hi is None:
            lf = self.bt.flat(loss)
            hi = np.minimum(DIVERGENCE_FACTOR * np.maximum(lf, 1e-300), _FLOAT_MAX)
            self.hi = float(hi[0]) if self.bt.single else hi[:, None]
            self.single_quiet = self.bt.single and self.deadline is None
        if self.any_done or not self._live(loss):
            self._events(k, loss)
        if self.deadline is not None and not self.all_done and time.perf_counter() > self.deadline:
            self.out_of_time = True
        final = k >= self.steps or (self.stop_when_all_done and self.all_done) or self.out_of_time
        if k % self.record_every == 0 or final:
            self.rec_loss.append(self.bt.flat(loss))
            self.rec_it.append(k)
        return final

    def _events(self, k, loss):
        lf = self.bt.flat(loss)
        hi = self.bt.flat(self.hi)
        bad = ~np.isfinite(lf) | (lf > hi)
        newly_div = bad & ~self.diverged & (self.hit < 0)
        self.diverged |= newly_div
        newly_hit = (lf <= self.loss_tol) & (self.hit < 0) & ~self.diverged
        self.hit[newly_hit] = k
        self.done = self.diverged | (self.hit >= 0)
        self.any_done = bool(self.done.any())
        self.all_done = bool(self.done.all())
        self.frozen = self.done[:, None].copy() if self.any_done and not self.all_done else None

    def result(self, k):
        idle = Status.TIME_LIMIT if self.out_of_time else Status.NOT_CONVERGED
        status = tuple(
            Status.DIVERGED if self.diverged[b] else (Status.CONVERGED if self.hit[b] >= 0 else idle)
            for b in range(self.bt.B)
        )
        return _Record(loss=np.array(self.rec_loss), iters=np.array(self.rec_it, dtype=np.int64),
                       hit_tol_at=self.hit, status=status, steps=k, wall_time=time.perf_counter() - self.t0)


def _L_mode(Lv):
    """``(mode, L)``: 2 or 3 (the fused special cases), or 0 with ``L`` a ``(B, 1)`` column of
    exponents (any integers, also different per run)."""
    if np.all(Lv == Lv[0]):
        Li = int(Lv[0])
        return (Li if Li in (2, 3) else 0), Li
    return 0, Lv[:, None].copy()


def _pow_into(v, L, mode, out):
    """``out = v^L`` in place: two multiplies for ``L = 2, 3`` (``mode``), ``np.power`` otherwise."""
    if mode == 2:
        np.multiply(v, v, out=out)
    elif mode == 3:
        np.multiply(v, v, out=out)
        out *= v
    else:
        np.power(v, L, out=out)


def _gd_loop(ops, y, Lv, mu, w, book, bt):
    """Plain GD in place on ``w`` (docs/math.md §2.4): ``w ← w ⊙ (1 − μL w^{L−2} ⊙ Aᵀ(A w^L − y))``,
    which is ``w − μ L w^{L−1} ⊙ ∇`` written so that the update is two passes over ``w``.

    Per iteration: ``w^L`` (one pass for L = 2), ``A w^L``, the residual and its norm (length M),
    ``Aᵀ(−μL res)``, then ``g += 1``, ``w *= g``."""
    mode, L = _L_mode(Lv)
    z = np.empty_like(w)
    g = z  # one buffer: z = w^L is dead once A z is formed, before Aᵀres is written (a smaller working set)
    h = np.empty_like(w) if mode == 0 else None
    res = np.empty_like(y)
    scale = -mu * L  # per run
    k = 0
    while True:
        _pow_into(w, L, mode, z)
        ops.fwd(z, res)
        res -= y
        loss = 0.5 * bt.dot(res, res)
        if book.observe(k, loss):
            break
        k += 1
        if book.all_done:
            continue  # every run frozen: the state stays as it is
        res *= scale
        ops.adj(res, g)
        if mode == 3:
            g *= w
        elif mode == 0:
            g *= np.power(w, L - 2, out=h)
        g += 1.0
        if book.frozen is not None:
            np.copyto(g, 1.0, where=book.frozen)
        w *= g
    return k


def _wn_loop(ops, y, Lv, mu, er, eu, rates, renormalize, r, u, book, bt):
    """WN-GD in place on ``u`` (docs/math.md §2.4); returns ``(r, steps)``.

    With ``m = ‖u‖``, ``a = r/m`` (so ``w = a u``), ``z = u^L`` and ``res = a^L A z − y``:
    ``∇ℒ(w) = L a^{L−1} u^{L−1} ⊙ Aᵀres`` and ``σ = ⟨ū, ∇ℒ⟩ = L a^{L−1} ⟨A z, res⟩ / m`` — an
    inner product of length M, not n.  The step ``u − c(∇ℒ − ūσ)``, ``c = μη_u r/m``, is
    ``u ⊙ (α + β u^{L−2} ⊙ Aᵀres)`` with per-run scalars ``α = 1 + cσ/m``, ``β = −cLa^{L−1}``;
    ``β`` scales ``res`` before the adjoint product.  Per iteration at L = 2 that is four passes
    over ``n`` numbers (``u²``, ``g += α``, ``u *= g``, ``‖u‖²``) besides the two products."""
    mode, L = _L_mode(Lv)
    sqrt = bt.sqrt
    z = np.empty_like(u)
    g = z  # one buffer: z = u^L is dead once A z is formed, before Aᵀres is written (a smaller working set)
    h = np.empty_like(u) if mode == 0 else None
    if bt.single:  # A z and res as the rows of one array: ⟨A z, res⟩ and ⟨res, res⟩ in one gemv
        S = np.empty((2, y.shape[0]))
        Az, res = S[0], S[1]
    else:
        Az, res = np.empty_like(y), np.empty_like(y)
    m2 = bt.dot(u, u)
    k = 0
    while True:
        m = sqrt(m2)
        a = r / m
        _pow_into(u, L, mode, z)
        ops.fwd(z, Az)
        aL1 = a ** (L - 1)
        np.multiply(Az, aL1 * a, out=res)
        res -= y
        if bt.single:
            tau, rr = np.dot(S, res).tolist()
            loss = 0.5 * rr
        else:
            loss = 0.5 * bt.dot(res, res)
        if book.observe(k, loss):
            break
        k += 1
        if book.all_done:
            continue  # every run frozen: the state stays as it is
        if not bt.single:
            tau = bt.dot(Az, res)
        gl = L * aL1  # ∇ℒ = gl · u^{L−1} ⊙ Aᵀres
        sigma = gl * tau / m
        if rates == "r2":
            e_r, e_u = r * r, 1.0
        else:
            e_r, e_u = er, eu
        c = mu * e_u * r / m
        r_new = r - mu * e_r * sigma
        res *= -c * gl
        ops.adj(res, g)
        if mode == 3:
            g *= u
        elif mode == 0:
            g *= np.power(u, L - 2, out=h)
        g += 1.0 + c * sigma / m
        if book.frozen is not None:
            np.copyto(g, 1.0, where=book.frozen)
            r_new = np.where(book.frozen, r, r_new)
        u *= g
        r = r_new
        if renormalize:
            nrm = sqrt(bt.dot(u, u))
            if book.frozen is not None:
                nrm = np.where(book.frozen, 1.0, nrm)
            u /= nrm
        m2 = bt.dot(u, u)
    return r, k


def gd(A, y, *, L, w0, mu, steps, loss_tol=1e-12, record_every=None, stop_when_all_done=True,
       time_limit=None) -> GDResult:
    """Plain GD ``w ← w − μ L w^{L−1} ⊙ Aᵀ(A w^L − y)`` for a batch of runs.

    ``A``: ``(M, n)`` shared or ``(B, M, n)``; ``y``: ``(M,)`` or ``(B, M)``; ``L``, ``mu``:
    scalars or ``(B,)``; ``w0``: ``(n,)`` or ``(B, n)`` positive.  ``B`` is inferred by
    broadcasting.  Weights that leave the positive orthant are allowed (the iteration is
    well defined for integer ``L``); non-finite values mark the run diverged.  ``time_limit``:
    wall-clock seconds, after which the runs not yet done are ``Status.TIME_LIMIT``.
    """
    steps, loss_tol, record_every = _check_steps(steps, loss_tol, record_every)
    time_limit = _check_time_limit(time_limit)
    A, shared, y, B, n, sc, vec = _as_batch(A, y, {"mu": mu}, {"w0": w0})
    if vec["w0"] is None:
        raise ValueError("w0 is required")
    Lv = _check_L(L, B)
    mu_v = sc["mu"]
    bt = _Batch(B)
    w = bt.vec(vec["w0"])
    book = _Book(bt, steps, loss_tol, record_every, stop_when_all_done, time_limit)
    with np.errstate(over="ignore", invalid="ignore"):
        k = _gd_loop(_Ops(A, shared), bt.vec(y), Lv, bt.col(mu_v), w, book, bt)
        out = book.result(k)
        w = bt.rows(w)
        x = _power(w, Lv[:, None], None)
    nan = np.full(B, np.nan)
    return GDResult(
        w=w, r=nan, u=np.full((B, n), np.nan), x=x, loss=out.loss,
        iters=out.iters, hit_tol_at=out.hit_tol_at, status=out.status, steps=out.steps,
        mu=mu_v, wall_time=out.wall_time,
    )


def wn_gd(A, y, *, L, r0, eta_r, eta_u, mu, steps, u0=None, renormalize=False, loss_tol=1e-12,
          record_every=None, stop_when_all_done=True, rates="constant", time_limit=None) -> GDResult:
    """WN-GD for a batch of runs (docs/math.md §2.4).

    ``r ← r − μ η_r σ``, ``u ← u − μ η_u (r/‖u‖)(∇ℒ(w) − ū σ)`` with ``w = r u/‖u‖`` and
    ``σ = ⟨ū, ∇ℒ(w)⟩`` — both updates use the state before the step.  ``u0`` defaults to
    ``1/√n·1`` and is normalised to unit norm.  ``rates="r2"`` uses ``(η_r, η_u) = (r², 1)``
    evaluated at the current ``r`` (``eta_r``/``eta_u`` are then ignored but still validated).
    ``time_limit``: as for :func:`gd`.
    """
    if rates not in ("constant", "r2"):
        raise ValueError(f"rates must be 'constant' or 'r2', got {rates!r}")
    steps, loss_tol, record_every = _check_steps(steps, loss_tol, record_every)
    time_limit = _check_time_limit(time_limit)
    A, shared, y, B, n, sc, vec = _as_batch(
        A, y, {"r0": r0, "eta_r": eta_r, "eta_u": eta_u, "mu": mu}, {"u0": u0}
    )
    Lv = _check_L(L, B)
    u = vec["u0"] if vec["u0"] is not None else np.full((B, n), 1.0 / np.sqrt(n))
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    mu_v = sc["mu"]
    bt = _Batch(B)
    uw = bt.vec(u)
    book = _Book(bt, steps, loss_tol, record_every, stop_when_all_done, time_limit)
    with np.errstate(over="ignore", invalid="ignore"):
        r, k = _wn_loop(_Ops(A, shared), bt.vec(y), Lv, bt.col(mu_v), bt.col(sc["eta_r"]), bt.col(sc["eta_u"]),
                        rates, renormalize, bt.col(sc["r0"]), uw, book, bt)
        out = book.result(k)
        r = bt.flat(r)
        u = bt.rows(uw)
        w = r[:, None] * u / np.linalg.norm(u, axis=1, keepdims=True)
        x = _power(w, Lv[:, None], None)
    return GDResult(
        w=w, r=r, u=u, x=x, loss=out.loss,
        iters=out.iters, hit_tol_at=out.hit_tol_at, status=out.status, steps=out.steps,
        mu=mu_v, wall_time=out.wall_time,
    )


def gd_problem(problem, config, mu, steps, *, loss_tol=1e-12, record_every=None, renormalize=False,
               stop_when_all_done=True, time_limit=None) -> GDResult:
    """Run the discrete version of ``config``'s flow on ``problem`` (B = 1, or B = len(mu)).

    ``config.rates``: ``"plain"`` → :func:`gd` from ``w0 = r0·ū0``; ``"constant"`` →
    :func:`wn_gd`; ``"r2"`` → WN-GD with rates ``(r², 1)``.
    """
    A = problem.A_eff
    n = problem.n
    u0 = config.u0_for(n)
    if config.rates == "plain":
        return gd(A, problem.y, L=config.L, w0=config.r0 * u0, mu=mu, steps=steps, loss_tol=loss_tol,
                  record_every=record_every, stop_when_all_done=stop_when_all_done, time_limit=time_limit)
    return wn_gd(A, problem.y, L=config.L, r0=config.r0, eta_r=config.eta_r, eta_u=config.eta_u, mu=mu,
                 steps=steps, u0=u0, renormalize=renormalize, loss_tol=loss_tol, record_every=record_every,
                 stop_when_all_done=stop_when_all_done, rates="r2" if config.rates == "r2" else "constant",
                 time_limit=time_limit)
