"""The kiosk core the window is a view of: built here, without Qt, in a background job.

The window is up before anything slow happens. ``start_camera`` opens the source at
once (the preview is live while the engine loads); ``load`` (run off the main thread)
loads the engine, opens the local store, starts sync, waits for a meeting to be open
and then starts recognition; ``stop`` ends every thread it started, in order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.board import BoardWatcher, MeetingBoard, http_board_fetcher, noting_camera_checkin
from kiosk.device import preferences as prefs_file
from kiosk.device.lock import PinLock
from kiosk.device.preferences import Preferences
from kiosk.errors import KioskError
from kiosk.events import CheckedIn, EventBus, PendingReview
from kiosk.syncing.status import SyncStatus

if TYPE_CHECKING:
    import httpx

    from kiosk.app import KioskCore
    from kiosk.capture.camera import CaptureSource
    from kiosk.capture.frames import LatestFrame
    from kiosk.device.credentials import CredentialStore
    from kiosk.inference import FaceEngine, PackSpec
    from kiosk.protocol.liveness import LivenessPolicy
    from kiosk.recognition.decisions import Meeting
    from kiosk.recognition.pipeline import PipelineConfig
    from kiosk.storage.local_store import LocalStore
    from kiosk.syncing.syncer import SyncSettings, SyncWorker

# The window must be up within two seconds of launch, so the heavy core (the engine,
# OpenCV, the store's crypto) is imported only by the methods that run on the
# background job, never at import time of this module.

log = logging.getLogger(__name__)
MEETING_POLL_S = 5.0  # while no meeting is open, look again this often


@dataclass
class RuntimeOptions:
    data_dir: Path
    source: str | None = None  # overrides the camera in the preferences (folder, video)
    fps: float | None = None
    repeat: int = 1
    meeting: str | None = None  # overrides the preferences' meeting
    offline: bool = False  # no sync (demos, tests of the window alone)
    engine: Callable[[], FaceEngine] | None = None  # None: load FACE_MODEL's pack
    pack: PackSpec | str | None = None  # instead of FACE_MODEL (tests: a local release URL)
    pack_cache: Path | None = None
    # Builds the frame source instead of the camera (tests: a scripted source).
    make_source: Callable[[EventBus], CaptureSource] | None = None
    pipeline: PipelineConfig | None = None
    sync: SyncSettings | None = None
    transport: httpx.BaseTransport | None = None  # tests: an in-process server


def is_camera(spec: str) -> bool:
    """A camera index or device path, as opposed to a folder or video file."""
    return spec.isdigit() or spec.startswith("/dev/")


def load_engine(
    status: SyncStatus,
    pack: PackSpec | str | None = None,
    cache_dir: Path | None = None,
    *,
    det_size: int | None = None,
) -> FaceEngine:
    """FACE_MODEL's pack (or ``pack``), downloaded on first run with its progress shown
    through ``status.pack_progress`` (the window's download dialog follows it).

    The detector is warmed up at every size the kiosk detects at (``det_size``, the live
    size by default, and the crops around a followed face), so no session is built while
    someone stands at the kiosk.
    """
    from kiosk.device.model_pack import clear_progress, ensure_pack, status_progress  # noqa: PLC0415
    from kiosk.inference import (  # noqa: PLC0415
        ENROLMENT_DET_SIZE,
        LIVE_DET_SIZE,
        EngineConfig,
        FaceEngine,
    )
    from kiosk.recognition.finder import detection_sizes  # noqa: PLC0415

    config = EngineConfig.from_env()
    try:
        resolved = ensure_pack(
            pack or config.pack,
            model_dir=config.model_dir,
            cache_dir=cache_dir or config.cache_dir,
            on_progress=status_progress(status),
            allow_download=config.allow_download,
        )
    finally:
        clear_progress(status)
    sizes = (ENROLMENT_DET_SIZE, *detection_sizes(det_size or LIVE_DET_SIZE))
    return FaceEngine.load(resolved, config.threads, warm_up_sizes=sizes)


def liveness_policy(preference: str) -> LivenessPolicy | None:
    """The kiosk's own choice, or None to follow the meeting's policy set on the server."""
    from kiosk.protocol.liveness import LivenessPolicy  # noqa: PLC0415

    return None if preference == "meeting" else LivenessPolicy(preference)


class KioskRuntime:
    def __init__(self, options: RuntimeOptions, credentials: CredentialStore | None = None) -> None:
        self.options = options
        if credentials is None:
            from kiosk.device.keyring_entries import kiosk_credentials  # noqa: PLC0415

            credentials = kiosk_credentials(options.data_dir)
        self.credentials = credentials
        self.events = EventBus()
        self.status = SyncStatus()
        self.lock = PinLock(options.data_dir / "lock.json")
        self.preferences_path = options.data_dir / "preferences.json"
        self.preferences = prefs_file.load(self.preferences_path)
        self.source: CaptureSource | None = None
        self.store: LocalStore | None = None
        self.sync: SyncWorker | None = None
        self.kiosk: KioskCore | None = None
        self.board: BoardWatcher | None = None
        self._unreachable: str | None = None  # why the board's last fetch failed
        self.engine: FaceEngine | None = None
        self.meeting: Meeting | None = None
        self._stop = threading.Event()
        self._lock = threading.RLock()  # load() may open the camera while holding it

    # --- what the window reads ----------------------------------------------------

    def frames(self) -> LatestFrame | None:
        source = self.source
        return source.frames if source is not None else None

    @property
    def server_url(self) -> str | None:
        return self.store.get_state("server_url") if self.store is not None else None

    def save_preferences(self, preferences: Preferences) -> None:
        prefs_file.save(self.preferences_path, preferences)
        self.preferences = preferences

    # --- start-up, in this order --------------------------------------------------

    def open_store(self) -> LocalStore:
        if self.store is None:
            from kiosk.storage.local_store import LocalStore  # noqa: PLC0415

            self.options.data_dir.mkdir(parents=True, exist_ok=True)
            self.store = LocalStore(
                self.options.data_dir / "kiosk.db",
                template_key=self.credentials.template_key,
                outbox_key=self.credentials.outbox_key,
                status=self.status,
            )
        return self.store

    def start_camera(self) -> CaptureSource:
        """Open the source now (it never blocks); a camera starts giving pictures at once,
        a folder or video file only when recognition starts, so none of it is missed."""
        from kiosk.app import open_source  # noqa: PLC0415

        if self.options.make_source is not None:
            source = self.options.make_source(self.events)
            live_now = True
        else:
            spec = self.options.source or self.preferences.camera
            source = open_source(
                spec,
                self.events,
                fps=self.options.fps,
                repeat=self.options.repeat,
                width=self.preferences.camera_width,
                height=self.preferences.camera_height,
            )
            live_now = is_camera(spec)
        with self._lock:  # stop() may have run meanwhile: then start nothing
            if not self._stop.is_set():
                self.source = source
                if live_now:
                    source.start()
        return source

    def is_paired(self) -> bool:
        """A credential in the keyring *and* a local database paired as a kiosk: a fresh
        data folder is offered pairing, whatever the keyring holds."""
        from kiosk.device.keyring_entries import paired_kiosk_id  # noqa: PLC0415

        return self.credentials.is_paired() and paired_kiosk_id(self.options.data_dir) is not None

    def pair(self, server_url: str, code: str) -> None:
        """First run: exchange the pairing code, then sync once to learn the meetings."""
        from kiosk.syncing.syncer import pair  # noqa: PLC0415

        store = self.open_store()
        pair(
            server_url,
            code,
            store=store,
            credentials=self.credentials,
            transport=self.options.transport,
        )

    def load(self, engine_loaded: Callable[[str], None] = lambda pack: None) -> str:
        """Engine, store, sync, meeting, recognition; returns the model pack's name.

        Runs on a background job; ``engine_loaded`` hears the pack's name as soon as the
        engine is up. Waits (cooperatively) for a meeting to be open.
        """
        from kiosk.app import KioskCore  # noqa: PLC0415

        if self.options.engine is not None:
            engine = self.options.engine()
        else:
            engine = load_engine(
                self.status,
                self.options.pack,
                self.options.pack_cache,
                det_size=self.options.pipeline.det_size if self.options.pipeline else None,
            )
        self.engine = engine
        engine_loaded(engine.spec.name)
        store = self.open_store()
        if not self.options.offline and self.is_paired():
            self._start_sync(store, engine)
        meeting = self._wait_for_meeting(store)
        if meeting is None:
            return engine.spec.name  # stopped while waiting
        with self._lock:
            if self._stop.is_set():
                return engine.spec.name
            source = self.source or self.start_camera()
            self.kiosk = KioskCore(
                engine=engine,
                source=source,
                store=store,
                meeting=meeting,
                events=self.events,
                sync=None,
                config=self.options.pipeline,
            )
            self.kiosk.start()
            self.events.subscribe(self._wake_sync)
        return engine.spec.name

    def _wake_sync(self, event: object) -> None:
        """A new check-in goes to the server now rather than at the next interval."""
        if isinstance(event, CheckedIn | PendingReview) and self.sync is not None:
            self.sync.wake()

    def _start_sync(self, store: LocalStore, engine: FaceEngine) -> None:
        from kiosk.syncing.syncer import SyncWorker  # noqa: PLC0415

        def camera_state() -> str:
            return self.source.state.value if self.source is not None else "unknown"

        self.sync = SyncWorker(
            store=store,
            credentials=self.credentials,
            status=self.status,
            model_id=engine.model_id,
            camera_state=camera_state,
            settings=self.options.sync,
            transport=self.options.transport,
        )
        self.sync.start()

    def _wait_for_meeting(self, store: LocalStore) -> Meeting | None:
        from kiosk.app import meeting_for  # noqa: PLC0415

        chosen = self.options.meeting or self.preferences.meeting_id
        policy = liveness_policy(self.preferences.liveness)
        while not self._stop.is_set():
            try:
                self.meeting = meeting_for(store, chosen, policy)
                return self.meeting
            except KioskError as exc:
                log.info("waiting for a meeting: %s", exc)
                self._stop.wait(MEETING_POLL_S)  # sync brings meetings on its own interval
        return None

    def watch_board(self, publish: Callable[[MeetingBoard | None], None]) -> None:
        """Keep the idle screen's board fresh (needs pairing and a meeting)."""
        url = self.server_url
        if self.meeting is None or url is None or self.options.offline:
            return
        from kiosk.app import store_expects_nobody  # noqa: PLC0415

        meeting_id = self.meeting.meeting_id
        fetch = http_board_fetcher(
            url, meeting_id, self.credentials.device_credential, transport=self.options.transport
        )
        if self.store is not None:
            fetch = noting_camera_checkin(fetch, store_expects_nobody(self.store, meeting_id))
        self.board = BoardWatcher(fetch, publish, reachable=self._server_reachable)
        self.board.start()

    def _server_reachable(self, problem: str | None) -> None:
        """The board's fetch tells the status bar at once when the server goes or comes
        back (sync would only notice at its next cycle)."""
        was, self._unreachable = self._unreachable, problem
        if problem is not None and was is None:
            log.warning("server unreachable: %s", problem)
            self._keep_last_error(problem)
        elif problem is None and was is not None:
            log.info("server reachable again")
            self._keep_last_error(None)
        connection = self.status.snapshot.connection  # sync may have told it first
        if problem is not None and connection == "online":
            self.status.update(connection="offline", last_error=problem)
        elif problem is None and connection == "offline":
            self.status.update(connection="online", last_error=None)

    def _keep_last_error(self, problem: str | None) -> None:
        """Where `sonta kiosk status`, which runs apart, reads it (as sync keeps its own)."""
        store = self.store
        if store is None:
            return
        failed_at = datetime.now(UTC).isoformat(timespec="seconds")  # the board stops first
        store.set_state("last_error", None if problem is None else f"{failed_at} {problem}")

    def stop(self) -> None:
        """Capture, recognition, board, sync, then the store; safe to call twice."""
        self._stop.set()
        with self._lock:
            if self.kiosk is not None:
                self.kiosk.stop()
            elif self.source is not None:
                self.source.stop()
            if self.board is not None:
                self.board.stop()
            if self.sync is not None:
                self.sync.stop()
                self.sync = None
            if self.store is not None:
                self.store.close()
                self.store = None
