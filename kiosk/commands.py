"""What `sonta kiosk pair|status|unpair|salvage|export-unsent|sync|import-pack` do.

The commands are declared in `kiosk.kiosk_command`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.device.model_pack import import_pack
from kiosk.device.preferences import default_data_dir
from kiosk.errors import KioskError, StoreError
from kiosk.inference import DEFAULT_PACK, FaceEngineError, get_pack_spec, resolve_pack
from kiosk.storage.local_store import LocalStore
from kiosk.storage.salvage import salvage
from kiosk.storage.unsent import Unsent, reasons, unsent, write_csv
from kiosk.syncing.status import SyncSnapshot, SyncStatus
from kiosk.syncing.syncer import SyncSettings, SyncWorker, is_plain_http, pair

EXIT_ERROR = 2


def run(name: str, args: argparse.Namespace) -> int:
    """Run one command; KioskError and FaceEngineError become a sentence on stderr."""
    try:
        return COMMANDS[name](args)
    except (KioskError, FaceEngineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _database(args: argparse.Namespace) -> Path:
    folder: Path = args.data_dir or default_data_dir()
    return folder / "kiosk.db"


def _model_id() -> str:
    """The model id of FACE_MODEL's pack, without loading the engine (sync needs no model)."""
    return get_pack_spec(os.environ.get("FACE_MODEL", "").strip() or DEFAULT_PACK).model_id


def _engine_config() -> Any:
    """EngineConfig.from_env(), imported only by the commands that read the pack."""
    return importlib.import_module("kiosk.inference.engine").EngineConfig.from_env()


def pair_command(args: argparse.Namespace) -> int:
    credentials = kiosk_credentials(_database(args).parent)
    store = LocalStore(
        _database(args), template_key=credentials.template_key, outbox_key=credentials.outbox_key
    )
    try:
        paired = pair(args.url, args.code, store=store, credentials=credentials)
    finally:
        store.close()
    print(f"Paired as kiosk {paired.name!r} with {args.url.rstrip('/')}.")
    if paired.model_id != _model_id():
        print(
            f"warning: the server uses model {paired.model_id}, this kiosk {_model_id()}; set "
            "FACE_MODEL to the server's pack before checking people in.",
            file=sys.stderr,
        )
    return 0


def _pack_report() -> dict[str, Any]:
    config = _engine_config()
    try:
        resolved = resolve_pack(config.pack, model_dir=config.model_dir, cache_dir=config.cache_dir)
    except FaceEngineError as exc:
        return {"pack": config.pack, "ready": False, "problem": str(exc)}
    return {
        "pack": config.pack,
        "ready": True,
        "model_id": resolved.spec.model_id,
        "source": resolved.source,
        "folder": str(resolved.recognizer_path.parent),
    }


def status_report(args: argparse.Namespace) -> dict[str, Any]:
    """Everything `sonta kiosk status` shows, as plain data."""
    report: dict[str, Any] = {"data_dir": str(_database(args).parent)}
    try:
        credentials = kiosk_credentials(_database(args).parent)
        report["keyring"] = credentials.backend_name
        report["paired"] = credentials.is_paired()
    except KioskError as exc:
        report.update(keyring=None, paired=False, keyring_problem=str(exc))
    store = LocalStore(_database(args))
    try:
        meetings = store.meetings()
        now = datetime.now(UTC)
        report.update(
            server_url=store.get_state("server_url"),
            kiosk_name=store.get_state("kiosk_name"),
            kiosk_id=store.get_state("kiosk_id"),
            revoked_at=store.get_state("revoked"),
            queue_depth=store.queue_depth(),
            outbox=store.outbox_counts(),
            set_aside=[{"key": row.key, "reason": row.reason} for row in store.set_aside()],
            gallery_version=store.gallery_version(),
            gallery_model_id=store.model_id(),
            templates=store.template_count(),
            members=len(store.member_names()),
            meetings=len(meetings),
            open_meetings=sum(m.is_open(now) for m in meetings),
            clock_drift_s=store.get_state("clock_drift_s"),
            last_sync=store.get_state("last_sync"),
            last_error=store.get_state("last_error"),
        )
    finally:
        store.close()
    url = report["server_url"]
    report["server_encrypted"] = None if not url else not is_plain_http(url)
    report["model_pack"] = _pack_report()
    return report


