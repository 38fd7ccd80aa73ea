"""The self-test against a real Secret Service (GNOME Keyring on a private D-Bus session),
set up the way packaging/linux/sonta-kiosk-keyring sets up a PC that logs in automatically,
with no test keyring named: keyring finds the Secret Service on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.desktop import desktop_session, session_processes

pytestmark = [pytest.mark.model, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "linux" / "sonta-kiosk-keyring"
FACES = ROOT / "tests" / "data" / "faces"
LOCK = (
    "import secretstorage; secretstorage.get_default_collection(secretstorage.dbus_init()).lock()"
)


def test_setup_unlocks_the_keyring_and_a_locked_one_is_named(tmp_path: Path) -> None:
    with desktop_session(tmp_path, keyring=False) as session:
        env = {**session, "SONTA_KIOSK_DIR": str(tmp_path / "kiosk"), "FACE_MODEL": "vectron"}
        home = Path(env["HOME"])

        def run(*command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=240, check=False
            )

        def self_test() -> subprocess.CompletedProcess[str]:
            return run("sonta", "kiosk", "self-test", "--source", str(FACES))

        set_up = run(str(SCRIPT), "setup")
        assert set_up.returncode == 0, set_up.stderr
        unlocked = self_test()
        assert "ok   keyring   keyring.backends.SecretService.Keyring, unlocked" in (
            unlocked.stdout
        ), unlocked.stdout + unlocked.stderr
        assert unlocked.returncode == 0
        assert run(sys.executable, "-c", LOCK).returncode == 0
        locked = self_test()
        assert "FAIL keyring   keyring.backends.SecretService.Keyring: LOCKED" in locked.stdout
        assert "self-test FAILED: keyring" in locked.stdout and locked.returncode == 1
        assert run(str(SCRIPT), "unlock").returncode == 0
        again = self_test()
        assert "keyring.backends.SecretService.Keyring, unlocked" in again.stdout
        assert again.returncode == 0
        daemons = [
            pid
            for pid in session_processes(Path(env["XDG_RUNTIME_DIR"]))
            if command_of(pid) == "gnome-keyring-d"  # the kernel keeps 15 characters
        ]
        assert daemons, "the script's gnome-keyring-daemon runs in the session"
    # `--replace` daemonizes out of the session's process group: it is stopped all the same.
    assert not [pid for pid in daemons if alive(pid)]
    password = home / ".config" / "sonta-kiosk" / "keyring-password"
    assert password.stat().st_mode & 0o777 == 0o600
    assert (
        "sonta-kiosk-keyring unlock"
        in (home / ".config" / "autostart" / "sonta-kiosk-keyring.desktop").read_text()
    )


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that is not a reaping init is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
