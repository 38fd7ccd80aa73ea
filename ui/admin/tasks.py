"""Runs admin-client calls off the UI thread and brings their answers back to it.

Every screen calls the server through `Tasks.run`: the call runs on a `Job` thread, its
result or error comes back through queued signals, and the window's status line says
what is happening, so a slow server never freezes the window. A `SessionEndedError`
is announced once through `session_ended` (the window returns to sign-in); any other
error goes to the caller's handler, or to `failed` as the server's own sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from kiosk.errors import KioskError, SessionEndedError
from ui.jobs import Job


class Tasks(QObject):
    busy_changed = Signal(str)  # what is running ("" when idle)
    failed = Signal(str)  # a sentence to show
    session_ended = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []

    @property
    def running(self) -> int:
        """Calls not yet finished (their answers not yet handled on the UI thread)."""
        return len(self._jobs)

    def run(
        self,
        what: str,
        function: Callable[[], Any],
        done: Callable[[Any], None] | None = None,
        error: Callable[[str], None] | None = None,
    ) -> Job:
        """Run `function` on a thread; `done(result)` or `error(message)` on the UI thread."""
        job = Job(function, name=f"admin: {what}", parent=self)
        if done is not None:
            job.succeeded.connect(done)
        job.failed.connect(lambda exc: self._on_failed(exc, error))
        job.finished.connect(lambda: self._on_finished(job))
        self._jobs.append(job)
        self.busy_changed.emit(f"{what}…")
        job.start()
        return job

    def _on_failed(self, exc: BaseException, error: Callable[[str], None] | None) -> None:
        if isinstance(exc, SessionEndedError):
            self.session_ended.emit(str(exc))
            return
        message = str(exc) if isinstance(exc, KioskError) else f"Unexpected error: {exc}"
        if error is not None:
            error(message)
        self.failed.emit(message)

    def _on_finished(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        job.deleteLater()
        if not self._jobs:
            self.busy_changed.emit("")

    def wait_all(self, timeout: float = 10.0) -> None:
        """Wait for every running call (when the window closes: no thread outlives it)."""
        for job in list(self._jobs):
            job.wait(timeout)
