"""Members, i.e. Sonta Heads (`/api/members`): records, search, consent, CSV import."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, UploadFile, status
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from server.backend.api.deps import ClientIp, CurrentAdmin, SessionDep, SignedInReadsDep
from server.backend.crud import audit, member_search
from server.backend.crud import members as crud
from server.backend.errors import BadRequestError
from server.backend.models import Admin, Member
from server.backend.schemas.resources import (
    NO_NUL,
    ConsentUpdate,
    ImportReport,
    MemberCreate,
    MemberListed,
    MemberPublic,
    MembersPublic,
    MemberStatus,
    MemberUpdate,
    Message,
    Ministries,
)
from server.backend.services.member_import import ImportMode, apply, plan_import

router = APIRouter(prefix="/members", tags=["members"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}
MEMBER_LIST = TypeAdapter(list[MemberListed])


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
async def search_members(
    *,
    reads: SignedInReadsDep,
    q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    ministry: Annotated[str | None, Query(max_length=120, pattern=NO_NUL)] = None,
    member_status: Annotated[MemberStatus | None, Query(alias="status")] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MembersPublic:
    """Search by name, email or phone; filter by ministry and status. The count is exact
    up to a cap; past it `count` is the cap and `count_capped` says so ("1,000+")."""

    def search(session: Session, _admin: Admin) -> MembersPublic:
        page = member_search.search(
            session=session,
            q=q,
            ministry=ministry,
            status=member_status,
            skip=skip,
            limit=limit,
            face_model_id=reads.backend.face_model.model_id,
        )
        return MembersPublic(
            data=MEMBER_LIST.validate_python(page.members),
            count=page.count,
            count_capped=page.count_capped,
            has_more=page.has_more,
        )

    return await reads.run(search)


@router.get("/ministries")
async def ministries(reads: SignedInReadsDep) -> Ministries:
    """Every ministry an active member is in, by name: for filters and forms."""
    return await reads.run(lambda session, _admin: Ministries(ministries=crud.ministries(session)))


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
    file: UploadFile,
    *,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
    response: Response,
    mode: ImportMode = "create",
    dry_run: bool = False,
) -> ImportReport:
    """Import a CSV (header: full_name, ministry, and optionally email, phone, notes, status,
    member_code).

    `mode=create` adds every row; `mode=update` matches rows to members by member_code,
    email, or name and phone, changes their filled-in cells and adds the rest. A new row
    that looks like someone already listed carries a `warning`. `dry_run=true` answers
    the per-row report and saves nothing. Either every row is saved or none is: any bad row
    returns 422 with a report of every bad row.
    """
    plan = plan_import(file.file.read(), session=session, mode=mode)
    if plan.errors:
        raise BadRequestError(
            f"Nothing was imported: {len(plan.errors)} "
            f"{'row needs' if len(plan.errors) == 1 else 'rows need'} fixing.",
            details={"errors": [e.model_dump() for e in plan.errors]},
        )
    if not plan.report:
        raise BadRequestError("The file has no member rows.")
    counts = Counter(r.action for r in plan.report)
    report = ImportReport(
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        errors=[],
        saved=not dry_run,
        rows=plan.report,
        warnings=sum(1 for r in plan.report if r.warning),
    )
    if dry_run:
        session.rollback()
        response.status_code = status.HTTP_200_OK
        return report
    apply(plan, session=session)
    audit.record(
        session=session,
        actor=actor,
        action="member.import",
        target_type="member",
        details={
            "mode": mode,
            "created": report.created,
            "updated": report.updated,
            "filename": (file.filename or "")[:200],
        },
        client_ip=ip,
    )
    session.commit()
    return report


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
