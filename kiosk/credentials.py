"""The kiosk's secrets in the OS keyring: device credential, device secret, template key.

The device credential (issued by the server at pairing, a day long) proves the kiosk to
the server; the device secret renews it and changes at each renewal (a copied kiosk
is caught when both copies renew); the template key (32 random bytes, AES-256-GCM) encrypts the
face templates in the local database. Neither is ever written to a plain file: a
keyring backend that stores nothing (`fail`, `null`) or stores in clear text
(`keyrings.alt`'s plaintext file) is refused with a message saying what to set up.
Tests inject a backend confined to their temporary folder through the constructor.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets

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
KEY_BYTES = 32
REPAIR = "Pair the kiosk again: `sonta kiosk unpair`, then `sonta kiosk pair URL CODE`."
_REFUSED_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def insecure_reason(backend: KeyringBackend) -> str | None:
    """Why `backend` may not hold the kiosk's secrets, or None when it may."""
    if isinstance(backend, ChainerBackend):
        if not backend.backends:
            return "no keyring service is available"
        reasons = [r for b in backend.backends if (r := insecure_reason(b))]
        return reasons[0] if reasons else None
    name = _backend_name(backend)
    if name.startswith(_REFUSED_MODULES):
        return f"the keyring backend {name} stores nothing or stores secrets in a plain file"
    return None


def default_backend() -> KeyringBackend:
    """The OS keyring, refused with a clear `CredentialError` when it is not a safe one."""
    backend = keyring.get_keyring()
    reason = insecure_reason(backend)
    if reason is not None:
        raise CredentialError(
            f"The kiosk cannot keep its secrets safely: {reason}. Install and unlock the "
            "system keyring (GNOME Keyring or KWallet on Linux; on a venue PC that logs in "
            "automatically, set up a keyring collection the kiosk user opens without a "
            "prompt), then start the kiosk again."
        )
    return backend


class CredentialStore:
    """Reads and writes the kiosk's two secrets under one keyring service name."""

    def __init__(self, backend: KeyringBackend | None = None, *, service: str = SERVICE) -> None:
        self._backend = backend if backend is not None else default_backend()
        self.service = service

    @property
    def backend_name(self) -> str:
        return _backend_name(self._backend)

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
        try:
            key = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise CredentialError(
                f"The template key in the OS keyring is malformed (not {KEY_BYTES} bytes in "
                f"base64). {REPAIR}"
            )
        return key

    def create_template_key(self) -> bytes:
        """A fresh random key, stored in place of any previous one (at pairing)."""
        key = secrets.token_bytes(KEY_BYTES)
        self._set(TEMPLATE_KEY, base64.b64encode(key).decode("ascii"))
        return key

    def forget(self) -> None:
        """Remove every secret (unpairing); entries already gone are fine."""
        for name in (DEVICE_CREDENTIAL, DEVICE_SECRET, TEMPLATE_KEY):
            try:
                self._backend.delete_password(self.service, name)
            except keyring.errors.PasswordDeleteError:
                pass
            except keyring.errors.KeyringError as exc:
                raise CredentialError(
                    f"The OS keyring could not remove the kiosk's {name} ({exc})."
                ) from exc
        log.info("kiosk secrets removed from the keyring (%s)", self.backend_name)
