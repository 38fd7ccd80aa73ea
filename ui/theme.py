"""Colours and text sizes: high contrast, large enough to read from two metres.

Sizes are given for a 1280x800 window and scaled with the window (the smaller of its
width and height ratios), so 1920x1080 and a portrait 1080x1920 screen read the same.
"""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QWidget

from ui.flow import Tone

BASE_WIDTH, BASE_HEIGHT = 1280, 800
BACKGROUND = "#101418"
TEXT = "#ffffff"
MUTED = "#c8d0d8"
TONE_BACKGROUND = {
    Tone.SUCCESS: "#0b6b2e",
    Tone.INFO: "#0b4f8a",
    Tone.WARNING: "#8a5a00",
    Tone.FAILURE: "#8a1c1c",
}
ONLINE, OFFLINE = "#2ecc71", "#ff6b6b"
# Style sheets stop font inheritance, so the error text names its size itself.
ERROR_STYLE = "color: #c0392b; font-weight: bold; font-size: 20px;"
DIALOG_TEXT_PX = 20

# Pixel sizes at 1280x800. 48 px text is about 13 mm high on a 24" 1080p screen,
# comfortably read from two metres; the headline is larger still.
HEADLINE, BODY, CLOCK, STATUS = 64, 36, 120, 20


def scale_for(width: int, height: int) -> float:
    """How much larger than the 1280x800 design this window is (never below 0.5)."""
    return max(0.5, min(width / BASE_WIDTH, height / BASE_HEIGHT))


def set_pixel_size(widget: QWidget, pixels: float, *, bold: bool = False) -> None:
    font = QFont(widget.font())
    font.setPixelSize(max(10, round(pixels)))
    font.setBold(bold)
    widget.setFont(font)


def window_style() -> str:
    """The style sheet of the whole kiosk window."""
    return f"""
        QMainWindow, QStackedWidget, #screen {{ background: {BACKGROUND}; }}
        QLabel {{ color: {TEXT}; }}
        #muted {{ color: {MUTED}; }}
        #statusBar {{ background: #000000; border-top: 2px solid #2a3440; }}
    """
