"""One-shot background jobs (pairing, testing a camera): never on the main thread.

A job runs a plain function on a plain thread and reports back through queued signals,
so a dialog stays responsive while the network or a camera is slow. The owner keeps the
job referenced and ``wait``s for it when it closes: no thread outlives its window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class Job(QObject):
    succeeded = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception it raised
    finished = Signal()

    def __init__(
        self, function: Callable[[], Any], name: str = "job", parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._function = function
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float = 10.0) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            result = self._function()
        except Exception as exc:  # reported to the dialog, which shows it as a sentence
            self.failed.emit(exc)
        else:
            self.succeeded.emit(result)
        finally:
            self.finished.emit()
