"""Guided enrolment capture, without Qt: assess a camera frame, keep the samples that pass.

The admin screen asks the person for three poses in turn (straight, slightly left,
slightly right). A frame becomes a sample only when the engine's enrolment gates pass
(one face, large, sharp, well lit, not turned too far); otherwise the engine's reasons
are shown in plain words. Only the embeddings of accepted samples are sent to the
server; the frames never leave this computer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.inference.engine import AnalyzedFace, FaceEngine
from kiosk.inference.errors import QualityError
from kiosk.inference.images import BGRImage
from kiosk.inference.quality import THRESHOLDS, Purpose, QualityMeasures

POSES = ("straight", "slightly left", "slightly right")
PROMPTS = {
    "straight": "Look straight at the camera.",
    "slightly left": "Turn your head slightly to your left.",
    "slightly right": "Turn your head slightly to your right.",
}


@dataclass(frozen=True)
class Assessment:
    """The verdict on one frame: `meter` 0..1 for the quality bar, `reasons` when refused."""

    passed: bool
    meter: float
    reasons: tuple[str, ...]
    embedding: tuple[float, ...] | None = None
    yaw_deg: float | None = None


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
        return Assessment(False, quality_meter(report.measures if report else None), reasons)
    assert face.embedding is not None
    measures = face.quality.measures
    return Assessment(
        True,
        max(0.5, quality_meter(measures)),
        (),
        tuple(float(x) for x in face.embedding.vector),
        measures.yaw_deg if measures else None,
    )


@dataclass
class GuidedCapture:
    """The samples accepted so far, one per pose, in `POSES` order."""

    samples: list[Assessment] = field(default_factory=list)

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

    def offer(self, assessment: Assessment) -> bool:
        """Keep `assessment` as the current pose's sample when it passed the gates."""
        if self.done or not assessment.passed:
            return False
        self.samples.append(assessment)
        return True

    def reset(self) -> None:
        self.samples.clear()
