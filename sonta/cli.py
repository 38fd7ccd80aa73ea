"""The `sonta` command: one entry point, one subcommand group per part of the product.

Each part owns its subcommands in a module exposing ``register(subparsers)``, which adds
an argparse parser whose ``handler`` default takes the parsed namespace and returns an
exit code. Those modules import nothing heavy at import time, so ``sonta --help`` is
fast and a kiosk-only install can still list the server's commands.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sonta import logs

# ui.window_command comes last: it makes the `kiosk` group open the window when no subcommand
# is given.
COMMAND_MODULES: tuple[str, ...] = (
    "kiosk.inference.face_command",
    "kiosk.kiosk_command",
    "server.backend_commands",
    "server.face_service.face_service_command",
    "server.supervision",
    "ui.window_command",
)


# What the kiosk's desktop bundle holds (packaging/): the server's parts stay out of it.
KIOSK_MODULES: tuple[str, ...] = (
    "kiosk.inference.face_command",
    "kiosk.kiosk_command",
    "ui.window_command",
)


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sonta", description="Sonta Attendance: face-recognition attendance."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, modules: Sequence[str] = COMMAND_MODULES) -> int:
    args = build_parser(modules).parse_args(argv)
    logs.configure(verbose=args.verbose)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
