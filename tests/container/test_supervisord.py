"""The real supervisord.conf, run as in the container: what is reachable from outside,
the start-up order, crash recovery and a clean stop within Docker's 10 s."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import time

import pytest

from tests.container.conftest import CombinedServer
from tests.container.dockerfile import final
from tests.face_service.conftest import wait_until

pytestmark = [pytest.mark.model, pytest.mark.network, pytest.mark.slow]

HEALTHY = {"status": "healthy", "model": "vectron", "model_loaded": True}
FETCH_HEALTH = (
    "import urllib.request;"
    "print(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=5).read().decode())"
)


def refused(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex((host, port)) == errno.ECONNREFUSED


def test_outside_port_3000_answers_and_port_8000_is_refused(combined: CombinedServer) -> None:
    response = combined.backend_health()
    assert response is not None and response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["face_service"] == HEALTHY
    assert refused(combined.namespace.ns_ip, 8000)


def test_only_3000_listens_beyond_loopback(combined: CombinedServer) -> None:
    listening = combined.inside("ss", "-Hltn").stdout.split("\n")
    addresses = sorted(line.split()[3] for line in listening if line.strip())
    assert addresses == ["0.0.0.0:3000", "127.0.0.1:8000"]


def test_inside_8000_answers_the_exact_health_json(combined: CombinedServer) -> None:
    result = combined.inside("python", "-c", FETCH_HEALTH)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '{"status":"healthy","model":"vectron","model_loaded":true}'


def test_start_up_lines_come_in_the_documented_order(combined: CombinedServer) -> None:
    log = combined.log()
    expected = [
        "[face-service] INFO server.face_service: Face service starting on localhost:8000 "
        "(private: bound to 127.0.0.1)",
        "[face-service] INFO server.face_service.runtime: Loading face model vectron",
        "[face-service] INFO server.face_service.runtime: Face model vectron loaded",
        "[backend] Backend starting on port 3000",
        "[backend] INFO server.backend.services.face_client: Face service is ready "
        "(model: vectron)",
        "[backend] INFO:     Uvicorn running on http://0.0.0.0:3000",
    ]
    positions = [log.find(line) for line in expected]
    missing = [line for line, at in zip(expected, positions, strict=True) if at < 0]
    assert missing == [], log
    assert positions == sorted(positions), log
    # Migrations run beside the model loading, but always before the backend starts.
    assert 0 <= log.find("[backend] Database schema is up to date.") < positions[3]


def test_every_program_line_is_prefixed(combined: CombinedServer) -> None:
    for line in combined.log().splitlines():
        supervisord_line = line[:4].isdigit()  # supervisord's own lines start with the date
        assert supervisord_line or line.startswith(("[face-service] ", "[backend] ")), line


def test_the_healthcheck_command_passes_against_the_combined_server(
    combined: CombinedServer,
) -> None:
    (healthcheck,) = final().all("HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    result = combined.inside(*command)
    assert result.returncode == 0, result.stderr


def test_a_killed_face_service_is_restarted_and_the_backend_follows(
    combined: CombinedServer,
) -> None:
    old_pid = combined.program_pid("face-service")
    os.kill(old_pid, signal.SIGKILL)
    seen: list[str] = []

    def recovered() -> bool:
        response = combined.backend_health()
        body = {} if response is None else response.json()
        seen.append(f"{body['status']}/{body['face_service']['status']}" if body else "no answer")
        # Overall "degraded" while the face-service is down, "healthy" once it is back.
        return seen[-1] == "healthy/healthy" and "degraded/unavailable" in seen

    wait_until(recovered, 90, f"the face-service to come back\n{combined.log()}")
    assert combined.program_pid("face-service") != old_pid
    assert "exited: face-service (terminated by SIGKILL" in combined.log()
    # The backend kept serving the whole time.
    assert "no answer" not in seen


def test_sigterm_stops_everything_within_ten_seconds(fresh_combined: CombinedServer) -> None:
    started = time.monotonic()
    fresh_combined.process.send_signal(signal.SIGTERM)
    fresh_combined.process.wait(timeout=10)
    elapsed = time.monotonic() - started
    assert elapsed < 10
    wait_until(lambda: not fresh_combined.namespace.pids(), 2, "no process left")
    log = fresh_combined.log()
    # uvicorn finishes its graceful shutdown, then re-raises the signal it got.
    stopped = [
        log.find("[backend] INFO:     Finished server process"),
        log.find("stopped: backend (terminated by SIGTERM)"),
        log.find("[face-service] INFO:     Finished server process"),
        log.find("stopped: face-service (terminated by SIGTERM)"),
    ]
    assert -1 not in stopped and stopped == sorted(stopped), log
    assert "SIGKILL" not in log
