"""The preview paints each new frame once, with the newest boxes, and no paint in between."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from kiosk.capture.frames import LatestFrame
from kiosk.events import EventBus, FaceBox, FrameAnalysed
from ui.bridge import CoreBridge
from ui.preview import ANALYSIS_ALONE_S, PreviewWidget


@pytest.fixture
def preview(qtbot: QtBot) -> Iterator[PreviewWidget]:
    frames = LatestFrame()
    widget = PreviewWidget(lambda: frames)
    widget.resize(1280, 720)
    widget.show()
    widget.start()
    widget.frames = frames  # type: ignore[attr-defined]  # the test feeds it
    yield widget
    widget.stop()
    widget.close()
    widget.deleteLater()


def _analysis(seq: int) -> FrameAnalysed:
    box = FaceBox(1, (100.0 + seq, 100.0, 260.0, 300.0), stable=False, recognised=False)
    return FrameAnalysed(seq, (640, 480), (box,), None, 0.0, 0.0)


def test_a_frame_and_its_boxes_cost_one_paint_not_two(qtbot: QtBot, preview: PreviewWidget) -> None:
    """A camera at 30 fps with an analysis per frame: as many paints as frames."""
    frames: LatestFrame = preview.frames  # type: ignore[attr-defined]
    events = EventBus()
    bridge = CoreBridge(events)  # analyses reach the main thread as in the window
    bridge.analysis_ready.connect(preview.set_analysis)
    image = np.full((480, 640, 3), 90, np.uint8)
    stop = threading.Event()

    def camera() -> None:  # the capture thread, and the recognition thread's analyses
        while not stop.is_set():
            frame = frames.put(image.copy())
            events.publish(_analysis(frame.seq))
            time.sleep(1 / 30)

    thread = threading.Thread(target=camera, name="fake-camera")
    thread.start()
    try:
        qtbot.waitUntil(lambda: frames.seq >= 45, timeout=30_000)  # 1.5 s of frames
    finally:
        stop.set()
        thread.join()
    qtbot.wait(100)
    bridge.close()
    assert preview.painted_frames >= 10  # painted, even on a busy shared machine
    # Before, each analysis made a paint of its own: about twice as many paints as frames.
    assert preview.paints <= frames.seq + 2


def test_new_boxes_are_painted_alone_when_frames_stall(
    qtbot: QtBot, preview: PreviewWidget
) -> None:
    frames: LatestFrame = preview.frames  # type: ignore[attr-defined]
    frame = frames.put(np.full((480, 640, 3), 90, np.uint8))
    qtbot.waitUntil(lambda: preview.painted_frames == 1, timeout=10_000)
    paints = preview.paints
    preview.set_analysis(_analysis(frame.seq))  # no newer frame comes
    qtbot.waitUntil(lambda: preview.paints == paints + 1, timeout=10_000)
    assert time.monotonic() - preview.last_painted_at < 10
    assert preview.painted_frames == 1  # the same frame, repainted with its boxes
    qtbot.wait(int(ANALYSIS_ALONE_S * 3000))
    assert preview.paints == paints + 1  # and only once


PAINT_IN_A_FRESH_PROCESS = """
import os, sys
import numpy as np
from PySide6.QtWidgets import QApplication
from kiosk.capture.frames import LatestFrame
from ui.preview import PreviewWidget

app = QApplication([])
frames = LatestFrame()
preview = PreviewWidget(lambda: frames)
preview.resize(1280, 800)
preview.show()
preview.start()
camera = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
while preview.painted_frames < 20:
    frames.put(camera.copy())
    app.processEvents()
    preview.repaint()
preview.stop()
tasks = "/proc/self/task"
names = [open(f"{tasks}/{tid}/comm").read().strip() for tid in os.listdir(tasks)]
print(preview.painted_frames, sum(name.startswith("Thread (pooled)") for name in names))
"""


def test_painting_camera_frames_never_waits_on_qts_thread_pool() -> None:
    """A 720p camera frame is painted by the UI thread alone.

    Painting a 24-bit image made Qt convert it on its GUI thread pool while the UI thread
    waited: with inference on both cores the window froze up to 200 ms. Qt starts that
    pool's threads on first use, so a fresh process that painted camera frames and has
    none never used it.
    """
    result = subprocess.run(
        [sys.executable, "-c", PAINT_IN_A_FRESH_PROCESS],
        capture_output=True,
        text=True,
        timeout=300,  # a Qt start-up and 20 paints, on a loaded machine
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    painted, pool_threads = map(int, result.stdout.split()[-2:])
    assert painted >= 20
    assert pool_threads == 0
