"""`sonta admin-app` on an office PC: the window built as the command builds it, with no
engine handed in, loads FACE_MODEL's pack in the background (saying so), opens the
camera when the computer has one and says plainly when it has none."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.kiosk.backend import FACES, LiveBackend
from tests.kiosk.conftest import photo
from tests.kiosk.media import fit, write_video
from tests.ui.test_admin_screens import WAIT_MS, add_person, artefact_dir, idle, sign_in
from ui.admin.desk import NO_CAMERA, AdminDesk
from ui.admin.launch import close_admin_window, open_admin_window
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network, pytest.mark.model]
ENGINE_WAIT_MS = 120_000  # loading a pack on a shared two-core machine


@pytest.fixture
def admin_app(
    request: pytest.FixtureRequest,
    qtbot: QtBot,
    backend: LiveBackend,
    keyring_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[tuple[AdminWindow, AdminDesk]]:
    """The admin app as `sonta admin-app --server URL --camera CAMERA` opens it; "video"
    is a video of a real photo, as a camera would film it."""
    monkeypatch.setenv("FACE_MODEL", "vectron")  # the offline pack a person can choose
    camera = str(request.param)
    if camera == "video":
        frames = [fit(photo("obama"))] * 150
        camera = str(write_video(tmp_path / "camera.avi", frames, fps=15))
    args = argparse.Namespace(server=backend.url, camera=camera)
    window, desk = open_admin_window(args)
    qtbot.addWidget(window)
    yield window, desk
    close_admin_window(window, desk)


@pytest.mark.parametrize("admin_app", ["63"], indirect=True)
def test_without_a_camera_the_engine_loads_and_a_photo_file_enrols(
    qtbot: QtBot, admin_app: tuple[AdminWindow, AdminDesk], backend: LiveBackend, tmp_path: Path
) -> None:
    window, desk = admin_app
    note = window.enrol.engine_note
    assert desk.camera_note == NO_CAMERA  # no /dev/video63 here: said, not "yet"
    sign_in(qtbot, window, backend)
    ama = add_person(qtbot, window, "Ama Office", "Choir")
    window.people.buttons["Enrol face"].click()
    qtbot.waitUntil(lambda: note.text() == "Face engine ready (vectron).", timeout=ENGINE_WAIT_MS)
    assert window.enrol.preview.grab().save(str(artefact_dir(tmp_path) / "admin_app_no_camera.png"))
    window.enrol.add_photos([FACES / "obama.jpg"])
    idle(qtbot, window)
    assert window.enrol.samples.item(0).text() == "obama.jpg: accepted (photo)"
    window.enrol.save_button.click()
    qtbot.waitUntil(lambda: "Enrolled: 1" in window.enrol.reasons.text(), timeout=WAIT_MS)
    templates = window.client.templates(ama)
    assert len(templates) == 1 and templates[0]["model_id"].startswith("vectron@")


@pytest.mark.parametrize("admin_app", ["video"], indirect=True)
def test_a_camera_is_opened_and_a_sample_is_taken_from_it(
    qtbot: QtBot, admin_app: tuple[AdminWindow, AdminDesk], backend: LiveBackend, tmp_path: Path
) -> None:
    window, desk = admin_app
    assert desk.camera_note == "Starting the camera…"
    sign_in(qtbot, window, backend)
    add_person(qtbot, window, "Kofi Office", "Choir")
    window.people.buttons["Enrol face"].click()
    enrol = window.enrol
    # The meter follows the camera once the engine (loading meanwhile) is ready.
    qtbot.waitUntil(lambda: enrol.meter.value() > 0, timeout=ENGINE_WAIT_MS)
    assert enrol.engine_note.text() == "Face engine ready (vectron)."
    enrol.take_sample()
    idle(qtbot, window)
    assert enrol.samples.count() == 1, enrol.reasons.text()
    assert window.grab().save(str(artefact_dir(tmp_path) / "admin_app_camera.png"))
