"""Qt test fixtures: offscreen platform, and a check for leaks after every Qt test.

After each test that used ``qtbot``, no top-level widget may be left alive, no QTimer
may still be running and no thread a kiosk component started may still run; fixtures
that start the core stop it on teardown (napari's conftest does the same checks).
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication

# Daemon threads libraries keep for the whole process (tqdm's progress-bar monitor).
LIBRARY_THREADS = frozenset({"tqdm_monitor"})


def _live_qobjects(kind: type) -> list[object]:
    found = []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, kind):
                found.append(obj)
        except ReferenceError:
            continue
    return found


def _running_timers() -> list[QTimer]:
    running = []
    for timer in _live_qobjects(QTimer):
        try:
            if timer.isActive():  # type: ignore[attr-defined]
                running.append(timer)
        except RuntimeError:  # its C++ side is gone already
            continue
    return running  # type: ignore[return-value]


def _running_qthreads() -> list[QThread]:
    running = []
    for thread in _live_qobjects(QThread):
        try:
            if thread.isRunning() and thread is not QThread.currentThread():  # type: ignore[attr-defined]
                running.append(thread)
        except RuntimeError:
            continue
    return running  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def no_qt_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    threads_before = set(threading.enumerate())
    yield
    if "qtbot" not in request.fixturenames:
        return
    app = QApplication.instance()
    assert app is not None
    for _ in range(3):  # let deleteLater and queued deliveries run
        app.processEvents()
        QApplication.sendPostedEvents(None, 0)
    gc.collect()
    widgets = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    assert not widgets, f"widgets left open: {widgets}"
    assert not _running_timers(), f"timers left running: {_running_timers()}"
    assert not _running_qthreads(), f"QThreads left running: {_running_qthreads()}"
    new = [
        t
        for t in threading.enumerate()
        if t not in threads_before and t.is_alive() and t.name not in LIBRARY_THREADS
    ]
    assert not new, f"threads left running: {[t.name for t in new]}"


# The kiosk core's fixtures: the offline engine, a keyring in the test's folder, and a
# real backend on PostgreSQL + Redis over loopback.
from tests.kiosk.conftest import (  # noqa: E402
    backend,
    clean_engine_env,
    credentials,
    engine,
    keyring_dir,
    offline_pack,
)

__all__ = ["backend", "clean_engine_env", "credentials", "engine", "keyring_dir", "offline_pack"]
