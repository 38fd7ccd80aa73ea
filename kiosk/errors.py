"""Errors of the kiosk core, each with a message a volunteer can act on.

    KioskError
    ├── StoreError            the local database cannot be used (corrupt, locked, newer)
    │   └── DamagedRowError   one outbox row cannot be read back; it is set aside
    ├── CredentialError       the OS keyring has no usable device credential or key
    ├── PairingError          pairing was refused or the server could not be reached
    ├── DeviceRevokedError    an admin revoked this kiosk; it wiped its gallery
    ├── SyncError             the server is unreachable, busy or refused a request
    │                         (`retry_after`: seconds the server asked to wait)
    └── SourceError           a frame source could not be opened

Foreign exceptions (sqlite3, keyring, httpx, OpenCV) are mapped to these at the module
that calls the foreign code.
"""

from __future__ import annotations


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
