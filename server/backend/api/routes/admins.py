"""Admin accounts (`/api/admins`): only a super admin manages them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from server.backend.api.deps import BackendDep, ClientIp, SessionDep, SuperAdmin
from server.backend.api.routes.auth import admin_public
from server.backend.crud import admins as crud
from server.backend.crud import audit
from server.backend.errors import ConflictError
from server.backend.schemas.resources import (
    AdminCreate,
    AdminInvited,
    AdminPublic,
    AdminUpdate,
    Message,
    PasswordLinkSent,
)
from server.backend.services import accounts

router = APIRouter(prefix="/admins", tags=["admins"])
EMAILED = "A one-time link to set a password was emailed to {email}."
GIVE_IT_YOURSELF = (
    "Email is not set up on this server, so nothing was emailed. Give {email} this "
    "one-time link yourself (it works once, within 24 hours; it is shown only now)."
)


def _link_sent(email: str, link: str | None) -> PasswordLinkSent:
    sentence = GIVE_IT_YOURSELF if link else EMAILED
    return PasswordLinkSent(detail=sentence.format(email=email), password_link=link)


@router.get("")
def list_admins(session: SessionDep, _actor: SuperAdmin) -> list[AdminPublic]:
    return [admin_public(a) for a in crud.list_admins(session=session)]


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"model": Message}})
def create_admin(
    body: AdminCreate, backend: BackendDep, session: SessionDep, actor: SuperAdmin, ip: ClientIp
) -> AdminInvited:
    """Create an admin and send them a one-time link to set their password (without
    email set up, the link comes back to the super admin, once)."""
    admin = crud.create(session=session, admin_in=body)
    audit.record(
        session=session,
        actor=actor,
        action="admin.create",
        target_type="admin",
        target_id=admin.id,
        details={"email": admin.email, "role": admin.role},
        client_ip=ip,
    )
    session.commit()
    sent = _link_sent(admin.email, accounts.send_password_link(backend, admin))
    return AdminInvited(**admin_public(admin).model_dump(), **sent.model_dump())


@router.get("/{admin_id}", responses={404: {"model": Message}})
def get_admin(admin_id: uuid.UUID, session: SessionDep, _actor: SuperAdmin) -> AdminPublic:
    return admin_public(crud.get(session=session, admin_id=admin_id))


@router.patch("/{admin_id}", responses={404: {"model": Message}, 409: {"model": Message}})
def update_admin(
    admin_id: uuid.UUID, body: AdminUpdate, session: SessionDep, actor: SuperAdmin, ip: ClientIp
) -> AdminPublic:
    """Rename, change role, or disable/enable; disabling ends the admin's sessions at once."""
    admin = crud.get(session=session, admin_id=admin_id)
    if admin.id == actor.id and (body.is_active is False or body.role == "admin"):
        raise ConflictError("You cannot disable or demote yourself; ask another super admin.")
    changes = crud.update(session=session, admin=admin, admin_in=body)
    audit.record(
        session=session,
        actor=actor,
        action="admin.update",
        target_type="admin",
        target_id=admin.id,
        details={k: str(v) for k, v in changes.items()},
        client_ip=ip,
    )
    session.commit()
    return admin_public(admin)


@router.post(
    "/{admin_id}/password-link",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {"model": Message}, 409: {"model": Message}},
)
def send_password_link(
    admin_id: uuid.UUID, backend: BackendDep, session: SessionDep, actor: SuperAdmin, ip: ClientIp
) -> PasswordLinkSent:
    """Send (again) a one-time link for the admin to set a password (without email set
    up, the link comes back to the super admin, once)."""
    admin = crud.get(session=session, admin_id=admin_id)
    if not admin.is_active:
        raise ConflictError("This admin is disabled; enable them first.")
    audit.record(
        session=session,
        actor=actor,
        action="admin.password_link",
        target_type="admin",
        target_id=admin.id,
        client_ip=ip,
    )
    session.commit()
    return _link_sent(admin.email, accounts.send_password_link(backend, admin))
