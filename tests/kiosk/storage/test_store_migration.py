"""A kiosk.db of the previous schema, with data in it, opened by this release.

Schema 5 says whether a meeting expects everyone the kiosk holds. Before it, an empty
list of expected people read as "everyone held"; a server of per-kiosk galleries meant
nobody by it, so migrated meetings read that way, and the next sync fetches the
meetings again (their digest is forgotten). Nothing else is touched: queued check-ins,
templates, names and the rest of the sync state stay as they were.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.device.credentials import CredentialStore
from kiosk.protocol.wire import checkin_item
from kiosk.storage.database import MIGRATIONS
from kiosk.storage.local_store import LocalStore
from kiosk.storage.sealing import seal, seal_item
from tests.kiosk.store_utils import MODEL, a_checkin, unit_vector

PREVIOUS = 4


def test_a_previous_schema_database_keeps_its_data_and_reads_empty_lists_as_nobody(
    tmp_path: Path, credentials: CredentialStore
) -> None:
    credentials.create_template_key()
    path = tmp_path / "kiosk.db"
    ama, kofi = str(uuid.uuid4()), str(uuid.uuid4())
    unlisted, listed = str(uuid.uuid4()), str(uuid.uuid4())
    queued = a_checkin(uuid.UUID(listed), uuid.UUID(ama))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for number, script in enumerate(MIGRATIONS[:PREVIOUS]):
        conn.executescript(f"BEGIN; {script} PRAGMA user_version = {number + 1}; COMMIT;")
    start = datetime.now(UTC) - timedelta(minutes=5)
    for meeting_id, expected in ((unlisted, []), (listed, [ama])):
        conn.execute(
            "INSERT INTO meetings (meeting_id, title, status, starts_at, ends_at, late_after, "
            "expected_member_ids, liveness) VALUES (?, 'Heads', 'active', ?, ?, NULL, ?, 'never')",
            (
                meeting_id,
                start.isoformat(),
                (start + timedelta(hours=2)).isoformat(),
                json.dumps(expected),
            ),
        )
    key = credentials.template_key()
    for member_id, name in ((ama, "Ama"), (kofi, "Kofi")):
        conn.execute("INSERT INTO members VALUES (?, ?, 'Choir')", (member_id, name))
        template_id = str(uuid.uuid4())
        nonce, sealed = seal(
            key, unit_vector(), member_id=member_id, template_id=template_id, model_id=MODEL
        )
        conn.execute(
            "INSERT INTO templates VALUES (?, ?, ?, ?, ?)",
            (template_id, member_id, MODEL, nonce, sealed),
        )
    state = {
        "gallery_version": "7",
        "gallery_model_id": MODEL,
        "members_digest": "m-digest",
        "meetings_digest": "old-digest",
    }
    conn.executemany("INSERT INTO sync_state VALUES (?, ?)", state.items())
    conn.execute(
        "INSERT INTO checkins (key, meeting_id, member_id, method, status, similarity, "
        "device_time, recorded_at) VALUES (?, ?, ?, 'face', 'approved', 0.7, ?, ?)",
        (queued.key, listed, ama, queued.device_time.isoformat(), start.isoformat()),
    )
    item = seal_item(credentials.outbox_key(), checkin_item(queued))
    conn.execute("INSERT INTO outbox (key, payload) VALUES (?, ?)", (queued.key, json.dumps(item)))
    conn.close()

    store = LocalStore(
        path, template_key=credentials.template_key, outbox_key=credentials.outbox_key
    )
    try:
        assert store.db.connection().execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        # The meeting that listed nobody recognises nobody (it used to be everyone held).
        assert store.expects_nobody(unlisted) and store.gallery_for(unlisted).person_ids == set()
        assert store.gallery_for(listed).person_ids == {ama}
        # Its meetings come again at the next sync; everything else is as it was.
        assert store.get_state("meetings_digest") is None
        assert store.get_state("members_digest") == "m-digest"
        assert store.gallery_version() == 7 and store.template_count() == 2
        assert store.member_names() == {ama: "Ama", kofi: "Kofi"}
        [pending] = store.pending_uploads()
        assert (pending.key, pending.payload) == (queued.key, checkin_item(queued))
    finally:
        store.close()
