"""`sonta kiosk` opens the window; without a display it says so and exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.device.credentials import CredentialStore
from kiosk.device.lock import PinLock
from kiosk.errors import PairingError
from kiosk.storage.local_store import LocalStore
from kiosk.syncing.syncer import pair
from tests.kiosk.backend import LiveBackend
from ui.local_pairing import local_pairing_code
from ui.window_command import NO_DISPLAY, has_display

SONTA = str(Path(sys.executable).parent / "sonta")
DISPLAY_VARS = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def sonta(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SONTA, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_without_a_display_the_window_says_so_plainly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARS}
    result = sonta("kiosk", "--kiosk-dir", str(tmp_path), env=env)
    assert result.returncode == NO_DISPLAY
    assert "No display" in result.stderr and "run --headless" in result.stderr
    assert not has_display({})
    assert has_display({"DISPLAY": ":0"})


def test_kiosk_help_describes_the_window() -> None:
    result = sonta("kiosk", "--help")
    assert result.returncode == 0, result.stderr
    assert "opens the kiosk window" in result.stdout and "--local-server" in result.stdout


def test_set_pin_keeps_only_a_hash_and_refuses_a_short_pin(tmp_path: Path) -> None:
    def set_pin(pin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SONTA, "kiosk", "set-pin", "--kiosk-dir", str(tmp_path)],
            input=pin + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    refused = set_pin("12")
    assert refused.returncode == 2 and "4 to 12 digits" in refused.stderr
    assert not (tmp_path / "lock.json").exists()
    done = set_pin("86420")
    assert done.returncode == 0, done.stderr
    assert "86420" not in (tmp_path / "lock.json").read_text()
    assert PinLock(tmp_path / "lock.json").verify("86420")


@pytest.mark.network
def test_run_sh_pairing_gets_a_code_from_the_local_server(
    backend: LiveBackend,
    server_env: dict[str, str],
    credentials: CredentialStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in server_env.items():  # the server CLI reaches the same database
        monkeypatch.setenv(name, value)
    store = LocalStore(
        tmp_path / "kiosk.db",
        template_key=credentials.template_key,
        outbox_key=credentials.outbox_key,
    )
    try:
        code = local_pairing_code(backend.url, sonta=[SONTA], ready_timeout=30)
        pair(backend.url, code, store=store, credentials=credentials)
        assert credentials.is_paired()
    finally:
        store.close()
    assert backend.count("SELECT count(*) FROM kiosks") == 1


def test_automatic_pairing_is_only_for_a_server_on_this_computer() -> None:
    with pytest.raises(PairingError, match="only for a server on this computer"):
        local_pairing_code("https://attendance.example.org")


def test_admin_app_without_a_display_says_so_plainly() -> None:
    env = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARS}
    result = sonta("admin-app", "--server", "http://127.0.0.1:9", env=env)
    assert result.returncode == NO_DISPLAY
    assert "No display" in result.stderr and "admin app" in result.stderr
