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
``loss ≤ loss_tol`` or diverges is frozen (its state stops changing): it leaves the batch, so the
products of later iterations have one row fewer (its records keep the loss it was frozen at), and,
with ``stop_when_all_done``, the loop ends when every run is frozen.

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
from typing import Optional

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
    ended_at: Optional[np.ndarray] = None
    """``(B,)`` (``None`` only in a result built by hand without it): the iteration whose state run ``b`` ended in — ``hit_tol_at`` for a converged run, the
    iteration it was found diverged, else ``steps``; its loss is ``loss[-1, b]``, and its records after
    that iteration repeat it (a run's own records are those with ``iters < ended_at[b]``, then
    ``(ended_at[b], loss[-1, b])``)."""

    @property
    def loss_final(self) -> np.ndarray:
        return self.loss[-1]

    def run_records(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """``(iters, loss)`` of run ``b`` as a run of its own records them: the batch's records
        before ``ended_at[b]``, then its last state (the records of a batch go on to the batch's end)."""
        if self.ended_at is None:
            raise ValueError("run_records needs ended_at (the iteration each run ended at); this GDResult "
                             "has none (gd/wn_gd always set it)")
        e = int(self.ended_at[b])
        sel = self.iters < e
        return np.append(self.iters[sel], e), np.append(self.loss[sel, b], self.loss[-1, b])

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
    ended_at: np.ndarray


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


_SPLIT_ROWS = (4, 5)
"""Batch sizes whose products are two ``gemm`` calls (rows ``[:2]`` and ``[2:]``).  Measured here
(OpenBLAS, one thread, ``M = 150``, ``n = 2000``; µs per run for the pair ``X Aᵀ``, ``R A``): one
run 112 (two gemv), 2 rows 64, 3 rows 60, 4 rows 108, 5 rows 101, 6–10 rows 66–75, 4 rows as 2 + 2:
67.  Compaction takes a batch through every size on its way down, and a batch of 4 depths or 4
settings is common."""


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
            self._owned = False
            return
        if not shared and (A.shape[0] == 1 or A.strides[0] == 0):  # one matrix broadcast: never copied per run
            A, shared = A[0], True
        self.shared = shared
        self._owned = False  # True once self.A is this object's own copy (per-run matrices after a take)
        self.A = np.ascontiguousarray(A)
        self.AT = self.A.T  # a view: the same memory

    def fwd(self, x, out):  # (n,) -> (M,) or (B, n) -> (B, M)
        if self.op:
            return self.forward_rows(self.A, x, out)
        if self.shared:
            if x.ndim == 1:
                return np.matmul(self.A, x, out=out)
            if x.shape[0] in _SPLIT_ROWS:
                np.matmul(x[:2], self.AT, out=out[:2])
                np.matmul(x[2:], self.AT, out=out[2:])
                return out
            return np.matmul(x, self.AT, out=out)
        np.matmul(self.A, x[:, :, None], out=out[:, :, None])
        return out

    def adj(self, res, out):  # (M,) -> (n,) or (B, M) -> (B, n)
        if self.op:
            return self.adjoint_rows(self.A, res, out)
        if self.shared:
            if res.ndim == 2 and res.shape[0] in _SPLIT_ROWS:
                np.matmul(res[:2], self.A, out=out[:2])
                np.matmul(res[2:], self.A, out=out[2:])
                return out
            return np.matmul(res, self.A, out=out)
        np.matmul(res[:, None, :], self.A, out=out[:, None, :])
        return out

    def take(self, keep):
        """Keep only the runs ``keep`` (a bool mask over the batch): per-run matrices shrink with it.

        A shared matrix (and a stack that is one matrix broadcast, made shared in ``__init__``) is
        left as it is.  Per-run matrices: the first take copies the kept ones (the caller's stack is
        never written); every later take moves the kept matrices to the front of that copy, in
        order, and keeps a view of its first rows (C-contiguous): no new stack per compaction."""
        if self.shared:
            return
        idx = np.flatnonzero(keep)
        if not self._owned:
            self.A = np.ascontiguousarray(self.A[idx])
            self._owned = True
            return
        for i, j in enumerate(idx):
            if i != j:
                self.A[i] = self.A[j]
        self.A = self.A[:idx.size]


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
        """A per-run scalar (of the batch, or of its active runs) as a fresh 1-D array."""
        return np.full(1, v, dtype=float) if self.single else np.array(v, dtype=float).reshape(-1)

    def rows(self, a):
        """A working vector as a fresh ``(B, n)`` array."""
        return np.array(a, dtype=float).reshape(self.B, -1)


class _Book:
    """The loop's bookkeeping: which runs hit the tolerance or diverged, what is recorded, when to
    stop.  :meth:`observe` is called once per iteration with the loss of the *active* runs; its
    common case (every active run still running, nothing to record, no deadline) is one comparison
    on the active losses.

    Several runs: a run that hits the tolerance or diverges leaves the batch (it is *compacted*
    away): :meth:`observe` then sets ``keep`` (a bool mask over the active rows) and ``dropped``
    (their indices in the whole batch), the loop saves the dropped rows' state and continues on the
    rows kept.  Its recorded loss from then on is the loss it was frozen at (the state of a frozen
    run does not change), so the records are those of a batch that kept every run to the end.

    A run's records (``GDResult.run_records``) are those of the same run alone up to rounding, not
    bit for bit: as runs leave, the products change shape (a ``(B', n)`` gemm, or one gemv for a
    single run), and BLAS rounds those differently."""

    def __init__(self, bt, steps, loss_tol, record_every, stop_when_all_done, time_limit):
        self.bt, self.steps, self.loss_tol = bt, steps, loss_tol
        self.record_every, self.stop_when_all_done = record_every, stop_when_all_done
        B = bt.B
        self.t0 = time.perf_counter()
        self.deadline = None if time_limit is None else self.t0 + time_limit
        self.out_of_time = False
        self.hit = np.full(B, -1, dtype=np.int64)
        self.diverged = np.zeros(B, dtype=bool)
        self.act = np.arange(B)  # the active runs' indices in the batch
        self.frozen_loss = np.full(B, np.nan)  # the loss each done run was frozen at
        self.ended = np.full(B, -1, dtype=np.int64)  # the iteration each done run was frozen at
        self.keep = self.dropped = None  # set by observe for the iteration where runs leave
        self.all_done = False
        self.rec_loss, self.rec_it = [], []
        self.hi = None  # the divergence threshold per active run (a loss above it, or nan, is diverged)
        self.single_quiet = False  # set after the first loss: the one-run case without a deadline

    def _live(self, loss):
        """Every active run still running: ``loss_tol < loss ≤ hi`` (false for nan and inf)."""
        if self.bt.single:
            return self.loss_tol < loss <= self.hi
        return bool(np.all((loss > self.loss_tol) & (loss <= self.hi)))

    def observe(self, k, loss):
        """Account for the loss before iteration ``k``; return True when the loop must end."""
        if (self.single_quiet and self.loss_tol < loss <= self.hi and k < self.steps
                and k % self.record_every):
            return False  # one run, still running, nothing to record, no deadline
        self.keep = self.dropped = None
        if self.hi is None:
            lf = self.bt.flat(loss)
            hi = np.minimum(DIVERGENCE_FACTOR * np.maximum(lf, 1e-300), _FLOAT_MAX)
            self.hi = float(hi[0]) if self.bt.single else hi[:, None]
            self.single_quiet = self.bt.single and self.deadline is None
        if not self.all_done and not self._live(loss):
            self._events(k, loss)
        if self.deadline is not None and not self.all_done and time.perf_counter() > self.deadline:
            self.out_of_time = True
        final = k >= self.steps or (self.stop_when_all_done and self.all_done) or self.out_of_time
        if k % self.record_every == 0 or final:
            if self.bt.single:
                self.rec_loss.append(np.full(1, self.frozen_loss[0] if self.all_done else loss, dtype=float))
            else:
                full = self.frozen_loss.copy()
                if self.act.size:
                    lv = np.asarray(loss, dtype=float).reshape(-1)
                    full[self.act] = lv if self.keep is None else lv[self.keep]
                self.rec_loss.append(full)
            self.rec_it.append(k)
        return final

    def _events(self, k, loss):
        """Some active run hit the tolerance or diverged at ``k``: mark it, and (several runs) set
        ``keep``/``dropped`` and shrink the active set."""
        lf = self.bt.flat(loss)
        hi = self.bt.flat(self.hi)
        div = ~np.isfinite(lf) | (lf > hi)
        hit = (lf <= self.loss_tol) & ~div
        done = div | hit
        idx = self.act[done]
        self.diverged[self.act[div]] = True
        self.hit[self.act[hit]] = k
        self.frozen_loss[idx] = lf[done]
        self.ended[idx] = k
        if self.bt.single:
            self.all_done = True
            self.single_quiet = False
            return
        keep = ~done
        self.keep, self.dropped = keep, idx
        self.act = self.act[keep]
        self.hi = self.hi[keep]
        self.all_done = self.act.size == 0

    def result(self, k):
        idle = Status.TIME_LIMIT if self.out_of_time else Status.NOT_CONVERGED
        status = tuple(
            Status.DIVERGED if self.diverged[b] else (Status.CONVERGED if self.hit[b] >= 0 else idle)
            for b in range(self.bt.B)
        )
        ended = np.where(self.ended >= 0, self.ended, k)
        return _Record(loss=np.array(self.rec_loss), iters=np.array(self.rec_it, dtype=np.int64),
                       hit_tol_at=self.hit, status=status, steps=k, wall_time=time.perf_counter() - self.t0,
                       ended_at=ended)


def _L_kept(L, keep):
    """``(L, blocks, L2)`` of a mixed-depth batch after compaction to the runs ``keep``: the per-run
    exponents kept, their blocks (:func:`_L_mode`) and whether one block of ``L = 2`` is left."""
    L = L[keep]
    blocks = _L_mode(L[:, 0])[0] if L.size else []
    return L, blocks, len(blocks) == 1 and blocks[0][1] == 2


def _L_mode(Lv):
    """``(blocks, L)``: ``blocks`` is a list of ``(rows, Lint)``, contiguous row ranges (slices)
    that share one integer exponent — one block when every run has the same ``L``; the batch is
    sorted by ``L`` (:func:`_by_L`) so that each exponent is one block.  ``L`` is the exponent for
    the per-run scalar arithmetic: an int, or a ``(B, 1)`` column where the runs differ."""
    if np.all(Lv == Lv[0]):
        Li = int(Lv[0])
        return [(slice(None), Li)], Li
    blocks, start = [], 0
    for i in range(1, len(Lv) + 1):
        if i == len(Lv) or Lv[i] != Lv[start]:
            blocks.append((slice(start, i), int(Lv[start])))
            start = i
    if len({Li for _, Li in blocks}) != len(blocks):
        raise AssertionError("the runs must be sorted by L")  # _by_L does this
    return blocks, Lv[:, None].copy()


_LADDER_MAX = 8
"""Up to this exponent ``v^L`` is ``L − 1`` multiplications (``((v·v)·v)…``, two for ``L = 3``);
above it ``np.power`` (which costs about as much as five to eight multiplications here)."""


def _pow_into(v, L, out):
    """``out = v^L`` in place for an integer ``L ≥ 2``: ``v·v``, then ``L − 2`` more factors ``v``."""
    if L > _LADDER_MAX:
        np.power(v, L, out=out)
        return
    np.multiply(v, v, out=out)
    for _ in range(L - 2):
        out *= v


def _pow_blocks(v, blocks, out):
    """``out = v^L`` row block by row block (each block a view)."""
    if len(blocks) == 1:
        _pow_into(v, blocks[0][1], out)
        return
    for rows, Li in blocks:
        _pow_into(v[rows], Li, out[rows])


def _times_pow_blocks(g, v, blocks):
    """``g ⊙= v^{L−2}`` row block by row block (nothing for ``L = 2``)."""
    if len(blocks) == 1:
        Li = blocks[0][1]
        if Li == 2:
            return
        if Li <= _LADDER_MAX:
            for _ in range(Li - 2):
                g *= v
            return
    for rows, Li in blocks:
        if Li == 2:
            continue
        gb, vb = g[rows], v[rows]
        if Li > _LADDER_MAX:
            gb *= np.power(vb, Li - 2)
            continue
        for _ in range(Li - 2):
            gb *= vb


def _by_L(Lv):
    """The order that sorts the runs by ``L`` (stable), or ``None`` when they are sorted already."""
    order = np.argsort(Lv, kind="stable")
    return None if np.array_equal(order, np.arange(len(Lv))) else order


def _gd_loop(ops, y, Lv, mu, w, book, bt):
    """Plain GD in place on ``w`` (docs/math.md §2.4): ``w ← w ⊙ (1 − μL w^{L−2} ⊙ Aᵀ(A w^L − y))``,
    which is ``w − μ L w^{L−1} ⊙ ∇`` written so that the update is two passes over ``w``.

    Per iteration: ``w^L`` (one pass for L = 2), ``A w^L``, the residual and its norm (length M),
    ``Aᵀ(−μL res)``, then ``g += 1``, ``w *= g``.  Runs that are done leave the batch
    (:class:`_Book`); returns ``(w, steps)`` with ``w`` the final state of every run."""
    blocks, L = _L_mode(Lv)
    L2 = len(blocks) == 1 and blocks[0][1] == 2  # the common case, inline
    single = bt.single
    out = None if single else w.copy()  # the final states of the runs that left
    res = np.empty_like(y)
    z = np.empty_like(w)
    scale = -mu * L  # per run
    k = 0
    while True:
        if book.all_done:  # every run frozen (stop_when_all_done=False): the state stays as it is
            if book.observe(k, None):
                break
            k += 1
            continue
        if L2:
            np.multiply(w, w, out=z)
        else:
            _pow_blocks(w, blocks, z)
        ops.fwd(z, res)
        res -= y
        loss = 0.5 * bt.dot(res, res)
        final = book.observe(k, loss)
        if book.keep is not None:  # runs left the batch: save them, go on with the rest
            keep = book.keep
            out[book.dropped] = w[~keep]
            w, res, y, scale = w[keep], res[keep], y[keep], scale[keep]
            if len(blocks) > 1:
                L, blocks, L2 = _L_kept(L, keep)
            ops.take(keep)
            z = np.empty_like(w)
        if final:
            break
        k += 1
        if book.all_done:
            continue
        g = z  # one buffer: z = w^L is dead once A z is formed, before Aᵀres is written (a smaller working set)
        res *= scale
        ops.adj(res, g)
        if not L2:
            _times_pow_blocks(g, w, blocks)
        g += 1.0
        w *= g
    if single:
        return w, k
    out[book.act] = w
    return out, k


def _wn_loop(ops, y, Lv, mu, er, eu, rates, renormalize, r, u, book, bt):
    """WN-GD in place on ``u`` (docs/math.md §2.4); returns ``(r, u, steps)``.

    With ``m = ‖u‖``, ``a = r/m`` (so ``w = a u``), ``z = u^L`` and ``res = a^L A z − y``:
    ``∇ℒ(w) = L a^{L−1} u^{L−1} ⊙ Aᵀres`` and ``σ = ⟨ū, ∇ℒ⟩ = L a^{L−1} ⟨A z, res⟩ / m`` — an
    inner product of length M, not n.  The step ``u − c(∇ℒ − ūσ)``, ``c = μη_u r/m``, is
    ``u ⊙ (α + β u^{L−2} ⊙ Aᵀres)`` with per-run scalars ``α = 1 + cσ/m``, ``β = −cLa^{L−1}``;
    ``β`` scales ``res`` before the adjoint product.  Per iteration at L = 2 that is four passes
    over ``n`` numbers (``u²``, ``g += α``, ``u *= g``, ``‖u‖²``) besides the two products.
    Runs that are done leave the batch (:class:`_Book`)."""
    blocks, L = _L_mode(Lv)
    L2 = len(blocks) == 1 and blocks[0][1] == 2  # the common case, inline
    sqrt = bt.sqrt
    single = bt.single
    out_u = None if single else u.copy()  # the final states of the runs that left
    out_r = None if single else r.copy()
    if single:  # A z and res as the rows of one array: ⟨A z, res⟩ and ⟨res, res⟩ in one gemv
        S = np.empty((2, y.shape[0]))
        Az, res = S[0], S[1]
    else:
        Az, res = np.empty_like(y), np.empty_like(y)
    z = np.empty_like(u)
    m2 = bt.dot(u, u)
    k = 0
    while True:
        if book.all_done:  # every run frozen (stop_when_all_done=False): the state stays as it is
            if book.observe(k, None):
                break
            k += 1
            continue
        m = sqrt(m2)
        a = r / m
        if L2:
            np.multiply(u, u, out=z)
        else:
            _pow_blocks(u, blocks, z)
        ops.fwd(z, Az)
        aL1 = a ** (L - 1)
        np.multiply(Az, aL1 * a, out=res)
        res -= y
        if single:
            tau, rr = np.dot(S, res).tolist()
            loss = 0.5 * rr
        else:
            loss = 0.5 * bt.dot(res, res)
        final = book.observe(k, loss)
        if book.keep is not None:  # runs left the batch: save them, go on with the rest
            keep = book.keep
            out_u[book.dropped] = u[~keep]
            out_r[book.dropped] = r[~keep]
            u, r, m, aL1 = u[keep], r[keep], m[keep], aL1[keep]
            Az, res, y = Az[keep], res[keep], y[keep]
            mu, er, eu = mu[keep], er[keep], eu[keep]
            if len(blocks) > 1:
                L, blocks, L2 = _L_kept(L, keep)
            ops.take(keep)
            z = np.empty_like(u)
        if final:
            break
        k += 1
        if book.all_done:
            continue
        g = z  # one buffer: z = u^L is dead once A z is formed, before Aᵀres is written (a smaller working set)
        if not single:
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
        if not L2:
            _times_pow_blocks(g, u, blocks)
        g += 1.0 + c * sigma / m
        u *= g
        r = r_new
        if renormalize:
            u /= sqrt(bt.dot(u, u))
        m2 = bt.dot(u, u)
    if single:
        return r, u, k
    out_u[book.act] = u
    out_r[book.act] = r
    return out_r, out_u, k


def _sorted_batch(Lv, A, shared, y, sc, vec):
    """The batch with its runs sorted by ``L`` (so that each exponent is one block of rows), and the
    order used (``None``: already sorted).  Only per-run arrays are permuted."""
    order = _by_L(Lv) if len(Lv) > 1 else None
    if order is None:
        return None, Lv, A, y, sc, vec
    if not shared and A.strides[0] != 0:
        A = A[order]
    y = np.ascontiguousarray(y[order])
    sc = {k: v[order] for k, v in sc.items()}
    vec = {k: (None if v is None else v[order]) for k, v in vec.items()}
    return order, Lv[order], A, y, sc, vec


def _unsorted(out, order):
    """A :class:`_Record` of a sorted batch, in the caller's order."""
    if order is None:
        return out
    inv = np.argsort(order)
    return _Record(loss=out.loss[:, inv], iters=out.iters, hit_tol_at=out.hit_tol_at[inv],
                   status=tuple(out.status[i] for i in inv), steps=out.steps, wall_time=out.wall_time,
                   ended_at=out.ended_at[inv])


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
    Lv0 = _check_L(L, B)
    mu_v = sc["mu"]
    order, Lv, A, y, sc, vec = _sorted_batch(Lv0, A, shared, y, sc, vec)
    bt = _Batch(B)
    w = bt.vec(vec["w0"])
    book = _Book(bt, steps, loss_tol, record_every, stop_when_all_done, time_limit)
    with np.errstate(over="ignore", invalid="ignore"):
        w, k = _gd_loop(_Ops(A, shared), bt.vec(y), Lv, bt.col(sc["mu"]), w, book, bt)
        out = _unsorted(book.result(k), order)
        w = bt.rows(w)
        if order is not None:
            w = w[np.argsort(order)]
        x = _power(w, Lv0[:, None], None)
    nan = np.full(B, np.nan)
    return GDResult(
        w=w, r=nan, u=np.full((B, n), np.nan), x=x, loss=out.loss,
        iters=out.iters, hit_tol_at=out.hit_tol_at, status=out.status, steps=out.steps,
        mu=mu_v, wall_time=out.wall_time, ended_at=out.ended_at,
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
    Lv0 = _check_L(L, B)
    mu_v = sc["mu"]
    if vec["u0"] is None:
        vec = {"u0": np.full((B, n), 1.0 / np.sqrt(n))}
    order, Lv, A, y, sc, vec = _sorted_batch(Lv0, A, shared, y, sc, vec)
    u = vec["u0"]
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    bt = _Batch(B)
    uw = bt.vec(u)
    book = _Book(bt, steps, loss_tol, record_every, stop_when_all_done, time_limit)
    with np.errstate(over="ignore", invalid="ignore"):
        r, uw, k = _wn_loop(_Ops(A, shared), bt.vec(y), Lv, bt.col(sc["mu"]), bt.col(sc["eta_r"]), bt.col(sc["eta_u"]),
                            rates, renormalize, bt.col(sc["r0"]), uw, book, bt)
        out = _unsorted(book.result(k), order)
        r = bt.flat(r)
        u = bt.rows(uw)
        if order is not None:
            inv = np.argsort(order)
            r, u = r[inv], u[inv]
        w = r[:, None] * u / np.linalg.norm(u, axis=1, keepdims=True)
        x = _power(w, Lv0[:, None], None)
    return GDResult(
        w=w, r=r, u=u, x=x, loss=out.loss,
        iters=out.iters, hit_tol_at=out.hit_tol_at, status=out.status, steps=out.steps,
        mu=mu_v, wall_time=out.wall_time, ended_at=out.ended_at,
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
