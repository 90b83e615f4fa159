"""Flow settings: depth, initial radius and direction, learning rates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np

Rates = Literal["constant", "r2", "plain"]
RATES = ("constant", "r2", "plain")


@dataclass(frozen=True)
class FlowConfig:
    """Settings of one flow (MATH.md §2).

    ``rates``:
      * ``"constant"`` — WN-GF with constant ``(eta_r, eta_u)``;
      * ``"r2"`` — WN-GF with the time-dependent rates ``(r², 1)`` (``eta_r``/``eta_u`` unused);
      * ``"plain"`` — plain GF on ``w`` from ``w0 = r0 * u0`` (``eta_*`` unused).

    ``u0`` is the initial direction (positive, normalised to ``‖u0‖ = 1`` by :meth:`u0_for`);
    ``None`` means the uniform direction ``1/√n · 1``.  Plain GF from ``w0 = α·1`` is
    ``r0 = α√n`` with the default ``u0``.
    """

    L: int = 2
    r0: float = 1.0
    eta_r: float = 0.1
    eta_u: float = 1.0
    rates: Rates = "constant"
    u0: Optional[tuple] = None

    def __post_init__(self):
        if isinstance(self.L, bool) or not isinstance(self.L, (int, np.integer)) or self.L < 2:
            raise ValueError(f"L must be an integer >= 2 (the depth), got {self.L!r}")
        object.__setattr__(self, "L", int(self.L))
        for name in ("r0", "eta_r", "eta_u"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(float(v)) or float(v) <= 0:
                raise ValueError(f"{name} must be a finite positive number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if self.rates not in RATES:
            raise ValueError(f"rates must be one of {RATES}, got {self.rates!r}")
        if self.u0 is not None:
            u0 = np.asarray(self.u0, dtype=float)
            if u0.ndim != 1 or not np.all(np.isfinite(u0)) or np.any(u0 <= 0):
                raise ValueError("u0 must be a 1-D array of finite positive entries")
            object.__setattr__(self, "u0", tuple(float(v) for v in u0))

    @property
    def eta_tilde(self) -> float:
        """Learning-rate ratio ``η̃ = η_r / η_u``."""
        return self.eta_r / self.eta_u

    def u0_for(self, n: int) -> np.ndarray:
        """The unit initial direction ``ū0`` in R^n."""
        if self.u0 is None:
            return np.full(n, 1.0 / math.sqrt(n))
        u0 = np.asarray(self.u0, dtype=float)
        if u0.shape != (n,):
            raise ValueError(f"u0 has length {u0.size} but the model has n = {n} weights")
        return u0 / np.linalg.norm(u0)

    def w0_for(self, n: int) -> np.ndarray:
        """Initial weights ``w0 = r0 · ū0``."""
        return self.r0 * self.u0_for(n)

    def replace(self, **changes) -> "FlowConfig":
        from dataclasses import replace

        return replace(self, **changes)

    def as_dict(self) -> dict:
        return {
            "L": self.L,
            "r0": self.r0,
            "eta_r": self.eta_r,
            "eta_u": self.eta_u,
            "eta_tilde": self.eta_tilde,
            "rates": self.rates,
            "u0": None if self.u0 is None else list(self.u0),
        }
