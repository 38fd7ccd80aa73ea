"""Errors of the face-service, each mapped to one HTTP status in `app`.

    FaceServiceError
    ├── FaceServiceConfigError   start-up refused (non-loopback bind, missing API key, ...)
    ├── ImageTooLargeError       413: an uploaded image has more bytes than allowed
    ├── BadEmbeddingsError       422: reference embeddings that cannot be used
    └── UnavailableError         503: the model is not loaded yet, or too many requests wait

Face engine errors (`kiosk.inference.errors`) are mapped at the same boundary.
"""

from __future__ import annotations


class FaceServiceError(Exception):
    """Base of every error the face-service raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FaceServiceConfigError(FaceServiceError):
    """The settings cannot be used; the message names every problem."""


class ImageTooLargeError(FaceServiceError):
    """An image upload is over the per-image byte limit."""


class BadEmbeddingsError(FaceServiceError):
    """Reference embeddings sent to /compare are malformed."""


class UnavailableError(FaceServiceError):
    """The service cannot take this request now; the client should retry later."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
