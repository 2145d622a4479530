"""The ``fieldrep`` command line: with no command it starts the desktop app.

Conventions every command follows: ``--db PATH`` on every data command (default: the GUI's database),
``--json`` for a machine-readable summary on stdout, exit code 0 on success, 1 on failure and 2 on bad
usage, and errors on stderr as one clear sentence. Each command group lives in its own module with a
``register(subparsers)`` function; add new groups to ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from fieldrep import __version__
from fieldrep.cli.common import CommandError, port_problem, print_error, server_db_problem

COMMAND_MODULES = [
    "fieldrep.cli.demo_command",
    "fieldrep.cli.info_command",
    "fieldrep.cli.import_command",
    "fieldrep.cli.geocode_command",
    "fieldrep.cli.territory_command",
    "fieldrep.cli.server_command",
    "fieldrep.cli.sync_command",
    "fieldrep.cli.map_command",
    "fieldrep.cli.referrals_command",
    "fieldrep.cli.report_command",
    "fieldrep.cli.rewards_command",
]


def _app_parser(*, quick: bool = False) -> argparse.ArgumentParser:
    """The options of ``fieldrep`` itself, before any command."""
    parser = argparse.ArgumentParser(
        prog="fieldrep",
        description="FieldRep: territories, accounts and referrals for field sales reps. "
        "Run without a command to open the desktop app.",
        add_help=not quick,
        exit_on_error=not quick,
    )
    parser.add_argument("--version", action="version", version=f"fieldrep {__version__}")
    parser.add_argument(
        "--db", metavar="PATH", help="database file for the desktop app (default: app-data folder)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def _app_only(argv: list[str]) -> argparse.Namespace | None:
    """The options when ``argv`` names no command (the desktop app), else None.

    Starting the app then skips importing every command module to build their parsers, which is
    a good part of the time to the first window. Help and anything unknown take the full parser,
    so ``--help`` lists the commands and a mistyped command is still reported.
    """
    if any(arg in ("-h", "--help") for arg in argv):
        return None
    try:
        args, rest = _app_parser(quick=True).parse_known_args(argv)
    except argparse.ArgumentError:
        return None  # the full parser reports it, with the full usage
    if rest:
        return None
    args.command = None
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = _app_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="database file")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    gui: Callable[[argparse.Namespace], int] | None = None,
) -> int:
    """Run a command; with no command call ``gui`` (the app's launcher) with the parsed options."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _app_only(arguments) or build_parser().parse_args(arguments)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command in (None, "gui"):
        if gui is None:
            print_error("the desktop app is not available from here; run `fieldrep` instead")
            return 1
        return gui(args)
    if args.command in ("serve", "server"):
        why = server_db_problem(getattr(args, "db", None))
        if why is None and args.command == "serve" and getattr(args, "fd", None) is None:
            why = port_problem(args.host, args.port)
        if why is not None:
            print_error(why)
            return 2 if "database" in why else 1
    try:
        code = int(args.handler(args) or 0)
        if getattr(args, "created_db", None) is not None:
            print(f"fieldrep: created a new database at {args.created_db}", file=sys.stderr)
        return code
    except CommandError as exc:
        print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        if args.command == "serve":  # its banner says Ctrl+C stops it: a normal end
            print("fieldrep: server stopped", file=sys.stderr)
            return 0
        print_error("interrupted; nothing was half-applied")
        return 130
    except BrokenPipeError:
        # The reader went away (`fieldrep ... | head`): not an error of ours. Python would print
        # a second traceback flushing stdout at exit, so stdout is pointed at nothing first.
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
