"""Selfie clips as phones record them (H.264 MP4, H.264 and HEVC MOV, VP9 WebM), made
from still frames with Debian's ffmpeg (OpenCV's wheel decodes these but encodes none
of H.264 or HEVC)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.utils.y4m import Frame, write_y4m

# container suffix and ffmpeg video options, by the name the tests use
FORMATS: dict[str, tuple[str, list[str]]] = {
    "h264-mp4": ("mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]),
    "h264-mov": ("mov", ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]),
    "hevc-mov": (
        "mov",
        [
            *("-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"),
            *("-tag:v", "hvc1", "-pix_fmt", "yuv420p"),
        ],
    ),
    "vp9-webm": (
        "webm",
        ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"],
    ),
}


def encode(frames: Sequence[Frame], out: Path, kind: str = "h264-mp4", *, fps: int = 10) -> Path:
    """Encode BGR frames of one even size into `out` (its suffix set by `kind`)."""
    suffix, options = FORMATS[kind]
    target = out.with_suffix("." + suffix)
    raw = write_y4m(out.with_suffix(".y4m"), frames, fps=fps)
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(raw), *options, "-an", str(target)]
    subprocess.run(command, check=True, timeout=300)
    raw.unlink()
    return target
