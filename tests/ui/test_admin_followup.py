"""Following up absentees from a meeting's report, against a real backend: the absent list
shows phone and email, copies for a text message (numbers) or as a list, and emails the
absent once each."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.kiosk.backend import LiveBackend
from tests.ui.test_admin_attempts import window
from tests.ui.test_admin_screens import WAIT_MS, artefact_dir, idle, sign_in
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network]


def test_the_absent_list_gives_phones_and_emails_and_copies_them_for_a_text(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    client = window.client
    client.create_member("Ama Absent", "Choir", phone="024 000 0001", email="ama@example.org")
    client.create_member("Kofi Absent", "Choir", phone="024 000 0002")
    client.create_member("Esi NoPhone", "Choir", email="esi@example.org")
    came = client.create_member("Yaw Present", "Choir", phone="024 000 0009")
    meeting = backend.meeting(title="Choir rehearsal", expected_ministries=["Choir"])
    client.manual_checkin(meeting, came["id"], "Signed the paper list")

    window.show_screen("Reports")
    reports = window.reports
    reports.tabs.setCurrentWidget(reports.meeting)
    tab = reports.meeting
    qtbot.waitUntil(lambda: tab.absent.rowCount() == 3, timeout=WAIT_MS)
    idle(qtbot, window)
    rows = [
        tuple(tab.absent.item(r, c).text() for c in range(4)) for r in range(tab.absent.rowCount())
    ]
    assert rows == [
        ("Ama Absent", "Choir", "024 000 0001", "ama@example.org"),
        ("Esi NoPhone", "Choir", "", "esi@example.org"),
        ("Kofi Absent", "Choir", "024 000 0002", ""),
    ]

    tab.copy_phones.click()
    assert QApplication.clipboard().text() == "024 000 0001, 024 000 0002"
    assert tab.status.text() == (
        "Copied 2 phone numbers for a text message. No phone for: Esi NoPhone."
    )
    tab.copy_list.click()
    assert QApplication.clipboard().text() == (
        "Absent from Choir rehearsal:\n"
        "Ama Absent · Choir · 024 000 0001 · ama@example.org\n"
        "Esi NoPhone · Choir · esi@example.org\n"
        "Kofi Absent · Choir · 024 000 0002"
    )
    assert tab.status.text() == "Copied the absent list (3 people)."

    # Email them: once each, however often the button is pressed.
    tab.email_absentees("   ")
    assert tab.status.text() == "Write the message first; nothing was sent."
    tab.email_absentees("We missed you on Sunday.")
    qtbot.waitUntil(lambda: tab.status.text().startswith("Emailed"), timeout=WAIT_MS)
    assert tab.status.text() == (
        "Emailed 2 absent people. No email for: Kofi Absent; copy their phone numbers instead."
    )
    assert sorted(to for to, _subject, _text in backend.mailer.sent) == [  # type: ignore[attr-defined]
        "ama@example.org",
        "esi@example.org",
    ]
    tab.status.clear()
    tab.email_absentees("We missed you on Sunday.")
    qtbot.waitUntil(lambda: tab.status.text().startswith("Emailed"), timeout=WAIT_MS)
    assert tab.status.text().startswith(
        "Emailed 0 absent people. Not again (emailed before): Ama Absent, Esi NoPhone."
    )
    assert len(backend.mailer.sent) == 2  # type: ignore[attr-defined]
    assert window.grab().save(str(artefact_dir(tmp_path) / "report_absentees.png"))


__all__ = ["window"]  # the fixture, from the attempts tests
