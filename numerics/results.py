"""Result of integrating a flow, shared by the float64 and arbitrary-precision integrators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from numerics._status import Status, raise_unless_converged
from numerics.config import FlowConfig


@dataclass(frozen=True)
class FlowResult:
    """A trajectory and where it ended.

    Trajectory arrays (float64, for plotting and reports) are sampled at checkpoints ``t``.
    The final state is held at the working precision: floats for float64 runs, ``mpmath.mpf``
    (a list for vectors) when ``dps`` is set.  The final state is *not* a limit unless
    ``status is Status.CONVERGED``.

    ``max_step_increase`` is the largest increase of ``‖Ax − y‖`` between two consecutive
    accepted steps of the integrator (absolute; for a Taylor run computed at the working
    precision, then rounded to float), over ``steps_checked`` such comparisons; the loss is
    non-increasing along the flow (docs/math.md §3.2), so a claim may judge this at every step
    rather than at the sampled checkpoints.  ``nan``/``0`` when not recorded.  ``loss_tol`` is
    the loss tolerance the run used.

    ``invariant_residual[k]`` is ``‖P_ker(A) h(t_k)‖ / max(‖h(t_k)‖, ‖log_L(b)‖)`` (b the reference point of h, so the ratio is not rounding noise near t = 0) (the invariant of
    the flow named by ``config.rates``); ``unorm_dev[k]`` is ``‖u(t_k)‖ − 1`` (zeros for plain GF).
    """

    status: Status
    message: str
    config: FlowConfig
    method: str
    t: np.ndarray
    loss: np.ndarray
    r: np.ndarray
    invariant_residual: np.ndarray
    unorm_dev: np.ndarray
    t_final: Any
    r_final: Any
    u_final: Any
    x_final: Any
    nfev: int
    nsteps: int
    rtol: Optional[float] = None
    atol: Optional[float] = None
    dps: Optional[int] = None
    wall_time: float = float("nan")
    extras: dict = field(default_factory=dict)
    max_step_increase: float = float("nan")
    steps_checked: int = 0
    loss_tol: float = float("nan")

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    @property
    def loss_final(self) -> float:
        return float(self.loss[-1]) if len(self.loss) else float("nan")

    def raise_for_status(self) -> "FlowResult":
        raise_unless_converged(self.status, self.message)
        return self
