"""`sonta admin-app` as a person starts and uses it: the real command on an X display
(Xvfb) in a desktop session whose GNOME Keyring is unlocked, no test keyring or engine
handed in, driven only by the keyboard (xdotool) against a real backend on loopback.
Screenshots of each step are kept as test artefacts (`SONTA_SCREENSHOTS`, else tmp_path)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kiosk.backend import FACES, LiveBackend
from tests.server.utils import PASSWORD, make_admin
from tests.ui.test_admin_screens import artefact_dir
from tests.ui.test_desktop_apps import App
from tests.utils.desktop import Keyboard, desktop_session, screenshot, stored_secrets, with_display

pytestmark = [pytest.mark.network, pytest.mark.model, pytest.mark.slow]
WINDOW = "Sonta Attendance — admin"


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[dict[str, str]]:
    with desktop_session(tmp_path) as env, with_display(env) as shown:
        yield {**shown, "FACE_MODEL": "vectron"}


def test_admin_app_signs_in_and_enrols_a_member_from_a_photo_by_keyboard(
    desktop: dict[str, str], backend: LiveBackend, tmp_path: Path
) -> None:
    """Sign in, add Ama with her consent, choose her photo in the file dialog by typing its
    path, save: her face template is on the server, computed by the app's own engine."""
    shots = artefact_dir(tmp_path)
    admin = make_admin(backend.admin, email="office@example.org")
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(FACES / "obama.jpg", photos / "ama.jpg")
    app = App(desktop, tmp_path / "admin-app.log", "admin-app", "--server", backend.url)
    keys = Keyboard(desktop)

    def step(name: str) -> None:
        time.sleep(1.5)  # the window painted what the last key did
        screenshot(desktop, shots / f"desktop_admin_{name}.png")

    try:
        log = app.wait_for("the engine loaded", lambda t: "face engine vectron@" in t)
        assert "cannot keep" not in log
        assert "admin app: no camera 0" in log or "admin app: camera 0 opened" in log
        keys.focus(WINDOW)
        step("1_sign_in")
        keys.type(admin.email)
        keys.press("Tab")
        keys.type(PASSWORD)
        keys.press("Return")
        app.wait_for("the sign-in", lambda t: "signed in as office@example.org" in t)
        assert [service for service, _ in stored_secrets(desktop)] == ["sonta-admin"]
        step("2_people")
        keys.press("alt+n")
        keys.focus("New member")
        keys.type("Ama Mensah")
        keys.press("Tab")
        keys.type("Choir")
        step("3_new_member")
        keys.press("Return")
        ama = app.wait_until("Ama on the server", lambda: members(backend, "Ama Mensah"))[0]
        keys.focus(WINDOW)
        keys.press("ctrl+f")
        keys.type("Ama")
        keys.press("Return")  # search, and select the first found
        step("4_found")
        keys.press("alt+g")
        app.wait_until("her consent on the server", lambda: consented(backend, ama))
        step("5_consent")
        keys.press("alt+e")
        step("6_enrolment")
        keys.press("alt+p")
        keys.focus("Photos of this person")
        keys.type(str(photos / "ama.jpg"))
        step("7_file_dialog")
        keys.press("Return")
        keys.focus(WINDOW)
        app.wait_for("the photo read", lambda t: "1 of 1 photos accepted" in t)
        step("8_photo_accepted")
        keys.press("alt+s")
        app.wait_for("the template saved", lambda t: "1 face sample saved" in t)
        step("9_saved")
        server_model = backend.admin.app.state.backend.face_model.model_id
        assert [t["model_id"] for t in templates(backend, ama)] == [server_model]
    finally:
        app.close()


def members(backend: LiveBackend, name: str) -> list[str]:
    found = backend.admin.get("/api/members", params={"q": name}, headers=backend.headers)
    assert found.status_code == 200, found.text
    return [m["id"] for m in found.json()["data"] if m["full_name"] == name]


def consented(backend: LiveBackend, member_id: str) -> bool:
    got = backend.admin.get(f"/api/members/{member_id}", headers=backend.headers)
    assert got.status_code == 200, got.text
    return bool(got.json()["consent_given"])


def templates(backend: LiveBackend, member_id: str) -> list[dict[str, str]]:
    got = backend.admin.get(f"/api/members/{member_id}/templates", headers=backend.headers)
    assert got.status_code == 200, got.text
    return list(got.json())
