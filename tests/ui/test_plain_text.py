"""Names and titles show as text, never as HTML (issue 25).

A member named `<img src=...>` or a meeting titled `<b>x</b>` was rendered as markup by
labels left on Qt's rich-text guess. The kiosk and admin apps install one rule at
launch (`ui.plain_text.install`); these screens are built with it, as launched.
"""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from kiosk.board import MeetingBoard
from ui import plain_text
from ui.flow import Message, Tone
from ui.idle_view import IdleView
from ui.message_view import MessageView

HOSTILE = ['<img src="file:///etc/hostname">', "<b>Kofi</b> Mensah", "<a href='x'>Ama</a>"]


@pytest.fixture(autouse=True)
def _launched(qapp: QApplication) -> None:
    plain_text.install(qapp)


def _rendered_as_text(label: QLabel, text: str) -> None:
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert label.text() == text
    reference = QLabel(text)
    reference.setTextFormat(Qt.TextFormat.PlainText)
    reference.setFont(label.font())
    reference.setWordWrap(label.wordWrap())
    assert label.sizeHint() == reference.sizeHint()  # laid out as the characters typed


@pytest.mark.parametrize("name", HOSTILE)
def test_a_member_name_in_the_welcome_message_is_plain_text(qtbot: QtBot, name: str) -> None:
    view = MessageView()
    qtbot.addWidget(view)
    view.show_message(Message(Tone.SUCCESS, f"Welcome, {name}", name))
    view.show()
    qtbot.waitExposed(view)
    _rendered_as_text(view.headline, f"Welcome, {name}")
    _rendered_as_text(view.detail, name)


@pytest.mark.parametrize("title", HOSTILE)
def test_a_meeting_title_on_the_idle_screen_is_plain_text(qtbot: QtBot, title: str) -> None:
    view = IdleView()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.set_board(MeetingBoard(uuid.uuid4(), title, present=1, expected=3))
    _rendered_as_text(view.title, title)


def test_a_label_added_after_the_window_is_shown_is_plain_text_too(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    window.show()
    qtbot.waitExposed(window)
    late = QLabel(HOSTILE[0])
    layout.addWidget(late)
    qtbot.waitUntil(late.isVisible, timeout=10_000)
    _rendered_as_text(late, HOSTILE[0])


def test_installing_twice_adds_one_filter(qapp: QApplication) -> None:
    plain_text.install(qapp)
    assert len(qapp.findChildren(plain_text.PlainTextLabels)) == 1
