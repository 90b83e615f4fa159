"""Discrete gradient descent, plain and weight-normalised, batched over ``B`` problems.

MATH.md §2.4: plain GD ``w ← w − μ∇ℒ(w)``; WN-GD ``r ← r − μη_r ∂_rℒ̃``,
``u ← u − μη_u ∇_uℒ̃`` with the actual ``‖u_k‖`` (it grows by ``O(μ²)`` per step;
``renormalize=True`` rescales ``u`` to unit norm after each step instead).

All ``B`` runs advance in one array computation: per iteration one product ``A x`` and one
``Aᵀ res`` (a matmul when ``A`` is shared, an einsum when it is ``(B, M, n)``), plus ``O(Bn)``
elementwise work.  A run that reaches ``loss ≤ loss_tol`` or diverges is frozen (its state stops
changing) and, with ``stop_when_all_done``, the loop ends when every run is frozen.

``A`` is the *effective* matrix (``problem.A_eff`` for the signed model).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

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
    beyond ``DIVERGENCE_FACTOR`` × the initial loss) or ``NOT_CONVERGED`` (the step budget ran
    out).  ``r``/``u`` are nan for plain GD.  ``wall_time`` is the loop's wall-clock seconds.
    """

    w: np.ndarray
    r: np.ndarray
    u: np.ndarray
    x: np.ndarray
    loss: np.ndarray
    iters: np.ndarray
    hit_tol_at: np.ndarray
    status: tuple
    steps: int
    mu: np.ndarray
    wall_time: float

    @property
    def loss_final(self) -> np.ndarray:
        return self.loss[-1]


# -- input handling ---------------------------------------------------------------------


def _as_batch(A, y, named: dict, vectors: dict):
    """Validate and broadcast inputs; return (A, shared, y, B, n, scalars, vectors)."""
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float)
    if A.ndim not in (2, 3):
        raise ValueError(f"A must be (M, n) or (B, M, n), got shape {A.shape}")
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be (M,) or (B, M), got shape {y.shape}")
    M, n = A.shape[-2], A.shape[-1]
    if y.shape[-1] != M:
        raise ValueError(f"shape mismatch: A has M = {M} rows but y has {y.shape[-1]} entries")
    if not np.all(np.isfinite(A)):
        raise ValueError("A has non-finite entries")
    if not np.all(np.isfinite(y)):
        raise ValueError("y has non-finite entries")
    sizes = []
    if A.ndim == 3:
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
    shared = A.ndim == 2
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
    """The two products of an iteration, for a shared or per-run matrix."""

    def __init__(self, A, shared):
        self.A = A
        self.shared = shared
        if shared:
            self.AT = np.ascontiguousarray(A.T)

    def fwd(self, x):  # (B, n) -> (B, M)
        if self.shared:
            return x @ self.AT
        return np.einsum("bmn,bn->bm", self.A, x, optimize=True)

    def adj(self, res):  # (B, M) -> (B, n)
        if self.shared:
            return res @ self.A
        return np.einsum("bmn,bm->bn", self.A, res, optimize=True)


def _power(w, Lc, Lint):
    return w ** Lint if Lint is not None else w ** Lc


