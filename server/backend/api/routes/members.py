"""Members, i.e. Sonta Heads (`/api/members`): records, search, consent, CSV import."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, UploadFile, status
from sqlalchemy.orm import Session

from server.backend.api.deps import ClientIp, CurrentAdmin, SessionDep
from server.backend.crud import audit
from server.backend.crud import members as crud
from server.backend.errors import BadRequestError
from server.backend.models import Admin, Member
from server.backend.schemas import (
    NO_NUL,
    ConsentUpdate,
    ImportReport,
    MemberCreate,
    MemberPublic,
    MembersPublic,
    MemberStatus,
    MemberUpdate,
    Message,
)
from server.backend.services.member_import import parse_members_csv

router = APIRouter(prefix="/members", tags=["members"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}


def _audit(
    session: Session, actor: Admin, action: str, member: Member, ip: str, **details: object
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="member",
        target_id=member.id,
        details={k: str(v) for k, v in details.items()},
        client_ip=ip,
    )


@router.get("")
def search_members(
    *,
    session: SessionDep,
    _admin: CurrentAdmin,
    q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    ministry: Annotated[str | None, Query(max_length=120, pattern=NO_NUL)] = None,
    member_status: Annotated[MemberStatus | None, Query(alias="status")] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MembersPublic:
    """Search by name, email or phone; filter by ministry and status."""
    rows, count = crud.search(
        session=session, q=q, ministry=ministry, status=member_status, skip=skip, limit=limit
    )
    return MembersPublic(data=[MemberPublic.model_validate(m) for m in rows], count=count)


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"model": Message}})
def create_member(
    body: MemberCreate, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> MemberPublic:
    member = crud.create(session=session, member_in=body)
    _audit(session, actor, "member.create", member, ip, full_name=member.full_name)
    session.commit()
    return MemberPublic.model_validate(member)


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "Nothing imported; the report lists every bad row"}},
)
def import_members(
    file: UploadFile, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> ImportReport:
    """Import a CSV (header: full_name, ministry, and optionally email, phone, notes, status).

    Either every row is imported or none is: any bad row returns 422 with a report of
    every bad row, and nothing is stored.
    """
    members_in, errors = parse_members_csv(file.file.read(), session=session)
    if errors:
        raise BadRequestError(
            f"Nothing was imported: {len(errors)} row(s) need fixing.",
            details={"errors": [e.model_dump() for e in errors]},
        )
    if not members_in:
        raise BadRequestError("The file has no member rows.")
    created = crud.create_many(session=session, members_in=members_in)
    audit.record(
        session=session,
        actor=actor,
        action="member.import",
        target_type="member",
        details={"created": len(created), "filename": (file.filename or "")[:200]},
        client_ip=ip,
    )
    session.commit()
    return ImportReport(created=len(created), errors=[])


@router.get("/{member_id}", responses=NOT_FOUND)
def get_member(member_id: uuid.UUID, session: SessionDep, _admin: CurrentAdmin) -> MemberPublic:
    return MemberPublic.model_validate(crud.get(session=session, member_id=member_id))


@router.patch("/{member_id}", responses={**NOT_FOUND, 409: {"model": Message}})
def update_member(
    member_id: uuid.UUID, body: MemberUpdate, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> MemberPublic:
    member = crud.get(session=session, member_id=member_id)
    changes = crud.update(session=session, member=member, member_in=body)
    _audit(session, actor, "member.update", member, ip, fields=",".join(sorted(changes)))
    session.commit()
    return MemberPublic.model_validate(member)


@router.post("/{member_id}/deactivate", responses=NOT_FOUND)
def deactivate_member(
    member_id: uuid.UUID, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> MemberPublic:
    """Keep the member's history but stop expecting them at meetings."""
    member = crud.get(session=session, member_id=member_id)
    member.status = "inactive"
    _audit(session, actor, "member.deactivate", member, ip)
    session.commit()
    return MemberPublic.model_validate(member)


@router.delete("/{member_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_member(
    member_id: uuid.UUID, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> None:
    """Delete the member and all their face templates."""
    member = crud.get(session=session, member_id=member_id)
    _audit(session, actor, "member.delete", member, ip, full_name=member.full_name)
    crud.delete_member(session=session, member=member)
    session.commit()


@router.put("/{member_id}/consent", responses=NOT_FOUND)
def set_consent(
    member_id: uuid.UUID,
    body: ConsentUpdate,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> MemberPublic:
    """Record biometric consent given or withdrawn; withdrawal erases the face templates."""
    member = crud.get(session=session, member_id=member_id)
    erased = crud.set_consent(session=session, member=member, given=body.given, by=actor)
    action = "member.consent_given" if body.given else "member.consent_withdrawn"
    _audit(session, actor, action, member, ip, templates_erased=erased)
    session.commit()
    return MemberPublic.model_validate(member)
