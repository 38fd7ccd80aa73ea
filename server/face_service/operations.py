"""What each route does, as blocking functions of bytes run in a worker thread.

Kept apart from the HTTP glue in `routes` so a benchmark or test can call exactly what
a request runs. Every failure is a `FaceEngineError` or `FaceServiceError` with a
message for the caller; `app` maps them to 4xx/503.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from kiosk.inference import (
    CHECKIN_MIN_SIDE,
    AnalyzedFace,
    DecodedImage,
    Embedding,
    FaceEngine,
    ImageError,
    Purpose,
    QualityError,
    Thresholds,
    band_for,
    decode_image,
    image_issues,
    require_same_model,
)
from server.face_service.errors import BadEmbeddingsError, ImageTooLargeError
from server.face_service.schemas import (
    MAX_CROP_BYTES,
    AlignedEmbedding,
    AlignedEmbeddings,
    CompareResponse,
    DetectResponse,
    EmbedResponse,
    FaceOut,
    Match,
    ModelInfo,
    ReferenceEmbedding,
)

# Longest side over shortest side. Photos are at most ~3:1; insightface's SCRFD fails
# (an OpenCV resize to zero pixels) on strips such as 5000x2.
MAX_ASPECT_RATIO = 20
# Pixels any one decode may materialise (after a JPEG's reduced-scale decode): a 16 MP
# camera's photo (4608x3456), never more. A 5 KB PNG declaring 6300x6300 (40 MP) cost
# seconds of decode and resize per image; a request holds at most two images, so its
# work is bounded too.
MAX_PIXELS = 16_000_000
# Eye distance in ArcFace's 112x112 aligned crop: a face decoded smaller is upsampled.
ALIGNED_EYE_PX = 35.0


def decode(
    data: bytes, max_bytes: int, *, which: str | None = None, min_side: int | None = None
) -> DecodedImage:
    """Untrusted upload -> pixels; the byte limit is checked before any decoding.

    ``which`` names the upload in messages when a request carries two images;
    ``min_side`` lets a JPEG decode at reduced scale (see kiosk.inference.images).
    """
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"{which or 'The image'} is {len(data) / 1e6:.1f} MB; the limit is "
            f"{max_bytes / 1e6:.0f} MB. Send a smaller photo."
        )
    try:
        image = decode_image(data, max_bytes=max_bytes, max_pixels=MAX_PIXELS, min_side=min_side)
        _check_shape(image)
    except ImageError as exc:
        if which is None:
            raise
        raise ImageError(f"{which}: {exc}") from exc
    return image


def _embed_single(
    engine: FaceEngine, data: bytes, purpose: Purpose, max_bytes: int
) -> tuple[DecodedImage, AnalyzedFace]:
    """The face to use, from a decode as small as the purpose allows.

    A check-in photo decodes reduced (a selfie's face is large); if that finds no usable
    face, or one whose eyes are closer than the aligned crop's, it decodes in full.
    """
    if purpose is not Purpose.CHECKIN:
        image = decode(data, max_bytes)
        return image, engine.embed_single(image.pixels, purpose=purpose, scale=image.scale)
    image = decode(data, max_bytes, min_side=CHECKIN_MIN_SIDE)
    try:
        analyzed = engine.embed_single(image.pixels, purpose=purpose, scale=image.scale)
    except QualityError:
        if image.scale >= 1.0:
            raise
    else:
        if image.scale >= 1.0 or analyzed.face.inter_eye_distance >= ALIGNED_EYE_PX:
            return image, analyzed
    image = decode(data, max_bytes)
    return image, engine.embed_single(image.pixels, purpose=purpose, scale=image.scale)


def _check_shape(image: DecodedImage) -> None:
    """Refuse strips no face fits in; the detector's letterboxing cannot scale them."""
    width, height = image.original_size
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageError(
            f"The image is {width}x{height} pixels, too narrow to hold a face. "
            "Send an ordinary photo."
        )


def detect(
    engine: FaceEngine, data: bytes, *, purpose: Purpose, det_size: int, max_bytes: int
) -> DetectResponse:
    """Every face with box, score, keypoints and quality for ``purpose``."""
    image = decode(data, max_bytes)
    faces = engine.analyze(
        image.pixels, purpose=purpose, det_size=det_size, scale=image.scale, embed=False
    )
    issues = image_issues(len(faces), purpose)
    width, height = image.original_size
    return DetectResponse(
        model=ModelInfo.of(engine),
        purpose=purpose.value,
        width=width,
        height=height,
        issues=[issue.value for issue in issues],
        reasons=[issue.advice for issue in issues],
        faces=[FaceOut.of(face, image.scale) for face in faces],
    )


def embed(engine: FaceEngine, data: bytes, *, purpose: Purpose, max_bytes: int) -> EmbedResponse:
    """One face's embedding; enrolment refuses zero or several faces (QualityError)."""
    image, analyzed = _embed_single(engine, data, purpose, max_bytes)
    if analyzed.embedding is None:  # embed_single always embeds; keeps the types honest
        raise QualityError("The face could not be embedded.", analyzed.quality)
    return EmbedResponse(
        model=ModelInfo.of(engine),
        model_id=analyzed.embedding.model_id,
        embedding=[float(v) for v in analyzed.embedding.vector],
        face=FaceOut.of(analyzed, image.scale),
    )


def compare(
    engine: FaceEngine,
    data: bytes,
    *,
    other: bytes | None,
    references: Sequence[ReferenceEmbedding],
    max_bytes: int,
) -> CompareResponse:
    """Similarity of the photo's face to a second photo's face or to stored embeddings."""
    if other is None and not references:
        raise BadEmbeddingsError("Send a second image or at least one reference embedding.")
    stored = [reference_embedding(engine, ref, i) for i, ref in enumerate(references)]
    image = decode(data, max_bytes)
    probe = engine.embed_single(image.pixels, purpose=Purpose.CHECKIN, scale=image.scale)
    if other is not None:
        stored.append(("other", _second_face(engine, other, max_bytes)))
    if probe.embedding is None:  # embed_single always embeds; keeps the types honest
        raise QualityError("The face could not be embedded.", probe.quality)
    matches = [
        _match(ref_id, probe.embedding.similarity(embedding), engine.thresholds)
        for ref_id, embedding in stored
    ]
    return CompareResponse(
        model=ModelInfo.of(engine),
        face=FaceOut.of(probe, image.scale),
        matches=matches,
        best=max(matches, key=lambda m: m.similarity),
    )


def reference_embedding(
    engine: FaceEngine, reference: ReferenceEmbedding, index: int
) -> tuple[str | None, Embedding]:
    """A stored template as an engine Embedding; refuses another recogniser's vectors."""
    require_same_model(engine.model_id, reference.model_id)
    vector = np.asarray(reference.vector, dtype=np.float32)
    expected = engine.recognizer.dimension
    if vector.shape != (expected,):
        raise BadEmbeddingsError(
            f"Reference {index} has {vector.size} numbers; {engine.model_id} embeddings "
            f"have {expected}."
        )
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise BadEmbeddingsError(
            f"Reference {index} is not a usable embedding (zero or not finite)."
        )
    return reference.id, Embedding(vector / norm, reference.model_id)


def _second_face(engine: FaceEngine, data: bytes, max_bytes: int) -> Embedding:
    """The main face of the second photo; errors say which photo they are about."""
    image = decode(data, max_bytes, which="The second image")
    try:
        analyzed = engine.embed_single(image.pixels, purpose=Purpose.CHECKIN, scale=image.scale)
    except QualityError as exc:
        raise QualityError(f"The second image: {exc}", exc.report) from exc
    if analyzed.embedding is None:
        raise QualityError("The second image's face could not be embedded.", analyzed.quality)
    return analyzed.embedding


def _match(ref_id: str | None, similarity: float, thresholds: Thresholds) -> Match:
    """A 1:1 comparison's band, by the pack's own thresholds."""
    band = band_for(similarity, thresholds).value
    return Match(id=ref_id, similarity=round(similarity, 4), band=band)


def embed_aligned(engine: FaceEngine, crops: Sequence[str]) -> AlignedEmbeddings:
    """Embed crops already aligned by a kiosk, all in one model run.

    No detection: the kiosk aligned the face, the server only needs its own embedding of
    it (so a kiosk cannot choose the number the server decides on). A crop that is not a
    small image of exactly the recogniser's size gets its own error; the rest still count.
    """
    size = engine.recognizer.crop_size
    pixels: list[NDArray[np.uint8]] = []
    errors: list[str | None] = []
    for text in crops:
        try:
            pixels.append(_aligned_crop(text, size))
            errors.append(None)
        except ImageError as exc:
            errors.append(str(exc))
    vectors = iter(engine.recognizer.embed(pixels))
    results = [
        AlignedEmbedding(error=error)
        if error is not None
        else AlignedEmbedding(embedding=[float(v) for v in next(vectors)])
        for error in errors
    ]
    return AlignedEmbeddings(model=ModelInfo.of(engine), model_id=engine.model_id, results=results)


def _aligned_crop(text: str, size: int) -> NDArray[np.uint8]:
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or characters beyond ASCII
        raise ImageError(
            "The crop is not standard base64; send the JPEG's bytes in base64."
        ) from None
    if len(data) > MAX_CROP_BYTES:
        raise ImageError(
            f"The crop is {len(data)} bytes; an aligned face crop is at most {MAX_CROP_BYTES}."
        )
    # Room for a wrong size to be decoded and named; a crop never needs more.
    image = decode_image(data, max_bytes=MAX_CROP_BYTES, max_side=4 * size, max_pixels=16 * size**2)
    if image.original_size != (size, size):
        width, height = image.original_size
        raise ImageError(
            f"The crop is {width}x{height} pixels; an aligned face crop is {size}x{size}."
        )
    return image.pixels
