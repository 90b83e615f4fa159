"""The integrator bookkeeping shared by both engines (float64 and ``dps`` digits).

One home for what a run of the flow is judged by (docs/math.md §3.2, §4, §6):

* :func:`default_loss_tol` / :func:`residual_tol` — the loss to reach, and the same test as a
  residual ``‖Ax − y‖ ≤ tol`` (compared as a residual: a squared loss may underflow);
* :func:`default_limit_tol` — how little the limit estimate may still move;
* :func:`checkpoint_grid` — the times at which a run is recorded;
* :class:`SteadyTest` — the steady-state test: the limit estimate (the Bregman projection of
  ``β(t)`` onto ``{Az = y, z ≥ 0}``, docs/math.md §4 "at every finite time") and ``r(t)`` each
  moved by at most ``limit_tol`` (relative) between two times a factor :data:`CHECK_FACTOR`
  apart; its record is a :class:`numerics._results.SteadyState`;
* :class:`LossMonitor` — the loss-monotonicity record (docs/math.md §3.2): the largest increase of
  ``‖Ax − y‖`` between consecutive steps, and the increases beyond the working precision's noise.

Both arithmetics: pass float64 values (``dps=None``) or ``mpf``/``gmpy2.mpfr`` scalars and
object arrays of ``mpf`` (``dps`` given; call inside ``numerics._precision.workdps(dps)``).
Comparisons at ``dps`` are made in that arithmetic, never through float64 (``10^-dps`` underflows
float64 above ~300 digits); the records are floats (for reports).

How an engine uses it (the Taylor engine as the example)::

    from numerics import _steady as S
    loss_tol = S.default_loss_tol(problem, dps)              # float, for reports
    loss_tol_m = S.loss_tol_at(problem, dps, loss_tol=None)  # mpf at dps (user float, or default)
    steady = S.SteadyTest(S.default_limit_tol(dps=dps), dps=dps)   # limit_tol: float or mpf
    mon = S.LossMonitor(noise=S.loss_noise(dps), ny=ny)      # ny = ‖y‖ in the engine's arithmetic
    cps = S.checkpoint_grid(t_max, checkpoints)              # float64 times in (0, t_max], t_max last
    ...
    # at every accepted step:
    mon.step(loss, residual)                                 # residual = ‖Ax − y‖ = √(2 loss)
    if loss <= loss_tol_m and steady.due(t):
        est = projection of β(t) (an object array of mpf) or None when it failed
        if est is None: steady.failed(t, message)
        elif steady.offer(t, est, r, log_rho): -> CONVERGED, message steady.settled_message()
    ...
    FlowResult(..., steady=steady.record(), **mon.fields())

``steady.offer`` returns True when the estimate moved by at most ``limit_tol`` relative to the
latest estimate offered at a time at least ``CHECK_FACTOR`` earlier (however densely the caller
offers, the comparison spans a factor ``CHECK_FACTOR`` in time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from numerics._precision import DPS_FLOAT64, K_ROUNDOFF, K_SOLVE, check_dps, tol
from numerics._results import SteadyState

__all__ = ["CHECK_FACTOR", "T_FIRST", "REL_RESIDUAL_TOL_64", "DEFAULT_RTOL_64", "default_loss_tol", "loss_tol_at",
           "residual_tol", "min_loss_tol", "default_limit_tol", "loss_noise", "checkpoint_grid", "SteadyTest",
           "LossMonitor", "LossRecord"]

CHECK_FACTOR = 2.0
"""The limit estimate is compared with one from at least this factor earlier in time; the default
checkpoints are spaced geometrically by it."""

T_FIRST = 1e-2
"""The first default checkpoint after ``t = 0``."""

REL_RESIDUAL_TOL_64 = 1e-6
"""float64: the default residual ``‖Ax − y‖ ≤ 1e-6 ‖y‖``.  Not ``tol(15, K)``: in float64 the tail
loss decays as a power law (docs/math.md §6) and this is where a run of a bounded length gets; the
limit is pinned by the steady-state test, which does not depend on the residual of ``x(t)``.
Measured on the N = 1000, M = 150, 38-sparse problem (L = 2, r0 = 1, η̃ = 0.1; ρ ≈ e^{260}): loss
7.6e-5 at t = 80, 1.8e-7 at 1.3e3, 4.2e-9 at 1e4, 2.4e-11 at 8e4 (relative residual 7.7e-7)."""

DEFAULT_RTOL_64 = tol(DPS_FLOAT64, K_SOLVE)
"""float64: the solver's default local tolerance on each ``log u_i`` (integrated in ``(r, log u)`` or in
the dual coordinates ``λ``, numerics._flow64), ``tol(15, K_SOLVE) = 1e-10`` —
the level to which an iterative float64 computation is trusted (the integrator is one)."""


def _norm_y(problem) -> float:
    v = np.asarray(problem.y, dtype=float)
    m = float(np.max(np.abs(v))) if v.size else 0.0
    if m == 0.0 or not math.isfinite(m):
        return m
    return m * float(np.linalg.norm(v / m))


def default_loss_tol(problem, dps: Optional[int] = None) -> float:
    """The default ``loss_tol`` (a float, for reports; it may underflow — compare residuals with
    :func:`residual_tol`, or the loss at dps with :func:`loss_tol_at`).

    float64 (``dps=None``): ``½ (1e-6 ‖y‖)²`` (:data:`REL_RESIDUAL_TOL_64`); 0 for ``y = 0`` (the
    float64 engine calls that TRIVIAL).  At ``dps`` digits: ``½ (tol(dps, K_ROUNDOFF) ‖y‖)²``, the
    residual at the roundoff level of ``dps`` digits (``‖y‖`` floored at 1e-300).
    """
    ny = _norm_y(problem)
    if dps is None:
        return 0.5 * (REL_RESIDUAL_TOL_64 * ny) ** 2
    return 0.5 * (tol(check_dps(dps), K_ROUNDOFF) * max(ny, 1e-300)) ** 2


def min_loss_tol(problem, dps: int) -> float:
    """The smallest ``loss_tol`` that ``dps`` digits can resolve: ``½ (10^-dps ‖y‖)²``."""
    return 0.5 * (10.0 ** (-check_dps(dps)) * max(_norm_y(problem), 1e-300)) ** 2


def loss_tol_at(problem, dps: int, loss_tol=None):
    """``loss_tol`` as an ``mpf`` at the current mpmath precision (call inside ``workdps(dps)``):
    the caller's value, or the default of :func:`default_loss_tol` computed in mpf (so that it does
    not underflow above ~300 digits).  ``‖y‖`` is computed in mpf from the exact float64 data."""
    import mpmath

    if loss_tol is not None:
        return mpmath.mpf(loss_tol)
    ny = mpmath.sqrt(mpmath.fsum(mpmath.mpf(float(v)) ** 2 for v in np.asarray(problem.y, dtype=float)))
    if ny == 0:
        ny = mpmath.mpf("1e-300")
    return (mpmath.mpf(10) ** (K_ROUNDOFF - check_dps(dps)) * ny) ** 2 / 2


def residual_tol(problem, loss_tol: Optional[float] = None) -> float:
    """float64: the residual test equivalent to ``loss ≤ loss_tol``: ``‖Ax − y‖ ≤ √(2 loss_tol)``;
    for the default (``loss_tol=None``) ``1e-6 ‖y‖`` directly (which does not underflow)."""
    if loss_tol is None:
        return REL_RESIDUAL_TOL_64 * _norm_y(problem)
    return math.sqrt(2.0) * math.sqrt(float(loss_tol))


def default_limit_tol(dps: Optional[int] = None, *, rtol: Optional[float] = None):
    """The default ``limit_tol`` of :class:`SteadyTest`, tied to the precision the state is held to.

    The movement compares two limit estimates, each a function of the integrated ``r(t)`` (through
    ``log ρ``) evaluated once and then solved for (the dual Newton of the projection).  So it can be
    resolved to the accuracy of the state times the digits that evaluation loses:

    * float64 (``dps=None``): the integrator holds each ``log u_i`` to its local (per-step) tolerance
      ``rtol`` (default :data:`DEFAULT_RTOL_64` = 1e-10; in ``(r, log u)`` or, for the default
      ``"auto"``, in the dual coordinates ``λ`` with an absolute tolerance ``rtol`` on each ``log u_i``),
      not to float64's 15 digits, and the global error accumulates over the steps (e.g. 1.1e-10 to
      1.2e-8 at rtol 1e-10, numerics._flow64._Reduced); the estimate loses ``K_ROUNDOFF`` digits of
      it: ``10^K_ROUNDOFF · rtol`` (1e-7 at the default), and never below ``tol(15, K_SOLVE)``, the
      float64 projection's own acceptance level;
      Measured (``generate("sparse_positive", 10, 4, 0, k=2)``, L = 2, η̃ = 0.5, rtol = 1e-10): once
      settled, the estimate moved 4.9e-10 and ``r`` 5.9e-10 between t = 81.9 and 163.8 with DOP853,
      1.9e-12 and 2.3e-12 with the then-default ``auto`` (DOP853 then BDF in ``(r, log u)``, now
      ``"auto-full"``): the floor is at most ~10·rtol, two digits below the tolerance;
    * at ``dps`` digits (the Taylor engine: local truncation ``10^-(dps+3)``, so the state carries
      ``dps`` digits): the projection's acceptance level ``tol(dps, K_SOLVE)``, returned as an
      ``mpf`` (call inside ``workdps``; it underflows float64 above ~300 digits).
    """
    if dps is not None:
        import mpmath

        return mpmath.mpf(10) ** (K_SOLVE - check_dps(dps))
    rtol = DEFAULT_RTOL_64 if rtol is None else float(rtol)
    return max(float(f"{10.0 ** K_ROUNDOFF * rtol:.12g}"), tol(DPS_FLOAT64, K_SOLVE))


def loss_noise(dps: Optional[int] = None, *, rtol: Optional[float] = None):
    """The relative noise of the loss between two steps, for :class:`LossMonitor`.

    At ``dps``: ``10^(K_ROUNDOFF − dps)`` (an ``mpf``).  float64: the state is held to the local
    tolerance ``rtol`` (default :data:`DEFAULT_RTOL_64`), so consecutive losses carry an integration
    error of that relative size; ``max(rtol, tol(15, K_ROUNDOFF))``."""
    if dps is not None:
        import mpmath

        return mpmath.mpf(10) ** (K_ROUNDOFF - check_dps(dps))
    rtol = DEFAULT_RTOL_64 if rtol is None else float(rtol)
    return max(rtol, tol(DPS_FLOAT64, K_ROUNDOFF))


def checkpoint_grid(t_max: float, checkpoints: Optional[Sequence[float]] = None) -> np.ndarray:
    """The times (float64, increasing, in ``(0, t_max]``, ``t_max`` last) at which a run is
    recorded and its steady-state test may run; ``t = 0`` is recorded by the engine itself.

    Default: ``T_FIRST · CHECK_FACTOR^k`` up to ``t_max``.  Given ``checkpoints`` (finite, ``≥ 0``)
    are clipped to ``[0, t_max]``; ``t_max`` is appended when missing."""
    t_max = float(t_max)
    if not (math.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be a finite positive number, got {t_max!r}")
    if checkpoints is None:
        k = int(math.ceil(math.log(t_max / T_FIRST) / math.log(CHECK_FACTOR))) if t_max > T_FIRST else 0
        cps = T_FIRST * CHECK_FACTOR ** np.arange(k + 1)
    else:
        cps = np.asarray(checkpoints, dtype=float).reshape(-1)
        if not np.all(np.isfinite(cps)) or np.any(cps < 0):
            raise ValueError("checkpoints must be finite non-negative times")
    cps = np.unique(np.clip(cps, 0.0, t_max))
    cps = cps[cps > 0.0]
    if cps.size == 0 or cps[-1] < t_max:
        cps = np.append(cps, t_max)
    return cps


# -- arithmetic-generic helpers --------------------------------------------------------


def _rel_movement(a, b, mp: bool):
    """``‖a − b‖ / ‖a‖`` (2-norms; ``‖a‖ = 0`` counts as 1), in float64 or mpf."""
    if mp:
        import mpmath

        na = mpmath.sqrt(mpmath.fsum(v * v for v in a))
        d = mpmath.sqrt(mpmath.fsum((p - q) * (p - q) for p, q in zip(a, b)))
        return d / (na if na else 1)
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)

    def nrm(v):
        m = float(np.max(np.abs(v))) if v.size else 0.0
        return m if (m == 0.0 or not math.isfinite(m)) else m * float(np.linalg.norm(v / m))

    return nrm(a - b) / max(nrm(a), 1e-300)


def _f(v) -> float:
    return float(v)


class SteadyTest:
    """The steady-state test (docs/math.md §4): see the module docstring for its use.

    ``limit_tol``: float (float64) or mpf/mpfr (``dps``); default :func:`default_limit_tol`.
    State: the estimates offered so far (time, estimate, ``r``, ``log ρ``), the last movement, the
    failures.  ``offer`` compares in the caller's arithmetic."""

    def __init__(self, limit_tol=None, *, dps: Optional[int] = None, check_factor: float = CHECK_FACTOR):
        self.dps = dps
        self.limit_tol = default_limit_tol(dps) if limit_tol is None else limit_tol
        self.check_factor = float(check_factor)
        self.history = []          # (t, estimate, r, log_rho)
        self.last_try = None       # the time of the latest due() that returned True
        self.failures = []         # (t, message)
        self.movement = None       # (movement, dx, dr, dlog_rho, t_ref, t) of the latest comparison
        self.noise_floor = False   # the latest estimate was at the projection's noise floor

    def due(self, t) -> bool:
        """Whether a test at time ``t`` is worth a projection: the first, or a factor
        ``CHECK_FACTOR`` after the previous try (so a caller testing at every step pays one
        projection per factor in time).  Marks ``t`` as tried when True."""
        tf = float(t)
        if self.last_try is not None and not (tf > self.last_try and tf >= self.check_factor * self.last_try
                                              * (1 - 1e-12)):
            return False
        self.last_try = tf
        return True

    def failed(self, t, message: str) -> None:
        """A projection that did not converge at ``t``: no verdict there (``x(t)`` is no substitute)."""
        self.failures.append((float(t), str(message)))

    def offer(self, t, estimate, r, log_rho, *, noise_floor: bool = False) -> bool:
        """Record the estimate at ``t`` and compare it with the latest one at least a factor
        ``CHECK_FACTOR`` earlier; True when both it and ``r`` moved by at most ``limit_tol``."""
        mp = self.dps is not None
        self.noise_floor = bool(noise_floor)
        tf = float(t)
        ref = next((h for h in reversed(self.history) if h[0] * self.check_factor <= tf * (1 + 1e-12)), None)
        settled = False
        if ref is not None:
            dx = _rel_movement(estimate, ref[1], mp)
            dr = abs(r - ref[2]) / r
            move = dx if dx >= dr else dr
            self.movement = (move, dx, dr, abs(log_rho - ref[3]), ref[0], tf)
            settled = bool(move <= self.limit_tol)
        if not settled:
            self.history.append((tf, estimate, r, log_rho))
        return settled

    @property
    def last_movement(self) -> float:
        """The movement measured last (float; nan before any comparison)."""
        return float("nan") if self.movement is None else _f(self.movement[0])

    def settled_message(self) -> str:
        move, dx, dr, dl, t0, t1 = self.movement
        return (f"between t = {t0:.6g} and {t1:.6g} the limit estimate moved {_f(dx):.2e} and r {_f(dr):.2e} "
                f"(relative; limit_tol {_f(self.limit_tol):.1e}), log ρ {_f(dl):.2e}")

    def unsettled_message(self) -> str:
        """Why the test has not passed (for a NOT_CONVERGED / TIME_LIMIT message)."""
        if self.movement is not None:
            return f"limit estimate moving by {self.last_movement:.2e} (limit_tol {_f(self.limit_tol):.1e})"
        if self.failures:
            return (f"the limit estimate failed at {len(self.failures)} checkpoint(s), last at "
                    f"t = {self.failures[-1][0]:.4g}: {self.failures[-1][1]}")
        if self.history:
            return (f"the limit estimate could not yet be compared over a factor {self.check_factor:g} in time")
        return "limit estimate not yet checked (loss above its tolerance)"

    def record(self) -> SteadyState:
        label = "Bregman projection of beta(t) onto {Az = y, z >= 0} (docs/math.md §4)"
        if self.noise_floor:
            label += " at the working precision's noise floor"
        if self.movement is None:
            return SteadyState(limit_estimate=label, limit_tol=_f(self.limit_tol), estimate_failures=len(self.failures))
        move, dx, dr, dl, t0, t1 = self.movement
        return SteadyState(limit_estimate=label, limit_tol=_f(self.limit_tol), movement=_f(move), x_movement=_f(dx),
                           r_movement=_f(dr), log_rho_movement=_f(dl), between=(t0, t1),
                           estimate_failures=len(self.failures))


