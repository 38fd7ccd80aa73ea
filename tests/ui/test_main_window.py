"""The window as a view over the core's event bus, sync status and frame mailbox."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from kiosk.board import MeetingBoard
from kiosk.capture.frames import LatestFrame
from kiosk.device.lock import PinLock
from kiosk.events import (
    CheckedIn,
    EventBus,
    FaceBox,
    FrameAnalysed,
    Guidance,
    NobodyExpected,
    NotRecognised,
    SourceState,
    SourceStateChanged,
)
from kiosk.inference.images import read_image_file
from kiosk.syncing.status import SyncStatus
from tests.ui.conftest import _running_timers
from tests.ui.test_admin_screens import artefact_dir
from ui.flow import FlowTiming, Screen, Sound
from ui.idle_view import CAMERA_PAUSED
from ui.main_window import MainWindow, WindowServices

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


class FakeSounds:
    def __init__(self) -> None:
        self.enabled = True
        self.played: list[Sound] = []

    def play(self, sound: Sound) -> None:
        self.played.append(sound)


@pytest.fixture
def frames() -> LatestFrame:
    mailbox = LatestFrame()
    mailbox.put(read_image_file(FACES / "obama.jpg").pixels)
    return mailbox


@pytest.fixture
def window(qtbot: QtBot, frames: LatestFrame, tmp_path: Path) -> Iterator[MainWindow]:
    services = WindowServices(
        events=EventBus(),
        frames=lambda: frames,
        status=SyncStatus(),
        sounds=FakeSounds(),
        lock=PinLock(tmp_path / "lock.json"),
        timing=FlowTiming(message=0.5, idle_after=60),
    )
    win = MainWindow(services)
    win.resize(1280, 800)
    win.show()
    yield win
    # Not left to qtbot, which closes widgets before fixtures end: a locked window refuses.
    win.locked = False
    win.close()
    win.deleteLater()


def publish_from_thread(bus: EventBus, event: object) -> None:
    """The core publishes on its own threads; do the same."""
    thread = threading.Thread(target=bus.publish, args=(event,))
    thread.start()
    thread.join()


def test_preview_paints_the_newest_frame_and_the_face_boxes(
    qtbot: QtBot, window: MainWindow, frames: LatestFrame
) -> None:
    preview = window.live.preview
    qtbot.waitUntil(lambda: preview.frame_seq == frames.seq and preview.painted_frames > 0)
    newer = frames.put(read_image_file(FACES / "biden.jpg").pixels)
    qtbot.waitUntil(lambda: preview.frame_seq == newer.seq)
    box = FaceBox(1, (10.0, 10.0, 200.0, 200.0), stable=True, recognised=False)
    analysis = FrameAnalysed(newer.seq, newer.size, (box,), None, 0.0, 0.0)
    publish_from_thread(window.services.events, analysis)
    qtbot.waitUntil(lambda: window.flow.analysis == analysis)


def test_a_check_in_from_a_core_thread_shows_the_name_and_plays_the_sound(
    qtbot: QtBot, window: MainWindow
) -> None:
    event = CheckedIn(uuid.uuid4(), "Ama Owusu", datetime.now(UTC), False, "face", 0.8, "k")
    with qtbot.waitSignal(window.message_shown):
        publish_from_thread(window.services.events, event)
    assert window.current_screen is Screen.MESSAGE
    assert window.message.headline.text() == "Welcome, Ama Owusu"
    assert window.services.sounds.played == [Sound.SUCCESS]  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: window.current_screen is Screen.LIVE, timeout=3000)


def test_retry_message_and_failure_sound(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.message_shown):
        publish_from_thread(window.services.events, NotRecognised(tries=1, max_tries=3))
    assert "try 1 of 3" in window.message.detail.text()
    assert window.services.sounds.played == [Sound.FAILURE]  # type: ignore[attr-defined]


def test_a_meeting_that_expects_nobody_sends_people_to_staff(
    qtbot: QtBot, window: MainWindow
) -> None:
    with qtbot.waitSignal(window.message_shown):
        publish_from_thread(window.services.events, NobodyExpected())
    assert window.current_screen is Screen.MESSAGE
    assert window.message.headline.text() == "Please ask a staff member to check you in"
    assert "nobody is on its list" in window.message.detail.text()
    assert "try" not in window.message.detail.text()  # no retry is offered: none can work
    assert window.services.sounds.played == []  # type: ignore[attr-defined]


def test_lost_camera_shows_in_the_status_bar_and_on_the_preview(
    qtbot: QtBot, window: MainWindow
) -> None:
    publish_from_thread(window.services.events, SourceStateChanged(SourceState.LOST, "unplugged"))
    qtbot.waitUntil(lambda: window.status_bar.camera.text() == "Camera lost")
    assert window.live.preview.frame_seq == 0  # the stale picture is not kept up
    # An analysis of a frame from before the loss, arriving late, shows no boxes or advice.
    box = FaceBox(1, (10.0, 10.0, 200.0, 200.0), stable=True, recognised=False)
    late = FrameAnalysed(1, (640, 480), (box,), Guidance.HOLD_STILL, 0.0, 0.0)
    publish_from_thread(window.services.events, late)
    qtbot.wait(100)
    assert window.flow.analysis is None
    assert window.live.guidance.text() == CAMERA_PAUSED
    publish_from_thread(window.services.events, SourceStateChanged(SourceState.LIVE))
    qtbot.waitUntil(lambda: window.status_bar.camera.text() == "Camera live")


def test_no_camera_at_all_says_so_and_what_to_do(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    for state in (SourceState.LOST, SourceState.REOPENING, SourceState.ABSENT):
        publish_from_thread(window.services.events, SourceStateChanged(state, "camera 0"))
    qtbot.waitUntil(lambda: window.status_bar.camera.text() == "No camera found")
    assert not window.status_bar.camera.is_elided()
    placeholder = window.live.preview.placeholder
    assert placeholder.startswith("No camera found. Plug one in") and "--source" in placeholder
    assert window.live.guidance.text().startswith("Check-in by camera is paused")
    window.grab().save(str(artefact_dir(tmp_path) / "kiosk_no_camera.png"))
    publish_from_thread(window.services.events, SourceStateChanged(SourceState.LIVE))
    qtbot.waitUntil(lambda: window.status_bar.camera.text() == "Camera live")


def test_sync_status_reaches_the_status_bar(qtbot: QtBot, window: MainWindow) -> None:
    status = window.services.status
    assert status is not None
    error = "The server cannot be reached (ConnectError). Check-ins are kept and sent later."
    thread = threading.Thread(
        target=status.update,
        kwargs={"connection": "offline", "queue_depth": 3, "last_error": error},
    )
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: window.status_bar.queue.text() == "3 waiting to send")
    # A few words that fit whole; the reason is one hover away, never cut off.
    connection = window.status_bar.connection
    assert connection.text() == "\N{BLACK CIRCLE} Offline" and not connection.is_elided()
    assert connection.toolTip() == error
    assert window.status_bar.queue.toolTip() == ""


def test_a_server_over_plain_http_shows_on_the_status_bar(qtbot: QtBot, window: MainWindow) -> None:
    status = window.services.status
    assert status is not None
    status.update(connection="online", plain_http=True)
    connection = window.status_bar.connection
    qtbot.waitUntil(lambda: connection.text() == "\N{BLACK CIRCLE} Online, not encrypted")
    assert not connection.is_elided() and "travel in clear" in connection.toolTip()
    status.update(plain_http=False)
    qtbot.waitUntil(lambda: connection.text() == "\N{BLACK CIRCLE} Online")
    assert connection.toolTip() == ""


def test_set_aside_check_ins_show_on_the_window(qtbot: QtBot, window: MainWindow) -> None:
    status = window.services.status
    assert status is not None
    thread = threading.Thread(target=status.update, kwargs={"queue_depth": 0, "set_aside": 2})
    thread.start()
    thread.join()
    queue = window.status_bar.queue
    qtbot.waitUntil(lambda: queue.text() == "All sent, 2 damaged set aside")
    assert "sonta kiosk status" in queue.toolTip() and "2 queued check-in(s)" in queue.toolTip()
    status.update(set_aside=0)
    qtbot.waitUntil(lambda: queue.text() == "All sent")


def test_leaving_full_screen_without_the_pin_is_refused(qtbot: QtBot, window: MainWindow) -> None:
    lock = window.services.lock
    assert lock is not None
    lock.set_pin("4321")
    window.enter_lockdown()
    qtbot.waitUntil(window.isFullScreen)
    assert not window.close()  # closing asks for the PIN instead
    dialog = window.pin_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.pin.setText("1111")
    dialog.try_pin()
    assert "not right" in dialog.error.text()
    assert window.isFullScreen() and window.locked
    dialog.pin.setText("4321")
    dialog.try_pin()
    qtbot.waitUntil(lambda: not window.isFullScreen())
    assert not window.locked


def test_escape_in_lockdown_asks_for_the_pin(qtbot: QtBot, window: MainWindow) -> None:
    lock = window.services.lock
    assert lock is not None
    lock.set_pin("4321")
    window.enter_lockdown()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    dialog = window.pin_dialog
    assert dialog is not None
    dialog.reject()
    qtbot.waitUntil(lambda: window.pin_dialog is None)
    assert window.isFullScreen() and window.locked


def test_the_leak_check_sees_a_running_timer_and_a_shown_widget(qtbot: QtBot) -> None:
    """The conftest's after-test check would fail a test that leaves these behind."""
    timer = QTimer()
    timer.start(1000)
    label = QLabel("left open")
    label.show()
    try:
        assert timer in _running_timers()
        assert label in [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    finally:
        timer.stop()
        label.close()
        label.deleteLater()
    assert timer not in _running_timers()


def test_the_idle_screen_says_when_the_camera_checks_nobody_in(window: MainWindow) -> None:
    board = MeetingBoard(uuid.UUID(int=4), "Choir practice", present=0, expected=0)
    window.set_board(board)
    assert window.idle.invite.text() == "Step up to the camera to check in"
    window.set_board(dataclasses.replace(board, camera_checkin=False))
    assert window.idle.invite.text() == (
        "Check-in by camera is off for this meeting: please see a staff member"
    )
    window.set_board(None)
    assert window.idle.invite.text() == "Check-in opens when the meeting starts"
    assert window.idle.qr_caption.text() == ""  # said once, not twice
    window.set_board(dataclasses.replace(board, started=True))  # its QR window has closed
    assert window.idle.qr_caption.text() == "Phone check-in has closed for this meeting"


def test_the_idle_screen_never_invites_people_to_a_camera_that_gives_no_pictures(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.set_board(MeetingBoard(uuid.UUID(int=5), "Choir practice", present=0, expected=None))
    publish_from_thread(window.services.events, SourceStateChanged(SourceState.ABSENT, "none"))
    qtbot.waitUntil(lambda: window.idle.invite.text() == CAMERA_PAUSED)
    publish_from_thread(window.services.events, SourceStateChanged(SourceState.LIVE))
    qtbot.waitUntil(lambda: window.idle.invite.text() == "Step up to the camera to check in")


def test_a_board_kept_while_offline_keeps_the_meeting_and_says_why_there_is_no_qr(
    window: MainWindow,
) -> None:
    kept = MeetingBoard(
        meeting_id=uuid.UUID(int=3), title="Sonta Heads meeting", present=2, expected=5, stale=True
    )
    window.set_board(kept)
    idle = window.idle
    assert (idle.title.text(), idle.counts.text()) == ("Sonta Heads meeting", "2 of 5 checked in")
    assert idle.qr.isHidden()
    assert idle.qr_caption.text().startswith("Phone check-in is back when the server is")
