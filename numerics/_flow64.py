"""Float64 integration of the flows of docs/math.md §2 to convergence.

Coordinates.  Two systems: the dual coordinates ``λ ∈ R^M`` of :class:`_Reduced` (the default
``method="auto"``; see "Steppers" below), and ``(r, log u)``, the genuine check of the invariant.
In ``(r, log u)`` every flow (plain GF, WN-GF, rates ``(r², 1)``) is integrated as a WN flow in the
state ``(r, v)`` with ``v = log u`` (elementwise) and ``w = r·u/‖u‖``:

* WN-GF: ``(η_r, η_u)`` constant;
* rates ``(r², 1)``: ``η_r = r²``, ``η_u = 1``;
* plain GF: ``η_r = 1``, ``η_u = ‖u‖²/r²`` (then ``ẇ = ṙ ū + r dū/dt = −∇ℒ(w)`` exactly).

``log u`` makes ``atol`` a *relative* accuracy on every weight (components near 1e-20 are held
to ``rtol``, which original coordinates cannot do) and tames the stiff tail (docs/math.md §6).
The field (:class:`_Flow`) is the log form ``v̇_i = u̇_i/u_i = −η_u (r/‖u‖²)(L r w_i^{L−2} g_i − σ)``
(the generated ``numerics._derived.wn_log_u_dot``, evaluated in place), ``ṙ = −η_r σ``,
``g = Aᵀ(Ax − y)``, ``σ = ⟨ū, ∇ℒ⟩ = (L/r)⟨x, g⟩``: one product with ``A`` and one with ``Aᵀ`` and a
few vector operations, with no loss where ``u_i`` underflows.  ``_Flow(..., use_derived=True)``
assembles ``u̇`` from ``loss_grad``/``wn_u_dot`` and divides by ``u``; tests/test_fields.py checks
that form against the hand-written ``numerics._fields``, and tests/test_flow64.py the two forms
against each other.

In ``(r, log u)`` (every method but ``"auto"`` and ``"reduced*"``, which integrate ``λ``, and
``"auto"`` again once it leaves ``λ``) all flows, WN-GF with constant rates included, are integrated
with ``atol = rtol``: scipy's error weight on ``v_i = log u_i`` is then ``rtol·(1 + |v_i|)``, a bound
on the local (per-step) relative error of every weight, whatever ``s(r) = (r² − r0²)/(2η̃)`` is.
(In ``λ`` the same holds by :meth:`_Reduced.rtol` / :meth:`_Reduced.atol`: an absolute tolerance
``rtol`` on every ``log u_i``.)  :class:`_Shifted`
(``p = v + s(r)·1``, ``ṗ = v̇ + s'(r) ṙ 1``, used when :data:`SHIFT_CONSTANT_RATES` is set) takes
out analytically the common drift of ``log u`` by ``−s(r)`` (docs/math.md §3.3: ``log ū + s − log ū0
∈ range(Aᵀ)``), but the same ``atol = rtol`` then weighs ``p_i ≈ s`` on the support (where ``log u_i``
is O(1)) by ``rtol·s``: the weights that matter get a log-error ``s``× larger than asked (a constant
``atol`` cannot tighten that: it only adds to ``rtol·|p_i|``).  Measured (rtol 1e-10 against an
rtol 1e-13 run, sparse positive N = 200, M = 40, k = 8, L = 2; max relative error of ``x`` on the
support / final invariant residual, shifted vs ``(r, log u)``; measured with the then-default
``"auto"``, DOP853 then BDF in ``(r, log u)``, which is ``"auto-full"`` now): η̃ = 0.02 (s ≈ 260),
DOP853 to T = 200: 1.9e-8 vs 8.9e-10 / 8.3e-10 vs 2.4e-10; η̃ = 0.02, ``auto-full`` to T = 2000:
3.1e-8 vs 5.4e-8 / 1.1e-8 vs 3.9e-9; η̃ = 0.1, ``auto-full`` to T = 2000: 2.0e-8 vs 4.6e-8 / 4.1e-11
vs 2.8e-10; the benchmark problem (``generate('sparse_positive', 1000, 150, 0)``, η̃ = 0.1,
``auto-full`` to T = 2000):
9.3e-9 vs 1.4e-8 / 3.4e-10 vs 2.4e-10 (no 20× gain in the invariant), and at rtol 1e-13 the shifted
run never switched to BDF and spent 200000 steps by t ≈ 1567 (2.6e6 field evaluations, against
2.3e5 to T = 2000 in ``(r, log u)``).  The shifted form holds the invariant better only at the
larger η̃ of the small problem, and loses up to 20× in
``x`` at small η̃ where ``(r, log u)`` loses at most ~2×: hence the default (tests/test_flow64.py
``test_small_eta_accuracy_matches_a_tight_reference``).

Invariant check.  It is *not* true by construction in these coordinates: the invariant
(``h_η`` for WN-GF, ``log_L(w) − log_L(w0)`` for plain GF and ``(r², 1)``) is computed from the
state through ``log ū = v − log‖e^v‖`` and ``s(r)`` (:func:`invariant_h`, from
:mod:`numerics._formulas`), so it mixes ``r``, ``‖u‖`` and ``v``.  ``‖u‖ − 1`` is likewise a
genuine check (also for plain GF, whose ``u̇ ⊥ u`` too).  The residual is
``‖P_ker h‖ / max(‖h‖, ‖log_L(b)‖)`` with ``b`` the reference point (:func:`invariant_scale`):
near ``t = 0`` ``h`` is a difference of numbers of size ``‖log_L(b)‖`` and carries their rounding.

Steppers (``method``, :data:`METHODS`).  In ``(r, log u)``: scipy ``DOP853`` (explicit), ``BDF``,
``Radau`` and ``LSODA`` (implicit / switching, with the analytic Jacobian :meth:`_Flow.jac`), and
``"auto-full"``: DOP853 until its own stiffness estimate says the steps are stability-bound, then BDF
(:data:`STIFF_HLAMBDA`).  In the dual coordinates ``λ ∈ R^M`` (:class:`_Reduced`, docs/math.md §6.3:
``log_L(ū e^s) = log_L(ū0) + Aᵀλ``, the ``M``-dimensional ODE ``λ̇ = −c(Ax − y)``): ``"reduced"``
(DOP853), ``"reduced-BDF"``, ``"reduced-Radau"``, ``"reduced-LSODA"`` (with the dense ``M × M``
Jacobian :meth:`_Reduced.jac`).  ``"auto"`` (with :data:`AUTO_REDUCED`) is ``"reduced-LSODA"`` (LSODA
switches between Adams and BDF itself: no stiffness test of ours), leaving ``λ`` for ``(r, log u)``
(continuing as ``"auto-full"``) where ``λ`` cannot hold the accuracy asked (:meth:`_Reduced.rounding`:
``L > 2`` at small ``η̃`` or small initial weights) or where a step leaves ``λ``'s domain (a trial
state with ``b ≤ 0`` or ``r² ≤ 0``, or a non-finite field: the edge of the coordinates, not a
divergence of the flow), from the last accepted state.  ``FlowResult.diagnostics.coordinates`` and
``.invariant_checked_from`` record which (:class:`numerics._results.Float64Diagnostics`).  In ``λ``
the invariant
and ``‖u‖ = 1`` hold by construction, so their recorded residuals are rounding only: a caller that
*checks* the invariant (docs/math.md §6.3) uses an ``(r, log u)`` method.

Measured on the benchmark problems (benchmarks/float64_flow.py: ``generate('sparse_positive', 1000,
150, 0)``, rtol 1e-10, to ``loss ≤ 1e-3·½‖y‖²``; CPU time against scipy DOP853 on ``(r, u)`` in the
same run, 2 shared cores; measured with the tolerance on ``λ`` relative to ``|λ|``, before
:data:`REDUCED_ABSOLUTE_TOL`): ``auto`` 0.45× (L = 2) and 0.82× (L = 3), ``auto-full`` 0.94× / 1.37×,
``DOP853`` 0.98× / 1.5×.  LSODA in ``λ`` needs 10.6k field evaluations where DOP853 needs 43k
(L = 2): Adams at order up to 12 on ``M = 150`` unknowns, with BDF in the stiff stretches.  Accuracy
against an rtol 1e-13 run to the same time (max ``|Δx|/max x``; worst relative error on the
support ``x_i > 1e-6 max x``): L = 2, t = 33: ``auto`` 1.4e-10 / 4.9e-9, ``reduced`` 1.6e-11 / 2.5e-11,
``DOP853`` 2.2e-9 / 2.3e-9, ``auto-full`` 7.7e-10 / 3.3e-8; L = 3, t = 0.374: ``auto`` 7.0e-11 / 1.3e-9,
``DOP853`` 5.0e-10 / 5.0e-10 — the same class of accuracy at the same rtol.  With the absolute
tolerance on ``λ`` (:data:`REDUCED_ABSOLUTE_TOL`; CPU against scipy DOP853 in the same process, the
relative tolerance in brackets, same run): L = 2, to t = 33: ``auto`` 0.66× (0.42×), 17.9k field
evaluations (10.4k), worst relative error on the support 1.4e-9 (5.7e-9); L = 3, to t = 0.374: 0.41×
(0.44×), 5.6e-10 (1.3e-10).

Convergence (``Status.CONVERGED``) is the shared test of :mod:`numerics._steady`:
1. ``‖Ax − y‖ ≤ √(2·loss_tol)`` (default :func:`numerics._steady.default_loss_tol`, i.e.
   ``1e-6‖y‖``), with the norm computed scaled by its max-norm so that it cannot underflow: a loss
   that underflows float64 is never taken for zero (docs/math.md §3.2); ``y = 0`` is ``TRIVIAL``;
2. the limit estimate stopped moving (:class:`numerics._steady.SteadyTest`): ``x̂(t)``, the
   Bregman projection of ``β(t)`` onto ``{Az = y, z ≥ 0}`` (docs/math.md §4; :mod:`numerics._bregman`),
   and ``r(t)`` each change by at most ``limit_tol`` between checkpoints a factor ``CHECK_FACTOR``
   apart.  A checkpoint whose projection fails gives no verdict (``x(t)`` is not used in its place).

Otherwise the run ends ``not_converged`` (budget ``t_max``/``max_steps`` spent; the message
reports the residual reached), ``time_limit`` (the caller's ``time_limit=`` seconds, checked in
every evaluation of the field inside scipy's step loop), ``diverged`` (a non-finite state, field or
Jacobian: scipy's step control would otherwise halve the step for ever on a NaN error estimate; in
``λ`` a non-finite field first sends the run to ``(r, log u)``),
``failed`` (the field underflows to 0), ``noise_floor`` (the residual passed a tolerance below
float64's rounding level of ``‖Ax − y‖``) or ``inconsistent`` (no exact solution: least-squares
residual, or LP infeasibility in the positive model — checked first).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional

import numpy as np

from numerics import _derived as _D
from numerics import _formulas as F
from numerics import _steady as S
from numerics._config import FlowConfig
from numerics._results import Float64Diagnostics, FlowResult
from numerics._status import Status

METHODS = ("auto", "auto-full", "reduced", "reduced-BDF", "reduced-Radau", "reduced-LSODA", "DOP853", "BDF", "Radau",
           "LSODA")
"""``method=`` values.  In ``(r, log u)`` (the invariant and ``‖u‖ − 1`` are genuine checks):
``"DOP853"``, ``"BDF"``, ``"Radau"``, ``"LSODA"``, and ``"auto-full"``: DOP853, then BDF once
DOP853's steps are stability-bound (:data:`STIFF_HLAMBDA`).  In the dual coordinates ``λ`` of
:class:`_Reduced` (the invariant holds by construction): ``"reduced"`` (DOP853), ``"reduced-BDF"``,
``"reduced-Radau"``, ``"reduced-LSODA"`` (with the dense ``M × M`` Jacobian).  ``"auto"``: with
:data:`AUTO_REDUCED`, ``"reduced-LSODA"`` (no stiffness test of ours: LSODA switches between Adams and
BDF itself), leaving ``λ`` for ``(r, log u)`` — continuing as ``"auto-full"`` — where ``λ`` cannot
hold the accuracy asked (:meth:`_Reduced.rounding`) or a step leaves its domain; without it,
``"auto-full"``.  The ``"reduced*"`` methods leave ``λ`` the same way, keeping their stepper."""

AUTO_REDUCED = True
"""``method="auto"`` integrates in the dual coordinates ``λ`` (:class:`_Reduced`).  Measured on the
benchmark problems (benchmarks/float64_flow.py, N = 1000, M = 150, rtol 1e-10, to the loss
threshold): fewer field evaluations than DOP853 in ``(r, log u)``, a field as cheap, ``x`` as close
to an rtol 1e-13 reference or closer (module docstring), and an invariant residual at rounding level
(by construction).  A caller
that wants the invariant *checked* (docs/math.md §6.3) asks for an ``(r, log u)`` method."""

REDUCED_ROUNDING = 0.1
"""``"auto"`` and the ``"reduced"`` methods leave ``λ`` for ``(r, log u)`` once
:meth:`_Reduced.rounding` (the relative rounding error of ``x`` that ``λ`` carries) exceeds this
fraction of ``rtol`` (checked every :data:`REDUCED_CHECK_EVERY` accepted steps)."""
REDUCED_ABSOLUTE_TOL = True
"""In ``λ``, the stepper's tolerance is absolute (:meth:`_Reduced.rtol`): ``rtol`` on every ``log u_i``
whatever the size of ``Aᵀλ``."""
REDUCED_CHECK_EVERY = 8
MONITOR_BATCH = 32
"""In ``λ``, the residual of every accepted state reaches the loss monitor in batches of this many
(two matrix–matrix products instead of ``2·MONITOR_BATCH`` matrix–vector ones), in order."""

SHIFT_CONSTANT_RATES = False
"""Integrate WN-GF with constant rates in :class:`_Shifted` ``(r, p = log u + s(r))`` instead of
``(r, log u)``.  Off by default: with ``atol = rtol`` it loosens the relative accuracy of the
support weights by the factor ``s`` (module docstring)."""

STIFF_HLAMBDA = 6.1
STIFF_STEPS = 15
STIFF_RATIO = 1e-3
"""``method="auto-full"`` (and ``"auto"`` after leaving ``λ``): after every DOP853 step, ``h·λ`` with
``λ = ‖f(y₁) − f(y₁₂)‖/‖y₁ − y₁₂‖`` (the
new point against the 12th stage, both at ``t + h``: Hairer's stiffness detection of DOP853,
Hairer–Nørsett–Wanner I §IV.2); past ``STIFF_HLAMBDA`` (the stability boundary on the negative
real axis) at ``STIFF_STEPS`` steps with fewer than 6 non-stiff steps in between, the steps are
stability-bound; once moreover the step is below ``STIFF_RATIO·t`` (the solution's own time scale is
``t`` in the tail, docs/math.md §6, so an implicit step can grow with it) the run continues with BDF
and the structured Jacobian (no trial, no switch back).  At N = 1000 (BENCHMARKS.md item 2) the test
fires at t ≈ 13 on the L = 2 case, where BDF's order ≤ 5 at rtol 1e-10 needs about as many steps as
DOP853 takes stability-bound ones, so switching there gains nothing; in the tail (t ≫ 10²) BDF's steps grow
with t while DOP853's stay stability-bound."""

