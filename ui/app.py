"""The kiosk window's composition root: QApplication, the core, the window and its dialogs.

Order matters for a fast start: the window is shown first, then the camera opens (a
live preview at once), and the engine, store, sync and meeting load on a background
job; quitting stops the core's threads before the application ends. Qt's own messages
go to Python logging.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import (
    QMessageLogContext,
    QObject,
    QTimer,
    QtMsgType,
    Signal,
    qInstallMessageHandler,
)
from PySide6.QtWidgets import QApplication

from kiosk.board import MeetingBoard
from kiosk.device.preferences import Preferences
from kiosk.errors import KioskError
from kiosk.syncing.status import SyncSnapshot
from ui import plain_text
from ui.admin.launch import KioskAdminHook
from ui.download_dialog import DownloadDialog
from ui.flow import FlowTiming
from ui.jobs import Job
from ui.main_window import MainWindow, WindowServices
from ui.pairing_dialog import PairingDialog, sentence
from ui.runtime import KioskRuntime
from ui.settings_dialog import SettingsDialog
from ui.sounds import QtSoundPlayer, SilentPlayer, SoundPlayer

log = logging.getLogger(__name__)
qt_log = logging.getLogger("qt")

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    qt_log.log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)


def make_sounds(preferences: Preferences) -> SoundPlayer:
    try:
        return QtSoundPlayer(enabled=preferences.sounds)
    except ImportError as exc:  # Qt Multimedia missing its system libraries
        log.warning("sounds are off: %s", exc)
        return SilentPlayer()


class KioskController(QObject):
    """Owns the window, the background jobs and the dialogs for one runtime."""

    board_ready = Signal(object)  # a MeetingBoard or None, from the board watcher
    engine_ready = Signal(str)  # the model pack, once the engine is loaded
    loaded = Signal(str)  # the model pack, once recognition runs

    def __init__(
        self,
        runtime: KioskRuntime,
        *,
        timing: FlowTiming | None = None,
        sounds: SoundPlayer | None = None,
        fullscreen: bool | None = None,
        pairing: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.started_at = time.monotonic()
        self.window_up_at: float | None = None
        self._fullscreen = runtime.preferences.lockdown if fullscreen is None else fullscreen
        self._pairing = pairing
        self.jobs: list[Job] = []
        self.dialog: PairingDialog | SettingsDialog | None = None
        self.sounds = sounds
        self.window = MainWindow(
            WindowServices(
                events=runtime.events,
                frames=runtime.frames,
                status=runtime.status,
                sounds=sounds or SilentPlayer(),
                lock=runtime.lock,
                timing=timing or FlowTiming(),
            )
        )
        self.download: DownloadDialog | None = None
        self.downloads_shown = 0
        self.window.bridge.status_changed.connect(self._on_status)
        self.board_ready.connect(self._on_board)
        self.engine_ready.connect(self.window.set_model)
        self.window.settings_requested.connect(self.open_settings)
        self.admin = KioskAdminHook(self)  # Ctrl+Shift+A: the admin screens

    def start(self) -> None:
        """Show the window; then (off the main thread) open the camera, then pair or load."""
        self.window.resize(1280, 800)
        self.window.show()
        self.window_up_at = time.monotonic()
        log.info("window up in %.2f s", self.window_up_at - self.started_at)
        QTimer.singleShot(0, self._after_show)

    def _after_show(self) -> None:
        if self.sounds is None:  # Qt Multimedia takes a moment to load: after the window
            self.sounds = make_sounds(self.runtime.preferences)
            self.window.services.sounds = self.sounds
        self._run(self._open_camera, self._on_camera, "camera")

    def _open_camera(self) -> str | None:
        """Runs on a job (OpenCV is imported here); a failure is shown, not raised."""
        try:
            self.runtime.start_camera()
        except KioskError as exc:
            return str(exc)
        return None

    def _on_camera(self, problem: str | None) -> None:
        if problem is not None:
            self.window.live.preview.set_placeholder(problem)
        if self.runtime.options.offline or self.runtime.is_paired():
            self._load()
        elif self._pairing is not None:
            self.window.live.preview.set_placeholder(
                "Pairing with the server\N{HORIZONTAL ELLIPSIS}"
            )
            pairing = self._pairing
            self._run(lambda: self.runtime.pair(*pairing()), lambda _: self._load(), "pairing")
        else:
            log.info("not paired yet: the pairing dialog asks for the server and a pairing code")
            self.open_pairing()

    def _run(self, function: object, on_success: object, name: str) -> Job:
        job = Job(function, name, self)  # type: ignore[arg-type]
        job.succeeded.connect(on_success)
        job.failed.connect(self._on_failed)
        self.jobs.append(job)
        job.start()
        return job

    def _on_failed(self, exc: BaseException) -> None:
        text = sentence(exc)
        log.error("kiosk start-up step failed: %s", text)
        self.window.live.preview.set_placeholder(text)
        self.window.status_bar.connection.setText(text)

    def _load(self) -> None:
        self._run(lambda: self.runtime.load(self.engine_ready.emit), self._on_loaded, "loading")

    def _on_loaded(self, pack: str) -> None:
        self.runtime.watch_board(self.board_ready.emit)
        if self._fullscreen:
            self.window.enter_lockdown()
        self.loaded.emit(pack)

    def _on_status(self, snapshot: SyncSnapshot) -> None:
        """A model pack download shows a progress dialog until it ends."""
        if snapshot.pack_progress is not None and self.download is None:
            pack = self.runtime.options.pack or os.environ.get("FACE_MODEL") or "buffalo_l"
            name = pack if isinstance(pack, str) else pack.name
            self.download = DownloadDialog(name, self.window)
            self.download.finished.connect(self._on_download_closed)
            self.download.open()
            self.downloads_shown += 1
        if self.download is not None:
            self.download.follow(snapshot)

    def _on_download_closed(self) -> None:
        if self.download is not None:
            self.download.deleteLater()
            self.download = None

    def _on_board(self, board: MeetingBoard | None) -> None:
        self.window.set_board(board)

    def open_pairing(self) -> None:
        from ui.setup_actions import RuntimeSetup  # noqa: PLC0415 (OpenCV: not at start-up)

        dialog = PairingDialog(
            RuntimeSetup(self.runtime), self.runtime.lock, self.runtime.preferences, self.window
        )
        dialog.completed.connect(self._on_paired)
        self.dialog = dialog
        dialog.open()

    def _on_paired(self, preferences: Preferences) -> None:
        self.runtime.save_preferences(preferences)
        self._load()

    def open_settings(self) -> None:
        from ui.setup_actions import RuntimeSetup  # noqa: PLC0415 (OpenCV: not at start-up)

        setup = RuntimeSetup(self.runtime)
        dialog = SettingsDialog(
            self.runtime.preferences,
            self.runtime.lock,
            cameras=setup.cameras(),
            meetings=setup.known_meetings(),
            server_url=self.runtime.server_url,
            parent=self.window,
        )
        dialog.saved.connect(self._on_settings_saved)
        dialog.repair_requested.connect(self.open_pairing)
        self.dialog = dialog
        dialog.open()

    def _on_settings_saved(self, preferences: Preferences) -> None:
        self.runtime.save_preferences(preferences)
        self.window.services.sounds.enabled = preferences.sounds

    def shutdown(self) -> None:
        """Stop the core's threads, then the window's timers; wait for the jobs."""
        self.admin.shutdown()
        self.runtime.stop()
        for job in self.jobs:
            job.wait(30.0)
        self.window.locked = False
        self.window.close()


def run_window(
    runtime: KioskRuntime,
    argv: Sequence[str] = (),
    *,
    fullscreen: bool | None = None,
    pairing: Callable[[], tuple[str, str]] | None = None,
) -> int:
    """Run the kiosk window until it is quit; returns the exit code."""
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    assert isinstance(app, QApplication)
    plain_text.install(app)
    qInstallMessageHandler(_qt_message)
    # Ctrl-C in the terminal quits cleanly; the timer lets Python see the signal while
    # Qt's loop runs.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(250)
    app.setApplicationName("Sonta Attendance")
    controller = KioskController(runtime, fullscreen=fullscreen, pairing=pairing)
    app.aboutToQuit.connect(controller.shutdown)
    controller.start()
    return app.exec()
