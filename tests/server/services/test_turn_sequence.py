"""The liveness sequence rules on their own: which timed pose sequences perform a challenge.

Poses are given as five keypoints laid out as a face would be (eyes 100 px apart, the
mouth 100 px below them); the judged photos themselves are in test_phone_liveness."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from server.backend.services import turn_sequence
from server.backend.services.turn_sequence import Frame, Move, Refusal

LEFT, RIGHT, UP = Move.LEFT, Move.RIGHT, Move.UP


def face(yaw: float, pitch: float = 0.6, shake: float = 0.0) -> np.ndarray:
    """Keypoints whose nose sits `yaw` eye distances right of the eye midpoint (the
    person's own left) and `pitch` of the way down to the mouth."""
    points = [[-50, 0], [50, 0], [100 * yaw, 100 * pitch], [-40, 100], [40, 100]]
    return np.asarray(points, np.float32) + np.float32(200 + shake)


def frames(
    yaws: list[float], *, step_s: float = 0.3, pitches: list[float] | None = None
) -> list[Frame]:
    pitches = pitches or [0.6] * len(yaws)
    return [
        turn_sequence.frame(i * step_s, face(y, p, shake=i * 0.01), f"frame {i}".encode())
        for i, (y, p) in enumerate(zip(yaws, pitches, strict=True))
    ]


OUT_AND_BACK = [0.0, 0.05, 0.12, 0.15, 0.08, 0.02]


def test_a_turn_out_and_back_the_asked_way_passes() -> None:
    assert turn_sequence.judge([LEFT], frames(OUT_AND_BACK)) == (None, [3])
    assert turn_sequence.judge([RIGHT], frames([-y for y in OUT_AND_BACK]))[0] is None
    # Coming back past the centre (a genuine photo turn did, by 0.079) is no wrong way.
    assert turn_sequence.judge([LEFT], frames([0.0, 0.07, 0.13, 0.05, -0.08])) == (None, [2])


def test_two_moves_in_a_row_and_up_pass_in_their_order_only() -> None:
    yaws = [*OUT_AND_BACK, -0.06, -0.14, -0.05]
    assert turn_sequence.judge([LEFT, RIGHT], frames(yaws))[0] is None
    assert turn_sequence.judge([RIGHT, LEFT], frames(yaws))[0] is Refusal.WRONG_WAY
    # "Up" raises the nose towards the eyes: its drop over the mouth's falls.
    pitches = [0.6] * 6 + [0.5, 0.4, 0.58]
    assert turn_sequence.judge([LEFT, UP], frames(yaws[:6] + [0.0] * 3, pitches=pitches)) == (
        None,
        [3, 7],
    )


@pytest.mark.parametrize(
    ("sequence", "why"),
    [
        (frames([0.0, 0.14, 0.15, 0.16]), Refusal.NOT_SEEN),  # turned, never back
        (frames([0.0, 0.04, 0.05, 0.03, 0.0]), Refusal.TOO_SMALL),  # the right way, too little
        (frames([0.0, 0.02, 0.03, 0.01, 0.0]), Refusal.NOT_SEEN),  # no more than jitter
        (frames([0.0, -0.1, -0.15, 0.0]), Refusal.WRONG_WAY),
        (frames([0.0, 0.3, 0.0]), Refusal.JUMP),  # more than MAX_STEP at once
        (frames([0.0, 0.2, 0.0], step_s=0.1), Refusal.JUMP),  # too fast
        (frames([0.0, 0.1, 0.15, 0.05], step_s=4.0), Refusal.TIMES),  # 12 s in all
        (frames([0.0, 0.1]), Refusal.NOT_SEEN),  # too few frames
    ],
)
def test_what_is_not_one_continuous_turn_is_refused(sequence: list[Frame], why: Refusal) -> None:
    assert turn_sequence.judge([LEFT], sequence) == (why, [])


def test_a_still_repeated_or_times_out_of_order_are_refused() -> None:
    good = frames(OUT_AND_BACK)
    sent = [good[0], good[1], good[2], good[2], good[3], good[4], good[5]]
    repeated = [replace(f, time_s=0.3 * i) for i, f in enumerate(sent)]  # a still sent again
    assert turn_sequence.judge([LEFT], repeated)[0] is Refusal.REPEATED
    swapped = [*good[:2], good[3], good[2], *good[4:]]
    assert turn_sequence.judge([LEFT], swapped)[0] is Refusal.TIMES


def test_the_server_draws_one_or_two_moves_always_with_a_turn() -> None:
    drawn = [turn_sequence.draw() for _ in range(600)]
    assert all({LEFT, RIGHT} & set(moves) for moves in drawn)
    doubles = sum(len(moves) == 2 for moves in drawn)
    assert 120 < doubles < 280, doubles  # one in three, with room for chance
    assert {m for moves in drawn for m in moves} == {LEFT, RIGHT, UP}
    assert all(turn_sequence.decode(turn_sequence.encode(m)) == m for m in drawn)


def test_the_phone_asks_less_turn_than_the_kiosk_but_still_a_turn() -> None:
    """0.08 of the kiosk refused 2 of 17 genuine photo turns as the page sends them; the
    phone asks 0.06 (bench_turn_cues.py), well above a still face's jitter (0.02)."""
    small = [0.0, 0.03, 0.065, 0.07, 0.03, 0.0]
    assert turn_sequence.judge([LEFT], frames(small)) == (None, [3])
    assert turn_sequence.judge([LEFT], frames(small), threshold=0.08)[0] is Refusal.TOO_SMALL
    nod = frames([0.0] * 5, pitches=[0.6, 0.57, 0.55, 0.58, 0.6])  # up by 0.05 only
    assert turn_sequence.judge([UP], nod)[0] is Refusal.TOO_SMALL
