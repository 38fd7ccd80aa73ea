"""`sonta admin enrol MEMBER PHOTO...`: enrol faces from photos on the server machine.

The member is named by email, member code or id. Each photo goes through the running
face-service (FACE_SERVICE_URL) with the enrolment gates, exactly as the
`/api/members/{id}/templates/photo` endpoint does; photos are read, never copied, and a
phone's full-size photo is scaled down here first, as the upload limits ask.
"""

from __future__ import annotations

import io
import sys
import uuid
from pathlib import Path

import cv2
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.inference import MAX_BYTES, MAX_FULL_DECODE_PIXELS, ImageError, decode_image
from server.backend.core.config import Settings
from server.backend.core.context import Backend, build_backend
from server.backend.crud import audit
from server.backend.crud import members as members_crud
from server.backend.errors import SontaServerError
from server.backend.models import Member
from server.backend.services import enrolment, uploads
from server.backend.tasks.migrate import upgrade_to_head


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def find_member(session: Session, who: str) -> Member | None:
    """The member with this email, member code or id."""
    if "@" in who:
        query = select(Member).where(func.lower(Member.email) == who.strip().lower())
        return session.scalars(query).first()
    try:
        return session.get(Member, uuid.UUID(who))
    except ValueError:
        return members_crud.by_code(session=session, code=who)


def fit_for_enrolment(data: bytes) -> bytes:
    """A phone's full-size photo (e.g. 3061x4600) scaled down here, on the admin's side,
    to what the enrolment upload takes; a photo that fits is sent as it is."""
    limits = uploads.ENROLMENT
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, ValueError):
        return data  # not an image Pillow knows: the face-service says what is wrong
    if max(width, height) <= limits.max_side and width * height <= limits.max_pixels:
        return data
    pixels = decode_image(
        data, max_bytes=MAX_BYTES, max_side=limits.max_side, max_pixels=MAX_FULL_DECODE_PIXELS
    ).pixels  # upright (EXIF applied) and at most max_side on its longest side
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ImageError("The photo could not be scaled down; resize it to 2560 px and retry.")
    return bytes(encoded)


def _explain(exc: SontaServerError) -> str:
    reasons = exc.details.get("reasons") if isinstance(exc.details, dict) else None
    return exc.message + "".join(f"\n    - {r}" for r in reasons or [])


def _enrol_one(backend: Backend, session: Session, member: Member, path: Path) -> bool:
    try:
        data = path.read_bytes()
    except OSError as exc:
        _say(f"{path}: cannot be read ({exc.strerror or exc}).")
        return False
    try:
        data = fit_for_enrolment(data)
    except ImageError as exc:
        _say(f"{path}: not enrolled: {exc}")
        return False
    if len(data) > enrolment.PHOTO_MAX_BYTES:
        _say(f"{path}: larger than 10 MB; use a smaller photo.")
        return False
    try:
        row = enrolment.enrol_photo(backend, session, member=member, photo=data, by=None)
    except SontaServerError as exc:
        session.rollback()
        _say(f"{path}: not enrolled: {_explain(exc)}")
        return False
    audit.record(
        session=session,
        actor=None,
        action="template.enrol",
        target_type="member",
        target_id=member.id,
        details={"template_id": str(row.id), "source": "cli photo"},
    )
    session.commit()
    _say(f"{path}: enrolled for {member.full_name}.")
    return True


def enrol_photos(settings: Settings, *, who: str, photos: list[Path], consent: bool) -> int:
    """Enrol each photo; exit code 0 when every photo was enrolled, 1 otherwise."""
    backend = build_backend(settings)
    try:
        if settings.embedded_database:
            upgrade_to_head(backend.engine)
        with backend.sessions() as session:
            member = find_member(session, who)
            if member is None:
                _say(f"No member has the email, member code or id {who!r}.")
                return 1
            if consent and not member.consent_given:
                members_crud.set_consent(session=session, member=member, given=True, by=None)
                audit.record(
                    session=session,
                    actor=None,
                    action="member.consent_given",
                    target_type="member",
                    target_id=member.id,
                    details={"source": "cli"},
                )
                session.commit()
                _say(f"Recorded biometric consent for {member.full_name}.")
            done = sum(_enrol_one(backend, session, member, p) for p in photos)
    finally:
        backend.close()
    _say(f"{done} of {len(photos)} photo(s) enrolled.")
    return 0 if done == len(photos) else 1
