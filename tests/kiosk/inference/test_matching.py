"""Recognition decisions on real photos, and the decision rules themselves."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kiosk.inference.engine import FaceEngine
from kiosk.inference.errors import ModelMismatchError
from kiosk.inference.faces import Embedding
from kiosk.inference.gallery import Gallery, Template
from kiosk.inference.matching import DEFAULT_THRESHOLDS, Band, Candidate, band_for, decide
from tests.kiosk.conftest import photo

# Yao Ming wears 13 in players.jpg (1237x800): the tallest player, face centred near here.
YAO_IN_PLAYERS = (742, 167)


def embed(engine: FaceEngine, name: str) -> Embedding:
    analyzed = engine.embed_single(photo(name))
    assert analyzed.embedding is not None
    return analyzed.embedding


@pytest.mark.model
def test_same_person_accepted_across_the_three_obama_photos(engine: FaceEngine) -> None:
    embeddings = [embed(engine, n) for n in ("obama", "obama2", "obama3")]
    for a, b in itertools.combinations(embeddings, 2):
        similarity = a.similarity(b)
        assert similarity >= DEFAULT_THRESHOLDS.accept + 0.1, similarity  # with room to spare
        assert band_for(similarity) is Band.ACCEPT


@pytest.mark.model
def test_obama_and_biden_are_rejected(engine: FaceEngine) -> None:
    biden = embed(engine, "biden")
    for name in ("obama", "obama2", "obama3"):
        similarity = embed(engine, name).similarity(biden)
        assert band_for(similarity) is Band.REJECT, similarity


@pytest.mark.model
def test_yao_ming_found_at_his_place_among_the_players(engine: FaceEngine) -> None:
    players = engine.analyze(photo("players"), embed=True)
    assert len(players) >= 20
    gallery = Gallery(engine.model_id)
    gallery.add_many(
        Template(f"t{i}", f"player-{i}", a.embedding) for i, a in enumerate(players) if a.embedding
    )
    decision = decide(gallery.search(embed(engine, "yaoming"), k=2))
    assert decision.band is Band.ACCEPT and decision.person_id is not None
    x1, y1, x2, y2 = players[int(decision.person_id.split("-")[1])].face.bbox
    assert x1 < YAO_IN_PLAYERS[0] < x2 and y1 < YAO_IN_PLAYERS[1] < y2
    assert decision.margin is not None and decision.margin > 0.3


@pytest.mark.model
def test_gallery_identifies_each_enrolled_person(engine: FaceEngine) -> None:
    gallery = Gallery(engine.model_id)
    gallery.add(Template("o1", "obama", embed(engine, "obama")))
    gallery.add(Template("b1", "biden", embed(engine, "biden")))
    gallery.add(Template("y1", "yao", embed(engine, "yaoming")))
    for probe_photo, expected in (("obama2", "obama"), ("obama3", "obama")):
        decision = decide(gallery.search(embed(engine, probe_photo)))
        assert (decision.band, decision.person_id) == (Band.ACCEPT, expected)


def test_comparing_embeddings_of_different_models_raises() -> None:
    vector = np.ones(512, np.float32) / np.sqrt(512)
    a, b = (
        Embedding(vector, "buffalo_l@4c06341c33c2ca1f"),
        Embedding(vector, "vectron@9cc6e4a75f0e2bf0"),
    )
    with pytest.raises(ModelMismatchError, match="Re-enrol"):
        a.similarity(b)
    gallery = Gallery(a.model_id)
    with pytest.raises(ModelMismatchError):
        gallery.add(Template("t", "p", b))
    with pytest.raises(ModelMismatchError):
        gallery.search(b)


def candidates(*pairs: tuple[str, float]) -> list[Candidate]:
    return [Candidate(person, f"{person}-t", similarity) for person, similarity in pairs]


@pytest.mark.parametrize(
    ("pairs", "band", "person"),
    [
        ((("ama", 0.62), ("kofi", 0.20)), Band.ACCEPT, "ama"),
        ((("ama", 0.62),), Band.ACCEPT, "ama"),
        ((("ama", 0.38), ("kofi", 0.10)), Band.REVIEW, "ama"),
        ((("ama", 0.62), ("kofi", 0.58)), Band.REVIEW, "ama"),  # accept-level but no margin
        ((("ama", 0.20), ("kofi", 0.10)), Band.REJECT, None),
        ((), Band.REJECT, None),
    ],
)
def test_decision_bands_and_margin(
    pairs: tuple[tuple[str, float], ...], band: Band, person: str | None
) -> None:
    decision = decide(candidates(*pairs))
    assert (decision.band, decision.person_id) == (band, person)
    assert decision.reason
