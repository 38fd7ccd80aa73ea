"""`sonta kiosk ...`: pair, status, unpair, salvage, export-unsent, sync, import-pack,
self-test and `run` (the head-less kiosk, declared in `kiosk.headless`).

Each subcommand's code lives in `kiosk.commands` and is imported when it runs, so
`sonta --help` stays quick. Errors print one sentence with the way out on stderr and
exit with code 2; nothing prints a traceback for a problem a person can fix.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.headless import add_run_parser


def register(subparsers: Any) -> None:
    """Add the `kiosk` command group; other modules add theirs to `commands` likewise."""
    kiosk = subparsers.add_parser("kiosk", help="the kiosk: pairing, status, sync, model pack")
    commands = kiosk.add_subparsers(dest="kiosk_command", required=True, metavar="COMMAND")

    pair = commands.add_parser("pair", help="pair this kiosk with a server (one-time code)")
    pair.add_argument("url", help="the server's address, e.g. https://attendance.example.org")
    pair.add_argument("code", help="the pairing code an admin created (valid ten minutes)")
    _data_dir(pair)
    pair.set_defaults(handler=_command("pair"))

    status = commands.add_parser("status", help="pairing, queue, gallery and model pack")
    status.add_argument("--json", action="store_true", help="one JSON document on stdout")
    _data_dir(status)
    status.set_defaults(handler=_command("status"))

    unpair = commands.add_parser(
        "unpair", help="forget the pairing and the gallery (unsent check-ins are kept)"
    )
    _data_dir(unpair)
    unpair.set_defaults(handler=_command("unpair"))

    salvage = commands.add_parser(
        "salvage", help="read the unsent check-ins of a damaged database copy into this kiosk"
    )
    salvage.add_argument("file", type=Path, metavar="FILE", help="e.g. kiosk.db.damaged-...")
    _data_dir(salvage)
    salvage.set_defaults(handler=_command("salvage"))

    export = commands.add_parser(
        "export-unsent", help="write check-ins the server refused or that were set aside to CSV"
    )
    export.add_argument("file", type=Path, metavar="FILE", help="a new .csv file")
    _data_dir(export)
    export.set_defaults(handler=_command("export_unsent"))

    sync = commands.add_parser("sync", help="sync with the server now, or keep syncing")
    sync.add_argument("--once", action="store_true", help="one sync cycle, then exit")
    sync.add_argument(
        "--batch-size", type=_positive, default=100, help="check-ins per upload (default 100)"
    )
    _data_dir(sync)
    sync.set_defaults(handler=_command("sync"))

    import_pack = commands.add_parser(
        "import-pack", help="install the face model pack from a folder (e.g. a USB stick)"
    )
    import_pack.add_argument("folder", type=Path, metavar="DIR")
    import_pack.add_argument(
        "--pack", help="pack name (default: FACE_MODEL, else buffalo_l)", default=None
    )
    import_pack.set_defaults(handler=_command("import_pack"))

    self_test = commands.add_parser(
        "self-test", help="try keyring, database, model pack, camera and server; exit 0 if ok"
    )
    self_test.add_argument(
        "--source", default="0", help="camera index or /dev/videoN, a video file or a folder"
    )
    self_test.add_argument("--pack", help="model pack name (default: FACE_MODEL, else buffalo_l)")
    self_test.add_argument(
        "--pack-dir", type=Path, help="a folder holding the pack's files (as FACE_MODEL_DIR)"
    )
    _data_dir(self_test)
    self_test.set_defaults(handler=_self_test)

    add_run_parser(commands)


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the kiosk's data folder (default: SONTA_KIOSK_DIR or ~/.local/share/sonta-kiosk)",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _self_test(args: argparse.Namespace) -> int:
    code: int = importlib.import_module("kiosk.self_test").self_test(args)
    return code


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        commands = importlib.import_module("kiosk.commands")
        code: int = commands.run(name, args)
        return code

    return handler
