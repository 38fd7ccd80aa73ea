"""Genuine head-turn sequences from real photos, and the warped-photo attacks on them.

A genuine sequence is made of *different photos of one person* (tests/data/calibration),
ordered by the yaw the detector measures on each (the nose's offset from the eye
midpoint): the most frontal photo is the selfie, then photos turned further and further
one way, then back to a frontal one. Each is framed as a phone would see it: the face at
the same size and place in a 640x480 frame (the person holds the phone still), with a
little of the camera's noise. Mirrored, a turn to the person's own right becomes a turn
to their left (the mirror image of a real pose is a real pose).

The limit of this evidence: the frames are photos taken at other times, in other light
and places, not one continuous turn; the steps between them are what photos of the
person happen to give, and what changes around the face is their different
backgrounds. They show that real 3-D head poses of real people pass, not how often a
person turning in front of their phone is refused.

The attacks are issue 24's: the selfie warped around the nose tip (a Gaussian push,
`sigma` eye distances wide), sent as the frames: one warped frame repeated, or a ramp
of warps out and back in small timed steps with fresh noise on each frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from kiosk.protocol.liveness import nose_offset
from tests.utils import head_render

Image = NDArray[np.uint8]
Points = NDArray[np.float32]
# Finds the largest face's five keypoints in an image, or None.
Detect = Callable[[Image], Points | None]
EYE_PX = 96  # eye distance in a 640x480 selfie with the face filling the page's oval
STEP_S = 0.3  # the page's interval between frames


@dataclass(frozen=True)
class Turn:
    """A selfie and the frames after it, with each one's time (the selfie's first)."""

    selfie: Image
    frames: list[Image]
    times_s: list[float]


def noisy(image: Image, seed: int) -> Image:
    """A camera's noise: no two frames of a real camera are the same pixels."""
    noise = np.random.default_rng(seed).normal(0, 2.0, image.shape)
    return np.asarray(np.clip(image.astype(np.float32) + noise, 0, 255), np.uint8)


def handheld(image: Image, seed: int) -> Image:
    """A frame from a phone held in the hand: shifted a pixel or three, with noise (video
    codecs smooth noise away, so a still scene alone can decode to identical frames)."""
    rng = np.random.default_rng(seed)
    dx, dy = rng.uniform(-3, 3, 2)
    matrix = np.asarray([[1, 0, dx], [0, 1, dy]], np.float32)
    shifted = cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    return noisy(np.asarray(shifted, np.uint8), seed)


def face_framed(photo: Image, points: Points, seed: int) -> Image:
    """The photo moved and scaled so its face has EYE_PX between the eyes at a fixed
    place of a 640x480 frame (a phone held still), with noise."""
    eyes = (points[0] + points[1]) / 2
    scale = EYE_PX / max(1.0, float(np.hypot(*(points[1] - points[0]))))
    matrix = np.asarray(
        [[scale, 0, 320 - eyes[0] * scale], [0, scale, 210 - eyes[1] * scale]], np.float32
    )
    framed = cv2.warpAffine(photo, matrix, (640, 480), borderMode=cv2.BORDER_REPLICATE)
    return noisy(np.asarray(framed, np.uint8), seed)


def mirrored(image: Image) -> Image:
    return np.ascontiguousarray(image[:, ::-1])


def genuine(
    photos: Sequence[Image], detect: Detect, *, left: bool, mirror: bool = False
) -> Turn | None:
    """A turn to the person's own left (or right) and back, from real photos of one
    person (see the module docstring), mirrored if asked; None when the photos hold no
    turn that way."""
    found = [(p, detect(p)) for p in (map(mirrored, photos) if mirror else photos)]
    sign = 1.0 if left else -1.0  # the nose offset grows towards the person's own left
    posed = sorted(
        ((sign * nose_offset(k), p, k) for p, k in found if k is not None), key=lambda t: t[0]
    )
    if len(posed) < 3:
        return None
    start = min(range(len(posed)), key=lambda i: abs(posed[i][0]))
    out = posed[start + 1 :]
    if not out or out[-1][0] - posed[start][0] < 0.08:
        return None
    # Back: another photo as frontal as the selfie's (within 0.04), else the selfie's own
    # photo again (framed afresh: another frame of the same pose).
    others = [t for t in posed[:start] if abs(t[0] - posed[start][0]) <= 0.04]
    back = others[-1] if others else posed[start]
    chosen = [posed[start], *out, back]
    images = [face_framed(p, k, seed) for seed, (_, p, k) in enumerate(chosen)]
    return Turn(images[0], images[1:], [STEP_S * i for i in range(len(images))])


def nose_warped(
    image: Image, points: Points, sigma: float, amount: float, *, up: bool = False
) -> Image:
    """The photo with the region around the nose tip pushed sideways (or, `up`, up the
    image): a Gaussian displacement of `amount` eye distances, `sigma` eye distances wide."""
    eye_distance = float(np.hypot(*(points[1] - points[0])))
    nose_x, nose_y = points[2]
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
    spread = 2 * (sigma * eye_distance) ** 2
    weight = np.exp(-((cols - nose_x) ** 2 + (rows - nose_y) ** 2) / spread)
    shift = (amount * eye_distance * weight).astype(np.float32)
    map_x, map_y = (cols, rows + shift) if up else (cols - shift, rows)
    return np.asarray(cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, cv2.BORDER_REFLECT))


def warp_attacks(
    selfie: Image, points: Points, sigma: float, push: float, *, up: bool = False
) -> dict[str, Turn]:
    """Issue 24's attack on `selfie` with a final push of `push` eye distances (signed:
    positive turns the nose towards the image's right, the person's own left; with
    `up`, positive raises the nose, as a chin tilted up does)."""
    peak = nose_warped(selfie, points, sigma, push, up=up)
    still = Turn(selfie, [noisy(peak, 0)] * 4, [STEP_S * i for i in range(5)])
    steps = [0.25, 0.5, 0.75, 1.0, 1.0, 0.6, 0.3, 0.0]
    ramp = [
        noisy(nose_warped(selfie, points, sigma, push * s, up=up), i) for i, s in enumerate(steps)
    ]
    times = [STEP_S * i for i in range(len(ramp) + 1)]
    return {"one frame repeated": still, "ramp out and back": Turn(selfie, ramp, times)}


# A person asked to move: out over about a second, a moment at the furthest, back.
PROFILE = (0.3, 0.65, 0.9, 1.0, 0.9, 0.6, 0.3, 0.05)


def rendered(
    photo: Image, detect: Detect, *, yaw_deg: float = 0.0, pitch_deg: float = 0.0, seed: int = 0
) -> Turn | None:
    """One continuous move rendered in 3-D from `photo` (`head_render.turned`): framed
    as a phone held in the hand sees it, out to `yaw_deg` (positive: the person's own
    left) or `pitch_deg` (chin up) along PROFILE and back, one frame every STEP_S, each
    shaken a little and with fresh noise. None when no face is found."""
    points = detect(photo)
    if points is None:
        return None
    framed = face_framed(photo, points, seed)
    points = detect(framed)
    if points is None:
        return None
    images = [handheld(framed, seed * 100)]
    for i, share in enumerate(PROFILE, start=1):
        pose = head_render.turned(framed, points, yaw_deg * share, pitch_deg * share)
        images.append(handheld(pose, seed * 100 + i))
    return Turn(images[0], images[1:], [STEP_S * i for i in range(len(images))])
