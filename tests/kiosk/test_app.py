"""The head-less kiosk end to end: a folder of real photos, the real engine and store."""

from __future__ import annotations

import argparse
import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kiosk.app import sync_worker
from kiosk.device.credentials import CredentialStore
from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.errors import KioskError
from kiosk.headless import add_run_parser
from kiosk.inference.engine import FaceEngine
from kiosk.inference.quality import Purpose
from kiosk.storage.local_gallery import GalleryUpdate, MeetingRecord, MemberRecord, TemplateRecord
from kiosk.storage.local_store import LocalStore
from kiosk.syncing.syncer import pair
from sonta.cli import main as sonta_main
from tests.kiosk.backend import LiveBackend
from tests.kiosk.conftest import photo
from tests.kiosk.media import write_folder
from tests.kiosk.pipeline_utils import lined_up

pytestmark = [pytest.mark.model, pytest.mark.slow]

PEOPLE = {"Barack Obama": "obama", "Joe Biden": "biden"}


def _synced_store(engine: FaceEngine, data: Path, credentials: CredentialStore) -> MeetingRecord:
    """A local store holding what a gallery sync would bring: two people and a meeting."""
    credentials.create_template_key()
    ids = {name: str(uuid.uuid5(uuid.NAMESPACE_DNS, name)) for name in PEOPLE}
    templates = []
    for name, photo_name in PEOPLE.items():
        face = engine.embed_single(photo(photo_name), purpose=Purpose.ENROLMENT)
        assert face.embedding is not None
        templates.append(TemplateRecord(str(uuid.uuid4()), ids[name], face.embedding.vector))
    start = datetime.now(UTC) - timedelta(minutes=5)
    meeting = MeetingRecord(
        str(uuid.uuid4()),
        "Sonta Heads",
        "active",
        start,
        start + timedelta(hours=2),
        start + timedelta(minutes=15),
        tuple(ids.values()),
    )
    store = LocalStore(
        data / "kiosk.db", template_key=credentials.template_key, outbox_key=credentials.outbox_key
    )
    store.apply_gallery(
        GalleryUpdate(
            version=1,
            model_id=engine.model_id,
            full=True,
            scope="test",
            templates=templates,
            members=[MemberRecord(i, n, "Choir") for n, i in ids.items()],
            meetings=[meeting],
            revoked_badge_ids=[],
        )
    )
    store.close()
    return meeting


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_run_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_folder_of_real_photos_checks_the_member_in_once_and_not_the_stranger(
    engine: FaceEngine,
    credentials: CredentialStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FACE_MODEL", "vectron")
    monkeypatch.setenv("FACE_MODEL_CACHE", str(tmp_path / "no-cache"))
    data = tmp_path / "data"
    _synced_store(engine, data, kiosk_credentials(data))  # the entries `run` reads
    blank = np.full((480, 640, 3), 90, np.uint8)
    folder = write_folder(
        tmp_path / "frames",
        [
            lined_up(engine, "obama3"),
            blank,
            lined_up(engine, "yaoming"),
            blank,
            lined_up(engine, "obama2"),
        ],
    )
    argv = [
        "run",
        "--headless",
        "--json",
        "--offline",
        "--source",
        str(folder),
        "--fps",
        "15",
        "--repeat",
        "10",
        "--data-dir",
        str(data),
    ]
    assert _run(argv) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    decisions = [(e["event"], e.get("name")) for e in printed if e["event"] != "source"]
    assert decisions == [
        ("checked_in", "Barack Obama"),
        ("not_recognised", None),
        ("already_checked_in", "Barack Obama"),
    ]
    checked = printed[[e["event"] for e in printed].index("checked_in")]
    assert checked["method"] == "face" and checked["late"] is False
    states = [e["state"] for e in printed if e["event"] == "source"]
    assert states[0] == "starting" and states[-1] == "stopped"
    with sqlite3.connect(data / "kiosk.db") as db:
        assert db.execute("SELECT count(*) FROM checkins").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM outbox").fetchone() == (1,)


def test_without_an_open_meeting_the_run_says_what_to_do(
    credentials: CredentialStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FACE_MODEL", "vectron")
    monkeypatch.setenv("FACE_MODEL_CACHE", str(tmp_path / "no-cache"))
    folder = write_folder(tmp_path / "frames", [np.full((480, 640, 3), 90, np.uint8)])
    argv = [
        "run",
        "--headless",
        "--offline",
        "--source",
        str(folder),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    assert _run(argv) == 2
    assert "No meeting is open now" in capsys.readouterr().err
    assert _run([*argv, "--det-size", "300"]) == 2
    assert "a multiple of 32 from 160 to 640" in capsys.readouterr().err
    argv.remove("--offline")
    assert _run(argv) == 2
    assert "not paired: run `sonta kiosk pair URL CODE`" in capsys.readouterr().err
    argv.remove("--headless")
    assert _run(argv) == 2
    # The same through the `sonta` command itself.
    assert sonta_main(["kiosk", *argv, "--headless", "--offline"]) == 2
    assert "No meeting is open now" in capsys.readouterr().err


# --- against a real backend (PostgreSQL + Redis, loopback HTTP) -------------------


def _paired(backend: LiveBackend, credentials: CredentialStore, data: Path) -> None:
    store = LocalStore(
        data / "kiosk.db", template_key=credentials.template_key, outbox_key=credentials.outbox_key
    )
    try:
        pair(backend.url, backend.pairing_code(), store=store, credentials=credentials)
    finally:
        store.close()


def _badge_image(backend: LiveBackend, member: str) -> tuple[str, str, np.ndarray]:
    """(badge id, token, picture) of a badge issued by the backend, as it would print it."""
    issued = backend.admin.post(f"/api/members/{member}/badges", headers=backend.headers)
    assert issued.status_code == 201, issued.text
    png = backend.admin.get(f"/api/members/{member}/badge.png", headers=backend.headers)
    assert png.status_code == 200
    image = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_COLOR)
    return str(issued.json()["id"]), str(issued.json()["token"]), image


def _holding(face: np.ndarray, badge: np.ndarray, width: int = 200) -> np.ndarray:
    out = face.copy()
    out[140 : 140 + width, 10 : 10 + width] = cv2.resize(badge, (width, width))
    return out


def _run_printed(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert _run(argv) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.network
def test_paired_kiosk_checks_the_member_in_once_on_the_server(
    engine: FaceEngine,
    backend: LiveBackend,
    credentials: CredentialStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FACE_MODEL", "vectron")
    monkeypatch.setenv("FACE_MODEL_CACHE", str(tmp_path / "no-cache"))
    obama = backend.member("Barack Obama", engine, "obama")
    backend.member("Joe Biden", engine, "biden")
    meeting = backend.meeting()
    data = tmp_path / "data"
    _paired(backend, credentials, data)
    blank = np.full((480, 640, 3), 90, np.uint8)
    folder = write_folder(
        tmp_path / "frames",
        [
            lined_up(engine, "obama3"),
            blank,
            lined_up(engine, "yaoming"),
            blank,
            lined_up(engine, "obama2"),
        ],
    )
    argv = ["run", "--headless", "--json", "--source", str(folder), "--fps", "15"]
    printed = _run_printed([*argv, "--repeat", "10", "--data-dir", str(data)], capsys)
    decisions = [(e["event"], e.get("name")) for e in printed if e["event"] != "source"]
    assert decisions == [
        ("checked_in", "Barack Obama"),
        ("not_recognised", None),
        ("already_checked_in", "Barack Obama"),
    ]
    assert backend.count("SELECT count(*) FROM attendance_records") == 1
    assert (
        backend.count(
            "SELECT count(*) FROM attendance_records WHERE status = 'approved' "
            f"AND member_id = '{obama}' AND meeting_id = '{meeting}' AND method = 'face'"
        )
        == 1
    )
    # A second run of the same people: still one record, and the kiosk says so.
    again = _run_printed([*argv, "--repeat", "10", "--data-dir", str(data)], capsys)
    assert ("already_checked_in", "Barack Obama") in [(e["event"], e.get("name")) for e in again]
    assert backend.count("SELECT count(*) FROM attendance_records") == 1


@pytest.mark.network
def test_badge_and_face_with_a_real_badge_then_the_badge_revoked(
    engine: FaceEngine,
    backend: LiveBackend,
    credentials: CredentialStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FACE_MODEL", "vectron")
    monkeypatch.setenv("FACE_MODEL_CACHE", str(tmp_path / "no-cache"))
    obama = backend.member("Barack Obama", engine, "obama")
    biden = backend.member("Joe Biden", engine, "biden")
    backend.meeting()
    badge_id, _token, badge = _badge_image(backend, obama)
    data = tmp_path / "data"
    _paired(backend, credentials, data)
    folder = write_folder(tmp_path / "badge", [_holding(lined_up(engine, "obama3"), badge)])
    argv = ["run", "--headless", "--json", "--fps", "15", "--repeat", "12"]
    printed = _run_printed([*argv, "--source", str(folder), "--data-dir", str(data)], capsys)
    decisions = [e for e in printed if e["event"] != "source"]
    assert [(e["event"], e.get("name")) for e in decisions] == [
        ("badge_read", "Barack Obama"),
        ("checked_in", "Barack Obama"),
    ]
    assert decisions[1]["method"] == "badge_face"
    assert (
        backend.count(
            "SELECT count(*) FROM attendance_records WHERE method = 'badge_face' "
            f"AND member_id = '{obama}'"
        )
        == 1
    )
    # Revoked on the server; the kiosk learns it at its next sync (the run starts with one).
    _, _, biden_badge = _badge_image(backend, biden)
    revoked = backend.admin.get(f"/api/members/{biden}/badges", headers=backend.headers)
    biden_badge_id = revoked.json()[0]["id"]
    answer = backend.admin.post(
        f"/api/members/{biden}/badges/{biden_badge_id}/revoke", headers=backend.headers
    )
    assert answer.status_code == 200, answer.text
    folder = write_folder(tmp_path / "revoked", [_holding(lined_up(engine, "biden"), biden_badge)])
    printed = _run_printed([*argv, "--source", str(folder), "--data-dir", str(data)], capsys)
    refused = [e for e in printed if e["event"] == "badge_refused"]
    assert refused and "cancelled" in refused[0]["reason"]
    assert badge_id != biden_badge_id


def test_a_revoked_kiosk_is_told_it_was_revoked_not_that_it_is_unpaired(
    engine: FaceEngine, credentials: CredentialStore, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "kiosk.db")
    try:
        store.set_state("server_url", "http://127.0.0.1:9")
        store.set_state("revoked", "2026-01-04T10:00:00+00:00")
        with pytest.raises(KioskError) as refused:
            sync_worker(store, credentials, engine, source=None)  # type: ignore[arg-type]
    finally:
        store.close()
    assert str(refused.value).startswith("An admin revoked this kiosk at 2026-01-04T10:00")
    assert "not paired" not in str(refused.value)
