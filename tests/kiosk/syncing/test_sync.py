"""The kiosk's sync against a real backend (PostgreSQL + Redis) over loopback HTTP."""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import cv2
import keyring
import numpy as np
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from kiosk.app import meeting_for
from kiosk.commands import status_report
from kiosk.device.credentials import CredentialStore
from kiosk.errors import CredentialError, DeviceRevokedError, PairingError, SyncError
from kiosk.events import NobodyExpected, NotRecognised
from kiosk.inference.engine import FaceEngine
from kiosk.inference.faces import Embedding
from kiosk.inference.matching import DEFAULT_THRESHOLDS
from kiosk.inference.quality import Purpose
from kiosk.protocol.checkins import NewCheckin
from kiosk.protocol.liveness import LivenessPolicy
from kiosk.recognition.decisions import Decider, evidence_jpeg
from kiosk.storage.local_store import LocalStore
from kiosk.syncing.client import SyncClient
from kiosk.syncing.status import SyncStatus
from kiosk.syncing.syncer import Syncer, SyncSettings, SyncWorker, credential_expiry, pair
from tests.kiosk.backend import LiveBackend
from tests.kiosk.conftest import photo
from tests.kiosk.pipeline_utils import FakeRecorder

pytestmark = [pytest.mark.network, pytest.mark.model]


class Kiosk:
    """One kiosk's parts, as the app wires them."""

    def __init__(self, folder: Path, credentials: CredentialStore, engine: FaceEngine) -> None:
        self.status = SyncStatus()
        self.credentials = credentials
        self.engine = engine
        self.store = LocalStore(
            folder / "kiosk.db",
            template_key=credentials.template_key,
            outbox_key=credentials.outbox_key,
            status=self.status,
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
        pixels = photo(name)
        face = self.engine.embed_single(pixels, purpose=Purpose.CHECKIN)
        probe = face.embedding
        assert probe is not None
        crop = self.engine.recognizer.align(pixels, face.face)
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
            face_jpeg=evidence_jpeg(crop),
        )
        return checkin, self.store.record(checkin).kind


@pytest.fixture
def kiosk(tmp_path: Path, credentials: CredentialStore, engine: FaceEngine) -> Iterator[Kiosk]:
    made = Kiosk(tmp_path / "kiosk", credentials, engine)
    yield made
    made.store.close()


def paired(kiosk: Kiosk, backend: LiveBackend) -> Syncer:
    pair(
        backend.url,
        backend.pairing_code(),
        store=kiosk.store,
        credentials=kiosk.credentials,
    )
    return kiosk.syncer()


def test_pair_sync_a_real_gallery_and_check_in_once(kiosk: Kiosk, backend: LiveBackend) -> None:
    obama = backend.member("Barack Obama", kiosk.engine, "obama", "obama2")
    biden = backend.member("Joe Biden", kiosk.engine, "biden")
    meeting = backend.meeting()
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    snapshot = kiosk.status.snapshot
    assert (snapshot.connection, snapshot.gallery_size) == ("online", 3)
    assert snapshot.last_sync is not None and snapshot.model_matches
    assert abs(snapshot.clock_drift_s or 9.0) < 5 and not snapshot.clock_drift_flagged
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
        pair(
            backend.url,
            "WRONG-CODE",
            store=kiosk.store,
            credentials=kiosk.credentials,
        )
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


