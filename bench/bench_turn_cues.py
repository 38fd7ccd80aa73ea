"""The phone liveness check on genuine head turns and on one warped photo, side by side
in one run: how often genuine turns are refused, and how often each attack passes.

Genuine turns (`tests/utils/turns.py`): for each person of tests/data/calibration, their
different photos ordered by the yaw the detector measures, out from the most frontal one
and back, both ways (mirrored for the other), framed as a phone held still sees them.
The attacks are issue 24's: that person's frontal selfie warped around the nose tip,
sigma 0.3-0.9 eye distances, with the smallest push (of 0.4-1.6 eye distances) that
beats the nose threshold, both ways; sent as one warped frame repeated, and as a ramp
of warps out and back in timed steps with fresh noise on each frame.

Judged as the server judges them (`phone_liveness`): every frame the selfie's person,
the sequence (`turn_sequence.judge`), the surroundings and the remap residual
(`turn_cues`). Also printed: the
foreshortening the five keypoints show (eye distance over the eyes-to-mouth drop, at the
peak over the selfie's) on genuine turns and on warps, to show why it is not a cue.

The limit of this evidence: the genuine turns are photos taken at other times (other
light, background, expression), not one continuous turn; they show real 3-D poses of
real people pass, not the false-refusal rate of people turning in front of a phone.

    .venv/bin/python bench/bench_turn_cues.py
"""

from __future__ import annotations

import json
import math
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
from server.backend.services import turn_sequence  # noqa: E402
from server.backend.services.phone_liveness import SAME_PERSON  # noqa: E402
from server.backend.services.turn_cues import (  # noqa: E402
    REMAP_MIN,
    RING_MIN,
    change,
    remap_residual,
    ring,
)
from server.backend.services.turn_sequence import Move  # noqa: E402
from tests.utils import turns  # noqa: E402

CALIBRATION = ROOT / "tests/data/calibration"
SIGMAS = (0.3, 0.45, 0.6, 0.75, 0.9)
Image = NDArray[np.uint8]


def as_sent(image: Image, side: int) -> Image:
    """Resized to `side` and through a JPEG, as the page sends it."""
    factor = side / max(image.shape[:2])
    small = cv2.resize(image, (round(image.shape[1] * factor), round(image.shape[0] * factor)))
    data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])[1]
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR))


def spread(keypoints: NDArray[np.float32]) -> float:
    """Eye distance over the eyes-to-mouth drop: shrinks as cos(yaw) for a real turn."""
    k = keypoints.astype(np.float64)
    eyes, mouth = (k[0] + k[1]) / 2, (k[3] + k[4]) / 2
    return math.hypot(*(k[1] - k[0])) / max(1e-6, math.hypot(*(mouth - eyes)))


class Judge:
    def __init__(self) -> None:
        pack = resolve_pack("vectron", cache_dir=Path("/nonexistent-cache"))
        self.engine = FaceEngine.load(pack, ThreadSettings(intra_op_threads=1))

    def detect(self, image: Image) -> NDArray[np.float32] | None:
        found = self.engine.detect(image, det_size=640)
        if not found:
            return None
        return np.asarray(max(found, key=lambda f: f.inter_eye_distance).keypoints, np.float32)

    def _face(self, image: Image) -> tuple[NDArray[np.float32], list[float], NDArray[np.float32]]:
        found = self.engine.analyze(image, det_size=640)
        best = max(found, key=lambda a: a.face.inter_eye_distance)
        assert best.embedding is not None
        face = best.face
        keypoints = np.asarray(face.keypoints, np.float32)
        return keypoints, [float(v) for v in face.bbox], np.asarray(best.embedding.vector)

    def refused(self, move: Move, seq: turns.Turn) -> tuple[str, float]:
        """(why it was refused, or "" when it passed; the foreshortening at the peak)."""
        selfie = as_sent(seq.selfie, 640)
        points, box, vector = self._face(selfie)
        frames = [turn_sequence.frame(seq.times_s[0], points, selfie.tobytes())]
        seen = [(selfie, box, points)]
        for when, image in zip(seq.times_s[1:], seq.frames, strict=True):
            sent = as_sent(image, 400)
            if not self.engine.detect(sent, det_size=640):
                continue
            k, b, v = self._face(sent)
            if float(np.dot(v, vector)) < SAME_PERSON:
                return "another person", 1.0
            frames.append(turn_sequence.frame(when, k, sent.tobytes()))
            seen.append((sent, b, k))
        refusal, peaks = turn_sequence.judge((move,), frames)
        if refusal is not None:
            return refusal.value, 1.0
        peak_image, peak_box, peak_points = seen[peaks[0]]
        shrink = spread(peak_points) / spread(points)
        if change(ring(selfie, box), ring(peak_image, peak_box)) < RING_MIN:
            return "surroundings unchanged", shrink
        if remap_residual(selfie, box, peak_image, peak_box) < REMAP_MIN:
            return "a remap of the selfie", shrink
        return "", shrink


