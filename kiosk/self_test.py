"""`sonta kiosk self-test`: the packaged app's smoke test and the first thing support asks for.

Each part a check-in needs is tried once, for real, and reported on one line: the keyring
(which backend, locked or not; plain-file backends are refused as the kiosk refuses
them), the local database (opens, schema version, queue depth), the face model pack
(loaded, and run on the frame), the camera or folder source (one frame read) and, when
the kiosk is paired, the server (reachable, credential accepted). Nothing is changed: no
database is created, no pack downloaded, no credential renewed. The exit code is 0 when
all passed, else 1, and the failing parts are named with what to do.
"""

from __future__ import annotations

import argparse
import dataclasses
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend

from kiosk.device.credentials import (
    DEVICE_CREDENTIAL,
    SERVICE,
    choose_backend,
    insecure_reason,
)
from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.device.preferences import default_data_dir
from kiosk.errors import CredentialError, KioskError
from kiosk.inference import BGRImage, FaceEngineError, command
from kiosk.storage.database import MIGRATIONS

FAILED = 1
FRAME_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Check:
    """One part's result: `detail` says what was found, `advice` what to do if it failed."""

    name: str
    ok: bool
    detail: str
    advice: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        advice = f"\n       -> {self.advice}" if self.advice else ""
        return f"{mark} {self.name:<9} {self.detail}{advice}"


def _leaf_backends(backend: KeyringBackend) -> list[KeyringBackend]:
    if isinstance(backend, ChainerBackend):
        return [leaf for b in backend.backends for leaf in _leaf_backends(b)]
    return [backend]


def _secret_service_locked(backend: KeyringBackend) -> bool | None:
    """Whether the Secret Service collection the backend uses is locked (None: not one)."""
    if not type(backend).__module__.startswith("keyring.backends.SecretService"):
        return None
    import secretstorage  # noqa: PLC0415 - only on Linux desktops

    connection = secretstorage.dbus_init()
    try:
        label = getattr(backend, "preferred_collection", None)
        collection = (
            secretstorage.Collection(connection, label)
            if label
            else secretstorage.get_default_collection(connection)
        )
        return bool(collection.is_locked())
    finally:
        connection.close()


def check_keyring(backend: KeyringBackend | None = None) -> Check:
    """The backend the kiosk uses (a chain's safe member), and whether it is locked."""
    backend = backend if backend is not None else keyring.get_keyring()
    setup = "Set up the keyring as packaging/README.md describes (section Keyring)."
    try:
        backend = choose_backend(backend)
    except CredentialError:
        names = ", ".join(_name(b) for b in _leaf_backends(backend))
        reason = insecure_reason(backend) or "no keyring service is available"
        return Check("keyring", False, f"{names or 'none'}: refused, {reason}", setup)
    name = _name(backend)
    try:
        locked = bool(_secret_service_locked(backend))
        if not locked:
            backend.get_password(SERVICE, DEVICE_CREDENTIAL)  # a locked store fails here
    except Exception as exc:  # a locked or broken store: D-Bus and backend errors alike
        return Check("keyring", False, f"{name}: cannot be read ({exc})", setup)
    if locked:
        return Check("keyring", False, f"{name}: LOCKED", f"Unlock it at login. {setup}")
    return Check("keyring", True, f"{name}, unlocked")


def _name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def check_database(data_dir: Path) -> tuple[Check, str | None]:
    """Opens the outbox database read-only (never creating it); also its server address."""
    path = data_dir / "kiosk.db"
    if not path.exists():
        return Check("database", True, f"{path} not created yet (made at pairing)"), None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            (queued,) = conn.execute(
                "SELECT count(*) FROM outbox WHERE state = 'pending'"
            ).fetchone()
            row = conn.execute("SELECT value FROM sync_state WHERE name = 'server_url'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        advice = (
            f"Run {command('kiosk status')}; {command('kiosk unpair')} moves a damaged file aside."
        )
        return Check("database", False, f"{path} cannot be read ({exc})", advice), None
    detail = f"{path}: schema {version} of {len(MIGRATIONS)}, {queued} check-in(s) to upload"
    if version > len(MIGRATIONS):
        advice = "A newer release wrote it: install that release again (check-ins are kept)."
        return Check("database", False, detail, advice), None
    return Check("database", True, detail), (row[0] if row else None)


