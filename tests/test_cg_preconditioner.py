"""The preconditioner of the matrix-free dual Newton systems (``numerics._bregman._Float64``):
``P = A_S diag(w_S) A_Sᵀ + τ I`` by Woodbury, for ``H = A diag(w) Aᵀ + μ I`` solved by CG."""

import numpy as np

from numerics import bregman_projection, generate
from numerics._bregman import _Float64
from numerics._operators import as_operator, to_dense
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, K_SOLVE, tol


def _graded_weights(n, k, seed):
    """``max w = 1``: ``k`` support entries in [0.1, 1], the rest log-uniform over 24 orders
    (``[1e-30, 1e-6]``): the spread of ``D = x`` near a limit at large ``log ρ``."""
    rng = np.random.default_rng(seed)
    w = 10.0 ** rng.uniform(-30, -6, n)
    S = rng.choice(n, k, replace=False)
    w[S] = rng.uniform(0.1, 1.0, k)
    w[S[0]] = 1.0
    return w


def _forward_bound(H, g, xa, xb):
    """A bound on ``‖xa − xb‖/‖xb‖`` for two approximate solutions of ``H x = g`` (``H`` symmetric positive
    definite) from their residuals: ``κ(H) (‖H xa − g‖ + ‖H xb − g‖ + 2 γ_M max‖|H||x|‖)/‖g‖``."""
    M = H.shape[0]
    u = 2.0 ** -53
    gam = M * u / (1 - M * u)
    ev = np.linalg.eigvalsh(H)
    # the computed eigenvalues are those of H + E, ‖E‖ ≤ p(M) u ‖H‖ (backward stable; p(M) u below
    # tol(15, K_ROUNDOFF) = 1e-12 at M = 300): λ_min ≥ λ̂_min − that, λ_max ≤ λ̂_max + that
    e = tol(DPS_FLOAT64, K_ROUNDOFF) * float(ev[-1])
    assert ev[0] > e
    kappa = (float(ev[-1]) + e) / (float(ev[0]) - e)
    rr = sum(float(np.linalg.norm(H @ x - g)) + gam * float(np.linalg.norm(np.abs(H) @ np.abs(x))) for x in (xa, xb))
    return kappa * rr / float(np.linalg.norm(g))


def test_preconditioned_cg_solves_the_newton_system_in_far_fewer_steps():
    p = generate("sparse_signed", 2000, 300, 0, k=30, matrix="dct")
    op = p.A_eff
    n = op.shape[1]
    w = _graded_weights(n, 60, 1)
    g = np.random.default_rng(2).standard_normal(300)
    Ad = to_dense(op)

    pc = _Float64(op, p.y)
    x_pc = pc.hessian_solver(w)(g)
    plain = _Float64(op, p.y)
    plain.use_pc = False
    x_plain = plain.hessian_solver(w)(g)

    mu = pc.lm_shift * float(np.max(w)) * pc.norm2() ** 2
    H = (Ad * w) @ Ad.T + mu * np.eye(300)
    rtol = tol(DPS_FLOAT64, K_SOLVE)
    x_d = np.linalg.solve(H, g)
    assert np.all(np.isfinite(x_pc))
    # CG stops on its own residual, within rtol ‖g‖; recomputed here, the residual also holds the
    # rounding of H x at this condition number, which the dense direct solve's residual measures
    r_d = np.linalg.norm(H @ x_d - g)
    r_pc = np.linalg.norm(H @ x_pc - g)
    assert r_pc <= 2 * rtol * np.linalg.norm(g) + 2 * r_d
    # x_pc − x_d = H⁻¹((H x_pc − g) − (H x_d − g)) and ‖x_d‖ ≥ ‖g‖/‖H‖: the forward error is at most
    # κ(H) (r_pc + r_d)/‖g‖, plus the rounding of the two computed residuals (γ_M ‖|H||x|‖ each)
    assert np.linalg.norm(x_pc - x_d) <= _forward_bound(H, g, x_pc, x_d) * np.linalg.norm(x_d)
    assert pc.pc_columns > 0  # the preconditioner was built (plain CG did not finish in PC_PLAIN_ITER steps)
    assert pc.cg_failures == 0
    # plain CG needs its full budget (or fails); the preconditioned one a small fraction of it
    assert plain.cg_iterations >= 10 * pc.cg_iterations, (plain.cg_iterations, pc.cg_iterations)
    if np.all(np.isfinite(x_plain)):
        assert np.linalg.norm(x_plain - x_pc) <= _forward_bound(H, g, x_plain, x_pc) * np.linalg.norm(x_pc)


