"""Refused attempts, and the meeting and queue of Review, driven offscreen against a real
backend.

Attempts are recorded as the phone and kiosk paths record them (the attempts service,
committed, then announced on the meeting's live stream); the screens read them over
HTTP like any admin would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from kiosk.admin.api_types import Meeting
from kiosk.admin.client import AdminClient
from server.backend.models import AttendanceRecord
from server.backend.models import Meeting as MeetingRow
from server.backend.services import attempts
from server.backend.services.checkin_upload import NOBODY_EXPECTED
from tests.kiosk.backend import LiveBackend
from tests.server.kiosk_utils import pair_kiosk
from tests.server.services.test_checkin_upload import item, upload
from tests.server.utils import backend_of
from tests.ui.test_admin_screens import WAIT_MS, idle, sign_in
from ui.admin.meeting_choice import meeting_name
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network]
ANOTHER_FACE = "the face is another member's"


@pytest.fixture
def window(qtbot: QtBot, backend: LiveBackend, keyring_dir: Path) -> Iterator[AdminWindow]:
    client = AdminClient(backend.url)
    made = AdminWindow(client)
    qtbot.addWidget(made)
    made.resize(1280, 720)
    made.show()
    yield made
    made.shutdown()
    client.close()


def refuse(
    backend: LiveBackend,
    meeting_id: str,
    reason: str,
    *,
    member_id: str | None = None,
    channel: str = "phone",
    outcome: str = "refused",
) -> None:
    """Record and announce one attempt, as the phone and kiosk paths do after a refusal."""
    server = backend_of(backend.admin)
    with server.sessions() as session:
        row = attempts.record(
            session,
            meeting_id=uuid.UUID(meeting_id),
            channel=channel,  # type: ignore[arg-type]
            outcome=outcome,  # type: ignore[arg-type]
            reason=reason,
            member_id=uuid.UUID(member_id) if member_id else None,
            similarity=0.31 if member_id else None,
            client_ip="192.0.2.7" if channel == "phone" else "",
        )
        session.commit()
        attempts.announce(server.store, session, row)


def follow(qtbot: QtBot, window: AdminWindow, title: str) -> None:
    window.show_screen("Meetings")
    meetings = window.meetings
    qtbot.waitUntil(lambda: meetings.list.count() >= 1, timeout=WAIT_MS)
    row = next(i for i in range(meetings.list.count()) if title in meetings.list.item(i).text())
    meetings.list.setCurrentRow(row)
    meetings.follow()


def test_refused_attempts_are_listed_and_counted_on_live_and_review(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    sign_in(qtbot, window, backend)
    client = window.client
    ada = client.create_member("Ada Attempt", "Choir")["id"]
    meeting_id = backend.meeting(expected_ministries=["Choir"])
    meeting: Meeting = client.meeting(meeting_id)
    refuse(backend, meeting_id, ANOTHER_FACE, member_id=ada)
    refuse(backend, meeting_id, "no face was found in the picture", channel="kiosk")

    follow(qtbot, window, meeting["title"])
    dashboard = window.dashboard
    qtbot.waitUntil(lambda: dashboard.connection.text() == "Live: connected.", timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: dashboard.attempts.text().startswith("Refused or suspicious attempts: 2 "),
        timeout=WAIT_MS,
    )
    # One more, made while the admin watches, arrives through the live stream.
    refuse(backend, meeting_id, "the head did not turn", member_id=ada, outcome="suspicious")
    qtbot.waitUntil(
        lambda: dashboard.attempts.text().startswith("Refused or suspicious attempts: 3 "),
        timeout=WAIT_MS,
    )

    window.show_screen("Attempts")
    view = window.attempts
    qtbot.waitUntil(lambda: view.list.count() == 3, timeout=WAIT_MS)
    assert view.choice.meeting_id == meeting_id
    assert view.status.text() == (
        f"3 attempts refused or suspicious at {meeting_name(meeting)}, newest first."
    )
    newest, middle, oldest = (view.list.item(i).text() for i in range(3))
    assert "phone · suspicious · Ada Attempt — The head did not turn" in newest
    assert "kiosk · refused · someone unknown — No face was found in the picture" in middle
    assert "phone · refused · Ada Attempt — The face is another member's" in oldest
    view.list.setCurrentRow(2)
    detail = view.detail.text()
    assert "Reason: The face is another member's." in detail
    assert "Similarity to that member: 0.31." in detail
    assert "From address 192.0.2.7." in detail
    assert "No face crop is kept for a refused attempt." in detail

    window.show_screen("Review")
    review = window.review
    qtbot.waitUntil(
        lambda: "3 attempts" in review.status.text() and review.meeting_id == meeting_id,
        timeout=WAIT_MS,
    )
    assert review.status.text() == (
        f"0 check-ins waiting for review at {meeting_name(meeting)}. "
        "3 attempts refused or suspicious: see Attempts."
    )


def test_an_attempts_meeting_with_none_refused_says_so(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    sign_in(qtbot, window, backend)
    meeting_id = backend.meeting()
    window.show_screen("Attempts")
    view = window.attempts
    idle(qtbot, window)
    assert view.status.text() == "Choose a meeting above to see its refused attempts."
    view.choice.combo.setCurrentIndex(view.choice.combo.findData(meeting_id))
    qtbot.waitUntil(lambda: view.status.text().startswith("0 attempts"), timeout=WAIT_MS)
    assert view.detail.text() == "Nothing was refused at this meeting."


def test_review_and_manual_checkin_work_on_the_meeting_chosen_and_say_it(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    sign_in(qtbot, window, backend)
    client = window.client
    cid = client.create_member("Cid Manual", "Choir")
    first = backend.meeting(title="Morning prayer")
    second = backend.meeting(title="Evening service")
    evening: Meeting = client.meeting(second)

    window.show_screen("Review")
    review = window.review
    qtbot.waitUntil(
        lambda: "waiting for review in all meetings" in review.status.text(), timeout=WAIT_MS
    )
    # No meeting chosen: nothing is recorded anywhere, and the screen says what to do.
    review.manual_checkin(cid, "Signed the paper list")
    assert review.status.text() == "Choose the meeting above first: the check-in goes there."
    review.ask_manual()
    assert review.status.text() == "Choose the meeting above first: the check-in goes there."

    review.choice.combo.setCurrentIndex(review.choice.combo.findData(second))
    qtbot.waitUntil(
        lambda: review.status.text().startswith("0 check-ins waiting for review at Evening"),
        timeout=WAIT_MS,
    )
    assert review.choice.combo.currentText().startswith(meeting_name(evening))
    review.manual_checkin(cid, "Signed the paper list")
    qtbot.waitUntil(lambda: "Checked in by hand" in review.status.text(), timeout=WAIT_MS)
    assert review.status.text() == f"Checked in by hand: Cid Manual at {meeting_name(evening)}."
    review.manual_checkin(cid, "Signed the paper list")
    qtbot.waitUntil(lambda: "already" in review.status.text(), timeout=WAIT_MS)
    assert review.status.text() == (
        f"Cid Manual was already checked in at {meeting_name(evening)}; nothing changed."
    )
    with backend_of(backend.admin).sessions() as session:
        where = session.scalars(
            select(AttendanceRecord.meeting_id).where(
                AttendanceRecord.member_id == uuid.UUID(cid["id"])
            )
        ).all()
    assert [str(m) for m in where] == [second]

    # Following a meeting live chooses it for Review too, named there.
    follow(qtbot, window, "Morning prayer")
    window.show_screen("Review")
    qtbot.waitUntil(lambda: review.meeting_id == first, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "at Morning prayer" in review.status.text(), timeout=WAIT_MS)


def test_the_review_queue_says_why_a_check_in_waits(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    """A kiosk check-in at a meeting that expects nobody waits, saying so."""
    sign_in(qtbot, window, backend)
    ada = window.client.create_member("Ada Waiting", "Choir")["id"]
    meeting_id = backend.meeting(expected_ministries=["Choir"])
    with backend_of(backend.admin).sessions() as session:  # as an earlier release saved it
        saved = session.get(MeetingRow, uuid.UUID(meeting_id))
        assert saved is not None
        saved.expected_ministries = []
        session.commit()
    kiosk = pair_kiosk(backend.admin, backend.headers)
    [sent] = upload(backend.admin, kiosk, [item(backend.admin, meeting_id, ada, probe=None)])
    assert sent["status"] == "pending_review"

    window.show_screen("Review")
    review = window.review
    qtbot.waitUntil(
        lambda: "waiting for review in all meetings" in review.status.text(), timeout=WAIT_MS
    )
    review.choice.combo.setCurrentIndex(review.choice.combo.findData(meeting_id))
    qtbot.waitUntil(lambda: review.queue.count() == 1, timeout=WAIT_MS)
    assert review.queue.item(0).text() == (
        f"Ada Waiting (Choir) · face · similarity - · margin 0.30\n{NOBODY_EXPECTED}"
    )
