"""Embedded-mode troubles get their own clear message (issue 15, defect 7): a read-only
data directory, a full database, and a lock held by another writer.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from server.backend.core.config import Settings
from tests.server.conftest import CONFIG_ENV, ClientFactory
from tests.server.live import free_port
from tests.server.utils import admin_headers, backend_of

MEMBER = {"full_name": "Ama Mensah", "ministry": "Choir"}
# Mount the data directory read-only in a mount namespace of the server's own.
READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'


@pytest.mark.network
def test_a_read_only_data_directory_stops_start_up_with_one_clear_message(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_ENV}
    env.update(HOME=str(tmp_path), SONTA_DATA_DIR=str(data))
    server = [sys.executable, "-m", "sonta.cli", "server", "--host", "127.0.0.1"]
    server += ["--port", str(free_port())]
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", READ_ONLY, str(data), *server],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "cannot be written" in output and "SONTA_DATA_DIR" in output, output
    assert "Traceback" not in output, output


def _limit_pages(settings: Settings, client: TestClient) -> Callable[[], None]:
    """Let the database grow no further, the way a full disk stops it (SQLITE_FULL);
    returns what frees the space again."""
    engine = backend_of(client).engine
    pages = (
        sqlite3.connect(settings.sonta_data_dir / "sonta.db")
        .execute("PRAGMA page_count")
        .fetchone()[0]
    )

    @event.listens_for(engine, "connect")
    def _full(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()

    def free() -> None:
        event.remove(engine, "connect", _full)
        engine.dispose()

    return free


def test_a_full_database_says_so_and_health_agrees(
    make_client: ClientFactory, embedded_settings: Settings
) -> None:
    client = make_client(embedded_settings)
    headers = admin_headers(client)
    free_space = _limit_pages(embedded_settings, client)
    refused = 0
    for n in range(200):  # until the last free page is used
        answer = client.post(
            "/api/members", json={**MEMBER, "notes": "x" * 3900 + str(n)}, headers=headers
        )
        if answer.status_code != 201:
            refused += 1
            break
    assert refused, "the database never filled up"
    assert answer.status_code == 507, answer.text
    assert "disk holding the database is full" in answer.json()["detail"]
    health = client.get("/health").json()
    assert health["database"] == "full"
    assert health["status"] == "degraded"
    # Space is freed: the next write succeeds, and /health says so at once.
    free_space()
    assert client.get("/health").json()["database"] == "full"  # nothing has written yet
    assert client.post("/api/members", json=MEMBER, headers=headers).status_code == 201
    assert client.get("/health").json()["database"] == "ok"


def test_a_lock_held_by_another_writer_is_named_quickly(
    make_client: ClientFactory, embedded_settings: Settings
) -> None:
    client = make_client(embedded_settings)
    headers = admin_headers(client)
    other = sqlite3.connect(embedded_settings.sonta_data_dir / "sonta.db", timeout=1)
    other.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        answer = client.post("/api/members", json=MEMBER, headers=headers)
        waited = time.monotonic() - started
    finally:
        other.rollback()
        other.close()
    assert answer.status_code == 503, answer.text
    assert "locked by another program" in answer.json()["detail"]
    assert answer.headers["Retry-After"]
    assert waited < 10  # it used to wait 15 s before saying "database unavailable"
    assert client.post("/api/members", json=MEMBER, headers=headers).status_code == 201


# A tmpfs of its own for the data directory, in a mount namespace of the server's own:
# the disk really fills, as a small SD card or a full root partition does.
SMALL_DISK = (
    'mount -t tmpfs -o size=24m,mode=0700 sonta-full "$0" && '
    'printf "%s\\n" "$SONTA_TEST_PASSWORD" | "$1" -m sonta.cli admin create "$SONTA_TEST_EMAIL" '
    '--role super_admin >/dev/null && exec "$@"'
)
EMAIL = "deacon@example.org"
PASSWORD = "full disk passphrase 7"


def _fill(folder: Path) -> None:
    """Write files until the file system refuses more (ENOSPC), down to the last crumbs."""
    for size in (65536, 4096, 512, 1):
        with (folder / f"filler-{size}").open("wb", buffering=0) as filler:
            _write_until_full(filler.write, b"\0" * size)


def _write_until_full(write: Callable[[bytes], object], chunk: bytes) -> None:
    def forever() -> None:
        while True:
            write(chunk)

    with pytest.raises(OSError, match="No space left on device"):
        forever()


@pytest.mark.network
@pytest.mark.slow
def test_sign_in_works_while_the_disk_is_full(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_ENV}
    env.update(
        HOME=str(tmp_path),
        SONTA_DATA_DIR=str(data),
        SONTA_TEST_EMAIL=EMAIL,
        SONTA_TEST_PASSWORD=PASSWORD,
    )
    server = [sys.executable, "-m", "sonta.cli", "server", "--host", "127.0.0.1"]
    server += ["--port", str(port)]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", SMALL_DISK, str(data), *server],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, process, log)
        login = {"email": EMAIL, "password": PASSWORD}
        headers = _bearer(httpx.post(f"{url}/api/auth/login", json=login))
        # The server's own view of its data directory: the small disk, filled to the brim.
        _fill(Path(f"/proc/{process.pid}/root") / data.relative_to("/"))
        refused = httpx.post(f"{url}/api/members", json=MEMBER, headers=headers)
        assert refused.status_code == 507, refused.text  # the disk really is full
        again = httpx.post(f"{url}/api/auth/login", json=login)
        assert again.status_code == 200, again.text
        assert httpx.get(f"{url}/api/auth/me", headers=_bearer(again)).status_code == 200
        fresh = httpx.post(
            f"{url}/api/auth/refresh", json={"refresh_token": again.json()["refresh_token"]}
        )
        assert fresh.status_code == 200, fresh.text
        assert httpx.get(f"{url}/health").json()["database"] == "full"
        # Space is freed: /health says so, the reserve is taken back, writes work again.
        for filler in (Path(f"/proc/{process.pid}/root") / data.relative_to("/")).glob("filler-*"):
            filler.unlink()
        assert httpx.get(f"{url}/health").json()["database"] == "ok"
        created = httpx.post(f"{url}/api/members", json=MEMBER, headers=_bearer(again))
        assert created.status_code == 201, created.text
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()


def _bearer(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer /health/live in 120 s: {log.read_text()}")
