"""Every kiosk screen and dialog, shown at 1280x800, 1920x1080 and portrait 1080x1920,
saved as PNGs and checked: no label's text cut off, no two widgets overlapping.

Used by ``test_screenshots.py`` in-process (offscreen) and as a program under Xvfb
(``python -m tests.ui.screens OUTDIR``) to prove the real X11 platform plugin works.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from kiosk.board import MeetingBoard
from kiosk.capture.frames import LatestFrame
from kiosk.device.lock import PinLock
from kiosk.device.preferences import Preferences
from kiosk.events import (
    AlreadyCheckedIn,
    BadgeRead,
    BadgeRefused,
    CheckedIn,
    Direction,
    EventBus,
    FaceBox,
    Fallback,
    FrameAnalysed,
    Guidance,
    KioskEvent,
    LivenessPrompt,
    NotRecognised,
    PendingReview,
    SourceState,
    SourceStateChanged,
)
from kiosk.inference.images import read_image_file
from kiosk.syncing.status import SyncStatus
from ui.download_dialog import DownloadDialog
from ui.flow import FlowTiming
from ui.main_window import MainWindow, WindowServices
from ui.pairing_dialog import PairingDialog
from ui.pin_dialog import PinDialog
from ui.settings_dialog import SettingsDialog
from ui.status_bar import ElidingLabel

SIZES = ((1280, 800), (1920, 1080), (1080, 1920))
FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
NOW = datetime.now(UTC)
NAME = "Nana Akosua Oforiwaa-Boateng"  # a long real-world name must still fit
MEETING = "First Sunday Sonta Heads Meeting"
QR_URL = "http://127.0.0.1:3000/checkin?token=" + "A1b2C3d4" * 16


def settle(app: QApplication, rounds: int = 8) -> None:
    for _ in range(rounds):
        app.processEvents()
        QApplication.sendPostedEvents(None, 0)


def text_problems(root: QWidget) -> list[str]:
    """Labels whose text does not fit, and siblings that overlap, under ``root``."""
    problems = []
    for label in root.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        if isinstance(label, ElidingLabel):  # elides by design; its text must still fit
            if label.is_elided():
                problems.append(f"{label.text()!r} is elided")
            continue
        if label.pixmap() is not None and not label.pixmap().isNull():
            continue
        area = label.contentsRect()
        flags = int(label.alignment()) | (int(Qt.TextFlag.TextWordWrap) if label.wordWrap() else 0)
        needed = label.fontMetrics().boundingRect(
            QRect(0, 0, area.width(), 100_000), flags, label.text()
        )
        if needed.width() > area.width() + 1 or needed.height() > area.height() + 1:
            problems.append(
                f"{label.text()[:40]!r} needs {needed.width()}x{needed.height()}, "
                f"has {area.width()}x{area.height()}"
            )
    for parent in [root, *root.findChildren(QWidget)]:
        shown = [
            c
            for c in parent.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if c.isVisible() and not c.isWindow()
        ]
        for i, first in enumerate(shown):
            for second in shown[i + 1 :]:
                if first.geometry().intersects(second.geometry()):
                    problems.append(
                        f"{type(first).__name__} overlaps {type(second).__name__} "
                        f"in {type(parent).__name__}"
                    )
    return problems


WINDOW_SCENES: dict[str, list[KioskEvent]] = {
    "live": [],
    "checked_in_late": [CheckedIn(uuid.uuid4(), NAME, NOW, True, "face", 0.71, "k")],
    "already_checked_in": [AlreadyCheckedIn(uuid.uuid4(), NAME, NOW)],
    "pending_review": [PendingReview(uuid.uuid4(), NAME, NOW, "k")],
    "not_recognised": [NotRecognised(tries=2, max_tries=3)],
    "fallback": [Fallback(tries=3, badge_possible=True)],
    "badge_refused": [BadgeRefused("This badge was revoked.")],
    "badge_then_face": [BadgeRead(uuid.uuid4(), NAME)],
    "liveness_prompt": [LivenessPrompt(Direction.LEFT)],
    "camera_lost": [SourceStateChanged(SourceState.LOST, "camera 0 stopped giving pictures")],
}


@contextmanager
def kiosk_window(folder: Path) -> Iterator[tuple[MainWindow, LatestFrame]]:
    frames = LatestFrame()
    frame = frames.put(read_image_file(FACES / "obama.jpg").pixels)
    status = SyncStatus()
    status.update(connection="offline", queue_depth=4, last_sync=NOW, last_error=None)
    services = WindowServices(
        events=EventBus(),
        frames=lambda: frames,
        status=status,
        lock=PinLock(folder / "lock.json"),
        timing=FlowTiming(message=600, prompt=600, idle_after=600),
    )
    window = MainWindow(services)
    window.set_model("buffalo_l")
    width, height = frame.size
    box = FaceBox(1, (width * 0.3, height * 0.15, width * 0.7, height * 0.6), True, False)
    services.events.publish(
        FrameAnalysed(frame.seq, frame.size, (box,), Guidance.HOLD_STILL, 0.0, 0.0)
    )
    try:
        yield window, frames
    finally:
        window.shutdown()
        window.close()
        window.deleteLater()


def window_scenes(folder: Path) -> Iterator[tuple[str, QWidget]]:
    """Each window scene, the window in that state (yielded while it is shown)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    for name, events in [*WINDOW_SCENES.items(), ("idle", []), ("idle_no_meeting", [])]:
        with kiosk_window(folder) as (window, _frames):
            window.show()
            for event in events:
                window.services.events.publish(event)
            if name.startswith("idle"):
                window.flow.timing = FlowTiming(idle_after=0)
                board = MeetingBoard(
                    uuid.uuid4(), "First Sunday Sonta Heads Meeting", 37, 52, QR_URL
                )
                window.set_board(board if name == "idle" else None)
            settle(app)
            yield name, window


