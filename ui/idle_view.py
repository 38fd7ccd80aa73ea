"""The idle screen: meeting name, clock, present/expected, and the phone check-in QR."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QBoxLayout, QLabel, QVBoxLayout, QWidget

from kiosk.board import MeetingBoard
from ui import theme
from ui.qr_widget import QrWidget

INVITE = "Step up to the camera to check in"
NO_MEETING = "Check-in opens when the meeting starts"
CAMERA_OFF = "Check-in by camera is off for this meeting: please see a staff member"
# Also the live screen's advice while the camera gives no pictures.
CAMERA_PAUSED = "Check-in by camera is paused: please ask a staff member"


def invite_text(board: MeetingBoard | None, *, camera_working: bool) -> str:
    """What the idle screen asks of the person in front: never to step up to a camera
    that checks nobody in (no meeting, camera check-in off, or no pictures)."""
    if board is None:
        return NO_MEETING
    if not board.camera_checkin:
        return CAMERA_OFF
    return INVITE if camera_working else CAMERA_PAUSED


def counts_text(board: MeetingBoard) -> str:
    if board.expected is None:
        return f"{board.present} checked in"
    return f"{board.present} of {board.expected} checked in"


class IdleView(QWidget):
    """Shown when nobody is at the camera; stands beside the QR in landscape, above it
    in portrait."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("screen")
        self.title = QLabel("Sonta Attendance")
        self.clock = QLabel()
        self.counts = QLabel()
        self.invite = QLabel()
        self.qr = QrWidget()
        self.qr_caption = QLabel()
        self.qr_caption.setObjectName("muted")
        for label in (self.title, self.clock, self.counts, self.invite, self.qr_caption):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
        text = QVBoxLayout()
        text.addStretch(1)
        for label in (self.title, self.clock, self.counts, self.invite):
            text.addWidget(label)
        text.addStretch(1)
        code = QVBoxLayout()
        code.addWidget(self.qr, 1)
        code.addWidget(self.qr_caption)
        self._layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._layout.addLayout(text, 3)
        self._layout.addLayout(code, 2)
        self.board: MeetingBoard | None = None
        self._camera_working = True
        self.set_board(None)

    def set_board(self, board: MeetingBoard | None) -> None:
        self.board = board
        if board is None:
            self.title.setText("Sonta Attendance")
            self.counts.setText("No meeting is open at the moment")
        else:
            self.title.setText(board.title)
            self.counts.setText(counts_text(board))
        self.invite.setText(invite_text(board, camera_working=self._camera_working))
        url = board.qr_url if board is not None else None
        self.qr.set_payload(url)
        self.qr.setVisible(url is not None)
        self._layout.setStretch(1, 2 if url else 0)  # no code: the text takes the room
        if url:
            caption = "Or check in with your phone: scan this code"
        elif board is not None and board.stale:
            caption = "Phone check-in is back when the server is; the camera still works"
        elif board is not None and board.started:
            caption = "Phone check-in has closed for this meeting"
        elif board is not None:
            caption = "Phone check-in opens when the meeting starts"
        else:
            caption = ""  # the invitation already says check-in opens with the meeting
        self.qr_caption.setText(caption)

    def set_camera_working(self, working: bool) -> None:
        """Whether the camera gives pictures (the invitation depends on it)."""
        self._camera_working = working
        self.invite.setText(invite_text(self.board, camera_working=working))

    def set_time(self, now: datetime) -> None:
        self.clock.setText(now.strftime("%H:%M"))

    def apply_scale(self, scale: float, *, portrait: bool) -> None:
        self._layout.setDirection(
            QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight
        )
        margin = round(40 * scale)
        self._layout.setContentsMargins(margin, margin, margin, margin)
        self._layout.setSpacing(margin)
        theme.set_pixel_size(self.title, theme.HEADLINE * scale, bold=True)
        theme.set_pixel_size(self.clock, theme.CLOCK * scale, bold=True)
        theme.set_pixel_size(self.counts, theme.BODY * scale)
        theme.set_pixel_size(self.invite, theme.BODY * scale)
        theme.set_pixel_size(self.qr_caption, theme.STATUS * 1.3 * scale)
