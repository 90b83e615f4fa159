"""The range basis the Taylor integrator's invariant check uses (``numerics._formulas.range_basis`` at dps).

Claims tested: the binomial series of ``(I + E)^{−1/2}`` that orthonormalises the preconditioned rows is
the true inverse square root to the accuracy it promises (``bound^{k+1}``) and refuses a bound where it
would not converge; and the basis of a benchmark-sized problem is orthonormal at dps and spans the rows
of ``A`` (each row taken exactly: ``mpf`` of a float64 is exact).
"""

from __future__ import annotations

import flint
import mpmath
import numpy as np
import pytest

from numerics import _formulas as F
from numerics._precision import workdps
from numerics._problem import generate


@pytest.mark.parametrize("seed,r,size", [(0, 6, 1e-6), (1, 12, 1e-10), (2, 3, 1e-3)])
def test_inverse_square_root_series_is_accurate_to_its_bound(seed, r, size):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((r, r)) * size
    Ef = (X + X.T) / 2
    saved = flint.ctx.prec
    flint.ctx.prec = 300
    try:
        E = flint.arb_mat(Ef.tolist())
        eye = flint.arb_mat(r, r, [1 if i == j else 0 for i in range(r) for j in range(r)])
        bound = r * float(np.max(np.abs(Ef)))
        tol = 1e-80
        S = F._inv_sqrt_series(E, eye, bound, tol)
        err = S * (eye + E) * S - eye  # zero for the exact inverse square root
        worst = max(abs(float(v.mid())) + float(v.rad()) for v in err.entries())
    finally:
        flint.ctx.prec = saved
    # the neglected terms are C(-1/2, k) E^k for k > the last one taken: below bound^{k+1} <= tol
    assert worst <= 10 * tol + 2.0 ** -290, worst


@pytest.mark.parametrize("dps", [38, 60])
def test_range_basis_of_a_benchmark_problem_is_orthonormal_and_spans_the_rows(dps):
    pb = generate("sparse_positive", 30, 12, 0)
    A = np.asarray(pb.A_eff, dtype=float)
    Q = F.range_basis(A, dps=dps)
    n, r = Q.shape
    assert r == np.linalg.matrix_rank(A)
    with workdps(dps):
        tol = mpmath.mpf(10) ** (-dps + 2)
        for i in range(r):
            for j in range(i, r):
                g = mpmath.fdot(Q[:, i].tolist(), Q[:, j].tolist())
                assert abs(g - (1 if i == j else 0)) <= tol, (i, j, g)
        # every row of A lies in the span: ‖a − QQᵀa‖ ≤ tol ‖a‖ (a taken exactly)
        for m in range(A.shape[0]):
            a = [mpmath.mpf(float(v)) for v in A[m]]
            c = [mpmath.fdot(Q[:, j].tolist(), a) for j in range(r)]
            res = [a[i] - mpmath.fdot(Q[i, :].tolist(), c) for i in range(n)]
            assert mpmath.sqrt(mpmath.fdot(res, res)) <= tol * mpmath.sqrt(mpmath.fdot(a, a))


@pytest.mark.parametrize("bound", [1.0, 2.5, float("nan"), -0.1])
def test_inverse_square_root_series_refuses_a_divergent_bound(bound):
    eye = flint.arb_mat(2, 2, [1, 0, 0, 1])
    with pytest.raises(ValueError):
        F._inv_sqrt_series(eye * 0, eye, bound, 1e-30)
