"""Batched GD / WN-GD with compaction: a run that is done leaves the batch, and nothing else changes.

A run that reached the loss tolerance or diverged is dropped from the products of later iterations
(numerics._gd._Book).  Each run of such a batch must end as it ends alone (same status, same
iteration of the threshold, the same final state up to the rounding of a different BLAS kernel),
and its records must keep the loss it was frozen at.  Runs with different depths ``L`` are sorted
into blocks internally; the caller's order must come back.
"""

from __future__ import annotations

import numpy as np
import pytest

from numerics import Status
from numerics._gd import DIVERGENCE_FACTOR, gd, wn_gd
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, tol
from numerics._problem import generate

RT = tol(DPS_FLOAT64, K_ROUNDOFF)  # batch vs alone: a (B, n) gemm and a (1, n) gemv round differently


def _p(seed=0, N=10, M=4):
    return generate("sparse_positive", N, M, seed, k=2, model="positive")


def _assert_same_run(batch, b, one, ynorm):
    assert batch.status[b] is one.status[0]
    assert batch.hit_tol_at[b] == one.hit_tol_at[0]
    assert batch.ended_at[b] == one.ended_at[0]  # left the batch at the iteration where it ended alone
    if one.status[0] is Status.DIVERGED:
        # what DIVERGED means (GDResult): a non-finite loss, or one beyond DIVERGENCE_FACTOR × the initial loss
        final, initial = float(batch.loss[-1, b]), float(batch.loss[0, b])
        assert not np.isfinite(final) or final > DIVERGENCE_FACTOR * initial, (final, initial)
        assert batch.hit_tol_at[b] == -1 and batch.ended_at[b] < batch.steps
        return
    np.testing.assert_allclose(batch.w[b], one.w[0], rtol=RT, atol=0)
    # the residual ‖Ax − y‖ = √(2ℒ) is formed by cancellation: its rounding is relative to ‖y‖, not to itself
    np.testing.assert_allclose(np.sqrt(2 * batch.loss[-1, b]), np.sqrt(2 * one.loss[-1, 0]), rtol=0,
                               atol=RT * ynorm)


def test_gd_batch_with_runs_leaving_matches_each_run_alone():
    p = _p(1)
    mu = np.array([0.3, 0.1, 1e3, 0.05, 1e-5])  # converge at 131, 399 and 800; diverge; run out of steps
    res = gd(p.A, p.y, L=2, w0=np.full(p.n, 0.1), mu=mu, steps=1000, loss_tol=1e-10, record_every=1)
    kinds = {s for s in res.status}
    assert kinds == {Status.CONVERGED, Status.DIVERGED, Status.NOT_CONVERGED}, res.status
    assert len(set(int(h) for h in res.hit_tol_at if h >= 0)) == 3  # runs leave at different iterations
    for b in range(len(mu)):
        one = gd(p.A, p.y, L=2, w0=np.full(p.n, 0.1), mu=mu[b], steps=1000, loss_tol=1e-10)
        _assert_same_run(res, b, one, float(np.linalg.norm(p.y)))
        h = int(res.hit_tol_at[b])
        if h >= 0:  # after it left the batch its recorded loss is the one it was frozen at
            assert np.all(res.loss[h:, b] == res.loss[h, b]) and res.loss[h, b] <= 1e-10


def test_wn_gd_batch_with_runs_leaving_matches_each_run_alone():
    p = _p(1)
    mu = np.array([0.15, 50.0, 0.1, 0.05, 1e-5])  # converge at 369, 554 and 1111; diverge; run out of steps
    kw = dict(L=2, r0=1.0, eta_r=0.5, eta_u=1.0, steps=1200, loss_tol=1e-10)
    res = wn_gd(p.A, p.y, mu=mu, record_every=1, **kw)
    assert {s for s in res.status} == {Status.CONVERGED, Status.DIVERGED, Status.NOT_CONVERGED}, res.status
    for b in range(len(mu)):
        one = wn_gd(p.A, p.y, mu=mu[b], **kw)
        _assert_same_run(res, b, one, float(np.linalg.norm(p.y)))
        if one.status[0] is not Status.DIVERGED:
            assert res.r[b] == pytest.approx(float(one.r[0]), rel=RT, abs=0)
            np.testing.assert_allclose(res.u[b], one.u[0], rtol=RT, atol=0)
        h = int(res.hit_tol_at[b])
        if h >= 0:
            assert np.all(res.loss[h:, b] == res.loss[h, b])


def test_batch_that_keeps_going_after_every_run_is_done():
    """``stop_when_all_done=False``: the loop runs its budget, every record after a run's threshold
    is its frozen loss, and the final states are those at the threshold."""
    p = _p(3)
    mu = np.array([0.1, 0.05])
    res = wn_gd(p.A, p.y, L=2, r0=1.0, eta_r=0.5, eta_u=1.0, mu=mu, steps=3000, loss_tol=1e-6,
                stop_when_all_done=False, record_every=1)
    assert res.steps == 3000 and res.iters[-1] == 3000 and all(s is Status.CONVERGED for s in res.status)
    stop = wn_gd(p.A, p.y, L=2, r0=1.0, eta_r=0.5, eta_u=1.0, mu=mu, steps=3000, loss_tol=1e-6)
    assert stop.steps == int(res.hit_tol_at.max()) < 3000
    np.testing.assert_array_equal(res.u, stop.u)
    np.testing.assert_array_equal(res.r, stop.r)
    for b in range(2):
        h = int(res.hit_tol_at[b])
        assert np.all(res.loss[h:, b] == res.loss[h, b])


