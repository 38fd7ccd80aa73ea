"""An in-memory gallery of face templates searched with one matrix product.

Templates of one recogniser live in one contiguous float32 matrix. Writers hold a lock
and never modify rows a reader can see: additions go into spare rows past the count a
reader captured, and removals build new arrays. Readers therefore take a snapshot under
the lock (a few references) and search without holding it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from kiosk.inference.faces import Embedding, require_same_model
from kiosk.inference.matching import Candidate


@dataclass(frozen=True)
class Template:
    template_id: str
    person_id: str
    embedding: Embedding


@dataclass(frozen=True)
class _Snapshot:
    matrix: NDArray[np.float32]  # capacity x dim; rows [:count] are live
    count: int
    template_ids: tuple[str, ...]
    person_codes: NDArray[np.int64]  # per row: index into person_ids
    person_ids: tuple[str, ...]


class Gallery:
    """Templates of one model id; top-k search returns the best template per person."""

    def __init__(self, model_id: str, dimension: int = 512) -> None:
        self.model_id = model_id
        self.dimension = dimension
        self._lock = threading.Lock()
        self._snapshot = _Snapshot(
            np.empty((0, dimension), np.float32), 0, (), np.empty(0, np.int64), ()
        )

    def __len__(self) -> int:
        return self._snapshot.count

    @property
    def person_ids(self) -> frozenset[str]:
        snap = self._snapshot
        return frozenset(snap.person_ids[c] for c in snap.person_codes[: snap.count])

    def add(self, template: Template) -> None:
        self.add_many([template])

    def add_many(self, templates: Iterable[Template]) -> None:
        """Add templates (replacing any with the same template id)."""
        items = list(templates)
        for item in items:
            self._check(item.embedding)
        with self._lock:
            if {t.template_id for t in items} & set(self._snapshot.template_ids):
                self._rebuild_without({t.template_id for t in items})
            self._append(items)

    def remove(self, template_ids: Collection[str]) -> None:
        with self._lock:
            self._rebuild_without(set(template_ids))

    def remove_person(self, person_id: str) -> None:
        with self._lock:
            snap = self._snapshot
            doomed = {
                tid
                for tid, code in zip(
                    snap.template_ids, snap.person_codes[: snap.count], strict=True
                )
                if snap.person_ids[code] == person_id
            }
            self._rebuild_without(doomed)

    def replace_all(self, templates: Iterable[Template]) -> None:
        """Swap in a whole new set atomically (e.g. a full sync snapshot)."""
        items = list(templates)
        for item in items:
            self._check(item.embedding)
        with self._lock:
            self._snapshot = _Snapshot(
                np.empty((0, self.dimension), np.float32), 0, (), np.empty(0, np.int64), ()
            )
            self._append(items)

    def search(
        self, probe: Embedding, k: int = 2, among: Collection[str] | None = None
    ) -> list[Candidate]:
        """The ``k`` most similar people, best first; ``among`` limits the search (1:1 badge)."""
        self._check(probe)
        snap = self._snapshot
        if snap.count == 0 or k < 1:
            return []
        scores = snap.matrix[: snap.count] @ probe.vector
        codes = snap.person_codes[: snap.count]
        if among is not None:
            allowed = np.array([snap.person_ids[c] in among for c in range(len(snap.person_ids))])
            scores = np.where(allowed[codes], scores, -np.inf)
        best = np.full(len(snap.person_ids), -np.inf, dtype=np.float32)
        np.maximum.at(best, codes, scores)
        live = np.flatnonzero(best > -np.inf)
        top = live[np.argsort(-best[live], kind="stable")[:k]]
        row_of_best = {}
        for row in np.flatnonzero(np.isin(codes, top)):
            code = int(codes[row])
            if scores[row] == best[code] and code not in row_of_best:
                row_of_best[code] = row
        return [
            Candidate(snap.person_ids[c], snap.template_ids[row_of_best[int(c)]], float(best[c]))
            for c in top
        ]

    def _check(self, embedding: Embedding) -> None:
        require_same_model(self.model_id, embedding.model_id)
        if embedding.vector.shape != (self.dimension,):
            raise ValueError(
                f"embedding has shape {embedding.vector.shape}, expected ({self.dimension},)"
            )

    def _append(self, items: list[Template]) -> None:
        """Write new rows past the live count, then publish a snapshot that includes them."""
        if not items:
            return
        snap = self._snapshot
        needed = snap.count + len(items)
        matrix = snap.matrix
        if needed > matrix.shape[0]:
            matrix = np.empty((max(needed, 2 * matrix.shape[0], 64), self.dimension), np.float32)
            matrix[: snap.count] = snap.matrix[: snap.count]
        person_ids = list(snap.person_ids)
        index = {pid: i for i, pid in enumerate(person_ids)}
        codes = np.empty(needed, np.int64)
        codes[: snap.count] = snap.person_codes[: snap.count]
        for offset, item in enumerate(items):
            if item.person_id not in index:
                index[item.person_id] = len(person_ids)
                person_ids.append(item.person_id)
            matrix[snap.count + offset] = item.embedding.vector
            codes[snap.count + offset] = index[item.person_id]
        template_ids = snap.template_ids + tuple(t.template_id for t in items)
        self._snapshot = _Snapshot(matrix, needed, template_ids, codes, tuple(person_ids))

    def _rebuild_without(self, doomed: set[str]) -> None:
        snap = self._snapshot
        keep = [i for i, tid in enumerate(snap.template_ids) if tid not in doomed]
        if len(keep) == snap.count:
            return
        rows = np.asarray(keep, dtype=np.int64)
        self._snapshot = _Snapshot(
            np.array(snap.matrix[rows], dtype=np.float32).reshape(len(keep), self.dimension),
            len(keep),
            tuple(snap.template_ids[i] for i in keep),
            snap.person_codes[rows].copy(),
            snap.person_ids,
        )