def _print_status(report: dict[str, Any]) -> None:
    if report.get("revoked_at"):
        print(f"Pairing: REVOKED by an admin at {report['revoked_at']}; pair again to use it.")
    elif report["paired"]:
        print(f"Pairing: kiosk {report['kiosk_name']!r} with {report['server_url']}")
    else:
        print("Pairing: not paired (run `sonta kiosk pair URL CODE`)")
    if report["server_encrypted"] is not None:
        print(f"Server: {SERVER_LINE[report['server_encrypted']]}")
    print(f"Keyring: {report['keyring'] or report.get('keyring_problem')}")
    if report.get("last_error") and not report.get("revoked_at"):
        print(f"Connection: OFFLINE since the last try, {report['last_error']}")
    drift = report["clock_drift_s"]
    print(
        f"Last sync: {report['last_sync'] or 'never'}"
        + (f" (clock {float(drift):+.1f} s from the server's)" if drift else "")
    )
    outbox = report["outbox"]
    print(
        f"Queue: {report['queue_depth']} check-in(s) waiting to upload "
        f"({outbox.get('done', 0) + outbox.get('evidence', 0)} sent, "
        f"{outbox.get('refused', 0)} refused by the server)"
    )
    _print_set_aside(report["set_aside"])
    if outbox.get("refused") or report["set_aside"]:
        print("Not sent: `sonta kiosk export-unsent FILE` writes refused and set-aside ones.")
    print(
        f"Gallery: version {report['gallery_version']}, {report['templates']} template(s) of "
        f"{report['members']} member(s), {report['meetings']} meeting(s) "
        f"({report['open_meetings']} open now), model {report['gallery_model_id'] or '-'}"
    )
    pack = report["model_pack"]
    if pack["ready"]:
        print(f"Model pack: {pack['pack']} ({pack['model_id']}) from {pack['source']}")
    else:
        print(f"Model pack: {pack['pack']} NOT READY: {pack['problem']}")


SERVER_LINE = {
    True: "https (encrypted)",
    False: (
        "http (not encrypted): the credential, the gallery and check-ins travel in clear. "
        "Pair with the server's https address unless this is the venue's own network."
    ),
}


def set_aside_warning(count: int) -> str:
    """The sentence an operator reads when queued check-ins could not be read back."""
    return (
        f"{count} queued check-in(s) could not be read back from this kiosk's database and "
        "were set aside (kept, not sent); the others are sent as usual. "
        "`sonta kiosk status` lists them with the reason."
    )


def refused_warning(rows: list[Unsent]) -> str:
    """The sentence an operator reads when the server refused check-ins for good."""
    return (
        f"the server refused {len(rows)} check-in(s) for good: {reasons(rows)}. Their "
        "attendance did not count; the server's admins see them under kiosk refusals, "
        "and `sonta kiosk export-unsent FILE` writes them to a CSV file for an admin."
    )


def _print_set_aside(rows: list[dict[str, str]]) -> None:
    if not rows:
        return
    print(f"Set aside: {set_aside_warning(len(rows))}")
    for row in rows[:20]:
        print(f"  {row['key']}: {row['reason']}")
    if len(rows) > 20:
        print(f"  ... and {len(rows) - 20} more (`sonta kiosk status --json` lists all)")


