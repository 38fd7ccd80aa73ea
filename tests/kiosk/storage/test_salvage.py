"""Salvaging a damaged kiosk database: real SQLite files with real bytes overwritten."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest

from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.errors import StoreError
from kiosk.storage.local_store import LocalStore
from kiosk.storage.salvage import salvage
from sonta.cli import main
from tests.kiosk.store_utils import a_checkin

PAGE = 4096


def queued(path: Path, count: int) -> dict[str, str]:
    """`count` check-ins queued in a kiosk database (face data sealed with the kiosk's
    outbox key from its keyring); their upload payloads by key."""
    store = LocalStore(path, outbox_key=kiosk_credentials(path.parent).outbox_key)
    for _ in range(count):
        store.record(a_checkin(uuid.uuid4(), uuid.uuid4()))
    store.close()
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT key, payload FROM outbox").fetchall())


def overwrite_middle(path: Path) -> bytes:
    """4 KiB of noise over the page in the middle of the file, as a failing disk leaves it."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 // PAGE * PAGE
    data[middle : middle + PAGE] = np.random.default_rng(3).bytes(PAGE)
    path.write_bytes(bytes(data))
    return bytes(data)


def outbox(path: Path) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT key, state, payload FROM outbox").fetchall()
    return {key: (state, payload) for key, state, payload in rows}


def test_unpair_of_a_damaged_database_salvages_its_queue_and_says_how_many(
    tmp_path: Path, keyring_dir: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "kiosk"
    database = folder / "kiosk.db"
    folder.mkdir()
    original = queued(database, 200)
    damaged = overwrite_middle(database)
    with pytest.raises(StoreError, match="damaged"):
        LocalStore(database)

    assert main(["kiosk", "unpair", "--data-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    [aside] = folder.glob("kiosk.db.damaged-*Z")  # beside it: its -wal and -shm
    assert aside.read_bytes() == damaged  # the damaged copy is kept as it was
    assert "200 unfinished check-in(s) were read back" in out, out
    assert "go out after pairing" in out and f"sonta kiosk salvage {aside}" in out

    rows = outbox(database)
    assert set(rows) == set(original)
    pending = {key: payload for key, (state, payload) in rows.items() if state == "pending"}
    set_aside = [key for key, (state, _) in rows.items() if state == "quarantined"]
    # The noise destroyed one page of upload items; their check-ins were still readable.
    assert len(pending) >= 190 and len(pending) + len(set_aside) == 200
    assert all(payload == original[key] for key, payload in pending.items())
    assert not any('"probe"' in payload for payload in pending.values())
    # Unpairing kept the outbox key: the sealed face data of every salvaged row opens.
    store = LocalStore(database, outbox_key=kiosk_credentials(folder).outbox_key)
    items = store.pending_uploads(500)
    assert [i.key for i in items] == list(pending)
    assert all(len(i.payload["probe"]) == 2732 for i in items)
    assert {row.key for row in store.set_aside()} == set(set_aside)
    store.close()

    # Reading the same copy again saves nothing twice.
    assert main(["kiosk", "salvage", str(aside), "--data-dir", str(folder)]) == 0
    again = capsys.readouterr().out
    assert "0 unfinished check-in(s) were read back" in again
    assert "(200 were already here)" in again and f"Queued here: {len(pending)}" in again
    assert outbox(database) == rows


def test_only_unfinished_check_ins_are_salvaged_with_their_state(
    tmp_path: Path, keyring_dir: Path
) -> None:
    source = tmp_path / "old.db"
    keys = list(queued(source, 4))
    store = LocalStore(source, outbox_key=kiosk_credentials(tmp_path).outbox_key)
    store.mark_uploaded(
        [
            {"key": keys[0], "result": "recorded", "status": "approved"},
            {"key": keys[1], "result": "refused", "reason": "no such meeting"},
        ]
    )
    store.close()
    into = LocalStore(tmp_path / "new.db")
    result = salvage(source, into)
    assert (result.saved, result.already_there, result.unreadable) == (3, 0, 0)
    assert into.outbox_counts() == {"refused": 1, "pending": 2}
    assert into.db.read("SELECT reason FROM outbox WHERE key = ?", (keys[1],))[0][0] == (
        "no such meeting"
    )
    into.close()


def test_a_file_with_nothing_readable_is_one_clear_sentence(
    tmp_path: Path, keyring_dir: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "kiosk.db.damaged-x"
    garbage.write_bytes(b"garbage" * 1000)
    folder = tmp_path / "kiosk"
    missing = tmp_path / "no-such-copy.db"
    assert main(["kiosk", "salvage", str(missing), "--data-dir", str(folder)]) == 2
    assert "is not a file" in capsys.readouterr().err
    assert not folder.exists()  # a mistyped name changes nothing
    assert main(["kiosk", "salvage", str(garbage), "--data-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Nothing can be read from") and "Traceback" not in err
    assert main(["kiosk", "salvage", str(folder / "kiosk.db"), "--data-dir", str(folder)]) == 2
    assert "not the database in use" in capsys.readouterr().err
