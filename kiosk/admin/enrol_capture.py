"""Guided enrolment capture, without Qt: assess a camera frame, keep the samples that pass.

The admin screen asks the person for three poses in turn (straight, slightly left,
slightly right). A frame becomes a sample only when the engine's enrolment gates pass
(one face, large, sharp, well lit, not turned too far) and the head points the way
asked; otherwise the reasons are shown in plain words. Only the embeddings of accepted
samples are sent to the server; the frames never leave this computer.

The pose is the yaw the engine's quality gates already estimate from the five keypoints
(`kiosk.inference.quality.head_pose`: the nose's sideways offset from the eye midpoint,
eyes levelled, so a tilted head reads the same). Positive yaw: the person has turned to
their own left (the camera sees them face to face). Measured with the offline pack on the
real photos of tests/data: the 27 that look frontal read -9.2 to +7.1 degrees; the 10
that look turned +10.3 to +15.8 (to their left: obama3, biden, img11, img16, img58) and
-12.6 to -22.0 (to their right: obama2, img4, img13, img55, img61); a mirrored photo
reads the opposite sign within 5 degrees; one rotated 10-20 degrees in its plane (a
tilted head) the same within 6. So "straight" is within 10 degrees, and a slight turn
is at least 10 degrees further than the person's own straight sample, the asked way
(the enrolment gate refuses beyond 30).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kiosk.inference import QUALITY_THRESHOLDS as THRESHOLDS
from kiosk.inference import (
    AnalyzedFace,
    BGRImage,
    FaceEngine,
    Issue,
    Purpose,
    QualityError,
    QualityMeasures,
)

POSES = ("straight", "slightly left", "slightly right")
PROMPTS = {
    "straight": "Look straight at the camera.",
    "slightly left": "Turn your head slightly to your left.",
    "slightly right": "Turn your head slightly to your right.",
}
STRAIGHT_MAX_DEG = 10.0  # |yaw| of a straight sample
TURN_MIN_DEG = 10.0  # a slight turn: this much further than the straight sample, the asked way
TOO_FAR = "That is too far: turn back a little towards the camera."


@dataclass(frozen=True)
class Assessment:
    """The verdict on one frame: `meter` 0..1 for the quality bar, `reasons` when refused."""

    passed: bool
    meter: float
    reasons: tuple[str, ...]
    embedding: tuple[float, ...] | None = None
    yaw_deg: float | None = None
    issues: tuple[Issue, ...] = ()


def quality_meter(measures: QualityMeasures | None) -> float:
    """How far the frame is from the enrolment gates (1.0: all comfortably passed)."""
    if measures is None:
        return 0.0
    gate = THRESHOLDS[Purpose.ENROLMENT]
    parts = (
        measures.sharpness / gate.min_sharpness,
        measures.inter_eye_px / gate.min_inter_eye_px,
        measures.detector_score / gate.min_detector_score,
        1.0 if gate.min_brightness <= measures.brightness <= gate.max_brightness else 0.5,
        1.0 if abs(measures.yaw_deg) <= gate.max_yaw_deg else 0.5,
    )
    return max(0.0, min(1.0, min(parts) / 1.5))


def assess(engine: FaceEngine, image: BGRImage) -> Assessment:
    """Run the enrolment gates on `image` (slow: call it off the UI thread)."""
    try:
        face: AnalyzedFace = engine.embed_single(image, purpose=Purpose.ENROLMENT)
    except QualityError as exc:
        report = exc.report
        reasons = tuple(report.reasons) if report and report.issues else (str(exc),)
        measures = report.measures if report else None
        return Assessment(
            False,
            quality_meter(measures),
            reasons,
            yaw_deg=measures.yaw_deg if measures else None,
            issues=report.issues if report else (),
        )
    assert face.embedding is not None
    measures = face.quality.measures
    return Assessment(
        True,
        max(0.5, quality_meter(measures)),
        (),
        tuple(float(x) for x in face.embedding.vector),
        measures.yaw_deg if measures else None,
    )


def pose_advice(pose: str, yaw_deg: float, straight_yaw: float = 0.0) -> str | None:
    """None when a head at `yaw_deg` is in `pose`; otherwise what to do, in plain words.

    A slight turn is measured from the person's own straight sample (`straight_yaw`): no
    face is quite symmetric, so a straight look reads a few degrees off zero.
    """
    if pose == "straight":
        if abs(yaw_deg) <= STRAIGHT_MAX_DEG:
            return None
        return f"Your head is turned to your {_side(yaw_deg)}: look straight at the camera."
    wanted = 1.0 if pose == "slightly left" else -1.0
    turn = (yaw_deg - straight_yaw) * wanted
    if turn >= TURN_MIN_DEG:
        return None
    side = _side(wanted)
    if turn <= -TURN_MIN_DEG / 2:
        return f"That is turned to your {_side(-wanted)}: turn a little to your {side} instead."
    return f"Turn a little {'more ' if turn > 0 else ''}to your {side}."


def _side(yaw: float) -> str:
    return "left" if yaw > 0 else "right"


@dataclass
class GuidedCapture:
    """The samples accepted so far, one per pose, in `POSES` order."""

    samples: list[Assessment] = field(default_factory=list)
    straight_yaw: float = 0.0  # the yaw of the accepted straight sample

    @property
    def done(self) -> bool:
        return len(self.samples) >= len(POSES)

    @property
    def pose(self) -> str | None:
        return None if self.done else POSES[len(self.samples)]

    @property
    def prompt(self) -> str:
        pose = self.pose
        return "All samples taken." if pose is None else PROMPTS[pose]

    def judge(self, assessment: Assessment) -> Assessment:
        """`assessment` with the asked pose checked too: refused, saying which way to turn,
        when the head points another way."""
        pose, yaw = self.pose, assessment.yaw_deg
        if pose is None or yaw is None:
            return assessment
        advice = pose_advice(pose, yaw, self.straight_yaw)
        if not assessment.passed:
            if pose == "straight" or Issue.HEAD_TURNED not in assessment.issues:
                return assessment
            # The gate's "look straight" would contradict the prompt: say which way instead.
            turned = Issue.HEAD_TURNED.advice
            reasons = tuple((advice or TOO_FAR) if r == turned else r for r in assessment.reasons)
            return replace(assessment, reasons=reasons)
        return (
            assessment if advice is None else replace(assessment, passed=False, reasons=(advice,))
        )

    def offer(self, assessment: Assessment) -> Assessment:
        """Keep `assessment` as the current pose's sample when it passes the gates and is
        in the asked pose; the verdict (`passed`, `reasons`) says whether it was kept."""
        if self.done:
            return replace(assessment, passed=False, reasons=("All samples taken.",))
        judged = self.judge(assessment)
        if judged.passed:
            if self.pose == "straight" and judged.yaw_deg is not None:
                self.straight_yaw = judged.yaw_deg
            self.samples.append(judged)
        return judged

    def add_photo(self, assessment: Assessment) -> bool:
        """Keep a photo file's sample when it passed the gates (a photo has no asked pose)."""
        if self.done or not assessment.passed:
            return False
        self.samples.append(assessment)
        return True

    def reset(self) -> None:
        self.samples.clear()
        self.straight_yaw = 0.0