def check_engine(pack: str | None, pack_dir: Path | None, frame: BGRImage | None) -> Check:
    """Loads the pack (never downloading) and, given a frame, looks for faces in it."""
    from kiosk.inference import EngineConfig, FaceEngine  # noqa: PLC0415 - heavy

    config = EngineConfig.from_env()
    config = dataclasses.replace(
        config,
        pack=pack or config.pack,
        model_dir=pack_dir or config.model_dir,
        allow_download=False,
    )
    try:
        started = time.monotonic()
        engine = FaceEngine.from_config(config)
        seconds = time.monotonic() - started
        faces = len(engine.detect(frame)) if frame is not None else None
    except FaceEngineError as exc:
        advice = f"Import the pack: {command('kiosk import-pack DIR')} (e.g. from a USB stick)."
        return Check("engine", False, f"pack {config.pack}: {exc}", advice)
    found = "" if faces is None else f", {faces} face(s) in the frame"
    return Check("engine", True, f"{engine.model_id} loaded in {seconds:.1f} s{found}")


def read_one_frame(spec: str) -> tuple[Check, BGRImage | None]:
    """Opens the source the way `sonta kiosk run --headless --source` does; one frame."""
    from kiosk.app import open_source  # noqa: PLC0415 - imports the engine's modules
    from kiosk.events import EventBus  # noqa: PLC0415

    advice = "Check the camera's cable and that no other program uses it, or pass --source."
    try:
        source = open_source(spec, EventBus())
    except KioskError as exc:
        return Check("source", False, str(exc), advice), None
    source.start()
    try:
        frame = source.frames.get(timeout=FRAME_TIMEOUT_S)
    finally:
        source.stop()
    if frame is None:
        detail = f"{spec}: no frame within {FRAME_TIMEOUT_S:.0f} s ({source.state.value})"
        return Check("source", False, detail, advice), None
    width, height = frame.size
    return Check("source", True, f"{spec}: one {width}x{height} frame read"), frame.image


def check_server(server_url: str | None, backend: KeyringBackend | None, data_dir: Path) -> Check:
    """When paired: the server answers and accepts the device credential (a read only)."""
    from kiosk.syncing.client import SyncClient  # noqa: PLC0415 - httpx

    if not server_url:
        return Check("server", True, f"not paired: skipped (pair with {command('kiosk pair')})")
    try:
        credentials = kiosk_credentials(data_dir, backend)
        client = SyncClient(server_url, credential=credentials.device_credential)
        try:
            client.badge_keys()
        finally:
            client.close()
    except KioskError as exc:
        return Check("server", False, f"{server_url}: {exc}")
    return Check("server", True, f"{server_url}: reachable, credential accepted")


def self_test(
    args: argparse.Namespace,
    backend: KeyringBackend | None = None,
    write: Callable[[str], None] = print,
) -> int:
    """Runs every check, prints one line each, and returns the exit code."""
    data_dir: Path = args.data_dir or default_data_dir()
    checks = [check_keyring(backend)]
    database, server_url = check_database(data_dir)
    checks.append(database)
    source, frame = read_one_frame(args.source)
    checks += [check_engine(args.pack, args.pack_dir, frame), source]
    keyring_ok = checks[0].ok
    if keyring_ok or not server_url:
        checks.append(check_server(server_url, backend, data_dir))
    else:
        checks.append(Check("server", False, "not checked: the keyring failed"))
    for check in checks:
        write(check.line())
    failed = [c.name for c in checks if not c.ok]
    if failed:
        write(f"self-test FAILED: {', '.join(failed)}")
        return FAILED
    write("self-test passed")
    return 0
