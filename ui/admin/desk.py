"""What the standalone admin app has beside its server: a face engine and a camera.

On an office PC nothing else loads them. The engine (FACE_MODEL's pack, downloaded on
first use) loads on a background job while the admin signs in, and its progress is told
as a sentence; the camera opens at once when the computer has one, else the enrolment
screen says plainly that there is none and photo files still work.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from kiosk.errors import KioskError
from kiosk.events import EventBus
from kiosk.inference import FaceEngineError
from kiosk.syncing.status import SyncSnapshot, SyncStatus
from ui.jobs import Job

if TYPE_CHECKING:
    from kiosk.capture.camera import CaptureSource
    from kiosk.capture.frames import LatestFrame
    from kiosk.inference import FaceEngine

log = logging.getLogger(__name__)

NO_CAMERA = (
    "No camera found on this computer: enrol from photo files (button or drop them here), "
    "or connect a camera and open the admin app again."
)


class AdminDesk(QObject):
    """Loads the engine in the background and opens the camera `camera` when present."""

    engine_changed = Signal(str)  # a sentence: loading, downloading N %, ready or failed

    def __init__(self, camera: str = "0", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.camera = camera
        self.engine: FaceEngine | None = None
        self.engine_note = "The face engine is loading…"
        self.camera_note = ""
        self.source: CaptureSource | None = None
        self._status = SyncStatus()
        self._status.subscribe(self._on_status)
        self._job: Job | None = None

    def frames(self) -> LatestFrame | None:
        return self.source.frames if self.source is not None else None

    def start(self) -> None:
        """Open the camera now (never blocks) and start loading the engine."""
        self._open_camera()
        self._say(self.engine_note)
        self._job = Job(self._load, "admin-engine", self)
        self._job.succeeded.connect(self._on_loaded)
        self._job.failed.connect(self._on_failed)
        self._job.start()

    def _open_camera(self) -> None:
        from kiosk.app import open_source  # noqa: PLC0415 - OpenCV
        from kiosk.capture.camera import camera_present  # noqa: PLC0415

        if not camera_present(self.camera):
            self.camera_note = NO_CAMERA
            log.info("admin app: no camera %s on this computer", self.camera)
            return
        try:
            self.source = open_source(self.camera, EventBus())
        except KioskError as exc:
            self.camera_note = f"{exc} Photo files can still be enrolled."
            return
        self.source.start()
        self.camera_note = "Starting the camera…"
        log.info("admin app: camera %s opened", self.camera)

    def _load(self) -> FaceEngine:
        from ui.runtime import load_engine  # noqa: PLC0415 - the engine's modules

        return load_engine(self._status)

    def _on_status(self, snapshot: SyncSnapshot) -> None:
        """Download progress (called on the loading thread; the signal is queued)."""
        if snapshot.pack_progress is not None and self.engine is None:
            percent = round(snapshot.pack_progress * 100)
            self._say(f"Downloading the face model pack: {percent} %…")

    def _on_loaded(self, engine: FaceEngine) -> None:
        self.engine = engine
        log.info("admin app: face engine %s ready", engine.model_id)
        self._say(f"Face engine ready ({engine.spec.name}).")

    def _on_failed(self, error: BaseException) -> None:
        if isinstance(error, KioskError | FaceEngineError):
            sentence = str(error)
        else:
            log.exception("admin app: the face engine failed to load", exc_info=error)
            sentence = f"unexpected error ({error})"
        log.error("admin app: the face engine did not load: %s", sentence)
        self._say(
            f"The face engine did not load: {sentence} Enrolment needs it; the other "
            "screens work. Open the admin app again once this is fixed."
        )

    def _say(self, sentence: str) -> None:
        self.engine_note = sentence
        self.engine_changed.emit(sentence)

    def stop(self) -> None:
        """Release the camera and wait for the loading job: no thread outlives the app."""
        if self.source is not None:
            self.source.stop()
        if self._job is not None:
            self._job.wait(60.0)
