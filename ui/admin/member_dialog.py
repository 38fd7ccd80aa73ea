"""The dialog for a new or existing member's name, ministry, email and phone."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDialog, QLineEdit, QWidget

from kiosk.admin.api_types import Member
from ui.admin.forms import save_cancel_form


class MemberDialog(QDialog):
    """Name, ministry, email and phone of a new or existing member."""

    def __init__(self, member: Member | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit member" if member else "New member")
        self.full_name = QLineEdit(member["full_name"] if member else "")
        self.ministry = QLineEdit(member["ministry"] if member else "")
        self.email = QLineEdit((member["email"] or "") if member else "")
        self.phone = QLineEdit((member["phone"] or "") if member else "")
        save_cancel_form(
            self,
            (
                ("Full name", self.full_name),
                ("Ministry", self.ministry),
                ("Email", self.email),
                ("Phone", self.phone),
            ),
        )

    def fields(self) -> dict[str, Any]:
        return {
            "full_name": self.full_name.text().strip(),
            "ministry": self.ministry.text().strip(),
            "email": self.email.text().strip() or None,
            "phone": self.phone.text().strip() or None,
        }