def test_someone_no_longer_expected_leaves_the_kiosks_database(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    usher = backend.member("Barack Obama", kiosk.engine, "obama", ministry="Ushers")
    media = backend.member("Joe Biden", kiosk.engine, "biden", ministry="Media")
    meeting = backend.meeting(expected_ministries=["Ushers", "Media"])
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    assert kiosk.store.gallery_for(meeting).person_ids == {usher, media}
    narrowed = backend.admin.patch(
        f"/api/meetings/{meeting}",
        json={"expected_ministries": ["Ushers"]},
        headers=backend.headers,
    )
    assert narrowed.status_code == 200, narrowed.text
    syncer.sync_once()
    # Gone from kiosk.db itself, template and name, not only from the meeting's gallery.
    query = "SELECT count(*) FROM templates WHERE member_id = ?"
    assert kiosk.store.db.read(query, (media,))[0][0] == 0
    assert kiosk.store.member_name(media) is None
    assert kiosk.store.gallery_for(meeting).person_ids == {usher}
    # The meeting ends: the kiosk serves nothing, and holds nobody.
    assert backend.admin.post(f"/api/meetings/{meeting}/end", headers=backend.headers).is_success
    syncer.sync_once()
    assert (kiosk.store.template_count(), kiosk.store.member_names()) == (0, {})


def test_a_meeting_that_expects_nobody_recognises_nobody_the_kiosk_holds(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    usher = backend.member("Barack Obama", kiosk.engine, "obama", ministry="Ushers")
    media = backend.member("Joe Biden", kiosk.engine, "biden", ministry="Media")
    ushers = backend.meeting(title="Ushers", expected_ministries=["Ushers"])
    # Nobody is in the Choir yet: the meeting expects nobody.
    choir = backend.meeting(title="Choir practice", expected_ministries=["Choir"])
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    assert kiosk.store.gallery_for(ushers).person_ids == {usher}
    # The usher is held for the other meeting, and is not recognised at this one.
    assert kiosk.store.gallery_for(choir).person_ids == set()
    decider = Decider(kiosk.store, FakeRecorder(), meeting_for(kiosk.store, choir))
    assert decider.expects_nobody() and decider.gallery()[0].person_ids == set()
    assert decider.not_recognised() == NobodyExpected()
    # He joins the Choir: a snapshot of the same gallery version (no face was added),
    # and the decider already running for the meeting sees it.
    version = kiosk.store.gallery_version()
    moved = backend.admin.patch(
        f"/api/members/{media}", json={"ministry": "Choir"}, headers=backend.headers
    )
    assert moved.status_code == 200, moved.text
    syncer.sync_once()
    assert kiosk.store.gallery_version() == version
    assert not decider.expects_nobody()
    assert decider.gallery()[0].person_ids == {media}
    assert isinstance(decider.not_recognised(), NotRecognised)


def test_the_meetings_liveness_policy_reaches_the_kiosk_and_a_local_choice_overrides_it(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    meeting = backend.meeting(liveness="always")
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    assert meeting_for(kiosk.store, meeting).liveness is LivenessPolicy.ALWAYS
    assert meeting_for(kiosk.store, meeting, LivenessPolicy.NEVER).liveness is LivenessPolicy.NEVER
    changed = backend.admin.patch(
        f"/api/meetings/{meeting}", json={"liveness": "never"}, headers=backend.headers
    )
    assert changed.status_code == 200, changed.text
    syncer.sync_once()
    assert meeting_for(kiosk.store, meeting).liveness is LivenessPolicy.NEVER


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
    backend.meeting()
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
    report = status_report(argparse.Namespace(data_dir=kiosk.store.db.path.parent))
    assert report["revoked_at"] and not report["paired"] and report["templates"] == 0


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


def morph_probe(engine: FaceEngine) -> tuple[np.ndarray, bytes]:
    """A real review-band probe: Obama's and Biden's aligned faces blended half and half.

    Against Obama's two enrolled photos it scores about 0.43, below the accept threshold
    and above review, so the server keeps the check-in for a person to decide.
    """
    crops = []
    for name in ("obama3", "biden"):
        image = photo(name)
        face = max(engine.detect(image), key=lambda f: f.inter_eye_distance)
        crops.append(engine.recognizer.align(image, face))
    blend = cv2.addWeighted(crops[0], 0.5, crops[1], 0.5, 0)
    ok, jpeg = cv2.imencode(".jpg", blend)
    assert ok
    return engine.recognizer.embed([blend])[0], jpeg.tobytes()


def test_a_review_band_check_in_sends_its_evidence_crop(kiosk: Kiosk, backend: LiveBackend) -> None:
    obama = backend.member("Barack Obama", kiosk.engine, "obama", "obama2")
    backend.member("Joe Biden", kiosk.engine, "biden")
    meeting = backend.meeting()
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    vector, jpeg = morph_probe(kiosk.engine)
    probe = Embedding(vector, kiosk.engine.model_id)
    best, second = kiosk.store.gallery_for(meeting).search(probe, k=2)
    assert best.person_id == obama
    assert DEFAULT_THRESHOLDS.review <= best.similarity < DEFAULT_THRESHOLDS.accept
    checkin = NewCheckin(
        meeting_id=uuid.UUID(meeting),
        member_id=uuid.UUID(obama),
        method="face",
        status="pending_review",
        similarity=best.similarity,
        margin=best.similarity - second.similarity,
        second_member_id=uuid.UUID(second.person_id),
        device_time=datetime.now(UTC),
        model_id=probe.model_id,
        probe=vector,
        evidence_jpeg=jpeg,
    )
    assert kiosk.store.record(checkin).kind == "recorded"
    syncer.sync_once()
    assert kiosk.store.outbox_counts() == {"done": 1}
    assert kiosk.store.pending_evidence() == []
    sql = "SELECT count(*) FROM attendance_records WHERE status = 'pending_review'"
    assert backend.count(sql) == 1
    assert backend.count(f"{sql} AND evidence_ciphertext IS NOT NULL") == 1


class BusyFirst:
    """Answers the first upload with 503 and `Retry-After` (an overloaded server)."""

    answered: ClassVar[list[int]] = []

    def __init__(self, app: ASGIApp, status: int = 503) -> None:
        self.app = app
        self.status = status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/kiosk/checkins" and not self.answered:
            self.answered.append(self.status)
            body = b'{"detail":"The server is busy; try again shortly."}'
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status,
                    "headers": [(b"retry-after", b"1"), (b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


@pytest.mark.parametrize("status", [503, 429])
def test_a_busy_server_is_retried_after_its_retry_after(
    kiosk: Kiosk, backend: LiveBackend, status: int
) -> None:
    backend.member("Barack Obama", kiosk.engine, "obama", "obama2")
    meeting = backend.meeting()
    paired(kiosk, backend)
    backend.stop()
    BusyFirst.answered.clear()
    backend.start(BusyFirst, status=status)
    heard: list[str | None] = []
    kiosk.status.subscribe(lambda s: heard.append(s.last_error))
    # Exponential backoff would wait 30-60 s here; the server asked for 1 s.
    worker = SyncWorker(
        store=kiosk.store,
        credentials=kiosk.credentials,
        status=kiosk.status,
        model_id=kiosk.engine.model_id,
        settings=SyncSettings(backoff_base_s=60, backoff_cap_s=60),
    )
    worker.start()
    try:
        assert _wait(lambda: kiosk.status.snapshot.gallery_size == 2)
        kiosk.check_in(meeting, "obama3")
        assert _wait(lambda: backend.count("SELECT count(*) FROM attendance_records") == 1)
    finally:
        worker.stop()
    assert BusyFirst.answered == [status]
    assert any(e and "busy or unavailable" in e for e in heard)
    assert kiosk.status.snapshot.connection == "online"


def test_backoff_grows_with_full_jitter_and_honours_retry_after(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    paired(kiosk, backend)
    worker = SyncWorker(
        store=kiosk.store,
        credentials=kiosk.credentials,
        status=kiosk.status,
        model_id=kiosk.engine.model_id,
        settings=SyncSettings(interval_s=30, backoff_base_s=1, backoff_cap_s=8),
        rng=random.Random(3),
    )
    failure = SyncError("unreachable")
    delays = [worker.next_delay(failure) for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    assert 7 <= worker.next_delay(SyncError("busy", retry_after=7)) <= 7.5
    assert worker.next_delay(None) == 30
    assert 0.5 <= worker.next_delay(failure) <= 1  # a success starts the backoff again
    worker.stop()


def test_the_credential_is_renewed_with_a_rotating_device_secret(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    paired(kiosk, backend)
    first = (kiosk.credentials.device_credential(), kiosk.credentials.device_secret())
    assert first[1] and credential_expiry(first[0]) - time.time() < 25 * 3600
    client = SyncClient(backend.url, credential=kiosk.credentials.device_credential)
    syncer = Syncer(
        client,
        store=kiosk.store,
        credentials=kiosk.credentials,
        status=kiosk.status,
        model_id=kiosk.engine.model_id,
        # Renew on every cycle: the day-long credential is always "about to expire".
        settings=SyncSettings(renew_before_s=2 * 86400),
    )
    syncer.sync_once()
    second = (
        kiosk.credentials.device_credential(),
        kiosk.credentials.device_secret(),
    )
    assert second[0] != first[0] and second[1] != first[1]
    syncer.sync_once()
    assert kiosk.credentials.device_secret() not in (first[1], second[1])
    assert kiosk.status.snapshot.connection == "online"


def test_check_ins_go_out_even_when_the_gallery_cannot_be_stored(
    kiosk: Kiosk, backend: LiveBackend
) -> None:
    backend.member("Barack Obama", kiosk.engine, "obama", "obama2")
    meeting = backend.meeting()
    syncer = paired(kiosk, backend)
    syncer.sync_once()
    kiosk.check_in(meeting, "obama3")
    backend.member("Joe Biden", kiosk.engine, "biden")  # something new to store
    keyring.delete_password(kiosk.credentials.service, "template-key")
    with pytest.raises(CredentialError, match="sonta kiosk unpair"):
        syncer.sync_once()
    assert backend.count("SELECT count(*) FROM attendance_records") == 1
    assert kiosk.store.queue_depth() == 0
