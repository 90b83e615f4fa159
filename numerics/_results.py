"""Result of integrating a flow: one type for every integrator (float64 and ``dps`` digits).

Every field is named and typed; there is no free-form dictionary.  Vectors are always
``numpy`` arrays: ``float64`` for a float64 run, ``dtype=object`` arrays of ``mpmath.mpf`` for a
run at ``dps`` digits (see :mod:`numerics._arith`).  Trajectories sampled at checkpoints are
float64 arrays in both cases (for plots and reports).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional, Union

import mpmath
import numpy as np

from numerics._status import Status, raise_unless_converged
from numerics._config import FlowConfig

_NAN = float("nan")


@dataclass(frozen=True)
class SteadyState:
    """The record of the shared convergence test (:mod:`numerics._steady`).

    A run is CONVERGED when the loss is at most ``loss_tol`` and the limit estimate (the Bregman
    projection of ``β(t)``, docs/math.md §4) and ``r(t)`` each moved by at most ``limit_tol``
    (relative) between two checkpoint times a factor ``CHECK_FACTOR`` apart (``between``)."""

    limit_estimate: str = "Bregman projection of beta(t) onto {Az = y, z >= 0} (docs/math.md §4)"
    limit_tol: float = _NAN
    movement: float = _NAN          # max of the relative movements below, the quantity compared
    x_movement: float = _NAN        # relative movement of the limit estimate
    r_movement: float = _NAN        # relative movement of r(t)
    log_rho_movement: float = _NAN  # change of log ρ(t) over the same interval
    between: tuple = (_NAN, _NAN)   # the two times compared
    estimate_failures: int = 0      # checkpoints where the projection did not converge


COORDINATES_64 = ("r_log_u", "r_log_u_shifted", "lambda", "lambda_then_r_log_u")
"""Values of :attr:`Float64Diagnostics.coordinates`: ``"r_log_u"`` (the state ``(r, log u)``; the
invariant and ``‖u‖ − 1`` are computed from it, a genuine check), ``"r_log_u_shifted"`` (``(r, log u +
s(r))``, numerics._flow64.SHIFT_CONSTANT_RATES; also a check), ``"lambda"`` (the dual coordinates
``λ`` of docs/math.md §6.3 for the whole run: the invariant holds by construction, its residual is
rounding only), ``"lambda_then_r_log_u"`` (``λ``, then ``(r, log u)`` from the switch time on)."""


@dataclass(frozen=True)
class Float64Diagnostics:
    """What the float64 integrator did (scipy ``solve_ivp`` steppers).

    ``coordinates``: what was integrated (one of :data:`COORDINATES_64`); ``invariant_checked_from``:
    the time from which ``FlowResult.invariant_residual`` (and ``unorm_dev``) measure the integration
    error — ``0.0`` in ``(r, log u)``, the switch time after leaving ``λ`` (the residual then measures
    the drift since that state, which lay on the invariant manifold by construction), ``None`` when the
    whole run stayed in ``λ`` (the residual is rounding only and checks nothing)."""

    rtol: float
    atol: float
    field: str                      # which vector field / coordinates were integrated (free text)
    njev: int = 0
    method_switches: tuple = ()     # ((method, t), ...)
    coordinates: str = "r_log_u"    # one of COORDINATES_64
    invariant_checked_from: Optional[float] = 0.0

    def __post_init__(self):
        if self.coordinates not in COORDINATES_64:
            raise ValueError(f"coordinates must be one of {COORDINATES_64}, got {self.coordinates!r}")
        if (self.invariant_checked_from is None) != (self.coordinates == "lambda"):
            raise ValueError("invariant_checked_from is None exactly when the run stayed in the dual coordinates λ")


@dataclass(frozen=True)
class TaylorDiagnostics:
    """What the Taylor integrator did at ``dps`` digits."""

    order: int
    arithmetic: str                 # e.g. "python-flint arb" or "gmpy2.mpfr"
    prec_bits: int
    trunc_tol: float
    rank: int                       # rank of A decided at dps (for the invariant residual)
    h_min: float = _NAN
    h_max: float = _NAN
    err_est_max: float = _NAN
    err_est_sum: float = 0.0
    float_from_order: Optional[int] = None
    float_from_order_min: Optional[int] = None
    float_from_order_sum: int = 0
    float_tail_rejected: int = 0
    ball_radius_max: float = _NAN   # largest radius of an arb ball met (an arithmetic error bound); nan if not arb


@dataclass(frozen=True)
class FlowResult:
    """A trajectory and where it ended.  The final state is *not* a limit unless ``converged``.

    ``t, loss, r, invariant_residual, unorm_dev``: float64 arrays at the recorded checkpoints;
    ``invariant_residual[k] = ‖P_ker(A) h(t_k)‖ / max(‖h(t_k)‖, ‖log_L(b)‖)`` (docs/math.md §3.3),
    ``unorm_dev[k] = ‖u(t_k)‖ − 1`` (zeros for plain GF).

    Final state at the working precision (float, or mpf with ``dps``): ``t_final``, ``r_final``;
    ``u_final`` (the state ``u``; for plain GF the direction ``w/‖w‖`` with ``r_final = ‖w‖``) and
    ``log_u_final`` (its logarithm: the only faithful final state where ``u`` underflows float64);
    ``x_final`` in effective coordinates (length ``n``), ``x_user`` in the user's; ``loss_final_exact``
    the loss at the working precision.

    ``max_step_increase``: the largest increase of ``‖Ax − y‖`` between consecutive accepted steps,
    over ``steps_checked`` comparisons (docs/math.md §3.2); ``loss_increases`` counts those above
    the noise of the working precision, ``max_rel_loss_increase`` the largest relative one.
    """

    status: Status
    message: str
    config: FlowConfig
    method: str
    dps: Optional[int]
    t: np.ndarray
    loss: np.ndarray
    r: np.ndarray
    invariant_residual: np.ndarray
    unorm_dev: np.ndarray
    t_final: Union[float, mpmath.mpf]
    r_final: Union[float, mpmath.mpf]
    u_final: np.ndarray
    log_u_final: np.ndarray
    x_final: np.ndarray
    x_user: np.ndarray
    loss_final_exact: Union[float, mpmath.mpf]
    nfev: int
    nsteps: int
    loss_tol: float
    wall_time: float = _NAN
    max_step_increase: float = _NAN
    steps_checked: int = 0
    loss_increases: int = 0
    max_rel_loss_increase: float = 0.0
    steady: SteadyState = field(default_factory=SteadyState)
    diagnostics: Union[Float64Diagnostics, TaylorDiagnostics, None] = None

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    @property
    def loss_final(self) -> float:
        return float(self.loss[-1]) if len(self.loss) else _NAN

    def raise_for_status(self) -> "FlowResult":
        raise_unless_converged(self.status, self.message)
        return self

    def to_dict(self) -> dict:
        """JSON-able form (one NaN policy: ``None``): mpf values as decimal strings with ``dps``
        digits, arrays as lists, nested dataclasses as dicts, the exact parameters as typed."""
        from numerics._arith import jsonable

        digits = 15 if self.dps is None else self.dps
        out = {f.name: jsonable(getattr(self, f.name), digits) for f in fields(self) if f.name != "config"}
        out["params"] = self.config.exact_strings()
        return out
