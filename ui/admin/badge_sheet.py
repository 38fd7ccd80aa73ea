"""The badge sheet painted with QPainter on any paged device: a printer or a PDF file.

One function lays the sheet out, so what is printed and what is saved are the same
pages: A4 (or the printer's page) in three columns of cards, each a QR code painted
module by module (crisp at any resolution) above the name, ministry and member code.
Sizes are in millimetres converted with the device's resolution.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
)
from PySide6.QtPrintSupport import QPrinter

from kiosk.admin.api_types import BadgeCard
from kiosk.errors import SheetError
from ui.qr_widget import QUIET_ZONE, qr_matrix

COLUMNS = 3
GAP_MM = 6.0
PADDING_MM = 4.0
QR_MM = 45.0  # wide enough for a phone or webcam at arm's length
MARGIN_MM = 10.0
PDF_DPI = 300


def paint_qr(painter: QPainter, payload: str, rect: QRectF) -> None:
    """The QR code of `payload` filling the square `rect`, quiet zone included."""
    matrix = qr_matrix(payload)
    module = rect.width() / (len(matrix) + 2 * QUIET_ZONE)
    painter.fillRect(rect, QColor("white"))
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    for row, modules in enumerate(matrix):
        col = 0
        while col < len(modules):
            if not modules[col]:
                col += 1
                continue
            start = col
            while col < len(modules) and modules[col]:
                col += 1
            x = rect.left() + (start + QUIET_ZONE) * module
            y = rect.top() + (row + QUIET_ZONE) * module
            path.addRect(QRectF(x, y, (col - start) * module, module))
    painter.fillPath(path, QColor("black"))


def paint_sheet(device: QPagedPaintDevice, cards: list[BadgeCard], title: str) -> int:
    """Paint the cards on `device`, as many pages as needed; the number of pages."""
    if not cards:
        raise SheetError("No working badge to put on the sheet; issue a badge first.")
    painter = QPainter()
    if not painter.begin(device):
        raise SheetError(
            "The printer or PDF file could not be opened: check that the printer is ready, "
            "or that the folder can be written to, and try again."
        )
    try:
        return _Sheet(painter, device).paint(cards, title)
    finally:
        painter.end()


def _font(points: float, *, bold: bool = False) -> QFont:
    font = QFont("sans-serif")
    font.setPointSizeF(points)
    font.setBold(bold)
    return font


class _Sheet:
    """The page geometry of one device, in its pixels."""

    def __init__(self, painter: QPainter, device: QPagedPaintDevice) -> None:
        self.painter, self.device = painter, device
        mm = device.logicalDpiX() / 25.4
        self.width, self.height = float(device.width()), float(device.height())
        self.name_font, self.small_font = _font(11, bold=True), _font(9)
        self.title_font = _font(14, bold=True)
        self.line = QFontMetricsF(self.name_font, device).height()
        self.header = QFontMetricsF(self.title_font, device).height() + GAP_MM * mm
        self.gap, self.pad = GAP_MM * mm, PADDING_MM * mm
        self.card_w = (self.width - self.gap * (COLUMNS - 1)) / COLUMNS
        self.side = min(QR_MM * mm, self.card_w - 2 * self.pad)
        self.card_h = 2 * self.pad + self.side + 3.2 * self.line
        rows = max(1, int((self.height - self.header + self.gap) // (self.card_h + self.gap)))
        self.per_page = rows * COLUMNS

    def paint(self, cards: list[BadgeCard], title: str) -> int:
        pages = (len(cards) + self.per_page - 1) // self.per_page
        for page in range(pages):
            if page:
                self.device.newPage()
            self.painter.setFont(self.title_font)
            self.painter.setPen(QColor("black"))
            heading = f"{title}, page {page + 1} of {pages}" if pages > 1 else title
            self.painter.drawText(QRectF(0, 0, self.width, self.header), heading)
            for i, card in enumerate(cards[page * self.per_page : (page + 1) * self.per_page]):
                row, col = divmod(i, COLUMNS)
                x = col * (self.card_w + self.gap)
                y = self.header + row * (self.card_h + self.gap)
                self.card(card, QRectF(x, y, self.card_w, self.card_h))
        return pages

    def card(self, card: BadgeCard, box: QRectF) -> None:
        painter, pad, side = self.painter, self.pad, self.side
        pen = QPen(QColor("#999999"))
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRect(box)
        qr = QRectF(box.center().x() - side / 2, box.top() + pad, side, side)
        paint_qr(painter, card["token"], qr)
        painter.setPen(QColor("black"))
        texts = (
            (card["full_name"], self.name_font),
            (card["ministry"], self.small_font),
            (f"Member code {card['member_code']}", self.small_font),
        )
        for n, (text, font) in enumerate(texts):
            painter.setFont(font)
            shown = QFontMetricsF(font, self.device).elidedText(
                text, Qt.TextElideMode.ElideRight, box.width() - 2 * pad
            )
            top = box.top() + pad + side + n * self.line * 1.05
            where = QRectF(box.left() + pad, top, box.width() - 2 * pad, self.line)
            align = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(where, align, shown)


def sheet_layout() -> QPageLayout:
    """A4 portrait with margins most printers can print into."""
    return QPageLayout(
        QPageSize(QPageSize.PageSizeId.A4),
        QPageLayout.Orientation.Portrait,
        QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
        QPageLayout.Unit.Millimeter,
    )


def pdf_writer(path: Path) -> QPdfWriter:
    """An A4 PDF writer at print resolution with the sheet's margins."""
    writer = QPdfWriter(str(path))
    writer.setResolution(PDF_DPI)
    writer.setPageLayout(sheet_layout())
    writer.setTitle("Sonta badges")
    return writer


def sheet_printer() -> QPrinter:
    """A printer set up for the sheet (the print dialog may still change it)."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setPageLayout(sheet_layout())
    printer.setDocName("Sonta badges")
    return printer


def save_pdf(cards: list[BadgeCard], title: str, path: Path) -> int:
    """Write the sheet to `path` as a PDF; the number of pages."""
    return paint_sheet(pdf_writer(path), cards, title)  # the writer goes: the file is done
