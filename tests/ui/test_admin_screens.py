"""The admin screens driven offscreen against a real backend, real engine and real photos."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from kiosk.admin.client import AdminClient
from kiosk.capture.frames import LatestFrame
from kiosk.device.credentials import CredentialStore
from kiosk.inference.engine import FaceEngine
from server.backend.models import AttendanceRecord
from tests.kiosk.admin.test_admin_client import short_lived
from tests.kiosk.backend import FACES, LiveBackend
from tests.kiosk.conftest import photo
from tests.kiosk.syncing.test_sync import Kiosk, paired
from tests.server.attendance_utils import store_checkin
from tests.server.utils import PASSWORD, make_admin
from tests.ui.screens import text_problems
from tests.ui.test_kiosk_window import ScriptedReader, scripted_source, start_kiosk
from ui.admin.meeting_form import MeetingDialog
from ui.admin.screen_fit import TITLE_BAR
from ui.admin.window import AdminWindow
from ui.app import KioskController

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
    made.show()  # it first fits the test's screen (offscreen: 800x800), then
    made.resize(1280, 800)  # the tests look at it at 1280x800
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

    # The live meter follows the camera and says what is wrong in plain words.
    window.frames.put(cv2.GaussianBlur(photo("obama"), (0, 0), 12))  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "blurred" in enrol.live_hint.text(), timeout=WAIT_MS)
    assert enrol.meter.value() < 50
    window.frames.put(photo("obama"))  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: enrol.live_hint.text().startswith("Good picture"), timeout=WAIT_MS)
    take(qtbot, window, photo("obama"))
    take(qtbot, window, cv2.GaussianBlur(photo("obama2"), (0, 0), 12))
    assert len(enrol.capture.samples) == 1
    assert "blurred" in enrol.reasons.text() and "Not accepted" in enrol.reasons.text()
    # Guided poses: a frontal face is no "slightly left"; the hint and refusal say which way.
    assert enrol.prompt.text() == "Turn your head slightly to your left."
    window.frames.put(photo("obama2"))  # type: ignore[attr-defined]  # turned to his right
    qtbot.waitUntil(
        lambda: "turn a little to your left instead" in enrol.live_hint.text(), timeout=WAIT_MS
    )
    take(qtbot, window, photo("obama"))
    assert enrol.reasons.text() == "Not accepted: Turn a little to your left."
    take(qtbot, window, photo("obama3"))  # turned to his left
    take(qtbot, window, photo("obama2"))
    assert enrol.capture.done and enrol.samples.count() == 3
    assert enrol.samples.item(1).text() == "slightly left: accepted (camera)"
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


def test_review_dashboard_kiosks_badges_and_screenshots(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    client = window.client
    ada = client.create_member("Ada Review", "Choir")["id"]
    ben = client.create_member("Ben Review", "Choir")["id"]
    cid = client.create_member("Cid Manual", "Choir")
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
    qtbot.waitUntil(lambda: window.review.meeting_id == meeting, timeout=WAIT_MS)
    window.review.manual_checkin(cid, "Signed the paper list")
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

    # Kiosks: a pairing code; Badges: issue, then the sheet as a PDF.
    window.show_screen("Kiosks")
    window.kiosks.make_code("Side door")
    qtbot.waitUntil(
        lambda: "Pairing code for Side door" in window.kiosks.code.text(), timeout=WAIT_MS
    )
    window.badges.set_member(client.member(ada))
    window.show_screen("Badges")
    window.badges.issue()
    qtbot.waitUntil(lambda: "(working)" in window.badges.badges.text(), timeout=WAIT_MS)
    window.badges.export_pdf(tmp_path / "badges.pdf")
    qtbot.waitUntil(lambda: "Saved" in window.badges.status.text(), timeout=WAIT_MS)
    assert (tmp_path / "badges.pdf").read_bytes().startswith(b"%PDF")
    # Meetings: a new one from the form; the followed meeting's QR full-screen.
    window.show_screen("Meetings")
    qtbot.waitUntil(lambda: meetings.list.count() == 1, timeout=WAIT_MS)
    form = MeetingDialog(parent=window)
    form.title.setText("Youth night")
    form.ministries.setText("Choir, Ushers")
    meetings.save(None, form.fields())
    qtbot.waitUntil(lambda: meetings.list.count() == 2, timeout=WAIT_MS)
    made = [m for m in client.meetings() if m["title"] == "Youth night"]
    assert made and made[0]["expected_ministries"] == ["Choir", "Ushers"]
    meetings.list.setCurrentRow(
        next(i for i in range(2) if "Sonta" in meetings.list.item(i).text())
    )
    meetings.show_qr()
    qr = meetings.qr_screen
    assert qr is not None
    qtbot.waitUntil(lambda: qr.fetched == 1, timeout=WAIT_MS)
    # Beside the code: whether phones get the live camera (https) or record a video.
    note = client.meeting_qr(qr._meeting_id)["phone_camera_note"]
    assert "camera" in note and qr.phones.text() == note
    qr.grab().save(str(artefact_dir(tmp_path) / "meeting_qr.png"))
    qr.close()
    screenshots(qtbot, window, artefact_dir(tmp_path))


def artefact_dir(tmp_path: Path) -> Path:
    """`SONTA_SCREENSHOTS`/admin when set (to look at them), else the test's folder."""
    base = os.environ.get("SONTA_SCREENSHOTS")
    out = Path(base) / "admin" if base else tmp_path / "screens"
    out.mkdir(parents=True, exist_ok=True)
    return out


