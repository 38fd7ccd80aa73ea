"""The phone's liveness model: a random challenge of head moves, judged as a sequence.

A ticket carries a challenge drawn by the server (`draw`): one move (left or right),
or two in a row, one of them left or right and the other the opposite turn or "up".
The page shows it before the frames are taken (live camera) or before the person
records (selfie video); the person cannot choose it, so a clip prepared beforehand
matches it only by luck.

Each frame's pose is read from the detector's five keypoints relative to the selfie's:
- yaw: the nose's sideways offset from the eye midpoint over the eye distance
  (`kiosk.protocol.liveness.nose_offset`; MIN_TURN, 0.06, is about 10 degrees);
- pitch: the nose's drop below the eye line over the eyes-to-mouth drop; a head
  tilted up raises the nose tip towards the eyes (measured: 0.61 facing the camera,
  0.37 on a photo of the same man with his chin up).

The frames, with their times, must then read as one continuous performance of the
challenge (`judge`): times strictly increasing and at most MAX_SPAN_S in all; no
frame a repeat of the one before (the same still sent again); no jump between two
frames (more than MAX_STEP of yaw, or faster than MAX_SPEED per second, or more than
MAX_PITCH_STEP of pitch); and for each move in order, progress the asked way to at
least its threshold, then a return towards the selfie's pose (to half the peak or
less); a turn the other way before that fails (past the centre on the way back is an
overshoot). A move the right way but short of the threshold is told so (TOO_SMALL).

Foreshortening was measured and is NOT used: with a real yaw the far eye and mouth
corner move in (the eye distance over the eyes-to-mouth drop fell to 0.81-0.90 on
photos turned 0.13 of an eye distance), but SCRFD regresses its keypoints from the
whole face's look, and one photo warped at the nose reads the same (0.80-0.94 at the
same nose offset, every width 0.3-0.9), so no threshold on these five points tells
them apart (`bench/bench_turn_cues.py` prints both). What refuses a warped photo here
is the sequence: one warped frame repeated, or a jump from the selfie to it. A script
that renders a smooth ramp of warps for the asked moves, with plausible times, is not
refused by this model; that needs a cue beyond five keypoints.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from kiosk.protocol.liveness import nose_offset

# How far each move must go, in nose offset / eye distance (yaw) or its fall in nose
# drop / eyes-to-mouth drop (up, 0.24 measured, see above). Measured in
# `bench/bench_turn_cues.py`: the kiosk's 0.08 refused 2 of 17 genuine photo turns as
# the page sends them (0.048 and 0.066) and 23 of 72 rendered turns of 10-25 degrees
# (17 of 18 at 10 degrees, 6 of 18 at 15); 0.06 refuses 11 of 72 (10 and 1), while a
# face held still reads within 0.04 of itself. What refuses a warped photo is not this threshold but
# the remap cue (`turn_cues`).
MIN_TURN = 0.06
MIN_UP = 0.06
WOBBLE = 0.04  # pose jitter tolerated against the direction of travel (keypoint noise)
MAX_STEP = 0.25  # yaw change allowed between two frames: more is a jump
MAX_SPEED = 1.2  # yaw change per second (0.3 in a quarter second is a fast turn)
# Pitch reads noisier (photos of one person facing the camera span 0.4-0.7), so its
# jump is wider; both are in the same units since MIN_UP equals MIN_TURN.
MAX_PITCH_STEP = 0.5
MIN_GAP_S = 0.02  # frames closer than this are not from one camera
MAX_SPAN_S = 10.0
DOUBLE_ONE_IN = 3  # one challenge in three asks two moves


class Move(enum.Enum):
    """A head move, the person's own left or right, or up."""

    LEFT = "left"
    RIGHT = "right"
    UP = "up"


YAWS = (Move.LEFT, Move.RIGHT)
OPPOSITE = {Move.LEFT: Move.RIGHT, Move.RIGHT: Move.LEFT}


def draw() -> tuple[Move, ...]:
    """A challenge for one ticket: a turn, or (one in DOUBLE_ONE_IN) a turn and another
    move in a random order; every challenge has a left or right turn in it."""
    turn = secrets.choice(YAWS)
    if secrets.randbelow(DOUBLE_ONE_IN):
        return (turn,)
    other = secrets.choice((OPPOSITE[turn], Move.UP))
    return (turn, other) if secrets.randbelow(2) else (other, turn)


def encode(moves: Sequence[Move]) -> str:
    return ",".join(m.value for m in moves)


