"""High-precision polish of the ℓ1 LP (numerics._lp_polish): certified optimal basis at dps digits."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy.optimize import linprog

from numerics import Status
from numerics._lp_polish import l1_polish_mp
from numerics._precision import DPS_FLOAT64, K_SOLVE, tol, workdps
from numerics._problem import generate


def _highs(p):
    """The float64 LP solved here directly with HiGHS (user coordinates, optimal value)."""
    r = linprog(np.ones(p.n), A_eq=p.A_eff, b_eq=p.y, bounds=(0, None), method="highs")
    assert r.status == 0
    return p.to_user(r.x), r.fun


@pytest.mark.parametrize("kind,model", [("sparse_positive", "positive"), ("sparse_signed", "signed"),
                                        ("gaussian", "signed")])
def test_polish_matches_highs_and_is_feasible_to_dps(kind, model):
    dps = 40
    p = generate(kind, 40, 12, 4, model=model)
    z, value = _highs(p)
    pol = l1_polish_mp(p, z, dps)
    assert pol.status is Status.CONVERGED, pol.message
    assert abs(float(pol.value) - value) <= tol(DPS_FLOAT64, K_SOLVE + 1) * max(1.0, abs(value))
    # independent checks at dps digits: primal feasibility, the dual certificate, zero gap
    A = p.A_eff
    M, n = A.shape
    scale = max(1.0, float(np.abs(p.y).max()), float(np.abs(A).max()))
    with workdps(dps):
        t = tol(dps, K_SOLVE) * scale
        ze = list(pol.z) if model == "positive" else [max(v, 0) for v in pol.z] + [max(-v, 0) for v in pol.z]
        rows = [[mpmath.mpf(float(a)) for a in A[i]] for i in range(M)]
        res = mpmath.norm([mpmath.fdot(rows[i], ze) - mpmath.mpf(float(p.y[i])) for i in range(M)])
        assert res <= t
        if model == "positive":
            assert min(pol.z) >= -t
        nu = pol.dual
        assert all(1 - mpmath.fdot((rows[i][j] for i in range(M)), nu) >= -t for j in range(n))
        dual_value = mpmath.fdot(nu, [mpmath.mpf(float(v)) for v in p.y])
        primal_value = mpmath.fsum(abs(v) for v in pol.z)
        assert abs(primal_value - dual_value) <= t * max(1, abs(primal_value))
    assert len(pol.basis) == M


def test_non_vertex_is_reported():
    p = generate("gaussian", 20, 6, 1, model="positive")
    # a strictly positive feasible point (not a vertex): a convex combination of the LP vertex and a dense solution
    z_v, _ = _highs(p)
    from numerics._bregman import bregman_projection

    dense = bregman_projection(p.A, p.y, np.ones(20), 2).x
    pol = l1_polish_mp(p, 0.5 * z_v + 0.5 * dense, 30)
    assert pol.status is Status.FAILED
    assert "not a vertex" in pol.message


def test_bad_input():
    p = generate("sparse_positive", 10, 4, 0)
    with pytest.raises(ValueError, match="z"):
        l1_polish_mp(p, np.zeros(3), 30)
    with pytest.raises(ValueError, match="dps"):
        l1_polish_mp(p, np.zeros(10), 0)