@dataclass(frozen=True)
class LossRecord:
    """The loss-monotonicity record (the FlowResult fields of the same names)."""

    max_step_increase: float
    steps_checked: int
    loss_increases: int
    max_rel_loss_increase: float


class LossMonitor:
    """docs/math.md §3.2 along a run: call :meth:`step` with the loss and ``‖Ax − y‖`` after every
    accepted step (and once at ``t = 0``).

    ``max_step_increase``: the largest ``max(0, ‖Ax − y‖_k − ‖Ax − y‖_{k−1})`` over
    ``steps_checked`` comparisons (nan when none).  ``loss_increases``: the steps where the loss
    rose by more than ``noise · (ℒ_{k−1} + √(2ℒ_{k−1}) ‖y‖)`` (the noise of the loss at the working
    precision: :func:`loss_noise`), with the largest relative increase.  ``noise`` and ``ny`` in
    the caller's arithmetic (float, or mpf/mpfr)."""

    def __init__(self, *, noise, ny):
        self.noise = noise
        self.ny = ny
        self.prev_res = None
        self.prev_loss = None
        self.max_inc = None
        self.checked = 0
        self.increases = 0
        self.max_rel = 0.0

    def step(self, loss, residual) -> None:
        if self.prev_res is not None:
            inc = residual - self.prev_res
            if inc == inc:  # not nan
                if inc < 0:
                    inc = 0 * inc
                self.max_inc = inc if self.max_inc is None or inc > self.max_inc else self.max_inc
                self.checked += 1
        if self.prev_loss is not None:
            allowed = self.noise * (self.prev_loss + self.prev_res * self.ny)
            if loss - self.prev_loss > allowed:
                self.increases += 1
                rel = _f((loss - self.prev_loss) / self.prev_loss) if self.prev_loss > 0 else math.inf
                self.max_rel = max(self.max_rel, rel)
        self.prev_res = residual
        self.prev_loss = loss

    def record(self) -> LossRecord:
        return LossRecord(max_step_increase=_f(self.max_inc) if self.checked else float("nan"),
                          steps_checked=self.checked, loss_increases=self.increases,
                          max_rel_loss_increase=float(self.max_rel))

    def fields(self) -> dict:
        """The record as keyword arguments of :class:`numerics._results.FlowResult`."""
        r = self.record()
        return {"max_step_increase": r.max_step_increase, "steps_checked": r.steps_checked,
                "loss_increases": r.loss_increases, "max_rel_loss_increase": r.max_rel_loss_increase}

    def warning(self, what: str = "the working precision") -> Optional[str]:
        """A sentence for the run's message when the loss rose beyond the noise, else None."""
        if not self.increases:
            return None
        return (f"the loss increased beyond the noise of {what} {self.increases} time(s) "
                f"(max relative increase {self.max_rel:.2e})")
