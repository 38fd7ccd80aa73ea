"""Builds the runtime from `sonta kiosk` arguments and runs the window."""

from __future__ import annotations

import argparse
import sys

from kiosk.device.preferences import default_data_dir
from kiosk.errors import KioskError
from ui.app import run_window
from ui.local_pairing import local_pairing_code
from ui.runtime import KioskRuntime, RuntimeOptions


def launch(args: argparse.Namespace) -> int:
    options = RuntimeOptions(
        data_dir=args.kiosk_dir or default_data_dir(),
        source=args.source,
        fps=args.fps,
        meeting=args.meeting,
        offline=args.offline,
    )
    try:
        runtime = KioskRuntime(options)
        paired = runtime.is_paired()
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pairing = None
    if args.local_server and not paired and not args.offline:
        url = args.local_server
        pairing = lambda: (url, local_pairing_code(url))  # noqa: E731
    return run_window(runtime, fullscreen=False if args.windowed else None, pairing=pairing)
