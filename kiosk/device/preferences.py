"""The kiosk's local preferences: camera, meeting, sounds and liveness, in one JSON file.

Secrets are not preferences: the device credential lives in the OS keyring and the
lockdown PIN as a hash in its own file. A missing file means the defaults; a damaged
one is an error that says how to recover, and saving replaces the file atomically so a
power cut never leaves half a file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.errors import PreferencesError


def default_data_dir() -> Path:
    """The kiosk's data folder: SONTA_KIOSK_DIR, else ~/.local/share/sonta-kiosk."""
    return Path(os.environ.get("SONTA_KIOSK_DIR", "~/.local/share/sonta-kiosk")).expanduser()


# "meeting": follow the meeting's own policy; the others override it on this kiosk.
LIVENESS_CHOICES = ("meeting", "always", "review_only", "never")


@dataclass(frozen=True)
class Preferences:
    camera: str = "0"  # an index ("0") or a device path ("/dev/video2")
    camera_width: int = 640
    camera_height: int = 480
    meeting_id: str | None = None  # None: the meeting that is on now
    sounds: bool = True
    liveness: str = "meeting"
    lockdown: bool = True  # full-screen kiosk mode when a PIN is set

    def __post_init__(self) -> None:
        if self.liveness not in LIVENESS_CHOICES:
            raise PreferencesError(
                f"Liveness must be one of {', '.join(LIVENESS_CHOICES)}, not {self.liveness!r}."
            )
        if not self.camera.strip():
            raise PreferencesError("Choose a camera: an index such as 0, or a device path.")

    @property
    def camera_device(self) -> int | str:
        """What OpenCV opens: an integer index or a path."""
        return int(self.camera) if self.camera.isdigit() else self.camera


def load(path: Path) -> Preferences:
    """The saved preferences, or the defaults when none were saved yet."""
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Preferences()
    except (OSError, ValueError) as exc:
        raise PreferencesError(
            f"The kiosk settings file {path} cannot be read ({exc}). Delete it to start "
            "from the defaults, then choose the camera and meeting again in Settings."
        ) from exc
    known = {f.name for f in dataclasses.fields(Preferences)}
    try:
        return Preferences(**{k: v for k, v in raw.items() if k in known})
    except TypeError as exc:
        raise PreferencesError(f"The kiosk settings file {path} is damaged ({exc}).") from exc


def save(path: Path, preferences: Preferences) -> None:
    """Write ``preferences`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    with open(partial, "w", encoding="utf-8") as file:
        json.dump(dataclasses.asdict(preferences), file, indent=2)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
