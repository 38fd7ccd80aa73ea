"""How far to trust a suggested threshold: a bootstrap over people, and a minimum count.

The suggestions of `sonta face calibrate` rest on the impostor tail, and the tail on the
people photographed: pairs of one person's photos are not independent of each other, so
the uncertainty comes from which people happened to be in the set, not from how many
pairs they make. Each resample draws the people again with replacement (a person drawn
twice is two people, whose photos are never paired with each other), refits the tail and
suggests again; the 5th and 95th percentiles of those suggestions are the 90% interval
printed beside each one. Six held-out people put 0.63 / 0.77 / 0.89 at 100 / 1k / 10k
people where the pack's own measurement gave 0.46 / 0.57 / 0.65: with so few people the
interval is wider than the difference, so below `MIN_PEOPLE_TO_SUGGEST` nothing is
suggested at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from kiosk.inference.calibration import GALLERY_SIZES, Tail, gallery_size
from kiosk.inference.matching import Thresholds

# The README asks operators for photos of at least 20 of their own people.
MIN_PEOPLE_TO_SUGGEST = 20
RESAMPLES = 200
# Simulated searches per resample and gallery size (the report itself uses 200,000).
RESAMPLE_SEARCHES = 20_000
LOW, HIGH = 0.05, 0.95  # a 90% interval


@dataclass(frozen=True)
class SuggestionInterval:
    """The 90% bootstrap interval of the suggested accept for ``people`` searched."""

    people: int
    low: float
    high: float


def too_few_people(people: int) -> str | None:
    """Why no threshold may be suggested from ``people`` people, or None when it may."""
    if people >= MIN_PEOPLE_TO_SUGGEST:
        return None
    return (
        f"No thresholds suggested: photos of {people} people, and at least "
        f"{MIN_PEOPLE_TO_SUGGEST} are needed for the tail of different-person scores to "
        "mean anything. Add photos of more people (a few each), or keep the searches "
        "small: a meeting's expected people, or a badge (1:1)."
    )


def suggestion_intervals(
    embeddings: Mapping[str, Sequence[NDArray[np.float32]]],
    thresholds: Thresholds,
    *,
    target_far: float,
    sizes: Sequence[int] = GALLERY_SIZES,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[SuggestionInterval, ...]:
    """The suggested accept per gallery size, recomputed over ``resamples`` resamplings
    of the people; the same intervals on every run for the same photos."""
    labels = np.array([i for i, vectors in enumerate(embeddings.values()) for _ in vectors])
    matrix = np.stack([v for vectors in embeddings.values() for v in vectors]).astype(np.float64)
    upper = np.triu_indices(labels.size, k=1)
    scores = (matrix @ matrix.T)[upper]
    first, second = labels[upper[0]], labels[upper[1]]
    same = first == second
    rng = np.random.default_rng(seed)
    people = len(embeddings)
    found: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(resamples):
        counts = np.bincount(rng.integers(0, people, people), minlength=people)
        genuine = np.repeat(scores[same], counts[first[same]])
        impostor = np.repeat(scores[~same], counts[first[~same]] * counts[second[~same]])
        if genuine.size == 0 or impostor.size < 2:
            continue
        tail = Tail.fit(impostor)
        for n in sizes:
            size = gallery_size(
                n, genuine, tail, thresholds, target_far, searches=RESAMPLE_SEARCHES
            )
            found[n].append(size.suggested_accept)
    return tuple(
        SuggestionInterval(n, *(float(q) for q in np.quantile(found[n], [LOW, HIGH])))
        for n in sizes
        if found[n]
    )
