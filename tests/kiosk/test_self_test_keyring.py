"""The self-test against a real Secret Service (GNOME Keyring on a private D-Bus session),
set up the way packaging/linux/sonta-kiosk-keyring sets up a PC that logs in automatically."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "linux" / "sonta-kiosk-keyring"
FACES = ROOT / "tests" / "data" / "faces"
LOCK = (
    "import secretstorage; secretstorage.get_default_collection(secretstorage.dbus_init()).lock()"
)


def test_setup_unlocks_the_keyring_and_a_locked_one_is_named(tmp_path: Path) -> None:
    home, run = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "XDG_", "FACE_"))}
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(run),
        PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring",
        SONTA_KIOSK_DIR=str(tmp_path / "kiosk"),
        FACE_MODEL="vectron",
        PYTHONPATH=str(ROOT),
    )
    test = f"{shlex.quote(sys.executable)} -m sonta.cli kiosk self-test --source {FACES}"
    lock = f"{shlex.quote(sys.executable)} -c {shlex.quote(LOCK)}"
    script = f"""
        {SCRIPT} setup || exit 9
        {test}; echo "rc=$?"
        {lock}
        {test}; echo "rc=$?"
        {SCRIPT} unlock
        {test}; echo "rc=$?"
    """
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    runs = out.split("rc=")
    assert "ok   keyring   keyring.backends.SecretService.Keyring, unlocked" in runs[0], out
    assert runs[1].startswith("0")
    assert "FAIL keyring   keyring.backends.SecretService.Keyring: LOCKED" in runs[1], out
    assert "self-test FAILED: keyring" in runs[1] and runs[2].startswith("1")
    assert "keyring.backends.SecretService.Keyring, unlocked" in runs[2] and runs[3].startswith("0")
    password = home / ".config" / "sonta-kiosk" / "keyring-password"
    assert password.stat().st_mode & 0o777 == 0o600
    assert (
        "sonta-kiosk-keyring unlock"
        in (home / ".config" / "autostart" / "sonta-kiosk-keyring.desktop").read_text()
    )