MAX_STEPS = 200_000


# -- the flow in (r, v = log u) ---------------------------------------------------------


class _OutOfTime(Exception):
    """Raised from inside scipy's step loop when the caller's time_limit has run out."""


class _NonFinite(FloatingPointError):
    """Raised from inside scipy's step loop when the field or its Jacobian is not finite."""


def _norm(v) -> float:
    """``‖v‖₂`` without underflow or overflow of the squares (scaled by the max-norm)."""
    v = np.asarray(v, dtype=float)
    m = float(np.max(np.abs(v))) if v.size else 0.0
    if m == 0.0 or not math.isfinite(m):
        return m
    return m * float(np.linalg.norm(v / m))


class _Flow:
    """The field and its Jacobian in ``(r, v = log u)``.  ``use_derived=True``: the field from
    ``numerics._derived`` (``u̇`` then ``/u``; the log form where some ``u_i < 1e-280``)."""

    def __init__(self, A, y, config: FlowConfig, use_derived: bool = False):
        self.A = np.ascontiguousarray(A, dtype=float)
        self.AT = np.ascontiguousarray(self.A.T)
        self.y = np.asarray(y, dtype=float)
        self.L = config.L
        self.rates = config.rates
        self.eta_r = float(config.eta_r)
        self.eta_u = float(config.eta_u)
        self.D = _D if use_derived else None
        self.nfev = 0
        self.njev = 0
        self.divided = 0  # derived mode: evaluations that used the log form (some u_i below 1e-280)
        self.deadline = None  # time.perf_counter() value after which rhs/jac raise _OutOfTime
        self.last = (None, None)

    def _etas(self, r, m):
        if self.rates == "constant":
            return self.eta_r, self.eta_u
        if self.rates == "r2":
            return r * r, 1.0
        return 1.0, (m * m) / (r * r)  # plain GF

    def state(self, z):
        r = z[0]
        v = z[1:]
        u = np.exp(v)
        m = math.sqrt(float(u @ u))
        ubar = u / m
        w = r * ubar
        x = w ** self.L
        return r, v, u, m, ubar, w, x

    def x_of(self, z):
        """``x = (r ū)^L`` (effective coordinates)."""
        return self.state(z)[-1]

    def rhs(self, t, z, shift=None):
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _OutOfTime(t)
        out = self._rhs(t, z, shift)
        if not np.isfinite(out).all():
            # scipy's step-size control cannot recover from a NaN error estimate (it halves the
            # step for ever): stop here and let the driver decide
            raise _NonFinite(t)
        return out

    def _rhs(self, t, z, shift=None):
        """The field at ``(r, v)``; with ``shift = (s, s')`` the state is ``(r, p = v + s·1)`` and the
        field ``ṗ = v̇ + s' ṙ 1`` (:class:`_Shifted`).  ``v̇`` is the generated ``_derived.wn_log_u_dot``."""
        if self.D is not None:
            if shift is None:
                return self._rhs_derived(t, z)
            zv = np.array(z, dtype=float)
            zv[1:] -= shift[0]
            out = self._rhs_derived(t, zv)
            out[1:] += shift[1] * out[0]
            return out
        self.nfev += 1
        L = self.L
        r = z[0]
        u = np.exp(z[1:]) if shift is None else np.exp(z[1:] - shift[0])
        m2 = float(u @ u)
        w = u * (r / math.sqrt(m2))
        x = w * w if L == 2 else (w * w * w if L == 3 else w ** L)
        e = self.A @ x
        e -= self.y
        self.last = (z, e)  # the residual Ax − y at the state of the latest evaluation
        g = self.AT @ e
        sigma = (L / r) * float(x @ g)
        e_r, e_u = self._etas(r, math.sqrt(m2))
        # _derived.wn_log_u_dot evaluated in place: −η_u (r/‖u‖²)(L r w^{L−2} g − σ) in two vector
        # operations (the generated expression makes five temporaries and costs ~20 µs more per
        # evaluation at n = 1000, 17% of the field; tests/test_flow64.py checks the two agree)
        K = e_u * r / m2
        out = np.empty_like(z)
        vd = out[1:]
        if L == 2:
            np.multiply(g, -2.0 * K * r, out=vd)
        else:
            np.multiply(w if L == 3 else w ** (L - 2), g, out=vd)
            vd *= -L * K * r
        out[0] = -e_r * sigma
        vd += K * sigma if shift is None else K * sigma + shift[1] * out[0]
        return out

    def _rhs_derived(self, t, z):
        self.nfev += 1
        L = self.L
        r, v, u, m, ubar, w, x = self.state(z)
        g = self.AT @ (self.A @ x - self.y)
        e_r, e_u = self._etas(r, m)
        D = self.D
        if np.all(u > 1e-280):
            grad = D.loss_grad(w, g, L, np)
            sigma = float(ubar @ grad)
            r_dot = D.wn_r_dot(sigma, e_r, np)
            u_dot = D.wn_u_dot(r, u, m, grad, sigma, e_u, np)
            v_dot = u_dot / u
        else:  # the log form: v̇_i = −η_u (r/m²)(L r w_i^{L−2} g_i − σ)
            self.divided += 1
            sigma = (L / r) * float(x @ g)
            r_dot = -e_r * sigma
            a = g if L == 2 else w ** (L - 2) * g
            v_dot = -e_u * (r / (m * m)) * (L * r * a - sigma)
        out = np.empty_like(z)
        out[0] = r_dot
        out[1:] = v_dot
        return out

    def jac(self, t, z):
        """Analytic Jacobian of :meth:`rhs` in ``(r, v)``, assembled from the pieces theory/ exports
        (``numerics._derived.jac_*``; ``∂a/∂v``'s ``(AᵀA)_ij x_j`` term as the product ``C·A diag(x)``)."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _OutOfTime(t)
        J = self._jac(t, z)
        if not np.isfinite(J).all():
            raise _NonFinite(t)
        return J

    def _jac_common(self, z):
        """What both Jacobian forms start from: the state, ``g = Aᵀ(Ax − y)``, ``Hx = AᵀAx``,
        ``p = ū²``, the rates with their r-derivative and signs, and ``K = η_u r/‖u‖²``."""
        self.njev += 1
        r, v, u, m, ubar, w, x = self.state(z)
        Ax = self.A @ x
        g = self.AT @ (Ax - self.y)
        Hx = self.AT @ Ax
        p = ubar * ubar
        e_r, e_u = self._etas(r, m)
        if self.rates == "plain":
            dE_dr, kap_r, kap_m = 0.0, -1.0, 0.0
        elif self.rates == "r2":
            dE_dr, kap_r, kap_m = 2.0 * r, 1.0, -2.0
        else:
            dE_dr, kap_r, kap_m = 0.0, 1.0, -2.0
        return r, v.size, ubar, x, g, Hx, p, e_r, dE_dr, kap_r, kap_m, e_u * r / (m * m)

    def _jac_sigma(self, r, n, ubar, x, g, Hx, p):
        """The pieces of σ shared by :meth:`_jac` and :meth:`jac_lowrank`: ``(ū^{L−2}, a = ū^{L−2} g, σ,
        ∂σ/∂r, ∂σ/∂v)``, the derivatives from theory/ (theory/jacobian.py, generated into numerics._derived)."""
        L = self.L
        ul2 = np.ones(n) if L == 2 else ubar ** (L - 2)
        a = ul2 * g
        sigma = (L / r) * float(x @ g)
        Sq = float((x * (g + Hx)).sum())
        return (ul2, a, sigma, _D.jac_dsigma_dr(sigma, Sq, r, L, np), _D.jac_dsigma_dv(x, g, Hx, Sq, p, r, L, np))

    def _jac(self, t, z):
        L = self.L
        r, n, ubar, x, g, Hx, p, e_r, dE_dr, kap_r, kap_m, K = self._jac_common(z)
        ul2, a, sigma, dsig_dr, dsig_dv = self._jac_sigma(r, n, ubar, x, g, Hx, p)
        da_dr = _D.jac_da_dr(ul2, Hx, r, L, np)
        # ∂a/∂v: jac_da_dv with ū_i^{L−2} H_ij x_j given as (C B)_ij, C = diag(ū^{L−2}) Aᵀ, B = A diag(x)
        C = self.AT * ul2[:, None]
        CB = C @ (self.A * x[None, :])
        da_dv = _D.jac_da_dv(1.0, CB, 1.0, (ul2 * Hx)[:, None], p[None, :], a[:, None], 0.0, L, np)
        if L != 2:
            da_dv[np.diag_indices(n)] += (L - 2) * a
        J = np.empty((n + 1, n + 1))
        J[1:, 1:] = _D.jac_vv(K, (kap_m * K) * p[None, :], a[:, None], da_dv, sigma, dsig_dv[None, :], r, L, np)
        J[1:, 0] = _D.jac_vr(K, kap_r * K / r, a, da_dr, sigma, dsig_dr, r, L, np)
        J[0, 0] = _D.jac_rr(e_r, dE_dr, sigma, dsig_dr, np)
        J[0, 1:] = _D.jac_rv(e_r, dsig_dv, np)
        return J

    def jac_lowrank(self, t, z):
        """The Jacobian of :meth:`jac` as ``diag(d) + U Vᵀ`` (``U, V``: ``(n+1) × (M+4)``), never formed:
        ``J_vv = diag(ū^{L−2}) Aᵀ (−K P L) A diag(x)`` (rank ``M``) ``+ (L−2)``-diagonal ``+`` rank-one
        terms in ``p = ū²`` and ``1``; row 0 and column 0 as two more rank-one terms (``J₀₀`` among
        them, so that ``d = 0`` at ``L = 2``).  The same terms as :meth:`_jac`, factored instead of
        multiplied out (tests/test_flow64.py compares the two)."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _OutOfTime(t)
        L = self.L
        r, n, ubar, x, g, Hx, p, e_r, dE_dr, kap_r, kap_m, K = self._jac_common(z)
        M = self.A.shape[0]
        P = L * r ** (L - 1)
        ul2, a, sigma, dsig_dr, dsig_dv = self._jac_sigma(r, n, ubar, x, g, Hx, p)
        CAx = ul2 * Hx
        base = P * a - sigma
        U = np.zeros((n + 1, M + 4))
        V = np.zeros((n + 1, M + 4))
        U[1:, :M] = self.AT * ul2[:, None]
        V[1:, :M] = self.AT * ((-K * P * L) * x)[:, None]
        # rank one in p: K P L (C Ax) pᵀ + K P (L−2) a pᵀ − κ_m K base pᵀ
        U[1:, M] = K * P * L * CAx + (K * P * (L - 2)) * a - (kap_m * K) * base
        V[1:, M] = p
        U[1:, M + 1] = K  # K 1 (∂σ/∂v)ᵀ
        V[1:, M + 1] = dsig_dv
        U[0, M + 2] = 1.0  # row 0
        V[0, M + 2] = _D.jac_rr(e_r, dE_dr, sigma, dsig_dr, np)
        V[1:, M + 2] = _D.jac_rv(e_r, dsig_dv, np)
        U[1:, M + 3] = _D.jac_vr(K, kap_r * K / r, a, _D.jac_da_dr(ul2, Hx, r, L, np), sigma, dsig_dr, r, L, np)
        V[0, M + 3] = 1.0  # column 0
        d = np.zeros(n + 1)
        if L != 2:
            d[1:] = (-K * P * (L - 2)) * a
        return d, U, V


