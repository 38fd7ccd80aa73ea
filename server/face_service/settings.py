"""What the face-service reads from the environment, and the rule that keeps it private.

The face-service answers unauthenticated face inference, so it binds a loopback address
only. The separate-container setup (FACE_SERVICE_MODE=separate, e.g. docker-compose) is
the one exception, and there every request must carry FACE_SERVICE_API_KEY.
"""

from __future__ import annotations

import enum
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from kiosk.inference import EngineConfig
from server.face_service.errors import FaceServiceConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MIN_API_KEY_LENGTH = 32
# A phone photo at normal quality is a few MB; larger uploads are refused before decoding.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Two images for /compare plus the form fields (reference embeddings are under 1 MiB).
MAX_BODY_BYTES = 2 * MAX_IMAGE_BYTES + 2 * 1024 * 1024


class Mode(enum.Enum):
    """Where the face-service runs relative to the backend."""

    COMBINED = "combined"  # same container, loopback only (the default)
    SEPARATE = "separate"  # its own container, reachable on a network, API key required


@dataclass(frozen=True)
class FaceServiceSettings:
    """Bind address, access rule, concurrency and the face engine's configuration."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    mode: Mode = Mode.COMBINED
    api_key: str | None = field(default=None, repr=False)
    # Inferences running at once; each uses OMP_NUM_THREADS cores.
    workers: int = 1
    # Requests allowed to wait for a worker before new ones get 503 "busy".
    max_waiting: int = 16
    max_image_bytes: int = MAX_IMAGE_BYTES
    engine: EngineConfig = field(default_factory=EngineConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaceServiceSettings:
        """Settings from FACE_SERVICE_* and the engine's FACE_MODEL* variables."""
        env = os.environ if environ is None else environ
        problems: list[str] = []
        mode_name = env.get("FACE_SERVICE_MODE", "").strip().lower() or Mode.COMBINED.value
        try:
            mode = Mode(mode_name)
        except ValueError:
            problems.append(
                f"FACE_SERVICE_MODE must be 'combined' or 'separate', got {mode_name!r}"
            )
            mode = Mode.COMBINED
        port = _int(env, "FACE_SERVICE_PORT", DEFAULT_PORT, (1, 65535), problems)
        workers = _int(env, "FACE_SERVICE_WORKERS", 1, (1, 64), problems)
        if problems:
            raise FaceServiceConfigError(_message(problems))
        return cls(
            host=env.get("FACE_SERVICE_HOST", "").strip() or DEFAULT_HOST,
            port=port,
            mode=mode,
            api_key=env.get("FACE_SERVICE_API_KEY", "").strip() or None,
            workers=workers,
            engine=EngineConfig.from_env(env),
        )

    def check(self) -> None:
        """Refuse a public bind outside the separate-container setup, or a weak API key."""
        problems: list[str] = []
        if self.mode is Mode.SEPARATE and self.api_key is None:
            problems.append(
                "FACE_SERVICE_MODE=separate requires FACE_SERVICE_API_KEY "
                f"(a random value of at least {MIN_API_KEY_LENGTH} characters, shared "
                "with the backend)"
            )
        if self.api_key is not None and len(self.api_key) < MIN_API_KEY_LENGTH:
            problems.append(
                f"FACE_SERVICE_API_KEY must be at least {MIN_API_KEY_LENGTH} characters, "
                f"got {len(self.api_key)}"
            )
        if self.mode is Mode.COMBINED and not is_loopback(self.host):
            problems.append(
                f"refusing to bind the face-service to {self.host}: it must stay private "
                f"and listens on a loopback address only (default {DEFAULT_HOST}). Only "
                "for the separate-container setup set FACE_SERVICE_MODE=separate and "
                "FACE_SERVICE_API_KEY"
            )
        if problems:
            raise FaceServiceConfigError(_message(problems))

    @property
    def private(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """True for localhost and any 127.0.0.0/8 or ::1 address."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _int(
    env: Mapping[str, str], name: str, default: int, bounds: tuple[int, int], problems: list[str]
) -> int:
    """An integer variable within ``bounds``; a problem is recorded instead of raising."""
    low, high = bounds
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        problems.append(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
        return default
    return int(raw)


def _message(problems: list[str]) -> str:
    listed = "\n".join(f"  - {p}" for p in problems)
    return f"The face-service cannot start: {len(problems)} problem(s):\n{listed}"
