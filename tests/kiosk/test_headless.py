"""What `sonta kiosk run --headless` prints for each event, as a line and as JSON."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from kiosk.events import (
    AlreadyCheckedIn,
    BadgeRefused,
    CheckedIn,
    FaceBox,
    Fallback,
    FrameAnalysed,
    KioskEvent,
    NobodyExpected,
    PendingReview,
    SourceState,
    SourceStateChanged,
)
from kiosk.headless import as_json, as_line, printer

AMA = uuid.UUID("6f1c1a3e-0000-4000-8000-000000000001")
AT = datetime(2026, 11, 29, 9, 41, 5, tzinfo=UTC)


def test_lines_a_volunteer_can_read() -> None:
    assert as_line(CheckedIn(AMA, "Ama", AT, True, "badge_face", 0.71, "k")) == (
        "09:41:05 checked in with badge: Ama (late)"
    )
    assert as_line(AlreadyCheckedIn(AMA, "Ama", AT)) == "already checked in: Ama (at 09:41:05)"
    assert as_line(PendingReview(AMA, "Ama", AT, "k")) == (
        "09:41:05 recorded for review: Ama; an admin will confirm"
    )
    assert as_line(Fallback(3, True)) == (
        "not recognised after 3 tries: show your badge or see a staff member"
    )
    assert as_line(NobodyExpected()) == (
        "not checked in: this meeting expects nobody, so staff check people in by hand"
    )
    assert json.loads(as_json(NobodyExpected())) == {"event": "nobody_expected"}
    assert as_line(BadgeRefused("This badge is not genuine.")) == (
        "badge refused: This badge is not genuine."
    )
    assert as_line(SourceStateChanged(SourceState.LOST, "unplugged")) == "camera lost unplugged"


def test_json_lines_carry_every_field_in_plain_types() -> None:
    printed = json.loads(as_json(CheckedIn(AMA, "Ama", AT, False, "face", 0.7, "key1")))
    assert printed == {
        "event": "checked_in",
        "member_id": str(AMA),
        "name": "Ama",
        "at": AT.isoformat(),
        "late": False,
        "method": "face",
        "similarity": 0.7,
        "key": "key1",
    }
    assert json.loads(as_json(SourceStateChanged(SourceState.LIVE)))["state"] == "live"


def test_per_frame_boxes_are_not_printed() -> None:
    lines: list[str] = []
    on_event = printer(json_lines=False, write=lines.append)
    events: list[KioskEvent] = [
        FrameAnalysed(1, (640, 480), (FaceBox(1, (0, 0, 9, 9), False, False),), None, 0.0, 0.1),
        AlreadyCheckedIn(AMA, "Ama", AT),
    ]
    for event in events:
        on_event(event)
    assert lines == ["already checked in: Ama (at 09:41:05)"]
