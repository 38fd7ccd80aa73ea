"""A desktop as a person has it, for the tests that start the product as shipped.

`desktop_session` gives a private D-Bus session (`dbus-run-session`) with GNOME Keyring
running and its login keyring unlocked, a home folder of the test's own, and no test-only
keyring: `PYTHON_KEYRING_BACKEND` is unset, so keyring finds the Secret Service on its
own, beside the plain-file keyring that the test environment's keyrings.alt offers.
`with_display` adds an Xvfb screen. Every process started here is stopped on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYRING_PASSWORD = "a desktop login password\n"
# Read in a subprocess of the session: the secrets the kiosk and admin app stored.
LIST_SECRETS = """
import secretstorage
bus = secretstorage.dbus_init()
for item in secretstorage.get_default_collection(bus).get_all_items():
    attributes = item.get_attributes()
    print(attributes.get("service"), attributes.get("username"))
"""


def _stop(process: subprocess.Popen[str]) -> None:
    """Stops a process started in its own session, with everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def session_processes(run: Path) -> list[int]:
    """Processes of this machine whose environment names the session's runtime folder:
    every one started in the session, even a daemon that left its process group."""
    marker = f"XDG_RUNTIME_DIR={run}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _stop_strays(run: Path, timeout: float = 20.0) -> None:
    """Ends what the session left running (e.g. `gnome-keyring-daemon --replace`, which
    daemonizes out of reach of its session), as logging out does."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in session_processes(run):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while session_processes(run) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not session_processes(run):
            return


@contextlib.contextmanager
def desktop_session(tmp_path: Path, *, keyring: bool = True) -> Iterator[dict[str, str]]:
    """The environment of a desktop login: D-Bus session, unlocked GNOME Keyring, own HOME.

    `keyring=False` leaves GNOME Keyring to the test (a set-up script that starts it).
    On exit every process of the session is stopped, however it was started."""
    assert shutil.which("dbus-run-session"), "dbus is missing: scripts/bootstrap.sh installs it"
    assert shutil.which("gnome-keyring-daemon"), "gnome-keyring is missing: see bootstrap.sh"
    home, run = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "XDG_", "DBUS_", "FACE_", "SONTA_", "QT_"))
    }
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(run),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    bus = subprocess.Popen(
        ["dbus-run-session", "--", "sh", "-c", 'echo "$DBUS_SESSION_BUS_ADDRESS"; exec sleep 3600'],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    keyring_daemon: subprocess.Popen[str] | None = None
    try:
        assert bus.stdout is not None
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        if not keyring:
            yield env
            return
        # As a desktop login does: the login password unlocks (here: creates) the keyring.
        keyring_daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert keyring_daemon.stdin is not None
        keyring_daemon.stdin.write(KEYRING_PASSWORD)
        keyring_daemon.stdin.close()
        _wait_for_secret_service(env)
        yield env
    finally:
        if keyring_daemon is not None:
            _stop(keyring_daemon)
        _stop(bus)
        _stop_strays(run)


def _wait_for_secret_service(env: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(
            [sys.executable, "-c", LIST_SECRETS],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode == 0:
            return
        assert time.monotonic() < deadline, (
            f"GNOME Keyring's Secret Service did not answer within {timeout:.0f} s: "
            + result.stderr[-1000:]
        )
        time.sleep(0.5)


def stored_secrets(env: dict[str, str]) -> list[tuple[str, str]]:
    """(service, entry name) of every secret in the session's login keyring."""
    result = subprocess.run(
        [sys.executable, "-c", LIST_SECRETS],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [tuple(line.split(" ", 1)) for line in result.stdout.splitlines()]  # type: ignore[misc]


@contextlib.contextmanager
def with_display(env: dict[str, str], size: str = "1280x800x24") -> Iterator[dict[str, str]]:
    """`env` plus DISPLAY of a fresh Xvfb screen, which is stopped on exit."""
    assert shutil.which("Xvfb"), "Xvfb is missing: scripts/bootstrap.sh installs xvfb"
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(write)
    try:
        with os.fdopen(read) as numbers:
            display = numbers.readline().strip()
        assert display, "Xvfb gave no display number"
        yield {**env, "DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb"}
    finally:
        _stop(server)  # type: ignore[arg-type]


def screenshot(env: dict[str, str], path: Path) -> Path:
    """The whole X screen as a PNG (a test artefact), taken with Qt like a person's tool."""
    script = (
        "import sys\n"
        "from PySide6.QtGui import QGuiApplication\n"
        "app = QGuiApplication(sys.argv[:1])\n"
        "ok = app.primaryScreen().grabWindow(0).save(sys.argv[1])\n"
        "sys.exit(0 if ok else 1)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(path)], env=env, check=True, timeout=60, cwd=ROOT
    )
    return path


class Keyboard:
    """A person's keyboard on the X display of `env` (Xvfb), through `xdotool` (XTEST).

    With no window manager, the window given the input focus is the one `focus` names;
    keys then go wherever that window's own focus is, as they would for a person.
    """

    def __init__(self, env: dict[str, str]) -> None:
        assert shutil.which("xdotool"), "xdotool is missing: scripts/bootstrap.sh installs it"
        self.env = env

    def _run(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            ["xdotool", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"xdotool {' '.join(args)}: {result.stderr}"
        return result.stdout

    def focus(self, title: str, timeout: float = 120) -> None:
        """Wait for a shown window whose title is `title` and give it the keyboard."""
        found = self._run(
            "search", "--sync", "--onlyvisible", "--name", f"^{title}$", timeout=timeout
        )
        window = found.split()[-1]
        self._run("windowraise", window)
        self._run("windowfocus", "--sync", window)

    def type(self, text: str) -> None:
        self._run("type", "--delay", "40", text)

    def press(self, *keys: str) -> None:
        """Keys in xdotool's names, one after another: "Tab", "Return", "alt+n"."""
        for key in keys:
            self._run("key", "--clearmodifiers", key)
            time.sleep(0.2)