def _run(ops, y, Lv, mu, steps, loss_tol, record_every, stop_when_all_done, step_fn, state, weights_fn):
    """The common loop.  ``step_fn(state, grad_parts, active)`` updates in place."""
    B = y.shape[0]
    t0 = time.perf_counter()
    Lc = Lv[:, None]
    Lint = int(Lv[0]) if np.all(Lv == Lv[0]) else None
    hit = np.full(B, -1, dtype=np.int64)
    diverged = np.zeros(B, dtype=bool)
    rec_loss, rec_it = [], []
    loss0 = None
    k = 0
    last_loss = None
    while True:
        w = weights_fn(state)
        x = _power(w, Lc, Lint)
        res = ops.fwd(x) - y
        loss = 0.5 * np.einsum("bm,bm->b", res, res)
        if loss0 is None:
            loss0 = loss.copy()
        # non-finite weights make the loss non-finite: one test on B numbers covers both
        bad = ~np.isfinite(loss) | (loss > DIVERGENCE_FACTOR * np.maximum(loss0, 1e-300))
        newly_div = bad & ~diverged & (hit < 0)
        diverged |= newly_div
        newly_hit = (loss <= loss_tol) & (hit < 0) & ~diverged
        hit[newly_hit] = k
        done = diverged | (hit >= 0)
        last_loss = loss
        all_done = bool(np.all(done))
        final = k >= steps or (stop_when_all_done and all_done)
        if k % record_every == 0 or final:
            rec_loss.append(loss.copy())
            rec_it.append(k)
        if final:
            break
        g = ops.adj(res)
        active = ~done
        step_fn(state, w, x, g, Lc, Lint, active)
        k += 1
    status = tuple(
        Status.DIVERGED if diverged[b] else (Status.CONVERGED if hit[b] >= 0 else Status.NOT_CONVERGED)
        for b in range(B)
    )
    return dict(
        loss=np.array(rec_loss), iters=np.array(rec_it, dtype=np.int64), hit_tol_at=hit, status=status,
        steps=k, wall_time=time.perf_counter() - t0, last_loss=last_loss,
    )


def gd(A, y, *, L, w0, mu, steps, loss_tol=1e-12, record_every=None, stop_when_all_done=True) -> GDResult:
    """Plain GD ``w ← w − μ L w^{L−1} ⊙ Aᵀ(A w^L − y)`` for a batch of runs.

    ``A``: ``(M, n)`` shared or ``(B, M, n)``; ``y``: ``(M,)`` or ``(B, M)``; ``L``, ``mu``:
    scalars or ``(B,)``; ``w0``: ``(n,)`` or ``(B, n)`` positive.  ``B`` is inferred by
    broadcasting.  Weights that leave the positive orthant are allowed (the iteration is
    well defined for integer ``L``); non-finite values mark the run diverged.
    """
    steps, loss_tol, record_every = _check_steps(steps, loss_tol, record_every)
    A, shared, y, B, n, sc, vec = _as_batch(A, y, {"mu": mu}, {"w0": w0})
    if vec["w0"] is None:
        raise ValueError("w0 is required")
    Lv = _check_L(L, B)
    mu_v = sc["mu"]
    state = {"w": vec["w0"].copy()}

    def step(state, w, x, g, Lc, Lint, active):
        wl1 = _power(w, Lc - 1, None if Lint is None else Lint - 1)
        grad = Lc * wl1 * g
        upd = mu_v[:, None] * grad
        upd[~active] = 0.0
        state["w"] = w - upd

    with np.errstate(over="ignore", invalid="ignore"):
        out = _run(_Ops(A, shared), y, Lv, mu_v, steps, loss_tol, record_every, stop_when_all_done,
                   step, state, lambda s: s["w"])
    w = state["w"]
    nan = np.full(B, np.nan)
    return GDResult(
        w=w, r=nan, u=np.full((B, n), np.nan), x=_power(w, Lv[:, None], None), loss=out["loss"],
        iters=out["iters"], hit_tol_at=out["hit_tol_at"], status=out["status"], steps=out["steps"],
        mu=mu_v, wall_time=out["wall_time"],
    )


