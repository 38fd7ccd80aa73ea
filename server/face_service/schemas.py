"""The face-service's wire format: response bodies, reference embeddings, the key header.

Coordinates are in the pixels of the uploaded file (the engine may decode a large
photo at a reduced scale); similarities are cosine similarities, never percentages.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:  # the backend imports this module; it must not load the engine's modules
    from kiosk.inference import AnalyzedFace, FaceEngine, QualityReport

# The header carrying the API key in the separate-container setup.
API_KEY_HEADER = "X-API-Key"
# At most this many reference embeddings in one /compare (a member has a handful).
MAX_REFERENCES = 64


class ModelInfo(BaseModel):
    pack: str
    model_id: str

    @classmethod
    def of(cls, engine: FaceEngine) -> ModelInfo:
        return cls(pack=engine.spec.name, model_id=engine.model_id)


class QualityOut(BaseModel):
    passed: bool
    issues: list[str] = Field(description="stable codes, e.g. too_small, multiple_faces")
    reasons: list[str] = Field(description="advice a person can act on, one per issue")
    measures: dict[str, float] | None

    @classmethod
    def of(cls, report: QualityReport) -> QualityOut:
        measures = asdict(report.measures) if report.measures else None
        return cls(
            passed=report.passed,
            issues=[issue.value for issue in report.issues],
            reasons=report.reasons,
            measures={k: round(float(v), 2) for k, v in measures.items()} if measures else None,
        )


class FaceOut(BaseModel):
    bbox: list[float] = Field(description="x1, y1, x2, y2 in the original image's pixels")
    score: float
    keypoints: list[list[float]] = Field(description="eyes, nose, mouth corners: [x, y] each")
    quality: QualityOut

    @classmethod
    def of(cls, analyzed: AnalyzedFace, scale: float) -> FaceOut:
        face = analyzed.face.scaled(1 / scale)
        return cls(
            bbox=[round(float(v), 1) for v in face.bbox],
            score=round(float(face.score), 4),
            keypoints=[[round(float(x), 1), round(float(y), 1)] for x, y in face.keypoints],
            quality=QualityOut.of(analyzed.quality),
        )


class DetectResponse(BaseModel):
    model: ModelInfo
    purpose: str
    width: int
    height: int
    issues: list[str] = Field(description="image-level problems: no_face, multiple_faces")
    reasons: list[str]
    faces: list[FaceOut]


class EmbedResponse(BaseModel):
    model: ModelInfo
    model_id: str = Field(description="the recogniser's id; store it with the embedding")
    embedding: list[float] = Field(description="L2-normalised")
    face: FaceOut


class ReferenceEmbedding(BaseModel):
    """One stored template to compare a photo against."""

    id: str | None = Field(default=None, max_length=200)
    model_id: str = Field(max_length=200)
    vector: list[float] = Field(min_length=1, max_length=4096)


class Match(BaseModel):
    id: str | None = Field(description="the reference's id; 'other' for the second image")
    similarity: float
    band: str = Field(description="accept, review or reject")


class CompareResponse(BaseModel):
    model: ModelInfo
    face: FaceOut = Field(description="the face of `image` that was compared")
    matches: list[Match] = Field(description="one per reference, in the order sent")
    best: Match


# At most this many aligned crops in one /embed-aligned (a kiosk's upload batch is cut
# into requests of this size) and this many bytes each (a 112x112 JPEG is ~4 KiB).
MAX_CROPS = 64
MAX_CROP_BYTES = 32 * 1024


class AlignedCrops(BaseModel):
    """Aligned face crops a kiosk made: base64 JPEG or PNG, each the recogniser's size."""

    crops: list[str] = Field(min_length=1, max_length=MAX_CROPS)


class AlignedEmbedding(BaseModel):
    """One crop's embedding, or why that crop could not be embedded."""

    embedding: list[float] | None = Field(default=None, description="L2-normalised")
    error: str | None = None


class AlignedEmbeddings(BaseModel):
    model: ModelInfo
    model_id: str
    results: list[AlignedEmbedding] = Field(description="one per crop, in the order sent")
