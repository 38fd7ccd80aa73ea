"""Admin accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.backend.errors import ConflictError, NotFoundError
from server.backend.models import Admin
from server.backend.schemas.resources import AdminCreate, AdminUpdate


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(*, session: Session, email: str) -> Admin | None:
    return session.scalar(select(Admin).where(Admin.email == normalise_email(email)))


def get(*, session: Session, admin_id: uuid.UUID) -> Admin:
    admin = session.get(Admin, admin_id)
    if admin is None:
        raise NotFoundError("No such admin.")
    return admin


def list_admins(*, session: Session) -> list[Admin]:
    return list(session.scalars(select(Admin).order_by(Admin.email)))


def create(*, session: Session, admin_in: AdminCreate, password_hash: str | None = None) -> Admin:
    if get_by_email(session=session, email=admin_in.email) is not None:
        raise ConflictError("An admin with this email already exists.")
    admin = Admin(
        email=normalise_email(admin_in.email),
        full_name=admin_in.full_name,
        role=admin_in.role,
        password_hash=password_hash,
    )
    session.add(admin)
    session.flush()
    return admin


def update(*, session: Session, admin: Admin, admin_in: AdminUpdate) -> dict[str, object]:
    """Apply the given fields; disabling or a role change ends the admin's sessions."""
    changes = admin_in.model_dump(exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        setattr(admin, name, value)
    if "is_active" in changes or "role" in changes:
        admin.session_version += 1
    session.flush()
    return changes


def set_password(*, session: Session, admin: Admin, password_hash: str) -> None:
    """Store a new hash and end every existing session of this admin."""
    admin.password_hash = password_hash
    admin.session_version += 1
    session.flush()
