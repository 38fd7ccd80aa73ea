"""`sonta backup` and `sonta restore` on SQLite and PostgreSQL: a restore gives back every
table as it was backed up, and a restore that cannot succeed changes nothing."""

from __future__ import annotations

import io
import json
import secrets
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from server.backend.core.config import load_settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.core.security.qr import key_id
from server.backend.core.security.templates import TemplateCipher
from server.backend.main import create_app
from server.backend.models import Member
from server.backend.tasks.backups import archive
from server.backend.tasks.backups.schedule import back_up_once, run_schedule, scheduled_archives
from server.backend.tasks.migrate import alembic_config, head_revision
from sonta.cli import main
from tests.server.attendance_utils import make_meeting, make_member, store_checkin
from tests.server.conftest import PG, SECRETS
from tests.server.live import free_port
from tests.server.utils import FAST_ARGON2, FakeMailer, admin_headers, backend_of
from tests.utils.gallery_seed import seed_enrolled

PASSPHRASE = "a passphrase for the secrets"
OTHER_KEY = secrets.token_hex(16)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(**PG, dbname="postgres", autocommit=True)  # type: ignore[arg-type]


@pytest.fixture
def pg_env() -> Iterator[dict[str, str]]:
    """A PostgreSQL database of this test's own: a restore replaces every table in it."""
    name = f"sonta_backup_{secrets.token_hex(6)}"
    with _admin() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield {
            "DATABASE_HOST": PG["host"],
            "DATABASE_PORT": str(PG["port"]),
            "DATABASE_USER": PG["user"],
            "DATABASE_NAME": name,
        }
    finally:
        with _admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The server's environment (set in the process, as the CLI reads it), on either
    database, with a port nothing listens on."""
    values = {
        **SECRETS,
        "FACE_SERVICE_URL": "http://127.0.0.1:9",
        "SONTA_DATA_DIR": str(tmp_path / "data"),
        "PORT": str(free_port()),
    }
    if request.param == "postgresql":
        values.update(request.getfixturevalue("pg_env"))
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _stdin(monkeypatch: pytest.MonkeyPatch, text_in: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text_in))


def populate(values: dict[str, str]) -> dict[str, Any]:
    """Admins, members (some enrolled), a running meeting with check-ins: every kind of
    row a church has after a few weeks."""
    settings = load_settings(values)
    app = create_app(settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with TestClient(app) as client:
        headers = admin_headers(client)
        walk_in = make_member(client, headers, "Kofi Boateng", "Ushers", email="kofi@example.org")
        make_member(client, headers, "Esi Owusu", "Media")
        backend = backend_of(client)
        cipher = TemplateCipher(settings.embedding_encryption_key or "")
        with backend.sessions() as session:
            enrolled = seed_enrolled(
                session, cipher, members=3, model_id=backend.face_model.model_id
            )
        meeting = make_meeting(client, headers)
        store_checkin(client, meeting["id"], str(enrolled[0]), status="approved")
        store_checkin(client, meeting["id"], walk_in["id"])
    return {"meeting": meeting, "enrolled": enrolled, "walk_in": walk_in}


def change(values: dict[str, str], data: dict[str, Any]) -> None:
    """Work done after the backup: a member deleted, one renamed, one added."""
    engine = make_engine(load_settings(values))
    try:
        with make_session_factory(engine)() as session:
            session.delete(session.get(Member, data["enrolled"][1]))
            renamed = session.get(Member, data["enrolled"][2])
            assert renamed is not None
            renamed.full_name = "Renamed After The Backup"
            session.add(Member(full_name="Joined After The Backup", ministry="Choir"))
            session.commit()
    finally:
        engine.dispose()


def every_table(values: dict[str, str]) -> dict[str, list[str]]:
    """Every row of every table, in a stable order, as text."""
    engine = make_engine(load_settings(values))
    try:
        with engine.connect() as connection:
            tables: dict[str, list[str]] = {}
            for name in sorted(inspect(connection).get_table_names()):
                rows = connection.execute(text(f'SELECT * FROM "{name}"'))
                tables[name] = sorted(repr(tuple(row)) for row in rows)
            return tables
    finally:
        engine.dispose()


def without_restore_entry(tables: dict[str, list[str]]) -> dict[str, list[str]]:
    """The tables minus the one audit entry a restore writes about itself."""
    audit = [row for row in tables["audit_log"] if "backup.restore" not in row]
    assert len(audit) == len(tables["audit_log"]) - 1, "the restore was not audited"
    return {**tables, "audit_log": audit}


def backup(tmp_path: Path, *extra: str) -> Path:
    folder = tmp_path / "archives"
    folder.mkdir(exist_ok=True)
    assert main(["backup", str(folder), *extra]) == 0
    (path,) = sorted(folder.glob("sonta-backup-*.tar.gz"))[-1:]
    return path


def test_a_restore_gives_back_every_table_as_backed_up(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    data = populate(env)
    before = every_table(env)
    path = backup(tmp_path)
    manifest = archive.read_manifest(path)
    assert manifest.counts == {"members": 5, "face_templates": 3, "attendance_records": 2}
    assert manifest.schema_revision == head_revision(make_engine(load_settings(env)))
    assert manifest.template_key_versions == [key_id(env["EMBEDDING_ENCRYPTION_KEY"])]

    change(env, data)
    changed = every_table(env)
    assert changed != before
    capsys.readouterr()
    assert main(["restore", str(path)]) == 0

    assert without_restore_entry(every_table(env)) == before
    said = capsys.readouterr().err
    assert "kept in" in said
    # The database as it was just before the restore is an archive of its own.
    (kept,) = (Path(env["SONTA_DATA_DIR"]) / "backups").glob("sonta-before-restore-*.tar.gz")
    assert archive.read_manifest(kept).counts["members"] == 5  # one deleted, one added


def test_a_restore_with_the_wrong_key_changes_nothing_and_names_the_key_needed(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assert main(["migrate"]) == 0
    data = populate(env)
    path = backup(tmp_path)
    change(env, data)
    changed = every_table(env)
    monkeypatch.setenv("EMBEDDING_ENCRYPTION_KEY", OTHER_KEY)
    capsys.readouterr()

    assert main(["restore", str(path)]) == 1

    said = capsys.readouterr().err
    assert key_id(env["EMBEDDING_ENCRYPTION_KEY"]) in said
    assert key_id(OTHER_KEY) in said
    assert "Nothing was changed" in said
    assert every_table({**env, "EMBEDDING_ENCRYPTION_KEY": OTHER_KEY}) == changed
    assert not list((Path(env["SONTA_DATA_DIR"]) / "backups").glob("*.tar.gz"))


def test_a_backup_of_an_older_schema_is_restored_and_migrated(
    env: dict[str, str], tmp_path: Path
) -> None:
    settings = load_settings(env)
    engine = make_engine(settings)
    try:
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0008")
        with make_session_factory(engine)() as session:
            seed_enrolled(
                session,
                TemplateCipher(settings.embedding_encryption_key or ""),
                members=2,
                model_id="vectron-older",
            )
    finally:
        engine.dispose()
    path = backup(tmp_path)
    assert archive.read_manifest(path).schema_revision == "0008"
    assert main(["migrate"]) == 0  # the server moved on to the current schema
    populate(env)

    assert main(["restore", str(path)]) == 0

    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert revision.scalar_one() == head_revision(engine)
            names = connection.execute(text("SELECT full_name FROM members")).scalars()
            assert sorted(names) == ["Member 00000 Mensah-Owusu", "Member 00001 Mensah-Owusu"]
    finally:
        engine.dispose()


def test_a_restore_refuses_a_running_server_and_changes_nothing(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    data = populate(env)
    path = backup(tmp_path)
    change(env, data)
    changed = every_table(env)
    capsys.readouterr()
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", int(env["PORT"])))
        listener.listen()
        assert main(["restore", str(path)]) == 1
    assert "stop the Sonta server first" in capsys.readouterr().err
    if "DATABASE_HOST" in env:
        with psycopg.connect(**PG, dbname=env["DATABASE_NAME"]):  # type: ignore[arg-type]
            assert main(["restore", str(path)]) == 1
        assert "other connection(s) use the database" in capsys.readouterr().err
    assert every_table(env) == changed


def _archive_bytes(path: Path) -> bytes:
    with tarfile.open(path, "r:gz") as tar:
        return b"".join(
            stream.read()
            for member in tar.getmembers()
            if (stream := tar.extractfile(member)) is not None
        )


def test_secrets_go_in_only_when_asked_and_then_sealed_with_the_passphrase(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["migrate"]) == 0
    populate(env)
    names = ("JWT_ACCESS_SECRET", "JWT_REFRESH_SECRET", "QR_SECRET", "EMBEDDING_ENCRYPTION_KEY")
    plain = backup(tmp_path)
    assert not archive.read_manifest(plain).with_secrets
    _stdin(monkeypatch, PASSPHRASE + "\n")
    sealed = backup(tmp_path, "--with-secrets")
    assert archive.read_manifest(sealed).with_secrets
    for path in (plain, sealed):
        content = _archive_bytes(path)
        assert not [name for name in names if env[name].encode() in content]
        assert path.stat().st_mode & 0o777 == 0o600
    opened = archive.open_secrets(archive.read_sealed_secrets(sealed) or b"", PASSPHRASE)
    assert {name: opened[name] for name in names} == {name: env[name] for name in names}


def test_a_short_passphrase_is_refused_and_writes_no_archive(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assert main(["migrate"]) == 0
    _stdin(monkeypatch, "short\n")
    assert main(["backup", str(tmp_path), "--with-secrets"]) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.tar.gz"))


@pytest.fixture
def dev_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A development server whose secrets were generated into its data directory."""
    values = {"SONTA_DATA_DIR": str(tmp_path / "data"), "PORT": str(free_port())}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_restoring_with_secrets_brings_back_the_key_that_opens_the_templates(
    dev_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A development machine rebuilt from scratch: new generated secrets, the backup's
    templates readable again only with the backup's key."""
    assert main(["migrate"]) == 0
    populate(dev_env)
    before = every_table(dev_env)
    _stdin(monkeypatch, PASSPHRASE + "\n")
    path = backup(tmp_path, "--with-secrets")
    secrets_file = Path(dev_env["SONTA_DATA_DIR"]) / "dev-secrets.json"
    original_key = json.loads(secrets_file.read_text())["EMBEDDING_ENCRYPTION_KEY"]
    # The machine is lost: a fresh data directory generates fresh secrets.
    fresh = {**dev_env, "SONTA_DATA_DIR": str(tmp_path / "rebuilt")}
    monkeypatch.setenv("SONTA_DATA_DIR", fresh["SONTA_DATA_DIR"])
    assert main(["migrate"]) == 0
    assert main(["restore", str(path)]) == 1  # without the secrets: the wrong key
    _stdin(monkeypatch, "not the passphrase at all\n")
    assert main(["restore", str(path), "--with-secrets"]) == 1
    said = capsys.readouterr().err
    assert "The passphrase does not open this backup's secrets" in said
    assert every_table(fresh)["members"] == []

    _stdin(monkeypatch, PASSPHRASE + "\n")
    assert main(["restore", str(path), "--with-secrets"]) == 0

    restored = Path(fresh["SONTA_DATA_DIR"]) / "dev-secrets.json"
    assert json.loads(restored.read_text())["EMBEDDING_ENCRYPTION_KEY"] == original_key
    assert restored.stat().st_mode & 0o777 == 0o600
    assert without_restore_entry(every_table(fresh)) == before


def test_a_damaged_or_foreign_archive_is_refused_and_changes_nothing(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    populate(env)
    path = backup(tmp_path)
    before = every_table(env)
    not_an_archive = tmp_path / "photo.jpg"
    not_an_archive.write_bytes(b"\xff\xd8 not a backup")
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(path, "r:gz") as source, tarfile.open(tampered, "w:gz") as target:
        for member in source.getmembers():
            data = (source.extractfile(member) or io.BytesIO()).read()
            if member.name.startswith("database"):
                data = data[:-10] + b"x" * 10
            target.addfile(member, io.BytesIO(data))
    capsys.readouterr()
    for candidate, expected in (
        (tmp_path / "missing.tar.gz", "There is no file"),
        (not_an_archive, "is not a Sonta backup archive"),
        (tampered, "does not match its manifest"),
    ):
        assert main(["restore", str(candidate)]) == 1
        said = capsys.readouterr().err
        assert expected in said
        assert "Nothing was changed" in said
    assert every_table(env) == before


def test_scheduled_backups_keep_the_newest_and_start_an_interval_after_the_last(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert main(["migrate"]) == 0
    populate(env)
    folder = tmp_path / "scheduled"
    settings = load_settings(
        {**env, "BACKUP_DIR": str(folder), "BACKUP_KEEP": "2", "BACKUP_INTERVAL_HOURS": "0.0005"}
    )
    assert back_up_once(settings)
    (first,) = scheduled_archives(folder)
    # What a backup killed midway leaves behind is swept when the schedule starts.
    (folder / ".sonta-backup-work-killed").mkdir()
    (folder / ".sonta-backup-20261207T020000000000Z.tar.gz.99.partial").write_bytes(b"half")
    stop = threading.Event()
    runner = threading.Thread(target=run_schedule, args=(settings, stop))
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            names = scheduled_archives(folder)
            if first not in names and len(names) == 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"waited 120 s for two newer scheduled archives; found {names}")
    finally:
        stop.set()
        runner.join(timeout=60)
    assert not runner.is_alive()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []
    assert all(archive.read_manifest(path).counts["members"] == 5 for path in names)


def test_a_failed_scheduled_backup_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        {**SECRETS, "SONTA_DATA_DIR": str(tmp_path / "never-migrated"), "BACKUP_KEEP": "2"}
    )
    assert back_up_once(settings) is False
    assert "Scheduled backup failed (retrying in 600 s): The database was never migrated" in (
        caplog.text
    )
    assert scheduled_archives(tmp_path / "never-migrated" / "backups") == []
