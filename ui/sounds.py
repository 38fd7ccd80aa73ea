"""Success and failure sounds behind a small protocol, so tests use a fake.

``QSoundEffect`` decodes the WAVs itself and plays them through the system's audio
service (PulseAudio or PipeWire) from Qt Multimedia's own library: it needs no media
back-end plugin, so the kiosk's bundle leaves out the FFmpeg back-end (and the Qt Quick
it links). It fails quietly when the machine has no audio device (the tests, a kiosk with
its speakers unplugged); that must never disturb check-in, so it is only logged, once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QUrl

from ui.flow import Sound

SOUNDS_DIR = Path(__file__).resolve().parents[1] / "resources" / "sounds"

log = logging.getLogger(__name__)


class SoundPlayer(Protocol):
    enabled: bool

    def play(self, sound: Sound) -> None: ...


class QtSoundPlayer(QObject):
    """Plays the WAVs in ``resources/sounds`` with QSoundEffect (low latency).

    Logs once whether the sounds are ready and on which output, or why they cannot play:
    the line support asks for when a kiosk is silent.
    """

    def __init__(self, *, enabled: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtMultimedia import QSoundEffect  # noqa: PLC0415 (audio stack: only here)

        self.enabled = enabled
        self._effects: dict[Sound, QSoundEffect] = {}
        self._reported = False
        for sound in Sound:
            effect = QSoundEffect(self)
            effect.statusChanged.connect(self._report_status)
            effect.setSource(QUrl.fromLocalFile(str(SOUNDS_DIR / f"{sound.value}.wav")))
            effect.setVolume(0.8)
            self._effects[sound] = effect

    @property
    def ready(self) -> bool:
        """Whether every sound is loaded and there is an audio output to play it on."""
        from PySide6.QtMultimedia import QMediaDevices, QSoundEffect  # noqa: PLC0415

        loaded = all(e.status() == QSoundEffect.Status.Ready for e in self._effects.values())
        return loaded and bool(QMediaDevices.audioOutputs())

    def play(self, sound: Sound) -> None:
        if self.enabled:
            self._effects[sound].play()

    def _report_status(self) -> None:
        from PySide6.QtMultimedia import QMediaDevices, QSoundEffect  # noqa: PLC0415

        statuses = {effect.status() for effect in self._effects.values()}
        pending = {QSoundEffect.Status.Null, QSoundEffect.Status.Loading}
        if self._reported or statuses & pending:
            return
        self._reported = True
        if self.ready:
            output = QMediaDevices.defaultAudioOutput().description() or "the default output"
            log.info("sounds ready on %s", output)
        else:
            log.warning(
                "sounds cannot play: no audio output answers (check the speakers and the "
                "sound settings); check-in works without them"
            )


class SilentPlayer:
    """For a kiosk with sounds turned off at start-up, or without Qt Multimedia."""

    def __init__(self) -> None:
        self.enabled = False

    def play(self, sound: Sound) -> None:
        return None
