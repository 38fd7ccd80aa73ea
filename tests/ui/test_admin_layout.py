"""The admin windows on the laptops churches have: 1366x768 and 1280x720 screens, with
a window manager's title bar taken into account. The window opens no larger than the
screen, the meeting form fits with Save in view, and the full-screen QR can be closed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from kiosk.admin.api_types import Kiosk, Member
from tests.kiosk.backend import LiveBackend
from tests.ui.screens import text_problems
from tests.ui.test_admin_attempts import follow, window
from tests.ui.test_admin_screens import WAIT_MS, artefact_dir, sign_in, unreachable
from ui.admin.meeting_form import MeetingDialog
from ui.admin.screen_fit import TITLE_BAR, fitted
from ui.admin.window import AdminWindow

SCREENS = ((1366, 768), (1280, 720))


@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_the_window_opens_inside_the_screen_with_its_title_bar(width: int, height: int) -> None:
    free = QRect(0, 0, width, height)
    place = fitted(QSize(1280, 800), free)
    assert place.top() - TITLE_BAR >= 0 and place.bottom() < height  # title bar and all
    assert place.left() >= 0 and place.right() < width
    assert place.size() == QSize(1280, min(800, height - TITLE_BAR))
    # A screen with a panel (free area not at the origin) keeps the window off the panel.
    panel = QRect(0, 32, width, height - 32)
    assert fitted(QSize(1280, 800), panel).top() - TITLE_BAR >= 32


def people(count: int) -> list[Member]:
    return [
        Member(
            id=str(uuid.uuid4()),
            member_code=f"C{n:05d}",
            full_name=f"Nana Akosua Oforiwaa-Boateng {n}",
            ministry="Choir",
            email=None,
            phone=None,
            notes="",
            status="active",
            consent_given=True,
            consent_changed_at=None,
            created_at="",
            updated_at="",
        )
        for n in range(count)
    ]


def kiosks(count: int) -> list[Kiosk]:
    return [
        Kiosk(
            id=str(uuid.uuid4()),
            name=f"Main hall door {n}",
            created_at="",
            revoked_at=None,
            last_seen_at=None,
            app_version="",
            model_id="",
            gallery_version=0,
            queue_depth=0,
            camera_state="",
            clock_drift_s=None,
            health="never_seen",
            model_matches=True,
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_the_meeting_form_fits_with_save_and_cancel_in_view(
    qtbot: QtBot, width: int, height: int, tmp_path: Path
) -> None:
    dialog = MeetingDialog(people=people(40), kiosks=kiosks(4))
    qtbot.addWidget(dialog)
    room = QSize(width, height - TITLE_BAR)
    assert dialog.minimumSizeHint().width() <= room.width()
    assert dialog.minimumSizeHint().height() <= room.height()
    dialog.resize(dialog.sizeHint().boundedTo(room))
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.error.setText(dialog.problem() or "")  # "Give the meeting a title." shown
    qtbot.wait(50)
    assert dialog.error.text() == "Give the meeting a title."
    assert not text_problems(dialog), text_problems(dialog)
    assert not unreachable(dialog), unreachable(dialog)
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None and buttons.isVisible()
    save = buttons.button(QDialogButtonBox.StandardButton.Save)
    assert save.isVisible() and dialog.rect().contains(save.geometry().translated(buttons.pos()))
    assert dialog.grab().save(str(artefact_dir(tmp_path) / f"meeting_form_{width}x{height}.png"))
    dialog.close()


@pytest.mark.network
def test_show_qr_of_a_scheduled_meeting_says_why_and_closes(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    starts = datetime.now(UTC) + timedelta(days=2)
    backend.meeting(
        start=False,
        title="Leaders' retreat",
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=3)).isoformat(),
        late_after=None,
    )
    follow(qtbot, window, "Leaders' retreat")
    window.show_screen("Meetings")
    meetings = window.meetings
    meetings.show_qr()
    qr = meetings.qr_screen
    assert qr is not None
    qtbot.waitUntil(lambda: qr.caption.text().startswith("Scan") is False, timeout=WAIT_MS)
    qr.resize(1280, 720)  # what full-screen gives on a 1280x720 laptop
    qtbot.wait(50)
    assert not text_problems(qr), text_problems(qr)  # the sentence wraps, whole
    assert qr.close_button.isVisible() and not unreachable(qr)
    assert qr.grab().save(str(artefact_dir(tmp_path) / "meeting_qr_scheduled_1280x720.png"))
    qr.close_button.click()
    qtbot.waitUntil(lambda: not qr.isVisible(), timeout=WAIT_MS)


__all__ = ["window"]  # the fixture, from the attempts tests
