"""Success and failure sounds behind a small protocol, so tests use a fake.

Qt Multimedia's ``QSoundEffect`` fails quietly when the machine has no audio device
(the tests, a kiosk with its speakers unplugged); that must never disturb check-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QUrl

from ui.flow import Sound

SOUNDS_DIR = Path(__file__).resolve().parents[1] / "resources" / "sounds"


class SoundPlayer(Protocol):
    enabled: bool

    def play(self, sound: Sound) -> None: ...


class QtSoundPlayer(QObject):
    """Plays the WAVs in ``resources/sounds`` with QSoundEffect (low latency)."""

    def __init__(self, *, enabled: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtMultimedia import QSoundEffect  # noqa: PLC0415 (audio stack: only here)

        self.enabled = enabled
        self._effects: dict[Sound, QSoundEffect] = {}
        for sound in Sound:
            effect = QSoundEffect(self)
            effect.setSource(QUrl.fromLocalFile(str(SOUNDS_DIR / f"{sound.value}.wav")))
            effect.setVolume(0.8)
            self._effects[sound] = effect

    def play(self, sound: Sound) -> None:
        if self.enabled:
            self._effects[sound].play()


class SilentPlayer:
    """For a kiosk with sounds turned off at start-up, or without Qt Multimedia."""

    def __init__(self) -> None:
        self.enabled = False

    def play(self, sound: Sound) -> None:
        return None
