"""A meeting's live event stream kept open on a thread, reconnecting after a drop.

`LiveStream.run` (on a worker thread) calls `on_event` for every event and `on_state`
with a sentence when the connection changes; a dropped stream is opened again after a
growing pause. `stop` ends it at once from any thread: it shuts the socket down, which
wakes the blocked read (closing alone would wait for the next keep-alive).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable

import httpx

from kiosk.admin.api_types import LiveEvent
from kiosk.admin.client import AdminClient
from kiosk.errors import AdminError, SessionEndedError

log = logging.getLogger(__name__)
DELAYS = (1.0, 2.0, 5.0, 10.0)


class LiveStream:
    def __init__(
        self,
        client: AdminClient,
        meeting_id: str,
        on_event: Callable[[LiveEvent], None],
        on_state: Callable[[str], None],
    ) -> None:
        self._client = client
        self._meeting_id = meeting_id
        self._on_event = on_event
        self._on_state = on_state
        self._stopped = threading.Event()
        self._response: httpx.Response | None = None
        self.connections = 0

    def _opened(self, response: httpx.Response) -> None:
        self._response = response
        self.connections += 1
        self._on_state("Live: connected.")

    def run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                for event in self._client.events(self._meeting_id, opened=self._opened):
                    failures = 0
                    self._on_event(event)
            except SessionEndedError as exc:
                self._on_state(str(exc))
                return
            except AdminError as exc:
                if self._stopped.is_set():
                    return
                delay = DELAYS[min(failures, len(DELAYS) - 1)]
                failures += 1
                self._on_state(f"Live updates paused ({exc}); reconnecting in {delay:.0f} s.")
                self._stopped.wait(delay)
                continue
            if not self._stopped.is_set():
                self._on_state("Live updates ended by the server; reconnecting.")
                self._stopped.wait(DELAYS[0])

    def stop(self) -> None:
        self._stopped.set()
        response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
