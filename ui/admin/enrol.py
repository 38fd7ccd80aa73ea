"""Enrolment capture: live camera with a quality meter, three guided samples, photo files.

Frames come from the camera's one-slot mailbox (the same `PreviewWidget` as the kiosk);
each sample is assessed by the engine on a worker thread and kept only when it passes
the enrolment gates and the head points the way asked (the hint under the meter says
which way to turn), otherwise the reasons are shown in plain words. Photo
files (chosen or dropped) are read and embedded here too: only embeddings go to the
server. A face already enrolled for someone else is refused by the server with a
sentence naming them, shown as the duplicate warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QStandardPaths, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Member
from kiosk.admin.client import AdminClient
from kiosk.admin.enrol_capture import Assessment, GuidedCapture, assess
from ui.admin import words
from ui.admin.tasks import Tasks
from ui.preview import FrameProvider, PreviewWidget

if TYPE_CHECKING:
    from kiosk.inference import FaceEngine

log = logging.getLogger(__name__)
EngineProvider = Callable[[], "FaceEngine | None"]
METER_MS = 500  # how often the meter looks at the newest camera frame
PHOTO_TYPES = "Photos (*.jpg *.jpeg *.png *.webp *.bmp)"


def _assess_file(engine: FaceEngine, path: Path) -> Assessment:
    from kiosk.inference import ImageError, read_image_file  # noqa: PLC0415  (OpenCV late)

    try:
        pixels = read_image_file(path).pixels
    except ImageError as exc:
        return Assessment(False, 0.0, (f"{path.name}: {exc}",))
    return assess(engine, pixels)


class EnrolView(QWidget):
    enrolled = Signal(int)  # how many templates were saved

    def __init__(
        self,
        client: AdminClient,
        tasks: Tasks,
        frames: FrameProvider,
        engine: EngineProvider,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._client, self._tasks, self._frames, self._engine = client, tasks, frames, engine
        self.member: Member | None = None
        self.capture = GuidedCapture()
        self._photo_folder: str | None = None
        self.setAcceptDrops(True)
        self.preview = PreviewWidget(frames)
        self.preview.set_placeholder("No camera yet: choose photo files or drop them here.")
        self.title = QLabel("Choose a person with consent in People, then Enrol face.")
        self.title.setObjectName("title")
        self.prompt = QLabel(self.capture.prompt)
        self.meter = QProgressBar(minimum=0, maximum=100, format="quality %p%")
        self.live_hint = QLabel("")  # the engine's verdict on the live picture
        self.live_hint.setWordWrap(True)
        self.reasons = QLabel("")
        self.reasons.setWordWrap(True)
        self.engine_note = QLabel("")  # the engine's loading, when the admin app loads it
        self.engine_note.setWordWrap(True)
        self.engine_note.setObjectName("busy")
        self._meter_timer = QTimer(self)
        self._meter_timer.timeout.connect(self._measure_live)
        self._measuring = False
        self._measured_seq = 0
        self.samples = QListWidget()
        self.take_button = QPushButton("&Take sample")  # Alt+the underlined letter
        self.save_button = QPushButton("&Save samples")
        self.photos_button = QPushButton("Enrol from &photo files…")
        self.erase_button = QPushButton("Delete face data…")
        self.take_button.clicked.connect(self.take_sample)
        self.save_button.clicked.connect(self.save)
        self.photos_button.clicked.connect(self.choose_photos)
        self.erase_button.clicked.connect(self.erase)
        side = QVBoxLayout()
        for widget in (
            self.prompt,
            self.meter,
            self.live_hint,
            self.reasons,
            self.engine_note,
            self.samples,
        ):
            side.addWidget(widget)
        for button in (self.take_button, self.save_button, self.photos_button, self.erase_button):
            side.addWidget(button)
        body = QHBoxLayout()
        body.addWidget(self.preview, 3)
        body.addLayout(side, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(body, 1)
        self._update_buttons()

    def set_member(self, member: Member) -> None:
        self.member = member
        self.capture.reset()
        self.samples.clear()
        self.reasons.setText("")
        self.title.setText(f"Enrol {member['full_name']} ({member['ministry']})")
        self.prompt.setText(self.capture.prompt)
        self._update_buttons()

    def showEvent(self, event: Any) -> None:
        self.preview.start()
        self._meter_timer.start(METER_MS)
        super().showEvent(event)

    def hideEvent(self, event: Any) -> None:
        self.preview.stop()
        self._meter_timer.stop()
        super().hideEvent(event)

    def _measure_live(self) -> None:
        """The meter follows the camera: the newest frame, one at a time, off the UI thread."""
        mailbox = self._frames()
        frame = mailbox.latest() if mailbox is not None else None
        engine = self._engine()
        if self._measuring or frame is None or engine is None or frame.seq == self._measured_seq:
            return
        self._measuring, self._measured_seq = True, frame.seq
        pixels = frame.image.copy()
        self._tasks.run(
            "Measuring the picture",
            lambda: assess(engine, pixels),
            self._measured,
            lambda _: self._measured(None),
        )

    def _measured(self, assessment: Assessment | None) -> None:
        self._measuring = False
        if assessment is None:
            return
        self.meter.setValue(round(assessment.meter * 100))
        judged = self.capture.judge(assessment)  # the asked pose too, so the hint says which way
        self.live_hint.setText(
            "Good picture: take the sample." if judged.passed else " ".join(judged.reasons)
        )

    def _update_buttons(self) -> None:
        ready = self.member is not None
        self.take_button.setEnabled(ready and not self.capture.done)
        self.save_button.setEnabled(ready and bool(self.capture.samples))
        self.photos_button.setEnabled(ready)
        self.erase_button.setEnabled(ready)

    def _need_engine(self) -> FaceEngine | None:
        engine = self._engine()
        if engine is None:
            note = self.engine_note.text()
            self.reasons.setText(
                note if note else "The face engine is still loading; try again in a moment."
            )
        return engine

    def set_engine_note(self, sentence: str) -> None:
        """How the face engine's loading goes (the standalone admin app loads its own)."""
        self.engine_note.setText(sentence)

    def take_sample(self) -> None:
        mailbox = self._frames()
        frame = mailbox.latest() if mailbox is not None else None
        engine = self._need_engine()
        if frame is None or engine is None:
            if frame is None:
                self.reasons.setText("No camera picture yet. Check the camera is connected.")
            return
        pixels = frame.image.copy()
        self.take_button.setEnabled(False)
        self._tasks.run("Checking the picture", lambda: assess(engine, pixels), self._assessed)

    def _assessed(self, assessment: Assessment, source: str = "camera") -> None:
        self.meter.setValue(round(assessment.meter * 100))
        pose = self.capture.pose
        judged = self.capture.offer(assessment)
        if judged.passed:
            self.samples.addItem(f"{pose}: accepted ({source})")
            self.reasons.setText("Sample accepted.")
        else:
            self.reasons.setText("Not accepted: " + " ".join(judged.reasons))
        self.prompt.setText(self.capture.prompt)
        self._update_buttons()

    def choose_photos(self) -> None:
        """The file dialog opens where the last photos were, else in Pictures (or home)."""
        if self._photo_folder is None:
            pictures = QStandardPaths.writableLocation(
                QStandardPaths.StandardLocation.PicturesLocation
            )
            self._photo_folder = pictures if Path(pictures).is_dir() else str(Path.home())
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Photos of this person", self._photo_folder, PHOTO_TYPES
        )
        if paths:
            self._photo_folder = str(Path(paths[0]).parent)
        self.add_photos([Path(p) for p in paths])

    def add_photos(self, paths: list[Path]) -> None:
        """Assess each photo here (it never leaves the computer); keep the good ones."""
        engine = self._need_engine()
        if engine is None or self.member is None or not paths:
            return

        def run() -> list[tuple[Path, Assessment]]:
            return [(path, _assess_file(engine, path)) for path in paths]

        self._tasks.run("Reading the photos", run, self._photos_assessed)

    def _photos_assessed(self, results: list[tuple[Path, Assessment]]) -> None:
        refused, accepted = [], 0
        for path, assessment in results:
            if self.capture.add_photo(assessment):
                self.samples.addItem(f"{path.name}: accepted (photo)")
                accepted += 1
            elif not assessment.passed:
                refused.append(f"{path.name}: {' '.join(assessment.reasons)}")
        self.reasons.setText("Not accepted: " + " ".join(refused) if refused else "")
        log.info("admin app: %d of %d photos accepted", accepted, len(results))
        self.prompt.setText(self.capture.prompt)
        self._update_buttons()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.add_photos(paths)
        event.acceptProposedAction()

    def save(self) -> None:
        engine, member = self._need_engine(), self.member
        if engine is None or member is None or not self.capture.samples:
            return
        embeddings = [list(s.embedding or ()) for s in self.capture.samples]
        model_id = engine.model_id

        def run() -> int:
            for embedding in embeddings:
                self._client.enrol_embedding(member["id"], embedding, model_id)
            return len(embeddings)

        self.save_button.setEnabled(False)
        self._tasks.run("Saving the face samples", run, self._saved, self._save_failed)

    def _saved(self, count: int) -> None:
        log.info("admin app: %s saved", words.count(count, "face sample"))
        self.reasons.setText(f"Enrolled: {words.count(count, 'face sample')} saved.")
        self.capture.reset()
        self.samples.clear()
        self.prompt.setText(self.capture.prompt)
        self._update_buttons()
        self.enrolled.emit(count)

    def _save_failed(self, message: str) -> None:
        self.reasons.setText(f"Not saved: {message}")
        self._update_buttons()

    def erase(self) -> None:
        member = self.member
        if member is None:
            return
        question = f"Delete every face sample of {member['full_name']}? They can enrol again."
        if QMessageBox.question(self, "Please confirm", question) != QMessageBox.StandardButton.Yes:
            return
        self._tasks.run(
            "Deleting face data",
            lambda: self._client.erase_biometrics(member["id"]),
            self.reasons.setText,
            self.reasons.setText,
        )
