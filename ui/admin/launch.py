"""Opening the admin window: `sonta admin-app` on an office PC, or from the kiosk.

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

if TYPE_CHECKING:  # imported when opened: the kiosk window must come up fast
    from ui.admin.window import AdminWindow
    from ui.app import KioskController

DEFAULT_SERVER = "http://127.0.0.1:3000"


def server_url(args: argparse.Namespace) -> str:
    return str(args.server or os.environ.get("SONTA_SERVER_URL") or DEFAULT_SERVER)


def run_admin_app(args: argparse.Namespace) -> int:
    """Run the admin window on its own until it is closed."""
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("Sonta Attendance admin")
    from kiosk.admin_client import AdminClient  # noqa: PLC0415
    from ui.admin.window import AdminWindow  # noqa: PLC0415

    try:
        client = AdminClient(server_url(args))
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    window = AdminWindow(client)
    window.resize(1280, 800)
    window.show()
    code = app.exec()
    window.shutdown()
    client.close()
    return code


def attach_to_kiosk(controller: KioskController) -> None:
    """Ctrl+Shift+A on the kiosk window opens the admin screens (PIN first if set)."""
    window = controller.window
    opened: list[AdminWindow] = []

    def open_admin() -> None:
        from kiosk.admin_client import AdminClient  # noqa: PLC0415
        from ui.admin.window import AdminWindow  # noqa: PLC0415

        url = controller.runtime.server_url
        if not url:
            window.live.preview.set_placeholder("Pair this kiosk first: admin screens need it.")
            return
        if opened and opened[0].isVisible():
            opened[0].raise_()
            return
        admin = AdminWindow(
            AdminClient(url),
            frames=controller.runtime.frames,
            engine=lambda: controller.runtime.engine,
        )
        opened[:] = [admin]
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(admin.shutdown)
        admin.resize(1280, 800)
        admin.show()

    def request() -> None:
        lock = window.services.lock
        if lock is not None and lock.is_set:
            window._ask_pin("open the admin screens", open_admin)
        else:
            open_admin()

    QShortcut(QKeySequence("Ctrl+Shift+A"), window, request)
