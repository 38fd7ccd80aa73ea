"""Every label shows its text as plain text, never as HTML.

A QLabel guesses rich text from its content (`Qt.AutoText`): a member named
`<img src=...>` or a meeting titled `<b>x</b>` was rendered as markup, and an image
reference is fetched when painted. Names, titles and server messages reach many labels,
in every screen and in message boxes, so the rule is set once for the application: each
label is switched to `Qt.PlainText` when it is polished, before its first paint. No
screen of this app uses rich text on purpose.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QLabel


class PlainTextLabels(QObject):
    """Application event filter: a label being polished is set to plain text."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Polish and isinstance(watched, QLabel):
            watched.setTextFormat(Qt.TextFormat.PlainText)
        return False


def install(app: QApplication) -> None:
    """Install the filter once per application (kept alive as the app's child)."""
    if app.findChild(PlainTextLabels) is None:
        app.installEventFilter(PlainTextLabels(app))
