"""`sonta migrate`, `sonta admin create|reset-password` and start-up refusals."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect

from server.backend.core.config import Settings
from server.backend.core.security.passwords import PasswordHasher
from server.backend.crud.admins import get_by_email
from sonta.cli import main
from tests.server.conftest import CONFIG_ENV
from tests.server.live import free_port
from tests.server.utils import bearer, login, session_of

NEW_PASSWORD = "a long and private passphrase"


def _use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_migrate_creates_the_embedded_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SONTA_DATA_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    tables = set(inspect(create_engine(f"sqlite:///{tmp_path}/sonta.db")).get_table_names())
    assert {
        "admins",
        "members",
        "face_templates",
        "meetings",
        "audit_log",
        "alembic_version",
    } <= tables


def test_admin_create_reads_the_password_from_stdin(
    monkeypatch: pytest.MonkeyPatch, server_env: dict[str, str], client: TestClient
) -> None:
    _use_env(monkeypatch, server_env)
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["admin", "create", "Deacon@Example.org", "--role", "super_admin"]) == 0
    tokens = login(client, "deacon@example.org", NEW_PASSWORD)
    me = client.get("/api/auth/me", headers=bearer(tokens["access_token"])).json()
    assert me["role"] == "super_admin"


def test_admin_create_refuses_a_weak_password_and_a_duplicate(
    monkeypatch: pytest.MonkeyPatch,
    server_env: dict[str, str],
    pg_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _use_env(monkeypatch, server_env)
    _stdin(monkeypatch, "short\n")
    assert main(["admin", "create", "weak@example.org"]) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["admin", "create", "twice@example.org"]) == 0
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["admin", "create", "twice@example.org"]) == 1


def test_passwords_are_never_accepted_on_the_command_line() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["admin", "create", "a@example.org", "--password", "hunter2hunter2"])
    assert caught.value.code == 2


def test_reset_password_sets_it_and_ends_sessions(
    monkeypatch: pytest.MonkeyPatch, server_env: dict[str, str], client: TestClient
) -> None:
    _use_env(monkeypatch, server_env)
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    main(["admin", "create", "reset@example.org"])
    tokens = login(client, "reset@example.org", NEW_PASSWORD)
    _stdin(monkeypatch, "an entirely different passphrase\n")
    assert main(["admin", "reset-password", "reset@example.org"]) == 0
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    login(client, "reset@example.org", "an entirely different passphrase")
    with session_of(client) as session:
        admin = get_by_email(session=session, email="reset@example.org")
        assert admin is not None and admin.password_hash
        assert PasswordHasher().verify(admin.password_hash, "an entirely different passphrase")


def test_reset_password_for_unknown_email_fails(
    monkeypatch: pytest.MonkeyPatch, server_env: dict[str, str], pg_settings: Settings
) -> None:
    _use_env(monkeypatch, server_env)
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["admin", "reset-password", "nobody@example.org"]) == 1


def test_server_refuses_to_start_in_production_with_bad_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NODE_ENV", "production")
    monkeypatch.setenv("EMBEDDING_ENCRYPTION_KEY", "k" * 31)
    assert main(["server"]) == 2
    err = capsys.readouterr().err
    assert "EMBEDDING_ENCRYPTION_KEY must be exactly 32 characters" in err
    assert "got 31" in err
    assert "JWT_ACCESS_SECRET is missing" in err
    assert "QR_SECRET is missing" in err


@pytest.mark.network
def test_sonta_server_serves_the_api_with_zero_configuration(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HOME": str(tmp_path), "SONTA_DATA_DIR": str(tmp_path / "data")}
    for name in CONFIG_ENV:
        if name != "SONTA_DATA_DIR":
            env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "sonta.cli",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert status == 200, log.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/api/openapi.json").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert (tmp_path / "data" / "sonta.db").exists()
    assert "dev-secrets.json" in log.read_text()


def test_migrate_reports_an_unreachable_database_plainly(
    monkeypatch: pytest.MonkeyPatch, server_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _use_env(monkeypatch, {**server_env, "DATABASE_HOST": "127.0.0.1", "DATABASE_PORT": "9"})
    assert main(["migrate"]) == 2  # final: supervisord does not restart it
    err = capsys.readouterr().err
    assert "The database at 127.0.0.1:9 cannot be reached after 1 attempt(s)" in err
    assert "check DATABASE_URL (or DATABASE_HOST and DATABASE_PORT)" in err
    assert "Waiting" not in err
    assert "Traceback" not in err


def test_migrate_waits_for_the_database_until_the_deadline_counted_from_since(
    monkeypatch: pytest.MonkeyPatch, server_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _use_env(monkeypatch, {**server_env, "DATABASE_HOST": "127.0.0.1", "DATABASE_PORT": "9"})
    started = time.monotonic()
    assert main(["migrate", "--wait", "3"]) == 2
    assert time.monotonic() - started >= 3
    err = capsys.readouterr().err
    assert "Waiting up to 3 s for the database at 127.0.0.1:9" in err
    # Spawned long ago: the wait is over before it began, yet one attempt is made.
    started = time.monotonic()
    assert main(["migrate", "--wait", "60", "--since", str(time.time() - 120)]) == 2
    assert time.monotonic() - started < 30
    assert "cannot be reached after 1 attempt(s)" in capsys.readouterr().err


def test_migrate_goes_on_once_a_slow_database_starts_answering(
    monkeypatch: pytest.MonkeyPatch, server_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A forwarder to the test PostgreSQL that only starts listening after 2 s, as a
    database container finishing its start."""
    target = (server_env["DATABASE_HOST"], int(server_env["DATABASE_PORT"]))
    port = free_port()
    forwarder = threading.Thread(target=_forward_later, args=(port, target, 2.0), daemon=True)
    forwarder.start()
    _use_env(monkeypatch, {**server_env, "DATABASE_HOST": "127.0.0.1", "DATABASE_PORT": str(port)})
    assert main(["migrate", "--wait", "60"]) == 0
    err = capsys.readouterr().err
    assert f"Waiting up to 60 s for the database at 127.0.0.1:{port}" in err
    assert "Database schema is up to date." in err


def _forward_later(port: int, target: tuple[str, int], delay: float) -> None:
    time.sleep(delay)
    with socket.create_server(("127.0.0.1", port)) as server:
        server.settimeout(60)
        while True:
            try:
                client, _ = server.accept()
            except TimeoutError:
                return
            upstream = socket.create_connection(target, timeout=10)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def test_admin_create_documents_the_role_and_says_which_was_created(
    monkeypatch: pytest.MonkeyPatch,
    server_env: dict[str, str],
    client: TestClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["admin", "create", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert "--role {admin,super_admin}" in usage and "also manages other admins" in usage
    _use_env(monkeypatch, server_env)
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["admin", "create", "usher@example.org"]) == 0
    said = capsys.readouterr().err
    assert "usher@example.org with the role admin" in said and "--role super_admin" in said
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["admin", "create", "pastor@example.org", "--role", "super_admin"]) == 0
    assert "with the role super_admin" in capsys.readouterr().err
