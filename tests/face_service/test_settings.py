"""The face-service stays private: a non-loopback bind is refused unless the
separate-container setting and an API key are given; `sonta face-service wait`."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from server.face_service.errors import FaceServiceConfigError
from server.face_service.settings import FaceServiceSettings, Mode, is_loopback
from tests.face_service.conftest import SONTA, ServiceProcess, clean_env, free_port

KEY = "k" * 16 + "0123456789abcdef"


def sonta(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SONTA, *args],
        env=clean_env(FACE_MODEL="vectron", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def nothing_listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
@pytest.mark.parametrize("host", ["0.0.0.0", "10.213.0.1"])
def test_a_public_bind_is_refused_with_a_clear_message(host: str) -> None:
    port = free_port()
    result = sonta("face-service", "--host", host, "--port", str(port))
    assert result.returncode == 2
    assert f"refusing to bind the face-service to {host}" in result.stderr
    assert "FACE_SERVICE_MODE=separate" in result.stderr
    assert nothing_listens(port)


@pytest.mark.slow
def test_the_host_variable_is_held_to_the_same_rule() -> None:
    result = sonta("face-service", "--port", str(free_port()), FACE_SERVICE_HOST="0.0.0.0")
    assert result.returncode == 2
    assert "refusing to bind" in result.stderr


@pytest.mark.slow
def test_separate_mode_without_a_key_stops_start_up() -> None:
    result = sonta("face-service", "--host", "0.0.0.0", FACE_SERVICE_MODE="separate")
    assert result.returncode == 2
    assert "requires FACE_SERVICE_API_KEY" in result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"FACE_SERVICE_HOST": "::"}, "refusing to bind the face-service to ::"),
        ({"FACE_SERVICE_HOST": "example.org"}, "refusing to bind"),
        ({"FACE_SERVICE_MODE": "separate", "FACE_SERVICE_API_KEY": "short"}, "at least 32"),
        ({"FACE_SERVICE_MODE": "public"}, "'combined' or 'separate'"),
        ({"FACE_SERVICE_PORT": "eighty"}, "FACE_SERVICE_PORT must be a whole number"),
        ({"FACE_SERVICE_WORKERS": "0"}, "FACE_SERVICE_WORKERS must be a whole number"),
    ],
    ids=["any-v6", "a-name", "short-key", "unknown-mode", "bad-port", "no-workers"],
)
def test_unusable_settings_are_refused(env: dict[str, str], expected: str) -> None:
    with pytest.raises(FaceServiceConfigError) as refused:
        FaceServiceSettings.from_env(env).check()
    assert expected in refused.value.message


def test_separate_mode_with_a_key_may_bind_any_address() -> None:
    settings = FaceServiceSettings.from_env(
        {"FACE_SERVICE_MODE": "separate", "FACE_SERVICE_API_KEY": KEY, "FACE_SERVICE_HOST": "::"}
    )
    settings.check()
    assert (settings.mode, settings.host, settings.private) == (Mode.SEPARATE, "::", False)


def test_every_problem_is_named_at_once() -> None:
    settings = FaceServiceSettings(host="0.0.0.0", api_key="short")
    with pytest.raises(FaceServiceConfigError) as refused:
        settings.check()
    assert "2 problem(s)" in refused.value.message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("localhost.example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.model
@pytest.mark.network
@pytest.mark.slow
def test_wait_returns_once_the_service_is_ready(face_service: ServiceProcess) -> None:
    result = sonta("face-service", "wait", "--url", face_service.url, "--timeout", "30")
    assert result.returncode == 0, result.stderr
    assert "is up (model vectron)" in result.stderr


@pytest.mark.network
@pytest.mark.slow
def test_wait_gives_up_after_its_timeout() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = sonta("face-service", "wait", "--timeout", "1.5", FACE_SERVICE_URL=url)
    assert result.returncode == 1
    assert "not ready (unavailable: connection refused)" in result.stderr
    # Process start-up aside, the wait itself is bounded by its timeout.
    assert time.monotonic() - started < 30


def test_the_backends_wait_looks_for_the_face_service_on_face_service_port() -> None:
    port = free_port()
    result = sonta("face-service", "wait", "--timeout", "1", FACE_SERVICE_PORT=str(port))
    assert result.returncode != 0  # nothing listens there
    assert f"Waiting for the face-service at http://localhost:{port}" in result.stderr
    given = sonta(
        "face-service",
        "wait",
        "--timeout",
        "1",
        FACE_SERVICE_PORT=str(port),
        FACE_SERVICE_URL="http://127.0.0.1:9",
    )
    assert "Waiting for the face-service at http://127.0.0.1:9 " in given.stderr  # set: it wins
