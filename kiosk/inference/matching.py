"""Turning similarities into decisions: accept, review or reject, with a margin.

Similarities are cosine similarities of L2-normalised embeddings, in [-1, 1]. They are
shown as similarities, never as "percent confidence".

Thresholds belong to the recogniser: each pack's are kept, with the measurement they
came from, in ``kiosk.inference.packs`` (``pack_thresholds``). ``DEFAULT_THRESHOLDS``
are the offline pack's (MobileFaceNet) for one-to-few comparisons. Searching many
people gives an unknown face many chances, so the accept threshold rises with the
number of people searched (``Thresholds.for_gallery``, measured by
``kiosk.inference.calibration``); the margin guards look-alikes among the enrolled.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np


class Band(enum.Enum):
    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"


@dataclass(frozen=True)
class Thresholds:
    accept: float = 0.45  # at or above: the same person
    review: float = 0.30  # between review and accept: a person decides
    margin: float = 0.08  # best person must beat the second-best person by this much
    # (people, accept) measured points: searching more people needs a higher accept, as an
    # unknown face gets one chance per person (kiosk.inference.calibration). Empty: fixed.
    by_gallery: tuple[tuple[int, float], ...] = ()

    def for_gallery(self, people: int) -> Thresholds:
        """The thresholds for a 1:N search among ``people``: accept raised as measured.

        Between measured sizes the accept is interpolated in log(people); beyond the
        largest measured size it stays at that size's value (nothing larger was measured).
        """
        if not self.by_gallery or people <= 1:
            return self
        points = [(1, self.accept), *self.by_gallery]
        sizes = [math.log(max(n, 1)) for n, _ in points]
        raised = float(np.interp(math.log(people), sizes, [a for _, a in points]))
        return replace(self, accept=max(self.accept, round(raised, 3)))


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Candidate:
    """A person in the gallery and their best template's similarity to the probe."""

    person_id: str
    template_id: str
    similarity: float


@dataclass(frozen=True)
class MatchDecision:
    band: Band
    best: Candidate | None
    margin: float | None  # best minus second-best person; None with one person or none
    reason: str

    @property
    def person_id(self) -> str | None:
        return self.best.person_id if self.best and self.band is not Band.REJECT else None


def band_for(similarity: float, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Band:
    """The band of a 1:1 comparison (no second person to compare against)."""
    if similarity >= thresholds.accept:
        return Band.ACCEPT
    if similarity >= thresholds.review:
        return Band.REVIEW
    return Band.REJECT


def decide(
    candidates: Sequence[Candidate],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    people: int | None = None,
) -> MatchDecision:
    """Decision for candidates sorted best first, one per person (as Gallery.search gives).

    ``people`` is how many people were searched: the accept threshold rises with it
    (``Thresholds.for_gallery``); None keeps the thresholds as given.
    """
    if people is not None:
        thresholds = thresholds.for_gallery(people)
    if not candidates:
        return MatchDecision(Band.REJECT, None, None, "nobody is enrolled for this meeting")
    best = candidates[0]
    margin = best.similarity - candidates[1].similarity if len(candidates) > 1 else None
    band = band_for(best.similarity, thresholds)
    if band is Band.REJECT:
        return MatchDecision(band, best, margin, "no enrolled person is similar enough")
    if margin is not None and margin < thresholds.margin:
        return MatchDecision(
            Band.REVIEW,
            best,
            margin,
            f"too close to call between {best.person_id} and {candidates[1].person_id}",
        )
    reason = "similar enough" if band is Band.ACCEPT else "similar, but not enough to be sure"
    return MatchDecision(band, best, margin, reason)


def describe(decision: MatchDecision, searched: str, thresholds: Thresholds) -> str:
    """One log line for a decision: its band, how many people were searched (``searched``,
    e.g. "1:N among 40") and the thresholds it used, so a doubtful decision can be
    traced to the N and the accept line behind it. No name: the log names no one."""
    best = f"{decision.best.similarity:.3f}" if decision.best else "none"
    margin = f"{decision.margin:.3f}" if decision.margin is not None else "none"
    return (
        f"Face decision {decision.band.value}: {searched}, accept {thresholds.accept:.3f} "
        f"review {thresholds.review:.3f} margin {thresholds.margin:.3f}; best similarity "
        f"{best}, margin {margin}"
    )
