"""Thresholds measured per pack on labelled photos, and how they hold as galleries grow."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kiosk.inference.calibration import (
    CalibrationReport,
    Tail,
    analyse,
    load_identities,
    pair_scores,
)
from kiosk.inference.calibration_bootstrap import (
    MIN_PEOPLE_TO_SUGGEST,
    suggestion_intervals,
    too_few_people,
)
from kiosk.inference.calibration_run import embed_people
from kiosk.inference.engine import FaceEngine
from kiosk.inference.errors import CalibrationError
from kiosk.inference.matching import Band, Candidate, Thresholds, decide
from kiosk.inference.packs import (
    CONSERVATIVE_THRESHOLDS,
    KNOWN_PACKS,
    ResolvedPack,
    get_pack_spec,
    pack_thresholds,
)
from tests.kiosk.conftest import DATA

CALIBRATION = DATA / "calibration"
SIZES = (100, 1_000, 10_000)


Scores = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def scores(engine: FaceEngine) -> Scores:
    """Genuine and impostor similarities of the offline pack on the labelled photos."""
    embeddings, skipped = embed_people(engine, load_identities(CALIBRATION))
    assert skipped == []
    return pair_scores(embeddings)


@pytest.fixture(scope="module")
def measured(scores: Scores, engine: FaceEngine) -> CalibrationReport:
    return analyse(*scores, pack_thresholds(engine.spec)[0])


@pytest.mark.model
def test_offline_pack_thresholds_match_their_measurement(measured: CalibrationReport) -> None:
    """The values in the registry are what the labelled photos give today."""
    assert (measured.genuine.pairs, measured.impostor.pairs) == (89, 652)
    assert measured.genuine.minimum == pytest.approx(0.436, abs=0.005)
    assert measured.impostor.maximum == pytest.approx(0.275, abs=0.005)
    assert measured.accept.false_accepts == 0 and measured.accept.false_rejects == 1
    assert measured.review.false_rejects == 0  # no genuine pair is rejected outright
    assert measured.tail.scale == pytest.approx(0.041, abs=0.002)
    text = get_pack_spec("vectron").calibration
    assert text is not None and "89 same-person pairs 0.436-0.835" in text.measured


@pytest.mark.model
def test_one_accept_threshold_for_every_gallery_size_lets_unknown_faces_in(
    measured: CalibrationReport,
) -> None:
    """At 0.45 an unknown face is accepted as someone far more often than 1 in 1,000
    searches once a thousand people are searched; the margin rule does not stop it."""
    by_size = {s.people: s for s in measured.sizes}
    assert by_size[100].false_accept < 0.002
    assert by_size[1_000].false_accept > 0.01
    assert by_size[10_000].false_accept > 0.05
    assert by_size[10_000].false_accept > 0.6 * by_size[10_000].reach_accept  # margin: little help


@pytest.mark.model
def test_accept_raised_with_gallery_size_keeps_false_accepts_at_the_target(
    measured: CalibrationReport, scores: Scores, engine: FaceEngine
) -> None:
    thresholds = engine.thresholds
    for size in measured.sizes:
        if size.people in SIZES:
            assert thresholds.for_gallery(size.people).accept >= size.suggested_accept
    again = analyse(*scores, thresholds.for_gallery(10_000))
    assert again.sizes[-1].false_accept <= again.target_far
    assert again.sizes[-1].margin_review < 0.05  # enrolled faces still mostly accepted


def test_for_gallery_interpolates_in_log_people_and_stays_put_beyond() -> None:
    t = Thresholds(0.45, 0.30, 0.08, by_gallery=((100, 0.46), (1_000, 0.57), (10_000, 0.65)))
    assert t.for_gallery(1) is t and t.for_gallery(100).accept == pytest.approx(0.46)
    assert t.for_gallery(1_000).accept == pytest.approx(0.57)
    assert 0.57 < t.for_gallery(3_000).accept < 0.65
    assert t.for_gallery(1_000_000).accept == pytest.approx(0.65)
    assert Thresholds().for_gallery(10_000) == Thresholds()


def test_decide_with_people_raises_the_accept_threshold() -> None:
    t = get_pack_spec("vectron").calibration
    assert t is not None
    pair = [Candidate("ama", "a", 0.50), Candidate("kofi", "k", 0.10)]
    assert decide(pair, t.thresholds).band is Band.ACCEPT
    assert decide(pair, t.thresholds, people=5_000).band is Band.REVIEW


def test_every_pack_has_thresholds_and_unmeasured_ones_use_the_strictest_known() -> None:
    measured = {n for n, s in KNOWN_PACKS.items() if s.calibration is not None}
    assert {"vectron", "buffalo_s", "buffalo_sc"} <= measured  # one recogniser file
    assert "buffalo_l" not in measured  # its weights cannot be had here
    thresholds, was_measured = pack_thresholds(get_pack_spec("buffalo_l"))
    assert not was_measured and thresholds == CONSERVATIVE_THRESHOLDS
    # Strictest among the ArcFace packs, whose scale buffalo_l shares; dlib's cosines
    # sit on another scale (0.93 there is a weak match), so they never stand in.
    for name in measured - {"dlib"}:
        known = pack_thresholds(KNOWN_PACKS[name])[0]
        assert KNOWN_PACKS[name].family == "arcface"
        assert thresholds.accept >= known.accept and thresholds.margin >= known.margin
    assert "dlib" in measured and KNOWN_PACKS["dlib"].family != "arcface"
    assert thresholds.accept < pack_thresholds(KNOWN_PACKS["dlib"])[0].accept


@pytest.mark.model
def test_an_unmeasured_pack_says_so_at_start_up(
    offline_pack: ResolvedPack, caplog: pytest.LogCaptureFixture
) -> None:
    unmeasured = replace(offline_pack, spec=replace(offline_pack.spec, calibration=None))
    with caplog.at_level(logging.WARNING, logger="kiosk.inference.engine"):
        engine = FaceEngine.load(unmeasured, warm_up_sizes=())
    assert "never been measured" in caplog.text and "sonta face calibrate" in caplog.text
    assert engine.thresholds == CONSERVATIVE_THRESHOLDS and not engine.thresholds_measured


def test_identities_file_folders_and_bad_layouts(tmp_path: Path) -> None:
    (tmp_path / "ama").mkdir()
    (tmp_path / "kofi").mkdir()
    for name in ("ama/1.jpg", "ama/2.JPG", "kofi/1.png", "kofi/readme.txt"):
        (tmp_path / name).write_bytes(b"x")
    people = load_identities(tmp_path)
    assert {p: [f.name for f in fs] for p, fs in people.items()} == {
        "ama": ["1.jpg", "2.JPG"],
        "kofi": ["1.png"],
    }
    listing = tmp_path / "ids.json"
    listing.write_text(json.dumps({"x": ["ama/1.jpg", "kofi/1.png"], "y": ["ama/2.JPG"]}))
    assert load_identities(tmp_path, listing)["x"] == [
        tmp_path / "ama/1.jpg",
        tmp_path / "kofi/1.png",
    ]
    listing.write_text(json.dumps(["not", "a", "mapping"]))
    with pytest.raises(CalibrationError, match="must map each person"):
        load_identities(tmp_path, listing)
    with pytest.raises(CalibrationError, match="does not exist"):
        load_identities(tmp_path, tmp_path / "missing.json")
    with pytest.raises(CalibrationError, match="at least two people"):
        load_identities(tmp_path / "ama")


def test_pairs_and_rates_on_known_vectors() -> None:
    e = np.eye(4, dtype=np.float32)
    genuine, impostor = pair_scores({"a": [e[0], e[0]], "b": [e[1]], "c": [e[2]]})
    assert genuine.tolist() == [1.0] and sorted(impostor.tolist()) == [0.0] * 5
    report = analyse(np.array([0.7, 0.4]), np.array([0.1, 0.5, 0.2]), Thresholds())
    assert (report.accept.false_accepts, report.accept.false_rejects) == (1, 1)
    assert report.accept.far == pytest.approx(1 / 3) and report.review.frr == 0.0
    with pytest.raises(CalibrationError, match="between 0 and 1"):
        analyse(np.array([0.7]), np.array([0.1, 0.2]), Thresholds(), target_far=2)


def test_exponential_tail_fit() -> None:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.uniform(-0.2, 0.1, 9_000), 0.1 + rng.exponential(0.05, 1_000)])
    tail = Tail.fit(scores)
    assert tail.start == pytest.approx(0.1, abs=0.005)
    assert tail.scale == pytest.approx(0.05, rel=0.1)
    assert tail.per_pair(tail.start) == pytest.approx(0.1)


def people_embeddings(people: int, photos: int, seed: int) -> dict[str, list[np.ndarray]]:
    """Unit vectors around one random centre per person (same-person similarity ~0.6)."""
    rng = np.random.default_rng(seed)
    out = {}
    for person in range(people):
        centre = rng.normal(size=128)
        centre /= np.linalg.norm(centre)
        vectors = []
        for _ in range(photos):
            v = centre + rng.normal(scale=0.075, size=128)
            vectors.append((v / np.linalg.norm(v)).astype(np.float32))
        out[f"p{person}"] = vectors
    return out


def test_the_interval_of_a_suggestion_narrows_as_people_are_added() -> None:
    thresholds = Thresholds(0.45, 0.30, 0.08)
    few = suggestion_intervals(people_embeddings(8, 3, 1), thresholds, target_far=1e-3)
    many = suggestion_intervals(people_embeddings(80, 3, 1), thresholds, target_far=1e-3)
    assert [i.people for i in few] == [1, 100, 1_000, 10_000]
    width = {i.people: i.high - i.low for i in few}
    assert all(i.high - i.low < width[i.people] / 2 for i in many if i.people > 1)
    again = suggestion_intervals(people_embeddings(8, 3, 1), thresholds, target_far=1e-3)
    assert again == few  # the same photos give the same intervals


def test_too_few_people_get_no_suggestion_and_are_told_why() -> None:
    assert too_few_people(MIN_PEOPLE_TO_SUGGEST) is None
    reason = too_few_people(6)
    assert reason is not None
    assert reason.startswith("No thresholds suggested: photos of 6 people, and at least 20")
    assert "a meeting's expected people" in reason


@pytest.mark.model
def test_the_labelled_photos_interval_contains_the_suggestion(
    engine: FaceEngine, measured: CalibrationReport
) -> None:
    """Nine people: each suggestion lies in its interval, and the interval at 10,000
    people is wide, which is why so few people get no suggestion from the command."""
    embeddings, _ = embed_people(engine, load_identities(CALIBRATION))
    intervals = suggestion_intervals(
        embeddings, pack_thresholds(engine.spec)[0], target_far=measured.target_far
    )
    for interval, size in zip(intervals, measured.sizes, strict=True):
        assert interval.low - 0.02 <= size.suggested_accept <= interval.high + 0.02
    assert intervals[-1].high - intervals[-1].low > 0.05
