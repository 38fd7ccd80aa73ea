"""The phone's liveness check, judged on the server from the frames the page sends.

`/api/qr/scan` draws a challenge for each ticket (unless the meeting's liveness policy
is `never`): one or two head moves (`turn_sequence.draw`); the page shows it and takes
a few small timed frames after the selfie, or the person records a selfie video of it.
Here every frame must show the same person as the selfie (SAME_PERSON), the timed
frames must perform the moves as one continuous sequence (`turn_sequence`: no repeats,
no jumps, each move out and back, the right way), and the face's surroundings must
change on each move's peak frame (a turn or a tilt up), whose face must not be a 2-D
remap of the selfie's (`turn_cues`). A photo held up and swung keeps its painted nose
in place and fails; a warped photo is a remap and fails; a replayed video of the person
making the asked moves does not (see the README).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from kiosk.inference import DEFAULT_THRESHOLDS
from server.backend.core.context import Backend
from server.backend.errors import BadRequestError
from server.backend.services import turn_sequence, uploads
from server.backend.services.turn_cues import REMAP_MIN, RING_MIN, change, remap_residual, ring
from server.backend.services.turn_sequence import Move
from server.face_service.schemas import FaceOut

logger = logging.getLogger(__name__)

MAX_FRAMES = 10
FRAME_MAX_BYTES = uploads.TURN_FRAME.max_bytes
# A burst frame must look like the selfie's person at least as much as a review-band match.
SAME_PERSON = DEFAULT_THRESHOLDS.review


def _keypoints(face: FaceOut) -> NDArray[np.float32]:
    return np.asarray(face.keypoints, dtype=np.float32)


def turn_refusal(
    backend: Backend,
    *,
    moves: Sequence[Move],
    selfie: bytes,
    selfie_face: FaceOut,
    selfie_vector: NDArray[np.float32],
    frames: Sequence[bytes],
    times_s: Sequence[float] | None = None,
    from_video: bool = False,
) -> str | None:
    """None when the head made the asked moves; otherwise what to tell the person.

    Every frame must show the selfie's person; the frames with their times must perform
    the challenge as one continuous sequence (`turn_sequence`); on the frame where each
    move (a turn or a tilt up) peaked, the face's surroundings must have changed and
    the face must be no 2-D remap of the selfie's (`turn_cues`).
    """
    asked = said(moves)
    again = (
        f"Record the video again: look at the camera, then {asked}, slowly, and back."
        if from_video
        else f"Tap the button, then {asked}, slowly, and back, while the photos are taken."
    )
    when = list(times_s) if times_s is not None else [0.3 * i for i in range(len(frames) + 1)]
    if len(when) != len(frames) + 1:
        raise BadRequestError("Send one time for the selfie and one for each head-turn frame.")
    sequence = [turn_sequence.frame(when[0], _keypoints(selfie_face), selfie)]
    seen: list[tuple[bytes, FaceOut]] = [(selfie, selfie_face)]
    for index, data in enumerate(frames[:MAX_FRAMES], start=1):
        try:
            embedded = backend.face_service.embed(data, purpose="checkin")
        except BadRequestError:
            continue  # a blurred or half-turned frame says nothing either way
        vector = np.asarray(embedded.embedding, dtype=np.float32)
        if float(np.dot(vector, selfie_vector)) < SAME_PERSON:
            return "Only you may be in the photos. " + again
        sequence.append(turn_sequence.frame(when[index], _keypoints(embedded.face), data))
        seen.append((data, embedded.face))
    refusal, peaks = turn_sequence.judge(moves, sequence)
    if refusal is not None:
        logger.info("head-turn sequence refused: %s", refusal.value)
        if refusal is turn_sequence.Refusal.TOO_SMALL:
            return "We saw your head move, but not far enough. " + again.replace(
                ", slowly", " a little further, slowly"
            )
        return "We could not see your head move as asked. " + again
    unturned = _not_turned(backend, selfie, selfie_face, [seen[i] for i in peaks])
    if unturned:
        logger.info("head-turn sequence refused: %s", unturned)
        return "We could not see your head move as asked. " + again
    return None


def said(moves: Sequence[Move]) -> str:
    """The challenge in words: "turn your head to your left, then tilt it up"."""
    words = {
        Move.LEFT: "turn your head to your left",
        Move.RIGHT: "turn your head to your right",
        Move.UP: "tilt your head up",
    }
    return ", then ".join(words[m] for m in moves)


def _not_turned(
    backend: Backend, selfie: bytes, selfie_face: FaceOut, turned: Sequence[tuple[bytes, FaceOut]]
) -> str:
    """Why a move's peak frame shows no real move against the selfie, or "" when each
    does: its ring changed by RING_MIN or more, and its face is no 2-D remap of the
    selfie's (`turn_cues.remap_residual` of REMAP_MIN or more)."""
    before = backend.decodes.decode(selfie, uploads.SELFIE)
    before_box = [v * before.scale for v in selfie_face.bbox]
    before_ring = ring(before.pixels, before_box)
    for frame, face in turned:
        after = backend.decodes.decode(frame, uploads.TURN_FRAME)
        box = [v * after.scale for v in face.bbox]
        if change(before_ring, ring(after.pixels, box)) < RING_MIN:
            return "the surroundings did not change"
        if remap_residual(before.pixels, before_box, after.pixels, box) < REMAP_MIN:
            return "the turned face is a 2-D remap of the selfie"
    return ""
