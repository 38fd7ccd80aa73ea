"""Client addresses come from X-Forwarded-For only through TRUSTED_PROXIES (issue 13):
uvicorn believed it from any loopback peer, and no deployment file named the proxies,
so behind a balancer every client shared one address and per-client limits were global."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from server.backend.core.config import Settings, load_settings
from server.backend.errors import ConfigError
from tests.server.conftest import SECRETS, ClientFactory
from tests.server.live import free_port
from tests.server.utils import PASSWORD, admin_headers, make_admin

ROOT = Path(__file__).parents[3]


def _login_address(client: TestClient, peer: str, forwarded: str) -> str:
    """Sign in from `peer` claiming `forwarded`; the address the audit log kept."""
    admin = make_admin(client)
    caller = TestClient(client.app, client=(peer, 50000))
    answer = caller.post(
        "/api/auth/login",
        json={"email": admin.email, "password": PASSWORD},
        headers={"X-Forwarded-For": forwarded},
    )
    assert answer.status_code == 200, answer.text
    entries = client.get(
        "/api/audit", params={"action": "auth.login"}, headers=admin_headers(client)
    ).json()["data"]
    address: str = next(e["client_ip"] for e in entries if e["actor_email"] == admin.email)
    return address


def test_forwarded_for_is_ignored_without_trusted_proxies(client: TestClient) -> None:
    assert _login_address(client, "127.0.0.1", "203.0.113.9") == "127.0.0.1"


def test_a_trusted_proxy_names_the_client(
    make_client: ClientFactory, pg_settings: Settings
) -> None:
    client = make_client(pg_settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"}))
    assert _login_address(client, "10.20.30.40", "203.0.113.9") == "203.0.113.9"
    # A peer outside the trusted network is the client, whatever it claims.
    assert _login_address(client, "198.51.100.4", "203.0.113.9") == "198.51.100.4"


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES entries must be IP addresses"):
        load_settings({**SECRETS, "TRUSTED_PROXIES": "10.0.0.0/8, render-lb"})


def test_the_deployment_files_set_the_trusted_proxies() -> None:
    render: dict[str, Any] = yaml.safe_load((ROOT / "render.yaml").read_text())
    variables = {v["key"]: v for v in render["services"][0]["envVars"]}
    assert variables["TRUSTED_PROXIES"]["value"] == "10.0.0.0/8"
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["backend"]["environment"]["TRUSTED_PROXIES"] == ""


@pytest.mark.network
@pytest.mark.slow
def test_sonta_server_does_not_believe_a_loopback_peer(
    server_env: dict[str, str], pg_settings: Settings, tmp_path: Path
) -> None:
    """The real `sonta server` process: uvicorn's own loopback trust is off."""
    port = free_port()
    env = {**os.environ, **server_env, "HOME": str(tmp_path), "PORT": str(port)}
    command = [sys.executable, "-m", "sonta.cli", "server", "--host", "127.0.0.1"]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(url, process, log)
        email = f"proxy-{uuid.uuid4().hex[:8]}@example.org"
        codes = []
        for _ in range(6):  # five wrong passwords per account and client
            forged = {"X-Forwarded-For": f"203.0.113.{len(codes)}"}
            body = {"email": email, "password": "wrong password"}
            codes.append(httpx.post(f"{url}/api/auth/login", json=body, headers=forged).status_code)
        assert codes == [401] * 5 + [429]  # a forged address per request changed nothing
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start: {log.read_text()}")
