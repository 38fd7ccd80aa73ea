"""Operator tasks behind the CLI: create an admin, reset a password, re-key templates,
purge expired evidence images.

Each returns a process exit code and prints what happened (never a password).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from server.backend.core.config import Settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.core.security.passwords import PasswordHasher, password_problem
from server.backend.core.security.templates import TemplateCipher
from server.backend.crud import admins as admins_crud
from server.backend.crud import audit
from server.backend.crud import templates as templates_crud
from server.backend.errors import SontaServerError
from server.backend.schemas.resources import AdminCreate
from server.backend.services import evidence
from server.backend.tasks.migrate import upgrade_to_head

PasswordReader = Callable[[], str]
ROLE_POWERS = {
    "admin": "manages members, faces, meetings, kiosks and reports, not other admins "
    "(`--role super_admin` for that)",
    "super_admin": "manages everything, other admins included",
}


def _say(message: str) -> None:
    print(message, file=sys.stderr)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings)
    try:
        if settings.embedded_database:
            upgrade_to_head(engine)
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _new_password(read_password: PasswordReader, email: str) -> str | None:
    try:
        password = read_password()
    except ValueError as exc:
        _say(str(exc))
        return None
    problem = password_problem(password, user_inputs=(email,))
    if problem:
        _say(problem)
        return None
    return password


def create_admin(
    settings: Settings, *, email: str, role: str, read_password: PasswordReader
) -> int:
    try:
        admin_in = AdminCreate.model_validate({"email": email, "role": role})
    except ValueError as exc:
        _say(f"Invalid admin: {exc}")
        return 1
    password = _new_password(read_password, admin_in.email)
    if password is None:
        return 1
    with _session(settings) as session:
        try:
            admin = admins_crud.create(
                session=session, admin_in=admin_in, password_hash=PasswordHasher().hash(password)
            )
        except SontaServerError as exc:
            _say(exc.message)
            return 1
        audit.record(
            session=session,
            actor=None,
            action="admin.create",
            target_type="admin",
            target_id=admin.id,
            details={"email": admin.email, "role": admin.role, "source": "cli"},
        )
        session.commit()
    _say(f"Created {admin.email} with the role {admin.role}: {ROLE_POWERS[admin.role]}.")
    return 0


def reset_password(settings: Settings, *, email: str, read_password: PasswordReader) -> int:
    password = _new_password(read_password, email)
    if password is None:
        return 1
    with _session(settings) as session:
        admin = admins_crud.get_by_email(session=session, email=email)
        if admin is None:
            _say(f"No admin has the email {email}.")
            return 1
        admins_crud.set_password(
            session=session, admin=admin, password_hash=PasswordHasher().hash(password)
        )
        audit.record(
            session=session,
            actor=None,
            action="admin.reset_password",
            target_type="admin",
            target_id=admin.id,
            details={"source": "cli"},
        )
        session.commit()
    _say(f"Password set for {admin.email}; their existing sessions are ended.")
    return 0


def reencrypt_templates(settings: Settings) -> int:
    """Re-seal every template with the current EMBEDDING_ENCRYPTION_KEY."""
    if not settings.embedding_encryption_key:
        _say("EMBEDDING_ENCRYPTION_KEY is not set.")
        return 2
    cipher = TemplateCipher(
        settings.embedding_encryption_key, previous=settings.previous_embedding_keys()
    )
    with _session(settings) as session:
        report = templates_crud.reencrypt_all(session=session, cipher=cipher)
        audit.record(
            session=session,
            actor=None,
            action="templates.reencrypt",
            details={"reencrypted": report.reencrypted, "failed": len(report.failed)},
        )
        session.commit()
    _say(
        f"Re-encrypted {report.reencrypted} template(s); {report.already_current} already "
        f"used the current key; {len(report.failed)} could not be decrypted."
    )
    for template_id in report.failed:
        _say(f"  cannot decrypt template {template_id}: its key is not configured")
    return 1 if report.failed else 0


def purge_evidence(settings: Settings) -> int:
    """Erase evidence crops past their retention period (reviews and start-up do too)."""
    with _session(settings) as session:
        erased = evidence.purge_expired(session)
        audit.record(
            session=session, actor=None, action="evidence.purge", details={"erased": erased}
        )
        session.commit()
    _say(f"Erased {erased} expired evidence image(s).")
    return 0
