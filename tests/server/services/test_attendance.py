"""Who a meeting expects: one rule, asked of one member or, in bulk, of a whole gallery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from server.backend.models import Meeting, Member
from server.backend.services.attendance import expects, is_expected
from server.backend.services.gallery_scope import Candidate

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def meeting(*, ministries: list[str] | None = None, listed: list[Member] | None = None) -> Meeting:
    return Meeting(
        title="Sunday",
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=2),
        expected_ministries=ministries or [],
        expected_member_ids=[str(m.id) for m in listed or []],
    )


def member(name: str, ministry: str, status: str = "active") -> Member:
    return Member(id=uuid.uuid4(), full_name=name, ministry=ministry, status=status)


AMA = member("Ama", "Choir")
KOFI = member("Kofi", " ushers ")
ESI = member("Esi", "Choir", status="inactive")
PEOPLE = (AMA, KOFI, ESI)


@pytest.mark.parametrize(
    ("the_meeting", "expected"),
    [
        (meeting(), {"Ama", "Kofi"}),  # nothing listed: every active member
        (meeting(ministries=["Ushers"]), {"Kofi"}),  # ministries match trimmed, any case
        (meeting(listed=[ESI]), {"Esi"}),  # listed by id, even inactive
        (meeting(ministries=["choir"], listed=[KOFI]), {"Ama", "Kofi"}),
    ],
    ids=["everyone", "ministry", "listed", "both"],
)
def test_the_bulk_rule_answers_as_the_single_one_for_entities_and_rows(
    the_meeting: Meeting, expected: set[str]
) -> None:
    wanted = expects(the_meeting)
    rows = {p.full_name: Candidate(p.id, p.full_name, p.ministry, p.status, True) for p in PEOPLE}
    assert {p.full_name for p in PEOPLE if is_expected(the_meeting, p)} == expected
    assert {p.full_name for p in PEOPLE if wanted(p)} == expected
    assert {name for name, row in rows.items() if wanted(row)} == expected
