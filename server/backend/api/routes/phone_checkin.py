"""Phone self check-in (`/api/checkin/phone`): public, authorised by a scanned QR ticket.

The phone first scans the meeting code at `/api/qr/scan` for a ticket, then posts the
ticket, who it is and a selfie here. The answer tells the person what happened in
words they can act on; the face-service being down is a 503 that says so.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile, status

from server.backend.api.deps import BackendDep, ClientIp, SessionDep
from server.backend.errors import BadRequestError
from server.backend.schemas.resources import Message, PhoneCheckinResult
from server.backend.services import phone_checkin, phone_liveness, phone_video
from server.backend.services.phone_checkin import PhoneAttempt, PhoneResult, Position

router = APIRouter(prefix="/checkin", tags=["phone check-in"])
ANSWERS: dict[int | str, dict[str, Any]] = {
    code: {"model": Message} for code in (404, 409, 413, 422, 429, 503)
}


def _position(
    latitude: float | None, longitude: float | None, accuracy_m: float | None
) -> Position | None:
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        raise BadRequestError("Send both latitude and longitude, or neither.")
    return Position(latitude, longitude, accuracy_m)


NOT_RECOGNISED = "We could not check you in with this photo."
TRY_AGAIN = " Face the camera in good light and try again."
SCAN_AGAIN = " Scan the meeting code again, or see an admin."


def _frames(files: list[UploadFile]) -> tuple[bytes, ...]:
    if len(files) > phone_liveness.MAX_FRAMES:
        raise BadRequestError(f"Send at most {phone_liveness.MAX_FRAMES} head-turn frames.")
    frames = tuple(f.file.read(phone_liveness.FRAME_MAX_BYTES + 1) for f in files)
    if any(len(frame) > phone_liveness.FRAME_MAX_BYTES for frame in frames):
        raise BadRequestError("A head-turn frame is too large; send small JPEGs (under 512 KiB).")
    return frames


def _times(text: str | None, frames: int) -> tuple[float, ...] | None:
    """The frames' times from "0,310,620" (milliseconds, the selfie's first), as seconds."""
    if not text:
        return None
    try:
        times_ms = [int(part) for part in text.split(",")]
    except ValueError:
        raise BadRequestError(
            "turn_ms must be whole milliseconds separated by commas, e.g. 0,300,600."
        ) from None
    if len(times_ms) != frames + 1:
        raise BadRequestError(
            f"turn_ms has {len(times_ms)} times; send one for the selfie and one for each "
            f"of the {frames} head-turn frames."
        )
    return tuple(ms / 1000 for ms in times_ms)


def times(count: int) -> str:
    """ "once", "twice", "3 times": a count as a person says it."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _answer(result: PhoneResult) -> PhoneCheckinResult:
    """Words for the person; never a similarity, never who is or is not enrolled."""
    if result.outcome is None:
        advice = TRY_AGAIN if result.tries_left else SCAN_AGAIN
        return PhoneCheckinResult(
            result="not_recognised",
            message=result.refusal or NOT_RECOGNISED + advice,
            tries_left=result.tries_left,
        )
    record, name = result.outcome.record, result.full_name
    if result.outcome.result == "already_checked_in":
        message = f"{name}, you are already checked in to this meeting."
    elif record.status == "pending_review":
        message = f"Thank you, {name}; an admin will confirm your check-in shortly."
    else:
        message = f"{name}, you are checked in" + (" (late)." if record.late else ".")
    if result.earlier_refusals:
        message += (
            f" Someone tried to check in as you {times(result.earlier_refusals)} before "
            "and was refused; the admins can see it."
        )
    return PhoneCheckinResult(
        result=result.outcome.result,
        message=message,
        status=record.status,  # type: ignore[arg-type]  # a stored, checked status
        late=record.late,
        full_name=name,
        checked_in_at=record.server_time,
        location_flag=record.location_flag,
        tries_left=result.tries_left,
    )


@router.post("/phone", responses=ANSWERS)
async def phone_check_in(
    *,
    backend: BackendDep,
    session: SessionDep,
    response: Response,
    client_ip: ClientIp,
    ticket: Annotated[str, Form(min_length=1, max_length=200)],
    selfie: Annotated[
        UploadFile | None, File(description="a JPEG, PNG or WebP photo of one face")
    ] = None,
    video: Annotated[
        UploadFile | None,
        File(
            description="instead of a selfie: a short selfie clip (MP4, MOV or WebM) "
            "turning as asked"
        ),
    ] = None,
    turn: Annotated[
        list[UploadFile] | None,
        File(description="the head-turn burst taken after the selfie, when the ticket asks"),
    ] = None,
    member_id: Annotated[uuid.UUID | None, Form()] = None,
    email: Annotated[str | None, Form(max_length=320, pattern=r"^[^\x00]*$")] = None,
    member_code: Annotated[str | None, Form(max_length=20, pattern=r"^[^\x00]*$")] = None,
    latitude: Annotated[float | None, Form(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Form(ge=-180, le=180)] = None,
    accuracy_m: Annotated[float | None, Form(ge=0, le=100_000)] = None,
    device: Annotated[
        str | None,
        Form(max_length=64, pattern=r"^[A-Za-z0-9_-]*$", description="the page's random id"),
    ] = None,
    turn_ms: Annotated[
        str | None,
        Form(
            max_length=200,
            pattern=r"^[0-9,]*$",
            description="when the selfie and each head-turn frame were taken, in "
            "milliseconds, comma-separated (0,300,600...)",
        ),
    ] = None,
) -> PhoneCheckinResult:
    """Check in with a selfie (or a selfie video); 201 when a check-in was stored, else 200.

    The attempt runs on the face lane (`lanes`): however long the face-service takes,
    it holds none of the threads other routes need, and a full lane answers 503 with
    Retry-After at once.
    """
    if (selfie is None) == (video is None):
        raise BadRequestError("Send a selfie photo or a selfie video (one of them).")
    with _video_file(video) as clip:
        attempt = PhoneAttempt(
            ticket=ticket,
            selfie=await selfie.read(phone_checkin.SELFIE_MAX_BYTES + 1) if selfie else b"",
            member_id=member_id,
            email=email,
            member_code=member_code,
            position=_position(latitude, longitude, accuracy_m),
            client_ip=client_ip,
            turn=_frames(turn or []),
            times_s=_times(turn_ms, len(turn or [])),
            device=device or "",
            video=await _copy(video, clip) if video and clip else None,
        )
        result = await backend.lanes.faces.run(phone_checkin.check_in, backend, session, attempt)
    if result.outcome is not None and result.outcome.result == "recorded":
        response.status_code = status.HTTP_201_CREATED
    return _answer(result)


@contextmanager
def _video_file(video: UploadFile | None) -> Iterator[Path | None]:
    """A private temporary file for the clip, deleted whatever happens (no video is kept)."""
    if video is None:
        yield None
        return
    handle, name = tempfile.mkstemp(prefix="sonta-clip-", suffix=".video")
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


async def _copy(video: UploadFile, clip: Path) -> Path:
    """The upload written to `clip`, its size and first bytes checked before anything."""
    head = await video.read(64 * 1024)
    rest = await video.read(phone_video.MAX_BYTES + 1 - len(head))
    phone_video.check_container(head, len(head) + len(rest))
    clip.write_bytes(head + rest)
    return clip
