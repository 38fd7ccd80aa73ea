"""Memory of a real backend process under the tiny-image attack (issue 13, defect 1).

A 5 KB PNG declaring 6300x6300 pixels, posted four at a time to the public phone
check-in, raised the backend's memory by ~430 MiB each. The backend runs here as its
own uvicorn process; its peak resident memory (VmHWM) is read before and after.
"""

from __future__ import annotations

import io
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
from PIL import Image

from server.backend.core.config import Settings
from tests.server.live import free_port
from tests.server.utils import admin_in_database, bearer, password_login

pytestmark = [pytest.mark.network, pytest.mark.slow]

# Peak growth allowed for the whole attack; one decode of the canvas is 119 MB.
MAX_GROWTH_MIB = 40


def peak_rss_mib(pid: int) -> float:
    """The process's resident high-water mark (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def tiny_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, format="PNG", optimize=True)
    return out.getvalue()


@pytest.fixture
def backend_process(
    server_env: dict[str, str], pg_settings: Settings, tmp_path: Path
) -> Iterator[tuple[httpx.Client, int]]:
    """The backend as its own process on the session's PostgreSQL and Redis."""
    env = {**os.environ, **server_env, "HOME": str(tmp_path)}
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.backend.main:app_from_env"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = tmp_path / "backend.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            _wait_up(client, process, log)
            yield client, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_up(client: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"backend exited: {log.read_text()}")
        try:
            if client.get("/health/live").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"backend did not start: {log.read_text()}")


def _ticket(client: httpx.Client, server_env: dict[str, str]) -> tuple[str, str]:
    """A real ticket for a running meeting, and a member id to claim."""
    email = admin_in_database(server_env, "memory")
    headers = bearer(password_login(client, email)["access_token"])
    member = client.post(
        "/api/members", json={"full_name": "Ama Mensah", "ministry": "Choir"}, headers=headers
    )
    start = datetime.now(UTC) - timedelta(minutes=5)
    meeting = client.post(
        "/api/meetings",
        json={
            "title": "Memory",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "open_to_everyone": True,
        },
        headers=headers,
    ).json()
    client.post(f"/api/meetings/{meeting['id']}/start", headers=headers)
    token = client.get(f"/api/meetings/{meeting['id']}/qr", headers=headers).json()["token"]
    ticket: str = client.post("/api/qr/scan", json={"token": token}).json()["ticket"]
    return ticket, member.json()["id"]


def _post_four(client: httpx.Client, ticket: str, member_id: str, png: bytes) -> list[int]:
    def post(_: int) -> int:
        return client.post(
            "/api/checkin/phone",
            data={"ticket": ticket, "member_id": member_id},
            files={"selfie": ("selfie.png", png, "image/png")},
        ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(post, range(4)))


def test_tiny_images_declaring_huge_canvases_do_not_grow_the_backend(
    backend_process: tuple[httpx.Client, int], server_env: dict[str, str]
) -> None:
    client, pid = backend_process
    png = tiny_png(6300)
    assert len(png) < 10_000
    ticket, member_id = _ticket(client, server_env)
    before = peak_rss_mib(pid)
    made_up = _post_four(client, "made-up-ticket", member_id, png)
    real = _post_four(client, ticket, member_id, png)
    growth = peak_rss_mib(pid) - before
    assert growth < MAX_GROWTH_MIB, f"peak resident memory grew by {growth:.0f} MiB"
    assert made_up == [409] * 4  # the ticket is checked before the image is looked at
    assert real == [422] * 4  # refused from the header: too many pixels for a selfie
