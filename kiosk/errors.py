"""Errors of the kiosk side (runtime, shared protocol, admin client and app), each with
a message a volunteer or an admin can act on.

    KioskError
    ├── StoreError            the local database cannot be used (corrupt, locked, newer)
    │   └── DamagedRowError   one outbox row cannot be read back; it is set aside
    ├── CredentialError       the OS keyring has no usable device credential or key
    ├── PairingError          pairing was refused or the server could not be reached
    ├── DeviceRevokedError    an admin revoked this kiosk; it wiped its gallery
    ├── SyncError             the server is unreachable, busy or refused a request
    │                         (`retry_after`: seconds the server asked to wait)
    ├── SourceError           a frame source could not be opened
    ├── PinError              a lockdown PIN that cannot be set, or an unreadable lock file
    ├── PreferencesError      the preferences file cannot be read or written
    ├── BoardError            the meeting board could not be fetched (tried again shortly)
    ├── BadgeError            a badge that must be refused; the message says why
    ├── TokenFormatError      text that is not a signed token (callers refuse it their way)
    ├── WireFormatError       an embedding on the wire that cannot be decoded (also a ValueError)
    ├── SheetError            the admin app's badge sheet could not be painted or saved
    └── AdminError            the server refused an admin request (its own message)
        └── SessionEndedError the admin must sign in again

Foreign exceptions (sqlite3, keyring, httpx, OpenCV) are mapped to these at the module
that calls the foreign code.
"""

from __future__ import annotations

from typing import Any


class KioskError(Exception):
    """Base of every error the kiosk core raises on purpose."""


class StoreError(KioskError):
    pass


class DamagedRowError(StoreError):
    """One queued check-in cannot be read back (its reason names what is wrong)."""


class CredentialError(KioskError):
    pass


class PairingError(KioskError):
    pass


class DeviceRevokedError(KioskError):
    pass


class SyncError(KioskError):
    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status  # the HTTP status, when the server answered


class SourceError(KioskError):
    pass


class AdminError(KioskError):
    """The server refused an admin request; the message is the server's own."""

    def __init__(self, message: str, *, status: int | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.details = details


class SessionEndedError(AdminError):
    """The admin must sign in again (no tokens, or the server ended the sign-in)."""


class BoardError(KioskError):
    """The board could not be fetched; the watcher tries again shortly."""


class PinError(KioskError):
    """A PIN that cannot be set (too short, not digits) or a lock file that cannot be read."""


class PreferencesError(KioskError):
    pass


class BadgeError(KioskError):
    """A badge that must be refused; the message says why, for the person holding it."""


class TokenFormatError(KioskError):
    """The text is not a token of this format (callers turn it into their own refusal)."""


class WireFormatError(KioskError, ValueError):
    """An embedding on the wire that cannot be decoded; the message says why."""


class SheetError(KioskError):
    """A badge sheet that could not be painted; the message says what to do."""
