"""Outcome statuses shared by every solver in :mod:`numerics`.

Bad input raises (``ValueError``/``TypeError``) at once; numerical trouble is a
:class:`Status` on the result, which :meth:`raise_for_status`-style helpers may
turn into :class:`NumericalError` on request.
"""

from __future__ import annotations

import enum


class Status(str, enum.Enum):
    """Why a solver stopped.  The value is the string written to JSON."""

    CONVERGED = "converged"
    NOT_CONVERGED = "not_converged"
    DIVERGED = "diverged"
    INCONSISTENT = "inconsistent"
    FAILED = "failed"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class NumericalError(RuntimeError):
    """Raised on request when a result's status is not ``CONVERGED``."""

    def __init__(self, status: Status, message: str):
        super().__init__(f"{status.value}: {message}")
        self.status = status
        self.message = message


def raise_unless_converged(status: Status, message: str) -> None:
    """Raise :class:`NumericalError` unless ``status`` is ``CONVERGED``."""
    if status is not Status.CONVERGED:
        raise NumericalError(status, message)
