"""The whole kiosk through its window: real engine (offline pack), real local store and
sync, a real backend on PostgreSQL + Redis over loopback, and real Qt widgets offscreen.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from kiosk.capture.camera import Backoff, CaptureSource
from kiosk.device.credentials import CredentialStore
from kiosk.events import EventBus
from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import BGRImage
from kiosk.inference.packs import get_pack_spec
from kiosk.recognition.pipeline import PipelineConfig
from kiosk.syncing.syncer import SyncSettings
from tests.kiosk.backend import LiveBackend
from tests.kiosk.media import write_folder
from tests.kiosk.pipeline_utils import lined_up
from tests.utils.pack_server import PackServer, pack_zip
from ui.app import KioskController
from ui.flow import FlowTiming, Message, Screen
from ui.pairing_dialog import PairingDialog
from ui.runtime import KioskRuntime, RuntimeOptions
from ui.settings_dialog import SettingsDialog

pytestmark = [pytest.mark.model, pytest.mark.network, pytest.mark.slow]

BLANK = np.full((480, 640, 3), 90, np.uint8)
FAST_PIPELINE = PipelineConfig(retry_after_s=0.4)
FAST_SYNC = SyncSettings(interval_s=0.5, backoff_base_s=0.2, backoff_cap_s=1.0)
RECORDS = "SELECT count(*) FROM attendance_records"


class SilentSounds:
    def __init__(self) -> None:
        self.enabled = True
        self.played: list[object] = []

    def play(self, sound: object) -> None:
        self.played.append(sound)


class ScriptedReader:
    """A camera whose picture the test sets; it can be 'unplugged' (raises) on demand."""

    def __init__(self) -> None:
        self.image: BGRImage = BLANK
        self.unplugged = threading.Event()

    def read(self) -> BGRImage | None:
        if self.unplugged.is_set():
            raise OSError("the camera was unplugged")
        return self.image

    def close(self) -> None:
        return None


def scripted_source(reader: ScriptedReader) -> Callable[[EventBus], CaptureSource]:
    def make(events: EventBus) -> CaptureSource:
        def open_reader() -> ScriptedReader:
            if reader.unplugged.is_set():
                raise OSError("no camera at this address")
            return reader

        return CaptureSource(
            open_reader, "camera 0", fps=15, backoff=Backoff(0.1, 0.2), events=events
        )

    return make


@pytest.fixture
def start_kiosk(
    qtbot: QtBot, tmp_path: Path, engine: FaceEngine, credentials: CredentialStore
) -> Iterator[Callable[..., KioskController]]:
    """Builds and starts a kiosk window; stops every thread it started on teardown."""
    made: list[KioskController] = []

    def start(
        pairing: tuple[str, str] | None = None,
        *,
        timing: FlowTiming | None = None,
        **options: object,
    ) -> KioskController:
        runtime = KioskRuntime(
            RuntimeOptions(
                data_dir=tmp_path / "kiosk",
                **{
                    "engine": lambda: engine,
                    "pipeline": FAST_PIPELINE,
                    "sync": FAST_SYNC,
                    **options,
                },  # type: ignore[arg-type]
            ),
            credentials,
        )
        controller = KioskController(
            runtime,
            timing=timing or FlowTiming(message=0.2, idle_after=600),
            sounds=SilentSounds(),
            fullscreen=False,
            pairing=(lambda: pairing) if pairing is not None else None,
        )
        made.append(controller)
        controller.start()
        return controller

    yield start
    for controller in made:
        controller.shutdown()
        controller.window.deleteLater()


def shown_messages(controller: KioskController) -> list[Message]:
    messages: list[Message] = []
    controller.window.message_shown.connect(messages.append)
    return messages


def test_known_person_stranger_and_fallback_with_one_record_on_the_server(
    qtbot: QtBot,
    tmp_path: Path,
    engine: FaceEngine,
    backend: LiveBackend,
    start_kiosk: Callable[..., KioskController],
) -> None:
    backend.member("Barack Obama", engine, "obama")
    backend.meeting(title="Sonta Heads meeting")
    # A member walks up (another photo of him), leaves; a stranger stays for three tries.
    frames = [lined_up(engine, "obama2")] * 20 + [BLANK] * 15 + [lined_up(engine, "biden")] * 60
    folder = write_folder(tmp_path / "camera", frames)
    controller = start_kiosk((backend.url, backend.pairing_code()), source=str(folder), fps=15.0)
    messages = shown_messages(controller)
    qtbot.waitUntil(lambda: any(m.headline.startswith("Let's") for m in messages), timeout=60_000)
    shown = [(m.headline, m.detail) for m in messages]
    assert shown[0][0] == "Welcome, Barack Obama"
    assert shown[1][1].endswith("(try 1 of 3).") and shown[2][1].endswith("(try 2 of 3).")
    assert shown[3][0] == "Let's check you in another way"  # the third failure
    assert len(shown) == 4
    assert controller.window.status_bar.model.text() == "Model vectron"
    qtbot.waitUntil(lambda: controller.runtime.status.snapshot.queue_depth == 0, timeout=20_000)
    assert backend.count(RECORDS) == 1


def test_a_camera_that_fails_shows_its_state_and_recovers(
    qtbot: QtBot, start_kiosk: Callable[..., KioskController]
) -> None:
    reader = ScriptedReader()
    controller = start_kiosk(offline=True, make_source=scripted_source(reader))
    window = controller.window
    qtbot.waitUntil(lambda: window.status_bar.camera.text() == "Camera live")
    qtbot.waitUntil(lambda: window.live.preview.painted_frames > 0)
    reader.unplugged.set()
    qtbot.waitUntil(
        lambda: window.status_bar.camera.text() in {"Camera lost", "Camera reconnecting"}
    )
    assert window.live.preview.frame_seq == 0  # the last picture is not left up as if live
    painted = window.live.preview.painted_frames
    reader.unplugged.clear()
    qtbot.waitUntil(lambda: window.status_bar.camera.text() == "Camera live", timeout=10_000)
    qtbot.waitUntil(lambda: window.live.preview.painted_frames > painted)


def test_server_down_shows_offline_and_the_queue_grows_then_drains(
    qtbot: QtBot,
    engine: FaceEngine,
    backend: LiveBackend,
    start_kiosk: Callable[..., KioskController],
) -> None:
    backend.member("Barack Obama", engine, "obama")
    backend.member("Joe Biden", engine, "biden")
    backend.meeting(title="Sonta Heads meeting")
    reader = ScriptedReader()
    controller = start_kiosk(
        (backend.url, backend.pairing_code()), make_source=scripted_source(reader)
    )
    status, bar = controller.runtime.status, controller.window.status_bar
    qtbot.waitUntil(lambda: controller.runtime.kiosk is not None, timeout=30_000)
    # Paired with the server's plain http address: the bar says so beside Online.
    online = "\N{BLACK CIRCLE} Online, not encrypted"
    qtbot.waitUntil(lambda: bar.connection.text() == online, timeout=20_000)
    backend.stop()
    messages = shown_messages(controller)
    for name, photo in (("Barack Obama", "obama2"), ("Joe Biden", "biden")):
        reader.image = lined_up(engine, photo)
        qtbot.waitUntil(lambda n=name: any(n in m.headline for m in messages), timeout=20_000)
        reader.image = BLANK
        qtbot.wait(800)
    qtbot.waitUntil(
        lambda: bar.connection.text().startswith("\N{BLACK CIRCLE} Offline"), timeout=20_000
    )
    assert status.snapshot.queue_depth == 2
    assert bar.queue.text() == "2 waiting to send"
    backend.start()
    qtbot.waitUntil(lambda: bar.queue.text() == "All sent", timeout=30_000)
    qtbot.waitUntil(lambda: bar.connection.text() == online, timeout=10_000)
    assert backend.count(RECORDS) == 2


def test_first_run_model_download_shows_progress_then_the_pack(
    qtbot: QtBot, tmp_path: Path, start_kiosk: Callable[..., KioskController]
) -> None:
    server = PackServer()
    try:
        spec = dataclasses.replace(
            get_pack_spec("vectron"), url=server.serve("/vectron.zip", pack_zip()), package=None
        )
        opened: list[int] = []
        reader = ScriptedReader()
        controller = start_kiosk(
            offline=True,
            make_source=scripted_source(reader),
            engine=None,
            pack=spec,
            pack_cache=tmp_path / "models",
        )
        controller.runtime.status.subscribe(
            lambda s: opened.append(1) if s.pack_progress is not None else None
        )
        bar = controller.window.status_bar
        qtbot.waitUntil(lambda: bar.model.text() == "Model vectron", timeout=60_000)
        qtbot.waitUntil(lambda: controller.download is None)
        assert opened, "the download reported no progress"
        assert controller.downloads_shown == 1
        assert (tmp_path / "models" / "vectron").is_dir()
    finally:
        server.close()


def test_first_run_pairing_dialog_pairs_sets_the_pin_and_starts(
    qtbot: QtBot,
    engine: FaceEngine,
    backend: LiveBackend,
    start_kiosk: Callable[..., KioskController],
) -> None:
    backend.meeting(title="Leaders")
    controller = start_kiosk(make_source=scripted_source(ScriptedReader()))
    qtbot.waitUntil(lambda: isinstance(controller.dialog, PairingDialog))
    dialog = controller.dialog
    assert isinstance(dialog, PairingDialog)
    dialog.server.setText(backend.url)
    dialog.pin.setText("2468")
    dialog.pin_again.setText("2468")
    dialog.code.setText("NOT-A-CODE")
    dialog.start_pairing()
    qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=20_000)
    assert "Traceback" not in dialog.error.text() and dialog.pages.currentIndex() == 0
    assert not controller.runtime.lock.is_set
    dialog.code.setText(backend.pairing_code())
    dialog.start_pairing()
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 1, timeout=20_000)
    titles = [dialog.meeting.itemText(i) for i in range(dialog.meeting.count())]
    assert "Leaders" in titles
    dialog.meeting.setCurrentIndex(titles.index("Leaders"))
    dialog.finish()
    qtbot.waitUntil(lambda: controller.runtime.kiosk is not None, timeout=30_000)
    assert controller.runtime.lock.verify("2468")
    assert controller.runtime.preferences.meeting_id is not None
    assert controller.runtime.preferences_path.is_file()


def test_at_a_meeting_that_expects_nobody_the_window_sends_people_to_staff(
    qtbot: QtBot,
    tmp_path: Path,
    engine: FaceEngine,
    backend: LiveBackend,
    start_kiosk: Callable[..., KioskController],
) -> None:
    backend.member("Barack Obama", engine, "obama", ministry="Ushers")
    backend.meeting(title="Ushers", expected_ministries=["Ushers"])
    # Nobody is in the Choir: the kiosk holds his face for the other meeting only.
    choir = backend.meeting(title="Choir practice", expected_ministries=["Choir"])
    frames = [lined_up(engine, "obama2")] * 40 + [BLANK] * 30
    folder = write_folder(tmp_path / "camera", frames)
    controller = start_kiosk(
        (backend.url, backend.pairing_code()),
        source=str(folder),
        fps=15.0,
        meeting=choir,
        timing=FlowTiming(message=0.2, idle_after=1.0),
    )
    messages = shown_messages(controller)
    idle = controller.window.idle
    # Waits for the window's board (the server's counts, the store's word on the camera).
    qtbot.waitUntil(
        lambda: idle.board is not None and not idle.board.camera_checkin, timeout=60_000
    )
    assert idle.title.text() == "Choir practice"
    assert idle.invite.text() == (
        "Check-in by camera is off for this meeting: please see a staff member"
    )
    qtbot.waitUntil(lambda: bool(messages), timeout=60_000)  # his face was seen and decided
    qtbot.waitUntil(lambda: controller.window.current_screen is Screen.IDLE, timeout=30_000)
    assert [m.headline for m in messages] == ["Please ask a staff member to check you in"]
    store = controller.runtime.store
    assert store is not None and store.queue_depth() == 0
    assert store.outbox_counts() == {} and backend.count(RECORDS) == 0


def test_idle_screen_shows_the_meeting_counts_and_a_working_phone_qr(
    qtbot: QtBot,
    engine: FaceEngine,
    backend: LiveBackend,
    start_kiosk: Callable[..., KioskController],
) -> None:
    backend.member("Barack Obama", engine, "obama")
    backend.meeting(title="Leaders")
    controller = start_kiosk(
        (backend.url, backend.pairing_code()),
        make_source=scripted_source(ScriptedReader()),
        timing=FlowTiming(message=0.2, idle_after=0.5),
    )
    idle = controller.window.idle
    qtbot.waitUntil(lambda: idle.board is not None, timeout=30_000)
    qtbot.waitUntil(lambda: controller.window.current_screen is Screen.IDLE)
    assert idle.title.text() == "Leaders"
    assert idle.counts.text() == "0 of 1 checked in"
    # The code opens the phone check-in page at the server's public address.
    assert idle.qr.payload is not None and "/checkin?token=" in idle.qr.payload
    token = idle.qr.payload.split("token=", 1)[1]
    scanned = backend.admin.post("/api/qr/validate", json={"token": token})
    assert scanned.status_code == 200, scanned.text


def test_settings_need_the_pin_and_are_kept(
    qtbot: QtBot, start_kiosk: Callable[..., KioskController]
) -> None:
    controller = start_kiosk(offline=True, make_source=scripted_source(ScriptedReader()))
    runtime, window = controller.runtime, controller.window
    runtime.lock.set_pin("1357")
    window.request_settings()
    pin = window.pin_dialog
    assert pin is not None and controller.dialog is None  # nothing opens without the PIN
    pin.pin.setText("0000")
    pin.try_pin()
    assert controller.dialog is None
    pin.pin.setText("1357")
    pin.try_pin()
    qtbot.waitUntil(lambda: isinstance(controller.dialog, SettingsDialog))
    settings = controller.dialog
    assert isinstance(settings, SettingsDialog)
    settings.sounds.setChecked(False)
    settings.liveness.setCurrentIndex(settings.liveness.findData("always"))
    settings.new_pin.setText("24680")
    settings.save()
    assert runtime.preferences.sounds is False and runtime.preferences.liveness == "always"
    assert not window.services.sounds.enabled
    assert '"liveness": "always"' in runtime.preferences_path.read_text()
    assert runtime.lock.verify("24680") and not runtime.lock.verify("1357")
