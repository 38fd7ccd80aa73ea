"""Enrolment from a photo: the face-service embeds it with the enrolment gates.

The photo is sent to the face-service and dropped; only the encrypted embedding is
stored. The face-service's refusals (no face, several faces, too small, blurred, dark,
turned...) come back as a 422 whose `issues` and `reasons` say what to change. Consent
is checked before the face-service is asked, so a member without consent costs nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.backend.core.context import Backend
from server.backend.crud import templates as templates_crud
from server.backend.errors import ConflictError
from server.backend.models import Admin, FaceTemplate, Member
from server.backend.services import uploads

# The face-service refuses images above 10 MB; refuse them here before sending.
PHOTO_MAX_BYTES = 10 * 1024 * 1024


def enrol_photo(
    backend: Backend, session: Session, *, member: Member, photo: bytes, by: Admin | None
) -> FaceTemplate:
    """Embed the photo's one face for enrolment and store it as the member's template."""
    if not member.consent_given:
        raise ConflictError("Record the member's biometric consent before enrolling a face.")
    uploads.check_header(photo, uploads.ENROLMENT)  # pixels from the header, nothing decoded
    embedded = backend.face_service.embed(photo, purpose="enrolment")
    return templates_crud.enrol(
        session=session,
        cipher=backend.cipher,
        face_model=backend.face_model,
        member=member,
        embedding=embedded.embedding,
        model_id=embedded.model_id,
        by=by,
    )
