"""The ``wnbias`` command line.

Each subcommand lives in ``wnbias/commands/<name>.py`` and provides ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args) -> int``.  Command modules keep
their heavy imports inside ``run`` so that ``wnbias --help`` stays fast and the
numeric commands never import sympy.

Exit status: 0 success, 1 a check failed or a run did not converge (as the command
documents), 2 bad input (a message names the argument; never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from wnbias import __version__
from wnbias.errors import UsageError

COMMANDS = ("verify", "derive", "solve", "falsify", "reproduce", "sweep")


def _load(name: str):
    try:
        return importlib.import_module(f"wnbias.commands.{name}")
    except ModuleNotFoundError as exc:  # a command not built yet
        if exc.name == f"wnbias.commands.{name}":
            return None
        raise


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with a one-line message, no usage dump
        self.exit(2, f"wnbias: error: {message}\n(see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wnbias",
        description="Derive and verify the theory of implicit regularisation via weight normalisation.",
    )
    parser.add_argument("--version", action="version", version=f"wnbias {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = _load(name)
        if mod is None:
            continue
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UsageError as exc:
        print(f"wnbias {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wnbias {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
