"""The step sizes of the ``scaling`` experiment come from ``_common.gd_step``/``wn_step``: the
curvature on the products of ``A`` alone (``on_A``, the signed model's ``A diag(d₊² + d₋²) Aᵀ``)
is the curvature of ``A_eff`` (docs/math.md §2.4's GD on the effective model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, tol
from numerics._problem import generate
from wnbias.experiments import _common as C

RT = tol(DPS_FLOAT64, K_ROUNDOFF)


@pytest.mark.parametrize("model,kind", [("signed", "sparse_signed"), ("positive", "sparse_positive")])
@pytest.mark.parametrize("L", [2, 3])
def test_curvature_on_A_is_the_curvature_of_A_eff(model, kind, L):
    p = generate(kind, 60, 10, 3, k=3, model=model)
    w = np.maximum(C.effective(p, np.asarray(p.x_true)) ** (1.0 / L), 0.05)
    d = L * w ** (L - 1)
    exact = float(np.linalg.norm(p.A_eff * d[None, :], 2) ** 2)  # the full SVD's largest singular value
    for on_A in (False, True):
        assert C.curvature(p, L, w, rtol=1e-12, on_A=on_A) == pytest.approx(exact, rel=RT, abs=0)


def test_scaling_steps_are_the_common_steps():
    """``scaling._steps``: ``gd_step`` and ``wn_step`` at the experiment's tolerance, the curvature
    shared when both use the same ``α``, and ``wn_step`` computing its own otherwise."""
    from wnbias.experiments import scaling

    s = scaling.settings(quick=True)
    p = scaling._problem("gaussian", 400, 60, 0, 6)
    z, a = np.asarray(p.x_true), float(s["alpha"])
    kw = dict(rtol=scaling.CURVATURE_RTOL, on_A=True)
    for r0 in (a * math.sqrt(p.n), 3 * a * math.sqrt(p.n)):
        mu_gd, mu_wn = scaling._steps(p, s, a, r0, z)
        assert mu_gd == C.gd_step(p, s["L"], a, z, s["step_c"], **kw)
        assert mu_wn == C.wn_step(p, s["L"], r0, s["eta_tilde"], z, s["step_c"], **kw)
