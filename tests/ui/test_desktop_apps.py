"""The desktop apps started as a person starts them: `sonta admin-app` and `sonta kiosk` on
an X display (Xvfb), in a desktop session whose GNOME Keyring is unlocked, with no test
keyring or engine handed in (FACE_MODEL=vectron is the offline pack a person may choose).
Screenshots of each step are kept as test artefacts (`SONTA_SCREENSHOTS`, else tmp_path)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.kiosk.backend import LiveBackend
from tests.ui.test_admin_screens import artefact_dir
from tests.utils.desktop import desktop_session, screenshot, with_display

pytestmark = [pytest.mark.network, pytest.mark.model, pytest.mark.slow]
START_WAIT_S = 180.0  # an app and its engine starting on a shared two-core machine


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[dict[str, str]]:
    with desktop_session(tmp_path) as env, with_display(env) as shown:
        yield {**shown, "FACE_MODEL": "vectron"}


class App:
    """A started `sonta ...` process whose log (stderr) the test reads as it grows."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._file = log.open("w")
        self.process = subprocess.Popen(
            ["sonta", *args], env=env, stdout=self._file, stderr=subprocess.STDOUT, text=True
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, what: str, found: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + START_WAIT_S
        while not found(self.text()):
            code = self.process.poll()
            assert code is None, f"exited {code} while waiting for {what}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {what} in {START_WAIT_S:.0f} s:\n{self.text()}"
            time.sleep(0.5)
        return self.text()

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self._file.close()


def test_admin_app_starts_on_the_desktop_keyring_and_loads_its_engine(
    desktop: dict[str, str], backend: LiveBackend, tmp_path: Path
) -> None:
    shots = artefact_dir(tmp_path)
    app = App(desktop, tmp_path / "admin-app.log", "admin-app", "--server", backend.url)
    try:
        log = app.wait_for("the engine loaded", lambda t: "face engine vectron@" in t)
        assert "ready" in log and "cannot keep" not in log
        assert "admin app: no camera 0" in log or "admin app: camera 0 opened" in log
        screenshot(desktop, shots / "desktop_admin_app.png")
    finally:
        app.close()


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
