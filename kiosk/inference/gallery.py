"""An in-memory gallery of face templates searched with one matrix product.

Templates of one recogniser live in one contiguous float32 matrix with spare capacity.
Costs, so search stays near a bare matrix product up to a million templates:

- search: one matrix-vector product, then top-k by partial selection (``argpartition``
  over a few rows per wanted person), never a sort over everyone;
- add: amortised O(1) -- rows go into spare capacity, which doubles when full;
- remove: O(1) tombstones (the row's score is pushed to -inf); the matrix is compacted
  once tombstones outnumber a quarter of the live rows, so removal is amortised O(1);
- 1:1 (``verify``, or ``search(among=...)``): touches only those people's rows.

Readers never lock. Writers hold a lock and only write rows, codes and penalties past
the row count a reader captured, or one penalty element (a tombstone, which a concurrent
search may or may not see, as if it ran just before or after). Growth and compaction
build new arrays and publish them in a new snapshot, so a reader's arrays never move.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from kiosk.inference.faces import Embedding, require_same_model
from kiosk.inference.matching import Candidate

_MIN_CAPACITY = 64
_COMPACT_MIN_DEAD = 1024  # below this many tombstones compaction is not worth a copy


@dataclass(frozen=True)
class Template:
    template_id: str
    person_id: str
    embedding: Embedding


@dataclass(frozen=True)
class _Snapshot:
    """Arrays a reader uses; rows [:count] are written, tombstones have penalty -inf."""

    matrix: NDArray[np.float32]  # capacity x dim
    penalty: NDArray[np.float32]  # capacity; 0 live, -inf tombstone
    codes: NDArray[np.int64]  # capacity; per row: index into person_ids
    template_ids: list[str]  # per row; append-only between rebuilds
    person_ids: list[str]  # per code; append-only between rebuilds
    rows_of: dict[str, tuple[int, ...]]  # live rows per person; values replaced, not edited
    count: int
    dead: int


def _empty(dimension: int, capacity: int) -> _Snapshot:
    return _Snapshot(
        np.empty((capacity, dimension), np.float32),
        np.zeros(capacity, np.float32),
        np.zeros(capacity, np.int64),
        [],
        [],
        {},
        0,
        0,
    )


class Gallery:
    """Templates of one model id; top-k search returns the best template per person."""

    def __init__(self, model_id: str, dimension: int = 512) -> None:
        self.model_id = model_id
        self.dimension = dimension
        self._lock = threading.Lock()
        self._snapshot = _empty(dimension, 0)
        self._row_of: dict[str, int] = {}  # live template id -> row (writers only)
        self._code_of: dict[str, int] = {}  # person id -> code (writers only)

    def __len__(self) -> int:
        snap = self._snapshot
        return snap.count - snap.dead

    @property
    def capacity(self) -> int:
        return int(self._snapshot.matrix.shape[0])

    @property
    def person_ids(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._snapshot.rows_of)

    def add(self, template: Template) -> None:
        self.add_many([template])

    def add_many(self, templates: Iterable[Template]) -> None:
        """Add templates (replacing any with the same template id)."""
        items = list({t.template_id: t for t in templates}.values())
        for item in items:
            self._check(item.embedding)
        with self._lock:
            self._reserve_locked(self._snapshot.count + len(items))
            self._append_locked(items)
            self._compact_if_worth_it()

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` rows at once (e.g. before loading a large gallery)."""
        with self._lock:
            self._reserve_locked(capacity)

    def remove(self, template_ids: Collection[str]) -> None:
        with self._lock:
            for template_id in template_ids:
                self._remove_locked(template_id)
            self._compact_if_worth_it()

    def remove_person(self, person_id: str) -> None:
        with self._lock:
            snap = self._snapshot
            for row in snap.rows_of.get(person_id, ()):
                self._remove_locked(snap.template_ids[row])
            self._compact_if_worth_it()

    def replace_all(self, templates: Iterable[Template]) -> None:
        """Swap in a whole new set atomically (e.g. a full sync snapshot)."""
        items = list({t.template_id: t for t in templates}.values())
        for item in items:
            self._check(item.embedding)
        with self._lock:
            self._row_of, self._code_of = {}, {}
            self._snapshot = _empty(self.dimension, max(_MIN_CAPACITY, len(items)))
            self._append_locked(items)

    def compact(self) -> None:
        """Drop tombstoned rows now (it also happens on its own as they accumulate)."""
        with self._lock:
            self._rebuild_locked(self._snapshot.count - self._snapshot.dead)

    def search(
        self, probe: Embedding, k: int = 2, among: Collection[str] | None = None
    ) -> list[Candidate]:
        """The ``k`` most similar people, best first; ``among`` limits the search (1:1 badge).

        With ``among`` only those people's rows are read, whatever the gallery's size.
        """
        self._check(probe)
        snap = self._snapshot
        if k < 1:
            return []
        if among is not None:
            return self._search_rows(snap, probe, k, among)
        if snap.count == 0:
            return []
        scores = snap.matrix[: snap.count] @ probe.vector
        if snap.dead:
            scores += snap.penalty[: snap.count]
        rows = _top_rows_per_person(scores, snap.codes[: snap.count], k)
        return [self._candidate(snap, int(row), float(scores[row])) for row in rows]

    def verify(self, probe: Embedding, person_id: str) -> Candidate | None:
        """1:1: the person's best template against ``probe`` (None if not enrolled)."""
        found = self.search(probe, k=1, among=(person_id,))
        return found[0] if found else None

    def _search_rows(
        self, snap: _Snapshot, probe: Embedding, k: int, among: Collection[str]
    ) -> list[Candidate]:
        wanted = [snap.rows_of.get(person_id, ()) for person_id in among]
        rows = np.fromiter(
            (row for group in wanted for row in group), np.int64, sum(map(len, wanted))
        )
        if rows.size == 0:
            return []
        scores = snap.matrix[rows] @ probe.vector
        picked = _top_rows_per_person(scores, snap.codes[rows], k)
        return [self._candidate(snap, int(rows[i]), float(scores[i])) for i in picked]

    @staticmethod
    def _candidate(snap: _Snapshot, row: int, similarity: float) -> Candidate:
        return Candidate(snap.person_ids[int(snap.codes[row])], snap.template_ids[row], similarity)

    def _check(self, embedding: Embedding) -> None:
        require_same_model(self.model_id, embedding.model_id)
        if embedding.vector.shape != (self.dimension,):
            raise ValueError(
                f"embedding has shape {embedding.vector.shape}, expected ({self.dimension},)"
            )

    def _reserve_locked(self, needed: int) -> None:
        capacity = self.capacity
        if needed > capacity:
            self._rebuild_locked(max(needed, 2 * capacity, _MIN_CAPACITY))

    def _append_locked(self, items: list[Template]) -> None:
        """Write rows past the published count, then publish a snapshot that includes them.

        Capacity is reserved by the caller. A replaced template's new row is published
        before its old row is tombstoned, so a concurrent search never finds neither.
        """
        snap = self._snapshot
        touched: dict[str, list[int]] = {}
        for row, item in enumerate(items, snap.count):
            code = self._code_of.get(item.person_id)
            if code is None:
                code = self._code_of[item.person_id] = len(snap.person_ids)
                snap.person_ids.append(item.person_id)
            snap.matrix[row] = item.embedding.vector
            snap.codes[row] = code
            snap.penalty[row] = 0.0
            snap.template_ids.append(item.template_id)
            touched.setdefault(item.person_id, []).append(row)
        for person_id, rows in touched.items():
            snap.rows_of[person_id] = snap.rows_of.get(person_id, ()) + tuple(rows)
        self._publish(snap, count=snap.count + len(items), dead=snap.dead)
        for row, item in enumerate(items, snap.count):
            old = self._row_of.get(item.template_id)
            if old is not None:
                self._tombstone_locked(old)
            self._row_of[item.template_id] = row

    def _publish(self, snap: _Snapshot, *, count: int, dead: int) -> None:
        self._snapshot = _Snapshot(
            snap.matrix,
            snap.penalty,
            snap.codes,
            snap.template_ids,
            snap.person_ids,
            snap.rows_of,
            count,
            dead,
        )

    def _tombstone_locked(self, row: int) -> None:
        """Push ``row``'s score to -inf and drop it from its person's rows."""
        snap = self._snapshot
        person_id = snap.person_ids[int(snap.codes[row])]
        snap.penalty[row] = -np.inf
        remaining = tuple(r for r in snap.rows_of[person_id] if r != row)
        if remaining:
            snap.rows_of[person_id] = remaining
        else:
            del snap.rows_of[person_id]
        self._publish(snap, count=snap.count, dead=snap.dead + 1)

    def _remove_locked(self, template_id: str) -> None:
        row = self._row_of.pop(template_id, None)
        if row is not None:
            self._tombstone_locked(row)

    def _compact_if_worth_it(self) -> None:
        snap = self._snapshot
        live = snap.count - snap.dead
        if snap.dead >= _COMPACT_MIN_DEAD and snap.dead * 4 > live:
            self._rebuild_locked(max(_MIN_CAPACITY, 2 * live))

    def _rebuild_locked(self, capacity: int) -> None:
        """New arrays of ``capacity`` rows holding the live rows, published as a snapshot.

        Without tombstones rows keep their places (growth is a copy); with tombstones
        the live rows are packed in order (compaction) and every index is rebuilt.
        """
        snap = self._snapshot
        if snap.dead == 0:
            fresh = _empty(self.dimension, max(capacity, snap.count))
            fresh.matrix[: snap.count] = snap.matrix[: snap.count]
            fresh.codes[: snap.count] = snap.codes[: snap.count]
            fresh.template_ids.extend(snap.template_ids)
            fresh.person_ids.extend(snap.person_ids)
            fresh.rows_of.update(snap.rows_of)
            self._publish(fresh, count=snap.count, dead=0)
            return
        keep = np.flatnonzero(snap.penalty[: snap.count] == 0.0)
        fresh = _empty(self.dimension, max(capacity, keep.size))
        fresh.matrix[: keep.size] = snap.matrix[keep]
        used, codes = np.unique(snap.codes[keep], return_inverse=True)
        fresh.codes[: keep.size] = codes
        fresh.person_ids.extend(snap.person_ids[c] for c in used.tolist())
        fresh.template_ids.extend(snap.template_ids[r] for r in keep.tolist())
        rows: dict[str, list[int]] = {}
        for new_row, code in enumerate(codes.tolist()):
            rows.setdefault(fresh.person_ids[code], []).append(new_row)
        fresh.rows_of.update((p, tuple(r)) for p, r in rows.items())
        self._row_of = {tid: r for r, tid in enumerate(fresh.template_ids)}
        self._code_of = {p: c for c, p in enumerate(fresh.person_ids)}
        self._publish(fresh, count=keep.size, dead=0)


def _top_rows_per_person(
    scores: NDArray[np.float32], codes: NDArray[np.int64], k: int
) -> list[int]:
    """Indices of the best-scoring row of each of the ``k`` best people, best first.

    Partial selection of a few rows per wanted person; widened only when one person's
    templates crowd the others out. Rows scoring -inf (tombstones) are never returned.
    """
    n = scores.shape[0]
    wanted = min(n, 4 * k + 8)
    while True:
        if wanted >= n:
            order = np.argsort(-scores, kind="stable")
        else:
            part = np.argpartition(scores, n - wanted)[n - wanted :]
            order = part[np.argsort(-scores[part], kind="stable")]
        picked: list[int] = []
        seen: set[int] = set()
        for row in order.tolist():
            if scores[row] == -np.inf:
                break
            code = int(codes[row])
            if code not in seen:
                seen.add(code)
                picked.append(row)
                if len(picked) == k:
                    return picked
        if wanted >= n:
            return picked
        wanted = min(n, wanted * 4)
