"""What the pairing and settings dialogs ask of the kiosk core (no Qt here).

Every method may be slow (network, devices) and is run by the dialogs on a background
job; failures are ``KioskError`` with a sentence a volunteer can act on.
"""

from __future__ import annotations

import glob

import cv2
import numpy as np

from kiosk.errors import KioskError, SourceError
from kiosk.inference import BGRImage
from kiosk.syncing.client import SyncClient
from ui.runtime import KioskRuntime

PROBED_INDEXES = range(4)  # cameras 0-3: a kiosk PC rarely has more


class RuntimeSetup:
    def __init__(self, runtime: KioskRuntime) -> None:
        self.runtime = runtime

    def pair(self, server_url: str, code: str) -> None:
        self.runtime.pair(server_url, code)

    def meetings(self) -> list[tuple[str, str]]:
        """The meetings the server prepares this kiosk for (asked right after pairing)."""
        url = self.runtime.server_url
        if url is None:
            raise KioskError("This kiosk is not paired yet.")
        client = SyncClient(
            url,
            credential=self.runtime.credentials.device_credential,
            transport=self.runtime.options.transport,
        )
        try:
            update = client.gallery(since=0, scope=None)
        finally:
            client.close()
        return [(m.meeting_id, m.title) for m in update.meetings or ()]

    def known_meetings(self) -> list[tuple[str, str]]:
        """The meetings of the last sync (for the settings, without waiting on the network)."""
        store = self.runtime.store
        return [(m.meeting_id, m.title) for m in store.meetings()] if store is not None else []

    def cameras(self) -> list[str]:
        """Camera device paths present on this machine, or the indexes to try."""
        paths = sorted(glob.glob("/dev/video*"))
        return paths or [str(i) for i in PROBED_INDEXES]

    def test_camera(self, camera: str) -> BGRImage:
        """One picture from ``camera``, or a sentence saying why there is none."""
        device: int | str = int(camera) if camera.isdigit() else camera
        source = self.runtime.source
        if source is not None and source.description == f"camera {device}":
            latest = source.frames.latest()  # already open here: a device opens only once
            if latest is None:
                raise SourceError(f"Camera {camera} is open but has given no picture yet.")
            return latest.image
        capture = cv2.VideoCapture(device)
        try:
            if not capture.isOpened():
                raise SourceError(
                    f"Camera {camera} could not be opened. Check that it is plugged in and "
                    "that no other program is using it."
                )
            ok, image = capture.read()
            if not ok or image is None:
                raise SourceError(f"Camera {camera} opened but gave no picture.")
            return np.asarray(image, dtype=np.uint8)
        finally:
            capture.release()
