"""The real supervisord.conf, run as in the container: what is reachable from outside,
the start-up order, crash recovery and a clean stop within Docker's 10 s."""

from __future__ import annotations

import configparser
import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.container.conftest import CONF, VENV_BIN, CombinedServer, Namespace
from tests.container.dockerfile import final
from tests.face_service.conftest import clean_env, wait_until

pytestmark = [pytest.mark.model, pytest.mark.network, pytest.mark.slow]

HEALTHY = {
    "status": "healthy",
    "model": "vectron",
    "model_loaded": True,
    "licence": "non-commercial",
}
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
    assert result.stdout.strip() == (
        '{"status":"healthy","model":"vectron","model_loaded":true,"licence":"non-commercial"}'
    )


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
        assert supervisord_line or line.startswith(
            ("[face-service] ", "[backend] ", "[backup] ", "[supervise] ")
        ), line


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
    assert "stopped: backup (exit status 0)" in log
    assert "SIGKILL" not in log


def test_backups_are_scheduled_beside_the_server_and_restores_wait_for_it_to_stop(
    combined: CombinedServer,
) -> None:
    schedule = "[backup] INFO server.backend.tasks.backups.schedule: Backups every 24 h into "
    wait_until(lambda: schedule in combined.log(), 30, f"the backup schedule\n{combined.log()}")
    assert f"{schedule}{combined.data_dir / 'backups'}, keeping 14" in combined.log()
    made = combined.inside("sonta", "backup")  # while serving: SQLite's online backup
    assert made.returncode == 0, made.stderr
    match = re.search(r"Backup written to (\S+): ", made.stderr)
    assert match, made.stderr
    refused = combined.inside("sonta", "restore", match.group(1))
    assert refused.returncode == 1
    assert "The server is running (supervisord" in refused.stderr
    assert "Nothing was changed." in refused.stderr


def test_start_up_has_no_library_chatter_and_no_root_warning(combined: CombinedServer) -> None:
    log = combined.log()
    assert "alembic.runtime.plugins" not in log
    assert "Context impl" not in log and "HTTP Request:" not in log
    assert log.count("not set; using the ones generated on first start") == 1
    assert "CRIT" not in log
    assert "[supervise] Running as root (development)" in log


def test_the_pid_file_is_in_the_data_directory(combined: CombinedServer) -> None:
    """Two servers with their own data directories never share one pid file."""
    pid_file = combined.data_dir / "supervisord.pid"
    assert int(pid_file.read_text()) == combined.supervisord_pid()
    assert not list(Path(combined.env["HOME"]).glob("*.pid"))


LISTEN_FOREVER = (
    "import socket, time; s = socket.socket(); s.bind(('0.0.0.0', 3000)); s.listen();"
    "print('listening', flush=True); time.sleep(120)"
)


def test_a_taken_port_is_named_and_ends_the_supervision(tmp_path: Path) -> None:
    namespace = Namespace()
    squatter: subprocess.Popen[str] | None = None
    server: CombinedServer | None = None
    try:
        namespace.create()
        squatter = subprocess.Popen(
            namespace.command(sys.executable, "-c", LISTEN_FOREVER),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert squatter.stdout is not None and squatter.stdout.readline() == "listening\n"
        server = CombinedServer(namespace, tmp_path)
        code = server.process.wait(timeout=90)
        log = server.log()
    finally:
        namespace.destroy()
        for process in (squatter, server.process if server else None):
            if process is not None:
                process.wait(timeout=10)
    assert code == 1, log
    assert "[backend] Port 3000 (PORT) is already in use" in log
    assert "set PORT to a free port. (Tried 2 times over 2 s.)" in log
    # Within startsecs a failed start, retried until FATAL; after it, a final exit 2.
    gave_up = (
        "[supervise] backend could not be started after several tries; stopping.",
        "[supervise] backend stopped on a problem retrying cannot fix; stopping.",
    )
    assert any(line in log for line in gave_up), log
    assert 1 <= log.count("spawned: 'backend'") <= 4  # at most startretries=3 retries
    assert "Traceback" not in log


def test_a_program_that_goes_fatal_ends_the_supervision_with_exit_code_1(tmp_path: Path) -> None:
    """The real [supervisord] and give-up listener sections, with a program that always
    fails at once: supervisord retries it, marks it FATAL, and everything stops."""
    real = configparser.RawConfigParser()
    real.read(CONF)
    conf = configparser.RawConfigParser()
    for section in ("supervisord", "eventlistener:give-up"):
        conf[section] = dict(real[section])
    conf["eventlistener:give-up"]["directory"] = str(tmp_path)
    conf["program:crasher"] = {
        "command": "false",
        "startsecs": "1",
        "startretries": "2",
        "autorestart": "unexpected",
        "exitcodes": "2",
        "stdout_logfile": "/dev/stdout",
        "stdout_logfile_maxbytes": "0",
    }
    with (tmp_path / "supervisord.conf").open("w") as file:
        conf.write(file)
    env = clean_env(
        PATH=f"{VENV_BIN}{os.pathsep}/usr/bin:/bin", SONTA_DATA_DIR=str(tmp_path / "data")
    )
    result = subprocess.run(
        [str(VENV_BIN / "sonta"), "supervise", "--conf", str(tmp_path / "supervisord.conf")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    log = result.stdout
    assert result.returncode == 1, log + result.stderr
    assert "gave up: crasher entered FATAL state, too many start retries too quickly" in log
    assert "[supervise] crasher could not be started after several tries; stopping." in log
    assert "[supervise] Stopped because a program gave up (see above)" in log


# Every `sonta` the conf runs starts this many seconds late, as on a machine shared by
# many: as long as startsecs, so the old conf counted each failed start as a success.
SLOW_START_SECONDS = 15


def test_an_unreachable_database_ends_the_supervision_within_two_minutes_on_a_slow_start(
    tmp_path: Path,
) -> None:
    slow = tmp_path / "slow-bin"
    slow.mkdir()
    shim = slow / "sonta"
    shim.write_text(f'#!/bin/sh\nsleep {SLOW_START_SECONDS}\nexec "{VENV_BIN}/sonta" "$@"\n')
    shim.chmod(0o755)
    namespace = Namespace()
    server: CombinedServer | None = None
    try:
        namespace.create()
        started = time.monotonic()
        server = CombinedServer(
            namespace,
            tmp_path,
            path_first=slow,
            DATABASE_URL=f"postgresql://sonta:{os.urandom(6).hex()}@127.0.0.1:1/sonta",
        )
        code = server.process.wait(timeout=180)
        elapsed = time.monotonic() - started
        log = server.log()
    finally:
        namespace.destroy()
        if server is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)
    assert code == 1, log
    assert elapsed < 120, f"the supervision took {elapsed:.0f} s to end\n{log}"
    assert log.count("spawned: 'backend'") == 1, log
    # "Waiting up to ..." comes first unless starting Python took the whole minute.
    (line,) = [x for x in log.splitlines() if "cannot be reached" in x]
    assert line.startswith("[backend] The database at 127.0.0.1:1 cannot be reached after "), log
    assert line.endswith(
        "check DATABASE_URL (or DATABASE_HOST and DATABASE_PORT) and that PostgreSQL runs "
        "and accepts connections from here; stopping, so the container is restarted."
    )
    assert "[supervise] backend stopped on a problem retrying cannot fix; stopping." in log
    assert "Traceback" not in log
