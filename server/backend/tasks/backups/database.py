"""Consistent copies of the database, and putting one back.

SQLite: the online-backup API copies a consistent snapshot while the server writes.
PostgreSQL: `pg_dump -Fc` inside a snapshot exported by a repeatable-read transaction,
so the manifest's counts describe exactly the rows in the dump. A restore replays the
dump with `psql --single-transaction` after dropping the current tables in that same
transaction: it either completes or leaves the database as it was.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, inspect, text

from server.backend.core.config import Settings
from server.backend.errors import BackupError
from server.backend.tasks.backups.archive import KeyCheck

COUNTED_TABLES = ("members", "face_templates", "attendance_records")


@dataclass(frozen=True)
class Contents:
    """What a database copy holds, read from the copy itself (or its snapshot)."""

    schema_revision: str | None
    counts: dict[str, int]
    model_ids: list[str]
    template_key_versions: list[str]
    key_check: KeyCheck | None


def describe(connection: Connection) -> Contents:
    """Schema revision, row counts, recognisers and template keys of a migrated database."""
    tables = set(inspect(connection).get_table_names())
    revision = None
    if "alembic_version" in tables:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    counts = {
        name: int(connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())  # noqa: S608
        for name in COUNTED_TABLES
        if name in tables
    }
    if "face_templates" not in tables:
        return Contents(revision, counts, [], [], None)
    model_ids = connection.execute(text("SELECT DISTINCT model_id FROM face_templates")).scalars()
    versions = connection.execute(text("SELECT DISTINCT key_version FROM face_templates")).scalars()
    sample = connection.execute(
        text(
            "SELECT member_id, id, model_id, key_version, nonce, ciphertext "
            "FROM face_templates ORDER BY created_at DESC LIMIT 1"
        )
    ).first()
    check = None
    if sample is not None:
        check = KeyCheck(
            member_id=str(sample[0]),
            template_id=str(sample[1]),
            model_id=sample[2],
            key_version=sample[3],
            nonce=base64.b64encode(bytes(sample[4])).decode(),
            ciphertext=base64.b64encode(bytes(sample[5])).decode(),
        )
    return Contents(revision, counts, sorted(model_ids), sorted(versions), check)


def has_schema(engine: Engine) -> bool:
    """Whether the database was ever migrated (else there is nothing to keep)."""
    with engine.connect() as connection:
        return "alembic_version" in inspect(connection).get_table_names()


def sqlite_path(settings: Settings) -> Path:
    return settings.sonta_data_dir / "sonta.db"


def copy_sqlite(source: Path, target: Path) -> Contents:
    """A consistent copy of a live SQLite database through its online-backup API."""
    if not source.exists():
        raise BackupError(f"There is no database at {source} yet: nothing to back up.")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    os.chmod(target, 0o600)
    return describe_sqlite(target)


def describe_sqlite(path: Path) -> Contents:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return describe(connection)
    finally:
        engine.dispose()


def _pg_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PGHOST=settings.database_host or "",
        PGPORT=str(settings.database_port),
        PGUSER=settings.database_user,
        PGDATABASE=settings.database_name,
    )
    if settings.database_password:
        env["PGPASSWORD"] = settings.database_password
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"`{name}` is not installed: install PostgreSQL's client programs (Debian: "
            "apt-get install postgresql-client) of your server's major version."
        )
    return path


_CLIENT_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


def client_problem(tool: str, version_output: str, server_version_num: int) -> str | None:
    """Why `tool` (its `--version` output given) cannot serve this server, or None.

    PostgreSQL's client programs read and write older servers' data but refuse a newer
    server's (pg_dump stops with "server version mismatch"), so say which version to
    install before anything starts."""
    found = _CLIENT_VERSION.search(version_output)
    server = server_version_num // 10000
    if found is None or int(found.group(1)) >= server:
        return None
    return (
        f"The database server runs PostgreSQL {server}, but `{tool}` here is PostgreSQL "
        f"{found.group(1)}'s, which cannot copy a newer server. Install PostgreSQL {server}'s "
        f"client programs (Debian and Ubuntu: postgresql-client-{server}, from "
        "apt.postgresql.org for versions newer than the system's) on the machine that runs "
        "the backup, or run `sonta backup` from one that has them. Nothing was written."
    )


def _check_client(tool: str, connection: Connection) -> None:
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    server = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    problem = client_problem(Path(tool).name, version.stdout, server)
    if problem is not None:
        raise BackupError(problem)


def _run(command: list[str], env: Mapping[str, str], *, stdin: bytes | None = None) -> None:
    result = subprocess.run(command, env=env, input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()
        raise BackupError(f"{Path(command[0]).name} failed: {detail}")


def dump_postgresql(settings: Settings, engine: Engine, target: Path) -> Contents:
    """`pg_dump -Fc` of the configured database, described from the same snapshot."""
    pg_dump = _tool("pg_dump")
    snapshot_engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with snapshot_engine.connect() as connection, connection.begin():
        _check_client(pg_dump, connection)
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        contents = describe(connection)
        # The snapshot lives as long as this transaction: pg_dump runs inside it.
        _run([pg_dump, "-Fc", f"--snapshot={snapshot}", "-f", str(target)], _pg_env(settings))
    os.chmod(target, 0o600)
    return contents


def restore_postgresql(settings: Settings, engine: Engine, dump: Path) -> None:
    """Replace every table with the dump's, in one transaction (all or nothing)."""
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    env = _pg_env(settings)
    script = subprocess.run(
        [pg_restore, "--no-owner", "--no-privileges", "-f", "-", str(dump)],
        env=env,
        capture_output=True,
        check=False,
    )
    if script.returncode != 0:
        raise BackupError(
            f"pg_restore cannot read the dump ({script.stderr.decode(errors='replace').strip()}). "
            "Nothing was changed."
        )
    drops = _drop_statements(engine)
    _run(
        [psql, "--single-transaction", "-v", "ON_ERROR_STOP=1", "-q", "-f", "-"],
        env,
        stdin=drops.encode() + script.stdout,
    )


def _drop_statements(engine: Engine) -> str:
    """SQL dropping the tables, sequences and types of the public schema as they are now."""
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        sequences = inspect(connection).get_sequence_names()
        types = connection.execute(
            text(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'public' AND t.typtype = 'e'"
            )
        ).scalars()
        names = list(types)
    lines = [f'DROP TABLE IF EXISTS public."{name}" CASCADE;' for name in tables]
    lines += [f'DROP SEQUENCE IF EXISTS public."{name}" CASCADE;' for name in sequences]
    lines += [f'DROP TYPE IF EXISTS public."{name}" CASCADE;' for name in names]
    return "\n".join(lines) + "\n"


def replace_sqlite(staged: Path, database: Path) -> None:
    """Put a checked copy in place of the (stopped) server's SQLite file.

    The old write-ahead log must go first: SQLite would otherwise replay it over the
    restored file. Its content is in the safety backup made before this is called.
    """
    if database.exists():
        connection = sqlite3.connect(database)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
    for suffix in ("-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    os.replace(staged, database)


def check_sqlite_file(path: Path) -> None:
    """Refuse a file SQLite cannot read or finds damaged."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA integrity_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"The archive's database is not readable ({exc}).") from exc
    if result is None or result[0] != "ok":
        raise BackupError(f"The archive's database is damaged ({result}).")
