"""The phone's head-turn challenge, judged on the server from the burst the page sends.

`/api/qr/scan` draws a direction for each ticket (unless the meeting's liveness policy
is `never`); the page asks the person to turn that way while it takes a few small
frames after the selfie. Here every frame must show the same person as the selfie, and
the nose must move relative to the eyes the asked way (`kiosk.liveness`, shared with the
kiosk). A photo held up and swung keeps its painted nose in place and fails; a replayed
video of the person turning the right way does not (see the README).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from kiosk.events import Direction
from kiosk.inference.matching import DEFAULT_THRESHOLDS
from kiosk.liveness import HeadTurnChallenge, Verdict
from server.backend.context import Backend
from server.backend.errors import BadRequestError
from server.backend.services import uploads
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
    selfie_face: FaceOut,
    selfie_vector: NDArray[np.float32],
    frames: Sequence[bytes],
) -> str | None:
    """None when the head turned the asked way; otherwise what to tell the person."""
    side = direction.value
    again = f"Tap the button, then turn your head slowly to your {side} while the photos are taken."
    challenge = HeadTurnChallenge(direction, started_at=0.0, timeout_s=math.inf)
    sequence = [(0.0, _keypoints(selfie_face))]
    for index, frame in enumerate(frames[:MAX_FRAMES], start=1):
        try:
            embedded = backend.face_service.embed(frame, purpose="checkin")
        except BadRequestError:
            continue  # a blurred or half-turned frame says nothing either way
        vector = np.asarray(embedded.embedding, dtype=np.float32)
        if float(np.dot(vector, selfie_vector)) < SAME_PERSON:
            return "Only you may be in the photos. " + again
        sequence.append((float(index), _keypoints(embedded.face)))
    if challenge.judge(sequence) is Verdict.PASSED:
        return None
    return "We could not see your head turn. " + again
