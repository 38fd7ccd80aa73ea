"""Test doubles for the pipeline's store side, and frames of real people lined up as video."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from kiosk.capture.frames import Frame
from kiosk.inference.engine import FaceEngine
from kiosk.inference.gallery import Gallery, Template
from kiosk.inference.images import BGRImage
from kiosk.inference.quality import Purpose
from kiosk.protocol.checkins import NewCheckin, RecordOutcome
from kiosk.recognition.decisions import Meeting
from tests.kiosk.conftest import photo
from tests.kiosk.media import place_face

FPS = 30.0


@dataclass
class FakeRecorder:
    """Keeps check-ins in memory, one per (meeting, member), as the store promises."""

    records: list[NewCheckin] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # "record" entries, shared with a listener
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, checkin: NewCheckin) -> RecordOutcome:
        with self._lock:
            self.log.append("record")
            for earlier in self.records:
                if (earlier.meeting_id, earlier.member_id) == (
                    checkin.meeting_id,
                    checkin.member_id,
                ):
                    return RecordOutcome("already_checked_in", earlier.key, earlier.device_time)
            self.records.append(checkin)
            return RecordOutcome("recorded", checkin.key, datetime.now(UTC))


class PhotoRoster:
    """A real gallery: each member enrolled by the real engine from a real photo."""

    def __init__(self, engine: FaceEngine, people: dict[str, str]) -> None:
        self.ids = {name: uuid.uuid5(uuid.NAMESPACE_DNS, name) for name in people}
        self.names = {member: name for name, member in self.ids.items()}
        self.gallery = Gallery(engine.model_id)
        for name, photo_name in people.items():
            face = engine.embed_single(photo(photo_name), purpose=Purpose.ENROLMENT)
            assert face.embedding is not None
            member = str(self.ids[name])
            self.gallery.add(Template(f"{member}-1", member, face.embedding))

    def gallery_for(self, meeting_id: uuid.UUID) -> Gallery:
        return self.gallery

    def expects_nobody(self, meeting_id: uuid.UUID) -> bool:
        return False

    def gallery_generation(self) -> int:
        return 1

    def member_name(self, member_id: uuid.UUID) -> str | None:
        return self.names.get(member_id)


MEETING = Meeting(uuid.uuid5(uuid.NAMESPACE_DNS, "meeting"), "Sonta Heads meeting")


def lined_up(engine: FaceEngine, name: str, **placement: float) -> BGRImage:
    """A 640x480 frame of the largest face in photo ``name``, eyes at a fixed spot."""
    image = photo(name)
    face = max(engine.detect(image), key=lambda f: f.inter_eye_distance)
    return place_face(image, face.keypoints, **placement)  # type: ignore[arg-type]


class Clock:
    """Frames stamped as if captured by a 30 fps camera (deterministic, no sleeping)."""

    def __init__(self) -> None:
        self.seq = 0

    def frames(self, images: Iterable[BGRImage]) -> list[Frame]:
        out = []
        for image in images:
            self.seq += 1
            out.append(Frame(image, self.seq, self.seq / FPS))
        return out

    def blank(self, count: int) -> list[Frame]:
        return self.frames(np.full((480, 640, 3), 90, np.uint8) for _ in range(count))
