"""The Jacobian of the flow of docs/math.md §2 in the coordinates ``(r, v = log u)`` of the float64
integrator, as elementwise pieces (printed into ``numerics/_derived.py`` by ``theory.export``).

State ``(r, v)``, ``u = e^{v}``, ``m = ‖u‖``, ``ū = u/m``, ``p = ū²``, ``w = r ū``, ``x = w^L``,
``g = Aᵀ(Ax − y)``, ``H = AᵀA``.  The field (``theory.flows.wn_field`` with ``v̇ = u̇/u`` and
``∇ℒ = L w^{L−1} g``) is ``ṙ = −η_r σ``, ``v̇_i = −K (P a_i − σ)`` with ``σ = (L/r)⟨x, g⟩``,
``K = η_u r/m²``, ``P = L r^{L−1}``, ``a_i = ū_i^{L−2} g_i``.  Its partial derivatives, in terms of
``Sq = Σ_k x_k (g_k + (Hx)_k)``:

* ``∂σ/∂r = −σ/r + L² Sq/r²``, ``∂σ/∂v_j = (L²/r)(x_j (g_j + (Hx)_j) − Sq p_j)``;
* ``∂a_i/∂v_j = L ū_i^{L−2} (H_ij x_j − (Hx)_i p_j) + (L − 2)(δ_ij − p_j) a_i``,
  ``∂a_i/∂r = L ū_i^{L−2} (Hx)_i / r``;
* the four blocks ``∂ṙ/∂r``, ``∂ṙ/∂v_j``, ``∂v̇_i/∂r``, ``∂v̇_i/∂v_j`` from these and the rates'
  own derivatives ``∂η_r/∂r``, ``∂K/∂r``, ``∂K/∂v_j`` (constant rates: ``0, K/r, −2K p_j``;
  rates ``(r², 1)``: ``2r, K/r, −2K p_j``; plain GF, ``(η_r, η_u) = (1, m²/r²)``: ``0, −K/r, 0``).

:func:`check_jacobian` is the derivation's check: on a concrete system (``n = 3``, ``M = 2``, exact
rational ``A`` and ``y``, symbolic ``r`` and ``u``) it differentiates the field itself with sympy
for every kind of rates and compares every entry with the pieces assembled from the aggregates.
"""

from __future__ import annotations

import functools

import sympy as sp

from theory._core import CheckResult, L
from theory.flows import grad as _grad, r as _r, sigma as _sigma, u as _u, unorm as _unorm, wn_field

# the aggregates (elementwise arguments of the printed pieces)
r, sigma, Sq = sp.symbols("r sigma Sq", real=True)
x, g, Hx, p = sp.symbols("x g Hx p", real=True)          # of one coordinate
ul2, H_ij, x_j, Hx_i, p_j, a_i, delta_ij = sp.symbols("ul2 H_ij x_j Hx_i p_j a_i delta_ij", real=True)
e_r, de_r_dr, K, dK_dr, dK_dv, dsig_dr, dsig_dv, a, da_dr, da_dv = sp.symbols(
    "e_r de_r_dr K dK_dr dK_dv dsig_dr dsig_dv a da_dr da_dv", real=True)


def dsigma_dr(Lv=L):
    return -sigma / r + Lv ** 2 * Sq / r ** 2


def dsigma_dv(Lv=L):
    return Lv ** 2 * (x * (g + Hx) - Sq * p) / r


def da_dv_expr(Lv=L):
    return Lv * ul2 * (H_ij * x_j - Hx_i * p_j) + (Lv - 2) * (delta_ij - p_j) * a_i


def da_dr_expr(Lv=L):
    return Lv * ul2 * Hx / r


def P_expr(Lv=L):
    return Lv * r ** (Lv - 1)


def J_rr():
    return -de_r_dr * sigma - e_r * dsig_dr


def J_rv():
    return -e_r * dsig_dv


def J_vr(Lv=L):
    P = P_expr(Lv)
    return -dK_dr * (P * a - sigma) - K * (sp.diff(P, r) * a + P * da_dr - dsig_dr)


def J_vv(Lv=L):
    P = P_expr(Lv)
    return -dK_dv * (P * a - sigma) - K * (P * da_dv - dsig_dv)


RATES = {  # (η_r, η_u) as functions of (r, m)
    "constant": lambda rr, m: (sp.Symbol("eta_r", positive=True), sp.Symbol("eta_u", positive=True)),
    "r2": lambda rr, m: (rr ** 2, sp.Integer(1)),
    "plain": lambda rr, m: (sp.Integer(1), m ** 2 / rr ** 2),
}


def _rate_partials(rates, rr, m, Kv, pj):
    """(∂η_r/∂r, ∂K/∂r, ∂K/∂v_j) as stated in the module docstring."""
    return {"constant": (0, Kv / rr, -2 * Kv * pj), "r2": (2 * rr, Kv / rr, -2 * Kv * pj),
            "plain": (0, -Kv / rr, 0)}[rates]


