"""`sonta server`, `sonta migrate`, `sonta admin ...` and `sonta templates re-encrypt`.

Imports of the backend happen inside the handlers, so listing commands stays fast.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from server.ports import EXIT_NO_RETRY, port_problem_after_tries

if TYPE_CHECKING:
    from server.backend.core.config import Settings


ROLES = ("admin", "super_admin")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    server = subparsers.add_parser("server", help="run the backend API (port PORT, default 3000)")
    server.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")  # noqa: S104
    server.add_argument("--port", type=int, default=None, help="port (default: PORT or 3000)")
    server.add_argument(
        "--check",
        action="store_true",
        help="only check the settings and that the port is free (exit 2 if not), then exit",
    )
    server.set_defaults(handler=run_server)

    migrate = subparsers.add_parser(
        "migrate", help="apply database migrations (alembic upgrade head)"
    )
    migrate.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="retry reaching the database for up to SECONDS, then exit 2 (default 0: one try)",
    )
    migrate.add_argument(
        "--since",
        type=float,
        default=None,
        metavar="EPOCH",
        help="count the wait from this time (seconds since the epoch; default: now), "
        "e.g. when the program was spawned",
    )
    migrate.set_defaults(handler=run_migrate)

    admin = subparsers.add_parser("admin", help="manage admin accounts")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create = admin_commands.add_parser(
        "create",
        help="create an admin (role admin unless --role super_admin); password read from stdin",
        description="Create an admin who signs in with EMAIL and the password read from "
        "standard input. An admin manages members, faces, meetings, kiosks and reports; "
        "a super_admin can also create, change and disable other admins.",
    )
    create.add_argument("email")
    create.add_argument(
        "--role",
        choices=ROLES,
        default="admin",
        help="admin (the default) or super_admin, who also manages other admins",
    )
    create.set_defaults(handler=run_admin_create)
    reset = admin_commands.add_parser(
        "reset-password", help="set an admin's password from stdin and end their sessions"
    )
    reset.add_argument("email")
    reset.set_defaults(handler=run_admin_reset_password)
    enrol = admin_commands.add_parser(
        "enrol",
        help="enrol a member's face from photos, through the running face-service",
        description="Enrol a member's face from one or more photos of them alone. Each "
        "photo passes the enrolment quality gates (one face, large, sharp, well lit, "
        "facing the camera); the photos are not kept.",
    )
    enrol.add_argument("member", help="the member's email, member code or id")
    enrol.add_argument("photos", nargs="+", type=Path, metavar="PHOTO")
    enrol.add_argument(
        "--consent",
        action="store_true",
        help="record now that the member has given biometric consent (required once)",
    )
    enrol.set_defaults(handler=run_admin_enrol)
    purge = admin_commands.add_parser(
        "purge-evidence", help="erase review evidence images past their retention period"
    )
    purge.set_defaults(handler=run_purge_evidence)

    templates = subparsers.add_parser("templates", help="face template maintenance")
    template_commands = templates.add_subparsers(
        dest="templates_command", required=True, metavar="ACTION"
    )
    reencrypt = template_commands.add_parser(
        "re-encrypt",
        help="re-encrypt every template with EMBEDDING_ENCRYPTION_KEY "
        "(old keys listed in EMBEDDING_ENCRYPTION_KEY_PREVIOUS)",
    )
    reencrypt.set_defaults(handler=run_reencrypt)

    backup = subparsers.add_parser(
        "backup",
        help="write one archive of the database (and, with --with-secrets, the secrets)",
        description="Write one archive: a consistent copy of the database and a manifest "
        "(schema, face model, counts). Secrets go in only with --with-secrets, encrypted "
        "with a passphrase read from standard input. --scheduled keeps running and backs "
        "up every BACKUP_INTERVAL_HOURS into BACKUP_DIR, keeping BACKUP_KEEP archives.",
    )
    backup.add_argument(
        "dest",
        nargs="?",
        type=Path,
        help="archive file or folder (default: BACKUP_DIR, or SONTA_DATA_DIR/backups)",
    )
    backup.add_argument(
        "--with-secrets",
        action="store_true",
        help="also store the secrets, encrypted with a passphrase read from stdin",
    )
    backup.add_argument(
        "--scheduled", action="store_true", help="run the backup schedule until stopped"
    )
    backup.set_defaults(handler=run_backup)

    restore = subparsers.add_parser(
        "restore",
        help="replace the database with a backup's (the server must be stopped)",
        description="Check ARCHIVE and that EMBEDDING_ENCRYPTION_KEY opens its face "
        "templates, keep the current database as a backup of its own, replace it, then "
        "migrate. Nothing changes if a check fails.",
    )
    restore.add_argument("archive", type=Path)
    restore.add_argument(
        "--with-secrets",
        action="store_true",
        help="also restore the backup's secrets (passphrase read from stdin)",
    )
    restore.set_defaults(handler=run_restore)


def _settings(*, announce: bool = True) -> Settings | None:
    from server.backend.core.config import load_settings  # noqa: PLC0415
    from server.backend.errors import ConfigError  # noqa: PLC0415

    try:
        return load_settings(announce=announce)
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return None


def run_server(args: argparse.Namespace) -> int:
    settings = _settings(announce=not args.check)
    if settings is None:
        return EXIT_NO_RETRY
    problem = _data_dir_problem(settings)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_NO_RETRY
    port = args.port or settings.port
    problem = port_problem_after_tries(args.host, port, "PORT")
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_NO_RETRY
    if args.check:
        return 0
    print(f"Backend starting on port {port}", file=sys.stderr)
    from server.backend.core.runner import serve  # noqa: PLC0415

    return 0 if serve(settings, host=args.host, port=port) else 1


def _data_dir_problem(settings: Settings) -> str | None:
    """Why the embedded data directory cannot be used, in one line; None when it can."""
    from server.backend.core.datadir import prepare_data_dir  # noqa: PLC0415
    from server.backend.errors import ConfigError  # noqa: PLC0415

    if not settings.embedded_database:
        return None
    try:
        prepare_data_dir(settings.sonta_data_dir)
    except ConfigError as exc:
        return exc.message
    return None


def run_migrate(args: argparse.Namespace) -> int:
    import time  # noqa: PLC0415

    from server.backend.core.database_wait import wait_for_database  # noqa: PLC0415
    from server.backend.core.db import make_engine  # noqa: PLC0415
    from server.backend.errors import ServiceUnavailableError  # noqa: PLC0415
    from server.backend.tasks.migrate import upgrade_to_head  # noqa: PLC0415

    settings = _settings(announce=False)
    if settings is None:
        return 2
    deadline = (args.since if args.since is not None else time.time()) + args.wait

    def migrate() -> int:
        engine = make_engine(settings)
        try:
            wait_for_database(engine, deadline=deadline, say=_say)
            upgrade_to_head(engine)
        except ServiceUnavailableError as exc:
            print(exc.message, file=sys.stderr)
            return EXIT_NO_RETRY
        finally:
            engine.dispose()
        print("Database schema is up to date.", file=sys.stderr)
        return 0

    return _with_database(migrate)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _with_database(task: Callable[[], int]) -> int:
    """Run a task that needs the database; an unreachable one is a message, not a trace."""
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    try:
        return task()
    except OperationalError as exc:
        print(f"The database cannot be reached: {exc.orig or exc}", file=sys.stderr)
        return 1


def read_password(prompt: str = "New password: ") -> str:
    """A password from the terminal (asked twice) or the first line of piped stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat it: ") != first:
            raise ValueError("The two passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run_admin_create(args: argparse.Namespace) -> int:
    from server.backend.tasks.admin import create_admin  # noqa: PLC0415

    settings = _settings()
    if settings is None:
        return 2
    return _with_database(
        lambda: create_admin(
            settings, email=args.email, role=args.role, read_password=read_password
        )
    )


def run_admin_reset_password(args: argparse.Namespace) -> int:
    from server.backend.tasks.admin import reset_password  # noqa: PLC0415

    settings = _settings()
    if settings is None:
        return 2
    return _with_database(
        lambda: reset_password(settings, email=args.email, read_password=read_password)
    )


def run_admin_enrol(args: argparse.Namespace) -> int:
    from server.backend.tasks.enrol import enrol_photos  # noqa: PLC0415

    settings = _settings()
    if settings is None:
        return 2
    return _with_database(
        lambda: enrol_photos(settings, who=args.member, photos=args.photos, consent=args.consent)
    )


def run_reencrypt(_args: argparse.Namespace) -> int:
    from server.backend.tasks.admin import reencrypt_templates  # noqa: PLC0415

    settings = _settings()
    if settings is None:
        return 2
    return _with_database(lambda: reencrypt_templates(settings))


def run_purge_evidence(_args: argparse.Namespace) -> int:
    from server.backend.tasks.admin import purge_evidence  # noqa: PLC0415

    settings = _settings()
    if settings is None:
        return 2
    return _with_database(lambda: purge_evidence(settings))


def run_backup(args: argparse.Namespace) -> int:
    from server.backend.errors import BackupError  # noqa: PLC0415
    from server.backend.tasks.backups.archive import read_manifest  # noqa: PLC0415
    from server.backend.tasks.backups.tasks import create_backup, describe_manifest  # noqa: PLC0415

    settings = _settings(announce=False)
    if settings is None:
        return 2
    if args.scheduled:
        return _run_schedule(settings)

    def backup() -> int:
        passphrase = read_password("Passphrase for the secrets: ") if args.with_secrets else None
        path = create_backup(settings, args.dest, passphrase=passphrase)
        print(
            f"Backup written to {path}: {describe_manifest(read_manifest(path))}", file=sys.stderr
        )
        return 0

    try:
        return _with_database(backup)
    except (BackupError, ValueError) as exc:
        print(getattr(exc, "message", str(exc)), file=sys.stderr)
        return 1


def _run_schedule(settings: Settings) -> int:
    import logging  # noqa: PLC0415
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from server.backend.tasks.backups.schedule import run_schedule  # noqa: PLC0415

    def stop_now(*_: object) -> NoReturn:
        # At once, even in the middle of a backup: an archive is written aside and renamed
        # only when whole, and what a stopped one left is swept at the next start. Waiting
        # for it (or for the interpreter's teardown of the backend's imports) overran the
        # 1 s supervisord.conf gives this program on a busy machine.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_now)
    run_schedule(settings, threading.Event())
    stop_now()


def run_restore(args: argparse.Namespace) -> int:
    from server.backend.errors import BackupError  # noqa: PLC0415
    from server.backend.tasks.backups.tasks import restore_backup  # noqa: PLC0415

    settings = _settings(announce=False)
    if settings is None:
        return 2
    try:
        passphrase = read_password("Passphrase of the backup: ") if args.with_secrets else None
        return _with_database(lambda: restore_backup(settings, args.archive, passphrase=passphrase))
    except (BackupError, ValueError) as exc:
        print(getattr(exc, "message", str(exc)), file=sys.stderr)
        return 1
