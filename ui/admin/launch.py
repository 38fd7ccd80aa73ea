"""Opening the admin window: `sonta admin-app` on an office PC, or from the kiosk.

On an office PC the app loads its own face engine in the background and opens the
computer's camera when there is one (`AdminDesk`), so enrolment works there too.

On the kiosk, Ctrl+Shift+A opens it (after the kiosk PIN when one is set); the admin
then signs in to the server the kiosk is paired with, and enrolment uses the kiosk's
own camera and loaded engine.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication

from kiosk.errors import KioskError
from ui import plain_text

if TYPE_CHECKING:  # imported when opened: the kiosk window must come up fast
    from ui.admin.desk import AdminDesk
    from ui.admin.window import AdminWindow
    from ui.app import KioskController

DEFAULT_SERVER = "http://127.0.0.1:3000"


def server_url(args: argparse.Namespace) -> str:
    return str(args.server or os.environ.get("SONTA_SERVER_URL") or DEFAULT_SERVER)


def run_admin_app(args: argparse.Namespace) -> int:
    """Run the admin window on its own until it is closed."""
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    plain_text.install(app)
    app.setApplicationName("Sonta Attendance admin")
    try:
        window, desk = open_admin_window(args)
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    code = app.exec()
    close_admin_window(window, desk)
    return code


def open_admin_window(args: argparse.Namespace) -> tuple[AdminWindow, AdminDesk]:
    """The shown admin window with its own face engine (loading) and camera (if any)."""
    from kiosk.admin.client import AdminClient  # noqa: PLC0415
    from ui.admin.desk import AdminDesk  # noqa: PLC0415
    from ui.admin.window import AdminWindow  # noqa: PLC0415

    client = AdminClient(server_url(args))
    desk = AdminDesk(str(getattr(args, "camera", None) or "0"))
    window = AdminWindow(client, frames=desk.frames, engine=lambda: desk.engine)
    desk.engine_changed.connect(window.enrol.set_engine_note)
    desk.start()
    if desk.camera_note:
        window.enrol.preview.set_placeholder(desk.camera_note)
    window.resize(1280, 800)
    window.show()
    return window, desk


def close_admin_window(window: AdminWindow, desk: AdminDesk) -> None:
    """Stop the window's calls, the camera and the engine's loading; close the client."""
    window.shutdown()
    desk.stop()
    window.client.close()


class KioskAdminHook:
    """Ctrl+Shift+A on the kiosk window opens the admin screens (PIN first if set)."""

    def __init__(self, controller: KioskController) -> None:
        self._controller = controller
        self.window: AdminWindow | None = None
        QShortcut(QKeySequence("Ctrl+Shift+A"), controller.window, self.request)

    def request(self) -> None:
        kiosk_window = self._controller.window
        lock = kiosk_window.services.lock
        if lock is not None and lock.is_set:
            kiosk_window._ask_pin("open the admin screens", self.open)
        else:
            self.open()

    def open(self) -> None:
        from kiosk.admin.client import AdminClient  # noqa: PLC0415
        from ui.admin.window import AdminWindow  # noqa: PLC0415

        runtime = self._controller.runtime
        url = runtime.server_url
        if not url:
            self._controller.window.live.preview.set_placeholder(
                "Pair this kiosk first: the admin screens use its server."
            )
            return
        if self.window is not None and self.window.isVisible():
            self.window.raise_()
            return
        self.window = AdminWindow(
            AdminClient(url), frames=runtime.frames, engine=lambda: runtime.engine
        )
        self.window.resize(1280, 800)
        self.window.show()

    def shutdown(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window.client.close()
            self.window.deleteLater()
            self.window = None
