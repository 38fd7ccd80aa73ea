"""The live camera preview: paints the newest frame, face boxes and a "stand here" frame.

A timer polls the one-slot ``LatestFrame`` mailbox and repaints only when a newer frame
is there, so painting never waits on inference and nothing queues up. A frame's analysis
(its boxes) is drawn with the next frame rather than in a paint of its own: painting
every analysis as well doubled the paints (45 a second from a 30 fps camera, all day on
an empty scene) for boxes the next frame shows a few milliseconds later anyway. Each frame
shown is converted once into an image Qt paints as it is (see ``frame_image``). The picture
is mirrored, as people expect of a screen that shows them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiosk.events import FrameAnalysed

if TYPE_CHECKING:  # not imported at run time: OpenCV is slow to import (window up fast)
    from kiosk.capture.frames import Frame, LatestFrame
    from kiosk.inference import BGRImage

POLL_MS = 8  # well under a 30 fps frame interval, so no frame waits long to be shown
# With no new frame this long (a slow source, a stalled camera), new boxes get a paint
# of their own.
ANALYSIS_ALONE_S = 0.1
GUIDE_COLOUR = QColor("#ffffff")
STABLE_COLOUR = QColor("#2ecc71")
BOX_COLOUR = QColor("#f1c40f")

FrameProvider = Callable[[], "LatestFrame | None"]


def frame_image(pixels: BGRImage) -> QImage:
    """``pixels`` (BGR, uint8) as a QImage of its own in 32-bit RGB, which Qt paints as is.

    Qt paints a 24-bit image by converting it first, split over its GUI thread pool while
    this thread waits for the pieces: with inference busy on both cores those pool threads
    waited for a CPU and the window froze for up to 200 ms (``perf sched`` showed the UI
    thread asleep on the pool's semaphore). OpenCV converts here instead, in one pass
    without the GIL (well under a millisecond at 720p), straight into the image's memory.
    """
    import cv2  # noqa: PLC0415  (loaded long before by the camera; slow to import at start)
    import numpy as np  # noqa: PLC0415

    height, width = pixels.shape[:2]
    image = QImage(width, height, QImage.Format.Format_RGB32)
    # Little-endian 0xffRRGGBB is the bytes B, G, R, 255: OpenCV's BGRA.
    target = np.ndarray(
        (height, width, 4), np.uint8, buffer=image.bits(), strides=(image.bytesPerLine(), 4, 1)
    )
    cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA, dst=target)
    return image


def fit_rect(image_size: QSize, area: QRectF) -> QRectF:
    """The largest rectangle of the image's aspect ratio centred in ``area``."""
    if image_size.isEmpty():
        return QRectF()
    scale = min(area.width() / image_size.width(), area.height() / image_size.height())
    width, height = image_size.width() * scale, image_size.height() * scale
    return QRectF(
        area.x() + (area.width() - width) / 2,
        area.y() + (area.height() - height) / 2,
        width,
        height,
    )


class PreviewWidget(QWidget):
    """Shows the newest frame of whatever source ``frames`` returns at the moment."""

    def __init__(self, frames: FrameProvider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._frames = frames
        self._frame: Frame | None = None
        self._image = QImage()
        self._analysis: FrameAnalysed | None = None
        self._shown_after = 0  # frames up to this sequence number are stale: not shown
        self._placeholder = "Starting the camera\N{HORIZONTAL ELLIPSIS}"
        self.painted_frames = 0  # distinct frames actually painted (for the benchmark)
        self.paints = 0  # paint events with a frame, repaints of the same frame included
        self.paint_cpu_s = 0.0  # UI-thread CPU spent painting
        self.last_painted_at = 0.0
        self._painted_seq = 0
        self._analysis_waiting = False
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_poll)

    def start(self) -> None:
        self._timer.start(POLL_MS)

    def stop(self) -> None:
        self._timer.stop()

    def set_analysis(self, analysis: FrameAnalysed | None) -> None:
        """Boxes to draw; painted with the next frame (or alone if frames stall)."""
        self._analysis = analysis
        self._analysis_waiting = True

    @property
    def placeholder(self) -> str:
        return self._placeholder

    def set_placeholder(self, text: str) -> None:
        """What to show while there is no frame (camera starting, lost, reopening)."""
        self._placeholder = text
        self.update()

    def clear_frame(self) -> None:
        """Drop the held frame and show the placeholder until a newer frame comes."""
        mailbox = self._frames()
        self._shown_after = mailbox.seq if mailbox is not None else 0
        self._frame, self._image = None, QImage()
        self.update()

    @property
    def frame_seq(self) -> int:
        return self._frame.seq if self._frame is not None else 0

    def _on_poll(self) -> None:
        if not self.isVisible():
            return  # nobody sees it: convert and paint nothing
        mailbox = self._frames()
        frame = mailbox.latest() if mailbox is not None else None
        if frame is None or frame is self._frame or frame.seq <= self._shown_after:
            if self._analysis_waiting and (
                time.monotonic() - self.last_painted_at >= ANALYSIS_ALONE_S
            ):
                self._analysis_waiting = False
                self.update()
            return
        self._frame, self._image = frame, frame_image(frame.image)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        cpu_started = time.thread_time()
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor("#000000"))
            if self._frame is None or self._image.isNull():
                self._paint_placeholder(painter)
                return
            target = fit_rect(self._image.size(), QRectF(self.rect()))
            painter.save()
            # Mirror around the picture's centre line: people see themselves as in a mirror.
            painter.translate(target.center().x() * 2, 0)
            painter.scale(-1, 1)
            painter.drawImage(target, self._image)
            self._paint_boxes(painter, target)
            painter.restore()
            self._paint_guide(painter, target)
            self.paints += 1
            self.painted_frames += self._frame.seq != self._painted_seq
            self._painted_seq = self._frame.seq
            self._analysis_waiting = False
            self.last_painted_at = time.monotonic()
        finally:
            painter.end()
            self.paint_cpu_s += time.thread_time() - cpu_started

    def _paint_placeholder(self, painter: QPainter) -> None:
        painter.setPen(QColor("#ffffff"))
        font = QFont(self.font())
        font.setPixelSize(max(18, min(self.width(), self.height()) // 14))
        painter.setFont(font)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        painter.drawText(self.rect().adjusted(24, 24, -24, -24), int(flags), self._placeholder)

    def _paint_boxes(self, painter: QPainter, target: QRectF) -> None:
        analysis = self._analysis
        if analysis is None or not analysis.faces:
            return
        width, height = analysis.frame_size
        sx, sy = target.width() / width, target.height() / height
        for face in analysis.faces:
            x1, y1, x2, y2 = face.bbox
            colour = STABLE_COLOUR if face.stable else BOX_COLOUR
            painter.setPen(QPen(colour, max(3.0, target.width() / 200)))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(
                QRectF(target.x() + x1 * sx, target.y() + y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy)
            )

    def _paint_guide(self, painter: QPainter, target: QRectF) -> None:
        """A frame in the middle of the picture: where to stand and look."""
        stable = self._analysis is not None and any(f.stable for f in self._analysis.faces)
        width, height = target.width() * 0.42, target.height() * 0.78
        guide = QRectF(
            target.center().x() - width / 2, target.center().y() - height / 2, width, height
        )
        pen = QPen(STABLE_COLOUR if stable else GUIDE_COLOUR, max(4.0, target.width() / 160))
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(guide)