# Window sizes: 1280x800 and 1920x1080, and the laptops' 1366x768 and 1280x720 screens
# less a window manager's title bar.
SIZES = ((1280, 800), (1920, 1080), (1366, 768 - TITLE_BAR), (1280, 720 - TITLE_BAR))


def unreachable(window: QWidget) -> list[str]:
    """Visible buttons and fields that lie (partly) outside the window: out of reach."""
    inside = window.rect()
    found = []
    for widget in window.findChildren(QWidget):
        if isinstance(widget, QAbstractButton | QLineEdit | QComboBox) and widget.isVisible():
            where = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
            if not inside.contains(where):
                found.append(f"{type(widget).__name__} {getattr(widget, 'text', str)()!r}")
    return found


def screenshots(qtbot: QtBot, window: AdminWindow, out: Path) -> None:
    """Every screen at each of SIZES: nothing clipped by the window, every button in
    reach, no label's text cut off, no two widgets overlapping (the kiosk screens' check)."""
    problems: list[str] = []
    for width, height in SIZES:
        window.resize(width, height)
        for name in window.screens:
            window.show_screen(name)
            idle(qtbot, window)
            qtbot.wait(50)
            assert window.minimumSizeHint().width() <= width, name
            assert window.minimumSizeHint().height() <= height, name
            path = out / f"{name.lower()}_{width}x{height}.png"
            assert window.grab().save(str(path)), path
            problems += [f"{name} {width}x{height}: {p}" for p in text_problems(window)]
            problems += [f"{name} {width}x{height}: {p} is cut off" for p in unreachable(window)]
    assert not problems, "\n".join(problems)


