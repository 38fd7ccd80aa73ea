"""The backend's exceptions, mapped to HTTP responses at one boundary (`api.errors`).

SontaServerError             anything the backend refuses, with a message a person can act on
├── ConfigError              start-up refused: missing, default-looking or malformed settings
├── BackupError              a backup or restore refused or failed; nothing was replaced
├── BadRequestError          422: input that cannot be used
├── AuthError                401: missing, invalid, expired or revoked credentials
├── ForbiddenError           403: signed in, but the role does not allow it
├── NotFoundError            404
├── ConflictError            409: the request contradicts the current state
├── PayloadTooLargeError     413
├── TooManyRequestsError     429: throttled; carries the seconds to wait
└── ServiceUnavailableError  503: the database or the cache cannot be reached
"""

from __future__ import annotations

from typing import Any


class SontaServerError(Exception):
    """Base of every error the backend raises on purpose."""

    status_code = 500

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigError(SontaServerError):
    """The settings cannot be used; the message lists every problem at once."""


class BackupError(SontaServerError):
    """`sonta backup` or `sonta restore` cannot go on; the message says what to do."""


class BadRequestError(SontaServerError):
    status_code = 422


class AuthError(SontaServerError):
    status_code = 401


class ForbiddenError(SontaServerError):
    status_code = 403


class NotFoundError(SontaServerError):
    status_code = 404


class ConflictError(SontaServerError):
    status_code = 409


class PayloadTooLargeError(SontaServerError):
    status_code = 413


class TooManyRequestsError(SontaServerError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailableError(SontaServerError):
    status_code = 503
