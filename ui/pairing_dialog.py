"""First run: pair with the server, set the kiosk PIN, choose and test the camera and meeting.

The dialog is a view over ``SetupActions`` (the core's pairing, meeting list and camera
probe), each run as a background ``Job``: pairing talks to the network and opening a
camera can take seconds. Every failure is shown as a sentence a volunteer can act on.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.device.lock import PinLock, check_new_pin
from kiosk.device.preferences import Preferences
from kiosk.errors import KioskError, PinError
from kiosk.inference import FaceEngineError
from ui import theme
from ui.jobs import Job
from ui.preview import frame_image

if TYPE_CHECKING:
    from kiosk.inference import BGRImage

log = logging.getLogger(__name__)
ON_NOW = "The meeting that is on now"


class SetupActions(Protocol):
    def pair(self, server_url: str, code: str) -> None: ...

    def meetings(self) -> list[tuple[str, str]]: ...  # (meeting id, title)

    def cameras(self) -> list[str]: ...

    def test_camera(self, camera: str) -> BGRImage: ...


def sentence(exc: BaseException) -> str:
    """A failure as something to read: the core's own message, or a plain fallback."""
    if isinstance(exc, KioskError | PinError | FaceEngineError):
        return str(exc)
    log.error("setup step failed", exc_info=exc)
    return f"Something unexpected went wrong ({type(exc).__name__}: {exc}). Please try again."


def check_server_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise PinError("The server address must start with http:// or https://.")
    return url


class PairingDialog(QDialog):
    completed = Signal(object)  # the chosen Preferences

    def __init__(
        self,
        actions: SetupActions,
        lock: PinLock,
        preferences: Preferences,
        parent: QWidget | None = None,
        *,
        server_url: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up this kiosk")
        self._actions, self._lock, self._preferences = actions, lock, preferences
        self.jobs: list[Job] = []
        self.pages = QStackedWidget()
        self.pages.addWidget(self._pairing_page(server_url))
        self.pages.addWidget(self._choices_page())
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(theme.ERROR_STYLE)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        layout.addWidget(self.error)
        font = self.font()
        font.setPixelSize(theme.DIALOG_TEXT_PX)
        self.setFont(font)
        self.setMinimumWidth(720)
        self.finished.connect(self._wait_for_jobs)

    def _pairing_page(self, server_url: str) -> QWidget:
        page = QWidget()
        self.server = QLineEdit(server_url)
        self.server.setPlaceholderText("https://attendance.example.org")
        self.code = QLineEdit()
        self.code.setPlaceholderText("the pairing code an admin made for this kiosk")
        self.pin = QLineEdit()
        self.pin_again = QLineEdit()
        for field in (self.pin, self.pin_again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.pair_button = QPushButton("Pair this kiosk")
        self.pair_button.clicked.connect(self.start_pairing)
        form = QFormLayout(page)
        form.addRow(QLabel("An admin sets this kiosk up once."))
        form.addRow("Server address", self.server)
        form.addRow("Pairing code", self.code)
        form.addRow("New kiosk PIN", self.pin)
        form.addRow("PIN again", self.pin_again)
        form.addRow(self.pair_button)
        return page

    def _choices_page(self) -> QWidget:
        page = QWidget()
        self.camera = QComboBox()
        self.camera.setEditable(True)
        self.test_button = QPushButton("Test camera")
        self.test_button.clicked.connect(self.start_camera_test)
        self.snapshot = QLabel("No picture yet")
        self.snapshot.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.snapshot.setMinimumSize(320, 240)
        self.meeting = QComboBox()
        self.done_button = QPushButton("Start the kiosk")
        self.done_button.clicked.connect(self.finish)
        form = QFormLayout(page)
        form.addRow("Camera", self.camera)
        form.addRow(self.test_button)
        form.addRow(self.snapshot)
        form.addRow("Meeting", self.meeting)
        form.addRow(self.done_button)
        return page

    def _run(self, function: object, on_success: object, name: str) -> Job:
        job = Job(function, name, self)  # type: ignore[arg-type]
        job.succeeded.connect(on_success)
        job.failed.connect(lambda exc: self.show_error(sentence(exc)))
        job.finished.connect(lambda: self._set_busy(False))
        self.jobs.append(job)
        self._set_busy(True)
        job.start()
        return job

    def _set_busy(self, busy: bool) -> None:
        for button in (self.pair_button, self.test_button, self.done_button):
            button.setEnabled(not busy)

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    def start_pairing(self) -> None:
        self.error.clear()
        try:
            url = check_server_url(self.server.text())
            check_new_pin(self.pin.text())
            if self.pin.text() != self.pin_again.text():
                raise PinError("The two PINs differ. Type the same PIN twice.")
            if not self.code.text().strip():
                raise PinError("Type the pairing code an admin made for this kiosk.")
        except PinError as exc:
            self.show_error(str(exc))
            return
        code = self.code.text().strip()

        def pair_and_list() -> tuple[list[tuple[str, str]], list[str]]:
            self._actions.pair(url, code)
            return self._actions.meetings(), self._actions.cameras()

        self._run(pair_and_list, self._on_paired, "pairing")

    def _on_paired(self, result: tuple[list[tuple[str, str]], list[str]]) -> None:
        self._lock.set_pin(self.pin.text())
        self.pin.clear()
        self.pin_again.clear()
        meetings, cameras = result
        self.camera.clear()
        self.camera.addItems(cameras or [self._preferences.camera])
        self.camera.setCurrentText(self._preferences.camera)
        self.meeting.clear()
        self.meeting.addItem(ON_NOW, None)
        for meeting_id, title in meetings:
            self.meeting.addItem(title, meeting_id)
        self.error.clear()
        self.pages.setCurrentIndex(1)

    def start_camera_test(self) -> None:
        self.error.clear()
        camera = self.camera.currentText().strip()
        self._run(lambda: self._actions.test_camera(camera), self._on_snapshot, "camera-test")

    def _on_snapshot(self, image: BGRImage) -> None:
        picture = QPixmap.fromImage(frame_image(image))
        self.snapshot.setPixmap(
            picture.scaled(
                self.snapshot.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def finish(self) -> None:
        try:
            chosen = replace(
                self._preferences,
                camera=self.camera.currentText().strip(),
                meeting_id=self.meeting.currentData(),
            )
        except KioskError as exc:
            self.show_error(str(exc))
            return
        self.completed.emit(chosen)
        self.accept()

    def _wait_for_jobs(self) -> None:
        for job in self.jobs:
            job.wait()
