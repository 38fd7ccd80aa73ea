"""The kiosk's secrets in the OS keyring: device credential, device secret, template key.

The device credential (issued by the server at pairing, a day long) proves the kiosk to
the server; the device secret renews it and changes at each renewal (a copied kiosk
is caught when both copies renew); the template key (32 random bytes, AES-256-GCM) encrypts the
face templates in the local database; the outbox key (the same kind) encrypts the face
crops and probe embeddings of queued check-ins. The template key is replaced at each
pairing and removed at unpairing with the gallery it opens; the outbox key outlives both,
because the check-ins it seals stay queued across them. None is ever written to a plain file: a
keyring backend that stores nothing (`fail`, `null`) or stores in clear text
(`keyrings.alt`'s plaintext file) is never used; when keyring chains such a backend with
a safe one, the safe one is used alone; with no safe one the app stops with a message
saying what to set up.
Tests inject a backend confined to their temporary folder through the constructor.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import sys

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend

from kiosk.errors import CredentialError

log = logging.getLogger(__name__)

SERVICE = "sonta-kiosk"
DEVICE_CREDENTIAL = "device-credential"
DEVICE_SECRET = "device-secret"  # noqa: S105 - a keyring entry name
TEMPLATE_KEY = "template-key"
OUTBOX_KEY = "outbox-key"
KEY_BYTES = 32
REPAIR = "Pair the kiosk again: `sonta kiosk unpair`, then `sonta kiosk pair URL CODE`."
OUTBOX_FIX = (
    f"Restore the keyring entry {OUTBOX_KEY!r} from a backup of the keyring; or remove it, "
    "and the check-ins it sealed are set aside (kept, and `sonta kiosk export-unsent FILE` "
    "writes who they were)."
)
_REFUSED_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")
KIOSK_REFUSAL = "The kiosk cannot keep its secrets safely"


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def insecure_reason(backend: KeyringBackend) -> str | None:
    """Why `backend` may not hold secrets, or None when it may.

    A chain may when one of its members may: `choose_backend` then uses that member alone.
    """
    if isinstance(backend, ChainerBackend):
        members = chain_members(backend)
        if not members:
            return "no keyring service is available"
        reasons = [insecure_reason(b) for b in members]
        if any(r is None for r in reasons):
            return None
        return next(r for r in reasons if r)
    name = _backend_name(backend)
    if name.startswith(_REFUSED_MODULES):
        return f"the keyring backend {name} stores nothing or stores secrets in a plain file"
    return None


def chain_members(backend: ChainerBackend) -> list[KeyringBackend]:
    """A chain's members, highest priority first (keyring's own order)."""
    return list(backend.backends)


def choose_backend(backend: KeyringBackend, *, refusal: str = KIOSK_REFUSAL) -> KeyringBackend:
    """The safe keyring to use given keyring's choice `backend`, else `CredentialError`.

    keyring chains every backend it finds: on a desktop where a test-only package such as
    keyrings.alt is also installed, that is the Secret Service *and* a plain file. The
    chain would write to its first member and read from any, so only the safe member with
    the highest priority is used, alone; a plain-file member is never read or written.
    """
    if isinstance(backend, ChainerBackend):
        safe = [b for b in chain_members(backend) if insecure_reason(b) is None]
        if safe:
            return safe[0]
    elif insecure_reason(backend) is None:
        return backend
    reason = insecure_reason(backend) or "no keyring service is available"
    raise CredentialError(f"{refusal}: {reason}. {_fix(backend)}")


def _fix(backend: KeyringBackend) -> str:
    """The exact way out for a refused keyring."""
    named = os.environ.get("PYTHON_KEYRING_BACKEND")
    if named and not isinstance(backend, ChainerBackend):
        return (
            f"PYTHON_KEYRING_BACKEND names {named}, which is not safe: unset it (or name "
            "keyring.backends.SecretService.Keyring), then start again."
        )
    if sys.platform.startswith("linux"):
        return (
            "Install GNOME Keyring (sudo apt install gnome-keyring) and start the app from a "
            "desktop session, where the login keyring is unlocked; on a venue PC that logs in "
            "automatically, run `sonta-kiosk-keyring setup` once as the kiosk's user "
            "(packaging/README.md, section Keyring), then start again."
        )
    return "Unlock the system keyring (Keychain or Windows Credential Manager), then start again."


def default_backend(*, refusal: str = KIOSK_REFUSAL) -> KeyringBackend:
    """The OS keyring's safe member, refused with a clear `CredentialError` when there is none.

    `refusal` starts the message, so each app speaks of itself.
    """
    return choose_backend(keyring.get_keyring(), refusal=refusal)


class CredentialStore:
    """Reads and writes the kiosk's secrets under one keyring service name.

    Each kiosk has its own service (`kiosk.device.keyring_entries.kiosk_credentials`)."""

    def __init__(self, backend: KeyringBackend | None = None, *, service: str = SERVICE) -> None:
        self._backend = backend if backend is not None else default_backend()
        self.service = service

    @property
    def backend_name(self) -> str:
        return _backend_name(self._backend)

    @property
    def backend(self) -> KeyringBackend:
        return self._backend

    def adopt(self, other: CredentialStore) -> None:
        """Copy `other`'s secrets here, then remove them there (a move, never a loss)."""
        for name in (DEVICE_CREDENTIAL, DEVICE_SECRET, TEMPLATE_KEY, OUTBOX_KEY):
            value = other._get(name)
            if value is not None:
                self._set(name, value)
        other.forget()
        other._delete(OUTBOX_KEY)

    def _get(self, name: str) -> str | None:
        try:
            return self._backend.get_password(self.service, name)
        except keyring.errors.KeyringError as exc:
            raise CredentialError(
                f"The OS keyring could not be read ({exc}). Unlock the keyring and start the "
                "kiosk again."
            ) from exc

    def _set(self, name: str, value: str) -> None:
        try:
            self._backend.set_password(self.service, name, value)
        except keyring.errors.KeyringError as exc:
            raise CredentialError(
                f"The OS keyring refused to store the kiosk's {name} ({exc}). Unlock the "
                "keyring and try again."
            ) from exc

    def is_paired(self) -> bool:
        return self._get(DEVICE_CREDENTIAL) is not None

    def device_credential(self) -> str:
        value = self._get(DEVICE_CREDENTIAL)
        if not value:
            raise CredentialError(
                f"This kiosk has no device credential in the OS keyring ({self.backend_name}); "
                f"it is not paired, or the keyring entry was removed. {REPAIR}"
            )
        return value

    def save_device_credential(self, credential: str) -> None:
        self._set(DEVICE_CREDENTIAL, credential)

    def device_secret(self) -> str | None:
        """The secret that renews the credential (None: paired before secrets existed)."""
        return self._get(DEVICE_SECRET) or None

    def save_device_secret(self, secret: str) -> None:
        self._set(DEVICE_SECRET, secret)

    def template_key(self) -> bytes:
        """The 32-byte key of the local templates; missing or malformed is CredentialError."""
        value = self._get(TEMPLATE_KEY)
        if not value:
            raise CredentialError(
                "The key that encrypts this kiosk's face templates is missing from the OS "
                f"keyring ({self.backend_name}), so the local gallery cannot be read. {REPAIR}"
            )
        return self._decoded(value, "template key", REPAIR)

    def _decoded(self, value: str, what: str, fix: str) -> bytes:
        try:
            key = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise CredentialError(
                f"The {what} in the OS keyring is malformed (not {KEY_BYTES} bytes in "
                f"base64). {fix}"
            )
        return key

    def outbox_key(self) -> bytes:
        """The 32-byte key of queued check-ins' face data, made the first time it is asked for.

        It is never replaced: a new one could not open the check-ins already queued.
        """
        value = self._get(OUTBOX_KEY)
        if value:
            return self._decoded(value, "outbox key", OUTBOX_FIX)
        key = secrets.token_bytes(KEY_BYTES)
        self._set(OUTBOX_KEY, base64.b64encode(key).decode("ascii"))
        log.info("outbox key created in the keyring (%s)", self.backend_name)
        return key

    def create_template_key(self) -> bytes:
        """A fresh random key, stored in place of any previous one (at pairing)."""
        key = secrets.token_bytes(KEY_BYTES)
        self._set(TEMPLATE_KEY, base64.b64encode(key).decode("ascii"))
        return key

    def forget(self) -> None:
        """Remove the pairing's secrets (unpairing); entries already gone are fine.

        The outbox key stays: it opens the check-ins an unpaired kiosk keeps queued.
        """
        for name in (DEVICE_CREDENTIAL, DEVICE_SECRET, TEMPLATE_KEY):
            self._delete(name)
        log.info("kiosk secrets removed from the keyring (%s)", self.backend_name)

    def _delete(self, name: str) -> None:
        try:
            self._backend.delete_password(self.service, name)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise CredentialError(
                f"The OS keyring could not remove the kiosk's {name} ({exc})."
            ) from exc
