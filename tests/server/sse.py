"""A server-sent-events reader for tests: reads a live stream in a thread, bounded in time."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SseReader:
    """Open `url`, signal `connected` once the stream answers, collect `wanted` events."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    wanted: int = 1
    timeout: float = 15.0
    status: int | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: str | None = None
    connected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SseReader:
        self._thread.start()
        if not self.connected.wait(self.timeout):
            raise AssertionError(f"the event stream did not answer: {self.error}")
        return self

    def join(self) -> list[tuple[str, dict[str, Any]]]:
        self._thread.join(self.timeout)
        assert not self._thread.is_alive(), f"still waiting for events; got {self.events}"
        return self.events

    def _run(self) -> None:
        try:
            with httpx.stream(
                "GET", self.url, headers=self.headers, timeout=self.timeout, trust_env=False
            ) as response:
                self.status = response.status_code
                self.connected.set()
                if response.status_code == 200:
                    self._read(response)
        except httpx.HTTPError as exc:
            self.error = repr(exc)
        finally:
            self.connected.set()

    def _read(self, response: httpx.Response) -> None:
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                self.events.append((name, json.loads(line.removeprefix("data: "))))
                if len(self.events) >= self.wanted:
                    return
