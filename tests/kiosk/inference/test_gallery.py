"""The gallery: one matrix, per-person top-k, restriction, removal, and thread safety."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from kiosk.inference.faces import Embedding, l2_normalise
from kiosk.inference.gallery import Gallery, Template

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
    return snap.matrix[snap.template_ids.index(template_id)]


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
