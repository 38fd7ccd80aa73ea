"""Turning similarities into decisions: accept, review or reject, with a margin.

Similarities are cosine similarities of L2-normalised embeddings, in [-1, 1]. They are
shown as similarities, never as "percent confidence".

Default thresholds, measured with the offline pack (w600k_mbf) on real photos
(tests/kiosk/inference/test_matching.py re-measures them):
- same person: 0.65-0.72 across the three Obama photos; Yao Ming's portrait vs his face
  among 22 in players.jpg: 0.63;
- different people: at most 0.33 over 678 pairs (Obama, Biden, Yao Ming, the six people
  of t1.jpg, the faces of players.jpg and gdp.jpg), 99th percentile 0.26.
So ``accept`` sits well above every impostor and below every genuine pair seen, and the
review band catches the rare high impostor for a person to decide. The ResNet-50
recogniser of buffalo_l separates people at least as well (its weights cannot be
downloaded here, so these values are not re-measured on it).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Band(enum.Enum):
    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"


@dataclass(frozen=True)
class Thresholds:
    accept: float = 0.45  # at or above: the same person
    review: float = 0.30  # between review and accept: a person decides
    margin: float = 0.08  # best person must beat the second-best person by this much


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
    candidates: Sequence[Candidate], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> MatchDecision:
    """Decision for candidates sorted best first, one per person (as Gallery.search gives)."""
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
