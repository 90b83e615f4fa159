"""``L = 2`` at tiny ``β``: the limit at the solution of the ℓ1 LP, enclosed by Lagrangian duality
(docs/math.md §4.7).

At ``L = 2`` the projection minimises ``Φ_t(z) = Σ_j (λ₀_j + t) z_j + z_j log z_j − z_j`` over
``F = {z ≥ 0 : Az = y}``, with ``λ_j = −log β_j`` split into a reference ``λ₀`` and a common shift ``t``
(``2 log ρ`` up to a constant).  Its value ``Φ*(t)`` is concave in ``t`` with derivative
``S(t) = Σ_j x*_j(t)``, so for every ``h > 0``, every ``z ∈ F`` and every pair of dual vectors

    (D_{t+h}(ν₊) − Φ_t(z)) / h  ≤  S(t)  ≤  (Φ_t(z) − D_{t−h}(ν₋)) / h,
    D_τ(ν) = ⟨y, ν⟩ − Σ_j exp(a_jᵀν − λ₀_j − τ)        (weak duality: D_τ(ν) ≤ Φ*(τ) for every ν).

With ``ν_± = (t ± h) μ + ν₁``, ``s_j = 1 − a_jᵀμ``, ``g_j = a_jᵀν₁ − λ₀_j`` and ``Az = y`` (so that
``⟨y, ν⟩ = Σ_j z_j a_jᵀν`` exactly) the two sides become sums of one term per coordinate
(:meth:`Certificate.bounds`).  The bounds hold for *any* ``z ∈ F``, ``μ``, ``ν₁`` and ``h``; they are narrow
when ``z`` is near the solution of ``min{Σz : z ∈ F}``, ``μ`` near its dual (``s ≈ 0`` on the support, and
``s ≥ σ > 0`` off it), ``ν₁ ≈ λ̄μ`` plus a fit on the support (so that ``g_j ≈ −λ̄ s_j`` off it, ``λ̄`` the mean of
``λ₀`` on the support) and ``(λ̄ + t − h)σ`` large: the regime of tiny ``β``, where ``λ̄`` is in the thousands.

What is computed in float64 is only a proposal: an interior-point solution of the ℓ1 LP
(:func:`ipm_l1`) gives the support ``T``, ``μ`` and a strictly positive point; a weighted correction
makes that point feasible to the rounding level.  The point ``z`` used is then defined *exactly*:
``z_j`` (float64 values) off a basis ``B ⊇ T`` and ``z_B = A_B⁻¹(y − A_{B^c} z_{B^c})``, enclosed by a
verified float64 solve (an approximate inverse ``R`` with ``‖I − R A_B‖_∞ < 1`` bounded by Higham's
``γ_k`` error terms, and the residual summed exactly: :func:`numerics._exact64._residual_parts`).  Its
entries must come out positive.  Every ``a_jᵀμ`` and ``a_jᵀν₁`` is enclosed in the same way, and the
per-coordinate sums are formed in python-flint balls from the exact ``λ₀``.  Nothing else is trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.linalg

from numerics._bregman import _gram64
from numerics._exact64 import _dd_add, _gamma, _residual_parts, _two_products

_IPM_MAX_ITER = 80
_GAP_TARGET = 1e-14  # Σ_{j∉T} s_j z_j aimed at, relative to Σz (the bounds widen with it)
_U = 2.0 ** -53


def _up_k(x, k: int):
    """A float64 upper bound of a nonnegative float64 result ``x`` of at most ``k`` roundings (``x`` itself
    an upper bound up to that rounding), with room for underflow."""
    return x * (1 + 2 * _gamma(k + 2)) + 1e-300


def _chol(H):
    M = H.shape[0]
    reg = 1e-15 * float(np.trace(H)) / M
    for _ in range(6):
        try:
            return scipy.linalg.cho_factor(H + reg * np.eye(M), check_finite=False)
        except np.linalg.LinAlgError:
            reg *= 100
    return None


@dataclass
class IPMResult:
    z: np.ndarray
    mu: np.ndarray
    s: np.ndarray
    iterations: int
    gap: float
    residual: float


def ipm_l1(A, y, *, clock=None, rtol: float = 1e-12, max_iter: int = _IPM_MAX_ITER) -> Optional[IPMResult]:
    """``min{Σz : Az = y, z ≥ 0}`` by Mehrotra's predictor–corrector interior-point method (dense normal
    equations ``A diag(z/s) Aᵀ``, one Cholesky factorisation per iteration).  Returns the last iterate
    (strictly positive ``z``; the dual slacks ``s = 1 − Aᵀμ``, positive up to the dual residual) once the
    duality measure ``zᵀs`` and the primal residual are below ``rtol`` relative to ``Σz`` and ``‖y‖``; None
    when it does not get there.
    A proposal only: nothing downstream trusts it (module docstring)."""
    M, n = A.shape
    c = np.ones(n)
    ynorm = float(np.linalg.norm(y)) or 1.0
    cf = _chol(_gram64(A, c))
    if cf is None:
        return None
    z = A.T @ scipy.linalg.cho_solve(cf, y, check_finite=False)
    mu = scipy.linalg.cho_solve(cf, A @ c, check_finite=False)
    s = c - A.T @ mu
    z = z + max(-1.5 * float(z.min()), 0.0)
    s = s + max(-1.5 * float(s.min()), 0.0)
    zs = float(z @ s)
    if not (zs > 0 and float(s.sum()) > 0 and float(z.sum()) > 0):
        return None
    z = z + 0.5 * zs / float(s.sum())
    s = s + 0.5 * zs / float(z.sum())

    def steplen(v, dv):
        neg = dv < 0
        return min(1.0, float((-v[neg] / dv[neg]).min())) if neg.any() else 1.0

    for it in range(max_iter):
        if clock is not None:
            clock.check("in the interior-point ℓ1 LP of the L = 2 vertex enclosure")
        rp = y - A @ z
        rd = c - A.T @ mu - s
        pobj = float(z.sum())
        gap = float(z @ s)
        if not (math.isfinite(pobj) and math.isfinite(gap)):
            return None
        if gap <= rtol * pobj and float(np.linalg.norm(rp)) <= rtol * ynorm:
            return IPMResult(z, mu, 1 - A.T @ mu, it, gap, float(np.linalg.norm(rp)))
        d = z / s
        cf = _chol(_gram64(A, d))
        if cf is None:
            return None

        def solve(rc):
            rhs = rp - A @ (rc / s) + A @ (d * rd)
            dmu = scipy.linalg.cho_solve(cf, rhs, check_finite=False)
            dsv = rd - A.T @ dmu
            return rc / s - d * dsv, dmu, dsv

        dza, _, dsa = solve(-z * s)
        ap, ad = steplen(z, dza), steplen(s, dsa)
        tau = gap / n
        if not tau > 0:
            return None
        tau_aff = float((z + ap * dza) @ (s + ad * dsa)) / n
        sigma = (tau_aff / tau) ** 3
        dz, dmu, ds = solve(sigma * tau - z * s - dza * dsa)
        ap, ad = 0.99 * steplen(z, dz), 0.99 * steplen(s, ds)
        z = z + ap * dz
        mu = mu + ad * dmu
        s = s + ad * ds
    return None


def support(z: np.ndarray, M: int, min_ratio: float = 1e4) -> Optional[np.ndarray]:
    """The support of an interior-point ℓ1 solution: the entries above the widest gap (in ``log z``)
    among the ``M + 1`` largest; None when that gap is narrower than ``min_ratio``."""
    order = np.argsort(-z, kind="stable")
    if not np.all(z[order[: M + 1]] > 0):
        return None
    top = np.log(z[order[: M + 1]])
    if top.size < 2:
        return None
    k = int(np.argmax(top[:-1] - top[1:])) + 1
    if not (top[k - 1] - top[k] >= math.log(min_ratio)):
        return None
    return np.sort(order[:k])


def _residual_fast(A, parts, y, extra=None):
    """``y − A(Σ parts) − extra`` to about double-double accuracy: error-free products (TwoProduct) over the
    columns where an entry is within ``2⁻²⁶`` of the part's largest, a plain float64 product over the rest
    (their rounding is below double-double's relative to the largest terms), then a pairwise cascade of
    TwoSums whose errors are summed in float64.  Fast, not rigorous: for proposals only."""
    M = A.shape[0]
    err = np.zeros(M)
    cols = []
    for x in parts:
        xmax = float(np.abs(x).max()) if x.size else 0.0
        if not xmax > 0:
            continue
        big = np.abs(x) >= xmax * 2.0 ** -26
        xb = np.where(big, x, 0.0)
        P, E, _ = _two_products(A, xb)
        cols.append(P)
        err += E.sum(axis=1)
        if not np.all(big):
            cols.append((A[:, ~big] @ x[~big])[:, None])
    if extra is not None:
        cols.append(extra[:, None])
    S = np.concatenate(cols + [-y[:, None]], axis=1)
    while S.shape[1] > 1:
        if S.shape[1] % 2:
            S = np.concatenate([S, np.zeros((M, 1))], axis=1)
        a, b = S[:, 0::2], S[:, 1::2]
        t = a + b
        bb = t - a
        err += ((a - (t - bb)) + (b - bb)).sum(axis=1)
        S = t
    return -(S[:, 0] + err)


def weighted_correction(A, y, z, steps: int = 25, clock=None):
    """``(z', ok)``: ``z`` moved onto ``Az = y`` by damped steps ``Δ = Z Aᵀ (A Z Aᵀ)⁻¹ (y − Az)`` (``Z = diag(z)``):
    the residual removed with each entry moved in proportion to its size, a step shortened (to 0.9 of
    the distance to the boundary) where it would make an entry nonpositive; ``A Z Aᵀ`` refactorised every
    third step.  The residual is accumulated in about double-double (:func:`_residual_fast`).  The steps
    stop at a full one that moves no entry by more than 1e-6 of itself, or once the residual stops falling
    (its rounding floor).  ``ok``: the last step was a full one and moved no entry by more than a tenth of
    itself.  Float64; a proposal."""
    cf = None
    prev = math.inf
    for k in range(steps):
        if clock is not None:
            clock.check("in the L = 2 vertex enclosure (feasibility correction)")
        if cf is None or k % 3 == 0:
            cf = _chol(_gram64(A, z))
            if cf is None:
                return z, False
        g = _residual_fast(A, [z], y)
        gn = float(np.abs(g).max())
        w = scipy.linalg.cho_solve(cf, g, check_finite=False)
        dz = z * (A.T @ w)
        neg = dz < 0
        a = min(1.0, 0.9 * float((-z[neg] / dz[neg]).min())) if neg.any() else 1.0
        rel = float(np.max(np.abs(dz) / z))
        z = z + a * dz
        # done: a full step that moved nothing much, or the residual at its rounding floor (no longer falling)
        if a == 1.0 and (rel <= 1e-6 or (gn >= 0.5 * prev and rel <= 0.1)):
            return z, True
        prev = gn
    return z, a == 1.0 and rel <= 0.1


def _matvec_T(A, v):
    """``(p, e)`` with ``|p − Aᵀv| ≤ e`` componentwise: the float64 product and Higham's bound
    ``γ_M |A|ᵀ|v|`` (any summation order), rounded up."""
    M = A.shape[0]
    p = A.T @ v
    e = _up_k(_gamma(M) * (np.abs(A).T @ np.abs(v)) + 1e-300, M + 2)
    return p, e


def _exact_dot_T(A, cols, v):
    """``(p, e)`` for the columns ``cols``: ``a_jᵀv`` correctly rounded (error-free products, exact sums),
    ``e`` a rigorous bound on the rounding."""
    out = _residual_parts(np.ascontiguousarray(A[:, cols].T), [v], np.zeros(len(cols)))
    if out is None:
        return None
    return out


@dataclass
class Solve:
    """``z_B`` enclosed: the exact ``A_B⁻¹ b`` lies in ``[hi + lo − δ, hi + lo + δ]`` (every entry)."""

    hi: np.ndarray
    lo: np.ndarray
    delta: float
    alpha: float
    R: np.ndarray


def verified_solve(AB, y, c, c_err) -> Optional[Solve]:
    """The exact ``A_B⁻¹(y − c_exact)`` for float64 ``A_B``, ``y`` and an enclosed ``c`` (``|c − c_exact| ≤
    c_err``), as a double-double vector with a rigorous error bound: an approximate inverse ``R``, a
    bound ``α ≥ ‖I − R A_B‖_∞`` (``α < 1`` certifies that ``A_B`` is invertible; ``α < ½`` is required), the residual of the
    double-double solution summed exactly, and ``‖A_B⁻¹ρ‖_∞ ≤ ‖|R| |ρ|‖_∞ / (1 − α)``."""
    M = AB.shape[0]
    try:
        lu = scipy.linalg.lu_factor(AB, check_finite=False)
        R = scipy.linalg.lu_solve(lu, np.eye(M), check_finite=False)
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not np.all(np.isfinite(R)):
        return None
    P = R @ AB
    absR = np.abs(R)
    E = np.abs(np.eye(M) - P) * (1 + 2 * _U) + (_gamma(M) / (1 - _gamma(M))) * (absR @ np.abs(AB))
    alpha = float(_up_k(float(E.sum(axis=1).max()), M + 2))
    if not alpha < 0.5:
        return None
    b = y - c

    hi = scipy.linalg.lu_solve(lu, b, check_finite=False)
    lo = np.zeros(M)
    for _ in range(3):
        g = _residual_fast(AB, [hi, lo], y, c)  # the refinement: a proposal
        hi, lo = _dd_add(hi, lo, scipy.linalg.lu_solve(lu, g, check_finite=False))
    # ρ = y − c − A_B(hi + lo), correctly rounded (exact products, fsum), with a rigorous bound ge
    out = _residual_parts(AB, [hi, lo], y, extra=c)
    if out is None:
        return None  # an exact split could overflow, or a value is not finite
    g, ge = -out[0], out[1]
    # the exact residual lies within |g| + ge + c_err (c enters with its own error)
    rbound = np.abs(g) + ge + c_err
    num = float(_up_k(float((absR @ rbound).max()), M + 2))
    delta = num / (1 - alpha) * (1 + 4 * _U)
    if not math.isfinite(delta):
        return None
    return Solve(hi, lo, delta, alpha, R)


def _min_norm_fit(QR, cols, A, target, v, steps: int = 3):
    """``v + Δ`` with ``A_Tᵀ(v + Δ) ≈ target`` (``Δ`` the least-norm correction through the QR factors of
    ``A_T``), on the correctly rounded residual: a proposal (float64)."""
    Q, Rt = QR
    for _ in range(steps):
        ex = _exact_dot_T(A, cols, v)
        if ex is None:
            break
        r = target - ex[0]
        v = v + Q @ scipy.linalg.solve_triangular(Rt, r, trans="T", check_finite=False)
    return v


def _extra_columns(A, T, off, z, k: int, pivoted: bool):
    """``k`` columns off the support ``T`` to complete a basis: the largest entries of ``z``; with ``pivoted``,
    the first ``k`` pivots of a column-pivoted QR of ``P⊥ A_C diag(z_C)`` over the ``3k`` largest ``C`` (``P⊥`` the
    projector off ``range(A_T)``), which skips columns dependent on the others (twins ``±a_j`` of the signed
    model, equal columns).  None if there are too few."""
    if k == 0:
        return off[:0]
    order = off[np.argsort(-z[off], kind="stable")]
    if order.size < k:
        return None
    if not pivoted:
        return order[:k]
    C = order[: min(order.size, 3 * k)]
    X = A[:, C] * (z[C] / float(z[C].max()))
    if T.size:
        Q = scipy.linalg.qr(A[:, T], mode="economic", check_finite=False)[0]
        X = X - Q @ (Q.T @ X)
    piv = scipy.linalg.qr(X, mode="r", pivoting=True, check_finite=False)[1]
    return C[piv[:k]]


@dataclass
class Proposal:
    """The part of a :class:`Certificate` that does not depend on ``λ₀``: the support ``T``, the basis ``B``,
    the exact feasible point ``z`` (balls ``zb``; float64 representatives ``z``, within ``z_err`` of it),
    ``μ`` with the slacks ``s_j = 1 − a_jᵀμ`` (balls), ``m_up ≥ max_j a_jᵀμ``, ``Sz = Σz`` and ``Gp = Σ s_j z_j``
    (balls), and what is needed to fit ``ν₁``."""

    T: np.ndarray
    B: np.ndarray
    z: np.ndarray
    z_err: np.ndarray
    zb: list
    s: list
    mu: np.ndarray
    m_up: float
    Sz: object
    Gp: object
    ipm_iterations: int
    QR: tuple
    prec: int
    K_off: float
    """``≥ max_{i,j} (|A_B⁻¹| |A_{B^c}|)_{ij}``: ``‖d_B‖_∞ ≤ K_off ‖d_{B^c}‖₁`` for every ``d ∈ ker A``."""


@dataclass
class Certificate:
    """What the bounds of the module docstring are evaluated from: a :class:`Proposal`, ``ν₁`` with the balls
    ``g_j = a_jᵀν₁ − λ₀_j``, and ``W = Σ (z_j log z_j − z_j − z_j g_j)`` (a ball).  ``lam_bar``: the mean of
    ``λ₀`` on the support (the scale of ``t`` over which the bounds are narrow)."""

    prop: Proposal
    nu1: np.ndarray
    g: list
    W: object
    lam_bar: float

    def esum(self, tau):
        """``Σ_j exp(g_j − τ s_j)`` (a ball; ``τ`` a ball)."""
        from flint import arb

        out = arb(0)
        for gj, sj in zip(self.g, self.prop.s, strict=True):
            out += (gj - tau * sj).exp()
        return out

    def bounds(self, ta, tb, h):
        """``(S_lo, S_hi)`` (balls): ``S(t) ≥ S_lo`` for every ``t ≤ t_b`` and ``S(t) ≤ S_hi`` for every ``t ≥ t_a``
        (``S`` is non-increasing), from the concavity bounds at ``t_b`` (with ``t_b + h``) and ``t_a``
        (with ``t_a − h``)."""
        p = self.prop
        lo = p.Sz - (tb + h) / h * p.Gp - (self.W + self.esum(tb + h)) / h
        hi = p.Sz + (ta - h) / h * p.Gp + (self.W + self.esum(ta - h)) / h
        return lo, hi

    def x_error(self, S_hi):
        """``|x*_j − z_j|`` bounds (float64, per entry) for every projection ``x*`` with ``S(x*) ≤ S_hi`` (a ball):
        ``Σ_j s_j x*_j = S(x*) − ⟨y, μ⟩ = S(x*) − Σz + Σ s_j z_j`` (``Ax* = Az = y``) bounds the mass off the support,
        ``Σ_{j∉T} x*_j ≤ (S_hi − Σz + Σ s_j z_j + max_T|s_j| S_hi) / min_{j∉T} s_j``; off ``B``, ``|d_j| ≤ x*_j + z_j``; on ``B``,
        ``‖d_B‖_∞ ≤ K_off ‖d_{B^c}‖₁`` (``d = x* − z ∈ ker A``).  None if ``min_{j∉T} s_j`` is not certified positive."""
        from flint import arb

        p = self.prop
        n = len(p.zb)
        mask = np.zeros(n, dtype=bool)
        mask[p.T] = True
        smin = min((p.s[j] for j in np.flatnonzero(~mask)), key=lambda b: float(b.lower()))
        if not smin > 0:
            return None
        sT = max(math.nextafter(float(abs(p.s[j]).upper()), math.inf) for j in p.T)
        xoff = (S_hi - p.Sz + p.Gp + arb(sT) * S_hi) / smin
        Xoff = max(float(xoff.upper()), 0.0) * (1 + 4 * _U)
        inB = np.zeros(n, dtype=bool)
        inB[p.B] = True
        zBc = p.z[~inB]
        dBc = (Xoff + float(zBc.sum())) * (1 + 2 * _gamma(n))
        err = np.empty(n)
        err[~inB] = Xoff + zBc
        err[p.B] = p.K_off * dBc
        rest = p.B[~mask[p.B]]  # the basis columns off the support
        err[rest] = np.minimum(err[rest], Xoff + p.z[rest])
        return (err + p.z_err) * (1 + 4 * _U)


def l1_lower(prop: Proposal):
    """A lower bound (ball) on ``min{Σz : Az = y, z ≥ 0}``: ``⟨y, μ⟩ / m`` with ``m ≥ max_j a_jᵀμ`` (weak
    duality for the dual-feasible ``μ/m``), ``⟨y, μ⟩ = Σz − Σ s_j z_j`` exactly (``Az = y``).  None if it is
    not positive."""
    from flint import arb

    if not prop.m_up > 0:
        return None
    v = (prop.Sz - prop.Gp) / arb(prop.m_up)
    return v if v > 0 else None


last_failure = ""
"""Why the last :func:`propose` returned None (for messages and debugging)."""


def _fail(why: str):
    global last_failure
    last_failure = why
    return None


def propose(A, y, *, clock=None, prec: int = 128) -> Optional[Proposal]:
    """The :class:`Proposal` for ``min{Σz : Az = y, z ≥ 0}``, or None where a step fails or ``z`` cannot be
    certified positive.  See the module docstring."""
    from flint import arb, ctx

    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float)
    M, n = A.shape
    if M >= n:
        return _fail("not underdetermined")
    ip = ipm_l1(A, y, clock=clock, rtol=1e-9)
    if ip is None:
        return _fail("the interior-point method did not converge")
    T = support(ip.z, M)
    if T is None:
        return _fail("no clear support in the interior-point solution (a non-unique or degenerate ℓ1 solution)")
    mask = np.zeros(n, dtype=bool)
    mask[T] = True
    off = np.flatnonzero(~mask)
    # the point: the interior-point iterate made feasible to the rounding level, with its off-support
    # mass scaled down (the bounds widen with Σ s_j z_j) as far as the correction keeps every entry
    # positive and the exact basis solve agrees
    z1, ok = weighted_correction(A, y, ip.z.copy(), clock=clock)
    if not ok:
        return _fail("the interior-point solution could not be made feasible with positive entries")
    gap_off = float(ip.s[off] @ z1[off])
    theta = min(1.0, _GAP_TARGET * float(z1.sum()) / gap_off) if 0 < gap_off < math.inf else 1.0
    theta = max(theta, 1e-16)  # at most nine scales: 1e-16, 1e-14, ..., 1
    found, singular = None, False
    while found is None:
        if clock is not None:
            clock.check("in the L = 2 vertex enclosure")
        z = z1
        if theta < 1.0:
            z2 = z1.copy()
            z2[off] *= theta
            z2, ok = weighted_correction(A, y, z2, clock=clock)
            z = z2 if ok else None
        for pivoted in ((False, True) if T.size < M else (False,)) if z is not None and np.all(z >= 0) else ():
            # the basis: the support and the largest other entries (or, where those are singular, the
            # columns a pivoted QR picks among them); z_B solved exactly from z off B
            Rcols = _extra_columns(A, T, off, z, M - T.size, pivoted)
            if Rcols is None:
                continue
            B = np.sort(np.concatenate([T, Rcols]))
            inB = np.zeros(n, dtype=bool)
            inB[B] = True
            Bc = np.flatnonzero(~inB)
            zc = z[Bc]
            c = A[:, Bc] @ zc
            c_err = _up_k(_gamma(Bc.size) * (np.abs(A[:, Bc]) @ np.abs(zc)), Bc.size + 2)
            sol = verified_solve(np.ascontiguousarray(A[:, B]), y, c, c_err)
            if sol is not None and np.all(sol.hi + sol.lo > 2 * sol.delta):
                found = (z, B, Bc, zc, sol)
                break
            singular = sol is None
            if sol is not None:
                break  # invertible but not positive at this scale: the next scale is tried (a heuristic)
        if found is not None:
            break
        if theta >= 1.0:
            return _fail("the basis could not be certified invertible" if singular else
                         "the exactly feasible point has a nonpositive entry at every scale tried")
        theta = min(1.0, theta * 100)
    z, B, Bc, zc, sol = found
    if clock is not None:
        clock.check("in the L = 2 vertex enclosure")
    # μ: A_Tᵀμ = 1, the least-norm correction of the interior-point dual
    QR = scipy.linalg.qr(A[:, T], mode="economic", check_finite=False)
    mu = _min_norm_fit(QR, T, A, np.ones(T.size), ip.mu.copy())
    pm, em = _matvec_T(A, mu)
    ex = _exact_dot_T(A, T, mu)
    if ex is None:
        return _fail("a product could overflow")
    pm[T], em[T] = ex
    m_up = float(np.max(pm + em) * (1 + 2 * _U))
    zmid = z.copy()
    zmid[B] = sol.hi + sol.lo
    old = ctx.prec
    ctx.prec = prec
    try:
        zb = [None] * n
        dB = arb(0, sol.delta)
        for hi_j, lo_j, j in zip(sol.hi, sol.lo, B):
            zb[j] = arb(hi_j) + arb(lo_j) + dB
            if not zb[j] > 0:
                return _fail(f"the feasible point is not certified positive (entry {j}: {zb[j].str(3)})")
        for j, v in zip(Bc, zc):
            zb[j] = arb(float(v))
        s = [1 - arb(float(p), float(e)) for p, e in zip(pm, em)]
        Sz = sum(zb, arb(0))
        Gp = sum((sj * zj for sj, zj in zip(s, zb)), arb(0))
        z_err = np.zeros(n)
        z_err[B] = [float(abs(zb[j] - arb(float(zmid[j]))).upper()) * (1 + 2 * _U) for j in B]
    finally:
        ctx.prec = old
    # ‖A_B⁻¹ v‖_∞ ≤ ‖|R| |v|‖_∞ / (1 − α) (verified_solve), with |v| ≤ |A_{B^c}| |d_{B^c}|
    RA = np.abs(sol.R) @ np.abs(A[:, Bc])
    K_off = float(_up_k(float(RA.max()), M + 2)) / (1 - sol.alpha) * (1 + 4 * _U)
    return Proposal(T=T, B=B, z=zmid, z_err=z_err, zb=zb, s=s, mu=mu, m_up=m_up, Sz=Sz, Gp=Gp,
                    ipm_iterations=ip.iterations, QR=QR, prec=prec, K_off=K_off)


def certificate(A, prop: Proposal, lam0, lam0_f) -> Optional[Certificate]:
    """The :class:`Certificate` of ``prop`` for ``λ₀`` (``lam0``: balls; ``lam0_f``: their float64 values,
    used only to propose ``ν₁``): ``A_Tᵀν₁ = λ₀_T + log z_T``, by the least-norm correction of ``λ̄μ``."""
    from flint import ctx

    A = np.asarray(A, dtype=float)
    T = prop.T
    lam0_f = np.asarray(lam0_f, dtype=float)
    n = len(prop.zb)
    if not (len(lam0) == n and lam0_f.shape == (n,) and A.shape == (prop.mu.size, n)):
        raise ValueError(f"λ₀ must hold n = {n} values (got {len(lam0)} balls, {lam0_f.size} floats)")
    lam_bar = float(np.mean(lam0_f[T]))
    nu1 = _min_norm_fit(prop.QR, T, A, lam0_f[T] + np.log(prop.z[T]), lam_bar * prop.mu)
    pn, en = _matvec_T(A, nu1)
    ex = _exact_dot_T(A, T, nu1)
    if ex is None:
        return None
    pn[T], en[T] = ex
    from flint import arb

    old = ctx.prec
    ctx.prec = prop.prec
    try:
        g = [arb(float(p), float(e)) - l for p, e, l in zip(pn, en, lam0, strict=True)]
        # z_j log z_j − z_j − z_j g_j, which is 0 at z_j = 0 (an off-basis entry may be exactly zero)
        W = sum((zj * (zj.log() - 1 - gj) for zj, gj in zip(prop.zb, g) if not zj.is_zero()), arb(0))
    finally:
        ctx.prec = old
    return Certificate(prop=prop, nu1=nu1, g=g, W=W, lam_bar=lam_bar)
