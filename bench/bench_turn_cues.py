"""The phone head-turn check's two cues on genuine turns and on one warped photo: how
often each is refused, side by side in one run.

Genuine turns are rendered from the test photos of one man: his frontal photo as the
selfie (obama.jpg, or obama3.jpg), then a turned photo (obama2.jpg turned to his right,
mirrored to his left), each at three zooms and three sideways shifts in the frame (the
phone moving), as the page sends them (400 px JPEG burst frames, 640 px selfie). The
attack is the selfie warped around the nose tip (a Gaussian push, sigma 0.3-0.9 eye
distances, growing until the nose cue alone passes), as in issue 24.

For each: the nose cue alone (kiosk.protocol.liveness, the 0.08 threshold) and both cues
(`server/backend/services/turn_cues.py`). The limit of this evidence: the genuine
turns are other photos of the same man (other light, background and framing), so the
ring around the face changes more than it would for a person turning in front of a
plain wall with the phone held still; two real head poses, not a measured population.

    .venv/bin/python bench/bench_turn_cues.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.inference.engine import FaceEngine  # noqa: E402
from kiosk.inference.images import read_image_file  # noqa: E402
from kiosk.inference.packs import resolve_pack  # noqa: E402
from kiosk.inference.sessions import ThreadSettings  # noqa: E402
from kiosk.protocol.liveness import MIN_TURN, nose_offset  # noqa: E402
from server.backend.services.turn_cues import RING_MIN, change, ring  # noqa: E402

FACES = ROOT / "tests/data/faces"
Image = NDArray[np.uint8]


def framed(photo: Image, zoom: float, shift: float) -> Image:
    """The photo in a 640x480 frame at `zoom`, shifted sideways by `shift` of the width."""
    scale = zoom * min(640 / photo.shape[1], 480 / photo.shape[0])
    matrix = np.asarray(
        [
            [scale, 0, 320 - photo.shape[1] * scale / 2 + shift * 640],
            [0, scale, 240 - photo.shape[0] * scale / 2],
        ],
        dtype=np.float32,
    )
    return np.asarray(cv2.warpAffine(photo, matrix, (640, 480), borderValue=(110, 110, 110)))


def as_sent(image: Image, side: int) -> Image:
    """Resized to `side` and through a JPEG, as the page sends it."""
    factor = side / max(image.shape[:2])
    small = cv2.resize(image, (round(image.shape[1] * factor), round(image.shape[0] * factor)))
    data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])[1]
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR))


def warped(image: Image, points: NDArray[np.float32], sigma: float, amount: float) -> Image:
    eye_distance = float(np.hypot(*(points[1] - points[0])))
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
    spread = 2 * (sigma * eye_distance) ** 2
    weight = np.exp(-((cols - points[2][0]) ** 2 + (rows - points[2][1]) ** 2) / spread)
    map_x = (cols - amount * eye_distance * weight).astype(np.float32)
    return np.asarray(cv2.remap(image, map_x, rows, cv2.INTER_LINEAR))


class Judge:
    def __init__(self) -> None:
        pack = resolve_pack("vectron", cache_dir=Path("/nonexistent-cache"))
        self.engine = FaceEngine.load(pack, ThreadSettings(intra_op_threads=1))

    def face(self, image: Image) -> tuple[NDArray[np.float32], list[float]] | None:
        found = self.engine.detect(image, det_size=640)
        if not found:
            return None
        best = max(found, key=lambda f: f.inter_eye_distance)
        return np.asarray(best.keypoints, np.float32), [float(v) for v in best.bbox]

    def cues(self, selfie: Image, frame: Image, sign: float) -> tuple[bool, bool]:
        """(nose cue passes, both cues pass) for a selfie and one turned frame."""
        first, second = self.face(selfie), self.face(frame)
        if first is None or second is None:
            return False, False
        moved = sign * (nose_offset(second[0]) - nose_offset(first[0]))
        nose = moved >= MIN_TURN
        ring_change = change(ring(selfie, first[1]), ring(frame, second[1]))
        return nose, nose and ring_change >= RING_MIN


def main() -> int:
    judge = Judge()
    photo = {n: read_image_file(FACES / f"{n}.jpg").pixels for n in ("obama", "obama2", "obama3")}
    turned = {-1.0: photo["obama2"], 1.0: np.ascontiguousarray(photo["obama2"][:, ::-1])}
    genuine: list[tuple[bool, bool]] = []
    for front in ("obama", "obama3"):
        for zoom in (0.8, 1.0, 1.2):
            for shift in (-0.08, 0.0, 0.08):
                selfie = as_sent(framed(photo[front], zoom, 0.0), 640)
                for sign, pose in turned.items():
                    frame = as_sent(framed(pose, zoom, shift), 400)
                    genuine.append(judge.cues(selfie, frame, sign))
    attacks: list[tuple[float, bool]] = []
    selfie = as_sent(framed(photo["obama"], 1.0, 0.0), 640)
    found = judge.face(selfie)
    assert found is not None
    for sigma in (0.3, 0.45, 0.6, 0.75, 0.9):
        for sign in (-1.0, 1.0):
            for amount in (0.4, 0.6, 0.8, 1.0, 1.3, 1.6):
                frame = as_sent(warped(selfie, found[0], sigma, sign * amount), 400)
                nose, both = judge.cues(selfie, frame, sign)
                if nose:
                    attacks.append((sigma, both))
                    break
    refused_nose = sum(not n for n, _ in genuine)
    refused_both = sum(not b for _, b in genuine)
    print(f"genuine turns: {len(genuine)} (2 selfies x 3 zooms x 3 shifts x 2 directions)")
    print(
        f"  refused by the nose cue alone   {refused_nose:3d}  ({refused_nose / len(genuine):.0%})"
    )
    print(
        f"  refused by both cues            {refused_both:3d}  ({refused_both / len(genuine):.0%})"
    )
    print(f"warped-photo attacks that beat the nose cue: {len(attacks)}")
    for sigma in sorted({s for s, _ in attacks}):
        passed = [b for s, b in attacks if s == sigma]
        print(f"  sigma {sigma:4.2f} eye distances: {sum(passed)} of {len(passed)} pass both cues")
    return 0


if __name__ == "__main__":
    sys.exit(main())
