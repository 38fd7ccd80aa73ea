"""The board watcher while the server comes and goes: the meeting stays on screen (the
kiosk still takes its check-ins), its QR goes, and the outage is told at once."""

from __future__ import annotations

import queue
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.app import store_expects_nobody
from kiosk.board import BoardWatcher, MeetingBoard, noting_camera_checkin
from kiosk.device.credentials import CredentialStore
from kiosk.errors import BoardError
from kiosk.storage.local_store import LocalStore
from tests.kiosk.store_utils import a_meeting, snapshot

WAIT_S = 30.0


def a_board(present: int) -> MeetingBoard:
    return MeetingBoard(
        meeting_id=uuid.UUID(int=7),
        title="Sonta Heads meeting",
        present=present,
        expected=10,
        qr_url="http://192.0.2.1:3000/c/abc",
        qr_expires_at=datetime.now(UTC) + timedelta(minutes=5),
        refresh_after_s=30.0,
    )


class ScriptedServer:
    """Answers with boards while `up` is set, else fails as an unreachable server does."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.up.set()
        self.present = 3

    def fetch(self) -> MeetingBoard:
        if not self.up.is_set():
            raise BoardError("The server cannot be reached (ConnectError).")
        return a_board(self.present)


def test_a_down_server_keeps_the_meeting_shown_without_its_qr_and_is_told_at_once() -> None:
    server = ScriptedServer()
    shown: queue.Queue[MeetingBoard | None] = queue.Queue()
    told: queue.Queue[str | None] = queue.Queue()
    watcher = BoardWatcher(server.fetch, shown.put, retry_s=0.05, check_s=0.05, reachable=told.put)
    watcher.start()
    try:
        first = shown.get(timeout=WAIT_S)
        assert first is not None and (first.present, first.qr_url) == (3, a_board(3).qr_url)
        assert told.get(timeout=WAIT_S) is None
        server.up.clear()
        while (board := shown.get(timeout=WAIT_S)) is not None and board.qr_url is not None:
            pass  # boards fetched before the outage
        assert board is not None, "the meeting left the screen while the server was down"
        assert (board.title, board.present, board.qr_url) == ("Sonta Heads meeting", 3, None)
        assert board.stale
        while (problem := told.get(timeout=WAIT_S)) is None:
            pass
        assert problem == "The server cannot be reached (ConnectError)."
        server.present = 4
        server.up.set()
        while (board := shown.get(timeout=WAIT_S)) is None or board.qr_url is None:
            pass
        assert board.present == 4 and not board.stale
    finally:
        watcher.stop()


def test_with_no_board_yet_an_unreachable_server_shows_none() -> None:
    server = ScriptedServer()
    server.up.clear()
    shown: queue.Queue[MeetingBoard | None] = queue.Queue()
    watcher = BoardWatcher(server.fetch, shown.put, retry_s=0.05)
    watcher.start()
    try:
        assert shown.get(timeout=WAIT_S) is None
    finally:
        watcher.stop()


def test_the_board_says_when_the_camera_checks_nobody_in(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    """The server's board does not know; the kiosk's store does, from the last sync."""
    credentials.create_template_key()
    store = LocalStore(tmp_path / "kiosk.db", template_key=credentials.template_key)
    try:
        member = str(uuid.uuid4())
        nobody, listed = a_meeting(everyone=False), a_meeting((member,))
        update, _templates = snapshot({member: "Ama"}, [nobody, listed])
        store.apply_gallery(update)
        server = ScriptedServer()
        for meeting, camera in ((nobody, False), (listed, True), (a_meeting(), True)):
            expects_nobody = store_expects_nobody(store, uuid.UUID(meeting.meeting_id))
            board = noting_camera_checkin(server.fetch, expects_nobody)()
            assert (board.camera_checkin, board.present) == (camera, 3)
        # The meeting gets a list at the next sync: the same fetch's next board says so.
        fetch = noting_camera_checkin(
            server.fetch, store_expects_nobody(store, uuid.UUID(nobody.meeting_id))
        )
        assert not fetch().camera_checkin
        now_listed = replace(nobody, expected_member_ids=(member,))
        store.apply_gallery(replace(update, meetings=[now_listed, listed]))
        assert fetch().camera_checkin
    finally:
        store.close()
