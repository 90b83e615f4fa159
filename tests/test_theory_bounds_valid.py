"""The derived ℓ1-gap bounds of theory.bounds hold on actual Bregman projections.

Independent of the rest of numerics: the projection of a uniform β = α^L onto
{Az = y, z ≥ 0} is computed here by damped Newton on the convex dual
ψ(ν) = Σ F*(∇F(β) + Aᵀν) − ⟨y, ν⟩ (F* the convex conjugate, z(ν) = (∇F)^{-1}(θ)),
and z* = argmin ‖z‖₁ by scipy's LP; then S − ‖z*‖₁ ≤ bound must hold, for L > 2 also the
sharpened bound of docs/math.md §5.1 (2/L times the §5 one).
"""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import sympy as sp
from hypothesis import example, given, strategies as st
from scipy.optimize import linprog

from numerics import _derived as D
from numerics._precision import DPS_FLOAT64, K_SOLVE, tol, workdps
from theory import bounds


DPS = 30


@functools.lru_cache(maxsize=None)
def _sharp(L):
    """The derived sharpened bound ``α^{L−2} n^{(L−2)/L} S^{2/L}`` as an mpmath function of ``(S, n, α)``."""
    return sp.lambdify((bounds.S, bounds.n, bounds.alpha), bounds.sharp_chain(sp.Integer(L))[1], "mpmath")


def _projection(A, y, beta, L):
    """Damped Newton on the dual at DPS digits (the projection is stiff: components span
    hundreds of orders of magnitude, so float64 stalls near a residual of 1e-9).

    ``A`` is an mpmath matrix, ``y`` a list of mpf, ``beta`` an mpf; returns ``(z, converged)``.
    Armijo on ψ far away, on the residual ‖Az − y‖ near the end.
    """
    M, N = A.rows, A.cols
    theta0 = D.grad_F(beta, L, mpmath)

    def psi(nu):
        th = [theta0 + mpmath.fsum(A[m, i] * nu[m] for m in range(M)) for i in range(N)]
        if L > 2 and any(1 + (2 - L) * t <= 0 for t in th):
            return mpmath.inf, None
        z = [D.grad_F_inv(t, L, mpmath) for t in th]
        val = mpmath.fsum(t * zi - D.F(zi, L, mpmath) for t, zi in zip(th, z)) - mpmath.fsum(
            a * b for a, b in zip(y, nu))
        return val, z

    def residual(z):
        return [mpmath.fsum(A[m, i] * z[i] for i in range(N)) - y[m] for m in range(M)]

    nu = [mpmath.mpf(0)] * M
    val, z = psi(nu)
    target = tol(DPS, K_SOLVE) * max(1, mpmath.norm(y))
    for _ in range(300):
        res = residual(z)
        rn = mpmath.norm(res)
        if rn <= target:
            return z, True
        c = [1 / D.F_hess(zi, L, mpmath) for zi in z]
        H = mpmath.matrix(M, M)
        for a in range(M):
            for b in range(M):
                H[a, b] = mpmath.fsum(A[a, i] * c[i] * A[b, i] for i in range(N))
        step = mpmath.lu_solve(H, mpmath.matrix(res))
        dec = mpmath.fsum(res[m] * step[m] for m in range(M))
        t = mpmath.mpf(1)
        while t > mpmath.mpf(10) ** -30:
            v2, z2 = psi([nu[m] - t * step[m] for m in range(M)])
            if z2 is not None and (v2 <= val - t * dec / 10 ** 4
                                   or mpmath.norm(residual(z2)) <= (1 - t / 10 ** 4) * rn):
                break
            t /= 2
        else:
            return z, False
        nu, val, z = [nu[m] - t * step[m] for m in range(M)], v2, z2
    return z, False


@given(L=st.integers(2, 4), seed=st.integers(0, 2 ** 31), alpha=st.floats(0.02, 0.6))
@example(L=2, seed=0, alpha=0.1)
@example(L=3, seed=1, alpha=0.3)
def test_gap_is_below_the_derived_bound(L, seed, alpha):
    rng = np.random.default_rng(seed)
    N, M = 8, 3
    A = rng.standard_normal((M, N))
    x_true = np.zeros(N)
    x_true[rng.choice(N, 2, replace=False)] = rng.uniform(0.5, 2, 2)
    y = A @ x_true
    lp = linprog(np.ones(N), A_eq=A, b_eq=y, bounds=[(0, None)] * N, method="highs")
    assert lp.status == 0
    Z = float(lp.fun)
    with workdps(DPS):
        Am = mpmath.matrix(A.tolist())
        ym = [mpmath.fsum(Am[m, i] * mpmath.mpf(x_true[i]) for i in range(N)) for m in range(M)]
        a = mpmath.mpf(alpha)
        x, ok = _projection(Am, ym, a ** L, L)
        assert ok, "dual Newton did not converge"
        assert all(v > 0 for v in x)
        S = mpmath.fsum(x)
        if L == 2:
            bound = D.l1_bound_L2(mpmath.mpf(Z), S, N, a, mpmath)
        else:
            bound = D.l1_bound_Lgt2(S, N, a, L, mpmath)
        slack = tol(DPS_FLOAT64, K_SOLVE) * max(1, S)  # z* comes from a float64 LP
        assert S - Z <= bound + slack, (S - Z, bound)
        if L > 2:  # the sharpened bound of docs/math.md §5.1 (theory.bounds.sharp_chain), 2/L of the above
            sharp = _sharp(L)(S, N, a)
            assert S - Z <= sharp + slack, (S - Z, sharp)
        assert S - Z >= -slack  # z* is the ℓ1 minimiser over the same set
