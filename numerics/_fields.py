"""Hand-written float64 vector fields of docs/math.md §2 — the independent check of ``_derived``.

The integrator (:mod:`numerics._flow64`) assembles its field from the generated
``numerics._derived`` functions; these are typed in by hand from docs/math.md §2, and a test asserts
that both agree on random states.  ``A`` is the effective matrix (``problem.A_eff``).

All functions take the state in the original coordinates: ``w`` for plain GF and for the
``(r², 1)`` flow on ``w``, ``(r, u)`` with a general ``‖u‖`` for WN-GF.
"""

from __future__ import annotations

import numpy as np


def residual(A, y, x):
    """``A x − y``."""
    return A @ x - y


def loss(A, y, w, L):
    """``ℒ(w) = ½‖A w^L − y‖²``."""
    res = A @ (w ** L) - y
    return 0.5 * float(res @ res)


def loss_gradient(A, y, w, L):
    """``∇ℒ(w) = L w^{L−1} ⊙ Aᵀ(A w^L − y)``."""
    g = A.T @ (A @ (w ** L) - y)
    return L * w ** (L - 1) * g


def gf_field(A, y, w, L):
    """Plain GF: ``ẇ = −∇ℒ(w)``."""
    return -loss_gradient(A, y, w, L)


def r2_field_w(A, y, w, L):
    """Rates ``(r², 1)`` written on ``w``: ``ẇ = −‖w‖² ∇ℒ(w)``."""
    return -float(w @ w) * loss_gradient(A, y, w, L)


def wn_field(A, y, r, u, L, eta_r, eta_u):
    """WN-GF with constant rates: returns ``(ṙ, u̇)``.

    ``ṙ = −η_r ⟨∇ℒ(w), ū⟩``, ``u̇ = −η_u (r/‖u‖)(I − ūūᵀ)∇ℒ(w)``, ``w = r ū``, ``ū = u/‖u‖``.
    """
    m = float(np.linalg.norm(u))
    ubar = u / m
    grad = loss_gradient(A, y, r * ubar, L)
    sigma = float(ubar @ grad)
    r_dot = -eta_r * sigma
    u_dot = -eta_u * (r / m) * (grad - ubar * sigma)
    return r_dot, u_dot


def r2_field(A, y, r, u, L):
    """WN-GF with the time-dependent rates ``(η_r, η_u) = (r², 1)``: returns ``(ṙ, u̇)``."""
    return wn_field(A, y, r, u, L, r * r, 1.0)


def log_L(v, L):
    """The ``L``-logarithm ``(v^{2−L} − 1)/(2 − L)``; ``log v`` at ``L = 2``."""
    if L == 2:
        return np.log(v)
    return (v ** (2 - L) - 1.0) / (2 - L)


def h_eta(r, u, r0, ubar0, L, eta_tilde):
    """The WN invariant ``h_η = log_L(ū e^{s}) − log_L(ū0)``, ``s = (r² − r0²)/(2η̃)``."""
    ubar = u / np.linalg.norm(u)
    s = (r * r - r0 * r0) / (2.0 * eta_tilde)
    if L == 2:  # log(ū e^s) without forming e^s (which may overflow)
        return np.log(ubar) + s - np.log(ubar0)
    return log_L(ubar * np.exp(s), L) - log_L(ubar0, L)


def h_plain(w, w0, L):
    """The plain-GF (and ``(r², 1)``) invariant ``log_L(w) − log_L(w0)``."""
    if L == 2:
        return np.log(w) - np.log(w0)
    return log_L(w, L) - log_L(w0, L)


def rho(r, r0, eta_tilde):
    """Magnification ``ρ = (r0/r) exp((r² − r0²)/(2η̃))``."""
    return (r0 / r) * np.exp((r * r - r0 * r0) / (2.0 * eta_tilde))
