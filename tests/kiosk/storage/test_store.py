"""LocalStore: durable check-ins with their outbox rows, and the encrypted local gallery."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kiosk.device.credentials import CredentialStore
from kiosk.errors import CredentialError, StoreError
from kiosk.inference.faces import Embedding
from kiosk.storage.database import MIGRATIONS
from kiosk.storage.local_gallery import GalleryUpdate
from kiosk.storage.local_store import LocalStore
from kiosk.syncing.status import SyncStatus
from tests.kiosk.store_utils import MODEL, a_checkin, a_meeting, snapshot


@pytest.fixture
def store(tmp_path: Path, credentials: CredentialStore) -> LocalStore:
    credentials.create_template_key()
    opened = LocalStore(
        tmp_path / "kiosk.db",
        template_key=credentials.template_key,
        outbox_key=credentials.outbox_key,
    )
    yield opened
    opened.close()


def test_a_check_in_is_committed_with_its_outbox_row(store: LocalStore, tmp_path: Path) -> None:
    meeting, member = uuid.uuid4(), uuid.uuid4()
    outcome = store.record(a_checkin(meeting, member))
    assert outcome.kind == "recorded"
    # Another connection (another process after a crash) sees both rows at once.
    with sqlite3.connect(tmp_path / "kiosk.db") as other:
        assert other.execute("SELECT count(*) FROM checkins").fetchone() == (1,)
        payload = other.execute("SELECT payload FROM outbox").fetchone()[0]
    # Who and when stay readable; the face data is sealed with the outbox key.
    assert f'"member_id":"{member}"' in payload and '"sealed":"' in payload
    assert '"probe"' not in payload
    assert store.queue_depth() == 1
    [item] = store.pending_uploads()
    assert item.key == outcome.key and len(item.payload["probe"]) == 2732
    assert "sealed" not in item.payload


def test_a_repeat_says_already_checked_in_and_writes_nothing(store: LocalStore) -> None:
    meeting, member = uuid.uuid4(), uuid.uuid4()
    first = store.record(a_checkin(meeting, member))
    again = store.record(a_checkin(meeting, member))
    assert (again.kind, again.key, again.recorded_at) == (
        "already_checked_in",
        first.key,
        first.recorded_at,
    )
    assert store.queue_depth() == 1
    assert store.record(a_checkin(uuid.uuid4(), member)).kind == "recorded"


def test_server_answers_settle_the_outbox(store: LocalStore) -> None:
    meeting = uuid.uuid4()
    keys = [
        store.record(a_checkin(meeting, uuid.uuid4())).key,
        store.record(
            a_checkin(meeting, uuid.uuid4(), status="pending_review", evidence=b"jpg")
        ).key,
        store.record(a_checkin(meeting, uuid.uuid4())).key,
        store.record(a_checkin(meeting, uuid.uuid4())).key,
    ]
    store.mark_uploaded(
        [
            {"key": keys[0], "result": "recorded", "status": "approved"},
            {"key": keys[1], "result": "recorded", "status": "pending_review"},
            {"key": keys[2], "result": "refused", "reason": "not expected"},
            {"key": keys[3], "result": "refused", "reason": "collided; send it again"},
        ]
    )
    assert store.outbox_counts() == {"done": 1, "evidence": 1, "refused": 1, "pending": 1}
    assert [i.key for i in store.pending_uploads()] == [keys[3]]
    assert store.pending_evidence() == [(keys[1], b"jpg")]
    store.mark_evidence_sent(keys[1])
    assert store.pending_evidence() == []
    assert store.queue_depth() == 1


def test_queue_depth_reaches_the_status(tmp_path: Path, credentials: CredentialStore) -> None:
    status = SyncStatus()
    store = LocalStore(tmp_path / "kiosk.db", outbox_key=credentials.outbox_key, status=status)
    store.record(a_checkin(uuid.uuid4(), uuid.uuid4()))
    assert status.snapshot.queue_depth == 1
    store.close()
    reopened = LocalStore(tmp_path / "kiosk.db", status=SyncStatus())
    assert reopened.queue_depth() == 1
    reopened.close()


def test_unreadable_outbox_rows_are_set_aside_and_the_rest_still_go(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    status = SyncStatus()
    store = LocalStore(tmp_path / "kiosk.db", outbox_key=credentials.outbox_key, status=status)
    keys = [store.record(a_checkin(uuid.uuid4(), uuid.uuid4())).key for _ in range(8)]
    # Damage three rows the ways a disk or a hand edit can: bad JSON, bytes that are not
    # UTF-8, and a payload copied from another row.
    with sqlite3.connect(tmp_path / "kiosk.db") as other:
        other.execute('UPDATE outbox SET payload = \'{"key": "\' WHERE key = ?', (keys[0],))
        other.execute(
            "UPDATE outbox SET payload = CAST(X'7b22ff' AS TEXT) WHERE key = ?", (keys[3],)
        )
        other.execute(
            "UPDATE outbox SET payload = (SELECT payload FROM outbox WHERE key = ?) WHERE key = ?",
            (keys[7], keys[5]),
        )
    items = store.pending_uploads(limit=4)
    # The batch is filled from behind the damaged rows, oldest first.
    assert [i.key for i in items] == [keys[1], keys[2], keys[4], keys[6]]
    assert [i.key for i in store.pending_uploads()] == [keys[1], keys[2], keys[4], keys[6], keys[7]]
    aside = store.set_aside()
    assert [row.key for row in aside] == [keys[0], keys[3], keys[5]]
    assert "not valid JSON" in aside[0].reason
    assert "not text" in aside[1].reason
    assert "names another check-in" in aside[2].reason
    assert (store.queue_depth(), store.set_aside_count()) == (5, 3)
    assert (status.snapshot.queue_depth, status.snapshot.set_aside) == (5, 3)
    # Kept as they were: nothing of a set-aside row is lost or rewritten.
    with sqlite3.connect(tmp_path / "kiosk.db") as other:
        raw = other.execute(
            "SELECT CAST(payload AS BLOB) FROM outbox WHERE key = ?", (keys[3],)
        ).fetchone()
        assert raw == (b'{"\xff',)
        assert other.execute("SELECT count(*) FROM checkins").fetchone() == (8,)
    store.close()
    reopened_status = SyncStatus()
    LocalStore(tmp_path / "kiosk.db", status=reopened_status).close()
    assert reopened_status.snapshot.set_aside == 3


def test_gallery_for_a_meeting_holds_its_expected_people(store: LocalStore) -> None:
    members = {str(uuid.uuid4()): f"Member {i}" for i in range(4)}
    ids = list(members)
    named = a_meeting((ids[0], ids[1]))
    everyone = a_meeting()
    update, templates = snapshot(members, [named, everyone])
    store.apply_gallery(update)
    assert store.gallery_for(named.meeting_id).person_ids == {ids[0], ids[1]}
    assert store.gallery_for(everyone.meeting_id).person_ids == set(ids)
    probe = Embedding(templates[2].vector, MODEL)
    [best] = store.gallery_for(everyone.meeting_id).search(probe, k=1)
    assert best.person_id == ids[2] and best.similarity == pytest.approx(1.0, abs=1e-5)
    assert store.member_name(ids[3]) == "Member 3"
    assert {m.meeting_id for m in store.active_meetings()} == {
        named.meeting_id,
        everyone.meeting_id,
    }
    with pytest.raises(StoreError, match="not in this kiosk's gallery"):
        store.gallery_for(uuid.uuid4())


def test_a_meeting_that_expects_nobody_recognises_nobody(store: LocalStore) -> None:
    members = {str(uuid.uuid4()): f"Member {i}" for i in range(3)}
    ids = list(members)
    # The kiosk holds these people for the other meeting; the first one expects nobody.
    nobody, named = a_meeting(everyone=False), a_meeting((ids[0], ids[1]))
    update, templates = snapshot(members, [nobody, named])
    store.apply_gallery(update)
    assert store.gallery_for(nobody.meeting_id).person_ids == set()
    assert (
        store.gallery_for(nobody.meeting_id).search(Embedding(templates[0].vector, MODEL), k=1)
        == []
    )
    assert store.expects_nobody(nobody.meeting_id) and not store.expects_nobody(named.meeting_id)
    assert store.gallery_for(named.meeting_id).person_ids == {ids[0], ids[1]}
    with pytest.raises(StoreError, match="not in this kiosk's gallery"):
        store.expects_nobody(uuid.uuid4())


def test_a_snapshot_that_keeps_the_version_still_changes_what_is_read(
    store: LocalStore,
) -> None:
    """A meeting's list changing brings a snapshot of the same gallery version (no template
    was added or deleted): readers caching on the version would keep the old meeting."""
    members = {str(uuid.uuid4()): "Ama"}
    meeting = a_meeting(everyone=False)
    update, _templates = snapshot(members, [meeting])
    store.apply_gallery(update)
    before = store.gallery_generation()
    assert store.gallery_for(meeting.meeting_id).person_ids == set()
    listed = replace(meeting, expected_member_ids=tuple(members))
    store.apply_gallery(replace(update, meetings=[listed]))
    assert store.gallery_version() == update.version
    assert store.gallery_generation() > before
    assert store.gallery_for(meeting.meeting_id).person_ids == set(members)
    store.wipe_gallery()
    assert store.gallery_generation() > before + 1


def test_a_delta_deletes_at_once_and_keeps_unchanged_lists(store: LocalStore) -> None:
    members = {str(uuid.uuid4()): f"Member {i}" for i in range(3)}
    ids = list(members)
    meeting = a_meeting()
    update, templates = snapshot(members, [meeting])
    store.apply_gallery(update)
    assert len(store.gallery_for(meeting.meeting_id)) == 3
    delta = GalleryUpdate(
        version=2,
        model_id=MODEL,
        full=False,
        scope="s1",
        templates=[],
        deleted_template_ids=[templates[0].template_id],
        deleted_member_ids=[ids[1]],
        revoked_badge_ids=["b-1"],
    )
    store.apply_gallery(delta)
    assert store.gallery_for(meeting.meeting_id).person_ids == {ids[2]}
    assert store.member_name(ids[0]) == "Member 0"  # members: None means unchanged
    assert store.is_badge_revoked("b-1") and not store.is_badge_revoked("b-2")
    assert store.gallery_version() == 2


def test_templates_are_encrypted_at_rest_and_bound_to_their_row(
    store: LocalStore, tmp_path: Path
) -> None:
    members = {str(uuid.uuid4()): "Ama", str(uuid.uuid4()): "Kofi"}
    meeting = a_meeting()
    update, templates = snapshot(members, [meeting])
    store.apply_gallery(update)
    raw = (tmp_path / "kiosk.db").read_bytes() + (tmp_path / "kiosk.db-wal").read_bytes()
    assert templates[0].vector.astype("<f4").tobytes()[:64] not in raw
    # A ciphertext moved to another member's row no longer opens.
    with sqlite3.connect(tmp_path / "kiosk.db") as other:
        rows = other.execute("SELECT template_id, nonce, sealed FROM templates").fetchall()
        other.execute(
            "UPDATE templates SET nonce = ?, sealed = ? WHERE template_id = ?",
            (rows[0][1], rows[0][2], rows[1][0]),
        )
    store.set_state("gallery_version", "99")  # invalidates the decrypted cache
    with pytest.raises(CredentialError, match="does not open"):
        store.gallery_for(meeting.meeting_id)


def test_an_update_is_all_or_nothing(store: LocalStore) -> None:
    members = {str(uuid.uuid4()): "Ama"}
    meeting = a_meeting()
    update, _ = snapshot(members, [meeting])
    store.apply_gallery(update)
    bad, _ = snapshot({str(uuid.uuid4()): "Kofi"}, [meeting], version=2)
    broken = GalleryUpdate(**{**bad.__dict__, "members": [None]})  # type: ignore[list-item]
    with pytest.raises(AttributeError):
        store.apply_gallery(broken)
    assert store.gallery_version() == 1
    assert store.gallery_for(meeting.meeting_id).person_ids == set(members)


def test_a_missing_template_key_says_to_pair_again(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    credentials.create_template_key()
    store = LocalStore(
        tmp_path / "kiosk.db",
        template_key=credentials.template_key,
        outbox_key=credentials.outbox_key,
    )
    meeting = a_meeting()
    store.apply_gallery(snapshot({str(uuid.uuid4()): "Ama"}, [meeting])[0])
    store.close()
    credentials.forget()
    reopened = LocalStore(
        tmp_path / "kiosk.db",
        template_key=credentials.template_key,
        outbox_key=credentials.outbox_key,
    )
    with pytest.raises(CredentialError, match="sonta kiosk unpair"):
        reopened.gallery_for(meeting.meeting_id)
    reopened.close()


def test_a_file_that_is_not_a_database_gives_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    path.write_bytes(b"this is not a database at all, just some text" * 100)
    with pytest.raises(StoreError, match=r"damaged.*sonta kiosk unpair"):
        LocalStore(path)


def test_a_damaged_database_gives_the_way_out(tmp_path: Path, credentials: CredentialStore) -> None:
    path = tmp_path / "kiosk.db"
    store = LocalStore(path, outbox_key=credentials.outbox_key)
    for _ in range(50):
        store.record(a_checkin(uuid.uuid4(), uuid.uuid4()))
    store.close()
    data = bytearray(path.read_bytes())
    data[4096 : 4096 * 6] = np.random.default_rng(3).bytes(4096 * 5)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"damaged.*sonta kiosk unpair"):
        LocalStore(path).queue_depth()


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    LocalStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer release"):
        LocalStore(path)


def test_the_database_is_in_wal_mode_with_full_sync(store: LocalStore) -> None:
    conn = store.db.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)
    assert conn.execute("PRAGMA secure_delete").fetchone() == (1,)
    assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert oct(store.db.path.stat().st_mode & 0o777) == "0o600"
