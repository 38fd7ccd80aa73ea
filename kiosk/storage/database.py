"""The kiosk's one SQLite database: opening it safely, its schema and migrations.

WAL journal (readers never block the writer), `synchronous=FULL` (a committed check-in
survives a power cut, not only a crash of the app), foreign keys on, `secure_delete`
(bytes deleted or replaced are zeroed, so face data sealed in place leaves no clear
copy). The schema is versioned with `PRAGMA user_version`: `MIGRATIONS[i]` takes
version i to i + 1, each in one transaction. A file that is not a database, is damaged,
or was written by a newer release raises `StoreError` with the way out instead of a
traceback.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk.errors import StoreError

BUSY_TIMEOUT_MS = 10_000
WAY_OUT = (
    "Run `sonta kiosk unpair` (it keeps a copy of the damaged file beside it), then pair "
    "the kiosk again with `sonta kiosk pair URL CODE`."
)

MIGRATIONS: tuple[str, ...] = (
    # 1: check-ins with their outbox, the gallery, meetings, members, badges, sync state.
    """
    CREATE TABLE checkins (
        key TEXT PRIMARY KEY,
        meeting_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        method TEXT NOT NULL,
        status TEXT NOT NULL,
        similarity REAL NOT NULL,
        device_time TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        UNIQUE (meeting_id, member_id)
    );
    CREATE TABLE outbox (
        key TEXT PRIMARY KEY REFERENCES checkins (key),
        -- pending: not yet acknowledged; evidence: acknowledged as pending_review, the
        -- evidence crop still to send; done / refused: finished (payload cleared).
        state TEXT NOT NULL DEFAULT 'pending',
        payload TEXT,
        evidence BLOB,
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        reason TEXT
    );
    CREATE INDEX outbox_state ON outbox (state);
    CREATE TABLE templates (
        template_id TEXT PRIMARY KEY,
        member_id TEXT NOT NULL,
        model_id TEXT NOT NULL,
        nonce BLOB NOT NULL,
        sealed BLOB NOT NULL
    );
    CREATE INDEX templates_member ON templates (member_id);
    CREATE TABLE members (
        member_id TEXT PRIMARY KEY,
        full_name TEXT NOT NULL,
        ministry TEXT NOT NULL
    );
    CREATE TABLE meetings (
        meeting_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        status TEXT NOT NULL,
        starts_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        late_after TEXT,
        expected_member_ids TEXT NOT NULL
    );
    CREATE TABLE revoked_badges (badge_id TEXT PRIMARY KEY);
    CREATE TABLE badge_keys (
        kid TEXT PRIMARY KEY,
        algorithm TEXT NOT NULL,
        public_key TEXT NOT NULL,
        position INTEGER NOT NULL
    );
    CREATE TABLE sync_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: each meeting's liveness policy, as the server sets it.
    """
    ALTER TABLE meetings ADD COLUMN liveness TEXT NOT NULL DEFAULT 'review_only';
    """,
    # 3: who and what a check-in was, in words, kept with it: a refused or set-aside
    # check-in is still readable after the gallery it was made with is gone.
    """
    ALTER TABLE checkins ADD COLUMN member_name TEXT;
    ALTER TABLE checkins ADD COLUMN meeting_title TEXT;
    """,
    # 4: queued check-ins' face data (probe, crops) is sealed with the outbox key
    # (`kiosk.storage.sealing`). No column changes: rows queued in clear are sealed in place when
    # the store first opens with the key (`LocalStore.seal_plain_rows`); the version
    # stops an older release from sending sealed items it cannot open.
    """
    SELECT 1;
    """,
    # 5: whether a meeting expects everyone the kiosk holds; without it an empty list of
    # expected people means nobody (it used to mean everyone, which a server of per-kiosk
    # galleries never meant). The meetings' digest is forgotten so the next sync sends
    # them again with the server's own answer.
    """
    ALTER TABLE meetings ADD COLUMN expects_everyone INTEGER NOT NULL DEFAULT 0;
    DELETE FROM sync_state WHERE name = 'meetings_digest';
    """,
)


def _damaged(path: Path, detail: str) -> StoreError:
    return StoreError(
        f"The kiosk's local database {path} is damaged or is not a database ({detail}). {WAY_OUT}"
    )


def _mapped(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """A damaged file, or one that cannot be used right now (locked, disk full, read-only)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return _damaged(path, str(exc))
    return StoreError(
        f"The kiosk's local database {path} cannot be used right now ({exc}). Check that "
        "no other kiosk program is running on this computer and that the disk has free "
        "space and is writable, then start the kiosk again."
    )


class Database:
    """One connection per thread to the same file; `write()` is one IMMEDIATE transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._migrate(self.connection())

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.DatabaseError as exc:
            raise _mapped(self.path, exc) from exc
        self.path.chmod(0o600)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            (ok,) = conn.execute("PRAGMA quick_check").fetchone()
            if ok != "ok":
                raise _damaged(self.path, str(ok))
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"The kiosk's local database {self.path} was written by a newer release "
                    f"of Sonta kiosk (schema {version}; this release knows up to "
                    f"{len(MIGRATIONS)}). Install the newer release again; or, to start "
                    f"afresh with this one, {WAY_OUT[0].lower()}{WAY_OUT[1:]}"
                )
            for number in range(version, len(MIGRATIONS)):
                conn.executescript(
                    f"BEGIN IMMEDIATE; {MIGRATIONS[number]} PRAGMA user_version = {number + 1};"
                    " COMMIT;"
                )
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.rollback()
            raise _mapped(self.path, exc) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed when the block ends (rolled back on error)."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.rollback()
            raise _mapped(self.path, exc) from exc

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        conn = self.connection()
        try:
            cursor = conn.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return list(cursor.fetchall())
        except sqlite3.DatabaseError as exc:
            raise _mapped(self.path, exc) from exc

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