class _Shifted:
    """The WN-GF field (constant rates) in ``(r, p = v + s(r)·1)``, ``s = (r² − r0²)/(2η̃)``.

    ``ṗ = v̇ + s'(r) ṙ 1`` with ``s' = r/η̃``; the Jacobian by the chain rule from
    :meth:`_Flow.jac`: ``J_p = B J_v C + s''(r) ṙ e₁…ₙ e₀ᵀ``, ``C = ∂(r, v)/∂(r, p)`` (column 0 minus
    ``s'`` times the row sums of the ``v`` columns), ``B`` adds ``s'`` times row 0 to the others."""

    def __init__(self, flow: _Flow, r0: float, eta_tilde: float):
        self.flow = flow
        self.r0 = np.float64(r0)  # numpy scalars: an overflow is inf (then caught as DIVERGED), not an exception
        self.eta_tilde = np.float64(eta_tilde)

    def _s(self, r):
        # numerics._formulas.s_of_r is this generated formula with an arithmetic dispatch in front;
        # the hot path (every field evaluation) calls the formula itself
        return _D.s_of_r(np.float64(r), self.r0, self.eta_tilde, np)

    def to_v(self, z):
        zv = np.array(z, dtype=float)
        zv[1:] -= self._s(zv[0])
        return zv

    def to_p(self, zv):
        z = np.array(zv, dtype=float)
        z[1:] += self._s(z[0])
        return z

    def rhs(self, t, z):
        return self.flow.rhs(t, z, (self._s(z[0]), z[0] / self.eta_tilde))

    def _rhs(self, t, z):
        return self.flow._rhs(t, z, (self._s(z[0]), z[0] / self.eta_tilde))

    def jac(self, t, z):
        zv = self.to_v(z)
        J = self.flow.jac(t, zv)
        r = z[0]
        sp = r / self.eta_tilde
        r_dot = self.flow._rhs(t, zv)[0]
        J[:, 0] -= sp * J[:, 1:].sum(axis=1)  # J C
        J[1:, :] += sp * J[0, :][None, :]      # B (J C)
        J[1:, 0] += r_dot / self.eta_tilde     # s'' ṙ
        return J

    def jac_lowrank(self, t, z):
        """:meth:`jac` as ``diag(d) + U Vᵀ``: ``B (D + U Vᵀ) C + s'' ṙ f e₀ᵀ`` with ``f = (0, 1, …, 1)``,
        ``B = I + s' f e₀ᵀ``, ``C = I − s' f e₀ᵀ``: ``U ← B U``, ``V ← Cᵀ V`` and one more rank-one
        term ``(s''ṙ f − s' D f) e₀ᵀ`` (``D`` has ``d₀ = 0``)."""
        zv = self.to_v(z)
        d, U, V = self.flow.jac_lowrank(t, zv)
        sp = z[0] / self.eta_tilde
        r_dot = self.flow._rhs(t, zv)[0]
        U[1:, :] += sp * U[0, :][None, :]
        V[0, :] -= sp * V[1:, :].sum(axis=0)
        ue = np.zeros(z.size)
        ue[1:] = r_dot / self.eta_tilde - sp * d[1:]
        ve = np.zeros(z.size)
        ve[0] = 1.0
        return d, np.column_stack([U, ue]), np.column_stack([V, ve])


