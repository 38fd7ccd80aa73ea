"""The backend's client for the private face-service (FACE_SERVICE_URL).

Its failures are mapped to the backend's own errors (in `server.backend.errors`) at this
one boundary, so a route that needs the face-service answers a clear status and every
other route keeps working:

    FaceServiceUnavailableError (503)  not running, still loading, timed out, or refuses
                                       the backend's API key
    FaceServiceFailedError (502)       it answered with a server error
    BadRequestError (422)              it refused the photo (not an image, no usable face)
    ConflictError (409)                embeddings of another recogniser

`health()` never raises, so `/health` always answers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from server.backend.errors import (
    BadRequestError,
    ConflictError,
    FaceServiceFailedError,
    FaceServiceUnavailableError,
    SontaServerError,
)
from server.face_service.schemas import (
    API_KEY_HEADER,
    MAX_CROPS,
    AlignedEmbedding,
    AlignedEmbeddings,
    CompareResponse,
    DetectResponse,
    EmbedResponse,
    ReferenceEmbedding,
)

logger = logging.getLogger(__name__)

ResponseT = TypeVar("ResponseT", bound=BaseModel)
# Waits between readiness probes at start-up: quick at first, then every 2 s.
BACKOFF_START = 0.25
BACKOFF_MAX = 2.0


@dataclass(frozen=True)
class FaceServiceState:
    """What the face-service said about itself (or that it did not answer)."""

    status: str  # healthy, loading, unhealthy, unavailable
    model: str | None = None
    detail: str | None = None
    licence: str | None = None  # the pack's weight licence in one word

    @property
    def ready(self) -> bool:
        return self.status == "healthy"


# How long an inference call may take. A frozen face-service (it accepts connections and
# never answers) held a phone check-in 30 s before its 503; one image takes the service
# well under a second, a few seconds when it is busy, and connecting takes milliseconds.
INFERENCE_TIMEOUT = httpx.Timeout(8.0, connect=2.0)


class FaceServiceClient:
    """Talks to the face-service; inference calls raise the errors listed above."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = INFERENCE_TIMEOUT,
        health_timeout: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        observe: Callable[[str, float, str | None], None] | None = None,
    ) -> None:
        headers = {API_KEY_HEADER: api_key} if api_key else {}
        # Metrics: each inference call's operation, seconds and error kind (or None).
        self._observe = observe
        # A private service: environment proxy settings must never apply to it.
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers=headers,
            transport=transport,
            trust_env=False,
        )
        self._health_timeout = health_timeout
        self.base_url = base_url

    def state(self) -> FaceServiceState:
        """One probe of GET /health; never raises."""
        try:
            response = self._client.get("/health", timeout=self._health_timeout)
        except httpx.HTTPError as exc:
            return FaceServiceState("unavailable", detail=_reason(exc))
        report = _json_object(response)
        status = str(report.get("status") or "")
        model = report.get("model") if isinstance(report.get("model"), str) else None
        licence = report.get("licence") if isinstance(report.get("licence"), str) else None
        if response.status_code == 200 and status == "healthy":
            return FaceServiceState("healthy", model, licence=licence)
        if status == "loading":
            return FaceServiceState("loading", model, licence=licence)
        detail = report.get("detail")
        why = str(detail) if detail else f"HTTP {response.status_code}"
        return FaceServiceState("unhealthy", model, why, licence)

    def health(self) -> dict[str, Any]:
        """The face-service part of the backend's /health."""
        state = self.state()
        report: dict[str, Any] = {"status": state.status}
        if state.model is not None:
            report["model"] = state.model
            report["model_loaded"] = state.ready
        if state.licence is not None:
            report["licence"] = state.licence
        if state.detail is not None:
            report["detail"] = state.detail
        return report

    def wait_until_ready(
        self,
        timeout: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> FaceServiceState:
        """Probe with growing pauses until ready, failed for good, or ``timeout`` seconds.

        "unhealthy" ends the wait early: the model failed to load (or the API key is
        refused), which waiting does not mend; the state's detail says why.
        """
        deadline = clock() + timeout
        pause = BACKOFF_START
        while True:
            state = self.state()
            if state.ready or state.status == "unhealthy" or clock() + pause > deadline:
                return state
            sleep(pause)
            pause = min(pause * 2, BACKOFF_MAX)

    def detect(self, image: bytes, *, purpose: str = "checkin") -> DetectResponse:
        return self._post("/detect", DetectResponse, {"image": image}, params={"purpose": purpose})

    def embed(self, image: bytes, *, purpose: str = "enrolment") -> EmbedResponse:
        return self._post("/embed", EmbedResponse, {"image": image}, params={"purpose": purpose})

    def embed_aligned(self, crops: Sequence[str], *, model_id: str) -> list[AlignedEmbedding]:
        """The face-service's own embedding of each aligned crop (base64), in order.

        Cut into requests of MAX_CROPS, each embedded in one model run: a kiosk's queued
        backlog costs a batched run per 64 check-ins, not a request per check-in.
        Embeddings of a recogniser other than `model_id` are a ConflictError (409).
        """
        results: list[AlignedEmbedding] = []
        for start in range(0, len(crops), MAX_CROPS):
            chunk = list(crops[start : start + MAX_CROPS])
            answer = self._post_json("/embed-aligned", AlignedEmbeddings, {"crops": chunk})
            if answer.model_id != model_id:
                raise ConflictError(
                    f"The face-service runs recogniser {answer.model_id}, the backend "
                    f"{model_id}. Set the same FACE_MODEL for both."
                )
            if len(answer.results) != len(chunk):
                raise FaceServiceFailedError("The face-service answered for other crops.")
            results += answer.results
        return results

    def compare(
        self,
        image: bytes,
        *,
        other: bytes | None = None,
        references: Sequence[ReferenceEmbedding] = (),
    ) -> CompareResponse:
        """Similarity of the photo's face to a second photo and/or stored embeddings."""
        files = {"image": image} if other is None else {"image": image, "other": other}
        data = {}
        if references:
            data["embeddings"] = json.dumps([r.model_dump() for r in references])
        return self._post("/compare", CompareResponse, files, data=data)

    def close(self) -> None:
        self._client.close()

    def _post_json(self, path: str, schema: type[ResponseT], body: dict[str, Any]) -> ResponseT:
        try:
            response = self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise FaceServiceUnavailableError(
                f"The face-service is unavailable ({_reason(exc)}); try again shortly."
            ) from exc
        return _answer(response, schema)

    def _post(
        self,
        path: str,
        schema: type[ResponseT],
        files: dict[str, bytes],
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
    ) -> ResponseT:
        started = time.perf_counter()
        error: str | None = "failed"
        try:
            answer = self._call(path, schema, files, params=params, data=data)
            error = None
            return answer
        except FaceServiceUnavailableError:
            error = "unavailable"
            raise
        except (BadRequestError, ConflictError):
            error = "refused"  # the image, not the service: a person's retry fixes it
            raise
        finally:
            if self._observe is not None:
                self._observe(path.strip("/"), time.perf_counter() - started, error)

    def _call(
        self,
        path: str,
        schema: type[ResponseT],
        files: dict[str, bytes],
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
    ) -> ResponseT:
        try:
            response = self._client.post(path, files=files, params=params, data=data)
        except httpx.HTTPError as exc:
            raise FaceServiceUnavailableError(
                f"The face-service is unavailable ({_reason(exc)}); try again shortly."
            ) from exc
        return _answer(response, schema)


def _answer(response: httpx.Response, schema: type[ResponseT]) -> ResponseT:
    """The body as `schema`, or the error the status maps to."""
    if response.status_code != 200:
        raise _error_for(response)
    try:
        return schema.model_validate_json(response.content)
    except ValidationError as exc:
        raise FaceServiceFailedError("The face-service sent an answer we cannot read.") from exc


def report_readiness(client: FaceServiceClient, expected_model: str) -> FaceServiceState:
    """Log the face-service's state at start-up when ready (the caller reports it when
    not, as start-up's last line); never raises."""
    state = client.state()
    if state.ready:
        logger.info("Face service is ready (model: %s)", state.model)
        if state.model != expected_model:
            logger.warning(
                "The face-service runs model %s but FACE_MODEL here is %s: its embeddings "
                "will be refused as another recogniser's. Set the same FACE_MODEL for both.",
                state.model,
                expected_model,
            )
    return state


def unavailable_line(client: FaceServiceClient, state: FaceServiceState) -> str:
    """Why face recognition is off, for the operator's log only (never a public answer)."""
    why = f"the face-service at {client.base_url} is {state.status}"
    if state.status == "unhealthy" and state.detail:
        why = state.detail  # the face-service's own words: why its model did not load
    elif state.detail:
        why += f" ({state.detail})"
    return (
        f"Face recognition is unavailable: {why.rstrip('.')}. Face check-ins and enrolment "
        "answer 503 until the face-service is ready; everything else works."
    )


def _error_for(response: httpx.Response) -> SontaServerError:
    body = _json_object(response)
    detail = body.get("detail")
    message = detail.get("message") if isinstance(detail, dict) else detail
    text = str(message or f"HTTP {response.status_code}")
    status = response.status_code
    if status == 401:
        logger.error("The face-service refused our API key: check FACE_SERVICE_API_KEY")
        return FaceServiceUnavailableError("The face-service refused the backend's API key.")
    if status == 503:
        return FaceServiceUnavailableError(f"The face-service is not ready: {text}")
    if status == 409:
        return ConflictError(text)
    if 400 <= status < 500:
        extra = (
            {k: v for k, v in detail.items() if k != "message"}
            if isinstance(detail, dict)
            else None
        )
        return BadRequestError(text, details=extra or None)
    return FaceServiceFailedError(f"The face-service failed on this request ({text}).")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__
