"""Makes the kiosk's two sounds (run once; the WAVs are committed beside this script).

Success: two short rising tones (C6 then E6), friendly and quick. Failure: two low
falling tones (A4 then F4). 16-bit mono at 22.05 kHz with short fades, so they never
click; each is under half a second and under 25 KB. Made here, so no licence question.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 22_050
HERE = Path(__file__).resolve().parent


def tone(freq: float, seconds: float, volume: float = 0.45) -> list[int]:
    count = int(RATE * seconds)
    fade = int(RATE * 0.015)
    samples = []
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        value = volume * envelope * math.sin(2 * math.pi * freq * i / RATE)
        samples.append(int(value * 32767))
    return samples


def write(name: str, samples: list[int]) -> None:
    with wave.open(str(HERE / name), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))


if __name__ == "__main__":
    gap = [0] * int(RATE * 0.03)
    write("success.wav", tone(1046.5, 0.12) + gap + tone(1318.5, 0.18))
    write("failure.wav", tone(440.0, 0.16) + gap + tone(349.2, 0.24))
