"""`sonta backup` and `sonta restore`: one archive out, one archive back in.

A restore checks everything it can before it replaces anything: the archive's manifest
and checksum, that no server is running, and that the key the server will run with opens
the archive's face templates (a restore with the wrong key would leave members without
usable faces). The database as it was is kept as a backup of its own, then replaced, then
migrated (an older backup's schema is brought up to date).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from server.backend.core.config import DEV_SECRETS_FILE, Settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.core.security.qr import key_id
from server.backend.core.security.templates import SealedTemplate, TemplateCipher
from server.backend.crud import audit
from server.backend.errors import BackupError, TemplateDecryptionError
from server.backend.face_model import ServerFaceModel
from server.backend.tasks.backups import archive, database
from server.backend.tasks.backups.archive import Manifest
from server.backend.tasks.migrate import upgrade_to_head
from server.ports import port_problem

SECRET_VARIABLES = (
    "JWT_ACCESS_SECRET",
    "JWT_REFRESH_SECRET",
    "QR_SECRET",
    "QR_SECRET_PREVIOUS",
    "EMBEDDING_ENCRYPTION_KEY",
    "EMBEDDING_ENCRYPTION_KEY_PREVIOUS",
)
RESTORED_SECRETS_FILE = "restored-secrets.env"
# A backup's scratch folder beside its archive (removed after; a killed one is swept by
# the schedule's next start).
WORK_PREFIX = ".sonta-backup-work-"


def say(message: str) -> None:
    print(message, file=sys.stderr)


def backup_dir(settings: Settings) -> Path:
    return settings.backup_dir or settings.sonta_data_dir / "backups"


def archive_name(prefix: str = "sonta-backup") -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.tar.gz"


def _destination(settings: Settings, dest: Path | None, prefix: str) -> Path:
    target = dest if dest is not None else backup_dir(settings)
    if target.is_dir() or dest is None:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        return target / archive_name(prefix)
    if not target.parent.is_dir():
        raise BackupError(
            f"The folder {target.parent} does not exist; create it or choose another."
        )
    return target


def settings_secrets(settings: Settings) -> dict[str, str]:
    """The secrets this server runs with (generated ones included), by variable name."""
    values = {name: getattr(settings, name.lower()) for name in SECRET_VARIABLES}
    return {name: value for name, value in values.items() if value}


def create_backup(
    settings: Settings,
    dest: Path | None = None,
    *,
    passphrase: str | None = None,
    prefix: str = "sonta-backup",
    engine: Engine | None = None,
) -> Path:
    """Write one archive of the configured database (and the sealed secrets, when a
    passphrase is given); returns its path."""
    sealed = None
    if passphrase is not None:
        problem = archive.passphrase_problem(passphrase)
        if problem:
            raise BackupError(problem)
        sealed = archive.seal_secrets(settings_secrets(settings), passphrase)
    destination = _destination(settings, dest, prefix)
    owned = engine is None
    engine = engine or make_engine(settings)
    try:
        with tempfile.TemporaryDirectory(dir=destination.parent, prefix=WORK_PREFIX) as scratch:
            copy = Path(scratch) / "database"
            if settings.embedded_database:
                contents = database.copy_sqlite(database.sqlite_path(settings), copy)
                kind = "sqlite"
            else:
                contents = database.dump_postgresql(settings, engine, copy)
                kind = "postgresql"
            if contents.schema_revision is None:
                raise BackupError("The database was never migrated: there is nothing to back up.")
            manifest = Manifest(
                database=kind,
                schema_revision=contents.schema_revision,
                created_at=datetime.now(UTC).isoformat(),
                face_model=settings.face_model,
                model_ids=contents.model_ids,
                counts=contents.counts,
                template_key_versions=contents.template_key_versions,
                key_check=contents.key_check,
                database_sha256=archive.file_sha256(copy),
                with_secrets=sealed is not None,
            )
            archive.write_archive(destination, manifest, copy, sealed)
    finally:
        if owned:
            engine.dispose()
    return destination


def describe_manifest(manifest: Manifest) -> str:
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in manifest.counts.items())
    secrets = "with sealed secrets" if manifest.with_secrets else "without secrets"
    return (
        f"{manifest.database} database at schema {manifest.schema_revision}, made "
        f"{manifest.created_at}, {secrets}: {counts}"
    )


def running_server_problem(settings: Settings, engine: Engine) -> str | None:
    """Why the server looks to be running (a restore under it would be overwritten or
    half-seen), or None."""
    pid_file = settings.sonta_data_dir / "supervisord.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 0)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
        else:
            return f"The server is running (supervisord, {pid_file}): stop it first."
    if port_problem("0.0.0.0", settings.port, "PORT") is not None:  # noqa: S104
        return (
            f"Something listens on port {settings.port} (PORT): stop the Sonta server first "
            "(if another program listens there, run the restore with PORT set to a free port)."
        )
    if not settings.embedded_database:
        with engine.connect() as connection:
            others = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        if others:
            return (
                f"{others} other connection(s) use the database {settings.database_name}: stop "
                "every Sonta server (and other programs using it) first."
            )
    return None


def restore_keys(settings: Settings, secrets: dict[str, str] | None) -> tuple[str, list[str]]:
    """The template key (and earlier keys) the server will run with after this restore."""
    if secrets is not None and secrets.get("EMBEDDING_ENCRYPTION_KEY"):
        previous = secrets.get("EMBEDDING_ENCRYPTION_KEY_PREVIOUS", "")
        return secrets["EMBEDDING_ENCRYPTION_KEY"], [k for k in previous.split(",") if k]
    if not settings.embedding_encryption_key:
        raise BackupError("EMBEDDING_ENCRYPTION_KEY is not set; set the key of the backup's time.")
    return settings.embedding_encryption_key, settings.previous_embedding_keys()


def check_template_key(manifest: Manifest, key: str, previous: list[str]) -> None:
    """Refuse unless these keys open the archive's templates; the message names the key
    versions needed."""
    known = {key_id(k) for k in (key, *previous)}
    missing = [v for v in manifest.template_key_versions if v not in known]
    how = (
        "Set EMBEDDING_ENCRYPTION_KEY (or EMBEDDING_ENCRYPTION_KEY_PREVIOUS) to the key of "
        "the backup's time, or restore with --with-secrets if the backup holds them. "
        "Nothing was changed."
    )
    if missing:
        raise BackupError(
            f"The backup's face templates need the key(s) with version {', '.join(missing)}; "
            f"the configured EMBEDDING_ENCRYPTION_KEY has version {key_id(key)}. {how}"
        )
    check = manifest.key_check
    if check is None:
        return
    sealed = SealedTemplate(
        check.key_version, base64.b64decode(check.nonce), base64.b64decode(check.ciphertext)
    )
    try:
        TemplateCipher(key, previous=previous).open(
            sealed,
            member_id=uuid.UUID(check.member_id),
            template_id=uuid.UUID(check.template_id),
            model_id=check.model_id,
        )
    except TemplateDecryptionError as exc:
        raise BackupError(
            f"The configured key does not open the backup's templates. {how}"
        ) from exc


def restore_backup(settings: Settings, source: Path, *, passphrase: str | None = None) -> int:
    """Check, keep the current database aside, replace it, migrate. Returns an exit code."""
    manifest = archive.read_manifest(source)
    say(f"{source}: {describe_manifest(manifest)}")
    kind = "sqlite" if settings.embedded_database else "postgresql"
    if manifest.database != kind:
        raise BackupError(
            f"This backup is of a {manifest.database} database and the server is configured "
            f"for {kind} (DATABASE_HOST {'set' if settings.database_host else 'unset'}); "
            "restore it with the settings it was made with. Nothing was changed."
        )
    secrets = None
    if passphrase is not None:
        sealed = archive.read_sealed_secrets(source)
        if sealed is None:
            raise BackupError(
                "This backup holds no secrets (it was made without --with-secrets); restore "
                "it without --with-secrets. Nothing was changed."
            )
        secrets = archive.open_secrets(sealed, passphrase)
    check_template_key(manifest, *restore_keys(settings, secrets))
    engine = make_engine(settings)
    try:
        problem = running_server_problem(settings, engine)
        if problem:
            raise BackupError(f"{problem} Nothing was changed.")
        _replace(settings, engine, source, manifest)
    finally:
        engine.dispose()
    _finish(settings, manifest, source, secrets)
    return 0


def _replace(settings: Settings, engine: Engine, source: Path, manifest: Manifest) -> None:
    workdir = settings.sonta_data_dir if settings.embedded_database else None
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        staged = Path(scratch) / manifest.database_file
        archive.extract_database(source, manifest, staged)
        if settings.embedded_database:
            database.check_sqlite_file(staged)
        if database.has_schema(engine):
            kept = create_backup(settings, prefix="sonta-before-restore", engine=engine)
            say(f"The database as it was is kept in {kept}.")
        if settings.embedded_database:
            engine.dispose()
            database.replace_sqlite(staged, database.sqlite_path(settings))
        else:
            database.restore_postgresql(settings, engine, staged)


def _finish(
    settings: Settings, manifest: Manifest, source: Path, secrets: dict[str, str] | None
) -> None:
    engine = make_engine(settings)
    try:
        upgrade_to_head(engine)
        with make_session_factory(engine)() as session:
            audit.record(
                session=session,
                actor=None,
                action="backup.restore",
                details={"archive": source.name, "created_at": manifest.created_at},
            )
            session.commit()
    finally:
        engine.dispose()
    say(f"Restored {source.name}; the schema is up to date.")
    if secrets is not None:
        _place_secrets(settings, secrets)
    expected = ServerFaceModel(settings.face_model).model_id
    others = [m for m in manifest.model_ids if m != expected]
    if others:
        say(
            f"Note: some templates were made by {', '.join(others)}, not by this server's "
            f"FACE_MODEL={settings.face_model}: those members must be enrolled again."
        )


def _place_secrets(settings: Settings, secrets: dict[str, str]) -> None:
    """Development keeps its secrets in the data directory: put the backup's there (the
    old file kept aside). Elsewhere the environment sets them: write them owner-only for
    the operator to set."""
    dev_file = settings.sonta_data_dir / DEV_SECRETS_FILE
    if dev_file.exists() and _reads_secrets_from(dev_file, settings):
        aside = dev_file.with_name(f"{DEV_SECRETS_FILE}.before-restore-{os.getpid()}")
        os.replace(dev_file, aside)
        _write_private(dev_file, json.dumps(secrets).encode())
        say(f"The backup's secrets are now in {dev_file} (the previous ones in {aside}).")
        return
    if secrets.get("EMBEDDING_ENCRYPTION_KEY") == settings.embedding_encryption_key:
        return
    target = settings.sonta_data_dir / RESTORED_SECRETS_FILE
    lines = "".join(f"{name}={value}\n" for name, value in secrets.items())
    _write_private(target, lines.encode())
    say(
        f"The backup's secrets differ from this server's: set these variables from {target} "
        "(owner-only) before starting the server, then delete that file."
    )


def _reads_secrets_from(dev_file: Path, settings: Settings) -> bool:
    try:
        stored = json.loads(dev_file.read_text())
    except (OSError, ValueError):
        return False
    return bool(stored.get("EMBEDDING_ENCRYPTION_KEY") == settings.embedding_encryption_key)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
