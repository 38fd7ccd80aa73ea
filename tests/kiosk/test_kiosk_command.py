"""`sonta kiosk pair|status|unpair|sync`: real commands against a real backend."""

from __future__ import annotations

import csv
import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.inference.engine import FaceEngine
from kiosk.storage.local_store import LocalStore
from server.backend.core.config import Settings
from server.backend.models import Base
from sonta.cli import main
from tests.kiosk.backend import LiveBackend, live_backend
from tests.kiosk.store_utils import a_checkin
from tests.kiosk.syncing.test_sync_crash import record_offline
from tests.server.utils import admin_headers

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
    # Paired with the server's http address: the status says it travels unencrypted.
    assert "Server: http (not encrypted): the credential, the gallery and check-ins" in text
    assert report["server_encrypted"] is False
    # Unpair keeps what was not uploaded yet.
    store = LocalStore(data_dir / "kiosk.db", outbox_key=kiosk_credentials(data_dir).outbox_key)
    store.record(a_checkin(uuid.uuid4(), uuid.uuid4()))
    store.close()
    assert main(["kiosk", "unpair"]) == 0
    out = capsys.readouterr().out
    assert "1 check-in(s) not yet uploaded are kept" in out
    assert not kiosk_credentials(data_dir).is_paired()
    assert main(["kiosk", "status"]) == 0
    text = capsys.readouterr().out
    assert "not paired" in text and "Queue: 1 check-in(s)" in text and "0 template(s)" in text


def test_a_wrong_code_is_one_clear_sentence(
    data_dir: Path, backend: LiveBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kiosk", "pair", backend.url, "NOPE-NOPE"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The pairing code was refused") and "Traceback" not in err


def test_a_production_server_refusing_plain_http_pairing_says_what_to_do(
    data_dir: Path, pg_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    production = pg_settings.model_copy(update={"app_env": "production"})
    with live_backend(production) as backend:
        assert main(["kiosk", "pair", backend.url, backend.pairing_code("Hall")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: The server refused to pair over plain http ({backend.url})")
    assert "Ask an admin for a new code and pair with the server's https address" in err
    assert "ALLOW_HTTP_PAIRING=true" in err and "Traceback" not in err
    assert not kiosk_credentials(data_dir).is_paired()
    assert main(["kiosk", "status"]) == 0
    text = capsys.readouterr().out
    assert "not paired" in text and "Server:" not in text


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


def test_status_shows_offline_and_the_last_error_until_a_sync_succeeds(
    data_dir: Path, backend: LiveBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kiosk", "pair", backend.url, backend.pairing_code("Hall")]) == 0
    assert main(["kiosk", "sync", "--once"]) == 0
    backend.stop()
    try:
        main(["kiosk", "sync", "--once"])  # the server is down: this try fails
        capsys.readouterr()
        assert main(["kiosk", "status"]) == 0
        shown = capsys.readouterr().out
        assert "Connection: OFFLINE since the last try, 20" in shown
        assert f"The server at {backend.url} cannot be reached" in shown
    finally:
        backend.start()
    assert main(["kiosk", "sync", "--once"]) == 0
    capsys.readouterr()
    assert main(["kiosk", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["last_error"] is None


def paired_with_offline_check_ins(
    data_dir: Path, backend: LiveBackend, engine: FaceEngine, *, meetings: int
) -> tuple[LocalStore, list[str]]:
    """Paired and synced by the commands, then Obama and Biden checked in offline at each
    of ``meetings`` meetings: the kiosk's store (open) and the meetings' ids."""
    people = {
        "obama": backend.member("Barack Obama", engine, "obama", "obama2"),
        "biden": backend.member("Joe Biden", engine, "biden"),
    }
    held = [backend.meeting(title=f"Meeting {i}") for i in range(meetings)]
    assert main(["kiosk", "pair", backend.url, backend.pairing_code("Hall")]) == 0
    assert main(["kiosk", "sync", "--once"]) == 0
    credentials = kiosk_credentials(data_dir)
    store = LocalStore(
        data_dir / "kiosk.db",
        template_key=credentials.template_key,
        outbox_key=credentials.outbox_key,
    )
    record_offline(store, engine, people, held)
    return store, held


def test_one_damaged_queued_row_is_set_aside_and_the_rest_are_sent(
    data_dir: Path, backend: LiveBackend, engine: FaceEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = paired_with_offline_check_ins(data_dir, backend, engine, meetings=5)
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


def redeploy_empty(backend: LiveBackend) -> None:
    """The server is stopped, its database emptied, and started again (a new admin signs in)."""
    backend.stop()
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with backend.admin.app.state.backend.sessions() as session:  # type: ignore[attr-defined]
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        session.commit()
    backend.headers = admin_headers(backend.admin)
    backend.start()


def test_check_ins_refused_after_a_redeploy_are_reported_kept_and_exported(
    data_dir: Path,
    tmp_path: Path,
    backend: LiveBackend,
    engine: FaceEngine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, meetings = paired_with_offline_check_ins(data_dir, backend, engine, meetings=3)
    store.close()

    # The server is re-deployed empty; the operator follows the advice: unpair, pair, sync.
    redeploy_empty(backend)
    assert main(["kiosk", "unpair"]) == 0
    assert "6 check-in(s) not yet uploaded are kept" in capsys.readouterr().out
    assert main(["kiosk", "pair", backend.url, backend.pairing_code("Hall again")]) == 0
    capsys.readouterr()
    assert main(["kiosk", "sync", "--once"]) == 0
    out, err = capsys.readouterr()
    assert "0 queued" in out
    assert "the server refused 6 check-in(s) for good: no such meeting (6)" in err
    assert "sonta kiosk export-unsent FILE" in err

    # The server kept them for its admins, with the kiosk and the reason.
    response = backend.admin.get("/api/kiosk-refusals", headers=backend.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["count"] == 6
    assert {(r["kiosk_name"], r["reason"]) for r in page["data"]} == {
        ("Hall again", "no such meeting")
    }
    assert {r["meeting_id"] for r in page["data"]} == set(meetings)

    # The kiosk writes them out with the names it knew when it recorded them.
    assert main(["kiosk", "status"]) == 0
    assert "6 refused by the server" in capsys.readouterr().out
    exported = tmp_path / "unsent.csv"
    assert main(["kiosk", "export-unsent", str(exported)]) == 0
    assert "Wrote 6 check-in(s) not sent" in capsys.readouterr().out
    with exported.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["member_name"], r["meeting_title"]) for r in rows} == {
        (name, f"Meeting {i}") for name in ("Barack Obama", "Joe Biden") for i in range(3)
    }
    assert {r["state"] for r in rows} == {"refused by the server"}
    assert {r["reason"] for r in rows} == {"no such meeting"}
    assert all(r["device_time"].startswith("20") and r["key"] for r in rows)
    # An existing file is never overwritten.
    before = exported.read_bytes()
    assert main(["kiosk", "export-unsent", str(exported)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert exported.read_bytes() == before
