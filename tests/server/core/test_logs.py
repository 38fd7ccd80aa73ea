"""One-time codes, links, search terms, QR tokens and stream tickets never reach a log
in clear (issue 13): without email the codes were logged, and the access log kept every
query string."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.core.context import make_mailer
from server.backend.core.logs import mask_query
from server.backend.services.mailer import ConsoleMailer, UnsentMailer
from tests.server.live import free_port

CODE = "one-time code: S3cr3t-c0de"


def test_development_prints_the_code_once_on_the_console_never_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    console = io.StringIO()
    with caplog.at_level(logging.DEBUG):
        ConsoleMailer(console).send(to="kwame@example.org", subject="Set your password", text=CODE)
    assert "S3cr3t-c0de" not in caplog.text and "kwame@example.org" not in caplog.text
    assert "k***@example.org" in caplog.text and "printed on the console" in caplog.text
    shown = console.getvalue()
    assert shown.count("S3cr3t-c0de") == 1 and "DEVELOPMENT ONLY" in shown


def test_production_without_email_writes_no_code_anywhere(
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    embedded_settings: Settings,
) -> None:
    mailer = make_mailer(embedded_settings.model_copy(update={"app_env": "production"}))
    assert isinstance(mailer, UnsentMailer)
    with caplog.at_level(logging.DEBUG):
        mailer.send(to="kwame@example.org", subject="Set your password", text=CODE)
    printed = capsys.readouterr()
    assert "S3cr3t-c0de" not in caplog.text + printed.out + printed.err
    assert "sonta admin reset-password" in caplog.text


@pytest.mark.parametrize(
    ("target", "masked"),
    [
        ("/api/members?search=Mensah&limit=20", "/api/members?search=***&limit=***"),
        ("/api/events?ticket=abc", "/api/events?ticket=***"),
        ("/checkin?token=v1.abc.def", "/checkin?token=***"),
        ("/health", "/health"),
    ],
)
def test_query_values_are_masked(target: str, masked: str) -> None:
    assert mask_query(target) == masked


@pytest.mark.network
@pytest.mark.slow
def test_the_access_log_of_sonta_server_keeps_no_query_values(
    server_env: dict[str, str], pg_settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, **server_env, "HOME": str(tmp_path), "PORT": str(port)}
    command = [sys.executable, "-m", "sonta.cli", "server", "--host", "127.0.0.1"]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(url, process, log)
        secrets = {
            "/api/members?search=Mensah": "Mensah",
            "/api/events?ticket=Tk7-stream-ticket": "Tk7-stream-ticket",
            "/checkin?token=v1.QrTokenSecret": "QrTokenSecret",
            "/auth/magic?token=MagicLinkSecret": "MagicLinkSecret",
        }
        for target in secrets:
            httpx.get(f"{url}{target}")
    finally:
        process.terminate()
        process.wait(timeout=15)
    text = log.read_text()
    assert "GET /api/members?search=***" in text  # the line is there, its value is not
    for secret in secrets.values():
        assert secret not in text


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
