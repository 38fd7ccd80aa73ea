"""The Qt binding the kiosk is locked to survives a kiosk's day of signals.

PySide6 6.12 on Python 3.11 aborts the whole process after a few thousand
``Signal.emit()`` calls (PYSIDE-3474, a refcount error on ``True``/``False``); a kiosk
emits one signal per frame and status change, so it would die within minutes. The soak
runs in a child process because the failure is an abort, not an exception.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SOAK = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal

    class Emitter(QObject):
        number = Signal(int)
        flag = Signal(bool)
        text = Signal(str)

    app = QCoreApplication(sys.argv)
    emitter = Emitter()
    got = []
    emitter.number.connect(got.append)
    emitter.flag.connect(got.append)
    emitter.text.connect(got.append, Qt.ConnectionType.QueuedConnection)
    for i in range(20_000):
        emitter.number.emit(i)
        emitter.flag.emit(i % 2 == 0)
        emitter.text.emit("frame")
    app.processEvents()
    print(len(got))
    """
)


def test_twenty_thousand_signal_emits_do_not_abort_the_process() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", SOAK],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "60000"
