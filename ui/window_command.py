"""`sonta kiosk`: opens the kiosk window (the `kiosk` group's other commands are the
core's: pair, status, run --headless, ...).

Nothing heavy is imported until the window opens, so `sonta --help` stays quick. With
no display the command says so plainly and exits.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
import sys
from pathlib import Path
from typing import Any

NO_DISPLAY = 3  # exit code: no screen to show the window on


def register(subparsers: Any) -> None:
    """Make `sonta kiosk` (with no subcommand) open the window."""
    kiosk = subparsers.choices.get("kiosk")
    if kiosk is None:
        kiosk = subparsers.add_parser("kiosk", help="the kiosk window and its commands")
    commands = None
    for action in kiosk._actions:  # the core's subcommands stay, but become optional
        if isinstance(action, argparse._SubParsersAction):
            action.required = False
            commands = action
    if commands is None:
        commands = kiosk.add_subparsers(dest="kiosk_command", required=False, metavar="COMMAND")
    set_pin = commands.add_parser(
        "set-pin", help="set the PIN that leaving kiosk mode and settings need (admins)"
    )
    set_pin.add_argument("--kiosk-dir", type=Path, help="the kiosk's data folder")
    set_pin.set_defaults(handler=run_set_pin)
    kiosk.description = (
        "Without a command, opens the kiosk window (full-screen once an admin set a PIN)."
    )
    window = kiosk.add_argument_group("the window (when no command is given)")
    window.add_argument("--source", help="a folder or video file instead of the camera")
    window.add_argument("--fps", type=float, help="rate for a folder or video source")
    window.add_argument("--meeting", help="meeting id (default: the meeting open now)")
    window.add_argument("--windowed", action="store_true", help="never go full-screen")
    window.add_argument("--offline", action="store_true", help="do not sync with the server")
    window.add_argument(
        "--local-server",
        metavar="URL",
        help="pair on first start with the server this computer runs (./run.sh does this)",
    )
    window.add_argument(
        "--data-dir",
        "--kiosk-dir",
        dest="kiosk_dir",
        type=Path,
        help="the kiosk's data folder, as the subcommands take it (default: SONTA_KIOSK_DIR)",
    )
    kiosk.set_defaults(handler=open_window)
    admin = subparsers.add_parser(
        "admin-app", help="the admin screens (people, enrolment, meetings, review, reports)"
    )
    admin.add_argument("--server", help="the server's URL (default: SONTA_SERVER_URL)")
    admin.add_argument(
        "--camera",
        default="0",
        help="the camera for enrolment: an index or /dev/videoN, or a video file (default 0)",
    )
    admin.set_defaults(handler=open_admin_app)


def open_admin_app(args: argparse.Namespace) -> int:
    if not has_display():
        print("No display: the admin app needs a screen (DISPLAY is unset).", file=sys.stderr)
        return NO_DISPLAY
    launch = importlib.import_module("ui.admin.launch")
    code: int = launch.run_admin_app(args)
    return code


def has_display(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """A screen to show the window on (or an explicit Qt platform such as offscreen)."""
    return any(environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def open_window(args: argparse.Namespace) -> int:
    if getattr(args, "kiosk_command", None):
        return 0  # a core subcommand ran (its own handler is used instead of this one)
    if not has_display():
        print(
            "No display: the kiosk window needs a screen (DISPLAY or WAYLAND_DISPLAY is "
            "unset). Run it on the kiosk's desktop, or use `sonta kiosk run --headless`.",
            file=sys.stderr,
        )
        return NO_DISPLAY
    launch = importlib.import_module("ui.launch")
    code: int = launch.launch(args)
    return code


def read_pin() -> str:
    """The new PIN from the terminal (asked twice) or the first line of piped stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass("New kiosk PIN: ")
        if getpass.getpass("Repeat it: ") != first:
            raise ValueError("The two PINs differ.")
        return first
    return sys.stdin.readline().strip()


def run_set_pin(args: argparse.Namespace) -> int:
    from kiosk.device.lock import PinLock  # noqa: PLC0415
    from kiosk.device.preferences import default_data_dir  # noqa: PLC0415
    from kiosk.errors import PinError  # noqa: PLC0415

    folder = args.kiosk_dir or default_data_dir()
    try:
        PinLock(folder / "lock.json").set_pin(read_pin())
    except (PinError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"The kiosk PIN is set (kept as a salted hash in {folder / 'lock.json'}).")
    return 0