def wn_gd(A, y, *, L, r0, eta_r, eta_u, mu, steps, u0=None, renormalize=False, loss_tol=1e-12,
          record_every=None, stop_when_all_done=True, rates="constant") -> GDResult:
    """WN-GD for a batch of runs (MATH.md §2.4).

    ``r ← r − μ η_r σ``, ``u ← u − μ η_u (r/‖u‖)(∇ℒ(w) − ū σ)`` with ``w = r u/‖u‖`` and
    ``σ = ⟨ū, ∇ℒ(w)⟩`` — both updates use the state before the step.  ``u0`` defaults to
    ``1/√n·1`` and is normalised to unit norm.  ``rates="r2"`` uses ``(η_r, η_u) = (r², 1)``
    evaluated at the current ``r`` (``eta_r``/``eta_u`` are then ignored but still validated).
    """
    if rates not in ("constant", "r2"):
        raise ValueError(f"rates must be 'constant' or 'r2', got {rates!r}")
    steps, loss_tol, record_every = _check_steps(steps, loss_tol, record_every)
    A, shared, y, B, n, sc, vec = _as_batch(
        A, y, {"r0": r0, "eta_r": eta_r, "eta_u": eta_u, "mu": mu}, {"u0": u0}
    )
    Lv = _check_L(L, B)
    u = vec["u0"] if vec["u0"] is not None else np.full((B, n), 1.0 / np.sqrt(n))
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    mu_v, er, eu = sc["mu"], sc["eta_r"], sc["eta_u"]
    state = {"r": sc["r0"].copy(), "u": u.copy()}

    def weights(s):
        m = np.linalg.norm(s["u"], axis=1)
        s["m"] = m
        return s["r"][:, None] * s["u"] / m[:, None]

    def step(s, w, x, g, Lc, Lint, active):
        r, uu, m = s["r"], s["u"], s["m"]
        ubar = uu / m[:, None]
        grad = Lc * _power(w, Lc - 1, None if Lint is None else Lint - 1) * g
        sigma = np.einsum("bn,bn->b", ubar, grad)
        if rates == "r2":
            e_r, e_u = r * r, np.ones_like(r)
        else:
            e_r, e_u = er, eu
        dr = mu_v * e_r * sigma
        du = (mu_v * e_u * r / m)[:, None] * (grad - ubar * sigma[:, None])
        dr = np.where(active, dr, 0.0)
        du[~active] = 0.0
        s["r"] = r - dr
        unew = uu - du
        if renormalize:
            unew = unew / np.linalg.norm(unew, axis=1, keepdims=True)
        s["u"] = unew

    with np.errstate(over="ignore", invalid="ignore"):
        out = _run(_Ops(A, shared), y, Lv, mu_v, steps, loss_tol, record_every, stop_when_all_done,
                   step, state, weights)
    w = weights(state)
    return GDResult(
        w=w, r=state["r"].copy(), u=state["u"].copy(), x=_power(w, Lv[:, None], None), loss=out["loss"],
        iters=out["iters"], hit_tol_at=out["hit_tol_at"], status=out["status"], steps=out["steps"],
        mu=mu_v, wall_time=out["wall_time"],
    )


def gd_problem(problem, config, mu, steps, *, loss_tol=1e-12, record_every=None, renormalize=False,
               stop_when_all_done=True) -> GDResult:
    """Run the discrete version of ``config``'s flow on ``problem`` (B = 1, or B = len(mu)).

    ``config.rates``: ``"plain"`` → :func:`gd` from ``w0 = r0·ū0``; ``"constant"`` →
    :func:`wn_gd`; ``"r2"`` → WN-GD with rates ``(r², 1)``.
    """
    A = problem.A_eff
    n = problem.n
    u0 = config.u0_for(n)
    if config.rates == "plain":
        return gd(A, problem.y, L=config.L, w0=config.r0 * u0, mu=mu, steps=steps, loss_tol=loss_tol,
                  record_every=record_every, stop_when_all_done=stop_when_all_done)
    return wn_gd(A, problem.y, L=config.L, r0=config.r0, eta_r=config.eta_r, eta_u=config.eta_u, mu=mu,
                 steps=steps, u0=u0, renormalize=renormalize, loss_tol=loss_tol, record_every=record_every,
                 stop_when_all_done=stop_when_all_done, rates="r2" if config.rates == "r2" else "constant")
