"""Frame sources: a camera, a video file or a folder of images, each on its own thread.

Every source writes into a one-slot ``LatestFrame`` and never blocks its caller: a
camera that fails or is unplugged reports ``LOST``, waits out a back-off (``REOPENING``)
and is opened again; a file or folder that ends reports ``STOPPED``. Threads stop
cooperatively through a ``threading.Event``; the OpenCV capture is released in a
``finally`` so a camera is never left busy after exit.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import cv2

from kiosk.capture.frames import LatestFrame
from kiosk.errors import SourceError
from kiosk.events import EventBus, SourceState, SourceStateChanged
from kiosk.inference import BGRImage, FaceEngineError, read_image_file

log = logging.getLogger(__name__)
# Failed opens of a device that is not there before it counts as absent (about 2 s with
# the default back-off): a camera still being set up by the OS gets a few tries first.
ABSENT_AFTER = 3

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


class Reader(Protocol):
    """An opened device or file: ``read`` gives the next image, None at the end."""

    def read(self) -> BGRImage | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts to reopen: ``first`` doubling up to ``limit`` seconds."""

    first: float = 0.5
    limit: float = 8.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.limit)


class CaptureSource:
    """A capture thread around a ``Reader`` factory, with states and reopening."""

    def __init__(
        self,
        open_reader: Callable[[], Reader],
        description: str,
        *,
        fps: float | None = None,
        backoff: Backoff | None = None,
        events: EventBus | None = None,
        present: Callable[[], bool] | None = None,
    ) -> None:
        """`present` says whether the device is there at all (a camera's device node):
        after `ABSENT_AFTER` failed opens without it the state is ABSENT, and the source
        keeps looking for it quietly (no LOST/REOPENING on every try)."""
        self.frames = LatestFrame()
        self.description = description
        self._open_reader = open_reader
        self._present = present
        self._failed_opens = 0
        self._interval = 1.0 / fps if fps else 0.0  # 0: the device paces itself
        self._backoff = backoff or Backoff()
        self._events = events
        self._stop = threading.Event()
        self._state = SourceState.STOPPED
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SourceState:
        return self._state

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._set_state(SourceState.STARTING, self.description)
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to finish and wait for it (the device is released on its way out)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _set_state(self, state: SourceState, detail: str = "") -> None:
        if state is self._state and state is not SourceState.LOST:
            return
        self._state = state
        log.info("source %s: %s %s", self.description, state.value, detail)
        if self._events is not None:
            self._events.publish(SourceStateChanged(state, detail))

    def _run(self) -> None:
        delays = self._backoff.delays()
        while not self._stop.is_set():
            ended = self._capture_once()
            if ended or self._stop.is_set():
                break
            delay = next(delays)
            if self._state is not SourceState.ABSENT:
                self._set_state(SourceState.REOPENING, f"trying again in {delay:.1f} s")
            self._stop.wait(delay)
        self._set_state(SourceState.STOPPED, "ended" if not self._stop.is_set() else "")

    def _capture_once(self) -> bool:
        """Open, then copy frames until the end (True) or a failure (False)."""
        try:
            reader = self._open_reader()
        except Exception as exc:
            self._failed_opens += 1
            if self._failed_opens >= ABSENT_AFTER and not self._is_present():
                self._set_state(SourceState.ABSENT, f"{self.description} is not connected")
            else:
                self._set_state(SourceState.LOST, _reason(exc))
            return False
        self._failed_opens = 0
        try:
            return self._pump(reader)
        except Exception as exc:
            self._set_state(SourceState.LOST, _reason(exc))
            return False
        finally:
            reader.close()

    def _is_present(self) -> bool:
        try:
            return self._present is None or self._present()
        except OSError:
            return True  # cannot tell: say what the opening said

    def _pump(self, reader: Reader) -> bool:
        due = time.monotonic()
        while not self._stop.is_set():
            image = reader.read()
            if image is None:
                return True
            self.frames.put(image)
            self._set_state(SourceState.LIVE, self.description)
            if self._interval:
                due += self._interval
                lag = due - time.monotonic()
                if lag > 0:
                    self._stop.wait(lag)
                else:
                    due = time.monotonic()  # behind: drop the debt, never burst
        return False


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` the sources use (tests inject their own)."""

    def isOpened(self) -> bool: ...  # noqa: N802  (OpenCV's name)

    def read(self) -> tuple[bool, BGRImage | None]: ...

    def set(self, prop: int, value: float) -> bool: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


CaptureFactory = Callable[[int | str], Capture]


class _CaptureReader:
    """Frames from an opened capture; a few failed reads in a row mean the device is lost."""

    def __init__(self, capture: Capture, name: str, *, end_is_failure: bool) -> None:
        self._capture = capture
        self._name = name
        self._end_is_failure = end_is_failure
        self._failures = 0

    def read(self) -> BGRImage | None:
        ok, image = self._capture.read()
        if ok and image is not None:
            self._failures = 0
            return image
        if not self._end_is_failure:
            return None
        self._failures += 1
        if self._failures >= 3:
            raise SourceError(f"{self._name} stopped giving pictures (unplugged?)")
        return self.read()

    def close(self) -> None:
        self._capture.release()


def _default_capture(device: int | str) -> Capture:
    # OpenCV's stubs type read() loosely (Mat | UMat); frames from a capture are BGR uint8.
    return cast(Capture, cv2.VideoCapture(device))


def camera_source(
    device: int | str,
    *,
    width: int = 640,
    height: int = 480,
    fps: float = 30.0,
    capture_factory: CaptureFactory = _default_capture,
    backoff: Backoff | None = None,
    events: EventBus | None = None,
) -> CaptureSource:
    """A camera by index (0, 1, ...) or device path, at an explicit resolution and rate."""
    name = f"camera {device}"

    def open_camera() -> Reader:
        capture = capture_factory(device)
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"The {name} could not be opened. Check that it is plugged in and that no "
                "other program is using it."
            )
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # never hand out a stale buffered frame
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_FPS, fps)
        return _CaptureReader(capture, name, end_is_failure=True)

    return CaptureSource(
        open_camera,
        name,
        backoff=backoff,
        events=events,
        present=lambda: camera_present(str(device)),
    )


def video_source(
    path: Path,
    *,
    fps: float | None = None,
    capture_factory: CaptureFactory = _default_capture,
    events: EventBus | None = None,
) -> CaptureSource:
    """A video file played at ``fps`` (default: the file's own rate), once."""
    if not path.is_file():
        raise SourceError(f"No video file at {path}.")
    if fps is None:
        probe = capture_factory(str(path))
        try:
            fps = float(probe.get(cv2.CAP_PROP_FPS)) or None
        finally:
            probe.release()

    def open_video() -> Reader:
        capture = capture_factory(str(path))
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{path} is not a video OpenCV can read.")
        return _CaptureReader(capture, path.name, end_is_failure=False)

    return CaptureSource(open_video, f"video {path.name}", fps=fps or 30.0, events=events)


class _FolderReader:
    def __init__(self, files: list[Path], repeat: int) -> None:
        self._files = iter(files)
        self._repeat = repeat
        self._current: BGRImage | None = None
        self._left = 0

    def read(self) -> BGRImage | None:
        while self._left == 0:
            path = next(self._files, None)
            if path is None:
                return None
            try:
                self._current = read_image_file(path).pixels
            except FaceEngineError as exc:
                log.warning("skipping %s: %s", path.name, exc)
                continue
            self._left = self._repeat
        self._left -= 1
        return self._current

    def close(self) -> None:
        self._current = None


def folder_source(
    folder: Path, *, fps: float = 10.0, repeat: int = 1, events: EventBus | None = None
) -> CaptureSource:
    """The images of ``folder`` in name order at ``fps``, each shown ``repeat`` times, once."""
    if not folder.is_dir():
        raise SourceError(f"No folder at {folder}.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SourceError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return CaptureSource(
        lambda: _FolderReader(files, max(1, repeat)),
        f"folder {folder.name}",
        fps=fps,
        events=events,
    )


def camera_present(spec: str) -> bool:
    """Whether `spec` (a camera index, /dev/videoN, a video file or a folder) is there.

    On Linux a camera index counts as present when its device node (/dev/videoN) exists;
    elsewhere there is no cheap test, so an index counts as present and opening it says.
    """
    if spec.isdigit():
        return not sys.platform.startswith("linux") or Path(f"/dev/video{spec}").exists()
    return Path(spec).expanduser().exists()
