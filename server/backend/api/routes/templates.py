"""Face templates of a member (`/api/members/{id}/templates`): enrol, list metadata, erase.

Only metadata ever leaves the server through these endpoints; the embeddings stay
encrypted at rest and are never returned.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, UploadFile, status

from server.backend.api.deps import BackendDep, ClientIp, CurrentAdmin, SessionDep
from server.backend.crud import audit, gallery
from server.backend.crud import members as members_crud
from server.backend.crud import templates as crud
from server.backend.errors import PayloadTooLargeError
from server.backend.schemas.resources import Message, TemplateCreate, TemplatePublic
from server.backend.services import enrolment

router = APIRouter(prefix="/members/{member_id}/templates", tags=["face templates"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}


@router.get("", responses=NOT_FOUND)
def list_templates(
    member_id: uuid.UUID, session: SessionDep, _admin: CurrentAdmin
) -> list[TemplatePublic]:
    members_crud.get(session=session, member_id=member_id)
    rows = crud.list_for_member(session=session, member_id=member_id)
    return [TemplatePublic.model_validate(r) for r in rows]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **NOT_FOUND,
        409: {"description": "No consent, another recogniser, or the face belongs to someone else"},
    },
)
def enrol_template(
    member_id: uuid.UUID,
    body: TemplateCreate,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> TemplatePublic:
    """Enrol an embedding computed by a kiosk with the server's recogniser."""
    member = members_crud.get(session=session, member_id=member_id)
    row = crud.enrol(
        session=session,
        cipher=backend.cipher,
        face_model=backend.face_model,
        member=member,
        embedding=body.embedding,
        model_id=body.model_id,
        by=actor,
    )
    audit.record(
        session=session,
        actor=actor,
        action="template.enrol",
        target_type="member",
        target_id=member.id,
        details={"template_id": str(row.id), "model_id": row.model_id},
        client_ip=ip,
    )
    session.commit()
    return TemplatePublic.model_validate(row)


@router.post(
    "/photo",
    status_code=status.HTTP_201_CREATED,
    responses={
        **NOT_FOUND,
        409: {"description": "No consent, or the face belongs to someone else"},
        413: {"model": Message},
        422: {"description": "Not a usable photo: `issues` and `reasons` say what to change"},
        503: {"model": Message},
    },
)
def enrol_photo(
    member_id: uuid.UUID,
    photo: UploadFile,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> TemplatePublic:
    """Enrol a face from a photo of the member alone; the photo itself is not kept."""
    member = members_crud.get(session=session, member_id=member_id)
    data = photo.file.read(enrolment.PHOTO_MAX_BYTES + 1)
    if len(data) > enrolment.PHOTO_MAX_BYTES:
        raise PayloadTooLargeError("The photo is larger than 10 MB; send a smaller one.")
    row = enrolment.enrol_photo(backend, session, member=member, photo=data, by=actor)
    audit.record(
        session=session,
        actor=actor,
        action="template.enrol",
        target_type="member",
        target_id=member.id,
        details={"template_id": str(row.id), "model_id": row.model_id, "source": "photo"},
        client_ip=ip,
    )
    session.commit()
    return TemplatePublic.model_validate(row)


@router.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_template(
    member_id: uuid.UUID,
    template_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> None:
    """Erase one template."""
    row = crud.get(session=session, member_id=member_id, template_id=template_id)
    session.delete(row)
    gallery.record_deleted(session=session, member_id=member_id, template_ids=[template_id])
    audit.record(
        session=session,
        actor=actor,
        action="template.delete",
        target_type="member",
        target_id=member_id,
        details={"template_id": str(template_id)},
        client_ip=ip,
    )
    session.commit()


@router.delete("", responses=NOT_FOUND)
def erase_member_biometrics(
    member_id: uuid.UUID, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> Message:
    """Erase every face template of the member (biometric erasure)."""
    members_crud.get(session=session, member_id=member_id)
    erased = members_crud.delete_templates(session=session, member_id=member_id)
    audit.record(
        session=session,
        actor=actor,
        action="template.erase_all",
        target_type="member",
        target_id=member_id,
        details={"erased": erased},
        client_ip=ip,
    )
    session.commit()
    return Message(detail=f"Erased {erased} face template(s).")
