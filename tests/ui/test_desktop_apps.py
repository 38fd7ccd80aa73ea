"""The kiosk started as a person starts it: `sonta kiosk` and `./run.sh` on
an X display (Xvfb), in a desktop session whose GNOME Keyring is unlocked, with no test
keyring or engine handed in (FACE_MODEL=vectron is the offline pack a person may choose).
Screenshots of each step are kept as test artefacts (`SONTA_SCREENSHOTS`, else tmp_path)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.kiosk.backend import FACES, LiveBackend
from tests.kiosk.conftest import photo
from tests.kiosk.media import fit, write_video
from tests.server.live import free_port
from tests.ui.test_admin_screens import artefact_dir
from tests.utils.desktop import desktop_session, screenshot, with_display

pytestmark = [pytest.mark.network, pytest.mark.model, pytest.mark.slow]
START_WAIT_S = 300.0  # an app (or run.sh's server) starting on a shared two-core machine
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long and private passphrase"


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[dict[str, str]]:
    with desktop_session(tmp_path) as env, with_display(env) as shown:
        yield {**shown, "FACE_MODEL": "vectron"}


class App:
    """A started process (`sonta ...` or `./run.sh`) whose log the test reads as it grows."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self.process = subprocess.Popen(
            ["sonta", *args],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    @classmethod
    def watching(cls, process: subprocess.Popen[bytes], log: Path) -> App:
        app = cls.__new__(cls)
        app.log, app.process = log, process  # type: ignore[assignment]
        return app

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, what: str, found: Callable[[str], bool]) -> str:
        self.wait_until(what, lambda: found(self.text()))
        return self.text()

    def wait_until(self, what: str, value: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + START_WAIT_S
        while not (result := value()):
            code = self.process.poll()
            assert code is None, f"exited {code} while waiting for {what}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {what} in {START_WAIT_S:.0f} s:\n{self.text()}"
            time.sleep(1.0)
        return result

    def close(self) -> None:
        """Stops the process and everything it started (run.sh: supervisord and the window)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def admin_token(env: dict[str, str], folder: Path, api: httpx.Client) -> str:
    """An admin made with `./run.sh admin create`, signed in over the API (README step 1)."""
    subprocess.run(
        [str(ROOT / "run.sh"), "admin", "create", "you@example.org", "--role", "super_admin"],
        cwd=folder,
        env=env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    login = api.post("/api/auth/login", json={"email": "you@example.org", "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def start_meeting(api: httpx.Client, auth: dict[str, str]) -> str:
    """A meeting open now, for everyone, with no head-turn asked (a video cannot turn)."""
    now = datetime.now(UTC)
    made = api.post(
        "/api/meetings",
        json={
            "title": "Sonta Heads meeting",
            "location_name": "Main hall",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "liveness": "never",
            "open_to_everyone": True,
        },
        headers=auth,
    )
    assert made.status_code == 201, made.text
    meeting = str(made.json()["id"])
    started = api.post(f"/api/meetings/{meeting}/start", headers=auth)
    assert started.status_code == 200, started.text
    return meeting


def present(api: httpx.Client, auth: dict[str, str], meeting: str) -> list[tuple[str, str]]:
    report = api.get(f"/api/reports/meetings/{meeting}", headers=auth)
    assert report.status_code == 200, report.text
    return [
        (line["full_name"], line["method"])
        for line in report.json()["people"]
        if line["presence"] in ("present", "late")
    ]


def test_a_fresh_kiosk_offers_pairing_while_another_kiosk_is_paired_on_the_account(
    desktop: dict[str, str], backend: LiveBackend, tmp_path: Path
) -> None:
    shots = artefact_dir(tmp_path)
    first = str(tmp_path / "first")
    paired = subprocess.run(
        ["sonta", "kiosk", "pair", backend.url, backend.pairing_code("Hall"), "--data-dir", first],
        env=desktop,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert paired.returncode == 0, paired.stderr
    fresh = tmp_path / "fresh"
    kiosk = App(desktop, tmp_path / "kiosk.log", "kiosk", "--windowed", "--data-dir", str(fresh))
    try:
        log = kiosk.wait_for("the pairing dialog", lambda t: "the pairing dialog asks" in t)
        assert "not paired:" not in log.replace("not paired yet", "")
        time.sleep(2)  # the dialog painted
        screenshot(desktop, shots / "desktop_fresh_kiosk_pairing.png")
    finally:
        kiosk.close()


def test_run_sh_starts_the_server_and_a_kiosk_window_that_pairs_and_checks_in(
    desktop: dict[str, str], tmp_path: Path
) -> None:
    """`./run.sh --source VIDEO` on a desktop, on free ports (PORT, FACE_SERVICE_PORT):
    the window pairs itself with the server the script started, a meeting started through
    the API reaches the kiosk, and the person in the video is checked in on the server."""
    shots = artefact_dir(tmp_path)
    port = free_port()
    env = {
        **desktop,
        "PORT": str(port),
        "FACE_SERVICE_PORT": str(free_port()),
        "SONTA_DATA_DIR": str(tmp_path / "server"),
    }
    person = tmp_path / "person"  # the admin's folder: relative paths are theirs
    (person / "photos").mkdir(parents=True)
    shutil.copy(FACES / "obama.jpg", person / "photos" / "ama.jpg")
    # Nobody at the door for 8 s (the board shows the meeting), then Ama for 30 s.
    nobody = np.full((480, 640, 3), 90, np.uint8)
    write_video(person / "door.avi", [nobody] * 120 + [fit(photo("obama2"))] * 450, fps=15)
    run = subprocess.Popen(
        [str(ROOT / "run.sh"), "--source", "door.avi"],
        cwd=person,
        env=env,
        stdout=(tmp_path / "run.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    app = App.watching(run, tmp_path / "run.log")
    try:
        app.wait_for("the kiosk paired and waiting", lambda t: "waiting for a meeting" in t)
        screenshot(env, shots / "run_sh_paired.png")
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        auth = {"Authorization": f"Bearer {admin_token(env, person, api)}"}
        member = api.post(
            "/api/members",
            json={"full_name": "Ama Mensah", "ministry": "Choir", "email": "ama@example.org"},
            headers=auth,
        )
        assert member.status_code == 201, member.text
        enrol = subprocess.run(
            [
                str(ROOT / "run.sh"),
                "admin",
                "enrol",
                "ama@example.org",
                "photos/ama.jpg",
                "--consent",
            ],
            cwd=person,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert enrol.returncode == 0, enrol.stderr[-2000:]
        meeting = start_meeting(api, auth)
        # The kiosk learns of the meeting, shows it on its board and starts its camera.
        app.wait_for("the camera started for the meeting", lambda t: "door.avi: live" in t)
        time.sleep(3)
        screenshot(env, shots / "run_sh_board.png")
        came = app.wait_until(
            "the kiosk's check-in on the server", lambda: present(api, auth, meeting)
        )
        assert came == [("Ama Mensah", "face")]
        screenshot(env, shots / "run_sh_checked_in.png")
    finally:
        app.close()


def kiosk_status(env: dict[str, str], data: Path) -> tuple[str, dict[str, Any]]:
    """`sonta kiosk status` as an operator runs it beside the window: text and --json."""
    runs = [
        subprocess.run(
            ["sonta", "kiosk", "status", *extra, "--data-dir", str(data)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        ).stdout
        for extra in ((), ("--json",))
    ]
    return runs[0], json.loads(runs[1])


def clear_status(status: tuple[str, dict[str, Any]]) -> str | None:
    """The status text once no error is kept (sync's or the window's), else None."""
    return status[0] if status[1]["last_error"] is None else None


@pytest.mark.timeout(600)  # its own waits say what they waited for, before this cuts in
def test_the_kiosk_window_goes_offline_and_back_with_its_server_keeping_the_meeting(
    desktop: dict[str, str], backend: LiveBackend, tmp_path: Path
) -> None:
    """`sonta kiosk` paired with a server on another computer (here: another process), a
    meeting open: the server stops, the window keeps the meeting and says Offline, `sonta
    kiosk status` names the error; the server starts again and the window is Online."""
    shots = artefact_dir(tmp_path)
    data = tmp_path / "kiosk"
    paired = subprocess.run(
        ["sonta", "kiosk", "pair", backend.url, backend.pairing_code("Hall"), "--data-dir", data],
        env=desktop,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert paired.returncode == 0, paired.stderr
    backend.meeting(title="Sonta Heads meeting")
    nobody = np.full((480, 640, 3), 90, np.uint8)  # an empty doorway for 10 minutes
    door = write_video(tmp_path / "door.avi", [nobody] * 600, fps=1)
    kiosk = App(
        desktop,
        tmp_path / "kiosk.log",
        "kiosk",
        "--windowed",
        "--data-dir",
        str(data),
        "--source",
        str(door),
    )
    try:
        kiosk.wait_for("the camera started for the meeting", lambda t: "door.avi: live" in t)
        time.sleep(25)  # nobody at the door for 20 s: the window shows the meeting's board
        screenshot(desktop, shots / "kiosk_server_online.png")
        backend.stop()
        stopped = time.monotonic()
        kiosk.wait_for("the window to notice", lambda t: "server unreachable" in t)
        noticed = time.monotonic() - stopped
        time.sleep(2)
        screenshot(desktop, shots / f"kiosk_server_stopped_offline_after_{noticed:.0f}s.png")
        text, report = kiosk_status(desktop, data)
        assert report["paired"] and "cannot be reached" in (report["last_error"] or ""), report
        assert "Connection: OFFLINE since the last try" in text, text
        assert "meeting board not fetched" in kiosk.text()
        backend.start()
        kiosk.wait_for("the window back online", lambda t: "server reachable again" in t)
        time.sleep(2)
        screenshot(desktop, shots / "kiosk_server_back_online.png")
        text = kiosk.wait_until(
            "the status command clear", lambda: clear_status(kiosk_status(desktop, data))
        )
        assert "OFFLINE" not in text, text
    finally:
        kiosk.close()
