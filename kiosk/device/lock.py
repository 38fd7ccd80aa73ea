"""The kiosk's lockdown PIN: set by an admin, kept only as a salted scrypt hash.

Leaving full-screen, opening settings and the admin screens need this PIN. The file
holds the hash and its parameters, never the PIN; wrong guesses are slowed down, so a
four-digit PIN cannot be tried through from the touch screen in an afternoon.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.errors import PinError

# scrypt cost: about 0.1-0.3 s and 16 MiB of memory per guess on a kiosk PC.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_DIGITS, MAX_DIGITS = 4, 12
FREE_TRIES = 5  # wrong PINs before each further try must wait
LOCKOUT_S = 30.0


def _derive(
    pin: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def check_new_pin(pin: str) -> None:
    """Raise ``PinError`` with advice unless ``pin`` is 4 to 12 digits."""
    if not pin.isdigit() or not MIN_DIGITS <= len(pin) <= MAX_DIGITS:
        raise PinError(f"The PIN must be {MIN_DIGITS} to {MAX_DIGITS} digits (0-9) long.")


class PinLock:
    """The PIN hash in ``path`` (a small JSON file); thread-safe."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._locked_until = 0.0

    @property
    def is_set(self) -> bool:
        return self.path.is_file()

    def set_pin(self, pin: str) -> None:
        """Replace the PIN (the caller has checked the admin's right to do so)."""
        check_new_pin(pin)
        salt = secrets.token_bytes(16)
        record = {
            "scheme": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": base64.b64encode(salt).decode(),
            "hash": base64.b64encode(_derive(pin, salt)).decode(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        with open(partial, "w", encoding="utf-8") as file:
            json.dump(record, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, self.path)

    def wait_left(self) -> float:
        """Seconds before another PIN may be tried (0 when it may be tried now)."""
        return max(0.0, self._locked_until - self._clock())

    def verify(self, pin: str) -> bool:
        """True when ``pin`` is the PIN; False when wrong or when tries must wait."""
        with self._lock:
            if self.wait_left() > 0:
                return False
            if hmac.compare_digest(self._hash_of(pin), self._stored()):
                self._failures = 0
                return True
            self._failures += 1
            if self._failures >= FREE_TRIES:
                self._locked_until = self._clock() + LOCKOUT_S
            return False

    def _record(self) -> dict[str, object]:
        try:
            record: dict[str, object] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PinError(
                f"The kiosk's PIN file {self.path} cannot be read ({exc}); an admin can "
                "set a new PIN with `sonta kiosk set-pin`."
            ) from exc
        return record

    def _stored(self) -> bytes:
        return base64.b64decode(str(self._record()["hash"]))

    def _hash_of(self, pin: str) -> bytes:
        record = self._record()
        cost = [int(str(record[name])) for name in ("n", "r", "p")]
        return _derive(pin, base64.b64decode(str(record["salt"])), *cost)