class _Reduced:
    """The flow in the dual coordinates ``λ ∈ R^M`` of docs/math.md §6.3 (all three rates).

    The invariant (§3.3–§3.5) says ``log_L(q(t)) = log_L(q0) + Aᵀλ(t)`` with ``q = ū e^{s}``,
    ``q0 = ū0`` (WN-GF, constant rates) or ``q = w``, ``q0 = w0`` (plain GF, rates ``(r², 1)``), and
    ``λ̇ = −c(t)(Ax − y)`` with ``c = η_u L r^L e^{(2−L)s}`` (§4.4), ``c = L`` (plain GF, §3.4) or
    ``c = L r²`` (§3.5).  ``‖ū‖ = 1`` (§3.1) then fixes the rest: ``log‖q‖ = s`` (constant rates:
    ``r² = r0² + 2η̃ s``) or ``log‖q‖ = log r`` (``q = w``), ``ū = q/‖q‖``, ``x = (r ū)^L`` — the
    ``M``-dimensional ODE of §4.3 ("the dual vector determines the rest").  Each evaluation is one
    product with ``Aᵀ`` (forming ``x``) and one with ``A`` (the residual), as in ``(r, log u)``; the
    stepper carries ``M`` instead of ``n + 1`` unknowns, and the Jacobian (:meth:`jac`) is the dense
    ``M × M`` matrix ``−c[L A diag(x q^{L−2}) Aᵀ + L(γ − 1)(Ax)(Ap)ᵀ] − c κ (Ax − y)(Ap)ᵀ``
    (``p = ū² q^{L−2}``, ``γ = d log r/ds``, ``κ = d log c/ds``).

    The invariant and ``‖u‖ = 1`` hold here **by construction**: the residuals the driver reports for
    this state are rounding only, and check nothing (§6.3).  The genuine check integrates ``(r, log u)``
    (methods ``"auto-full"``, ``"DOP853"``, ``"BDF"``, ``"Radau"``, ``"LSODA"``).

    Precision.  At ``L = 2`` ``log ū = log ū0 + Aᵀλ − s`` carries an absolute rounding error
    ``≈ ε(|log ū0| + |Aᵀλ| + |s|)``; at ``L > 2`` the base ``b = q^{2−L} = q0^{2−L} + (2−L)Aᵀλ`` is a
    difference that loses ``ε(q0^{2−L} + |(2−L)Aᵀλ|)/b`` relatively where ``b ≪ q0^{2−L}`` (a large
    weight at small ``η̃`` or small ``α``).  :meth:`rounding` is that bound on the relative error of
    ``x`` (on the components above ``1e-6·max x``); the driver leaves these coordinates for
    ``(r, log u)`` once it exceeds :data:`REDUCED_ROUNDING` × rtol.

    Tolerance.  The stepper's error weight on ``λ`` is absolute (:meth:`atol`, :meth:`rtol`): ``rtol`` on
    every ``log u_i`` however large ``|Aᵀλ| ≈ s`` grows, as in ``(r, log u)`` on the support.  Measured
    (``generate('sparse_positive', 60, 15, 0, k=4)``, L = 2, η̃ = 0.02, T = 100, worst relative error of
    ``x`` on the support against DOP853 at rtol 1e-13; ``"auto"``): rtol 1e-10: 1.1e-10 (2490 field
    evaluations) against 9.3e-9 (1846) with scipy's ``rtol·|λ_j|``; rtol 1e-8: 4.9e-9 against 3.8e-8;
    ``"auto-full"`` at rtol 1e-10: 1.2e-8 (BDF in the tail).

    Domain.  ``λ`` describes the flow only where ``b > 0`` (``L > 2``) and ``r² > 0``: outside, the field
    is NaN (``undefined`` counts those evaluations) and the driver continues in ``(r, log u)`` from the
    last accepted state (a trial step out of the domain is the edge of the coordinates, not a
    divergence)."""

    def __init__(self, flow: _Flow, config: FlowConfig, ubar0):
        self.flow = flow
        self.L = L = config.L
        self.rates = config.rates
        self.r0 = float(config.r0)
        self.eta_u = float(config.eta_u)
        self.eta_tilde = float(config.eta_tilde)
        base = np.asarray(ubar0, dtype=float) if self.rates == "constant" else self.r0 * np.asarray(ubar0, dtype=float)
        self.M = flow.A.shape[0]
        self.log_q0 = np.log(base)
        if L == 2:
            self.ATs = flow.AT
            self.b0 = None
        else:
            self.ATs = np.ascontiguousarray((2.0 - L) * flow.AT)
            self.b0 = base ** (2.0 - L)
        self.last = (None, None)   # (λ, Ax − y) at the latest evaluation
        self.undefined = 0         # evaluations of the field or Jacobian at a λ outside the domain
        self._cache = (None, None, None)  # (λ, a copy, pieces) at the latest evaluation
        self._colmax = None

    # the state from λ ------------------------------------------------------------------
    def _pieces(self, lam):
        """``(r, s_or_logr, E/S, x, aux)`` at ``λ``; ``E/S = ū²``; ``aux``: ``log q`` (L = 2) or
        ``b = q^{2−L}``.  None where the state is not defined (``b ≤ 0``, ``r² ≤ 0``, non-finite)."""
        c_lam, c_copy, c_val = self._cache
        if c_lam is lam and np.array_equal(c_copy, lam):  # (a stepper may reuse an array in place)
            return c_val
        L = self.L
        h = self.ATs @ lam
        if L == 2:
            h += self.log_q0  # log q
            mx = float(h.max())
            E = h - mx
            E *= 2.0
            np.exp(E, out=E)
            S = float(E.sum())
            ls = mx + 0.5 * math.log(S)  # log ‖q‖
        else:
            h += self.b0  # b = q^{2−L} > 0
            bmin = float(h.min())
            if not bmin > 0.0:
                self._cache = (lam, lam.copy(), None)
                return None
            E = bmin / h  # (q/q_max)^{L−2}
            if L == 3:
                E *= E
            else:
                E **= 2.0 / (L - 2)
            S = float(E.sum())
            ls = math.log(bmin) / (2.0 - L) + 0.5 * math.log(S)
        if not (math.isfinite(ls) and S > 0.0):
            self._cache = (lam, lam.copy(), None)
            return None
        E /= S  # ū²
        if self.rates == "constant":
            r2 = self.r0 * self.r0 + 2.0 * self.eta_tilde * ls
            if not r2 > 0.0:
                self._cache = (lam, lam.copy(), None)
                return None
            r = math.sqrt(r2)
        else:
            r = math.exp(ls)
        if L == 2:
            x = E * (r * r)
        elif L == 3:
            x = E * np.sqrt(E)
            x *= r ** 3
        else:
            x = E ** (0.5 * L)
            x *= r ** L
        out = (r, ls, E, x, h)
        self._cache = (lam, lam.copy(), out)
        return out

    def residual_norms(self, lams) -> np.ndarray:
        """``‖Ax − y‖`` (scaled by its max-norm: no underflow) at each column of ``lams`` (``M × K``),
        the same formulas as :meth:`_pieces` with two matrix–matrix products for all ``K`` states
        instead of ``2K`` matrix–vector ones (the driver's loss monitor at every accepted step).
        NaN where the state is not defined."""
        L = self.L
        H = self.ATs @ lams
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            if L == 2:
                H += self.log_q0[:, None]
                mx = H.max(axis=0)
                H -= mx
                H *= 2.0
                np.exp(H, out=H)  # (q/q_max)²
                S = H.sum(axis=0)
                ls = mx + 0.5 * np.log(S)
            else:
                H += self.b0[:, None]
                bmin = H.min(axis=0)
                bmin = np.where(bmin > 0.0, bmin, np.nan)
                np.divide(bmin, H, out=H)  # (q/q_max)^{L−2}
                if L == 3:
                    t = H.copy()
                    H *= H  # (q/q_max)²
                else:
                    H **= 2.0 / (L - 2)
                S = H.sum(axis=0)
                ls = np.log(bmin) / (2.0 - L) + 0.5 * np.log(S)
            if self.rates == "constant":
                r2 = self.r0 * self.r0 + 2.0 * self.eta_tilde * ls
                r = np.sqrt(np.where(r2 > 0.0, r2, np.nan))
            else:
                r = np.exp(ls)
            # x = r^L ū^L, ū² = H/S
            if L == 2:
                H *= r * r / S
            elif L == 3:
                H *= t
                H *= r ** 3 / S ** 1.5
            else:
                H **= 0.5 * L
                H *= r ** L / S ** (0.5 * L)
            R = self.flow.A @ H
            R -= self.flow.y[:, None]
            m = np.max(np.abs(R), axis=0)
            R /= np.where(m > 0.0, m, 1.0)
            out = m * np.sqrt(np.einsum("ij,ij->j", R, R))
        return np.where(np.isfinite(out), out, np.nan)

    def atol(self, atol) -> float:
        """The absolute tolerance on ``λ`` for ``atol`` on ``log u``: ``|(Aᵀδλ)_i| ≤ ‖a_i‖ ‖δλ‖``, so
        ``atol / max_i ‖a_i‖`` (columns of ``A``); with ``A`` scaled by ``c``, ``λ`` scales by ``1/c``
        and so does this: the error control does not depend on the scale of ``A``."""
        if self._colmax is None:
            self._colmax = float(np.max(np.linalg.norm(self.flow.A, axis=0))) if self.flow.A.size else 1.0
        return atol / self._colmax if self._colmax > 0 and math.isfinite(self._colmax) else atol

    def rtol(self, rtol) -> float:
        """The relative tolerance on ``λ`` for ``rtol`` on ``log u``: scipy's weight on ``λ_j`` is
        ``atol_λ + rtol_λ·|λ_j|``, and ``|λ|`` grows with ``|Aᵀλ| ≈ s`` (docs/math.md §3.3), so a
        relative part ``rtol·|λ_j|`` would let the support's ``log u_i`` (O(1)) err by ``rtol·s``; with
        :data:`REDUCED_ABSOLUTE_TOL` the tolerance on ``λ`` is absolute (:meth:`atol`, i.e. ``rtol`` on
        each ``log u_i``, as ``(r, log u)`` holds the support), and the relative part is scipy's floor
        ``100 ε``."""
        return 100.0 * np.finfo(float).eps if REDUCED_ABSOLUTE_TOL else rtol

    def _coef(self, r, ls):
        L = self.L
        if self.rates == "constant":
            return self.eta_u * L * r ** L * math.exp((2.0 - L) * ls)
        if self.rates == "r2":
            return L * r * r
        return float(L)

    def to_v(self, lam):
        """``(r, log u)`` (``‖u‖ = 1``) at ``λ``: the driver's state for checkpoints and results."""
        P = self._pieces(lam)
        n = self.flow.A.shape[1]
        if P is None:
            return np.full(n + 1, np.nan)
        r, ls, E, x, h = P
        zv = np.empty(n + 1)
        zv[0] = r
        if self.L == 2:
            np.subtract(h, ls, out=zv[1:])
        else:
            np.log(h, out=zv[1:])
            zv[1:] /= 2.0 - self.L
            zv[1:] -= ls
        return zv

    def initial(self):
        return np.zeros(self.M)

    def rounding(self, lam) -> float:
        """A bound on the relative rounding error of ``x`` that the representation by ``λ`` carries
        (class docstring), on the components above ``1e-6·max x``."""
        P = self._pieces(lam)
        if P is None:
            return float("inf")
        r, ls, E, x, h = P
        big = x >= 1e-6 * float(x.max())
        eps = np.finfo(float).eps
        if self.L == 2:  # h = log q = log q0 + Aᵀλ
            err = self.L * eps * (np.abs(self.log_q0[big]) + np.abs(h[big] - self.log_q0[big]) + abs(ls))
        else:  # h = b = b0 + (2 − L)Aᵀλ
            err = (self.L / (self.L - 2.0)) * eps * (self.b0[big] + np.abs(h[big] - self.b0[big])) / h[big]
        return float(err.max()) if err.size else 0.0

    # the field and its Jacobian -------------------------------------------------------
    def rhs(self, t, lam):
        fl = self.flow
        if fl.deadline is not None and time.perf_counter() > fl.deadline:
            raise _OutOfTime(t)
        out = self._rhs(t, lam)
        if not np.isfinite(out).all():
            raise _NonFinite(t)
        return out

    def _rhs(self, t, lam):
        self.flow.nfev += 1
        P = self._pieces(lam)
        if P is None:
            self.undefined += 1
            return np.full(self.M, np.nan)
        r, ls, E, x, h = P
        e = self.flow.A @ x
        e -= self.flow.y
        self.last = (lam, e)
        return e * (-self._coef(r, ls))

    def jac(self, t, lam):
        fl = self.flow
        if fl.deadline is not None and time.perf_counter() > fl.deadline:
            raise _OutOfTime(t)
        fl.njev += 1
        P = self._pieces(lam)
        if P is None:
            self.undefined += 1
            raise _NonFinite(t)
        r, ls, E, x, h = P
        L = self.L
        A = fl.A
        Ax = A @ x
        e = Ax - fl.y
        c = self._coef(r, ls)
        d = x if L == 2 else x / h          # x q^{L−2}
        p = E if L == 2 else E / h          # ū² q^{L−2}
        Ap = A @ p
        if self.rates == "constant":
            gam = self.eta_tilde / (r * r)
            kap = L * gam + 2.0 - L
        else:
            gam = 1.0
            kap = 2.0 if self.rates == "r2" else 0.0
        J = (A * ((-c * L) * d)[None, :]) @ fl.AT
        J -= np.outer(c * (L * (gam - 1.0) * Ax + kap * e), Ap)
        if not np.isfinite(J).all():
            raise _NonFinite(t)
        return J


