"""`sonta server` with BACKEND_WORKERS=2: two real processes share the port on the session's
PostgreSQL and Redis; a worker killed with SIGKILL is replaced while the other answers,
a sign-in made through one works through the other, and SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import CONFIG_ENV
from tests.server.live import answers, free_port
from tests.server.utils import admin_in_database, bearer, password_login

pytestmark = [pytest.mark.network]
WORKERS = 2


def _workers(parent: int) -> set[int]:
    """The worker processes uvicorn's supervisor started (spawned children of `parent`)."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            command = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if f"\nPPid:\t{parent}\n" in status and b"spawn_main" in command:
            found.add(int(name))
    return found


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.fixture
def two_workers(
    server_env: dict[str, str], migrated: None, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_ENV}
    env.update(server_env, BACKEND_WORKERS=str(WORKERS), HOME=str(tmp_path))
    command = [sys.executable, "-m", "sonta.cli", "server", "--host", "127.0.0.1"]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(
            lambda: process.poll() is None and len(_workers(process.pid)) == WORKERS,
            f"two workers did not start: {log.read_text()}",
        )
        _wait_for(lambda: answers(f"{url}/health/live"), f"no answer: {log.read_text()}")
        yield process, url, log
    finally:
        if process.poll() is None:  # the test failed before stopping it: leave nothing behind
            for pid in [process.pid, *_workers(process.pid)]:
                os.kill(pid, signal.SIGKILL)
            process.wait(timeout=15)


def _me(url: str, token: str) -> int:
    # A new connection each time, so the kernel hands requests to either worker.
    answer = httpx.get(f"{url}/api/auth/me", headers=bearer(token), timeout=10)
    return answer.status_code


def test_two_workers_share_the_port_and_survive_one_being_killed(
    two_workers: tuple[subprocess.Popen[bytes], str, Path], server_env: dict[str, str]
) -> None:
    process, url, log = two_workers
    email = admin_in_database(server_env)
    with httpx.Client(base_url=url) as client:
        token = password_login(client, email)["access_token"]
    before = _workers(process.pid)
    idle = {pid: _cpu_seconds(pid) for pid in before}
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: _me(url, token), range(200))) == {200}
    # Both workers answered: each spent CPU on these requests (idle, a worker spends none).
    spent = {pid: _cpu_seconds(pid) - idle[pid] for pid in before}
    assert all(seconds >= 0.03 for seconds in spent.values()), spent

    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    # The other worker answers meanwhile, and the sign-in made before still holds.
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: _me(url, token), range(40))) == {200}
    _wait_for(
        lambda: len(_workers(process.pid)) == WORKERS and victim not in _workers(process.pid),
        f"the killed worker was not replaced: {log.read_text()}",
    )
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: _me(url, token), range(40))) == {200}

    workers = _workers(process.pid)
    process.terminate()
    assert process.wait(timeout=15) == 0, log.read_text()
    _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), "left running")
    assert "died" in log.read_text()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