def status_command(args: argparse.Namespace) -> int:
    report = status_report(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_status(report)
    return 0


def unpair_command(args: argparse.Namespace) -> int:
    """Forget the secrets and the gallery; a damaged database is moved aside, not deleted."""
    path = _database(args)
    problems: list[str] = []
    try:
        kiosk_credentials(path.parent).forget()
    except KioskError as exc:
        problems.append(str(exc))
    kept = _clear_or_move(path)
    print("This kiosk is unpaired; pair it again with `sonta kiosk pair URL CODE`.")
    if kept:
        print(kept)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def _clear_or_move(path: Path) -> str:
    if not path.exists():
        return ""
    try:
        store = LocalStore(path)
    except KioskError:
        aside = path.with_name(f"{path.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{path}{suffix}")
            if part.exists():
                part.rename(Path(f"{aside}{suffix}"))
        return f"The damaged database was kept as {aside}. " + _salvage_into(aside, path)
    try:
        store.wipe_gallery()
        for name in ("server_url", "kiosk_id", "kiosk_name", "server_model_id", "revoked"):
            store.set_state(name, None)
        waiting = store.queue_depth()
    finally:
        store.close()
    if waiting:
        return f"{waiting} check-in(s) not yet uploaded are kept and go out after pairing."
    return ""


def _salvage_into(source: Path, path: Path) -> str:
    """Salvage `source` into a fresh database at `path`; the sentence that says how it went."""
    store = LocalStore(path)
    try:
        saved = salvage(source, store)
    except KioskError as exc:
        return str(exc)
    finally:
        store.close()
    return (
        f"{saved.sentence()} They are kept in a fresh database and go out after pairing "
        f"(`sonta kiosk salvage {source}` reads it again)."
    )


def salvage_command(args: argparse.Namespace) -> int:
    """Read the unfinished check-ins of a damaged copy into this kiosk's database."""
    source: Path = args.file
    path = _database(args)
    if source.resolve() == path.resolve():
        print(
            "error: name the damaged copy (kiosk.db.damaged-...), not the database in use; "
            "`sonta kiosk unpair` moves a damaged database aside first.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if not source.is_file():  # before opening (and perhaps creating) this kiosk's database
        raise StoreError(f"{source} is not a file; name the damaged kiosk.db copy to read.")
    store = LocalStore(path)
    try:
        saved = salvage(source, store)
    finally:
        store.close()
    print(f"{saved.sentence()} Queued here: {_queued(path)} check-in(s).")
    return 0


def export_unsent_command(args: argparse.Namespace) -> int:
    """Write the refused and set-aside check-ins to a new CSV file."""
    store = LocalStore(_database(args))
    try:
        rows = unsent(store)
    finally:
        store.close()
    write_csv(rows, args.file)
    print(f"Wrote {len(rows)} check-in(s) not sent to {args.file}.")
    return 0


def _queued(path: Path) -> int:
    store = LocalStore(path)
    try:
        return store.queue_depth()
    finally:
        store.close()


def sync_command(args: argparse.Namespace) -> int:
    credentials = kiosk_credentials(_database(args).parent)
    status = SyncStatus()
    store = LocalStore(
        _database(args),
        template_key=credentials.template_key,
        outbox_key=credentials.outbox_key,
        status=status,
    )
    try:
        worker = SyncWorker(
            store=store,
            credentials=credentials,
            status=status,
            model_id=_model_id(),
            settings=SyncSettings(batch_size=args.batch_size),
        )
        if args.once:
            before = {row.key for row in unsent(store)}
            worker.syncer.sync_once()
            worker.stop()
            snap = status.snapshot
            print(f"Synced: gallery version {snap.gallery_version}, {snap.queue_depth} queued.")
            refused = [r for r in unsent(store) if r.key not in before and r.refused]
            if refused:
                print(f"warning: {refused_warning(refused)}", file=sys.stderr)
            if snap.set_aside:
                print(f"warning: {set_aside_warning(snap.set_aside)}", file=sys.stderr)
            return 0
        return _sync_until_stopped(worker, status)
    finally:
        store.close()


def _sync_until_stopped(worker: SyncWorker, status: SyncStatus) -> int:
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    status.subscribe(lambda s: print(f"sync: {_progress(s)}", flush=True))
    worker.start()
    while not stopping.wait(0.5) and worker.running:
        pass
    worker.stop()
    if worker.error is not None:
        raise worker.error
    return 0


def _progress(snapshot: SyncSnapshot) -> str:
    line = f"{snapshot.connection}, {snapshot.queue_depth} queued"
    if snapshot.set_aside:
        line += f", {snapshot.set_aside} set aside (see `sonta kiosk status`)"
    return line


def import_pack_command(args: argparse.Namespace) -> int:
    pack = args.pack or _engine_config().pack
    config = _engine_config()

    def show(done: int, total: int | None) -> None:
        if total:
            print(f"\rimporting {pack}: {done * 100 // total}%", end="", flush=True)

    resolved = import_pack(args.folder, pack, cache_dir=config.cache_dir, on_progress=show)
    print(
        f"\nInstalled pack {pack} ({resolved.spec.model_id}) into {resolved.detector_path.parent}."
    )
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "pair": pair_command,
    "status": status_command,
    "unpair": unpair_command,
    "sync": sync_command,
    "salvage": salvage_command,
    "export_unsent": export_unsent_command,
    "import_pack": import_pack_command,
}
