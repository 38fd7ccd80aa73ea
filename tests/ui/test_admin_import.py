"""CSV re-import in the admin app against a real backend: the preview offers Update
existing for people already listed, and flags a likely duplicate before anything is saved."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from pytestqt.qtbot import QtBot

from tests.kiosk.backend import LiveBackend
from tests.ui.screens import text_problems
from tests.ui.test_admin_attempts import window
from tests.ui.test_admin_screens import WAIT_MS, artefact_dir, idle, sign_in
from ui.admin.csv_import import ImportPreview
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network]


def previewed(qtbot: QtBot, window: AdminWindow, before: ImportPreview | None) -> ImportPreview:
    people = window.people
    qtbot.waitUntil(lambda: people.preview not in (None, before), timeout=WAIT_MS)
    preview = people.preview
    assert preview is not None
    qtbot.waitUntil(preview.isVisible, timeout=WAIT_MS)
    return preview


def row_fits(preview: ImportPreview, row: int) -> bool:
    """The row's whole text fits its painted rectangle (wrapped, never cut off)."""
    rows = preview.rows
    rect = rows.visualItemRect(rows.item(row))
    shown = min(rect.right(), rows.viewport().width()) - rect.left()  # what is on screen
    needed = rows.fontMetrics().boundingRect(
        QRect(0, 0, shown, 100_000), int(Qt.TextFlag.TextWordWrap), rows.item(row).text()
    )
    return needed.width() <= shown and needed.height() <= rect.height()


def test_reimporting_offers_update_existing_and_changes_instead_of_adding(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    people = window.people
    sheet = tmp_path / "people.csv"
    sheet.write_text("full_name,ministry,email\nEve Import,Choir,eve@example.org\n")
    people.preview_import(sheet)
    first = previewed(qtbot, window, None)
    assert first.update_button is None  # nobody here yet: nothing to update
    first.accept()
    qtbot.waitUntil(lambda: people.status.text().startswith("Saved: 1 new"), timeout=WAIT_MS)

    # The same people again, one with a new ministry: a dead end no more.
    sheet.write_text("full_name,ministry,email\nEve Import,Ushers,eve@example.org\n")
    people.preview_import(sheet)
    again = previewed(qtbot, window, first)
    assert again.summary.text() == "Nothing was imported: 1 row needs fixing."
    line = again.rows.item(0).text()
    assert line == (
        "Row 2: email: a member with eve@example.org already exists; to change that "
        "member, import in update mode (Update existing)"
    )
    assert not text_problems(again), text_problems(again)
    assert row_fits(again, 0)  # the sentence is not cut off
    assert again.update_button is not None
    assert again.grab().save(str(artefact_dir(tmp_path) / "import_reimport.png"))
    again.update_button.click()
    update = previewed(qtbot, window, again)
    assert update.mode == "update" and update.update_button is None
    assert update.rows.item(0).text() == "Row 2: Eve Import — updated (ministry)"
    update.accept()
    qtbot.waitUntil(
        lambda: people.status.text() == "Saved: 0 new, 1 updated, 0 unchanged.", timeout=WAIT_MS
    )
    members, total = window.client.members("Eve Import")
    assert total == 1 and members[0]["ministry"] == "Ushers"


def test_a_likely_duplicate_without_email_is_flagged_before_saving(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    people = window.people
    kojo = window.client.create_member("Kojo Asante", "Choir", phone="024 555 0101")
    sheet = tmp_path / "people.csv"
    sheet.write_text("full_name,ministry,phone,notes\nKojo Asante,Choir,0245550101,Tenor\n")
    people.preview_import(sheet)
    preview = previewed(qtbot, window, None)
    assert preview.summary.text() == (
        "Will save: 1 new, 0 updated, 0 unchanged. 1 new row may be someone already "
        "listed: check them, or choose Update existing."
    )
    assert (
        preview.rows.item(0)
        .text()
        .startswith(
            f"Row 2: Kojo Asante — created. Likely a duplicate: looks like Kojo Asante "
            f"({kojo['member_code']}, Choir), already listed with the same name and phone"
        )
    )
    preview.resize(720, 480)
    idle(qtbot, window)
    assert not text_problems(preview), text_problems(preview)
    assert row_fits(preview, 0)
    assert preview.update_button is not None
    preview.update_button.click()
    update = previewed(qtbot, window, preview)
    assert update.rows.item(0).text() == "Row 2: Kojo Asante — updated (notes, phone)"
    update.accept()
    qtbot.waitUntil(lambda: people.status.text().startswith("Saved: 0 new, 1"), timeout=WAIT_MS)
    members, total = window.client.members("Kojo Asante")
    assert total == 1 and members[0]["notes"] == "Tenor"


__all__ = ["window"]  # the fixture, from the attempts tests