def decode(text: str) -> tuple[Move, ...]:
    return tuple(Move(part) for part in text.split(",") if part)


@dataclass(frozen=True)
class Pose:
    yaw: float
    pitch: float


def pose(keypoints: NDArray[np.float32]) -> Pose:
    """Yaw and pitch cues of one face from its five keypoints (see the module docstring)."""
    points = np.asarray(keypoints, dtype=np.float64)
    left_eye, right_eye, _nose, left_mouth, right_mouth = points[:5]
    dx, dy = right_eye - left_eye
    distance = math.hypot(dx, dy) or 1e-6
    cos, sin = dx / distance, dy / distance
    eyes = (left_eye + right_eye) / 2

    def drop(point: NDArray[np.float64]) -> float:
        return float(-sin * (point[0] - eyes[0]) + cos * (point[1] - eyes[1]))

    mouth_drop = drop((left_mouth + right_mouth) / 2)
    pitch = drop(points[2]) / mouth_drop if mouth_drop > 1e-6 else 0.0
    return Pose(nose_offset(keypoints), pitch)


@dataclass(frozen=True)
class Frame:
    """One frame of the sequence: when it was taken (seconds), its pose, its bytes' digest."""

    time_s: float
    pose: Pose
    digest: str


def frame(time_s: float, keypoints: NDArray[np.float32], data: bytes) -> Frame:
    return Frame(time_s, pose(keypoints), hashlib.sha256(data).hexdigest())


def _progress(move: Move, base: Pose, now: Pose) -> float:
    """How far `now` has gone the way `move` asks, from `base` (negative: the other way)."""
    if move is Move.UP:
        return (base.pitch - now.pitch) / MIN_UP * MIN_TURN
    turned = now.yaw - base.yaw  # positive: the person's own left (see nose_offset)
    return turned if move is Move.LEFT else -turned


class Refusal(enum.Enum):
    """Why a sequence was refused (for the log and the tests; the person hears advice)."""

    TIMES = "times out of order or too far apart"
    REPEATED = "the same still sent again"
    JUMP = "a jump between frames"
    WRONG_WAY = "the head turned the other way"
    NOT_SEEN = "a move was not seen, or not back"
    TOO_SMALL = "a move the asked way, but not far enough"


def _continuity(frames: Sequence[Frame]) -> Refusal | None:
    if frames[-1].time_s - frames[0].time_s > MAX_SPAN_S:
        return Refusal.TIMES
    for before, after in itertools.pairwise(frames):
        gap = after.time_s - before.time_s
        if gap < MIN_GAP_S:
            return Refusal.TIMES
        if after.digest == before.digest or after.pose == before.pose:
            return Refusal.REPEATED
        step = abs(after.pose.yaw - before.pose.yaw)
        if step > MAX_STEP or step / gap > MAX_SPEED:
            return Refusal.JUMP
        if abs(after.pose.pitch - before.pose.pitch) > MAX_PITCH_STEP:
            return Refusal.JUMP
    return None


def judge(
    moves: Sequence[Move], frames: Sequence[Frame], *, threshold: float = MIN_TURN
) -> tuple[Refusal | None, list[int]]:
    """Judge frames (the selfie first) against the challenge: (None, the index of each
    move's peak frame) when it was performed, else (why not, []). A move that went the
    asked way beyond the keypoints' jitter but short of `threshold` is TOO_SMALL, so the
    person can be told to turn further."""
    if len(frames) < 3:
        return Refusal.NOT_SEEN, []
    broken = _continuity(frames)
    if broken is not None:
        return broken, []
    base, peaks, index = frames[0].pose, [], 1
    for move in moves:
        peak, peak_at, returning, low = -math.inf, -1, False, math.inf
        while index < len(frames):
            now = _progress(move, base, frames[index].pose)
            if not returning:
                if now > peak:
                    peak, peak_at = now, index
                elif peak >= threshold and now < peak - WOBBLE:
                    returning = True
            # Past the centre on the way back is an overshoot, not a turn the other way.
            if not returning and move is not Move.UP and now <= -threshold:
                return Refusal.WRONG_WAY, []
            if returning:
                if now > low + WOBBLE:
                    return Refusal.NOT_SEEN, []  # turned again before coming back
                low = min(low, now)
                if now <= peak / 2:
                    break
            index += 1
        if index >= len(frames):
            short = WOBBLE < peak < threshold
            return (Refusal.TOO_SMALL if short else Refusal.NOT_SEEN), []
        peaks.append(peak_at)
    return None, peaks
