"""What the admin screens' forms share: labelled rows, then Save and Cancel."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QWidget


def save_cancel_form(dialog: QDialog, rows: Iterable[tuple[str, QWidget]]) -> QFormLayout:
    """`dialog`'s layout: one labelled row per field (an empty label: the field spans the
    form, as a message under it does), then Save (accept) and Cancel."""
    form = QFormLayout(dialog)
    for label, field in rows:
        if label:
            form.addRow(label, field)
        else:
            form.addRow(field)
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    return form
