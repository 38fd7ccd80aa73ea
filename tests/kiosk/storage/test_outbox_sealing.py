"""Queued check-ins' face data at rest: sealed in kiosk.db and its WAL, sent whole.

The probe embedding and the aligned crops of a queued check-in are biometric data; the
raw bytes of the database file and of its write-ahead log are searched for them, as
someone holding a copy of the kiosk's disk would.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.device.credentials import CredentialStore
from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.inference.engine import FaceEngine
from kiosk.inference.quality import Purpose
from kiosk.protocol.checkins import NewCheckin
from kiosk.protocol.wire import checkin_item, encode_f32
from kiosk.recognition.decisions import evidence_jpeg
from kiosk.storage.database import MIGRATIONS
from kiosk.storage.local_store import LocalStore
from sonta.cli import main
from tests.kiosk.backend import LiveBackend
from tests.kiosk.conftest import photo
from tests.kiosk.store_utils import a_checkin


def a_crop(name: str = "obama") -> bytes:
    """A real JPEG crop, encoded the way the kiosk encodes its evidence."""
    return evidence_jpeg(photo(name)[100:212, 100:212].copy())


def needles(checkin: NewCheckin) -> list[bytes]:
    """Byte strings that betray the check-in's face data if found on disk."""
    jpeg = checkin.face_jpeg or checkin.evidence_jpeg or b""
    probe = checkin.probe.astype("<f4").tobytes()
    return [
        jpeg[:11],  # the JPEG magic and its JFIF header
        jpeg[200:240],
        base64.b64encode(jpeg)[:40],
        probe[:32],
        encode_f32(checkin.probe)[:40].encode(),
    ]


def on_disk(path: Path) -> bytes:
    """The database file and its write-ahead log, as a copy of the disk would hold them."""
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def with_face(checkin: NewCheckin, *, review: bool = False) -> NewCheckin:
    crop = a_crop()
    return replace(
        checkin,
        face_jpeg=crop,
        evidence_jpeg=crop if review else None,
        status="pending_review" if review else "approved",
    )


