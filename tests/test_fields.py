"""The hand-written fields (numerics._fields) against the field assembled from numerics._derived."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import _derived
from numerics import _fields as fields
from numerics import _formulas as formulas
from numerics._config import FlowConfig
from numerics._flow64 import _Flow
from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, tol

REL = tol(DPS_FLOAT64, K_ROUNDOFF + 1)  # 1e-11: a field evaluated once, n-term sums


def _draw(seed, n, M):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, n)) / np.sqrt(M)
    y = rng.standard_normal(M)
    u = rng.uniform(0.05, 2.0, n)  # a general ‖u‖
    r = rng.uniform(0.2, 3.0)
    return A, y, u, r


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


states = dict(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 12), L=st.integers(2, 5),
              eta_r=st.floats(1e-3, 10.0), eta_u=st.floats(1e-3, 10.0))


@given(**states)
def test_wn_field_matches_derived(seed, n, L, eta_r, eta_u):
    A, y, u, r = _draw(seed, n, max(1, n // 2))
    cfg = FlowConfig(L=L, r0=1.0, eta_r=eta_r, eta_u=eta_u)
    z = np.concatenate([[r], np.log(u)])
    derived = _Flow(A, y, cfg, use_derived=True)
    assert derived.D is not None
    out = derived.rhs(0.0, z)
    r_dot, u_dot = fields.wn_field(A, y, r, u, L, eta_r, eta_u)
    # tolerances relative to the size of what cancels (σ = ⟨ū, ∇ℒ⟩ and ∇ℒ − ūσ may cancel; the two
    # implementations take A.T products through different BLAS kernels, so no bit pattern is shared)
    m = np.linalg.norm(u)
    grad = fields.loss_gradient(A, y, r * u / m, L)
    sigma_size = float(np.abs(u / m) @ np.abs(grad))
    assert abs(out[0] - r_dot) <= REL * 10 * eta_r * max(sigma_size, 1e-300)
    u_size = eta_u * (r / m) * (np.max(np.abs(grad)) + np.max(u / m) * sigma_size)
    assert np.max(np.abs(out[1:] * u - u_dot)) <= REL * max(u_size, 1e-300)


@given(**states)
def test_rates_r2_and_plain_match(seed, n, L, eta_r, eta_u):
    A, y, u, r = _draw(seed, n, max(1, n // 2))
    u = u / np.linalg.norm(u)  # ẇ = −‖w‖²∇ℒ for rates (r², 1) holds on ‖u‖ = 1 (docs/math.md §2.3)
    z = np.concatenate([[r], np.log(u)])
    m = np.linalg.norm(u)
    w = r * u / m
    for rates, ref in (("r2", fields.r2_field_w(A, y, w, L)), ("plain", fields.gf_field(A, y, w, L))):
        cfg = FlowConfig(L=L, rates=rates)
        out = _Flow(A, y, cfg, use_derived=True).rhs(0.0, z)
        r_dot, v_dot = out[0], out[1:]
        # ẇ = ṙ ū + r (I − ūūᵀ) u̇ / ‖u‖ with u̇ = u ⊙ v̇
        ub = u / m
        ud = u * v_dot
        w_dot = r_dot * ub + r * (ud - ub * (ub @ ud)) / m
        assert _rel(w_dot, ref) <= REL
    # the (r², 1) field on (r, u) is the WN field with those rates
    rd, udot = fields.r2_field(A, y, r, u, L)
    out = _Flow(A, y, FlowConfig(L=L, rates="r2"), use_derived=True).rhs(0.0, z)
    assert _rel(out[1:] * u, udot) <= REL


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 10), L=st.integers(2, 5))
def test_derived_elementwise_functions(seed, n, L):
    A, y, u, r = _draw(seed, n, max(1, n // 2))
    w = r * u / np.linalg.norm(u)
    g = A.T @ (A @ w**L - y)
    assert _rel(_derived.loss_grad(w, g, L, np), fields.loss_gradient(A, y, w, L)) <= REL
    assert _rel(_derived.gf_w_dot(_derived.loss_grad(w, g, L, np), np), fields.gf_field(A, y, w, L)) <= REL
    assert _rel(_derived.r2_w_dot(w @ w, _derived.loss_grad(w, g, L, np), np), fields.r2_field_w(A, y, w, L)) <= REL
    v = np.abs(u) + 0.1
    assert _rel(_derived.log_L(v, L, np), fields.log_L(v, L)) <= REL
    assert abs(_derived.rho(r, 1.3, 0.7, np) - fields.rho(r, 1.3, 0.7)) <= REL * fields.rho(r, 1.3, 0.7)


def test_u_dot_is_orthogonal_to_u():
    A, y, u, r = _draw(3, 9, 4)
    _, u_dot = fields.wn_field(A, y, r, u, 3, 0.4, 1.3)
    assert abs(u_dot @ u) <= REL * np.linalg.norm(u_dot) * np.linalg.norm(u)


def test_loss_decreases_along_field():
    # d/dt ℒ̃ = −η_r ṙ²/η_r² − η_u ‖u̇‖²/η_u² ≤ 0 (docs/math.md §3.2), checked by a tiny Euler step
    A, y, u, r = _draw(5, 8, 3)
    L, er, eu = 2, 0.3, 1.0
    rd, ud = fields.wn_field(A, y, r, u, L, er, eu)
    h = 1e-7
    l0 = fields.loss(A, y, r * u / np.linalg.norm(u), L)
    u1 = u + h * ud
    l1 = fields.loss(A, y, (r + h * rd) * u1 / np.linalg.norm(u1), L)
    predicted = -(rd**2 / er + (ud @ ud) / eu)
    assert (l1 - l0) / h == pytest.approx(predicted, rel=1e-5)


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 10), L=st.integers(2, 5))
def test_formulas_match_the_hand_written_check(seed, n, L):
    """numerics._formulas (the one home, printed from theory/) against the hand-written numerics._fields:
    log_L, the invariant h_η (from log ū and s), the plain invariant, and ρ from log ρ."""
    A, y, u, r = _draw(seed, n, max(1, n // 2))
    rng = np.random.default_rng(seed)
    ubar0 = rng.uniform(0.2, 1.0, n)
    ubar0 /= np.linalg.norm(ubar0)
    r0, et = 0.8, 0.9
    v = np.abs(u) + 0.1
    assert _rel(formulas.log_L(v, L), fields.log_L(v, L)) <= REL
    s = formulas.s_of_r(r, r0, et)
    h = formulas.invariant_h(formulas.log_direction(u), np.log(ubar0), s, L)
    want = fields.h_eta(r, u, r0, ubar0, L, et)
    # h is a difference of L-logarithms of size ‖log_L(ū0)‖: compare relative to that
    scale = max(float(np.max(np.abs(want))), float(np.max(np.abs(fields.log_L(ubar0, L)))))
    assert float(np.max(np.abs(h - want))) <= REL * scale
    w, w0 = r * u / np.linalg.norm(u), r0 * ubar0
    hp = formulas.plain_invariant(w, w0, L)
    want = fields.h_plain(w, w0, L)
    scale = max(float(np.max(np.abs(want))), float(np.max(np.abs(fields.log_L(w0, L)))))
    assert float(np.max(np.abs(hp - want))) <= REL * scale
    assert abs(np.exp(formulas.log_rho(r, r0, et)) - fields.rho(r, r0, et)) <= REL * fields.rho(r, r0, et)
