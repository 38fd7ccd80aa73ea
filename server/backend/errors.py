"""The backend's exceptions, mapped to HTTP responses at one boundary (`api.errors`).

SontaServerError                 anything the backend refuses, with a message a person can act on
├── ConfigError                  start-up refused: missing, default-looking or malformed settings
├── BackupError                  a backup or restore refused or failed; nothing was replaced
├── TemplateDecryptionError      a face template that does not open: wrong key, or another row's
├── BadRequestError              422: input that cannot be used
├── AuthError                    401: missing, invalid, expired or revoked credentials
├── ForbiddenError               403: signed in, but the role does not allow it
├── NotFoundError                404
├── ConflictError                409: the request contradicts the current state
│   └── CheckinRefusedError      the meeting is not taking this check-in (closed, not expected)
├── PayloadTooLargeError         413
├── TooManyRequestsError         429: throttled; carries the seconds to wait
├── FaceServiceFailedError       502: the face-service answered with a server error
├── ServiceUnavailableError      503: the database or the cache cannot be reached
│   ├── BusyError                503 with Retry-After: this replica is at capacity, not broken
│   └── FaceServiceUnavailableError  the face-service is not running, still loading, timed
│                                out, or refuses the backend's API key
├── ItemRefusedError             one item of a kiosk's batch refused; its reason goes back in
│   │                            the batch's results, never as a response of its own
│   └── SuspiciousItemError      refused, and worth an admin's look (a replayed template)
└── RescoreError                 a kiosk's probe cannot be scored (the item's refusal reason)

RuntimeError
└── ReadOnlyError                a write through a read-only session: a programming error, so
                                 not a SontaServerError: it reaches the log with its traceback
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


class TemplateDecryptionError(SontaServerError):
    """A template could not be decrypted: wrong key, or not the row it was made for."""


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


class CheckinRefusedError(ConflictError):
    """The meeting is not taking this check-in (not active, or the person is not expected)."""


class PayloadTooLargeError(SontaServerError):
    status_code = 413


class TooManyRequestsError(SontaServerError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FaceServiceFailedError(SontaServerError):
    """502: the face-service answered with a server error."""

    status_code = 502


class ServiceUnavailableError(SontaServerError):
    status_code = 503


class BusyError(ServiceUnavailableError):
    """503 with Retry-After: this replica is at capacity right now, not broken."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FaceServiceUnavailableError(ServiceUnavailableError):
    """503: the face-service cannot be used right now."""


class ItemRefusedError(SontaServerError):
    """One item of a kiosk's batch cannot be recorded; the message is the reason returned
    for it in the batch's results (never a response of its own)."""

    suspicious = False


class SuspiciousItemError(ItemRefusedError):
    """Refused, and worth an admin's look (a replayed template)."""

    suspicious = True


class RescoreError(SontaServerError):
    """A kiosk's probe cannot be scored; the message is the item's refusal reason."""

    def __init__(self, message: str, *, suspicious: bool = False) -> None:
        super().__init__(message)
        self.suspicious = suspicious


class ReadOnlyError(RuntimeError):
    """A write was attempted through a read-only session (a programming error)."""

    def __init__(self) -> None:
        super().__init__("This session only reads; write through Backend.sessions instead.")
