"""Errors the command line turns into a message and exit status 2."""


class UsageError(ValueError):
    """Bad input from the user: the message names the argument and the fix."""
