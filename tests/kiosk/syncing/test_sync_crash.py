"""Offline, then kill -9 in the middle of an upload: every check-in arrives exactly once.

The kiosk is a real `sonta kiosk sync` process. The server stores the first batch and
then holds its answer back (a fault injected in front of the real app), and the kiosk
is killed while it waits: the server has the batch, the kiosk's outbox does not know.
A damaged outbox row in front of a running `sonta kiosk sync` is set aside, not retried.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import cv2
import pytest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.inference.engine import FaceEngine
from kiosk.inference.quality import Purpose
from kiosk.protocol.checkins import NewCheckin
from kiosk.storage.local_store import LocalStore
from kiosk.syncing.syncer import pair
from tests.kiosk.backend import LiveBackend
from tests.kiosk.conftest import photo

pytestmark = [pytest.mark.network, pytest.mark.model, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


class HoldUploadAnswers:
    """Lets the app store each check-in batch, then holds its answer until released."""

    released = threading.Event()

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/kiosk/checkins":
            await self.app(scope, receive, send)
            return

        async def held(message: Message) -> None:
            if message["type"] == "http.response.start":
                while not self.released.is_set():
                    await asyncio.sleep(0.05)
            await send(message)

        await self.app(scope, receive, held)


def kiosk_process(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """`sonta kiosk sync` as its own process, with the test's keyring and model pack."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FACE_MODEL": "vectron",
        "SONTA_KIOSK_DIR": str(data_dir),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "sonta", "kiosk", "sync", "--batch-size", "2"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


class SyncedKiosk(NamedTuple):
    store: LocalStore
    data_dir: Path
    log: Path
    people: dict[str, str]  # photo name -> member id
    meetings: list[str]


def synced_kiosk(
    tmp_path: Path,
    backend: LiveBackend,
    engine: FaceEngine,
    processes: list[subprocess.Popen[bytes]],
) -> SyncedKiosk:
    """A kiosk paired with ``backend`` (Obama, Biden and three meetings on it) that has
    synced its gallery once in its own process and stopped."""
    people = {
        "obama": backend.member("Barack Obama", engine, "obama", "obama2"),
        "biden": backend.member("Joe Biden", engine, "biden"),
    }
    meetings = [backend.meeting(title=f"Meeting {i}") for i in range(3)]
    data_dir, log = tmp_path / "kiosk", tmp_path / "kiosk.log"
    credentials = kiosk_credentials(data_dir)  # the entries the kiosk process reads
    store = LocalStore(
        data_dir / "kiosk.db",
        template_key=credentials.template_key,
        outbox_key=credentials.outbox_key,
    )
    pair(backend.url, backend.pairing_code(), store=store, credentials=credentials)
    first = kiosk_process(data_dir, log)
    processes.append(first)
    wait_for(lambda: store.gallery_version() > 0, 60, "the first gallery sync")
    first.send_signal(signal.SIGTERM)
    assert first.wait(20) == 0, log.read_text()
    return SyncedKiosk(store, data_dir, log, people, meetings)


def record_offline(
    store: LocalStore, engine: FaceEngine, people: dict[str, str], meetings: list[str]
) -> None:
    """Obama from a photo not enrolled, Biden mirrored: one check-in per person and meeting."""
    probes = {
        "obama": engine.embed_single(photo("obama3"), purpose=Purpose.CHECKIN).embedding,
        "biden": engine.embed_single(
            cv2.flip(photo("biden"), 1), purpose=Purpose.CHECKIN
        ).embedding,
    }
    for meeting in meetings:
        for name, member in people.items():
            probe = probes[name]
            assert probe is not None
            best = store.gallery_for(meeting).search(probe, k=1)[0]
            assert best.person_id == member
            outcome = store.record(
                NewCheckin(
                    meeting_id=uuid.UUID(meeting),
                    member_id=uuid.UUID(member),
                    method="face",
                    status="approved",
                    similarity=best.similarity,
                    margin=None,
                    second_member_id=None,
                    device_time=datetime.now(UTC),
                    model_id=probe.model_id,
                    probe=probe.vector,
                )
            )
            assert outcome.kind == "recorded"


def test_kill_9_mid_upload_then_restart_delivers_every_check_in_once(
    tmp_path: Path,
    backend: LiveBackend,
    engine: FaceEngine,
    keyring_dir: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    kiosk = synced_kiosk(tmp_path, backend, engine, processes)
    store, data_dir, log = kiosk.store, kiosk.data_dir, kiosk.log

    # Offline: six check-ins are recorded while the server is down.
    backend.stop()
    record_offline(store, engine, kiosk.people, kiosk.meetings)
    assert store.queue_depth() == 6

    # The kiosk comes up, the server comes back but answers no upload; kill -9 mid-batch.
    HoldUploadAnswers.released.clear()
    crashing = kiosk_process(data_dir, log)
    processes.append(crashing)
    backend.start(HoldUploadAnswers)
    stored = "SELECT count(*) FROM kiosk_checkins"
    wait_for(lambda: backend.count(stored) >= 2, 60, "the first batch on the server")
    crashing.send_signal(signal.SIGKILL)
    crashing.wait(10)
    HoldUploadAnswers.released.set()
    assert backend.count(stored) == 2
    assert store.queue_depth() == 6  # the kiosk never heard the answer
    backend.stop()

    # Restarted while the server is down, then the server starts: everything goes out.
    restarted = kiosk_process(data_dir, log)
    processes.append(restarted)
    time.sleep(1.0)
    backend.start()
    wait_for(lambda: store.queue_depth() == 0, 60, "the outbox to drain")
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(20) == 0, log.read_text()

    assert backend.count(stored) == 6
    assert backend.count("SELECT count(*) FROM attendance_records") == 6
    assert store.outbox_counts() == {"done": 6}
    local_keys = {row[0] for row in store.db.read("SELECT key FROM outbox")}
    with backend.admin.app.state.backend.sessions() as session:  # type: ignore[attr-defined]
        server_keys = {row[0] for row in session.execute(text("SELECT key FROM kiosk_checkins"))}
    assert server_keys == local_keys
    store.close()


def test_the_running_sync_sets_a_damaged_row_aside_and_drains_the_rest(
    tmp_path: Path,
    backend: LiveBackend,
    engine: FaceEngine,
    keyring_dir: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    kiosk = synced_kiosk(tmp_path, backend, engine, processes)
    store, data_dir, log = kiosk.store, kiosk.data_dir, kiosk.log
    record_offline(store, engine, kiosk.people, kiosk.meetings)
    [damaged] = store.db.read("SELECT key FROM outbox WHERE state = 'pending' LIMIT 1")
    with store.db.write() as conn:
        conn.execute("UPDATE outbox SET payload = '{\"key\": ' WHERE key = ?", (damaged[0],))

    running = kiosk_process(data_dir, log)
    processes.append(running)
    wait_for(lambda: store.queue_depth() == 0, 60, "the five readable check-ins to go out")
    running.send_signal(signal.SIGTERM)
    assert running.wait(20) == 0, log.read_text()
    assert backend.count("SELECT count(*) FROM kiosk_checkins") == 5
    assert [row.key for row in store.set_aside()] == [damaged[0]]
    text = log.read_text()
    assert "1 set aside (see `sonta kiosk status`)" in text and "Traceback" not in text
    store.close()
