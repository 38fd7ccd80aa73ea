"""The kiosk's composition root: source + engine + pipeline + store (+ sync).

``KioskCore`` wires these parts and runs them; the window (``ui.runtime``) shows what it
publishes, and ``sonta kiosk run --headless`` prints it instead (support, demos, tests).
Nothing heavy happens at import time; each part is built by the caller or by
``open_source`` / ``meeting_for`` and handed in, so a test swaps in a folder source or a
different store.
"""

from __future__ import annotations

import argparse
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from kiosk.capture.camera import CaptureSource, camera_source, folder_source, video_source
from kiosk.device.credentials import CredentialStore
from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.device.preferences import default_data_dir
from kiosk.errors import DeviceRevokedError, KioskError, SourceError
from kiosk.events import CheckedIn, EventBus, KioskEvent, PendingReview, SourceState
from kiosk.inference import EngineConfig, FaceEngine
from kiosk.protocol.badges import BadgeClaims, BadgeVerifier
from kiosk.protocol.liveness import LivenessPolicy
from kiosk.recognition.decisions import Decider, Meeting
from kiosk.recognition.pipeline import Pipeline, PipelineConfig
from kiosk.storage.local_store import LocalStore
from kiosk.syncing.status import SyncStatus
from kiosk.syncing.syncer import SyncWorker

log = logging.getLogger(__name__)


def open_source(
    spec: str,
    events: EventBus,
    *,
    fps: float | None = None,
    repeat: int = 1,
    width: int = 640,
    height: int = 480,
) -> CaptureSource:
    """A camera index ("0"), a device path ("/dev/video2"), a folder or a video file."""
    if spec.isdigit():
        return camera_source(int(spec), width=width, height=height, events=events)
    if spec.startswith("/dev/"):
        return camera_source(spec, width=width, height=height, events=events)
    path = Path(spec).expanduser()
    if path.is_dir():
        return folder_source(path, fps=fps or 10.0, repeat=repeat, events=events)
    if path.is_file():
        return video_source(path, fps=fps, events=events)
    raise SourceError(
        f"--source {spec!r} is neither a camera (an index such as 0, or /dev/videoN), "
        "a folder of images nor a video file."
    )


def meeting_for(
    store: LocalStore,
    meeting_id: str | None,
    liveness: LivenessPolicy | None = None,
    now: datetime | None = None,
) -> Meeting:
    """The chosen meeting, or the one open now (the earliest started if several are).

    ``liveness`` overrides the meeting's own policy (as the server set it) when given.
    """
    if meeting_id:
        record = store.meeting(meeting_id)
        if record is None:
            raise KioskError(
                f"Meeting {meeting_id} is not known to this kiosk. Let it sync, or leave "
                "out --meeting to take check-ins for the meeting that is on now."
            )
    else:
        open_now = store.active_meetings(now or datetime.now(UTC))
        if not open_now:
            raise KioskError(
                "No meeting is open now. Start the meeting on the server (or wait for its "
                "start time) and let the kiosk sync."
            )
        record = open_now[0]
    policy = liveness or LivenessPolicy(record.liveness)
    return Meeting(uuid.UUID(record.meeting_id), record.title, record.late_after, policy)


def store_expects_nobody(store: LocalStore, meeting_id: uuid.UUID) -> Callable[[], bool]:
    """Whether the meeting, as last synced, expects nobody (an unknown one: not known to)."""

    def expects_nobody() -> bool:
        record = store.meeting(meeting_id)
        return record is not None and record.expects_nobody

    return expects_nobody


def store_badge_check(store: LocalStore) -> Callable[[str], BadgeClaims]:
    """Badge verification with the keys and revocations of the last sync."""

    def check(token: str) -> BadgeClaims:
        keys = {k.kid: k.public_key for k in store.badge_keys() if k.algorithm == "Ed25519"}
        return BadgeVerifier.from_published(keys).check(token, store.is_badge_revoked)

    return check


def live_det_size(size: int) -> int:
    """The detector size for live frames: a multiple of 32 from 160 to 640."""
    if size % 32 or not 160 <= size <= 640:
        raise KioskError(
            f"--det-size {size} cannot be used: give a multiple of 32 from 160 to 640 "
            "(320 suits a webcam at arm's length)."
        )
    return size


def check_model(store: LocalStore, engine: FaceEngine) -> None:
    """Refuse to run a pack other than the one the synced gallery was made with."""
    gallery_model = store.model_id()
    if gallery_model is not None and gallery_model != engine.model_id:
        raise KioskError(
            f"The synced gallery was made with model {gallery_model}, but this kiosk runs "
            f"{engine.model_id}. Set FACE_MODEL to the server's pack, then start again."
        )


