"""The admin sign-in screen: email and password, or a one-time code sent by email."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.client import AdminClient
from ui.admin.tasks import Tasks


class SignInView(QWidget):
    signed_in = Signal(object)  # the AdminAccount

    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        title = QLabel("Sign in to Sonta Attendance")
        title.setObjectName("title")
        self.server = QLabel(f"Server: {client.base_url}")
        self.email = QLineEdit(placeholderText="you@church.org")
        self.password = QLineEdit(placeholderText="password", echoMode=QLineEdit.EchoMode.Password)
        self.code = QLineEdit(placeholderText="one-time code from the email")
        self.sign_in_button = QPushButton("&Sign in")
        self.send_code_button = QPushButton("E&mail me a code")
        self.use_code_button = QPushButton("Sign in with the &code")
        self.setFocusProxy(self.email)  # the screen opens with the keyboard in Email
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setObjectName("message")
        form = QFormLayout()
        form.addRow("&Email", self.email)
        form.addRow("&Password", self.password)
        form.addRow("", self.sign_in_button)
        form.addRow("Co&de", self.code)
        codes = QHBoxLayout()
        codes.addWidget(self.send_code_button)
        codes.addWidget(self.use_code_button)
        form.addRow("", codes)
        box = QWidget()
        box.setMaximumWidth(560)
        inner = QVBoxLayout(box)
        for widget in (title, self.server):
            inner.addWidget(widget)
        inner.addLayout(form)
        inner.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self.sign_in_button.clicked.connect(self.sign_in)
        self.password.returnPressed.connect(self.sign_in)
        self.send_code_button.clicked.connect(self.send_code)
        self.use_code_button.clicked.connect(self.use_code)
        self.code.returnPressed.connect(self.use_code)

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def _ok(self, account: Any) -> None:
        self.password.clear()
        self.code.clear()
        self.message.setText("")
        self.signed_in.emit(account)

    def sign_in(self) -> None:
        email, password = self.email.text().strip(), self.password.text()
        if not email or not password:
            self.show_message("Enter your email and password, or ask for a one-time code.")
            return
        self.show_message("Signing in…")
        self._tasks.run(
            "Signing in", lambda: self._client.sign_in(email, password), self._ok, self.show_message
        )

    def send_code(self) -> None:
        email = self.email.text().strip()
        if not email:
            self.show_message("Enter your email first; the code is sent there.")
            return
        self.show_message("Sending a code…")
        self._tasks.run(
            "Sending a code",
            lambda: self._client.request_code(email),
            self.show_message,
            self.show_message,
        )

    def use_code(self) -> None:
        code = self.code.text().strip()
        if not code:
            self.show_message("Enter the one-time code from the email.")
            return
        self.show_message("Signing in…")
        self._tasks.run(
            "Signing in", lambda: self._client.sign_in_with_code(code), self._ok, self.show_message
        )