def test_queued_face_data_is_in_neither_the_database_nor_its_wal(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    path = tmp_path / "kiosk.db"
    store = LocalStore(path, outbox_key=credentials.outbox_key)
    checkins = [
        with_face(a_checkin(uuid.uuid4(), uuid.uuid4()), review=i % 2 == 1) for i in range(4)
    ]
    for checkin in checkins:
        store.record(checkin)
    assert Path(f"{path}-wal").stat().st_size > 0  # the rows are in the WAL right now
    raw = on_disk(path)
    for checkin in checkins:
        for needle in needles(checkin):
            assert needle not in raw, needle
    # Read back through the key, every item is what the pipeline made.
    items = {item.key: item.payload for item in store.pending_uploads()}
    assert items == {c.key: checkin_item(c) for c in checkins}
    store.mark_uploaded(
        [{"key": c.key, "result": "recorded", "status": c.status} for c in checkins]
    )
    assert store.pending_evidence() == [(c.key, c.evidence_jpeg) for c in checkins[1::2]]
    store.close()
    raw = on_disk(path)
    assert not any(needle in raw for checkin in checkins for needle in needles(checkin))


def old_database(path: Path, checkins: list[NewCheckin], states: list[str]) -> None:
    """A kiosk.db of schema 3 (before sealing) holding `checkins` queued in clear."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for number, script in enumerate(MIGRATIONS[:3]):
        conn.executescript(f"BEGIN; {script} PRAGMA user_version = {number + 1}; COMMIT;")
    for checkin, state in zip(checkins, states, strict=True):
        conn.execute(
            "INSERT INTO checkins (key, meeting_id, member_id, method, status, similarity, "
            "device_time, recorded_at) VALUES (?, ?, ?, 'face', ?, ?, ?, ?)",
            (
                checkin.key,
                str(checkin.meeting_id),
                str(checkin.member_id),
                checkin.status,
                checkin.similarity,
                checkin.device_time.isoformat(),
                datetime.now(UTC).isoformat(),
            ),
        )
        payload = json.dumps(checkin_item(checkin)) if state == "pending" else None
        conn.execute(
            "INSERT INTO outbox (key, state, payload, evidence) VALUES (?, ?, ?, ?)",
            (checkin.key, state, payload, checkin.evidence_jpeg),
        )
    conn.close()


def test_rows_queued_before_sealing_are_sealed_in_place_and_none_is_lost(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    path = tmp_path / "kiosk.db"
    checkins = [
        with_face(a_checkin(uuid.uuid4(), uuid.uuid4())),
        with_face(a_checkin(uuid.uuid4(), uuid.uuid4()), review=True),
        with_face(a_checkin(uuid.uuid4(), uuid.uuid4()), review=True),
    ]
    old_database(path, checkins, ["pending", "pending", "evidence"])
    raw = on_disk(path)
    # In clear, as the older release left them: the crop raw (evidence) and in base64,
    # the probe in base64 (its raw floats were never written).
    assert [needle in raw for needle in needles(checkins[1])] == [True, True, True, False, True]

    store = LocalStore(path, outbox_key=credentials.outbox_key)
    conn = store.db.connection()
    assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    raw = on_disk(path)
    for checkin in checkins:
        for needle in needles(checkin):
            assert needle not in raw, needle
    assert store.outbox_counts() == {"pending": 2, "evidence": 1}
    items = {item.key: item.payload for item in store.pending_uploads()}
    assert items == {c.key: checkin_item(c) for c in checkins[:2]}
    assert store.pending_evidence() == [(checkins[2].key, checkins[2].evidence_jpeg)]
    assert store.seal_plain_rows() == 0  # once is enough
    store.close()


def test_a_row_that_does_not_open_with_the_key_is_set_aside_and_kept(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    path = tmp_path / "kiosk.db"
    store = LocalStore(path, outbox_key=credentials.outbox_key)
    keys = [store.record(with_face(a_checkin(uuid.uuid4(), uuid.uuid4()))).key for _ in range(2)]
    store.close()
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT key, payload FROM outbox ORDER BY rowid").fetchall()
    # The keyring's entry replaced (or the file copied to another kiosk): nothing opens.
    other = LocalStore(path, outbox_key=lambda: os.urandom(32))
    assert other.pending_uploads() == []
    assert [row.key for row in other.set_aside()] == keys
    assert "does not open with this kiosk's outbox key" in other.set_aside()[0].reason
    other.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT key, payload FROM outbox ORDER BY rowid").fetchall() == before


def test_unpairing_keeps_the_outbox_key_and_pairing_does_not_replace_it(
    credentials: CredentialStore,
) -> None:
    credentials.create_template_key()
    key = credentials.outbox_key()
    credentials.forget()
    assert not credentials.is_paired()
    credentials.create_template_key()
    assert credentials.outbox_key() == key


def real_checkin(
    engine: FaceEngine, meeting: str, member: str, name: str, *, review: bool = False
) -> NewCheckin:
    """What the kiosk's pipeline records for `name`'s photo: its probe and aligned crop."""
    pixels = photo(name)
    face = engine.embed_single(pixels, purpose=Purpose.CHECKIN)
    assert face.embedding is not None
    crop = evidence_jpeg(engine.recognizer.align(pixels, face.face))
    return NewCheckin(
        meeting_id=uuid.UUID(meeting),
        member_id=uuid.UUID(member),
        method="face",
        status="pending_review" if review else "approved",
        similarity=0.5 if review else 0.7,
        margin=None,
        second_member_id=None,
        device_time=datetime.now(UTC),
        model_id=face.embedding.model_id,
        probe=face.embedding.vector,
        face_jpeg=crop,
        evidence_jpeg=crop if review else None,
    )


@pytest.mark.network
@pytest.mark.model
def test_sealed_and_migrated_check_ins_reach_a_real_backend_whole(
    tmp_path: Path,
    keyring_dir: Path,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    backend: LiveBackend,
    engine: FaceEngine,
) -> None:
    data_dir = tmp_path / "kiosk"
    data_dir.mkdir()
    monkeypatch.setenv("SONTA_KIOSK_DIR", str(data_dir))
    monkeypatch.setenv("FACE_MODEL", "vectron")
    obama = backend.member("Barack Obama", engine, "obama", "obama2")
    biden = backend.member("Joe Biden", engine, "biden")
    first, second = backend.meeting(title="First"), backend.meeting(title="Second")
    # Queued by the release before sealing, in clear; pairing opens it with the key.
    old = [
        real_checkin(engine, first, obama, "obama3"),
        real_checkin(engine, first, biden, "biden", review=True),
    ]
    old_database(data_dir / "kiosk.db", old, ["pending", "pending"])
    assert main(["kiosk", "pair", backend.url, backend.pairing_code("Hall")]) == 0
    keys = kiosk_credentials(data_dir)
    store = LocalStore(data_dir / "kiosk.db", outbox_key=keys.outbox_key)
    new = real_checkin(engine, second, obama, "obama3")
    assert store.record(new).kind == "recorded"
    store.close()
    raw = on_disk(data_dir / "kiosk.db")
    assert not any(needle in raw for c in [*old, new] for needle in needles(c))

    assert main(["kiosk", "sync", "--once"]) == 0
    assert backend.count("SELECT count(*) FROM kiosk_checkins") == 3
    assert backend.count("SELECT count(*) FROM attendance_records") == 3
    # The server embedded each crop itself and found the enrolled person in it.
    approved = backend.count(
        "SELECT count(*) FROM attendance_records WHERE status = 'approved' "
        f"AND member_id IN ('{obama}', '{biden}')"
    )
    assert approved == 3
