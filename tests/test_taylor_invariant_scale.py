"""The Taylor engine's invariant check is relative to the precision ``h`` is held to.

Claims tested: at ``dps`` digits ``h = log_L(ū e^s) − log_L(ū0)`` is held only to about
``10^-dps ‖log_L(ū0)‖``, so ``_InvariantCheck`` divides by ``max(‖h‖, ‖log_L(ū0)‖)`` (as the float64
engine does, ``numerics._flow64.invariant_scale``).  A start with a component of ``1e-40`` at
``L = 3`` (``‖log_L(ū0)‖ ≈ 1e40``) then reports a rounding-level residual at ``dps = 30`` (relative to
``‖h‖`` alone it read 0.61: the rounding of ``h``), and the check still detects an ``h`` that leaves
``range(Aᵀ)`` by a small multiple of its own precision floor.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from numerics._config import FlowConfig
from numerics._precision import K_ACCUMULATED, tol, workdps
from numerics._problem import generate
from numerics._taylor import _InvariantCheck, integrate_taylor


def _u0(n, tiny):
    u0 = np.ones(n)
    if tiny is not None:
        u0[0] = tiny
    return u0 / np.linalg.norm(u0)


@pytest.mark.parametrize("L, tiny", [(3, 1e-40), (2, 1e-40), (3, None)])
def test_residual_at_the_precision_floor(L, tiny):
    p = generate("sparse_positive", 12, 5, 3)
    cfg = FlowConfig(L=L, r0=1, eta_r="0.5", eta_u=1, u0=_u0(p.n, tiny))
    res = integrate_taylor(p, cfg, dps=30, t_max=2)
    assert float(np.max(res.invariant_residual)) <= tol(30, K_ACCUMULATED)


@pytest.mark.parametrize("tiny", [1e-40, None])
def test_the_check_still_sees_a_kernel_component(tiny):
    """A vector of ``range(Aᵀ)`` formed exactly at dps reads at rounding level; moved off ``range(Aᵀ)`` by
    ``10^-20 max(‖h‖, ‖log_L(ū0)‖)`` (far above the 30-digit floor) it reads about ``10^-20``: the larger
    divisor does not blind the check.  ``tiny=None`` (uniform ``ū0``) has ``‖h‖`` and ``‖log_L(ū0)‖`` of one
    size, so the divisor there is not the scale alone."""
    from numerics._mp_linalg import rmatvec, to_mp_rows

    p = generate("sparse_positive", 12, 5, 3)
    cfg = FlowConfig(L=3, r0=1, eta_r="0.5", eta_u=1, u0=_u0(p.n, tiny))
    A = np.asarray(p.A_eff, dtype=float)
    k = np.linalg.svd(A)[2][-1]  # a unit vector of ker(A) (float64 is enough: the test needs its size only)
    with workdps(30):
        chk = _InvariantCheck(p, cfg, 30)
        g = [mpmath.mpf(float(v)) for v in np.linspace(-1, 1, A.shape[0])]
        in_range = np.array(rmatvec(to_mp_rows(A, dps=30), g, dps=30), dtype=object)
        if tiny is None:  # ‖h‖ of the size of the scale
            in_range = in_range * (chk.scale / mpmath.sqrt(mpmath.fsum(v * v for v in in_range)))
        size = max(mpmath.sqrt(mpmath.fsum(v * v for v in in_range)), chk.scale)
        kv = np.array([mpmath.mpf(float(v)) for v in k], dtype=object)
        base = chk.residual(in_range)
        bumped = chk.residual(in_range + kv * (mpmath.mpf(10) ** -20 * size))
    assert base <= tol(30, K_ACCUMULATED)
    assert 0.5e-20 < bumped < 2e-20
