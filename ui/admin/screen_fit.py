"""Admin windows sized to the screen they open on, title bar included.

Laptops at church are often 1366x768 or 1280x720: a window opened at 1280x800 there
puts its bottom (Sign out, Save) below the screen. A window manager's title bar and
frame are not known before the first show, so TITLE_BAR is allowed for.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QWidget

TITLE_BAR = 40  # pixels a window manager's title bar and frame may take


def fitted(wanted: QSize, free: QRect, title_bar: int = TITLE_BAR) -> QRect:
    """The client area for a window that wants `wanted` on a screen whose free area
    (panels left out) is `free`: no larger than fits with its title bar, centred."""
    width = min(wanted.width(), free.width())
    height = min(wanted.height(), free.height() - title_bar)
    left = free.left() + (free.width() - width) // 2
    top = free.top() + title_bar + (free.height() - title_bar - height) // 2
    return QRect(left, top, width, height)


def fit_to_screen(window: QWidget) -> None:
    """Shrink and place `window` so that it and its title bar fit its screen."""
    screen = window.screen()
    if screen is None:
        return
    place = fitted(window.size(), screen.availableGeometry())
    window.resize(place.size())
    window.move(place.topLeft())
