"""The gallery: one matrix, per-person top-k, restriction, removal, and thread safety."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from kiosk.inference.faces import Embedding, l2_normalise
from kiosk.inference.gallery import Gallery, Template
from kiosk.inference.matching import Candidate

MODEL = "vectron@9cc6e4a75f0e2bf0"


def unit(seed: int, dimension: int = 512) -> Embedding:
    raw = np.random.default_rng(seed).standard_normal((1, dimension)).astype(np.float32)
    return Embedding(l2_normalise(raw)[0], MODEL)


def near(base: Embedding, seed: int, noise: float = 0.3) -> Embedding:
    jitter = np.random.default_rng(seed).standard_normal(base.vector.shape).astype(np.float32)
    return Embedding(l2_normalise((base.vector + noise * jitter / np.sqrt(512))[None])[0], MODEL)


def test_search_returns_best_template_per_person_best_first() -> None:
    ama, kofi = unit(1), unit(2)
    gallery = Gallery(MODEL)
    gallery.add_many(
        [
            Template("ama-1", "ama", near(ama, 10, 2.0)),
            Template("ama-2", "ama", near(ama, 11, 0.1)),
            Template("kofi-1", "kofi", kofi),
        ]
    )
    found = gallery.search(ama, k=5)
    assert [c.person_id for c in found] == ["ama", "kofi"]  # one entry per person
    assert found[0].template_id == "ama-2"
    assert found[0].similarity == pytest.approx(float(ama.vector @ gallery_row(gallery, "ama-2")))


def gallery_row(gallery: Gallery, template_id: str) -> np.ndarray:
    snap = gallery._snapshot
    return snap.matrix[gallery._row_of[template_id]]


def test_among_restricts_to_given_people() -> None:
    ama, kofi = unit(1), unit(2)
    gallery = Gallery(MODEL)
    gallery.add_many([Template("a", "ama", ama), Template("k", "kofi", kofi)])
    assert [c.person_id for c in gallery.search(ama, among={"kofi"})] == ["kofi"]
    assert gallery.search(ama, among=set()) == []


def test_remove_person_and_templates_and_replace_all() -> None:
    gallery = Gallery(MODEL)
    gallery.add_many([Template(f"t{i}", f"p{i % 3}", unit(i)) for i in range(9)])
    assert len(gallery) == 9 and gallery.person_ids == {"p0", "p1", "p2"}
    gallery.remove_person("p1")
    assert len(gallery) == 6 and gallery.person_ids == {"p0", "p2"}
    gallery.remove(["t0"])
    assert len(gallery) == 5
    assert all(c.template_id != "t0" for c in gallery.search(unit(0), k=3))
    gallery.replace_all([Template("x", "px", unit(99))])
    assert gallery.person_ids == {"px"} and gallery.search(unit(99))[0].similarity == pytest.approx(
        1.0
    )


def test_adding_an_existing_template_id_replaces_it() -> None:
    gallery = Gallery(MODEL)
    gallery.add(Template("t", "ama", unit(1)))
    gallery.add(Template("t", "ama", unit(2)))
    assert len(gallery) == 1
    assert gallery.search(unit(2))[0].similarity == pytest.approx(1.0)


def test_wrong_dimension_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        Gallery(MODEL).add(Template("t", "p", Embedding(np.zeros(128, np.float32), MODEL)))


def test_concurrent_writers_and_readers_never_see_a_torn_state() -> None:
    gallery = Gallery(MODEL)
    anchors = {f"p{i}": unit(i) for i in range(20)}
    gallery.add_many(Template(f"{p}-base", p, e) for p, e in anchors.items())
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(offset: int) -> None:
        try:
            for round_ in range(150):
                tid = f"w{offset}-{round_}"
                gallery.add(Template(tid, f"tmp{offset}", unit(1000 + offset * 1000 + round_)))
                if round_ % 3 == 0:
                    gallery.remove([tid])
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                for person, anchor in anchors.items():
                    best = gallery.search(anchor, k=1)[0]
                    # Every anchor is its own exact match, whatever the writers do.
                    assert best.person_id == person and best.similarity == pytest.approx(
                        1.0, abs=1e-5
                    )
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert len(gallery) == 20 + 3 * 100


def brute_force(
    live: dict[str, tuple[str, Embedding]], probe: Embedding, k: int, among: set[str] | None
) -> list[tuple[str, str, float]]:
    """The reference answer: every template scored, best per person, sorted."""
    best: dict[str, tuple[float, str]] = {}
    for template_id, (person, embedding) in live.items():
        if among is not None and person not in among:
            continue
        score = float(embedding.vector @ probe.vector)
        if person not in best or score > best[person][0]:
            best[person] = (score, template_id)
    ranked = sorted(best.items(), key=lambda item: -item[1][0])[:k]
    return [(person, template_id, score) for person, (score, template_id) in ranked]


def as_tuples(found: list[Candidate]) -> list[tuple[str, str, float]]:
    return [(c.person_id, c.template_id, c.similarity) for c in found]


@pytest.mark.parametrize("seed", range(3))
def test_search_matches_brute_force_through_adds_removals_and_compaction(seed: int) -> None:
    """Random adds, replacements, removals (enough to trigger compaction) and searches."""
    rng = random.Random(seed)
    gallery = Gallery(MODEL, dimension=32)
    live: dict[str, tuple[str, Embedding]] = {}
    people = [f"p{i}" for i in range(150)]
    compactions = rows_before = 0
    for step in range(4000):
        action = rng.random()
        if action < 0.55 or not live:
            template_id = f"t{rng.randrange(2500)}"  # sometimes an existing id: replaced
            person = live[template_id][0] if template_id in live else rng.choice(people)
            embedding = unit(step + 1000 * seed, 32)
            gallery.add(Template(template_id, person, embedding))
            live[template_id] = (person, embedding)
        elif action < 0.85:
            doomed = rng.sample(sorted(live), min(len(live), rng.randint(1, 3)))
            gallery.remove(doomed)
            for template_id in doomed:
                del live[template_id]
        elif action < 0.88:
            person = rng.choice(people)
            gallery.remove_person(person)
            live = {t: v for t, v in live.items() if v[0] != person}
        compactions += gallery._snapshot.count < rows_before  # packed: fewer rows than before
        rows_before = gallery._snapshot.count
        if step % 50 == 0:
            probe = unit(rng.randrange(10**6), 32)
            k = rng.randint(1, 6)
            among = set(rng.sample(people, 5)) if rng.random() < 0.3 else None
            expected = brute_force(live, probe, k, among)
            found = as_tuples(gallery.search(probe, k=k, among=among))
            assert [f[:2] for f in found] == [e[:2] for e in expected]
            assert [f[2] for f in found] == pytest.approx([e[2] for e in expected], abs=1e-5)
    assert len(gallery) == len(live)
    assert gallery.person_ids == {person for person, _ in live.values()}
    assert compactions > 0, "the sequence should have compacted at least once"


def test_removal_leaves_tombstones_until_compaction_packs_the_rows() -> None:
    gallery = Gallery(MODEL, dimension=8)
    gallery.add_many(Template(f"t{i}", f"p{i}", unit(i, 8)) for i in range(5000))
    capacity = gallery.capacity
    gallery.remove([f"t{i}" for i in range(900)])
    assert gallery._snapshot.dead == 900 and gallery.capacity == capacity  # tombstones only
    assert all(c.person_id not in {"p0", "p1"} for c in gallery.search(unit(0, 8), k=50))
    gallery.remove([f"t{i}" for i in range(900, 1100)])  # 1100 dead > 3900 live / 4
    assert gallery._snapshot.dead == 0 and gallery._snapshot.count == 3900
    assert gallery.search(unit(4999, 8), k=1)[0].template_id == "t4999"


def test_adding_fills_spare_rows_in_place_and_capacity_doubles() -> None:
    gallery = Gallery(MODEL, dimension=8)
    gallery.add(Template("t0", "p0", unit(0, 8)))
    matrix = gallery._snapshot.matrix
    for i in range(1, gallery.capacity):
        gallery.add(Template(f"t{i}", f"p{i}", unit(i, 8)))
    assert gallery._snapshot.matrix is matrix  # no copy while spare rows last
    gallery.add(Template("one-more", "p-last", unit(999, 8)))
    assert gallery.capacity == 2 * matrix.shape[0]
    assert gallery.search(unit(999, 8), k=1)[0].template_id == "one-more"


def test_verify_compares_with_one_persons_templates_only() -> None:
    ama = unit(1)
    gallery = Gallery(MODEL)
    gallery.add_many(
        [
            Template("ama-1", "ama", near(ama, 10, 2.0)),
            Template("ama-2", "ama", near(ama, 11, 0.5)),
            Template("twin", "kofi", ama),  # Kofi's template is the probe itself
        ]
    )
    found = gallery.verify(ama, "ama")
    assert found is not None and (found.person_id, found.template_id) == ("ama", "ama-2")
    assert found.similarity == pytest.approx(float(ama.vector @ gallery_row(gallery, "ama-2")))
    assert gallery.verify(ama, "nobody") is None
    gallery.remove_person("ama")
    assert gallery.verify(ama, "ama") is None


def test_one_persons_many_templates_do_not_crowd_out_the_second_person() -> None:
    ama = unit(1)
    gallery = Gallery(MODEL)
    gallery.add_many(Template(f"ama-{i}", "ama", near(ama, i, 0.2)) for i in range(200))
    gallery.add(Template("kofi", "kofi", unit(2)))
    assert [c.person_id for c in gallery.search(ama, k=2)] == ["ama", "kofi"]
