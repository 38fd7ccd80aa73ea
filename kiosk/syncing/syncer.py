"""Keeping the kiosk and the server in step: pairing, and the background sync worker.

One sync cycle (`Syncer.sync_once`): the credential renewed when it nears expiry, a
heartbeat, the outbox in batches with their idempotency keys, evidence crops for
check-ins the server holds for review, then the gallery delta or snapshot (applied in
one transaction) and the badge keys. Everything a cycle needs to resume lives in SQLite, so a
restarted kiosk simply runs the next cycle: resent items are answered from the
server's stored results, never recorded twice.

`SyncWorker` runs cycles on a plain thread: every `interval_s`, sooner when a check-in
is recorded, and after a failure with exponential backoff and full jitter (or exactly
the server's `Retry-After`). It stops cooperatively through a `threading.Event`. A
revoked kiosk wipes its gallery and secrets and the worker stops with
`DeviceRevokedError`.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from urllib.parse import urlsplit

import httpx

from kiosk.device.credentials import CredentialStore
from kiosk.errors import CredentialError, DeviceRevokedError, KioskError, SyncError
from kiosk.storage.local_store import LocalStore
from kiosk.syncing.client import HeartbeatReport, Paired, SyncClient
from kiosk.syncing.status import SyncSnapshot, SyncStatus

log = logging.getLogger(__name__)


def credential_expiry(credential: str) -> float:
    """The `exp` of a credential (a JWT), read without verifying it; 0 when unreadable.

    Only to schedule the renewal: the server verifies every credential itself.
    """
    try:
        payload = credential.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return 0.0


def is_plain_http(url: str | None) -> bool:
    """Whether the kiosk talks to its server at `url` without encryption."""
    return bool(url) and urlsplit(str(url)).scheme == "http"


def app_version() -> str:
    try:
        return metadata.version("sonta-attendance")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class SyncSettings:
    interval_s: float = 30.0  # between cycles while all is well
    batch_size: int = 100  # check-ins per upload request
    renew_before_s: float = 6 * 3600  # renew a (day-long) credential this long before expiry
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0


def pair(
    server_url: str,
    code: str,
    *,
    store: LocalStore,
    credentials: CredentialStore,
    transport: httpx.BaseTransport | None = None,
) -> Paired:
    """Pair with a one-time code: credential and a fresh template key into the keyring.

    The old gallery (sealed with the old key) is wiped; unsent check-ins stay queued
    and go out under the new pairing.
    """
    client = SyncClient(server_url, transport=transport)
    try:
        paired = client.pair(code)
    finally:
        client.close()
    if paired.device_secret:
        credentials.save_device_secret(paired.device_secret)
    credentials.save_device_credential(paired.credential)
    credentials.create_template_key()
    store.wipe_gallery()
    for name, value in (
        ("server_url", client.base_url),
        ("kiosk_id", paired.kiosk_id),
        ("kiosk_name", paired.name),
        ("server_model_id", paired.model_id),
        ("revoked", None),
    ):
        store.set_state(name, value)
    log.info("paired as kiosk %r with %s", paired.name, client.base_url)
    return paired


class Syncer:
    """One sync cycle at a time against one server; no threads of its own."""

    def __init__(
        self,
        client: SyncClient,
        *,
        store: LocalStore,
        credentials: CredentialStore,
        status: SyncStatus,
        model_id: str,
        camera_state: Callable[[], str] = lambda: "unknown",
        settings: SyncSettings | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.credentials = credentials
        self.status = status
        self.model_id = model_id
        self.camera_state = camera_state
        self.settings = settings or SyncSettings()

    def sync_once(self) -> None:
        """Heartbeat, upload, evidence, gallery, badge keys; raises KioskError on failure.

        Check-ins go first: nothing that might fail later in the cycle (a large gallery,
        a missing template key) may hold them back.
        """
        try:
            self._fresh_credential()
            self._heartbeat()
            self.upload_all()
            self._evidence()
            self._gallery()
            self.store.save_badge_keys(self.client.badge_keys())
        except DeviceRevokedError as exc:
            self._revoked(exc)
            raise
        except SyncError as exc:  # kept for `sonta kiosk status`, which runs apart
            failed_at = datetime.now(UTC).isoformat(timespec="seconds")
            self.store.set_state("last_error", f"{failed_at} {exc}")
            raise
        now = datetime.now(UTC)
        self.store.set_state("last_sync", now.isoformat())
        self.store.set_state("last_error", None)
        self.status.update(
            connection="online",
            last_sync=now,
            last_error=None,
            queue_depth=self.store.queue_depth(),
        )

    def _fresh_credential(self) -> None:
        """Renew the credential with the device secret when it nears its expiry.

        The new secret is stored before the credential: should the kiosk stop between
        the server's answer and the keyring, it retries with the old secret, which the
        server accepts once more for a few minutes.
        """
        secret = self.credentials.device_secret()
        kiosk_id = self.store.get_state("kiosk_id")
        if secret is None or kiosk_id is None:
            return
        left = credential_expiry(self.credentials.device_credential()) - time.time()
        if left > self.settings.renew_before_s:
            return
        renewed = self.client.renew(kiosk_id, secret)
        self.credentials.save_device_secret(renewed.device_secret)
        self.credentials.save_device_credential(renewed.credential)
        log.info("device credential renewed and device secret rotated")

    def _heartbeat(self) -> None:
        answer = self.client.heartbeat(
            HeartbeatReport(
                app_version=app_version(),
                model_id=self.model_id,
                gallery_version=self.store.gallery_version(),
                queue_depth=self.store.queue_depth(),
                camera_state=self.camera_state(),
                device_time=datetime.now(UTC),
            )
        )
        if answer.credential:
            self.credentials.save_device_credential(answer.credential)
            log.info("device credential renewed")
        self.store.set_state("clock_drift_s", f"{answer.clock_drift_s:.3f}")
        self.status.update(
            model_id=answer.model_id,
            model_matches=answer.model_matches,
            clock_drift_s=answer.clock_drift_s,
            clock_drift_flagged=answer.clock_drift_flag,
        )

    def _gallery(self) -> None:
        update = self.client.gallery(
            since=self.store.gallery_version(),
            scope=self.store.get_state("gallery_scope"),
            members_digest=self.store.get_state("members_digest"),
            meetings_digest=self.store.get_state("meetings_digest"),
        )
        self.store.apply_gallery(update)

    def upload_all(self) -> int:
        """Send queued check-ins in batches until none is left; returns how many went."""
        sent = 0
        while items := self.store.pending_uploads(self.settings.batch_size):
            before = self.store.queue_depth()
            results = self.client.upload([i.payload for i in items], datetime.now(UTC))
            self.store.mark_uploaded(results)
            sent += len(items)
            if self.store.queue_depth() >= before:
                break  # the server asked for all of them again: leave it to the next cycle
        return sent

    def _evidence(self) -> None:
        for key, jpeg in self.store.pending_evidence():
            self.client.put_evidence(key, jpeg)
            self.store.mark_evidence_sent(key)

    def _revoked(self, exc: DeviceRevokedError) -> None:
        log.error("%s", exc)
        self.store.wipe_gallery()
        self.store.set_state("revoked", datetime.now(UTC).isoformat())
        self.credentials.forget()
        self.status.update(connection="revoked", last_error=str(exc))


class SyncWorker:
    """Runs `Syncer.sync_once` on a background thread until `stop()`.

    Build it with the store, credentials and status the rest of the kiosk shares;
    `server_url` defaults to the one saved at pairing. `error` holds the error that
    stopped it (`DeviceRevokedError`, `CredentialError`), if any.
    """

    def __init__(
        self,
        *,
        store: LocalStore,
        credentials: CredentialStore,
        status: SyncStatus,
        model_id: str,
        camera_state: Callable[[], str] = lambda: "unknown",
        server_url: str | None = None,
        settings: SyncSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        url = server_url or store.get_state("server_url")
        if not url:
            raise CredentialError("This kiosk is not paired; run `sonta kiosk pair URL CODE`.")
        self.settings = settings or SyncSettings()
        self.syncer = Syncer(
            SyncClient(url, credential=credentials.device_credential, transport=transport),
            store=store,
            credentials=credentials,
            status=status,
            model_id=model_id,
            camera_state=camera_state,
            settings=self.settings,
        )
        self.status = status
        self.error: KioskError | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._failures = 0
        self._thread = threading.Thread(target=self._run, name="kiosk-sync", daemon=True)
        self._last_depth = status.snapshot.queue_depth
        last = store.get_state("last_sync")
        status.update(
            last_sync=datetime.fromisoformat(last) if last else None,
            # Paired: "online" once the server answers.
            connection="offline"
            if status.snapshot.connection == "unpaired"
            else status.snapshot.connection,
            plain_http=is_plain_http(url),
        )
        self._unsubscribe = status.subscribe(self._on_status)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the worker to stop and wait for it (it finishes the request in flight)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._unsubscribe()
        self.syncer.client.close()

    def wake(self) -> None:
        """Run the next cycle now (e.g. a check-in was just recorded)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _on_status(self, snapshot: SyncSnapshot) -> None:
        if snapshot.queue_depth > self._last_depth:
            self._wake.set()
        self._last_depth = snapshot.queue_depth

    def next_delay(self, error: SyncError | None) -> float:
        """Seconds until the next cycle: the interval, or backoff with full jitter."""
        if error is None:
            self._failures = 0
            return self.settings.interval_s
        self._failures += 1
        if error.retry_after is not None:
            return error.retry_after + self._rng.uniform(0, 0.5)
        ceiling = min(
            self.settings.backoff_cap_s, self.settings.backoff_base_s * 2 ** (self._failures - 1)
        )
        return self._rng.uniform(ceiling / 2, ceiling)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            failure: SyncError | None = None
            try:
                self.syncer.sync_once()
            except SyncError as exc:
                failure = exc
                log.warning("sync failed: %s", exc)
                self.status.update(connection="offline", last_error=str(exc))
            except KioskError as exc:  # revoked, credential gone, store unusable: stop
                self.error = exc
                log.error("sync stopped: %s", exc)
                if not isinstance(exc, DeviceRevokedError):
                    self.status.update(connection="offline", last_error=str(exc))
                return
            except Exception as exc:  # a bug must not kill sync silently for ever
                failure = SyncError(f"Unexpected sync failure: {exc}")
                log.exception("unexpected sync failure")
                self.status.update(connection="offline", last_error=str(failure))
            if self._stop.is_set():
                break
            self._wake.wait(self.next_delay(failure))
