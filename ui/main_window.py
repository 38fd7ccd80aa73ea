"""The kiosk window: live, message and idle screens over the core, a status bar, lockdown.

It holds no check-in logic: the core decides, ``ScreenFlow`` says what to show, and
this window shows it. In lockdown it is full-screen and leaving it (closing, Escape,
un-full-screening) or opening settings needs the admin's PIN.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from kiosk.board import MeetingBoard
from kiosk.device.lock import PinLock
from kiosk.events import EventBus, FrameAnalysed, KioskEvent, SourceState, SourceStateChanged
from kiosk.syncing.status import SyncStatus
from ui import theme
from ui.bridge import CoreBridge, snapshot_or_default
from ui.flow import FlowTiming, Screen, ScreenFlow
from ui.idle_view import CAMERA_PAUSED, IdleView
from ui.live_view import LiveView
from ui.message_view import MessageView
from ui.pin_dialog import PinDialog
from ui.preview import FrameProvider
from ui.sounds import SilentPlayer, SoundPlayer
from ui.status_bar import StatusBar

log = logging.getLogger(__name__)
TICK_MS = 200  # how often the screen choice and the clock are re-evaluated

PLACEHOLDER = {
    SourceState.STARTING: "Starting the camera\N{HORIZONTAL ELLIPSIS}",
    SourceState.LOST: "The camera is not giving pictures. Check its cable; the kiosk keeps trying.",
    SourceState.REOPENING: "Reconnecting to the camera\N{HORIZONTAL ELLIPSIS}",
    SourceState.STOPPED: "The camera is stopped.",
    SourceState.ABSENT: (
        "No camera found. Plug one in (the kiosk keeps looking for it), or start the kiosk "
        "with --source to choose another camera or a video."
    ),
}


NO_PICTURE = frozenset(
    {SourceState.LOST, SourceState.REOPENING, SourceState.STOPPED, SourceState.ABSENT}
)


@dataclass
class WindowServices:
    """What the window is a view over, handed in by the composition root."""

    events: EventBus
    frames: FrameProvider
    status: SyncStatus | None = None
    sounds: SoundPlayer = field(default_factory=SilentPlayer)
    lock: PinLock | None = None
    timing: FlowTiming = field(default_factory=FlowTiming)


class MainWindow(QMainWindow):
    settings_requested = Signal()  # the PIN was given; the composition root opens settings
    screen_changed = Signal(object)  # a Screen
    message_shown = Signal(object)  # a Message, after it is on screen

    def __init__(self, services: WindowServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sonta Attendance")
        self.setStyleSheet(theme.window_style())
        self.services = services
        self.flow = ScreenFlow(services.timing, now=time.monotonic())
        self.live = LiveView(services.frames)
        self.message = MessageView()
        self.idle = IdleView()
        self.stack = QStackedWidget()
        for view in (self.live, self.message, self.idle):
            self.stack.addWidget(view)
        self.status_bar = StatusBar()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.stack, 1)
        column.addWidget(self.status_bar)
        self.setCentralWidget(central)
        self.current_screen = Screen.LIVE
        self.locked = False
        self._leaving = False
        self._pin_dialog: PinDialog | None = None
        self.bridge = CoreBridge(services.events, services.status, self)
        self.bridge.event_received.connect(self._on_event)
        self.bridge.analysis_ready.connect(self._on_analysis)
        self.bridge.status_changed.connect(self.status_bar.set_status)
        self.status_bar.set_status(snapshot_or_default(services.status))
        self._tick = QTimer(self)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start(TICK_MS)
        self.live.preview.start()
        QShortcut(QKeySequence("Ctrl+,"), self, self.request_settings)
        self._apply_scale()
        self._on_tick()

    # --- the core's news -----------------------------------------------------------

    def _on_analysis(self, analysis: FrameAnalysed) -> None:
        if self.status_bar.camera_state in NO_PICTURE:
            return  # the analysis of a frame from before the camera went away
        self.flow.on_event(analysis, time.monotonic())
        self.live.show_analysis(analysis)
        self._refresh()

    def _on_event(self, event: KioskEvent) -> None:
        if isinstance(event, SourceStateChanged):
            self._on_source_state(event)
            return
        message = self.flow.on_event(event, time.monotonic())
        if message is not None:
            self.message.show_message(message)
            if message.sound is not None:
                self.services.sounds.play(message.sound)
        self._refresh()
        if message is not None:
            self.message_shown.emit(message)

    def _on_source_state(self, event: SourceStateChanged) -> None:
        self.status_bar.set_camera(event.state, event.detail)
        self.idle.set_camera_working(event.state not in NO_PICTURE)
        if event.state is not SourceState.LIVE:
            self.flow.analysis = None  # boxes and advice of a picture no longer shown
            self.live.show_analysis(None)
            self.live.preview.clear_frame()
            self.live.preview.set_placeholder(PLACEHOLDER[event.state])
        self._refresh()

    def set_board(self, board: MeetingBoard | None) -> None:
        self.idle.set_board(board)

    def set_model(self, pack: str | None) -> None:
        self.status_bar.set_model(pack)

    # --- which screen ----------------------------------------------------------------

    def _on_tick(self) -> None:
        self.idle.set_time(datetime.now())
        self._refresh()

    def _refresh(self) -> None:
        screen = self.flow.screen(time.monotonic())
        if self.status_bar.camera_state in NO_PICTURE:
            self.live.set_guidance(CAMERA_PAUSED)
        else:
            self.live.set_guidance(self.flow.guidance())
        view = {Screen.LIVE: self.live, Screen.MESSAGE: self.message, Screen.IDLE: self.idle}
        self.stack.setCurrentWidget(view[screen])
        if screen is not self.current_screen:
            self.current_screen = screen
            self.screen_changed.emit(screen)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._apply_scale()

    def _apply_scale(self) -> None:
        scale = theme.scale_for(self.width(), self.height())
        self.live.apply_scale(scale)
        self.message.apply_scale(scale)
        portrait = self.height() > self.width()
        self.idle.apply_scale(scale, portrait=portrait)
        self.status_bar.apply_scale(scale, portrait=portrait)

    # --- lockdown --------------------------------------------------------------------

    def enter_lockdown(self) -> None:
        """Full-screen, on top, no window frame; needs a PIN to have been set."""
        if self.services.lock is None or not self.services.lock.is_set:
            log.warning("no kiosk PIN is set: staying in a normal window")
            return
        self.locked = True
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        self.showFullScreen()

    def leave_lockdown(self) -> None:
        self.locked = False
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint, False)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, False)
        self.showNormal()

    def request_leave(self) -> None:
        """Leave full-screen after the PIN (Escape, or a close from the window system)."""
        self._ask_pin("leave kiosk mode", self.leave_lockdown)

    def request_settings(self) -> None:
        if self.locked or (self.services.lock is not None and self.services.lock.is_set):
            self._ask_pin("open the settings", self.settings_requested.emit)
        else:
            self.settings_requested.emit()

    def _ask_pin(self, purpose: str, then: object) -> None:
        if self._pin_dialog is not None or self.services.lock is None:
            return
        dialog = PinDialog(self.services.lock, purpose, self)
        dialog.accepted.connect(then)
        dialog.finished.connect(self._on_pin_dialog_finished)
        self._pin_dialog = dialog
        dialog.open()

    def _on_pin_dialog_finished(self) -> None:
        if self._pin_dialog is not None:
            self._pin_dialog.deleteLater()
            self._pin_dialog = None

    @property
    def pin_dialog(self) -> PinDialog | None:
        return self._pin_dialog

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.locked and event.key() == Qt.Key.Key_Escape:
            self.request_leave()
            return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        """A window manager that un-full-screens the window gets it put back."""
        super().changeEvent(event)
        if (
            event.type() == QEvent.Type.WindowStateChange
            and self.locked
            and not self.isFullScreen()
        ):
            QTimer.singleShot(0, self.showFullScreen)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.locked:
            event.ignore()
            self.request_leave()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop listening to the core and stop the timers (the core is stopped by app)."""
        self._tick.stop()
        self.live.preview.stop()
        self.bridge.close()
