"""Badges: issue, reissue or revoke a person's badge; save the printable sheet as a PDF
or print it (`QPdfWriter` / `QPrinter`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.admin_client import AdminClient
from kiosk.admin_types import Badge, Member
from ui.admin.tasks import Tasks


def save_pdf(html: str, path: Path) -> None:
    """Lay out the sheet's HTML on A4 pages and write a PDF (on the UI thread: Qt text)."""
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    document = QTextDocument()
    document.setHtml(html)
    document.print_(writer)


class BadgesView(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.member: Member | None = None
        self.title = QLabel("Select a person in People, then open Badges.")
        self.title.setObjectName("title")
        self.badges = QLabel("")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for label, slot in (
            ("Issue / reissue", self.issue),
            ("Revoke", self.revoke),
            ("Save sheet as PDF…", self.choose_pdf),
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.badges)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def set_member(self, member: Member) -> None:
        self.member = member
        self.title.setText(f"Badges of {member['full_name']}")
        self.refresh()

    def refresh(self) -> None:
        member = self.member
        if member is not None:
            self._tasks.run(
                "Loading badges",
                lambda: self._client.badges(member["id"]),
                self._loaded,
                self.status.setText,
            )

    def _loaded(self, badges: list[Badge]) -> None:
        lines = [
            f"issued {b['issued_at'][:16].replace('T', ' ')}"
            + (
                f", revoked {b['revoked_at'][:16].replace('T', ' ')}"
                if b["revoked_at"]
                else " (working)"
            )
            for b in badges
        ]
        self.badges.setText("\n".join(lines) or "No badge yet.")

    def issue(self) -> None:
        member = self.member
        if member is not None:
            self._tasks.run(
                "Issuing",
                lambda: self._client.issue_badge(member["id"]),
                lambda _: self.refresh(),
                self.status.setText,
            )

    def revoke(self) -> None:
        member = self.member
        if member is None:
            return

        def run() -> Badge | None:
            working = [b for b in self._client.badges(member["id"]) if not b["revoked_at"]]
            return self._client.revoke_badge(member["id"], working[0]["id"]) if working else None

        self._tasks.run("Revoking", run, lambda _: self.refresh(), self.status.setText)

    def choose_pdf(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save badge sheet", "badges.pdf", "PDF (*.pdf)")
        if path:
            self.export_pdf(Path(path))

    def export_pdf(self, path: Path) -> None:
        member = self.member
        if member is None:
            return
        self._tasks.run(
            "Fetching the sheet",
            lambda: self._client.badge_sheet([member["id"]]),
            lambda html: self._write(html, path),
            self.status.setText,
        )

    def _write(self, html: str, path: Path) -> None:
        save_pdf(html, path)
        self.status.setText(f"Saved {path}.")
