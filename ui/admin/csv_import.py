"""CSV import of people: the server's per-row report first (a dry run, nothing saved), then
the admin saves it or cancels. A file with bad rows saves nothing and lists every bad row.

A re-import (rows of people already listed: a taken email, or a likely duplicate) offers
"Update existing", which checks the file again in update mode: rows then change the
members they match (member code, email, or name and phone) instead of adding them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Json
from ui.admin.words import count

TAKEN = "already exists"  # the server's words for a row of someone already listed


def report_lines(report: Json) -> list[str]:
    """One line per row: what would happen to it, or what is wrong with it."""
    if report.get("errors"):
        return [f"Row {e['row']}: {'; '.join(e['errors'])}" for e in report["errors"]]
    lines = []
    for row in report.get("rows", []):
        changes = f" ({', '.join(row['changes'])})" if row.get("changes") else ""
        warning = f". Likely a duplicate: {row['warning']}" if row.get("warning") else ""
        lines.append(f"Row {row['row']}: {row['full_name']} — {row['action']}{changes}{warning}")
    return lines


def already_listed(report: Json) -> bool:
    """Whether rows are about people already listed (a re-import)."""
    taken = any(TAKEN in p for e in report.get("errors", []) for p in e["errors"])
    return taken or bool(report.get("warnings"))


def summary(report: Json) -> str:
    if report.get("errors"):
        return str(report.get("message") or "Nothing can be imported: fix the rows below.")
    verb = "Saved" if report.get("saved") else "Will save"
    said = (
        f"{verb}: {report.get('created', 0)} new, {report.get('updated', 0)} updated, "
        f"{report.get('unchanged', 0)} unchanged."
    )
    if report.get("warnings") and not report.get("saved"):
        said += (
            f" {count(report['warnings'], 'new row')} may be someone already listed: check "
            "them, or choose Update existing."
        )
    return said


class ImportPreview(QDialog):
    """Shows the dry run's report; Save is offered only when every row is good, and
    Update existing when rows are about people already listed."""

    update_requested = Signal()  # check the file again in update mode

    def __init__(
        self, path: Path, report: Json, mode: str = "create", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.mode = mode
        updating = " (update existing)" if mode == "update" else ""
        self.setWindowTitle(f"Import {path.name}{updating}")
        self.resize(720, 480)
        self.summary = QLabel(summary(report))
        self.summary.setWordWrap(True)
        self.rows = QListWidget()
        self.rows.setWordWrap(True)  # a row's reason is a sentence: never cut it off
        self.rows.setResizeMode(QListView.ResizeMode.Adjust)
        self.rows.addItems(report_lines(report))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.update_button: QPushButton | None = None
        if mode == "create" and already_listed(report):
            self.update_button = QPushButton("Update existing")
            self.update_button.setToolTip(
                "Check the file again, matching rows to people already listed (member "
                "code, email, or name and phone) and changing them instead of adding them."
            )
            self.update_button.clicked.connect(self._update)
            buttons.addButton(self.update_button, QDialogButtonBox.ButtonRole.ActionRole)
        if not report.get("errors"):
            buttons.addButton(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.rows, 1)
        layout.addWidget(buttons)

    def _update(self) -> None:
        self.update_requested.emit()
        self.reject()
