"""What the kiosk's idle screen shows about the meeting: its name, counts and phone QR.

A plain value the core (or a fetcher polling the server) produces and a view shows.
The meeting QR rotates: ``qr_expires_at`` says when the shown code stops working, and
the view asks for a new board before then (``refresh_in``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kiosk.errors import BoardError, KioskError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

# Fetch a new code this long before the shown one expires (a phone needs a moment).
QR_SAFETY_MARGIN_S = 10.0
NO_QR_REFRESH_S = 60.0  # without a QR, the counts are refreshed this often
RETRY_S = 5.0  # after a failed fetch
# The board is also how the window learns the server is down (sync runs every 30 s), so it
# is fetched at least this often: a down server shows as offline within a few seconds.
CHECK_S = 5.0


@dataclass(frozen=True)
class MeetingBoard:
    meeting_id: uuid.UUID
    title: str
    present: int
    expected: int | None  # None: the meeting names nobody (everyone may come)
    qr_url: str | None = None  # the phone check-in page; None when phone check-in is shut
    qr_expires_at: datetime | None = None  # timezone-aware
    refresh_after_s: float = 30.0
    stale: bool = False  # the last board kept while the server cannot be reached
    camera_checkin: bool = True  # False: the meeting expects nobody, staff check people in
    started: bool = False  # the meeting is taking check-ins (no QR then: its window closed)

    def refresh_in(self, now: datetime | None = None) -> float:
        """Seconds until a new board (and QR) should be fetched; never negative."""
        wait = self.refresh_after_s
        if self.qr_expires_at is not None:
            now = now or datetime.now(UTC)
            left = (self.qr_expires_at - now).total_seconds() - QR_SAFETY_MARGIN_S
            wait = min(wait, left)
        return max(0.0, wait)


BoardFetch = Callable[[], MeetingBoard]


def parse_board(body: dict[str, Any]) -> MeetingBoard:
    """The server's `/api/kiosk/meetings/{id}/board` answer as a ``MeetingBoard``."""
    qr = body.get("qr")
    return MeetingBoard(
        meeting_id=uuid.UUID(str(body["meeting_id"])),
        title=str(body["title"]),
        present=int(body["present"]),
        expected=int(body["expected"]),
        qr_url=str(qr["url"]) if qr else None,
        qr_expires_at=datetime.fromisoformat(str(qr["expires_at"])) if qr else None,
        refresh_after_s=float(qr["refresh_after_seconds"]) if qr else NO_QR_REFRESH_S,
        started=body.get("status") == "active",
    )


def http_board_fetcher(
    server_url: str,
    meeting_id: uuid.UUID,
    credential: Callable[[], str],
    *,
    transport: httpx.BaseTransport | None = None,
) -> BoardFetch:
    """Fetches the board with the device credential; raises ``BoardError`` on failure."""
    import httpx  # noqa: PLC0415 (slow to import; the kiosk window must come up fast)

    def fetch() -> MeetingBoard:
        headers = {"Authorization": f"Bearer {credential()}"}
        url = f"{server_url.rstrip('/')}/api/kiosk/meetings/{meeting_id}/board"
        try:
            with httpx.Client(transport=transport, timeout=10.0) as client:
                response = client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise BoardError(f"The server cannot be reached ({type(exc).__name__}).") from exc
        if response.status_code != httpx.codes.OK:
            raise BoardError(f"The server answered HTTP {response.status_code} for the board.")
        try:
            return parse_board(response.json())
        except (KeyError, TypeError, ValueError) as exc:
            raise BoardError(f"The server's board answer is malformed ({exc}).") from exc

    return fetch


def noting_camera_checkin(fetch: BoardFetch, expects_nobody: Callable[[], bool]) -> BoardFetch:
    """Boards that also say whether the camera checks anyone in: the server's board does
    not, the kiosk's store does (a meeting that expects nobody, see `MeetingRecord`)."""

    def fetch_noted() -> MeetingBoard:
        board = fetch()
        return dataclasses.replace(board, camera_checkin=not expects_nobody())

    return fetch_noted


class BoardWatcher:
    """Fetches the board on its own thread, again before its QR expires; stops on request.

    ``publish`` is called on the watcher's thread with each new board. While the server
    cannot be reached the last board stays, without its QR (the code would soon stop
    working), since the kiosk still takes check-ins for that meeting; None only when no
    board was ever fetched. ``reachable`` hears each fetch's outcome: None when the
    server answered, else the sentence saying why not.
    """

    def __init__(
        self,
        fetch: BoardFetch,
        publish: Callable[[MeetingBoard | None], None],
        *,
        retry_s: float = RETRY_S,
        check_s: float = CHECK_S,
        reachable: Callable[[str | None], None] = lambda problem: None,
    ) -> None:
        self._fetch = fetch
        self._publish = publish
        self._reachable = reachable
        self._retry_s = retry_s
        self._check_s = check_s
        self._last: MeetingBoard | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-board", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                board = self._fetch()
            except KioskError as exc:
                log.info("meeting board not fetched: %s", exc)
                self._reachable(str(exc))
                kept = self._last
                if kept is not None:
                    kept = dataclasses.replace(kept, qr_url=None, qr_expires_at=None, stale=True)
                self._publish(kept)
                self._stop.wait(self._retry_s)
                continue
            self._last = board
            self._reachable(None)
            self._publish(board)
            self._stop.wait(min(max(1.0, board.refresh_in()), self._check_s))
