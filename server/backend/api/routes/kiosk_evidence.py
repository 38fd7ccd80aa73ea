"""Evidence for a kiosk check-in in the review band (`/api/kiosk/checkins/{key}/evidence`).

The kiosk uploads its check-ins first (that is what must never be lost), then, for
an item the server answered `pending_review`, the aligned face as a small JPEG named
by the item's idempotency key. Sending it again replaces it, so an outbox may retry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, UploadFile

from server.backend.api.deps import BackendDep, SessionDep
from server.backend.api.kiosk_deps import CurrentKiosk
from server.backend.errors import ConflictError, NotFoundError
from server.backend.models import AttendanceRecord, KioskCheckin
from server.backend.schemas.resources import Message
from server.backend.services import evidence

router = APIRouter(prefix="/kiosk", tags=["kiosk"])
ANSWERS: dict[int | str, dict[str, Any]] = {
    code: {"model": Message} for code in (401, 404, 409, 422)
}


@router.put("/checkins/{key}/evidence", responses=ANSWERS)
def put_evidence(
    key: Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[!-~]+$")],
    image: Annotated[UploadFile, File(description="the aligned face, a JPEG of a few KiB")],
    *,
    backend: BackendDep,
    session: SessionDep,
    kiosk: CurrentKiosk,
) -> Message:
    """Attach the evidence crop to this kiosk's check-in awaiting review."""
    jpeg = image.file.read(evidence.MAX_EVIDENCE_BYTES + 1)
    checkin = session.get(KioskCheckin, (kiosk.id, key))
    if checkin is None:
        raise NotFoundError("This kiosk sent no check-in with this key; upload it first.")
    record = session.get(AttendanceRecord, checkin.record_id) if checkin.record_id else None
    if record is None or record.status != "pending_review":
        raise ConflictError("Only a check-in awaiting review keeps an evidence image.")
    evidence.attach(evidence.EvidenceCipher.from_settings(backend.settings), record, jpeg)
    session.commit()
    return Message(detail="Evidence image stored until the check-in is reviewed.")