def test_matrix_free_projection_with_the_preconditioner_matches_the_dense_one():
    """A projection at ``log β = −2000`` (the support's ``x`` many orders above the rest): matrix-free
    (preconditioned CG) and dense (Cholesky / basis form) agree within the projection's tolerance."""
    p = generate("sparse_signed", 2000, 300, 0, k=30, matrix="dct")
    op = p.A_eff
    n = op.shape[1]
    lb = np.full(n, -2000.0)
    rf = bregman_projection(None, p.y, None, 2, operator=op, log_beta=lb, time_limit=60)
    rd = bregman_projection(to_dense(op), p.y, None, 2, log_beta=lb, time_limit=60)
    assert rf.converged and rd.converged, (rf.message, rd.message)
    assert rf.linear_solver == "cg"
    xf, xd = np.asarray(rf.x, float), np.asarray(rd.x, float)
    # the same support (the largest entries of x), the rest below tol(15, K_SOLVE) of the largest in both
    Ad = to_dense(op)
    top = float(np.max(np.abs(xd)))
    S = np.flatnonzero(np.abs(xd) > tol(DPS_FLOAT64, K_SOLVE) * top)
    c = np.setdiff1d(np.arange(n), S)
    assert np.all(np.abs(xf[c]) <= tol(DPS_FLOAT64, K_SOLVE) * top)
    # on the support: A_S (xf_S − xd_S) = (A xf − y) − (A xd − y) − A_c (xf_c − xd_c), so the difference is
    # at most that over σ_min(A_S) (each residual computed to within γ_n (|A||x| + |y|))
    gam = n * 2.0 ** -53 / (1 - n * 2.0 ** -53)
    res = sum(float(np.linalg.norm(Ad @ x - p.y)) + gam * float(np.linalg.norm(np.abs(Ad) @ np.abs(x) + np.abs(p.y)))
              for x in (xf, xd))
    res += float(np.linalg.norm(Ad[:, c], 2)) * float(np.linalg.norm(xf[c] - xd[c]))
    smin = float(np.linalg.svd(Ad[:, S], compute_uv=False)[-1])
    diff = float(np.linalg.norm(xf[S] - xd[S]))
    assert diff <= res / smin
    # and that bound is small: both residuals at the projections' accepted level, A_S well conditioned
    assert res / smin <= tol(DPS_FLOAT64, K_SOLVE) * max(1.0, top), (diff, res, smin)


def test_the_closed_form_dct_gram_matrix_is_a_s_transpose_a_s():
    """``_dct_gram`` (one FFT) against the dense columns and the unit-vector products (pooled)."""
    import numerics._bregman as B
    from numerics._operators import SignedOperator, SubsampledDCT

    for op in (SignedOperator(SubsampledDCT(500, 80, 3)), SignedOperator(SubsampledDCT(500, 80, 4, signs=False)),
               SubsampledDCT(300, 300, 5)):  # the last has every row, the constant row k = 0 among them
        n = op.shape[1]
        Ad = to_dense(op)
        S = np.unique(np.r_[np.random.default_rng(0).choice(n, 60, replace=False), 0, n - 1, n // 2, n // 2 - 1])
        G = Ad[:, S].T @ Ad[:, S]
        # the dense reference is a sum of M products per entry, within γ_M (|A_S|ᵀ|A_S|) of the exact one;
        # the closed form is one FFT of length 2N and a few roundings per entry: an identity evaluated
        # once, tol(15, K_ROUNDOFF) of the largest entry
        M = Ad.shape[0]
        gam = M * 2.0 ** -53 / (1 - M * 2.0 ** -53)
        Gabs = np.abs(Ad[:, S]).T @ np.abs(Ad[:, S])
        tol_cf = tol(DPS_FLOAT64, K_ROUNDOFF) * np.max(np.abs(G))
        assert np.max(np.abs(B._dct_gram(op, S, S) - G)) <= tol_cf
        gen = _Float64(as_operator(Ad), np.zeros(op.shape[0]))  # a generic operator: the pooled products
        for part in (S[:30], S[10:], S[::2], S):  # only columns new to the pool are applied
            pos = np.searchsorted(S, part)
            # Aᵀ(A e_j) by the same sums of M products as the reference: each within γ_M |A_S|ᵀ|A_S|
            assert np.all(np.abs(gen._gram_cols(part) - G[np.ix_(pos, pos)]) <= 2 * gam * Gabs[np.ix_(pos, pos)])
        dct = _Float64(op, np.zeros(op.shape[0]))  # the closed form, pooled the same way
        for part in (S[:30], S[10:], S[::2], S):
            pos = np.searchsorted(S, part)
            assert np.max(np.abs(dct._gram_cols(part) - G[np.ix_(pos, pos)])) <= tol_cf
