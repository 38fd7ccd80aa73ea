"""The kiosk's sync against a real backend (PostgreSQL + Redis) over loopback HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.checkins import NewCheckin
from kiosk.credentials import CredentialStore
from kiosk.errors import CredentialError, DeviceRevokedError, PairingError
from kiosk.inference.engine import FaceEngine
from kiosk.inference.matching import DEFAULT_THRESHOLDS
from kiosk.inference.quality import Purpose
from kiosk.status import SyncStatus
from kiosk.store import LocalStore
from kiosk.sync import Syncer, SyncSettings, SyncWorker, pair
from kiosk.sync_client import SyncClient
from tests.kiosk.backend import LiveBackend
from tests.kiosk.conftest import photo

pytestmark = [pytest.mark.network, pytest.mark.model]


class Kiosk:
    """One kiosk's parts, as the app wires them."""

    def __init__(self, folder: Path, credentials: CredentialStore, engine: FaceEngine) -> None:
        self.status = SyncStatus()
        self.credentials = credentials
        self.engine = engine
        self.store = LocalStore(
            folder / "kiosk.db", template_key=credentials.template_key, status=self.status
        )

    def syncer(self) -> Syncer:
        client = SyncClient(
            str(self.store.get_state("server_url")), credential=self.credentials.device_credential
        )
        return Syncer(
            client,
            store=self.store,
            credentials=self.credentials,
            status=self.status,
            model_id=self.engine.model_id,
        )

    def check_in(self, meeting: str, name: str) -> tuple[NewCheckin, str]:
        """Recognise `name` (a photo) in the meeting's gallery and record the best match."""
        probe = self.engine.embed_single(photo(name), purpose=Purpose.CHECKIN).embedding
        assert probe is not None
        best, *rest = self.store.gallery_for(meeting).search(probe, k=2)
        checkin = NewCheckin(
            meeting_id=uuid.UUID(meeting),
            member_id=uuid.UUID(best.person_id),
            method="face",
            status="approved" if best.similarity >= DEFAULT_THRESHOLDS.accept else "pending_review",
            similarity=best.similarity,
            margin=best.similarity - rest[0].similarity if rest else None,
            second_member_id=uuid.UUID(rest[0].person_id) if rest else None,
            device_time=datetime.now(UTC),
            model_id=probe.model_id,
            probe=probe.vector,
        )
        return checkin, self.store.record(checkin).kind


@pytest.fixture
def kiosk(tmp_path: Path, credentials: CredentialStore, engine: FaceEngine) -> Iterator[Kiosk]:
    made = Kiosk(tmp_path / "kiosk", credentials, engine)
    yield made
    made.store.close()


def paired(kiosk: Kiosk, backend: LiveBackend) -> Syncer:
    pair(backend.url, backend.pairing_code(), store=kiosk.store, credentials=kiosk.credentials)
    return kiosk.syncer()


def test_pair_sync_a_real_gallery_and_check_in_once(kiosk: Kiosk, backend: LiveBackend) -> None:
    obama = backend.member("Barack Obama", kiosk.engine, "obama", "obama2")
    biden = backend.member("Joe Biden", kiosk.engine, "biden")
    meeting = backend.meeting()
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    assert kiosk.status.snapshot.connection == "online"
    assert kiosk.status.snapshot.gallery_size == 3
    gallery = kiosk.store.gallery_for(meeting)
    assert gallery.person_ids == {obama, biden}
    assert kiosk.store.member_name(obama) == "Barack Obama"
    checkin, kind = kiosk.check_in(meeting, "obama3")
    assert (str(checkin.member_id), kind) == (obama, "recorded")
    assert kiosk.check_in(meeting, "obama3")[1] == "already_checked_in"
    assert kiosk.status.snapshot.queue_depth == 1
    syncer.sync_once()
    assert kiosk.status.snapshot.queue_depth == 0
    assert kiosk.store.outbox_counts() == {"done": 1}
    assert backend.count("SELECT count(*) FROM attendance_records") == 1
    assert backend.count("SELECT count(*) FROM attendance_records WHERE status = 'approved'") == 1
    # The next cycle is cheap: nothing changed, nothing is resent.
    syncer.sync_once()
    assert backend.count("SELECT count(*) FROM kiosk_checkins") == 1