def test_csv_import_shows_the_report_before_saving(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    people = window.people
    good = tmp_path / "people.csv"
    good.write_text("full_name,ministry,email\nEve Import,Choir,eve@example.org\n")
    people.preview_import(good)
    qtbot.waitUntil(lambda: people.preview is not None, timeout=WAIT_MS)
    preview = people.preview
    assert preview is not None
    assert preview.rows.item(0).text() == "Row 2: Eve Import — created"
    assert window.client.members("Eve Import")[1] == 0  # nothing saved by the preview
    preview.accept()
    qtbot.waitUntil(lambda: people.status.text().startswith("Saved: 1 new"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: people.count.text() == "1 people.", timeout=WAIT_MS)
    assert people.status.text().startswith("Saved: 1 new")  # the report stays after the reload
    assert window.client.members("Eve Import")[1] == 1

    bad = tmp_path / "bad.csv"
    bad.write_text("full_name,ministry,email\nNo Ministry,,x@example.org\nFine,Choir,\n")
    people.preview_import(bad)
    qtbot.waitUntil(lambda: people.preview is not preview, timeout=WAIT_MS)
    assert people.preview is not None and people.preview.rows.count() == 1
    assert people.preview.rows.item(0).text().startswith("Row 2:")
    assert "Nothing was imported" in people.preview.summary.text()
    people.preview.reject()
    assert window.client.members("Fine")[1] == 0


def test_an_ended_session_returns_to_sign_in_with_a_sentence(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
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
    for width, height in ((1280, 800), (1920, 1080)):
        window.resize(width, height)
        qtbot.wait(50)
        window.grab().save(str(artefact_dir(tmp_path) / f"sign_in_{width}x{height}.png"))


def test_the_kiosk_opens_the_admin_screens_after_its_pin(
    qtbot: QtBot, backend: LiveBackend, start_kiosk: Callable[..., KioskController]
) -> None:
    controller = start_kiosk(
        (backend.url, backend.pairing_code()), make_source=scripted_source(ScriptedReader())
    )
    qtbot.waitUntil(controller.runtime.is_paired, timeout=WAIT_MS)
    controller.runtime.lock.set_pin("1357")
    controller.admin.request()
    pin = controller.window.pin_dialog
    assert pin is not None and controller.admin.window is None
    pin.pin.setText("0000")
    pin.try_pin()
    assert controller.admin.window is None  # a wrong PIN opens nothing
    pin.pin.setText("1357")
    pin.try_pin()
    qtbot.waitUntil(lambda: controller.admin.window is not None, timeout=WAIT_MS)
    admin = controller.admin.window
    assert admin is not None and admin.client.base_url == backend.url
    assert admin.pages.currentWidget() is admin.sign_in  # the admin signs in next
    sign_in(qtbot, admin, backend)


def test_token_expiry_mid_session_is_refreshed_unnoticed(
    qtbot: QtBot, short_lived: LiveBackend, keyring_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = AdminClient(short_lived.url)
    client.auth._early = 0.0  # only the server's 401 says the two-second token expired
    window = AdminWindow(client)
    qtbot.addWidget(window)
    window.show()
    sign_in(qtbot, window, short_lived)
    people = window.people
    people.save_new({"full_name": "Zed Later", "ministry": "Choir", "email": None, "phone": None})
    qtbot.waitUntil(lambda: people.count.text() == "1 people.", timeout=WAIT_MS)
    qtbot.wait(2200)  # the access token expires
    people.table.selectRow(0)
    dialog_fields = {"full_name": "Zed Renamed", "ministry": "Ushers"}
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    people.save_changes(people.model.member(0)["id"], dialog_fields)
    qtbot.waitUntil(
        lambda: (
            people.model.rowCount() == 1 and people.model.member(0)["full_name"] == "Zed Renamed"
        ),
        timeout=WAIT_MS,
    )
    assert window.pages.currentWidget() is window._main and client.auth.refreshes >= 1
    people.table.selectRow(0)
    people.buttons["Deactivate"].click()
    qtbot.waitUntil(lambda: people.model.member(0)["status"] == "inactive", timeout=WAIT_MS)
    people.table.selectRow(0)
    people.buttons["Delete"].click()
    qtbot.waitUntil(lambda: people.model.rowCount() == 0, timeout=WAIT_MS)
    assert client.members("Zed")[1] == 0
    window.shutdown()
    client.close()


__all__ = ["short_lived", "start_kiosk"]  # fixtures from other test modules, used above


def test_the_live_dashboard_reconnects_after_the_server_drops(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    window.client.stream_silence_s = 3.0  # (the server's keep-alive is 15 s)
    sign_in(qtbot, window, backend)
    member = window.client.create_member("Dee Later", "Choir")["id"]
    meeting = backend.meeting(expected_ministries=["Choir"])
    dashboard = window.dashboard
    dashboard.watch(meeting)
    qtbot.waitUntil(lambda: dashboard.connection.text() == "Live: connected.", timeout=WAIT_MS)
    backend.stop()
    qtbot.waitUntil(lambda: "reconnecting" in dashboard.connection.text(), timeout=WAIT_MS)
    backend.start()
    qtbot.waitUntil(lambda: dashboard.connection.text() == "Live: connected.", timeout=WAIT_MS)
    window.client.manual_checkin(meeting, member, "Came late through the side door")
    qtbot.waitUntil(lambda: dashboard.counts["present"].text() == "Present: 1", timeout=WAIT_MS)