@functools.lru_cache(maxsize=None)
def check_jacobian(Lv: int = 2, rates: str = "constant") -> CheckResult:
    """Differentiate the field of a concrete system with sympy and compare with the pieces."""
    n, M = 3, 2
    A = sp.Matrix([[sp.Rational(3, 2), -1, sp.Rational(1, 3)], [sp.Rational(1, 2), 2, -sp.Rational(5, 4)]])
    y = sp.Matrix([sp.Rational(1, 3), -sp.Rational(2, 7)])
    rr = sp.Symbol("r", positive=True)
    us = sp.symbols("u0:3", positive=True)
    m = sp.sqrt(sum(t ** 2 for t in us))
    ub = [t / m for t in us]
    xs = sp.Matrix([(rr * t) ** Lv for t in ub])
    gs = A.T * (A * xs - y)
    e_r_v, e_u_v = RATES[rates](rr, m)
    grads = [Lv * (rr * t) ** (Lv - 1) * gi for t, gi in zip(ub, gs)]
    sig = sum(t * gr for t, gr in zip(ub, grads))
    rdot_f, udot_f = wn_field(e_r_v, e_u_v)
    field = [rdot_f.subs({_sigma: sig})]
    for i in range(n):
        ud = udot_f.subs({_r: rr, _u: us[i], _unorm: m, _grad: grads[i], _sigma: sig})
        field.append(ud / us[i])
    # ∂/∂v_j = u_j ∂/∂u_j
    J_true = sp.Matrix(n + 1, n + 1, lambda i, j: sp.diff(field[i], rr) if j == 0 else
                       us[j - 1] * sp.diff(field[i], us[j - 1]))
    # aggregates
    H = A.T * A
    Hxs = H * xs
    ps = [t ** 2 for t in ub]
    Sq_v = sum(xs[k] * (gs[k] + Hxs[k]) for k in range(n))
    sig_v = Lv * sum(xs[k] * gs[k] for k in range(n)) / rr
    K_v = e_u_v * rr / m ** 2
    de_r, dK_r, _ = _rate_partials(rates, rr, m, K_v, 0)
    base = {r: rr, sigma: sig_v, Sq: Sq_v}
    dsr = dsigma_dr(Lv).subs(base)
    dsv = [dsigma_dv(Lv).subs({**base, x: xs[j], g: gs[j], Hx: Hxs[j], p: ps[j]}) for j in range(n)]
    ul2s = [t ** (Lv - 2) for t in ub]
    as_ = [ul2s[i] * gs[i] for i in range(n)]
    J = sp.zeros(n + 1, n + 1)
    J[0, 0] = J_rr().subs({de_r_dr: de_r, e_r: e_r_v, sigma: sig_v, dsig_dr: dsr})
    for j in range(n):
        J[0, j + 1] = J_rv().subs({e_r: e_r_v, dsig_dv: dsv[j]})
    for i in range(n):
        dar = da_dr_expr(Lv).subs({ul2: ul2s[i], Hx: Hxs[i], r: rr})
        J[i + 1, 0] = J_vr(Lv).subs({dK_dr: dK_r, K: K_v, a: as_[i], da_dr: dar, dsig_dr: dsr, sigma: sig_v, r: rr})
        for j in range(n):
            dav = da_dv_expr(Lv).subs({ul2: ul2s[i], H_ij: H[i, j], x_j: xs[j], Hx_i: Hxs[i], p_j: ps[j], a_i: as_[i],
                                       delta_ij: 1 if i == j else 0})
            dKv = _rate_partials(rates, rr, m, K_v, ps[j])[2]
            J[i + 1, j + 1] = J_vv(Lv).subs({dK_dv: dKv, K: K_v, a: as_[i], da_dv: dav, dsig_dv: dsv[j],
                                             sigma: sig_v, r: rr})
    # exact comparison at rational points (the entries are algebraic in r, u; several points)
    bad = []
    for pt in ({rr: sp.Rational(7, 5), us[0]: sp.Rational(1, 2), us[1]: sp.Rational(2, 3), us[2]: sp.Rational(3, 4)},
               {rr: sp.Rational(3, 7), us[0]: sp.Rational(5, 3), us[1]: sp.Rational(1, 9), us[2]: 2}):
        if rates == "constant":
            pt = {**pt, sp.Symbol("eta_r", positive=True): sp.Rational(3, 10), sp.Symbol("eta_u", positive=True):
                  sp.Rational(7, 4)}
        D = (J_true - J).subs(pt)
        for i in range(n + 1):
            for j in range(n + 1):
                if sp.expand(sp.radsimp(sp.expand(D[i, j]))) != 0:
                    bad.append((i, j))
    ok = not bad
    return CheckResult(ok, "simplify to zero",
                       f"L = {Lv}, rates {rates}: sympy's Jacobian of the field equals the assembled pieces in every "
                       f"entry at two exact points" + ("" if ok else f"; differs at {sorted(set(bad))}"))
