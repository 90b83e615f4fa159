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
    """Within the solver's stated tolerance, and nothing less."""
    NOT_CONVERGED = "not_converged"
    """Budget of steps or time horizon spent before the tolerance was reached."""
    NOISE_FLOOR = "noise_floor"
    """Stopped because the working precision cannot reduce the residual further, while the
    residual (reported in the message and on the result) is still above the tolerance."""
    TIME_LIMIT = "time_limit"
    """The caller's wall-clock budget (``time_limit=`` seconds) ran out first."""
    DIVERGED = "diverged"
    INCONSISTENT = "inconsistent"
    TRIVIAL = "trivial"
    """The problem is trivial: ``y = 0``, so ``z = 0`` is feasible and the ℓ1 optimum is 0 (other
    nonnegative solutions of ``Az = 0`` may exist; the solver's message says what it concluded)."""
    FAILED = "failed"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class NumericalError(RuntimeError):
    """Raised on request when a result's status is not ``CONVERGED``.

    This (and its subclasses) is the only exception type that the verification layer turns
    into a verdict; any other exception is a programming error and propagates."""

    def __init__(self, status: Status, message: str):
        super().__init__(f"{status.value}: {message}")
        self.status = status
        self.message = message


class MachineryMissing(RuntimeError):
    """A module a computation needs cannot be imported (or lacks a name): it cannot run.

    Not a verdict and not a numerical outcome: callers let it propagate (the command line
    exits 3 naming :attr:`module`).  Defined here, in :mod:`numerics`, so that the numerics
    layer can raise it without importing the verification layer; ``wnbias.errors`` re-exports
    this same class."""

    def __init__(self, module: str, why: str = ""):
        super().__init__(f"missing machinery: {module}" + (f" ({why})" if why else ""))
        self.module = module
        self.why = why


def raise_unless_converged(status: Status, message: str) -> None:
    """Raise :class:`NumericalError` unless ``status`` is ``CONVERGED``."""
    if status is not Status.CONVERGED:
        raise NumericalError(status, message)
