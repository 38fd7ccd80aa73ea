"""Two backend processes on one PostgreSQL and one Redis behave as one: either may serve
any request."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.server.live import free_port
from tests.server.utils import PASSWORD, admin_in_database, bearer, password_login

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.backend.main:app_from_env"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"backend exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"backend did not become healthy: {log.read_text()}")


@pytest.fixture(scope="module")
def replicas(
    server_env: dict[str, str], migrated: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    env = {**os.environ, **server_env, "HOME": str(tmp_path_factory.mktemp("home"))}
    logs = tmp_path_factory.mktemp("logs")
    started = [_start(env, logs / f"replica-{n}.log") for n in (1, 2)]
    try:
        for number, (process, url) in enumerate(started, start=1):
            _wait_healthy(url, process, logs / f"replica-{number}.log")
        with httpx.Client(base_url=started[0][1]) as a, httpx.Client(base_url=started[1][1]) as b:
            yield a, b
    finally:
        for process, _url in started:
            process.terminate()
        for process, _url in started:
            process.wait(timeout=15)


@pytest.fixture
def admin_email(server_env: dict[str, str]) -> str:
    """An admin with PASSWORD, created straight in the shared database."""
    return admin_in_database(server_env, "replica")


def test_replicas_agree_that_a_reused_refresh_token_revokes_its_family(
    replicas: tuple[httpx.Client, httpx.Client], admin_email: str
) -> None:
    a, b = replicas
    first = password_login(a, admin_email)
    middle = a.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    second = b.post("/api/auth/refresh", json={"refresh_token": middle["refresh_token"]}).json()
    assert b.get("/api/auth/me", headers=bearer(second["access_token"])).status_code == 200
    # Two rotations back: reuse, not a retry within the grace window.
    reuse = b.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert (
        a.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code
        == 401
    )
    assert a.get("/api/auth/me", headers=bearer(second["access_token"])).status_code == 401


def test_replicas_agree_that_a_replayed_qr_ticket_is_refused(
    replicas: tuple[httpx.Client, httpx.Client], admin_email: str
) -> None:
    a, b = replicas
    headers = bearer(password_login(a, admin_email)["access_token"])
    start = datetime.now(UTC) - timedelta(minutes=5)
    meeting = a.post(
        "/api/meetings",
        json={
            "title": "Replicated",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "open_to_everyone": True,
        },
        headers=headers,
    ).json()
    assert b.post(f"/api/meetings/{meeting['id']}/start", headers=headers).status_code == 200
    token = b.get(f"/api/meetings/{meeting['id']}/qr", headers=headers).json()["token"]
    ticket = a.post("/api/qr/scan", json={"token": token}).json()["ticket"]
    assert b.post("/api/qr/redeem", json={"ticket": ticket}).status_code == 200
    assert a.post("/api/qr/redeem", json={"ticket": ticket}).status_code == 409


def test_replicas_share_the_login_throttle(
    replicas: tuple[httpx.Client, httpx.Client], admin_email: str
) -> None:
    a, b = replicas
    for client in (a, b, a, b, a):
        wrong = client.post(
            "/api/auth/login", json={"email": admin_email, "password": "wrong password"}
        )
        assert wrong.status_code == 401
    assert (
        b.post("/api/auth/login", json={"email": admin_email, "password": PASSWORD}).status_code
        == 429
    )


def test_concurrent_refreshes_on_two_replicas_have_one_winner(
    replicas: tuple[httpx.Client, httpx.Client], admin_email: str
) -> None:
    """Issue 15, defect 1: every caller gets the winner's successor, and it works."""
    a, b = replicas
    token = password_login(a, admin_email)["refresh_token"]

    def refresh(client: httpx.Client) -> httpx.Response:
        return client.post("/api/auth/refresh", json={"refresh_token": token})

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(refresh, [a, b] * 4))
    assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
    successors = {r.json()["refresh_token"] for r in answers}
    assert len(successors) == 1
    for answer in answers:
        assert a.get("/api/auth/me", headers=bearer(answer.json()["access_token"])).is_success
    assert b.post("/api/auth/refresh", json={"refresh_token": successors.pop()}).is_success
