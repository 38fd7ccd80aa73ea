"""The head-less kiosk end to end: a folder of real photos, the real engine and store."""

from __future__ import annotations

import argparse
import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from kiosk.credentials import CredentialStore
from kiosk.headless import add_run_parser
from kiosk.inference.engine import FaceEngine
from kiosk.inference.quality import Purpose
from kiosk.local_gallery import GalleryUpdate, MeetingRecord, MemberRecord, TemplateRecord
from kiosk.store import LocalStore
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
    store = LocalStore(data / "kiosk.db", template_key=credentials.template_key)
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
    _synced_store(engine, data, credentials)
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
    argv = [
        "run",
        "--headless",
        "--offline",
        "--source",
        str(tmp_path),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    assert _run(argv) == 2
    assert "No meeting is open now" in capsys.readouterr().err