# -- BDF with the structured Jacobian (Woodbury) ----------------------------------------


class _LowRank:
    """``J = diag(d) + U Vᵀ``; ``c * J`` and ``I − c J`` stay symbolic for :class:`_StructuredBDF`."""

    def __init__(self, d, U, V):
        self.d, self.U, self.V = d, U, V
        self.G = None  # VᵀU, cached (the Newton matrix for any c when d = 0)

    def __rmul__(self, c):
        return _Scaled(float(c), self)


class _Scaled:
    def __init__(self, c, J):
        self.c, self.J = c, J


class _Eye:
    """The identity of :class:`_StructuredBDF`: ``I − c J`` is the pair ``(c, J)``."""

    def __sub__(self, scaled):
        return scaled


class _StructuredBDF:
    """scipy's BDF with the Newton systems ``(I − cJ) x = b`` solved by the Woodbury identity on
    ``J = diag(d) + U Vᵀ`` (:meth:`_Flow.jac_lowrank`): with ``E = I − c diag(d)``,
    ``x = E⁻¹b + E⁻¹U S⁻¹ c Vᵀ E⁻¹ b``, ``S = I − c Vᵀ E⁻¹ U`` (``k × k``, ``k = M + 5``).  A
    factorisation costs ``O(n k²)`` (``O(k³)`` when ``d = 0``: ``VᵀU`` is reused for every ``c``),
    a solve ``O(n k)``, against ``O(n³)`` and ``O(n²)`` for the dense ``(n+1)²`` LU.  Where ``E`` is
    near-singular the dense matrix is factorised instead.  scipy's step control, order selection and
    dense output are kept as they are: only its ``jac``/``lu``/``solve_lu``/``I`` hooks are replaced."""

    def __new__(cls, fun, t0, y0, t_bound, *, lowrank_jac, rtol, atol, first_step=None):
        from scipy.integrate import BDF
        from scipy.sparse import csc_matrix

        n = y0.size
        solver = BDF(fun, t0, y0, t_bound, rtol=rtol, atol=atol, jac=csc_matrix((n, n)), first_step=first_step)

        def jac(t, y):
            solver.njev += 1
            return _LowRank(*lowrank_jac(t, y))

        solver.jac = jac
        solver.J = jac(t0, y0)
        solver.I = _Eye()
        solver.lu = lambda scaled: cls._lu(solver, scaled)
        solver.solve_lu = cls._solve
        return solver

    @staticmethod
    def _lu(solver, scaled):
        import scipy.linalg as sl

        solver.nlu += 1
        c, J = scaled.c, scaled.J
        e = 1.0 - c * J.d
        k = J.U.shape[1]
        if np.min(np.abs(e)) < 1e-8:  # E near-singular: Woodbury would amplify rounding
            dense = np.diag(e) - c * (J.U @ J.V.T)
            return ("dense", sl.lu_factor(dense, overwrite_a=True, check_finite=False))
        if not J.d.any():
            if J.G is None:
                J.G = J.V.T @ J.U
            Sm = np.eye(k) - c * J.G
            return ("wood", None, c, J, sl.lu_factor(Sm, overwrite_a=True, check_finite=False))
        Sm = np.eye(k) - c * (J.V.T @ (J.U / e[:, None]))
        return ("wood", e, c, J, sl.lu_factor(Sm, overwrite_a=True, check_finite=False))

    @staticmethod
    def _solve(LU, b):
        import scipy.linalg as sl

        if LU[0] == "dense":
            return sl.lu_solve(LU[1], b, check_finite=False)
        _, e, c, J, S_lu = LU
        eb = b if e is None else b / e
        yk = sl.lu_solve(S_lu, c * (J.V.T @ eb), check_finite=False)
        out = J.U @ yk
        if e is not None:
            out /= e
        return eb + out


# -- invariants (the formulas of numerics._formulas applied to the state) ----------------


