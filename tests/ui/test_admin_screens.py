"""The admin screens driven offscreen against a real backend, real engine and real photos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from kiosk.admin_client import AdminClient
from kiosk.credentials import CredentialStore
from kiosk.frames import LatestFrame
from kiosk.inference.engine import FaceEngine
from server.backend.models import AttendanceRecord
from tests.kiosk.backend import FACES, LiveBackend
from tests.kiosk.conftest import photo
from tests.kiosk.test_sync import Kiosk, paired
from tests.server.attendance_utils import store_checkin
from tests.server.utils import PASSWORD, make_admin
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network, pytest.mark.model]
WAIT_MS = 20_000


@pytest.fixture
def window(
    qtbot: QtBot, backend: LiveBackend, engine: FaceEngine, keyring_dir: Path
) -> Iterator[AdminWindow]:
    client = AdminClient(backend.url)
    frames = LatestFrame()
    made = AdminWindow(client, frames=lambda: frames, engine=lambda: engine)
    made.frames = frames  # type: ignore[attr-defined]  # the test's camera
    qtbot.addWidget(made)
    made.resize(1280, 800)
    made.show()
    yield made
    made.shutdown()
    client.close()


def sign_in(qtbot: QtBot, window: AdminWindow, backend: LiveBackend) -> None:
    window.sign_in.email.setText(make_admin(backend.admin).email)
    window.sign_in.password.setText(PASSWORD)
    window.sign_in.sign_in_button.click()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window._main, timeout=WAIT_MS)


def idle(qtbot: QtBot, window: AdminWindow) -> None:
    qtbot.waitUntil(lambda: window.tasks.running == 0, timeout=WAIT_MS)


def add_person(qtbot: QtBot, window: AdminWindow, name: str, ministry: str) -> str:
    people = window.people
    people.save_new({"full_name": name, "ministry": ministry, "email": None, "phone": None})
    people.search.setText(name)
    qtbot.waitUntil(
        lambda: people.model.rowCount() == 1 and people.model.member(0)["full_name"] == name,
        timeout=WAIT_MS,
    )
    people.table.selectRow(0)
    people.buttons["Consent given"].click()
    qtbot.waitUntil(lambda: people.model.member(0)["consent_given"], timeout=WAIT_MS)
    people.table.selectRow(0)
    return people.model.member(0)["id"]


def take(qtbot: QtBot, window: AdminWindow, image: object) -> None:
    window.frames.put(image)  # type: ignore[attr-defined]
    window.enrol.take_sample()
    idle(qtbot, window)


def test_enrol_with_the_camera_and_photos_then_the_kiosk_recognises_and_consent_erases(
    qtbot: QtBot,
    window: AdminWindow,
    backend: LiveBackend,
    tmp_path: Path,
    credentials: CredentialStore,
    engine: FaceEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(qtbot, window, backend)
    ada = add_person(qtbot, window, "Ada Obama", "Choir")
    window.people.buttons["Enrol face"].click()
    enrol = window.enrol
    assert window.stack.currentWidget() is enrol and "Ada Obama" in enrol.title.text()

    take(qtbot, window, photo("obama"))
    take(qtbot, window, cv2.GaussianBlur(photo("obama2"), (0, 0), 12))
    assert len(enrol.capture.samples) == 1
    assert "blurred" in enrol.reasons.text() and "Not accepted" in enrol.reasons.text()
    take(qtbot, window, photo("obama2"))
    take(qtbot, window, photo("obama3"))
    assert enrol.capture.done and enrol.samples.count() == 3
    enrol.save_button.click()
    qtbot.waitUntil(lambda: "Enrolled: 3" in enrol.reasons.text(), timeout=WAIT_MS)
    assert len(window.client.templates(ada)) == 3

    # Enrol from a photo file: read and embedded here, only the embedding is sent.
    window.show_screen("People")
    joe = add_person(qtbot, window, "Joe Biden", "Elders")
    window.people.enrol()
    enrol.add_photos([FACES / "biden.jpg"])
    idle(qtbot, window)
    enrol.save_button.click()
    qtbot.waitUntil(lambda: "Enrolled: 1" in enrol.reasons.text(), timeout=WAIT_MS)
    assert len(window.client.templates(joe)) == 1

    # The same face for a second person: the warning names the first.
    window.show_screen("People")
    twin = add_person(qtbot, window, "Twin Obama", "Ushers")
    window.people.enrol()
    enrol.add_photos([FACES / "obama.jpg"])
    idle(qtbot, window)
    enrol.save_button.click()
    qtbot.waitUntil(
        lambda: "already enrolled for Ada Obama" in enrol.reasons.text(), timeout=WAIT_MS
    )
    assert window.client.templates(twin) == []

    # The kiosk core, synced, recognises Ada; withdrawing consent erases her everywhere.
    meeting = backend.meeting()
    kiosk = Kiosk(tmp_path / "kiosk", credentials, engine)
    try:
        syncer = paired(kiosk, backend)
        syncer.sync_once()
        assert kiosk.store.gallery_for(meeting).person_ids == {ada, joe}
        checkin, kind = kiosk.check_in(meeting, "obama3")
        assert (str(checkin.member_id), kind) == (ada, "recorded")

        monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
        window.show_screen("People")
        people = window.people
        people.search.setText("Ada Obama")
        qtbot.waitUntil(
            lambda: [m["full_name"] for m in people.model._rows] == ["Ada Obama"],
            timeout=WAIT_MS,
        )
        people.table.selectRow(0)
        people.buttons["Withdraw consent"].click()
        qtbot.waitUntil(lambda: not people.model.member(0)["consent_given"], timeout=WAIT_MS)
        assert window.client.templates(ada) == []
        syncer.sync_once()
        assert kiosk.store.gallery_for(meeting).person_ids == {joe}
    finally:
        kiosk.store.close()


def test_review_decisions_and_live_dashboard_reach_the_server(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    sign_in(qtbot, window, backend)
    client = window.client
    ada = client.create_member("Ada Review", "Choir")["id"]
    ben = client.create_member("Ben Review", "Choir")["id"]
    cid = client.create_member("Cid Manual", "Choir")["id"]
    meeting = backend.meeting(expected_ministries=["Choir"])
    first = store_checkin(backend.admin, meeting, ada)
    second = store_checkin(backend.admin, meeting, ben)

    window.show_screen("Meetings")
    meetings = window.meetings
    qtbot.waitUntil(lambda: meetings.list.count() == 1, timeout=WAIT_MS)
    meetings.list.setCurrentRow(0)
    meetings.follow()
    dashboard = window.dashboard
    qtbot.waitUntil(lambda: dashboard.connection.text() == "Live: connected.", timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: dashboard.counts["pending_review"].text() == "Pending: 2", timeout=WAIT_MS
    )
    assert dashboard.counts["absent"].text() == "Absent: 1"

    # A check-in made elsewhere arrives through the event stream.
    client.manual_checkin(meeting, cid, "Signed the paper list")
    qtbot.waitUntil(lambda: dashboard.counts["present"].text() == "Present: 1", timeout=WAIT_MS)
    assert dashboard.events_seen >= 1
    assert dashboard.lists["present"].item(0).text() == "Cid Manual (Choir)"

    window.show_screen("Review")
    review = window.review
    qtbot.waitUntil(lambda: review.queue.count() == 2, timeout=WAIT_MS)
    review.queue.setCurrentRow(0)
    assert review.current() is not None and review.current()["member_name"] == "Ada Review"  # type: ignore[index]
    review.approve_button.click()
    qtbot.waitUntil(lambda: review.queue.count() == 1, timeout=WAIT_MS)
    review.queue.setCurrentRow(0)
    review.reject_button.click()
    qtbot.waitUntil(lambda: review.queue.count() == 0, timeout=WAIT_MS)
    with backend.admin.app.state.backend.sessions() as session:  # type: ignore[attr-defined]
        assert session.get(AttendanceRecord, first).status == "approved"
        assert session.get(AttendanceRecord, second).status == "rejected"
    qtbot.waitUntil(lambda: dashboard.counts["present"].text() == "Present: 2", timeout=WAIT_MS)


def test_an_ended_session_returns_to_sign_in_with_a_sentence(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    sign_in(qtbot, window, backend)
    tokens = window.client.tokens.load()
    assert tokens is not None
    ended = backend.admin.post(
        "/api/auth/logout", headers={"Authorization": f"Bearer {tokens.access}"}
    )
    assert ended.status_code == 204
    window.show_screen("Meetings")
    window.meetings.refresh()  # two calls at once: the first ended sentence is kept
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.sign_in, timeout=WAIT_MS)
    assert "Sign in again" in window.sign_in.message.text()
