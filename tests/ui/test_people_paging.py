"""The People screen pages through a long list, and its ministry filter knows every
ministry, not only those on the page shown (real backend)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.kiosk.backend import LiveBackend
from tests.ui.screens import text_problems
from tests.ui.test_admin_screens import WAIT_MS, artefact_dir, idle, sign_in, window
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network]
__all__ = ["window"]  # the fixture, from the other admin screens' tests


def names(window: AdminWindow) -> list[str]:
    model = window.people.model
    return [model.member(row)["full_name"] for row in range(model.rowCount())]


def test_next_and_previous_walk_the_pages_and_a_new_search_starts_at_the_first(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    for number in range(12):
        ministry = "Zion Choir" if number == 11 else "Ushers"  # last in name order
        window.client.create_member(f"Page Person {number:02d}", ministry)
    people = window.people
    people.page_size = 5
    people.refresh()  # as when the admin comes back to the screen
    qtbot.waitUntil(lambda: names(window)[:1] == ["Page Person 00"], timeout=WAIT_MS)
    idle(qtbot, window)
    assert people.count.text() == (
        "Showing 1 to 5 of 12 people; use Next or search to narrow it down."
    )
    assert not people.previous_page.isEnabled() and people.next_page.isEnabled()
    ministries = [people.ministry.itemText(i) for i in range(people.ministry.count())]
    assert "Zion Choir" in ministries  # from /api/members/ministries: no one on this page is in it

    people.next_page.click()
    qtbot.waitUntil(lambda: names(window)[:1] == ["Page Person 05"], timeout=WAIT_MS)
    people.next_page.click()
    qtbot.waitUntil(lambda: names(window) == ["Page Person 10", "Page Person 11"], timeout=WAIT_MS)
    assert people.count.text() == "Showing 11 to 12 of 12 people."
    assert people.previous_page.isEnabled() and not people.next_page.isEnabled()
    people.previous_page.click()
    qtbot.waitUntil(lambda: names(window)[:1] == ["Page Person 05"], timeout=WAIT_MS)
    assert not text_problems(window), text_problems(window)
    assert window.grab().save(str(artefact_dir(tmp_path) / "people_paged_1280x800.png"))

    people.search.setText("Page Person 1")  # 10 and 11: one page, from its start
    qtbot.waitUntil(lambda: names(window) == ["Page Person 10", "Page Person 11"], timeout=WAIT_MS)
    assert people.count.text() == "2 people."
    assert people.previous_page.isHidden() and people.next_page.isHidden()


def test_return_in_the_search_selects_the_first_found_and_consent_keeps_the_selection(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    """By keyboard: type a name, Return, and the person is selected in the table (with the
    keyboard there); recording consent reloads the table and keeps them selected, so
    Enrol face goes on with the same person."""
    sign_in(qtbot, window, backend)
    window.client.create_member("Kofi Key", "Ushers")
    window.client.create_member("Kojo Key", "Ushers")
    people = window.people
    people.refresh()
    idle(qtbot, window)
    assert people.selected() is None
    qtbot.keyClicks(people.search, "Kojo")
    qtbot.keyClick(people.search, Qt.Key.Key_Return)  # at once, not after the pause
    qtbot.waitUntil(lambda: (people.selected() or {}).get("full_name") == "Kojo Key")
    assert names(window) == ["Kojo Key"]
    people.buttons["Consent given"].click()
    qtbot.waitUntil(lambda: people.status.text() == "Saved Kojo Key.", timeout=WAIT_MS)
    idle(qtbot, window)
    chosen = people.selected()
    assert chosen is not None and chosen["full_name"] == "Kojo Key" and chosen["consent_given"]
    people.buttons["Enrol face"].click()
    assert window.stack.currentWidget() is window.enrol
    assert window.enrol.title.text() == "Enrol Kojo Key (Ushers)"