@pytest.mark.parametrize("method", ["gd", "wn_gd"])
def test_mixed_depths_in_any_order(method):
    """Runs with different ``L`` in one batch (sorted into blocks inside): each run as alone, in the
    caller's order."""
    p = _p(4)
    Ls = np.array([3, 2, 4, 2, 3])
    mu = np.array([0.02, 0.05, 0.01, 0.03, 0.015])
    if method == "gd":
        run = lambda **k: gd(p.A, p.y, w0=np.full(p.n, 0.3), steps=400, loss_tol=1e-9, **k)  # noqa: E731
    else:
        run = lambda **k: wn_gd(p.A, p.y, r0=1.0, eta_r=0.3, eta_u=1.0, steps=400, loss_tol=1e-9, **k)  # noqa: E731
    res = run(L=Ls, mu=mu, record_every=10)
    np.testing.assert_array_equal(res.mu, mu)
    for b in range(len(Ls)):
        one = run(L=int(Ls[b]), mu=float(mu[b]), record_every=10)
        _assert_same_run(res, b, one, float(np.linalg.norm(p.y)))
        np.testing.assert_allclose(res.x[b], one.x[0], rtol=10 * RT, atol=0)


def test_per_run_matrices_leave_the_batch_too():
    """A stack of per-run matrices: runs converge and diverge at different iterations, long before
    the budget, and each leaves the batch (its matrix with it) as it ends alone."""
    p = _p(1)
    A4 = np.stack([p.A, 1.5 * p.A, 0.7 * p.A, 1.2 * p.A])
    y4 = np.stack([p.y, 1.5 * p.y, 0.7 * p.y, 1.2 * p.y])
    mu = np.array([0.3, 0.05, 1e3, 1e-5])  # converge, converge later, diverge, run out of steps
    steps = 2000
    res = gd(A4, y4, L=2, w0=np.full(p.n, 0.1), mu=mu, steps=steps, loss_tol=1e-10, record_every=1)
    assert [s for s in res.status] == [Status.CONVERGED, Status.CONVERGED, Status.DIVERGED, Status.NOT_CONVERGED]
    early = res.ended_at[:3]
    assert np.all(early < steps) and len(set(early.tolist())) == 3, res.ended_at  # left early, at different times
    assert res.ended_at[3] == steps == res.steps
    for b in range(4):
        one = gd(A4[b], y4[b], L=2, w0=np.full(p.n, 0.1), mu=float(mu[b]), steps=steps, loss_tol=1e-10)
        _assert_same_run(res, b, one, float(np.linalg.norm(y4[b])))


def test_broadcast_per_run_matrix_is_one_shared_matrix():
    """A ``(B, M, n)`` stack that is one matrix broadcast (stride 0) runs as a shared matrix: the
    same results as the plain ``(M, n)`` call, with runs leaving the batch."""
    p = _p(1)
    mu = np.array([0.3, 0.1, 1e3, 1e-5])
    kw = dict(L=2, w0=np.full(p.n, 0.1), mu=mu, steps=1000, loss_tol=1e-10, record_every=1)
    shared = gd(p.A, p.y, **kw)
    wide = gd(np.broadcast_to(p.A, (4,) + p.A.shape), p.y, **kw)
    assert wide.status == shared.status and np.array_equal(wide.ended_at, shared.ended_at)
    np.testing.assert_array_equal(wide.loss, shared.loss)
    np.testing.assert_array_equal(wide.w, shared.w)


def test_run_records_needs_ended_at():
    """A ``GDResult`` built without ``ended_at`` cannot give a run's records: a clear error."""
    import dataclasses

    p = _p(1)
    res = dataclasses.replace(gd(p.A, p.y, L=2, w0=np.full(p.n, 0.1), mu=0.3, steps=10), ended_at=None)
    with pytest.raises(ValueError, match="ended_at"):
        res.run_records(0)


@pytest.mark.parametrize("record_every", [1, 7, 50])
def test_run_records_are_the_records_of_the_run_alone(record_every):
    """``GDResult.run_records(b)``: the records run ``b`` has when it runs alone (converged, diverged and
    unfinished runs; ends on and off the recording grid); ``ended_at`` is where each run stopped."""
    p = _p(1)
    mu = np.array([0.15, 50.0, 0.1, 0.05, 1e-5])
    kw = dict(L=2, r0=1.0, eta_r=0.5, eta_u=1.0, steps=1200, loss_tol=1e-10, record_every=record_every)
    res = wn_gd(p.A, p.y, mu=mu, **kw)
    ynorm = float(np.linalg.norm(p.y))
    for b in range(len(mu)):
        one = wn_gd(p.A, p.y, mu=mu[b], **kw)
        assert res.ended_at[b] == one.steps == one.ended_at[0]
        if one.status[0] is Status.CONVERGED:
            assert res.ended_at[b] == res.hit_tol_at[b]
        it, loss = res.run_records(b)
        np.testing.assert_array_equal(it, one.iters)
        if one.status[0] is Status.DIVERGED:
            np.testing.assert_array_equal(np.isfinite(loss), np.isfinite(one.loss[:, 0]))
            continue
        np.testing.assert_allclose(np.sqrt(2 * loss), np.sqrt(2 * one.loss[:, 0]), rtol=0, atol=RT * ynorm)
