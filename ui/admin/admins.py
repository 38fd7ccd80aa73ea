"""Admins (super admin only): invite, disable or enable, send a password reset link.

When the server has no email set up, the one-time link comes back instead and is shown
once in `OneTimeLinkDialog`, for the super admin to pass on.

The window hides this screen from other admins, and the server refuses them anyway; its
sentence is what the status line shows. The dialogs are thin wrappers around `invite`,
`set_active` and `reset`, which tests call with a selected row.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QWidget,
)

from kiosk.admin.api_types import AdminAccount, PasswordLinkSent
from kiosk.admin.client import AdminClient
from ui.admin.link_dialog import OneTimeLinkDialog
from ui.admin.table_screen import TableScreen
from ui.admin.tasks import Tasks
from ui.admin.times import local

HEADERS = ("Email", "Name", "Role", "Active", "Last sign-in")
ROLES = {"Admin": "admin", "Super admin": "super_admin"}


class InviteDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Invite an admin")
        self.email = QLineEdit(placeholderText="name@church.org")
        self.full_name = QLineEdit()
        self.role = QComboBox()
        self.role.addItems(list(ROLES))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Email", self.email)
        form.addRow("Name", self.full_name)
        form.addRow("Role", self.role)
        form.addRow(buttons)


class AdminsView(TableScreen[AdminAccount]):
    noun, a_noun = "admin", "an admin"

    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(
            client,
            tasks,
            HEADERS,
            (
                ("Invite…", self.ask_invite),
                ("Disable", lambda: self.set_active(False)),
                ("Enable", lambda: self.set_active(True)),
                ("Send reset link", self.reset),
            ),
            parent,
        )
        self.link_dialog: OneTimeLinkDialog | None = None

    def load(self) -> list[AdminAccount]:
        return self._client.admins()

    def cells(self, row: AdminAccount) -> list[str]:
        return [
            row["email"],
            row["full_name"],
            "super admin" if row["role"] == "super_admin" else row["role"],
            "yes" if row["is_active"] else "no",
            local(row["last_login_at"], missing="never"),
        ]

    def ask_invite(self) -> None:
        dialog = InviteDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.invite(dialog.email.text(), dialog.full_name.text(), dialog.role.currentText())

    def invite(self, email: str, full_name: str = "", role: str = "Admin") -> None:
        email = email.strip()
        if not email:
            self.status.setText("Enter the new admin's email; the invitation is sent there.")
            return
        self.act(
            "Inviting",
            lambda: self._client.invite_admin(email, full_name.strip(), ROLES[role]),
            lambda invited: self._link_sent(f"Invited {invited['email']}.", invited),
        )

    def _link_sent(self, done: str, answer: PasswordLinkSent) -> str:
        """The status line; the link itself, when email is not set up, in a dialog once."""
        link = answer["password_link"]
        if link:
            if self.link_dialog is not None:
                self.link_dialog.close()
            self.link_dialog = OneTimeLinkDialog(answer["detail"], link, self)
            self.link_dialog.finished.connect(self._forget_link)
            self.link_dialog.open()
            return f"{done} Email is not set up: pass on the one-time link shown."
        return f"{done} {answer['detail']}"

    def _forget_link(self) -> None:
        if self.link_dialog is not None:
            self.link_dialog.deleteLater()
            self.link_dialog = None

    def set_active(self, active: bool) -> None:
        admin = self.selected()
        if admin is not None:
            self.act(
                "Saving",
                lambda: self._client.set_admin_active(admin["id"], active),
                lambda saved: (
                    f"{saved['email']} can sign in again."
                    if saved["is_active"]
                    else f"{saved['email']} is disabled and signed out everywhere."
                ),
            )

    def reset(self) -> None:
        admin = self.selected()
        if admin is not None:
            self.act(
                "Sending",
                lambda: self._client.reset_admin_password(admin["id"]),
                lambda sent: self._link_sent("", sent).strip(),
            )
