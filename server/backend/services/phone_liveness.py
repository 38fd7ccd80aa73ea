"""The phone's head-turn challenge, judged on the server from the burst the page sends.

`/api/qr/scan` draws a direction for each ticket (unless the meeting's liveness policy
is `never`); the page asks the person to turn that way while it takes a few small
frames after the selfie. Here every frame must show the same person as the selfie, and
the nose must move relative to the eyes the asked way (`kiosk.protocol.liveness`, shared with the
kiosk), and the face's surroundings must change on the frames that turned
(`turn_cues`): one photo warped around the nose moves the nose alone. A photo held up
and swung keeps its painted nose in place and fails; a replayed video of the person
turning the right way does not (see the README).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from kiosk.inference import DEFAULT_THRESHOLDS
from kiosk.protocol.liveness import MIN_TURN, Direction, HeadTurnChallenge, Verdict, nose_offset
from server.backend.core.context import Backend
from server.backend.errors import BadRequestError
from server.backend.services import uploads
from server.backend.services.turn_cues import RING_MIN, Ring, change, ring
from server.face_service.schemas import FaceOut

MAX_FRAMES = 10
FRAME_MAX_BYTES = uploads.TURN_FRAME.max_bytes
# A burst frame must look like the selfie's person at least as much as a review-band match.
SAME_PERSON = DEFAULT_THRESHOLDS.review


def _keypoints(face: FaceOut) -> NDArray[np.float32]:
    return np.asarray(face.keypoints, dtype=np.float32)


def turn_refusal(
    backend: Backend,
    *,
    direction: Direction,
    selfie: bytes,
    selfie_face: FaceOut,
    selfie_vector: NDArray[np.float32],
    frames: Sequence[bytes],
    from_video: bool = False,
) -> str | None:
    """None when the head turned the asked way; otherwise what to tell the person.

    Two cues must agree: the nose moved against the eyes the asked way, and on the
    frames where it did, the face's surroundings changed too (`turn_cues`).
    """
    side = direction.value
    again = (
        f"Record the video again: look at the camera, then turn your head slowly to your "
        f"{side}, and back."
        if from_video
        else f"Tap the button, then turn your head slowly to your {side} while the photos "
        "are taken."
    )
    challenge = HeadTurnChallenge(direction, started_at=0.0, timeout_s=math.inf)
    sequence = [(0.0, _keypoints(selfie_face))]
    seen: list[tuple[bytes, FaceOut]] = []
    for index, frame in enumerate(frames[:MAX_FRAMES], start=1):
        try:
            embedded = backend.face_service.embed(frame, purpose="checkin")
        except BadRequestError:
            continue  # a blurred or half-turned frame says nothing either way
        vector = np.asarray(embedded.embedding, dtype=np.float32)
        if float(np.dot(vector, selfie_vector)) < SAME_PERSON:
            return "Only you may be in the photos. " + again
        sequence.append((float(index), _keypoints(embedded.face)))
        seen.append((frame, embedded.face))
    if challenge.judge(sequence) is not Verdict.PASSED:
        return "We could not see your head turn. " + again
    turned = [(f, face) for f, face in seen if _turned(direction, selfie_face, face)]
    if not _surroundings_changed(backend, selfie, selfie_face, turned):
        return "We could not see your head turn. " + again
    return None


def _turned(direction: Direction, selfie_face: FaceOut, face: FaceOut) -> bool:
    moved = nose_offset(_keypoints(face)) - nose_offset(_keypoints(selfie_face))
    return (moved if direction is Direction.LEFT else -moved) >= MIN_TURN


def _ring(backend: Backend, data: bytes, face: FaceOut, limits: uploads.UploadLimits) -> Ring:
    decoded = backend.decodes.decode(data, limits)
    return ring(decoded.pixels, [v * decoded.scale for v in face.bbox])


def _surroundings_changed(
    backend: Backend, selfie: bytes, selfie_face: FaceOut, turned: Sequence[tuple[bytes, FaceOut]]
) -> bool:
    """Whether any turned frame's ring differs from the selfie's by RING_MIN or more."""
    before = _ring(backend, selfie, selfie_face, uploads.SELFIE)
    return any(
        change(before, _ring(backend, frame, face, uploads.TURN_FRAME)) >= RING_MIN
        for frame, face in turned
    )
