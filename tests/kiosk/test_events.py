"""The event bus: fan-out, unsubscribe, and a failing subscriber that harms nobody."""

from __future__ import annotations

import threading

import pytest

from kiosk.events import (
    Direction,
    EventBus,
    Guidance,
    KioskEvent,
    LivenessPrompt,
    NotRecognised,
    SourceState,
    SourceStateChanged,
)


def test_every_subscriber_gets_each_event_until_it_unsubscribes() -> None:
    bus = EventBus()
    first: list[KioskEvent] = []
    second: list[KioskEvent] = []
    bus.subscribe(first.append)
    stop_second = bus.subscribe(second.append)
    bus.publish(NotRecognised(tries=1, max_tries=3))
    stop_second()
    bus.publish(NotRecognised(tries=2, max_tries=3))
    assert first == [NotRecognised(1, 3), NotRecognised(2, 3)]
    assert second == [NotRecognised(1, 3)]


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    heard: list[KioskEvent] = []

    def broken(event: KioskEvent) -> None:
        raise RuntimeError("view went away")

    bus.subscribe(broken)
    bus.subscribe(heard.append)
    bus.publish(SourceStateChanged(SourceState.LOST, "camera unplugged"))
    assert heard == [SourceStateChanged(SourceState.LOST, "camera unplugged")]
    assert "SourceStateChanged" in caplog.text


def test_callbacks_run_on_the_publishing_thread() -> None:
    bus = EventBus()
    threads: list[str] = []
    bus.subscribe(lambda event: threads.append(threading.current_thread().name))
    worker = threading.Thread(
        target=bus.publish, args=(LivenessPrompt(Direction.LEFT),), name="recognition"
    )
    worker.start()
    worker.join()
    assert threads == ["recognition"]


def test_guidance_and_prompts_read_as_sentences() -> None:
    assert Guidance.MOVE_CLOSER.text == "Please move closer"
    assert Guidance.ONE_AT_A_TIME.text == "One person at a time, please"
    assert LivenessPrompt(Direction.RIGHT).text == "Turn your head slightly to your right"
