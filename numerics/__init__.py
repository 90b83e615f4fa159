"""Numerics (numpy, scipy, mpmath): flows, references and limits.  Never imports sympy."""

from numerics._status import NumericalError, Status
from numerics.precision import tol, workdps

__all__ = ["NumericalError", "Status", "tol", "workdps"]
