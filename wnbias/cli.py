"""The ``wnbias`` command line.

Each subcommand lives in ``wnbias/commands/<name>.py`` and provides ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args) -> int``.  Command modules keep
their heavy imports inside ``run`` so that ``wnbias --help`` stays fast and the
numeric commands never import sympy.  A command module that fails to import is not
dropped: it is listed as unavailable (with the reason), and running it exits 3.

Exit status (one table in README.md, "Exit status"): 0 success; 1 a check FAILed, a run
did not converge, a counterexample was found, or ``--strict`` and a SKIP; 2 bad input or
usage (one message naming the argument, never a traceback); 3 could not run (missing
machinery, named; an output that could not be written after the work, whose results then
go to stdout); 130 interrupted.  A closed stdout pipe (``wnbias verify | head -1``) is not
an error: the command finishes with the status its work earned.  Output that the terminal's
encoding cannot represent is written with backslash escapes instead of failing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from wnbias import __version__
from wnbias.errors import EXIT_CANNOT_RUN, EXIT_INTERRUPTED, EXIT_USAGE, CannotRun, MachineryMissing, UsageError

# -- argument types shared by the commands -------------------------------------------------


def exact_number(*, positive: bool = True):
    """An argparse ``type=`` for a flow parameter that keeps the string the user typed.

    The text must be a finite real number as :func:`numerics._config.exact_value` reads it
    (a decimal such as ``0.1``, a rational ``1/3``, a ``float.hex`` string) whose float64
    rounding is a normal number; the *string* is returned, so that ``FlowConfig`` keeps the
    value exactly (``--eta-r 0.1`` is one tenth, docs/math.md §2).
    """

    def parse(text: str) -> str:
        from numerics._config import exact_value

        try:
            q = exact_value(text, "value")
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a finite real number (a decimal such as 0.1, or p/q), got {text!r}") from None
        if positive and q <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        try:
            f = float(q)
        except OverflowError:
            f = float("inf")
        if q != 0 and not (2.2250738585072014e-308 <= abs(f) < float("inf")):
            raise argparse.ArgumentTypeError(f"{text!r} lies outside the float64 range (about 2.2e-308 to 1.8e308)")
        return text.strip()

    parse.__name__ = "number"
    return parse


def int_at_least(minimum: int, what: str = "an integer"):
    """An argparse ``type=`` for an integer ``>= minimum`` (``"3"``, ``"3.0"``, ``"1e3"``; never eval)."""

    def parse(text: str) -> int:
        s = str(text).strip()
        try:
            v = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
            if not (f == f and abs(f) != float("inf")) or f != int(f):
                raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
            v = int(f)
        if v < minimum:
            raise argparse.ArgumentTypeError(f"must be {what} >= {minimum}, got {text!r}")
        return v

    parse.__name__ = "integer"
    return parse


def positive_float(*, below: float | None = None):
    """An argparse ``type=`` for a finite float ``> 0`` (and ``< below`` if given)."""

    def parse(text: str) -> float:
        try:
            v = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}") from None
        if not (v == v and abs(v) != float("inf")) or v <= 0:
            raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
        if below is not None and not v < below:
            raise argparse.ArgumentTypeError(f"must be < {below:g}, got {text!r}")
        return v

    parse.__name__ = "number"
    return parse


COMMANDS = ("verify", "derive", "solve", "falsify", "sharpness", "reproduce", "sweep")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with a one-line message, no usage dump
        self.exit(2, f"wnbias: error: {message}\n(see '{self.prog} --help')\n")


def _unavailable_runner(name: str, why: str):
    def run(args) -> int:
        raise CannotRun(f"the command module wnbias.commands.{name} could not be loaded ({why})")

    return run


def _load(name: str):
    """``(module, None)``, or ``(None, why)`` when the module cannot be imported."""
    try:
        return importlib.import_module(f"wnbias.commands.{name}"), None
    except Exception as exc:  # any failure is reported, never a silently missing command
        return None, f"{type(exc).__name__}: {exc}"


def build_parser(broken: dict | None = None) -> argparse.ArgumentParser:
    """The parser of every command.  A command module that cannot be imported (or whose options
    cannot be built) is kept as an *unavailable* command: running it exits 3 naming the module,
    and ``broken`` (if given) receives ``{name: why}`` so that :func:`main` warns about it."""
    broken = {} if broken is None else broken
    parser = _Parser(
        prog="wnbias",
        description="Derive and verify the theory of implicit regularisation via weight normalisation.",
        epilog="Exit status: 0 success, 1 a check failed / no convergence / counterexample found "
               "(or --strict and a SKIP), 2 bad input, 3 could not run, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"wnbias {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod, why = _load(name)
        if mod is None:
            broken[name] = why
            p = sub.add_parser(name, help=f"(unavailable: {why})", add_help=False)
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(_run=_unavailable_runner(name, why))
            continue
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        try:
            mod.add_arguments(p)
        except Exception as exc:  # its options could not be built: unavailable, not dropped
            why = f"{type(exc).__name__}: {exc}"
            broken[name] = why
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(_run=_unavailable_runner(name, why))
            continue
        p.set_defaults(_run=mod.run)
    return parser


class _PipeSafeStream:
    """A text stream that survives a closed pipe.

    The first ``BrokenPipeError`` points the file descriptor at ``/dev/null`` (so nothing
    fails at interpreter exit either) and every later write is dropped: the command goes
    on and exits with the status its work earned.
    """

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def _broke(self):
        self.broken = True
        try:
            fd = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(fd, self._stream.fileno())
            finally:
                os.close(fd)
        except (OSError, ValueError, AttributeError):  # not a real file descriptor
            pass

    def write(self, text):
        if self.broken:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._broke()
            return len(text)

    def flush(self):
        if self.broken:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._broke()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _tolerant_encoding(stream) -> None:
    """Backslash escapes instead of ``UnicodeEncodeError`` on a non-UTF stream (e.g. ASCII)."""
    enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if enc.startswith("utf"):
        return
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # pragma: no cover - a stream that cannot be reconfigured
            pass


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        _tolerant_encoding(stream)
    saved = sys.stdout
    sys.stdout = _PipeSafeStream(saved)
    try:
        return _main(argv)
    finally:
        try:
            sys.stdout.flush()
        finally:
            sys.stdout = saved


def _main(argv) -> int:
    broken: dict = {}
    parser = build_parser(broken)
    for name, why in broken.items():  # loud, every time: never a silently missing command
        print(f"wnbias: warning: the command module wnbias.commands.{name} could not be loaded ({why}); "
              f"'wnbias {name}' exits {EXIT_CANNOT_RUN}", file=sys.stderr)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        code = exc.code
        if code is None or isinstance(code, int):
            return int(code or 0)
        print(code, file=sys.stderr)
        return EXIT_USAGE
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args._run(args) or 0)
    except UsageError as exc:
        print(f"wnbias {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CannotRun as exc:
        print(f"wnbias {args.command}: cannot run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except MachineryMissing as exc:
        print(f"wnbias {args.command}: cannot run: missing machinery: {exc.module} ({exc})", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except MemoryError as exc:
        print(f"wnbias {args.command}: cannot run: out of memory ({type(exc).__name__}: {exc})", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print(f"wnbias {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
