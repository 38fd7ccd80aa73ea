"""Whom a meeting expects, as the kiosk reads it off a gallery answer.

The server says it with `expects_everyone` (see `GalleryMeeting`): true, everyone the
kiosk holds; false, exactly the list, and an empty list is nobody. A server from before
the field sends none; its lists are exact too, so an empty one is nobody there as well.
"""

from __future__ import annotations

import uuid
from typing import Any

from kiosk.storage.local_gallery import MeetingRecord
from kiosk.syncing.client import parse_gallery
from tests.kiosk.store_utils import MODEL


def meetings_of(*meetings: dict[str, Any]) -> list[MeetingRecord]:
    body = {
        "version": 3,
        "model_id": MODEL,
        "full": True,
        "scope": "s",
        "templates": [],
        "meetings": [
            {
                "meeting_id": str(uuid.uuid4()),
                "title": "Heads",
                "status": "active",
                "starts_at": "2030-01-01T10:00:00+00:00",
                "ends_at": "2030-01-01T12:00:00+00:00",
                "late_after": None,
                **meeting,
            }
            for meeting in meetings
        ],
    }
    update = parse_gallery(body)
    assert update.meetings is not None
    return list(update.meetings)


def test_the_server_says_everyone_nobody_or_the_list() -> None:
    ama = str(uuid.uuid4())
    everyone, nobody, listed = meetings_of(
        {"expected_member_ids": [], "expects_everyone": True},
        {"expected_member_ids": [], "expects_everyone": False},
        {"expected_member_ids": [ama], "expects_everyone": False},
    )
    assert everyone.expects_everyone and not everyone.expects_nobody
    assert nobody.expects_nobody and not nobody.expects_everyone
    assert listed.expected_member_ids == (ama,) and not listed.expects_nobody


def test_a_server_from_before_the_field_is_read_by_its_own_rule() -> None:
    ama = str(uuid.uuid4())
    unlisted, listed = meetings_of({"expected_member_ids": []}, {"expected_member_ids": [ama]})
    assert unlisted.expects_nobody
    assert listed.expected_member_ids == (ama,) and not listed.expects_everyone


def test_only_a_true_says_everyone() -> None:
    """A malformed value must not open a meeting to everyone the kiosk holds."""
    [odd] = meetings_of({"expected_member_ids": [], "expects_everyone": "false"})
    assert odd.expects_nobody