def invariant_h(r, v, config: FlowConfig, ubar0, r0) -> np.ndarray:
    """The invariant of ``config.rates`` at the state ``(r, v = log u)`` (float64).

    WN-GF: ``h_η = log_L(ū e^{s}) − log_L(ū0)``; plain GF and ``(r², 1)``: ``log_L(w) − log_L(w0)``
    (:func:`numerics._formulas.invariant_h`, in log form: no ``e^{s}`` is formed)."""
    log_ubar = F.log_direction(log_u=np.asarray(v, dtype=float))
    log_ubar0 = np.log(np.asarray(ubar0, dtype=float))
    if config.rates == "constant":
        s = F.s_of_r(np.float64(r), np.float64(r0), np.float64(config.eta_tilde))  # overflow: inf, not an exception
        return F.invariant_h(log_ubar, log_ubar0, s, config.L)
    return F.invariant_h(log_ubar + math.log(float(r)), log_ubar0 + math.log(float(r0)), 0.0, config.L)


def invariant_scale(config: FlowConfig, ubar0, r0) -> float:
    """``‖log_L(b)‖`` for the reference point ``b`` (``ū0`` for WN-GF, ``w0`` otherwise).

    ``h`` is a difference of two ``L``-logarithms of this size, so float64 holds it only to
    ``eps·‖log_L(b)‖``; residuals are relative to ``max(‖h‖, this)`` (docs/math.md §6: "report
    such residuals relative to the precision the components are held to").
    """
    b = ubar0 if config.rates == "constant" else r0 * ubar0
    return float(np.linalg.norm(F.log_L(np.asarray(b, dtype=float), config.L)))


def _log_rho(r, config: FlowConfig) -> float:
    """``log ρ(t)`` (0 for plain GF and rates ``(r², 1)``)."""
    if config.rates != "constant":
        return 0.0
    return float(F.log_rho(np.float64(r), np.float64(config.r0), np.float64(config.eta_tilde)))


def limit_estimate(A, y, log_beta, L, nu0=None, max_iter=2000, time_limit=None):
    """Bregman projection of ``β = exp(log_beta)`` onto ``{Az = y, z ≥ 0}``.

    Returns ``(x, nu, message, status)``; ``x`` is None unless the projection is CONVERGED or at
    its NOISE_FLOOR (then accurate to the working precision, which is all the movement test needs).
    Only numerical exception types are caught (a programming error propagates).
    """
    from numerics._bregman import bregman_projection

    try:
        res = bregman_projection(A, y, None, L, log_beta=log_beta, nu0=nu0, max_iter=max_iter,
                                 time_limit=time_limit)
        if res.status not in (Status.CONVERGED, Status.NOISE_FLOOR, Status.TIME_LIMIT) and nu0 is not None:
            # a bad warm start: retry cold
            spent = res.wall_time if math.isfinite(res.wall_time) else 0.0
            left = None if time_limit is None else time_limit - spent
            if left is None or left > 0:
                res = bregman_projection(A, y, None, L, log_beta=log_beta, max_iter=max_iter, time_limit=left)
    except (FloatingPointError, np.linalg.LinAlgError, ZeroDivisionError, OverflowError) as exc:
        return None, None, f"bregman_projection raised {type(exc).__name__}: {exc}", Status.FAILED
    if res.status not in (Status.CONVERGED, Status.NOISE_FLOOR):
        return None, None, f"bregman_projection: {res.status.value}: {res.message}", res.status
    return np.asarray(res.x, dtype=float), np.asarray(res.nu, dtype=float), res.message, res.status


# -- the driver ------------------------------------------------------------------------


def check_consistency(problem, time_limit=None):
    """``(Status.INCONSISTENT, message)`` when ``Ax = y`` has no (nonnegative, positive model) solution.
    ``time_limit``: seconds for the LP (``numerics._lp.l1_min``)."""
    from numerics._lp import l1_min, least_squares_residual

    ls = least_squares_residual(problem)
    if not ls.consistent:
        return Status.INCONSISTENT, (
            f"A x = y has no exact solution: least-squares residual {ls.residual:.3e} "
            f"({ls.relative:.3e} relative to ‖y‖); the flow's loss cannot reach 0"
        )
    if problem.model == "positive":
        lp = l1_min(problem) if time_limit is None else l1_min(problem, time_limit=time_limit)
        if lp.status is Status.INCONSISTENT:
            return Status.INCONSISTENT, (
                f"{lp.message}; the positive model cannot fit y (a signed model can)"
            )
    return None, ""


_ADVICE = "a longer horizon (t_max) or solving for the limit directly may help"


class _Stiffness:
    """Hairer's stiffness detection on scipy's DOP853 (see :data:`STIFF_HLAMBDA`)."""

    def __init__(self):
        self.stiff = 0
        self.nonstiff = 0
        self.h_lambda = float("nan")

    def update(self, solver) -> bool:
        h = solver.h_previous
        K = solver.K
        y12 = solver.y_old + h * (solver.A[11, :11] @ K[:11])
        den = float(np.linalg.norm(solver.y - y12))
        if den == 0.0 or not math.isfinite(den):
            return False
        self.h_lambda = abs(h) * float(np.linalg.norm(K[12] - K[11])) / den
        if self.h_lambda > STIFF_HLAMBDA:
            self.nonstiff = 0
            self.stiff += 1
        else:
            self.nonstiff += 1
            if self.nonstiff >= 6:
                self.stiff = 0
        return self.stiff >= STIFF_STEPS


def _as_v(dense, to_v):
    """A stepper's dense output as a function of ``t`` with values in ``(r, log u)``."""
    return lambda tc: to_v(dense(tc))


def _positive_number(name, val):
    if isinstance(val, bool) or not (isinstance(val, (int, float, np.floating)) and math.isfinite(val) and val > 0):
        raise ValueError(f"{name} must be a finite positive number, got {val!r}")
    return float(val)


