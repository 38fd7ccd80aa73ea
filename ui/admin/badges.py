"""Badges: issue, reissue or revoke a person's badge; print the sheet (`QPrinter`) or save
it as a PDF (`QPdfWriter`), for that person, their whole ministry or everyone active.

A sheet leaves out people who have no working badge yet and says who they are; ticking
"Issue the missing badges" issues theirs first, so a first sheet for a ministry (or the
whole church) is one step.

Both outputs go through `ui.admin.badge_sheet.paint_sheet`, so the printed page and the
PDF are the same. The print dialog is a thin wrapper around `print_to(printer)`, which
tests call with a PDF-format `QPrinter`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Badge, BadgeCard, Member
from kiosk.admin.client import AdminClient
from kiosk.errors import SheetError
from ui.admin.badge_sheet import paint_sheet, save_pdf, sheet_printer
from ui.admin.tasks import Tasks
from ui.admin.times import local
from ui.admin.words import count

SCOPES = ("This person", "Their whole ministry", "Everyone (active)")
NAMED = 5  # people named in the status line; more are counted


def describe(badges: list[Badge]) -> str:
    """One line per badge, newest first, saying which one works."""
    lines = [
        f"issued {local(b['issued_at'])}"
        + (f", revoked {local(b['revoked_at'])}" if b["revoked_at"] else " (working)")
        for b in badges
    ]
    return "\n".join(lines) or "No badge yet."


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
        self.scope = QComboBox()
        self.scope.addItems(SCOPES)
        self.issue_missing = QCheckBox("Issue the missing badges")
        self.issue_missing.setToolTip(
            "People with no working badge get one before the sheet is made, so no one is left out."
        )
        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        sheet = QHBoxLayout()
        sheet.addWidget(QLabel("Sheet of"))
        sheet.addWidget(self.scope)
        sheet.addWidget(self.issue_missing)
        for row, label, slot in (
            (actions, "Issue / reissue", self.issue),
            (actions, "Revoke", self.revoke),
            (sheet, "Print…", self.choose_printer),
            (sheet, "Save as PDF…", self.choose_pdf),
        ):
            button = self.buttons[label] = QPushButton(label)
            button.clicked.connect(slot)
            row.addWidget(button)
        actions.addStretch(1)
        sheet.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.badges)
        layout.addLayout(actions)
        layout.addLayout(sheet)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def set_member(self, member: Member) -> None:
        self.member = member
        self.title.setText(f"Badges of {member['full_name']}")
        self.scope.setItemText(1, f"Their whole ministry ({member['ministry']})")
        self.status.setText("")
        self.refresh()

    def _chosen(self) -> Member | None:
        if self.member is None:
            self.status.setText("Select a person in People first, then open Badges.")
        return self.member

    def refresh(self) -> None:
        member = self.member
        if member is not None:
            self._tasks.run(
                "Loading badges",
                lambda: self._client.badges(member["id"]),
                lambda badges: self.badges.setText(describe(badges)),
                self.status.setText,
            )

    def issue(self) -> None:
        member = self._chosen()
        if member is not None:
            self._tasks.run(
                "Issuing",
                lambda: self._client.issue_badge(member["id"]),
                lambda _: self._done("A new badge is issued; any earlier one no longer works."),
                self.status.setText,
            )

    def revoke(self) -> None:
        member = self._chosen()
        if member is None:
            return

        def run() -> Badge | None:
            working = [b for b in self._client.badges(member["id"]) if not b["revoked_at"]]
            return self._client.revoke_badge(member["id"], working[0]["id"]) if working else None

        self._tasks.run(
            "Revoking",
            run,
            lambda badge: self._done(
                "The badge is revoked: the server refuses it now, kiosks after their next sync."
                if badge
                else "There is no working badge to revoke."
            ),
            self.status.setText,
        )

    def _done(self, sentence: str) -> None:
        self.status.setText(sentence)
        self.refresh()

    # -- the sheet -------------------------------------------------------------------------

    def choose_pdf(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save badge sheet", "badges.pdf", "PDF (*.pdf)")
        if path:
            self.export_pdf(Path(path))

    def choose_printer(self) -> None:
        printer = sheet_printer()
        if QPrintDialog(printer, self).exec() == QDialog.DialogCode.Accepted:
            self.print_to(printer)

    def export_pdf(self, path: Path) -> None:
        """Save the sheet of the chosen scope as a PDF at `path`."""
        self._with_cards(lambda cards, title: save_pdf(cards, title, path), f"Saved {path}.")

    def print_to(self, printer: QPrinter) -> None:
        """Print the sheet of the chosen scope on `printer` (a PDF-format one in tests)."""
        where = printer.outputFileName() or printer.printerName() or "the printer"
        self._with_cards(
            lambda cards, title: paint_sheet(printer, cards, title), f"Sent to {where}."
        )

    def _with_cards(self, paint: Callable[[list[BadgeCard], str], int], sentence: str) -> None:
        member = self._chosen()
        if member is None:
            return
        scope, issue_missing = self.scope.currentIndex(), self.issue_missing.isChecked()
        title = ("Sonta badge", f"Sonta badges: {member['ministry']}", "Sonta badges")[scope]

        def fetch() -> tuple[list[BadgeCard], list[Member], list[Member]]:
            members = (
                [member],
                self._client.all_members(ministry=member["ministry"], status="active"),
                self._client.all_members(status="active"),
            )[scope]
            return self._client.badge_sheet(members, issue_missing=issue_missing)

        def done(sheet: tuple[list[BadgeCard], list[Member], list[Member]]) -> None:
            cards, missing, issued = sheet
            if issued:
                self.refresh()
            try:  # painting uses Qt fonts: on the UI thread
                pages = paint(cards, title)
            except SheetError as exc:
                self.status.setText(" ".join(filter(None, (str(exc), left_out(missing)))))
                return
            said = f"{sentence} {count(len(cards), 'badge')} on {count(pages, 'page')}."
            if issued:
                said += f" Issued new badges to {names(issued)}."
            self.status.setText(" ".join(filter(None, (said, left_out(missing)))))

        self._tasks.run("Fetching the badges", fetch, done, self.status.setText)


def names(members: list[Member]) -> str:
    """The first few names, and how many more."""
    shown = ", ".join(m["full_name"] for m in members[:NAMED])
    more = len(members) - NAMED
    return f"{shown} and {count(more, 'more', 'more')}" if more > 0 else shown


def left_out(missing: list[Member]) -> str:
    """Who the sheet leaves out and why, and what to do; "" when no one is."""
    if not missing:
        return ""
    return (
        f"Left out, having no badge yet: {names(missing)}. Tick Issue the missing badges "
        "to include them."
    )
