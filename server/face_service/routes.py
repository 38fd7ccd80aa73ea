"""The face-service's routes: /health, /detect, /embed, /embed-aligned and /compare.

Images come as multipart file fields named ``image`` (and ``other`` for a second photo);
the work runs in `operations` on a worker thread, never on the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from kiosk.inference import FaceEngine, Purpose
from server.face_service import operations
from server.face_service.errors import BadEmbeddingsError
from server.face_service.runtime import InferenceRunner, ModelHolder, ModelState
from server.face_service.schemas import (
    MAX_REFERENCES,
    AlignedCrops,
    AlignedEmbeddings,
    CompareResponse,
    DetectResponse,
    EmbedResponse,
    ReferenceEmbedding,
)
from server.face_service.settings import FaceServiceSettings

router = APIRouter()
_REFERENCES = TypeAdapter(list[ReferenceEmbedding])


def get_engine(request: Request) -> FaceEngine:
    """The loaded engine, or 503 while it loads (raised by ModelHolder)."""
    holder: ModelHolder = request.app.state.model
    return holder.engine()


def get_runner(request: Request) -> InferenceRunner:
    runner: InferenceRunner = request.app.state.runner
    return runner


def get_settings(request: Request) -> FaceServiceSettings:
    settings: FaceServiceSettings = request.app.state.settings
    return settings


EngineDep = Annotated[FaceEngine, Depends(get_engine)]
RunnerDep = Annotated[InferenceRunner, Depends(get_runner)]
SettingsDep = Annotated[FaceServiceSettings, Depends(get_settings)]
ImageField = Annotated[UploadFile, File(description="a JPEG, PNG, WebP or BMP photo")]
DetSize = Annotated[int, Query(ge=160, le=640, multiple_of=32, description="detector input")]


@router.get("/health", summary="Whether the model is loaded")
def health(request: Request) -> JSONResponse:
    """{"status":"healthy","model":<pack>,"model_loaded":true,"licence":<one word>} when
    ready, else 503; the licence is the pack's weight licence (e.g. "public-domain")."""
    holder: ModelHolder = request.app.state.model
    status = holder.status()
    ready = status.state is ModelState.HEALTHY
    body: dict[str, object] = {
        "status": status.state.value,
        "model": status.pack,
        "model_loaded": ready,
        "licence": status.licence,
    }
    if status.error is not None:
        body["detail"] = status.error
    return JSONResponse(body, status_code=200 if ready else 503)


@router.post("/detect", summary="Faces with boxes, scores, keypoints and quality")
async def detect(
    image: ImageField,
    *,
    engine: EngineDep,
    runner: RunnerDep,
    settings: SettingsDep,
    purpose: Purpose = Purpose.CHECKIN,
    det_size: DetSize = 640,
) -> DetectResponse:
    data = await image.read()
    return await runner.run(
        operations.detect,
        engine,
        data,
        purpose=purpose,
        det_size=det_size,
        max_bytes=settings.max_image_bytes,
    )


@router.post(
    "/embed",
    summary="The embedding of the photo's face",
    responses={422: {"description": "no usable face (enrolment: not exactly one)"}},
)
async def embed(
    image: ImageField,
    *,
    engine: EngineDep,
    runner: RunnerDep,
    settings: SettingsDep,
    purpose: Purpose = Purpose.ENROLMENT,
) -> EmbedResponse:
    data = await image.read()
    return await runner.run(
        operations.embed, engine, data, purpose=purpose, max_bytes=settings.max_image_bytes
    )


@router.post("/embed-aligned", summary="Embeddings of face crops a kiosk aligned, in one batch")
async def embed_aligned(
    body: AlignedCrops, *, engine: EngineDep, runner: RunnerDep
) -> AlignedEmbeddings:
    """One result per crop: its embedding, or why it could not be used."""
    return await runner.run(operations.embed_aligned, engine, body.crops)


@router.post(
    "/compare",
    summary="Similarity of the photo's face to a second photo or to stored embeddings",
    responses={409: {"description": "embeddings of another recogniser"}},
)
async def compare(
    image: ImageField,
    *,
    engine: EngineDep,
    runner: RunnerDep,
    settings: SettingsDep,
    other: Annotated[UploadFile | None, File(description="a second photo")] = None,
    embeddings: Annotated[
        str | None,
        Form(description='JSON: [{"id": ..., "model_id": ..., "vector": [...]}, ...]'),
    ] = None,
) -> CompareResponse:
    references = parse_references(embeddings)
    first = await image.read()
    second = await other.read() if other is not None else None
    return await runner.run(
        operations.compare,
        engine,
        first,
        other=second,
        references=references,
        max_bytes=settings.max_image_bytes,
    )


def parse_references(text: str | None) -> list[ReferenceEmbedding]:
    """The ``embeddings`` form field; a clear 422 for anything but the documented JSON."""
    if text is None or not text.strip():
        return []
    try:
        references = _REFERENCES.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        raise BadEmbeddingsError(
            f"The embeddings field must be a JSON list of "
            f'{{"id", "model_id", "vector"}} objects ({where}: {first["msg"]}).'
        ) from None
    if len(references) > MAX_REFERENCES:
        raise BadEmbeddingsError(
            f"At most {MAX_REFERENCES} reference embeddings per request, got {len(references)}."
        )
    return references
