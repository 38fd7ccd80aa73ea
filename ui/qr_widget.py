"""A QR code painted module by module with QPainter: crisp at any size, no image files."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks


def qr_matrix(payload: str) -> list[list[bool]]:
    """The dark (True) and light modules of ``payload``'s QR code, without the quiet zone."""
    import qrcode  # noqa: PLC0415 (it imports Pillow: not before the window is up)

    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


class QrWidget(QWidget):
    """Shows the QR code of a payload as the largest square that fits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.payload: str | None = None
        self._matrix: list[list[bool]] = []

    def set_payload(self, payload: str | None) -> None:
        if payload == self.payload:
            return
        self.payload = payload
        self._matrix = qr_matrix(payload) if payload else []
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self._matrix:
            return
        count = len(self._matrix) + 2 * QUIET_ZONE
        side = min(self.width(), self.height())
        module = side // count  # whole pixels per module keep the code sharp
        if module < 1:
            return
        origin_x = (self.width() - module * count) // 2
        origin_y = (self.height() - module * count) // 2
        painter = QPainter(self)
        try:
            painter.fillRect(origin_x, origin_y, module * count, module * count, QColor("white"))
            for row, modules in enumerate(self._matrix):
                for col, dark in enumerate(modules):
                    if dark:
                        x = origin_x + (col + QUIET_ZONE) * module
                        y = origin_y + (row + QUIET_ZONE) * module
                        painter.fillRect(QRectF(x, y, module, module), QColor("black"))
        finally:
            painter.end()
