"""`sonta server` with BACKEND_WORKERS=2: two real processes share the port on the session's
PostgreSQL and Redis; both start without being killed by the supervisor's health check,
a worker that stops answering for a while (descheduled on a loaded machine) is kept and
finishes its requests, a worker killed with SIGKILL is replaced while the other answers,
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
# Generous waits: on a loaded 2-core machine a worker's start or graceful stop takes far
# longer than on a quiet one.
STOP_SECONDS = 120


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


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 180) -> None:
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
        _wait_for(
            lambda: log.read_text().count("Application startup complete") >= WORKERS,
            f"both workers did not finish starting: {log.read_text()}",
            seconds=180,
        )
        _wait_for(lambda: answers(f"{url}/health/live"), f"no answer: {log.read_text()}")
        # uvicorn's default 5 s health ping killed workers still importing the app.
        assert "died" not in log.read_text(), f"a worker died while starting: {log.read_text()}"
        yield process, url, log
    finally:
        if process.poll() is None:  # the test failed before stopping it: leave nothing behind
            for pid in [process.pid, *_workers(process.pid)]:
                os.kill(pid, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)


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
    assert _workers(process.pid) == before, f"a worker was replaced: {log.read_text()}"
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
    try:
        assert process.wait(timeout=STOP_SECONDS) == 0, log.read_text()
    except subprocess.TimeoutExpired:
        pytest.fail(f"SIGTERM did not stop the server in {STOP_SECONDS} s: {log.read_text()}")
    _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), "left running")
    assert "died" in log.read_text()


def test_a_worker_that_stops_answering_for_a_while_is_kept_and_loses_no_request(
    two_workers: tuple[subprocess.Popen[bytes], str, Path], server_env: dict[str, str]
) -> None:
    """A worker frozen for longer than uvicorn's default 5 s health ping (SIGSTOP stands in
    for a worker starved of CPU) is not killed: the requests it had accepted are answered
    once it runs again, and the other worker serves meanwhile."""
    process, url, log = two_workers
    email = admin_in_database(server_env)
    with httpx.Client(base_url=url) as client:
        token = password_login(client, email)["access_token"]
    before = _workers(process.pid)
    frozen = min(before)

    def slow_me(_: int) -> int:
        answer = httpx.get(f"{url}/api/auth/me", headers=bearer(token), timeout=60)
        return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        # Requests in flight on both workers when one freezes.
        results = [pool.submit(slow_me, n) for n in range(40)]
        os.kill(frozen, signal.SIGSTOP)
        try:
            results += [pool.submit(slow_me, n) for n in range(40)]
            time.sleep(FROZEN_SECONDS)
            assert _workers(process.pid) == before, (
                f"the frozen worker was killed: {log.read_text()}"
            )
        finally:
            os.kill(frozen, signal.SIGCONT)
        codes = [result.result() for result in results]
    assert codes == [200] * len(codes), (codes, log.read_text())
    assert _workers(process.pid) == before, f"a worker was replaced: {log.read_text()}"
    assert "died" not in log.read_text(), log.read_text()


# Longer than uvicorn's default health-check timeout (5 s) and its ping interval.
FROZEN_SECONDS = 8


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