def dialog_scenes(folder: Path) -> Iterator[tuple[str, Callable[[], QWidget]]]:
    lock = PinLock(folder / "lock.json")

    class NoActions:
        def pair(self, server_url: str, code: str) -> None: ...
        def meetings(self) -> list[tuple[str, str]]:
            return []

        def cameras(self) -> list[str]:
            return ["0"]

        def test_camera(self, camera: str):  # type: ignore[no-untyped-def]
            return read_image_file(FACES / "obama.jpg").pixels

    def pin() -> QWidget:
        dialog = PinDialog(lock, "leave kiosk mode")
        dialog.error.setText("That PIN is not right. Ask an admin if you do not know it.")
        return dialog

    def pairing() -> QWidget:
        dialog = PairingDialog(NoActions(), lock, Preferences(), server_url="http://127.0.0.1:3000")
        dialog.show_error(
            "The pairing code was not accepted: it may have expired. Ask an admin for a new one."
        )
        return dialog

    def choices() -> QWidget:
        dialog = PairingDialog(NoActions(), lock, Preferences())
        dialog.pin.setText("2580")
        dialog._on_paired(([("m1", "First Sunday Sonta Heads Meeting")], ["0", "1"]))
        dialog._on_snapshot(read_image_file(FACES / "obama.jpg").pixels)
        return dialog

    def settings() -> QWidget:
        return SettingsDialog(
            Preferences(),
            lock,
            cameras=["0", "/dev/video2"],
            meetings=[("m1", "First Sunday Sonta Heads Meeting")],
            server_url="http://127.0.0.1:3000",
        )

    def download() -> QWidget:
        dialog = DownloadDialog("buffalo_l")
        dialog.bar.setValue(420)
        return dialog

    yield from {
        "pin": pin,
        "pairing": pairing,
        "pairing_choices": choices,
        "settings": settings,
        "download": download,
    }.items()


def capture_all(out: Path) -> list[str]:
    """Saves every scene at every size into ``out``; returns the problems found."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for width, height in SIZES:
        for name, window in window_scenes(out):
            window.resize(width, height)
            settle(app)
            window.grab().save(str(out / f"{name}_{width}x{height}.png"))
            problems += [f"{name} {width}x{height}: {p}" for p in text_problems(window)]
    for name, make in dialog_scenes(out):
        dialog = make()
        dialog.show()
        settle(app)
        dialog.grab().save(str(out / f"dialog_{name}.png"))
        problems += [f"dialog {name}: {p}" for p in text_problems(dialog)]
        dialog.close()
        dialog.deleteLater()
        settle(app)
    return problems


if __name__ == "__main__":
    found = capture_all(Path(sys.argv[1]))
    print(QApplication.platformName(), len(list(Path(sys.argv[1]).glob("*.png"))), "screenshots")
    print("\n".join(found))
    sys.exit(1 if found else 0)