class KioskCore:
    """Capture, recognition and (optionally) sync threads around one local store."""

    def __init__(
        self,
        *,
        engine: FaceEngine,
        source: CaptureSource,
        store: LocalStore,
        meeting: Meeting,
        events: EventBus,
        sync: SyncWorker | None = None,
        config: PipelineConfig | None = None,
    ) -> None:
        check_model(store, engine)
        self.source = source
        self.store = store
        self.events = events
        self.sync = sync
        decider = Decider(store, store, meeting, thresholds=engine.thresholds)
        self.pipeline = Pipeline(
            engine,
            source.frames,
            decider,
            events=events,
            config=config,
            badge_check=store_badge_check(store),
        )
        events.subscribe(self._on_event)
        self._ended = threading.Event()

    def _on_event(self, event: KioskEvent) -> None:
        if isinstance(event, CheckedIn | PendingReview) and self.sync is not None:
            self.sync.wake()  # send it now rather than at the next sync interval

    def start(self) -> None:
        if self.sync is not None:
            self.sync.start()
        self.pipeline.start()
        self.source.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Until a file/folder source ended and its last frame was processed (True)."""
        return self.pipeline.wait_drained(
            lambda: self.source.state is SourceState.STOPPED, timeout=timeout
        )

    def stop(self) -> None:
        """Stop capture, then recognition, then sync, after sending what it can."""
        self.source.stop()
        self.pipeline.stop()
        if self.sync is not None:
            _flush(self.sync)
            self.sync.stop()


def sync_worker(
    store: LocalStore, credentials: CredentialStore, engine: FaceEngine, source: CaptureSource
) -> SyncWorker:
    """The sync worker of a paired kiosk, after one cycle so the gallery is current.

    A first cycle that fails (server down) leaves the kiosk working offline on the
    gallery of its last sync; a revoked kiosk stops here with its reason.
    """
    revoked_at = store.get_state("revoked")
    if revoked_at:
        raise KioskError(
            f"An admin revoked this kiosk at {revoked_at}. Ask an admin for a new pairing "
            "code, then `sonta kiosk pair URL CODE` (or add --offline to run without sync)."
        )
    if not store.get_state("server_url") or not credentials.is_paired():
        raise KioskError(
            "This kiosk is not paired: run `sonta kiosk pair URL CODE`, or add --offline."
        )
    worker = SyncWorker(
        store=store,
        credentials=credentials,
        status=SyncStatus(),
        model_id=engine.model_id,
        camera_state=lambda: source.state.value,
    )
    try:
        worker.syncer.sync_once()
    except DeviceRevokedError:
        raise
    except KioskError as exc:
        log.warning("working offline for now: %s", exc)
    return worker


def _flush(sync: SyncWorker) -> None:
    """Send what a finished head-less run recorded; what cannot go stays queued."""
    try:
        sync.syncer.upload_all()
    except KioskError as exc:
        log.warning("check-ins stay queued for the next run: %s", exc)


def run_headless(
    args: argparse.Namespace,
    on_event: Callable[[KioskEvent], None],
    *,
    credentials: CredentialStore | None = None,
) -> None:
    """Build the head-less kiosk from ``sonta kiosk run`` arguments and run it to the end."""
    config = PipelineConfig(det_size=live_det_size(args.det_size))  # bad input: before any work
    data_dir: Path = args.data_dir or default_data_dir()
    keys = credentials or kiosk_credentials(data_dir)
    store = LocalStore(
        data_dir / "kiosk.db", template_key=keys.template_key, outbox_key=keys.outbox_key
    )
    try:
        engine = FaceEngine.from_config(EngineConfig.from_env())
        events = EventBus()
        events.subscribe(on_event)
        source = open_source(args.source, events, fps=args.fps, repeat=args.repeat)
        sync = None if args.offline else sync_worker(store, keys, engine, source)
        chosen = LivenessPolicy(args.liveness) if args.liveness != "meeting" else None
        meeting = meeting_for(store, args.meeting, chosen)
        kiosk = KioskCore(
            engine=engine,
            source=source,
            store=store,
            meeting=meeting,
            events=events,
            sync=sync,
            config=config,
        )
        kiosk.start()
        try:
            while not kiosk.wait(timeout=1.0):
                pass
        finally:
            kiosk.stop()
    finally:
        store.close()
