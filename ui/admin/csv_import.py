"""CSV import of people: the server's per-row report first (a dry run, nothing saved), then
the admin saves it or cancels. A file with bad rows saves nothing and lists every bad row."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QVBoxLayout, QWidget

from kiosk.admin_types import Json


def report_lines(report: Json) -> list[str]:
    """One line per row: what would happen to it, or what is wrong with it."""
    if report.get("errors"):
        return [f"Row {e['row']}: {'; '.join(e['errors'])}" for e in report["errors"]]
    lines = []
    for row in report.get("rows", []):
        changes = f" ({', '.join(row['changes'])})" if row.get("changes") else ""
        lines.append(f"Row {row['row']}: {row['full_name']} — {row['action']}{changes}")
    return lines


def summary(report: Json) -> str:
    if report.get("errors"):
        return str(report.get("message") or "Nothing can be imported: fix the rows below.")
    verb = "Saved" if report.get("saved") else "Will save"
    return (
        f"{verb}: {report.get('created', 0)} new, {report.get('updated', 0)} updated, "
        f"{report.get('unchanged', 0)} unchanged."
    )


class ImportPreview(QDialog):
    """Shows the dry run's report; Save is offered only when every row is good."""

    def __init__(self, path: Path, report: Json, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import {path.name}")
        self.resize(720, 480)
        self.summary = QLabel(summary(report))
        self.summary.setWordWrap(True)
        self.rows = QListWidget()
        self.rows.addItems(report_lines(report))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        if not report.get("errors"):
            buttons.addButton(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.rows, 1)
        layout.addWidget(buttons)
