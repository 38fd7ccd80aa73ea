"""Fixtures for the face-service: a real `sonta face-service` process on a free loopback
port with the offline pack, and in-process servers whose model loading a test controls."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kiosk.inference.engine import EngineConfig, FaceEngine
from kiosk.inference.packs import resolve_pack
from kiosk.inference.sessions import ThreadSettings
from server.face_service.settings import FaceServiceSettings

SONTA = str(Path(sys.executable).with_name("sonta"))
# Variables the face-service and the backend read; tests set them explicitly.
_READ_BY_SERVICES = (
    "FACE_",
    "OMP_",
    "DATABASE_",
    "REDIS_",
    "SONTA_",
    "PORT",
    "NODE_ENV",
    "APP_ENV",
    "ALLOW_EMBEDDED_DATABASE",
)
_PROXIES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without service settings or proxies, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_READ_BY_SERVICES) and k.lower() not in _PROXIES
    }
    env.update(values)
    return env


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def answers_healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


class ServiceProcess:
    """`sonta face-service` as a real process, its output collected in a file."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [SONTA, "face-service", "--port", str(self.port), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def face_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One face-service process for the session, ready (model loaded)."""
    tmp = tmp_path_factory.mktemp("face-service")
    env = clean_env(FACE_MODEL="vectron", FACE_MODEL_CACHE=str(tmp / "cache"), OMP_NUM_THREADS="1")
    service = ServiceProcess(env, tmp / "face-service.log")
    try:
        wait_until(lambda: answers_healthy(service.url), 90, f"the face-service\n{service.log()}")
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def http(face_service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=face_service.url, timeout=60, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def offline_engine(tmp_path_factory: pytest.TempPathFactory) -> FaceEngine:
    """The offline pack, loaded once in this process (for in-process apps and comparisons)."""
    pack = resolve_pack("vectron", cache_dir=tmp_path_factory.mktemp("cache"))
    return FaceEngine.load(pack, ThreadSettings(intra_op_threads=1), warm_up_sizes=())


def offline_settings(tmp: Path, **overrides: object) -> FaceServiceSettings:
    engine = EngineConfig(pack="vectron", cache_dir=tmp / "cache", allow_download=False)
    return FaceServiceSettings(engine=engine, **overrides)  # type: ignore[arg-type]


class ThreadedServer:
    """A real uvicorn server for ``app`` on a free loopback port, in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 30, "the in-process server")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
