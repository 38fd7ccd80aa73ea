"""`sonta kiosk run --headless`: the kiosk without a window, printing what happens.

Each decision (check-ins, repeats, reviews, retries, badges, camera state) is printed as
a line, or as one JSON object per line with ``--json`` for scripts. Face boxes per frame
are not printed. A folder or video source ends the run when it ends; a camera runs
until Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import importlib
import json
import logging
import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.errors import KioskError
from kiosk.events import (
    AlreadyCheckedIn,
    BadgeRead,
    BadgeRefused,
    CheckedIn,
    Fallback,
    FrameAnalysed,
    KioskEvent,
    LivenessFailed,
    LivenessPrompt,
    NobodyExpected,
    NotRecognised,
    PendingReview,
    SourceStateChanged,
)
from kiosk.protocol.liveness import LivenessPolicy

log = logging.getLogger(__name__)

_KINDS = {
    CheckedIn: "checked_in",
    AlreadyCheckedIn: "already_checked_in",
    PendingReview: "pending_review",
    NotRecognised: "not_recognised",
    Fallback: "fallback",
    NobodyExpected: "nobody_expected",
    BadgeRead: "badge_read",
    BadgeRefused: "badge_refused",
    LivenessPrompt: "liveness_prompt",
    LivenessFailed: "liveness_failed",
    SourceStateChanged: "source",
}


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def as_json(event: KioskEvent) -> str:
    fields: dict[str, Any] = {"event": _KINDS[type(event)]}
    fields.update({k: _plain(v) for k, v in dataclasses.asdict(event).items()})
    return json.dumps(fields, separators=(",", ":"))


def _checked_in(event: CheckedIn) -> str:
    late = " (late)" if event.late else ""
    badge = " with badge" if event.method == "badge_face" else ""
    return f"{event.at:%H:%M:%S} checked in{badge}: {event.name}{late}"


_LINES: dict[type, Callable[[Any], str]] = {
    CheckedIn: _checked_in,
    AlreadyCheckedIn: lambda e: f"already checked in: {e.name} (at {e.first_at:%H:%M:%S})",
    PendingReview: lambda e: (
        f"{e.at:%H:%M:%S} recorded for review: {e.name}; an admin will confirm"
    ),
    NotRecognised: lambda e: f"not recognised (try {e.tries} of {e.max_tries})",
    Fallback: lambda e: (
        f"not recognised after {e.tries} tries: show your badge or see a staff member"
    ),
    NobodyExpected: lambda e: (
        "not checked in: this meeting expects nobody, so staff check people in by hand"
    ),
    BadgeRead: lambda e: f"badge read: {e.name}; now look at the camera",
    BadgeRefused: lambda e: f"badge refused: {e.reason}",
    LivenessPrompt: lambda e: e.text,
    LivenessFailed: lambda e: f"liveness failed: {e.reason}",
    SourceStateChanged: lambda e: f"camera {e.state.value} {e.detail}".rstrip(),
}


def as_line(event: KioskEvent) -> str:
    """One short sentence per event, as a volunteer watching a log would want it."""
    return _LINES[type(event)](event)


def printer(json_lines: bool, write: Callable[[str], None] = print) -> Callable[[KioskEvent], None]:
    """A subscriber that prints every event but the per-frame boxes."""

    def on_event(event: KioskEvent) -> None:
        if not isinstance(event, FrameAnalysed):
            write(as_json(event) if json_lines else as_line(event))
            sys.stdout.flush()

    return on_event


def add_run_parser(subparsers: Any) -> None:
    """Register `run` under the `sonta kiosk` command group."""
    parser = subparsers.add_parser("run", help="run the kiosk (head-less with --headless)")
    parser.add_argument("--headless", action="store_true", help="no window: print events")
    parser.add_argument(
        "--source", default="0", help="camera index or /dev/videoN, a video file or a folder"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--meeting", help="meeting id (default: the meeting open now)")
    parser.add_argument(
        "--liveness",
        choices=["meeting", *(p.value for p in LivenessPolicy)],
        default="meeting",
        help="head-turn challenge: as the meeting says (default), always, only in the "
        "review band, or never",
    )
    parser.add_argument("--fps", type=float, help="rate for a folder or video source")
    parser.add_argument("--repeat", type=int, default=1, help="show each folder image n times")
    parser.add_argument(
        "--det-size", type=int, default=320, help="detector input size for live frames (320)"
    )
    parser.add_argument("--offline", action="store_true", help="do not sync with the server")
    parser.add_argument("--data-dir", type=Path, default=None, help="the kiosk's data folder")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.headless:
        print("The kiosk window is `sonta kiosk`; add --headless to run without it.")
        return 2
    try:
        # The engine and store load only for a run, so `sonta --help` stays fast.
        importlib.import_module("kiosk.app").run_headless(args, printer(args.json))
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
