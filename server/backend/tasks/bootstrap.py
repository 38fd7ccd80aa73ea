"""First-start duties: the embedded schema and the super admin from SUPER_ADMIN_EMAIL."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError, OperationalError

from server.backend.core.context import Backend
from server.backend.crud import admins as admins_crud
from server.backend.crud import audit
from server.backend.schemas.resources import AdminCreate
from server.backend.services import accounts
from server.backend.tasks.migrate import upgrade_to_head

logger = logging.getLogger(__name__)


def prepare_database(backend: Backend) -> None:
    """Embedded SQLite migrates itself and keeps its sign-in reserve; PostgreSQL is
    migrated by `sonta migrate`."""
    if backend.settings.embedded_database:
        upgrade_to_head(backend.engine)
        backend.space_reserve.keep()


def ensure_super_admin(backend: Backend) -> None:
    """Create the configured super admin once and send them a set-password link."""
    email = backend.settings.super_admin_email
    if not email:
        return
    try:
        _create_super_admin(backend, email)
    except OperationalError as exc:
        # Start anyway: /health reports the database, and the next start tries again.
        logger.error("Database unreachable, super admin not checked: %s", exc)


def _create_super_admin(backend: Backend, email: str) -> None:
    with backend.sessions() as session:
        if admins_crud.get_by_email(session=session, email=email) is not None:
            return
        try:
            admin_in = AdminCreate(email=email, full_name="", role="super_admin")
            admin = admins_crud.create(session=session, admin_in=admin_in)
            audit.record(
                session=session,
                actor=None,
                action="admin.create_super_admin",
                target_type="admin",
                target_id=admin.id,
                details={"email": admin.email, "source": "SUPER_ADMIN_EMAIL"},
            )
            session.commit()
        except IntegrityError:
            # Another replica starting at the same moment created it first.
            session.rollback()
            return
    logger.info("Created the super admin %s; sending a link to set the password", admin.email)
    accounts.send_password_link(backend, admin)
