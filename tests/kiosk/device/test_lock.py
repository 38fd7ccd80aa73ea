"""The lockdown PIN: stored only as a salted hash, checked, and slowed down when guessed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kiosk.device.lock import FREE_TRIES, LOCKOUT_S, PinLock
from kiosk.errors import PinError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pin_is_stored_as_a_salted_hash_never_plain(tmp_path: Path) -> None:
    lock = PinLock(tmp_path / "lock.json")
    assert not lock.is_set
    lock.set_pin("482915")
    text = (tmp_path / "lock.json").read_text()
    assert "482915" not in text
    record = json.loads(text)
    assert record["scheme"] == "scrypt" and record["salt"] and record["hash"]
    assert stat.S_IMODE((tmp_path / "lock.json").stat().st_mode) == 0o600
    other = PinLock(tmp_path / "other.json")
    other.set_pin("482915")
    assert json.loads((tmp_path / "other.json").read_text())["hash"] != record["hash"]


def test_right_pin_opens_and_wrong_pin_does_not(tmp_path: Path) -> None:
    lock = PinLock(tmp_path / "lock.json")
    lock.set_pin("2468")
    assert lock.verify("2468")
    assert not lock.verify("2469")
    assert not lock.verify("")


@pytest.mark.parametrize("pin", ["123", "12ab", "1234567890123", " 1234"])
def test_a_pin_that_is_too_short_or_not_digits_is_refused_with_advice(
    tmp_path: Path, pin: str
) -> None:
    lock = PinLock(tmp_path / "lock.json")
    with pytest.raises(PinError, match="4 to 12 digits"):
        lock.set_pin(pin)
    assert not lock.is_set  # nothing written


def test_guessing_is_slowed_down_after_a_few_wrong_pins(tmp_path: Path) -> None:
    clock = FakeClock()
    lock = PinLock(tmp_path / "lock.json", clock=clock)
    lock.set_pin("1357")
    for _ in range(FREE_TRIES):
        assert not lock.verify("0000")
    assert lock.wait_left() == pytest.approx(LOCKOUT_S)
    assert not lock.verify("1357")  # even the right PIN waits
    clock.now += LOCKOUT_S
    assert lock.verify("1357")


def test_an_unreadable_pin_file_says_how_to_set_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    path.write_text("{not json")
    with pytest.raises(PinError, match="set-pin"):
        PinLock(path).verify("1234")
