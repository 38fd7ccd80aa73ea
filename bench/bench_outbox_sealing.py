"""What sealing a queued check-in's face data costs the kiosk, side by side in one run.

Each round records one check-in (a real 112x112 JPEG crop, a 512-value probe; every
other one in the review band, with its evidence crop) twice, interleaved: through
`LocalStore.record` (face data sealed with AES-256-GCM, one committed transaction with
`synchronous=FULL`) and through the same two INSERTs with the face data in clear, as
the release before sealing wrote them, into a second database in the same folder.
Printed: median and p90 per check-in for each, their ratio, the sealing step alone,
reading a batch back for upload (opening the sealed fields) beside reading it in clear,
and sealing in place a queue a previous release left in clear.

    .venv/bin/python bench/bench_outbox_sealing.py [--rounds 300] [--queued 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.protocol.checkins import NewCheckin
from kiosk.protocol.wire import checkin_item
from kiosk.recognition.decisions import evidence_jpeg
from kiosk.storage.local_store import LocalStore
from kiosk.storage.sealing import seal_evidence, seal_item
from tests.kiosk.conftest import photo
from tests.kiosk.store_utils import a_checkin

KEY = os.urandom(32)


def a_face_checkin(index: int, crop: bytes) -> NewCheckin:
    review = index % 2 == 1
    return replace(
        a_checkin(uuid.uuid4(), uuid.uuid4(), status="pending_review" if review else "approved"),
        face_jpeg=crop,
        evidence_jpeg=crop if review else None,
    )


def record_in_clear(store: LocalStore, checkin: NewCheckin) -> None:
    """The previous release's `record`: the same transaction, face data in clear."""
    payload = json.dumps(checkin_item(checkin), separators=(",", ":"))
    with store.db.write() as conn:
        conn.execute(
            "INSERT INTO checkins (key, meeting_id, member_id, method, status, similarity, "
            "device_time, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                checkin.key,
                str(checkin.meeting_id),
                str(checkin.member_id),
                checkin.method,
                checkin.status,
                float(checkin.similarity),
                checkin.device_time.isoformat(),
                datetime.now(UTC).isoformat(),
            ),
        )
        conn.execute(
            "INSERT INTO outbox (key, payload, evidence) VALUES (?, ?, ?)",
            (checkin.key, payload, checkin.evidence_jpeg),
        )


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(len(ordered) * 0.9)]
    return f"median {statistics.median(values) * 1e3:7.3f} ms  p90 {p90 * 1e3:7.3f} ms"


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--queued", type=int, default=1000)
    args = parser.parse_args()
    crop = evidence_jpeg(photo("obama")[100:212, 100:212].copy())
    with tempfile.TemporaryDirectory() as folder:
        sealed_store = LocalStore(Path(folder) / "sealed.db", outbox_key=lambda: KEY)
        clear_store = LocalStore(Path(folder) / "clear.db", outbox_key=lambda: KEY)
        sealed, clear, sealing = [], [], []
        for index in range(args.rounds):
            checkin = a_face_checkin(index, crop)
            other = replace(checkin, key=uuid.uuid4().hex)
            sealed.append(timed(lambda c=checkin: sealed_store.record(c)))
            clear.append(timed(lambda c=other: record_in_clear(clear_store, c)))
            sealing.append(
                timed(
                    lambda c=checkin: (
                        seal_item(KEY, checkin_item(c)),
                        c.evidence_jpeg and seal_evidence(KEY, c.key, c.evidence_jpeg),
                    )
                )
            )
        print(f"check-in with a {len(crop)}-byte crop, {args.rounds} rounds, interleaved:")
        print(f"  record, face data sealed   {ms(sealed)}")
        print(f"  record, face data in clear {ms(clear)}")
        ratio = statistics.median(sealed) / statistics.median(clear)
        print(f"  sealed / clear: {ratio:.2f}x")
        print(f"  the sealing step alone     {ms(sealing)}")
        assert len(sealed_store.pending_uploads(100)) == len(clear_store.pending_uploads(100))
        read_sealed, read_clear = [], []
        for _ in range(30):
            read_sealed.append(timed(lambda: sealed_store.pending_uploads(100)))
            read_clear.append(timed(lambda: clear_store.pending_uploads(100)))
        print(f"read 100 queued for upload, sealed {ms(read_sealed)}")
        print(f"read 100 queued for upload, clear  {ms(read_clear)}")
        ratio = statistics.median(read_sealed) / statistics.median(read_clear)
        print(f"  sealed / clear: {ratio:.2f}x")
        sealed_store.close()
        clear_store.close()
        migrate(Path(folder), crop, args.queued)


def migrate(folder: Path, crop: bytes, count: int) -> None:
    """Sealing in place a queue of `count` check-ins left in clear by the previous release."""
    path = folder / "old.db"
    store = LocalStore(path, outbox_key=lambda: KEY)
    for index in range(count):
        record_in_clear(store, a_face_checkin(index, crop))
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 3")
    started = time.perf_counter()
    LocalStore(path, outbox_key=lambda: KEY).close()
    elapsed = time.perf_counter() - started
    print(f"sealing in place {count} check-ins queued in clear: {elapsed:.2f} s at first open")


if __name__ == "__main__":
    main()
