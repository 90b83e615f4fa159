"""Errors the command line turns into a message and an exit status.

``UsageError`` → exit 2 (bad input or usage: the message names the argument and the fix);
``CannotRun`` → exit 3 (the work could not be done or its output could not be kept: missing
machinery, named; an output that could not be written after the work);
``MachineryMissing`` → exit 3 naming the module (a check or command needs a module that cannot
be imported).  This module imports nothing but :mod:`numerics._status` (which imports nothing
of wnbias), so every layer may raise these.  ``MachineryMissing`` is defined once, in
:mod:`numerics._status` (the numerics layer raises it too), and re-exported here.
"""

from numerics._status import MachineryMissing  # noqa: F401  (defined once, in numerics._status)

# the exit statuses of every command (README.md, "Exit status")
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3
EXIT_INTERRUPTED = 130


class UsageError(ValueError):
    """Bad input from the user: the message names the argument and the fix (exit 2)."""


class CannotRun(RuntimeError):
    """The command could not do or keep its work (exit 3); the message says what is missing."""
