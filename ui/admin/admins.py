"""Admins (super admin only): invite, disable or enable, send a password reset link."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin_client import AdminClient
from kiosk.admin_types import AdminAccount
from ui.admin.tasks import Tasks

HEADERS = ("Email", "Name", "Role", "Active", "Last sign-in")


class AdminsView(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.admins: list[AdminAccount] = []
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for label, slot in (
            ("Invite…", self.ask_invite),
            ("Disable", lambda: self.set_active(False)),
            ("Enable", lambda: self.set_active(True)),
            ("Send reset link", self.reset),
            ("Refresh", self.refresh),
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    def refresh(self) -> None:
        self._tasks.run("Loading admins", self._client.admins, self._loaded, self.status.setText)

    def _loaded(self, admins: list[AdminAccount]) -> None:
        self.admins = admins
        self.table.setRowCount(len(admins))
        for r, admin in enumerate(admins):
            cells = (
                admin["email"],
                admin["full_name"],
                admin["role"],
                "yes" if admin["is_active"] else "no",
                (admin["last_login_at"] or "never")[:16].replace("T", " "),
            )
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _selected(self) -> AdminAccount | None:
        row = self.table.currentRow()
        if 0 <= row < len(self.admins):
            return self.admins[row]
        self.status.setText("Select an admin first.")
        return None

    def ask_invite(self) -> None:
        email, ok = QInputDialog.getText(self, "Invite an admin", "Email")
        if ok and email.strip():
            self.invite(email.strip())

    def invite(self, email: str) -> None:
        self._tasks.run(
            "Inviting", lambda: self._client.invite_admin(email), self._invited, self.status.setText
        )

    def _invited(self, admin: AdminAccount) -> None:
        self.status.setText(f"Invited {admin['email']}; a link to set a password is on its way.")
        self.refresh()

    def set_active(self, active: bool) -> None:
        admin = self._selected()
        if admin is not None:
            self._tasks.run(
                "Saving",
                lambda: self._client.set_admin_active(admin["id"], active),
                lambda _: self.refresh(),
                self.status.setText,
            )

    def reset(self) -> None:
        admin = self._selected()
        if admin is not None:
            self._tasks.run(
                "Sending",
                lambda: self._client.reset_admin_password(admin["id"]),
                self.status.setText,
                self.status.setText,
            )
