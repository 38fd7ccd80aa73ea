"""An optional head-turn challenge that tells a real head from a photo held up to the camera.

The person is asked to turn their head slightly left or right (the direction drawn
afresh for every attempt). A real head is three-dimensional: as it turns, the nose tip
moves sideways *relative to the eyes*. A flat photo shows a nose painted between the
eyes, and however the photo is held, swung or tilted, that painted nose stays in the
same place between them. So the challenge measures, over frames, the nose's sideways
offset from the eye midpoint as a fraction of the eye distance (rolled so the eyes are
level) and passes when it moves far enough the asked way.

Measured with the offline pack at the live size on real photos: one person facing the
camera reads +0.02, turned (two other photos of him) -0.14 and +0.16; his frontal
photo perspective-warped as if swung 15-45 degrees either way reads -0.02 to +0.03.
A change of 0.08 (about 9 degrees of real turn) separates the two with room on both
sides.

What it stops: a printed or on-screen photo held still, moved, swung or tilted in front
of the camera, and a replayed clip that turns the other way from the one asked (half of
all attempts with a clip, since the direction is random).
What it does NOT stop: a replayed or live video of the person turning the right way, a
3D mask, or a person who is present but coerced. It is a speed bump against the commonest
trick (holding up someone's photo), not proof of presence; the README says the same.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kiosk.inference import Band


class Direction(enum.Enum):
    """A head turn, in the person's own terms (their left, as they see it)."""

    LEFT = "left"
    RIGHT = "right"


MIN_TURN = 0.08  # change in nose offset / eye distance, about 9 degrees of real turn
HOLD_FRAMES = 2  # the turn must be seen on this many frames in a row (no single glitch)
TIMEOUT_S = 5.0


class LivenessPolicy(enum.Enum):
    """When a meeting asks for the challenge."""

    ALWAYS = "always"
    REVIEW_ONLY = "review_only"  # only when the face match falls in the review band
    NEVER = "never"

    def required_for(self, band: Band) -> bool:
        if self is LivenessPolicy.ALWAYS:
            return band is not Band.REJECT
        return self is LivenessPolicy.REVIEW_ONLY and band is Band.REVIEW


def nose_offset(keypoints: NDArray[np.float32]) -> float:
    """Sideways nose offset from the eye midpoint over the eye distance, eyes levelled.

    Positive when the nose is towards the image's right, i.e. the person has turned to
    their own left (the camera sees them face to face, unmirrored).
    """
    left_eye, right_eye, nose = (keypoints[i].astype(np.float64) for i in range(3))
    dx, dy = right_eye - left_eye
    distance = math.hypot(dx, dy)
    if distance < 1e-6:
        return 0.0
    cos, sin = dx / distance, dy / distance
    offset = nose - (left_eye + right_eye) / 2
    return float((cos * offset[0] + sin * offset[1]) / distance)


class Verdict(enum.Enum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


@dataclass
class HeadTurnChallenge:
    """One attempt: the first observed frame is the baseline, later frames must turn."""

    direction: Direction
    started_at: float
    min_turn: float = MIN_TURN
    timeout_s: float = TIMEOUT_S
    baseline: float | None = None
    reason: str = ""
    _held: int = field(default=0, repr=False)

    @classmethod
    def start(cls, now: float, rng: random.Random | None = None) -> HeadTurnChallenge:
        """A challenge in a direction drawn for this attempt."""
        return cls((rng or random.SystemRandom()).choice(list(Direction)), now)

    def observe(self, keypoints: NDArray[np.float32], now: float) -> Verdict:
        """Feed one frame's keypoints of the challenged face; the verdict so far."""
        offset = nose_offset(keypoints)
        if self.baseline is None:
            self.baseline = offset
            return Verdict.PENDING
        turn = offset - self.baseline
        wanted = turn if self.direction is Direction.LEFT else -turn
        if wanted <= -self.min_turn:
            self.reason = "The head turned the other way. Please try again."
            return Verdict.FAILED
        self._held = self._held + 1 if wanted >= self.min_turn else 0
        if self._held >= HOLD_FRAMES:
            return Verdict.PASSED
        if now - self.started_at > self.timeout_s:
            self.reason = "No head turn was seen. Please try again, or see a staff member."
            return Verdict.FAILED
        return Verdict.PENDING

    def judge(self, sequence: list[tuple[float, NDArray[np.float32]]]) -> Verdict:
        """Run a whole (time, keypoints) sequence; the first decided verdict."""
        verdict = Verdict.PENDING
        for now, keypoints in sequence:
            verdict = self.observe(keypoints, now)
            if verdict is not Verdict.PENDING:
                break
        return verdict
