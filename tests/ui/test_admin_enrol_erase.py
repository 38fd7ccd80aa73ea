"""Deleting a person's face data from the Enrolment screen asks first, erases on the
server, and the person can be enrolled again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.kiosk.backend import FACES, LiveBackend
from tests.ui.test_admin_screens import WAIT_MS, add_person, idle, sign_in, window
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network, pytest.mark.model]
__all__ = ["window"]  # the fixture, from the other admin screens' tests


def enrol_photo(qtbot: QtBot, window: AdminWindow, name: str) -> None:
    enrol = window.enrol
    enrol.add_photos([FACES / name])
    idle(qtbot, window)
    enrol.save_button.click()
    qtbot.waitUntil(lambda: "Enrolled: 1" in enrol.reasons.text(), timeout=WAIT_MS)


def test_face_data_is_deleted_only_when_confirmed_then_the_person_enrols_again(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(qtbot, window, backend)
    ama = add_person(qtbot, window, "Ama Erase", "Choir")
    window.people.buttons["Enrol face"].click()
    enrol_photo(qtbot, window, "obama.jpg")
    assert len(window.client.templates(ama)) == 1

    asked: list[str] = []

    def answer(reply: QMessageBox.StandardButton) -> Callable[..., QMessageBox.StandardButton]:
        def question(_parent: object, _title: str, text: str) -> QMessageBox.StandardButton:
            asked.append(text)
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    window.enrol.erase_button.click()
    idle(qtbot, window)
    assert asked == ["Delete every face sample of Ama Erase? They can enrol again."]
    assert len(window.client.templates(ama)) == 1  # the admin thought again: nothing changed

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    window.enrol.erase_button.click()
    idle(qtbot, window)
    assert window.client.templates(ama) == []
    assert window.enrol.reasons.text() == "Erased 1 face template(s)."  # the server's words

    enrol_photo(qtbot, window, "obama2.jpg")  # re-enrolment after the erase
    assert len(window.client.templates(ama)) == 1
