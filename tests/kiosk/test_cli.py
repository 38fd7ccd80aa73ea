"""`sonta kiosk pair|status|unpair|sync`: real commands against a real backend."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from kiosk.credentials import CredentialStore
from kiosk.inference.engine import FaceEngine
from kiosk.store import LocalStore
from sonta.cli import main
from tests.kiosk.backend import LiveBackend
from tests.kiosk.store_utils import a_checkin
from tests.kiosk.test_sync_crash import record_offline

pytestmark = [pytest.mark.network, pytest.mark.model]


@pytest.fixture
def data_dir(
    tmp_path: Path, keyring_dir: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> Path:
    folder = tmp_path / "kiosk"
    monkeypatch.setenv("SONTA_KIOSK_DIR", str(folder))
    monkeypatch.setenv("FACE_MODEL", "vectron")
    return folder


def test_pair_sync_status_and_unpair(
    data_dir: Path, backend: LiveBackend, engine: FaceEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    backend.member("Barack Obama", engine, "obama")
    backend.meeting()
    assert main(["kiosk", "pair", backend.url, backend.pairing_code("Hall")]) == 0
    assert "Paired as kiosk 'Hall'" in capsys.readouterr().out
    assert main(["kiosk", "sync", "--once"]) == 0
    assert main(["kiosk", "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert report["paired"] and report["kiosk_name"] == "Hall"
    assert (report["templates"], report["members"], report["open_meetings"]) == (1, 1, 1)
    assert report["model_pack"]["ready"], report["model_pack"]
    assert report["model_pack"]["source"] == "package"
    assert report["keyring"].endswith("FolderKeyring")
    assert main(["kiosk", "status"]) == 0
    text = capsys.readouterr().out
    assert "Pairing: kiosk 'Hall'" in text and "Queue: 0 check-in(s)" in text
    assert "Last sync: 20" in text
    # Unpair keeps what was not uploaded yet.
    store = LocalStore(data_dir / "kiosk.db")
    store.record(a_checkin(uuid.uuid4(), uuid.uuid4()))
    store.close()
    assert main(["kiosk", "unpair"]) == 0
    out = capsys.readouterr().out
    assert "1 check-in(s) not yet uploaded are kept" in out
    assert not CredentialStore().is_paired()
    assert main(["kiosk", "status"]) == 0
    text = capsys.readouterr().out
    assert "not paired" in text and "Queue: 1 check-in(s)" in text and "0 template(s)" in text


def test_a_wrong_code_is_one_clear_sentence(
    data_dir: Path, backend: LiveBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kiosk", "pair", backend.url, "NOPE-NOPE"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The pairing code was refused") and "Traceback" not in err


def test_a_missing_keyring_entry_says_to_pair_again(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = LocalStore(data_dir / "kiosk.db")
    store.set_state("server_url", "http://127.0.0.1:9")
    store.close()
    assert main(["kiosk", "sync", "--once"]) == 2
    err = capsys.readouterr().err
    assert "no device credential" in err and "sonta kiosk pair URL CODE" in err


def test_a_corrupted_database_is_explained_and_unpair_moves_it_aside(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir.mkdir()
    (data_dir / "kiosk.db").write_bytes(b"garbage" * 1000)
    assert main(["kiosk", "sync", "--once"]) == 2
    err = capsys.readouterr().err
    assert "is damaged" in err and "sonta kiosk unpair" in err and "Traceback" not in err
    assert main(["kiosk", "unpair"]) == 0
    assert "damaged database was kept as" in capsys.readouterr().out
    [aside] = data_dir.glob("kiosk.db.damaged-*")
    assert aside.read_bytes() == b"garbage" * 1000
    assert main(["kiosk", "status"]) == 0  # a fresh database is made
    assert sqlite3.connect(data_dir / "kiosk.db").execute("PRAGMA user_version").fetchone()[0] > 0


def test_one_damaged_queued_row_is_set_aside_and_the_rest_are_sent(
    data_dir: Path, backend: LiveBackend, engine: FaceEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    people = {
        "obama": backend.member("Barack Obama", engine, "obama", "obama2"),
        "biden": backend.member("Joe Biden", engine, "biden"),
    }
    meetings = [backend.meeting(title=f"Meeting {i}") for i in range(5)]
    assert main(["kiosk", "pair", backend.url, backend.pairing_code("Hall")]) == 0
    assert main(["kiosk", "sync", "--once"]) == 0
    store = LocalStore(data_dir / "kiosk.db", template_key=CredentialStore().template_key)
    record_offline(store, engine, people, meetings)
    [damaged] = store.db.read("SELECT key FROM outbox ORDER BY rowid LIMIT 1 OFFSET 3")
    store.close()
    with sqlite3.connect(data_dir / "kiosk.db") as conn:
        conn.execute("UPDATE outbox SET payload = 'not json{' WHERE key = ?", (damaged[0],))
    capsys.readouterr()

    assert main(["kiosk", "sync", "--once", "--batch-size", "4"]) == 0
    out, err = capsys.readouterr()
    assert "0 queued" in out and "Traceback" not in err
    assert "1 queued check-in(s) could not be read back" in err and "sonta kiosk status" in err
    assert backend.count("SELECT count(*) FROM kiosk_checkins") == 9
    assert backend.count("SELECT count(*) FROM attendance_records") == 9

    assert main(["kiosk", "status"]) == 0
    text = capsys.readouterr().out
    assert "Queue: 0 check-in(s) waiting" in text and "Set aside: 1 queued check-in(s)" in text
    assert f"{damaged[0]}: its payload is not valid JSON" in text
    assert main(["kiosk", "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["key"] for row in report["set_aside"]] == [damaged[0]]
    assert report["outbox"] == {"done": 9, "quarantined": 1}
