"""A short selfie video from the phone's own camera app, turned into a selfie and a burst.

Over plain http (a venue server on its Wi-Fi address) browsers give a page no live
camera, but `<input type="file" accept="video/*" capture="user">` still opens the
phone's camera app. The page shows the head-turn challenge first; the person records a
few seconds looking at the camera, then turning as asked. Here the clip becomes what
the live camera would have sent: its first frame the selfie, later frames the burst,
so the same liveness check judges it (`phone_liveness`).

Decoding is the cost, so it is bounded before and while it runs. Checked first, from
the file: its size, its container (MP4/MOV or WebM/Matroska from the first bytes), then
from the stream header its codec (H.264, HEVC, VP8, VP9, AV1) and its frame size (at
most 1080p: a phone's 4K HEVC clip cost ~19 s to decode on 2 cores, 1080p ~7 s). Then
only the first `MAX_SECONDS` are read, on one decoder thread, within `BUDGET_S`; every
frame is decoded (inter-frame codecs need it) but only the sampled ones are converted.
The file is deleted as soon as the frames are read: no video is kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from server.backend.errors import BadRequestError, PayloadTooLargeError

MAX_BYTES = 16 * 1024 * 1024  # 5 s of 1080p H.264 at a phone's ~17 Mbit/s is ~11 MB
MAX_PIXELS = 1920 * 1088  # 1080p, either way up (H.264 codes 1080 rows as 1088)
MAX_SECONDS = 6.0
BUDGET_S = 15.0  # wall time for reading frames; what was sampled by then is used
SAMPLES = 10  # the selfie and up to nine burst frames, evenly over what is read
SELFIE_SIDE = 640  # as the live page sends them
BURST_SIDE = 400
CODECS = frozenset({"h264", "avc1", "hevc", "hvc1", "hev1", "VP80", "VP90", "av01", "AV01"})
RECORD_AGAIN = (
    "Record the video again with your phone's camera app (a few seconds, at 1080p or "
    "lower) and send it."
)


@dataclass(frozen=True)
class VideoInfo:
    """What the stream header says: codec, frame size, frames per second, frame count."""

    codec: str
    width: int
    height: int
    fps: float
    frames: int


@dataclass(frozen=True)
class SampledClip:
    """The selfie (first usable frame) and the burst, as JPEGs, with their times."""

    selfie: bytes
    burst: tuple[bytes, ...]
    times_s: tuple[float, ...]


def check_container(head: bytes, size: int) -> None:
    """Refuse from the size and the first bytes alone: nothing is decoded."""
    if size == 0:
        raise BadRequestError("The video is empty (0 bytes). " + RECORD_AGAIN)
    if size > MAX_BYTES:
        raise PayloadTooLargeError(
            f"The video is {size / 1e6:.1f} MB; the limit is {MAX_BYTES // (1024 * 1024)} MiB. "
            "Record a shorter clip (about 3 seconds) at 1080p or lower."
        )
    iso_media = head[4:8] in {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"}
    matroska = head[:4] == b"\x1a\x45\xdf\xa3"
    if not (iso_media or matroska):
        raise BadRequestError(
            "This is not a video we read: send the MP4, MOV or WebM clip your phone's "
            "camera app recorded."
        )


@contextmanager
def opened(path: Path) -> Iterator[tuple[cv2.VideoCapture, VideoInfo]]:
    """The clip opened on one decoder thread, its header checked; released after."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    try:
        if not capture.isOpened():
            raise BadRequestError("The video could not be opened. " + RECORD_AGAIN)
        info = _info(capture)
        _check(info)
        yield capture, info
    finally:
        capture.release()


def _info(capture: cv2.VideoCapture) -> VideoInfo:
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC))
    codec = fourcc.to_bytes(4, "little").decode("latin-1").strip("\0 ") if fourcc > 0 else ""
    return VideoInfo(
        codec=codec,
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fps=float(capture.get(cv2.CAP_PROP_FPS)),
        frames=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
    )


def _check(info: VideoInfo) -> None:
    if info.codec not in CODECS:
        raise BadRequestError(
            f"The video's format ({info.codec or 'unknown'}) is not one we read: send a "
            "clip from the phone's camera app (H.264, HEVC, VP8, VP9 or AV1)."
        )
    if info.width < 1 or info.height < 1:
        raise BadRequestError("The video has no picture. " + RECORD_AGAIN)
    if info.width * info.height > MAX_PIXELS:
        raise BadRequestError(
            f"The video is {info.width}x{info.height} pixels; record at 1080p or lower "
            "(the camera app's video resolution setting) and send it again."
        )


def sample(path: Path) -> SampledClip:
    """The selfie and burst from a clip at `path` (checked as described above)."""
    with opened(path) as (capture, info):
        fps = info.fps if 1.0 <= info.fps <= 240.0 else 30.0
        readable = int(MAX_SECONDS * fps)
        total = min(info.frames, readable) if info.frames > 0 else readable
        wanted = _indices(total)
        frames = _read(capture, wanted, fps)
    if len(frames) < 2:
        raise BadRequestError("The video is too short to see a head turn. " + RECORD_AGAIN)
    (first_time, first), *rest = frames
    return SampledClip(
        selfie=_jpeg(first, SELFIE_SIDE),
        burst=tuple(_jpeg(pixels, BURST_SIDE) for _, pixels in rest),
        times_s=(first_time, *(when for when, _ in rest)),
    )


def _indices(total: int) -> list[int]:
    """SAMPLES frame indices spread evenly over `total` frames (the first skipped: a
    camera app's first frame is often dark while it adjusts)."""
    if total <= 1:
        return [0]
    start = min(3, total - 1)
    steps = np.linspace(start, total - 1, num=min(SAMPLES, total - start))
    return sorted({round(float(i)) for i in steps})


def _read(
    capture: cv2.VideoCapture, wanted: list[int], fps: float
) -> list[tuple[float, NDArray[np.uint8]]]:
    """Decode up to the last wanted frame, converting only the wanted ones."""
    deadline = time.monotonic() + BUDGET_S
    frames: list[tuple[float, NDArray[np.uint8]]] = []
    targets = set(wanted)
    for index in range(wanted[-1] + 1):
        if time.monotonic() > deadline or not capture.grab():
            break
        if index in targets:
            ok, pixels = capture.retrieve()
            if ok and pixels is not None:
                frames.append((index / fps, np.asarray(pixels, dtype=np.uint8)))
    return frames


def _jpeg(pixels: NDArray[np.uint8], side: int) -> bytes:
    height, width = pixels.shape[:2]
    factor = min(1.0, side / max(height, width))
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        pixels = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), np.uint8)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise BadRequestError("A frame of the video could not be read. " + RECORD_AGAIN)
    return bytes(data.tobytes())