def test_a_wrong_pairing_code_is_refused_and_changes_nothing(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    with pytest.raises(PairingError, match="Ask an admin for a new code"):
        pair(backend.url, "WRONG-CODE", store=kiosk.store, credentials=kiosk.credentials)
    assert not kiosk.credentials.is_paired()
    assert kiosk.store.get_state("server_url") is None


def test_a_deleted_member_vanishes_from_the_local_gallery(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    obama = backend.member("Barack Obama", kiosk.engine, "obama")
    biden = backend.member("Joe Biden", kiosk.engine, "biden")
    meeting = backend.meeting()
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    assert kiosk.store.gallery_for(meeting).person_ids == {obama, biden}
    response = backend.admin.delete(f"/api/members/{biden}", headers=backend.headers)
    assert response.status_code in (200, 204), response.text
    syncer.sync_once()
    assert kiosk.store.gallery_for(meeting).person_ids == {obama}
    assert kiosk.store.member_name(biden) is None


def test_a_revoked_badge_is_known_after_sync(kiosk: Kiosk, backend: LiveBackend) -> None:
    obama = backend.member("Barack Obama", kiosk.engine, "obama")
    badge = backend.admin.post(f"/api/members/{obama}/badges", headers=backend.headers).json()
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    assert not kiosk.store.is_badge_revoked(badge["id"])
    assert kiosk.store.badge_keys()[0].algorithm == "Ed25519"
    backend.admin.post(f"/api/members/{obama}/badges/{badge['id']}/revoke", headers=backend.headers)
    syncer.sync_once()
    assert kiosk.store.is_badge_revoked(badge["id"])


def test_a_revoked_kiosk_wipes_its_gallery_and_its_worker_stops(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    backend.member("Barack Obama", kiosk.engine, "obama")
    paired(kiosk, backend).sync_once()
    assert kiosk.store.template_count() == 1
    kiosk_id = kiosk.store.get_state("kiosk_id")
    backend.admin.post(f"/api/kiosks/{kiosk_id}/revoke", headers=backend.headers)
    worker = SyncWorker(
        store=kiosk.store,
        credentials=kiosk.credentials,
        status=kiosk.status,
        model_id=kiosk.engine.model_id,
    )
    worker.start()
    assert _wait(lambda: not worker.running)
    worker.stop()
    assert isinstance(worker.error, DeviceRevokedError)
    assert kiosk.status.snapshot.connection == "revoked"
    assert "revoked" in str(kiosk.status.snapshot.last_error)
    assert kiosk.store.template_count() == 0
    assert kiosk.store.member_name(kiosk.store.get_state("kiosk_id") or "") is None
    with pytest.raises(CredentialError):
        kiosk.credentials.device_credential()


def test_the_worker_uploads_soon_after_a_check_in_and_stops_on_request(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    backend.member("Barack Obama", kiosk.engine, "obama", "obama2")
    meeting = backend.meeting()
    paired(kiosk, backend)
    worker = SyncWorker(
        store=kiosk.store,
        credentials=kiosk.credentials,
        status=kiosk.status,
        model_id=kiosk.engine.model_id,
        settings=SyncSettings(interval_s=60),
    )
    worker.start()
    try:
        assert _wait(lambda: kiosk.status.snapshot.gallery_size == 2)
        kiosk.check_in(meeting, "obama3")
        # The interval is a minute; the recorded check-in wakes the worker at once.
        assert _wait(lambda: backend.count("SELECT count(*) FROM attendance_records") == 1)
        assert _wait(lambda: kiosk.status.snapshot.queue_depth == 0)
    finally:
        started = time.monotonic()
        worker.stop()
    assert not worker.running and time.monotonic() - started < 5


def test_an_unreachable_server_means_offline_and_the_check_ins_wait(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    backend.member("Barack Obama", kiosk.engine, "obama")
    meeting = backend.meeting()
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    backend.stop()
    kiosk.check_in(meeting, "obama3")
    worker = SyncWorker(
        store=kiosk.store,
        credentials=kiosk.credentials,
        status=kiosk.status,
        model_id=kiosk.engine.model_id,
        settings=SyncSettings(backoff_base_s=0.2, backoff_cap_s=0.5),
    )
    worker.start()
    try:
        assert _wait(lambda: kiosk.status.snapshot.connection == "offline")
        assert "cannot be reached" in str(kiosk.status.snapshot.last_error)
        assert kiosk.status.snapshot.queue_depth == 1
        backend.start()
        assert _wait(lambda: kiosk.status.snapshot.connection == "online", timeout=15)
        assert kiosk.status.snapshot.queue_depth == 0
        assert backend.count("SELECT count(*) FROM attendance_records") == 1
    finally:
        worker.stop()


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