def integrate64(
    problem,
    config: FlowConfig,
    *,
    method: str = "auto",
    t_max: float = 1e6,
    loss_tol: Optional[float] = None,
    time_limit: Optional[float] = None,
    checkpoints=None,
    progress: Optional[Callable[[float, float], None]] = None,
    rtol: Optional[float] = None,
    max_steps: Optional[int] = None,
    limit_tol: Optional[float] = None,
    check_inconsistent: bool = True,
) -> FlowResult:
    """Integrate ``config``'s flow on ``problem`` in float64 until it converges or the budget is spent.

    ``method``: one of :data:`METHODS` (``"auto"``: LSODA in the dual coordinates ``λ``, where the
    invariant holds by construction, leaving them for ``(r, log u)`` where they lose accuracy or their
    domain; ``"auto-full"`` and the plain stepper names integrate ``(r, log u)``, where it is a check;
    ``result.diagnostics.coordinates`` / ``.invariant_checked_from`` say which was integrated).
    ``rtol``: the stepper's local (per-step) tolerance, default :data:`numerics._steady.DEFAULT_RTOL_64`:
    in ``(r, log u)`` the error weight ``rtol·(1 + |log u_i|)`` on each ``log u_i`` (``atol = rtol``), in
    ``λ`` the absolute ``rtol`` on each ``log u_i`` (:meth:`_Reduced.rtol`), i.e. a local relative
    accuracy of about ``L·rtol`` on each weight ``x_i`` of the support; the global error accumulates
    over the steps (measured at small ``η̃`` with rtol 1e-10: 1.1e-10 in ``λ``, 1.2e-8 with
    ``"auto-full"``, :class:`_Reduced`).  ``checkpoints``: times at which the trajectory is
    recorded and the steady-state test runs (default :func:`numerics._steady.checkpoint_grid`).
    ``loss_tol``: the loss ``½‖Ax − y‖²`` to reach (default :func:`numerics._steady.default_loss_tol`),
    compared as the residual ``‖Ax − y‖ ≤ √(2·loss_tol)`` computed without underflow; ``y = 0`` with
    the default is :attr:`Status.TRIVIAL` at once.  ``limit_tol``: of the steady-state test
    (default :func:`numerics._steady.default_limit_tol` of ``rtol``).  ``time_limit``: wall-clock
    seconds, honoured inside scipy's step loop and the projections.  ``max_steps``: accepted steps
    (default :data:`MAX_STEPS`).  ``progress(t, loss)`` is called at every checkpoint.
    ``check_inconsistent=False`` skips the least-squares / LP pre-check.  Never raises on numerical
    trouble: a non-finite field, Jacobian or state ends the run with DIVERGED (or FAILED).
    """
    from scipy.integrate import BDF, DOP853, LSODA, Radau

    if not isinstance(config, FlowConfig):
        raise TypeError("config must be a numerics._config.FlowConfig")
    t_max = _positive_number("t_max", t_max)
    rtol = S.DEFAULT_RTOL_64 if rtol is None else _positive_number("rtol", rtol)
    atol = rtol
    solvers = {"BDF": BDF, "Radau": Radau, "DOP853": DOP853, "LSODA": LSODA}
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if max_steps is None:
        max_steps = MAX_STEPS
    elif isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    limit_tol = S.default_limit_tol(rtol=rtol) if limit_tol is None else _positive_number("limit_tol", limit_tol)
    t_start = time.perf_counter()
    deadline = None if time_limit is None or math.isinf(time_limit) else t_start + float(time_limit)

    A = problem.A_eff
    y = problem.y
    n = problem.n
    L = config.L
    ny = _norm(y)
    if loss_tol is None:
        res_tol = S.residual_tol(problem)
        loss_tol = S.default_loss_tol(problem)
    else:
        if isinstance(loss_tol, bool) or not isinstance(loss_tol, (int, float, np.floating)) \
                or not (math.isfinite(loss_tol) and loss_tol >= 0):
            raise ValueError(f"loss_tol must be a finite number >= 0, got {loss_tol!r}")
        loss_tol = float(loss_tol)
        res_tol = S.residual_tol(problem, loss_tol)
    amax = float(np.max(np.abs(A))) if A.size else 0.0
    scale_note = ""
    if not (1e-100 <= amax <= 1e100) or (ny > 0 and not (1e-100 <= ny <= 1e100)):
        scale_note = (f" (A and y are badly scaled for float64: max|A| = {amax:.3g}, ‖y‖ = {ny:.3g}; scaling both "
                      "by a common factor c only rescales time by 1/c², and keeps the loss, the gradient and "
                      "the time scale representable)")
    ubar0 = config.u0_for(n)
    r0 = float(config.r0)
    log_ubar0 = np.log(ubar0)
    log_w0 = np.log(config.w0_for(n))
    Q = F.range_basis(A)
    h_scale = invariant_scale(config, ubar0, r0)
    flow = _Flow(A, y, config)
    flow.deadline = deadline
    use_reduced = method.startswith("reduced") or (method == "auto" and AUTO_REDUCED)
    shifted = SHIFT_CONSTANT_RATES and config.rates == "constant" and not use_reduced
    red = _Reduced(flow, config, ubar0) if use_reduced else None
    sys_ = red if use_reduced else (_Shifted(flow, r0, float(config.eta_tilde)) if shifted else flow)
    to_v = sys_.to_v if (shifted or use_reduced) else (lambda z: z)
    coords = ("the dual coordinates λ ∈ R^M of docs/math.md §6.3 (log_L(q) = log_L(q0) + Aᵀλ, "
              "λ̇ = −c(Ax − y), ‖ū‖ = 1 fixing r; the invariant and ‖u‖ = 1 hold by construction, "
              "their residuals are rounding only)") if use_reduced else (
        "(r, p = log u + s(r))" if shifted else "(r, log u)")
    # the typed record of the same (Float64Diagnostics.coordinates / .invariant_checked_from)
    coord_kind = "lambda" if use_reduced else ("r_log_u_shifted" if shifted else "r_log_u")
    checked_from = None if use_reduced else 0.0
    cps = S.checkpoint_grid(t_max, checkpoints)

    zv0 = np.concatenate([[r0], log_ubar0])
    with np.errstate(over="ignore", invalid="ignore"):
        z0 = sys_.to_p(zv0) if shifted else (red.initial() if use_reduced else zv0)
    rec = {"t": [], "loss": [], "r": [], "inv": [], "udev": []}
    mon = S.LossMonitor(noise=S.loss_noise(rtol=rtol), ny=ny)
    steady = S.SteadyTest(limit_tol)
    switches = []
    absA = np.abs(A)

    def residual_norm(zv):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return _norm(A @ flow.x_of(zv) - y)

    def residual_noise(zv):
        """The rounding level of ``‖Ax − y‖`` in float64: ``n ε ‖|A||x| + |y|‖`` (a residual below
        it is not resolved, so it cannot certify a tolerance below it either)."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return A.shape[1] * np.finfo(float).eps * _norm(absA @ np.abs(flow.x_of(zv)) + np.abs(y))

    def record(t, zv):
        r, v = float(zv[0]), zv[1:]
        with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
            rn = residual_norm(zv)
            lo = 0.5 * rn * rn
            u = np.exp(v)
            rec["t"].append(t)
            rec["loss"].append(lo)
            rec["r"].append(r)
            try:
                ph, nh = F.kernel_residual(None, invariant_h(r, v, config, ubar0, r0), basis=Q)
                nh = max(nh, h_scale)
                rec["inv"].append(ph / nh if nh > 0 else 0.0)
            except (ValueError, OverflowError):  # a non-finite state: the invariant is not defined there
                rec["inv"].append(float("nan"))
            rec["udev"].append(math.sqrt(float(u @ u)) - 1.0)
        if progress is not None:
            progress(t, lo)
        return lo, rn

    def finish(status, message, t, zv, nsteps):
        field = (f"numerics._flow64._Reduced, integrated in {coords}" if coord_kind.startswith("lambda")
                 else f"numerics._derived.wn_log_u_dot (v̇ = u̇/u, evaluated in place), integrated in {coords}")
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            r = float(zv[0])
            v = np.array(zv[1:], dtype=float)
            u = np.exp(v)
            m = math.sqrt(float(u @ u))
            x = (r * u / m) ** L
            rn = _norm(A @ x - y)
        if monitor_note := mon.warning(f"float64 at rtol = {rtol:.1e}"):
            message = f"{message}; note: {monitor_note}"
        return FlowResult(
            status=status, message=message, config=config, method=method, dps=None,
            t=np.array(rec["t"]), loss=np.array(rec["loss"]), r=np.array(rec["r"]),
            invariant_residual=np.array(rec["inv"]), unorm_dev=np.array(rec["udev"]),
            # u, x may underflow float64 off the support: log_u_final holds log u
            t_final=float(t), r_final=r, u_final=u, log_u_final=v, x_final=x, x_user=problem.to_user(x),
            loss_final_exact=0.5 * rn * rn, loss_tol=loss_tol, nfev=flow.nfev, nsteps=nsteps,
            wall_time=time.perf_counter() - t_start, steady=steady.record(),
            diagnostics=Float64Diagnostics(rtol=rtol, atol=atol, field=field, njev=flow.njev,
                                           method_switches=tuple(switches), coordinates=coord_kind,
                                           invariant_checked_from=checked_from),
            **mon.fields(),
        )

    if ny == 0.0 and res_tol == 0.0:
        record(0.0, zv0)
        return finish(Status.TRIVIAL, "y = 0: the problem is trivial (x = 0 fits it exactly; the flow has nothing to "
                      "fit); give a positive loss_tol to integrate it anyway", 0.0, zv0, 0)

    if check_inconsistent:
        st, msg = check_consistency(problem, None if deadline is None else max(deadline - time.perf_counter(), 1e-3))
        if st is not None:
            record(0.0, zv0)
            return finish(st, msg, 0.0, zv0, 0)

    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        f0 = sys_._rhs(0.0, z0)
        # the field of (r, log u) decides underflow in every coordinate system: λ̇ = −c(Ax − y) can stay
        # nonzero while the motion it causes in x underflows (A and y near float64's bottom)
        f0v = flow._rhs(0.0, zv0) if sys_ is red else f0
        res0 = residual_norm(zv0)
    if not (np.all(np.isfinite(f0)) and np.all(np.isfinite(f0v)) and math.isfinite(res0)):
        record(0.0, zv0)
        return finish(Status.DIVERGED, (
            f"the vector field is not finite at t = 0 (r0 = {r0:.3g}, L = {L}: r0^L, the residual or the "
            f"gradient overflows float64); a smaller r0 is representable" + scale_note), 0.0, zv0, 0)
    if not np.any(f0v) and res0 > res_tol:
        record(0.0, zv0)
        return finish(Status.FAILED, (
            f"the vector field underflows to 0 in float64 at t = 0 while ‖Ax − y‖ = {res0:.3g} > {res_tol:.3g} "
            f"(‖y‖ = {ny:.3g}, max|A| = {amax:.3g}): rescale A and y by a common factor "
            "(that only rescales time)"), 0.0, zv0, 0)

    def make(name, t0, zs, first_step=None):
        kw = dict(rtol=rtol, atol=atol)
        if sys_ is red:  # λ: M unknowns, a dense M × M Jacobian for BDF
            kw["atol"] = red.atol(atol)
            kw["rtol"] = red.rtol(rtol)
            if name in ("BDF", "Radau", "LSODA"):
                kw["jac"] = red.jac
            if first_step is not None:
                kw["first_step"] = first_step
            return solvers[name](red.rhs, t0, zs, t_max, **kw)
        if name == "BDF":
            return _StructuredBDF(sys_.rhs, t0, zs, t_max, lowrank_jac=sys_.jac_lowrank, first_step=first_step, **kw)
        if name in ("Radau", "LSODA"):
            kw["jac"] = sys_.jac
        if first_step is not None:
            kw["first_step"] = first_step
        return solvers[name](sys_.rhs, t0, zs, t_max, **kw)

    status, message = None, ""
    current = {"auto": "LSODA" if use_reduced else "DOP853", "auto-full": "DOP853", "reduced": "DOP853"}.get(
        method, method.replace("reduced-", ""))
    record(0.0, zv0)
    mon.step(0.5 * res0 * res0, res0)
    try:
        solver = make(current, 0.0, z0)
    except _OutOfTime:
        return finish(Status.TIME_LIMIT, f"time_limit = {time_limit:g} s spent before the first step", 0.0, zv0, 0)
    except _NonFinite:
        return finish(Status.DIVERGED, "the vector field is not finite near the initial state", 0.0, zv0, 0)

    pending = []  # accepted λ states whose residual the loss monitor has not seen yet

    def flush_monitor():
        if pending:
            for rn_k in red.residual_norms(np.stack(pending, axis=1)):
                mon.step(0.5 * rn_k * rn_k, rn_k)
            pending.clear()

    stiffness = _Stiffness() if method == "auto-full" or (method == "auto" and not use_reduced) else None
    dense_before_switch = None  # the previous stepper's dense output across a switch, as (r, log u)

    def leave_lambda(t, z, why, label, dense):
        """Continue in ``(r, log u)`` from the accepted ``λ`` state ``z`` at ``t`` (``"auto"``: as
        ``"auto-full"`` from here, DOP853 then BDF on its stiffness estimate); returns the new stepper."""
        nonlocal sys_, to_v, coords, coord_kind, checked_from, current, stiffness, dense_before_switch
        zv_s = to_v(z)
        flush_monitor()
        name = "DOP853" if method == "auto" else current
        sys_ = flow
        try:
            new = make(name, t, zv_s.copy())
        except BaseException:  # (a non-finite field at the new start, out of time): the run ends in λ
            sys_ = red
            raise
        to_v = lambda zz: zz  # noqa: E731
        dense_before_switch = dense
        coords = f"the dual coordinates λ, then (r, log u) from t = {t:.4g} ({why})"
        coord_kind, checked_from = "lambda_then_r_log_u", t
        if method == "auto":
            current, stiffness = "DOP853", _Stiffness()
        switches.append((f"{current} (r, log u){label}", t))
        return new
    ci = 0
    nsteps = 0
    retries = 0
    z_conv = None
    t_conv = None
    last_nu = None  # the latest projection's dual: the next one's warm start
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        try:
            while status is None:
                if solver.status != "running":
                    status = Status.NOT_CONVERGED
                    message = f"reached t_max = {t_max:g} without converging"
                    break
                try:
                    msg = solver.step()
                except _OutOfTime:
                    status = Status.TIME_LIMIT
                    message = f"time_limit = {time_limit:g} s spent at t = {solver.t:.4g}"
                    break
                except _NonFinite:
                    # a trial stage left float64's range (or, in λ, the domain of the map λ → (r, log u)):
                    # the accepted state may still be fine
                    zt = solver.y
                    if sys_ is red:
                        # λ: b ≤ 0 or r² ≤ 0 at a trial state is where λ stops describing the flow, not where
                        # the flow diverges: (r, log u) from the last accepted state (as on rounding below)
                        zvt = to_v(zt) if np.all(np.isfinite(zt)) else None
                        if zvt is not None and np.all(np.isfinite(zvt)) and 0 < zvt[0] <= 1e150:
                            if red.undefined:
                                why, label = "a trial state left λ's domain: b ≤ 0 or r² ≤ 0", ", leaving λ's domain"
                            else:
                                why, label = "λ's field was not finite at a trial state", ", λ's field not finite"
                            solver = leave_lambda(float(solver.t), zt.copy(), why, label, None)
                            continue
                    ft = sys_._rhs(solver.t, zt) if np.all(np.isfinite(zt)) else np.array([np.nan])
                    if not np.all(np.isfinite(ft)) or retries >= 5:
                        status = Status.DIVERGED
                        r_t = float(to_v(zt)[0]) if sys_ is red else float(zt[0])
                        message = (f"the vector field became non-finite at t = {solver.t:.4g} (r = {r_t:.3g}): the "
                                   "state overflows float64")
                        break
                    retries += 1
                    h = solver.step_size if solver.step_size is not None else getattr(solver, "h_abs", None)
                    h = h if h is not None and np.isfinite(h) else None  # (the first step has no step_size yet)
                    solver = make(current, solver.t, zt.copy(), None if not h else max(h / 16.0, 1e-12 * max(solver.t, 1.0)))
                    continue
                nsteps += 1
                if solver.status == "failed":
                    bad = not np.all(np.isfinite(solver.y))
                    status = Status.DIVERGED if bad else Status.FAILED
                    message = (f"the {current} solver failed at t = {solver.t:.4g}: {msg}; a smaller rtol or "
                               "another integration method may help")
                    break
                retries = 0
                z = solver.y
                if not np.all(np.isfinite(z)):
                    status = Status.DIVERGED
                    message = f"the state left the domain at t = {solver.t:.4g} (a non-finite state)"
                    break
                if sys_ is red:
                    # λ: the state is defined wherever the field was (r from ‖ū‖ = 1, never ≤ 0); the
                    # residual of every accepted state goes to the monitor in batches (flush_monitor)
                    z_last, e_last = red.last
                    if z_last is z:  # FSAL (DOP853): the field's own residual
                        flush_monitor()
                        rn = _norm(e_last)
                        mon.step(0.5 * rn * rn, rn)
                    else:
                        pending.append(z.copy())
                        if len(pending) >= MONITOR_BATCH:
                            flush_monitor()
                    zv = None
                else:
                    zv = to_v(z)
                    if not (0 < zv[0] <= 1e150):
                        status = Status.DIVERGED
                        message = f"the state left the domain at t = {solver.t:.4g} (r = {zv[0]:.3g})"
                        break
                    z_last, e_last = flow.last
                    # DOP853 evaluates the field at the accepted state last (FSAL): reuse its residual
                    rn = _norm(e_last) if z_last is z else residual_norm(zv)
                    mon.step(0.5 * rn * rn, rn)
                if (stiffness is not None and current == "DOP853" and stiffness.update(solver)
                        and solver.h_previous < STIFF_RATIO * solver.t):
                    # DOP853's steps are stability-bound (the stiff tail): BDF from here on
                    dense_before_switch = _as_v(solver.dense_output(), to_v)
                    current = "BDF"
                    switches.append(("BDF", float(solver.t)))
                    solver = make("BDF", solver.t, z.copy())
                elif (sys_ is red and nsteps % REDUCED_CHECK_EVERY == 0
                      and not red.rounding(z) <= REDUCED_ROUNDING * rtol):
                    # λ no longer holds the accuracy asked (class _Reduced): (r, log u) from here on
                    solver = leave_lambda(float(solver.t), z, "λ's rounding", "",
                                          _as_v(solver.dense_output(), to_v))
                while ci < len(cps) and solver.t >= cps[ci]:
                    tc = float(cps[ci])
                    if solver.t <= tc:
                        zcv = to_v(solver.y)
                    elif solver.t_old is not None and solver.t_old <= tc:
                        zcv = to_v(solver.dense_output()(tc))
                    else:
                        zcv = dense_before_switch(tc)
                    lo, rn_c = record(tc, zcv)
                    ci += 1
                    if not (math.isfinite(lo) and math.isfinite(rn_c)):
                        status = Status.DIVERGED
                        message = f"loss became non-finite at t = {tc:.4g}"
                        break
                    if not (res_tol > 0 and rn_c <= res_tol and steady.due(tc)):
                        continue
                    r_c = float(zcv[0])
                    lrho_c = _log_rho(r_c, config)
                    left = None if deadline is None else deadline - time.perf_counter()
                    if left is not None and left <= 0:
                        status = Status.TIME_LIMIT
                        message = f"time_limit = {time_limit:g} s spent at t = {tc:.4g}"
                        break
                    est, nu, bmsg, bst = limit_estimate(A, y, F.log_beta(log_w0, lrho_c, L), L, nu0=last_nu,
                                                        time_limit=left)
                    if bst is Status.TIME_LIMIT:
                        status = Status.TIME_LIMIT
                        message = f"time_limit = {time_limit:g} s spent at t = {tc:.4g} (in the limit estimate)"
                        break
                    if est is None:
                        steady.failed(tc, bmsg)  # no estimate, no verdict here: x(t) is not a substitute
                        continue
                    last_nu = nu
                    if steady.offer(tc, est, r_c, lrho_c, noise_floor=bst is Status.NOISE_FLOOR):
                        settled = steady.settled_message()
                        noise = residual_noise(zcv)
                        if res_tol < noise:
                            # the residual passed a test float64 cannot decide: not a verdict
                            status = Status.NOISE_FLOOR
                            message = (
                                f"‖Ax − y‖ {rn_c:.3e} <= {res_tol:.3e}, but float64's rounding level for "
                                f"‖Ax − y‖ here is {noise:.3e} > the tolerance, so the residual is not "
                                f"resolved; {settled}. Integrate at higher precision (dps), or rescale y "
                                f"and r0 so that the tolerance is above the rounding level")
                        else:
                            status = Status.CONVERGED
                            message = (f"‖Ax − y‖ {rn_c:.3e} <= {res_tol:.3e} (loss {lo:.3e}, "
                                       f"loss_tol {loss_tol:.3e}); {settled}")
                        t_conv, z_conv = tc, zcv
                        break
                if status is not None:
                    break
                if nsteps >= max_steps:
                    status = Status.NOT_CONVERGED
                    message = f"the step budget ({max_steps} steps) was spent at t = {solver.t:.4g}"
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    status = Status.TIME_LIMIT
                    message = f"time_limit = {time_limit:g} s spent at t = {solver.t:.4g}"
                    break
        except _OutOfTime:  # raised by the field inside scipy (a dense output, a solver switch)
            status = Status.TIME_LIMIT
            message = f"time_limit = {time_limit:g} s spent at t = {solver.t:.4g}"
        except _NonFinite:
            status = Status.DIVERGED
            message = f"the vector field became non-finite at t = {solver.t:.4g}: the state overflows float64"

    if red is not None:
        flush_monitor()
    if z_conv is not None:
        return finish(status, message, t_conv, z_conv, nsteps)
    t_end = float(solver.t)
    zv = to_v(solver.y)
    if np.all(np.isfinite(zv)) and (not rec["t"] or rec["t"][-1] != t_end):
        record(t_end, zv)
    if status in (Status.NOT_CONVERGED, Status.TIME_LIMIT):
        lo = rec["loss"][-1] if rec["loss"] else float("nan")
        rn = residual_norm(zv) if np.all(np.isfinite(zv)) else float("nan")
        message += (
            f"; loss reached {lo:.3e} (loss_tol {loss_tol:.3e}; ‖Ax − y‖ {rn:.3e} against {res_tol:.3e}), "
            f"{steady.unsettled_message()}; this state is not a limit — {_ADVICE}"
        )
    return finish(status, message + scale_note, t_end, zv, nsteps)