def genuine_runs(judge: Judge) -> list[tuple[str, str, float]]:
    people = json.loads((CALIBRATION / "identities.json").read_text())
    runs = []
    for person, names in people.items():
        photos = [read_image_file(CALIBRATION / n).pixels for n in names]
        for left in (False, True):
            for mirror in (False, True):
                seq = turns.genuine(photos, judge.detect, left=left, mirror=mirror)
                if seq is not None:
                    move = Move.LEFT if left else Move.RIGHT
                    name = f"{person} {move.value}{' (mirrored)' if mirror else ''}"
                    runs.append((name, *judge.refused(move, seq)))
    return runs


def attack_selfie(judge: Judge, seq: turns.Turn, sigma: float, sign: float) -> float | None:
    """The smallest push that beats the nose threshold on the selfie as sent, or None."""
    points = judge.detect(seq.selfie)
    assert points is not None
    for amount in (0.4, 0.6, 0.8, 1.0, 1.3, 1.6):
        moved = judge.detect(
            as_sent(turns.nose_warped(seq.selfie, points, sigma, sign * amount), 400)
        )
        if moved is not None and sign * (nose_offset(moved) - nose_offset(points)) >= MIN_TURN:
            return sign * amount
    return None


def main() -> int:
    judge = Judge()
    runs = genuine_runs(judge)
    refused = [(name, why) for name, why, _ in runs if why]
    shrinks = [shrink for _, why, shrink in runs if not why]
    print(f"genuine turns (calibration photos ordered by yaw): {len(runs)}")
    print(f"  refused {len(refused)} ({len(refused) / max(1, len(runs)):.0%}): {refused}")
    if shrinks:
        print(f"  foreshortening at the peak of those passed {min(shrinks):.2f}-{max(shrinks):.2f}")
    people = json.loads((CALIBRATION / "identities.json").read_text())
    selfies = []
    for names in people.values():
        photos = [read_image_file(CALIBRATION / n).pixels for n in names]
        seq = turns.genuine(photos, judge.detect, left=False) or turns.genuine(
            photos, judge.detect, left=True
        )
        if seq is not None:
            selfies.append(seq)
    print(f"warp attacks on {len(selfies)} people's frontal selfies, both ways")
    print("(foreshortening: at the ramp's peak, where the sequence let it be read):")
    for sigma in SIGMAS:
        tally: dict[str, list[bool]] = {}
        shrinks: list[float] = []
        for seq in selfies:
            points = judge.detect(seq.selfie)
            assert points is not None
            for sign, move in ((1.0, Move.LEFT), (-1.0, Move.RIGHT)):
                push = attack_selfie(judge, seq, sigma, sign)
                if push is None:
                    continue
                for kind, attack in turns.warp_attacks(seq.selfie, points, sigma, push).items():
                    why, shrink = judge.refused(move, attack)
                    tally.setdefault(kind, []).append(not why)
                    if kind.startswith("ramp"):
                        shrinks.append(shrink)
        parts = [f"{kind}: {sum(p)} of {len(p)} pass" for kind, p in tally.items()]
        shown = f"{min(shrinks):.2f}-{max(shrinks):.2f}" if shrinks else "-"
        print(f"  sigma {sigma:4.2f}: " + "; ".join(parts) + f"; foreshortening {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
