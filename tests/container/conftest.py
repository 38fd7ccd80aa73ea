"""The combined container without Docker: the real supervisord.conf, run by `sonta
supervise` (the image's command) inside a network namespace this test creates, reached
from outside over a veth pair.

The namespace has its own loopback, so 127.0.0.1:8000 inside it is exactly what the
container's is: reachable from within, not from the host side of the veth. Traffic
only flows between the namespace and the host end of its own veth (a private /30).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.face_service.conftest import clean_env, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "supervisord.conf"
VENV_BIN = Path(sys.executable).parent


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True, timeout=30)


class Namespace:
    """A network namespace joined to the host by a veth pair on 10.213.<n>.0/30."""

    def __init__(self) -> None:
        token = secrets.token_hex(3)
        self.name = f"sonta-test-{token}"
        self.host_if, self.ns_if = f"vsh{token}", f"vsn{token}"
        subnet = f"10.213.{secrets.randbelow(250) + 2}"
        self.host_ip, self.ns_ip = f"{subnet}.1", f"{subnet}.2"

    def create(self) -> None:
        ip("netns", "add", self.name)
        ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        ip("link", "set", self.ns_if, "netns", self.name)
        ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        ip("link", "set", self.host_if, "up")
        ip("-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        ip("-n", self.name, "link", "set", self.ns_if, "up")
        ip("-n", self.name, "link", "set", "lo", "up")

    def command(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def pids(self) -> list[int]:
        result = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in result.stdout.split()]

    def destroy(self) -> None:
        """Kill what still runs inside (only our processes live there), then remove it."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
        # Removing the namespace removes the pair; this only matters if creation failed midway.
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)


class CombinedServer:
    """`sonta supervise` in a namespace, its stdout collected in a file."""

    def __init__(
        self, namespace: Namespace, tmp: Path, *, path_first: Path | None = None, **env: str
    ) -> None:
        self.namespace = namespace
        self.log_path = tmp / "container.log"
        (tmp / "home").mkdir()
        # path_first: a folder searched before the venv for the programs the conf runs.
        first = f"{path_first}{os.pathsep}" if path_first else ""
        self.env = clean_env(
            PATH=f"{first}{VENV_BIN}{os.pathsep}/usr/sbin:/usr/bin:/sbin:/bin",
            HOME=str(tmp / "home"),
            SONTA_DATA_DIR=str(tmp / "data"),
            FACE_MODEL="vectron",
            FACE_MODEL_CACHE=str(tmp / "cache"),
            **env,
        )
        self.data_dir = Path(self.env["SONTA_DATA_DIR"])
        self.public_url = f"http://{namespace.ns_ip}:3000"
        # Appending: supervisord and the programs all write to this one stdout.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                namespace.command(str(VENV_BIN / "sonta"), "supervise", "--conf", str(CONF)),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def backend_health(self) -> httpx.Response | None:
        try:
            return httpx.get(f"{self.public_url}/health", timeout=3, trust_env=False)
        except httpx.HTTPError:
            return None

    def face_service_status(self) -> str:
        response = self.backend_health()
        return "no answer" if response is None else response.json()["face_service"]["status"]

    def wait_ready(self, timeout: float = 150) -> None:
        wait_until(
            lambda: self.face_service_status() == "healthy",
            timeout,
            f"the combined server\n{self.log()}",
        )

    def inside(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.namespace.command(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def supervisord_pid(self) -> int:
        """`sonta supervise`'s one child."""
        pid = self.process.pid
        (child,) = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return int(child)

    def program_pid(self, marker: str) -> int:
        """The pid of supervisord's child whose command line contains ``marker``."""
        pid = self.supervisord_pid()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if marker.encode() in cmdline:
                return int(child)
        raise AssertionError(f"no child of supervisord runs {marker!r}")


@pytest.fixture(scope="module")
def combined(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CombinedServer]:
    """One combined server for a module's tests, ready (face-service model loaded)."""
    yield from _combined(tmp_path_factory.mktemp("combined"))


@pytest.fixture
def fresh_combined(tmp_path: Path) -> Iterator[CombinedServer]:
    """A combined server of the test's own (for tests that stop it)."""
    yield from _combined(tmp_path)


def _combined(tmp: Path) -> Iterator[CombinedServer]:
    namespace = Namespace()
    server: CombinedServer | None = None
    try:
        namespace.create()
        server = CombinedServer(namespace, tmp)
        server.wait_ready()
        yield server
    finally:
        namespace.destroy()
        if server is not None:
            server.process.wait(timeout=10)  # reap supervisord
