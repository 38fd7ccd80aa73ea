"""Measuring a pack's thresholds on labelled photos: what ``sonta face calibrate`` computes.

Every pair of photos of the same person is a *genuine* pair, every other pair an
*impostor* pair. From their similarity distributions come the false-accept rate (FAR:
impostor pairs at or above a threshold) and false-reject rate (FRR: genuine pairs below
it) at the current thresholds, and suggested thresholds for a target FAR.

A labelled set of a few hundred impostor pairs cannot observe a FAR below about one in
that many, yet 1:N search against N people gives an unknown face N chances. So the top
tenth of the impostor scores is modelled as an exponential tail (a normal fit to the
whole distribution would put a 0.375 impostor -- seen on unseen photos with the offline
pack -- at one in a billion; the exponential tail puts it at one in 25,000), and 1:N
searches are simulated from it: how often an unknown face's best match reaches accept
and beats the second best by the margin, how often an enrolled face is sent to review
by the margin, and the lowest accept threshold that keeps false accepts per search at
the target.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kiosk.inference.errors import CalibrationError
from kiosk.inference.matching import Thresholds

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
GALLERY_SIZES = (1, 100, 1_000, 10_000)
DEFAULT_TARGET_FAR = 0.001  # per search: one unknown face in a thousand accepted as someone
TAIL_SHARE = 0.1  # the top tenth of impostor scores is modelled as an exponential tail
REVIEW_SHARE = 0.05  # unknown faces a person may be asked to look at, per search
SEARCHES = 200_000  # simulated searches per gallery size


@dataclass(frozen=True)
class Distribution:
    """Summary of one similarity distribution."""

    pairs: int
    minimum: float
    p01: float
    p05: float
    median: float
    p95: float
    p99: float
    maximum: float
    mean: float
    std: float

    @classmethod
    def of(cls, scores: NDArray[np.float64]) -> Distribution:
        p01, p05, median, p95, p99 = np.percentile(scores, [1, 5, 50, 95, 99])
        return cls(
            int(scores.size),
            float(scores.min()),
            float(p01),
            float(p05),
            float(median),
            float(p95),
            float(p99),
            float(scores.max()),
            float(scores.mean()),
            float(scores.std(ddof=1)),
        )


@dataclass(frozen=True)
class Rates:
    """Measured rates of one threshold over the labelled pairs."""

    threshold: float
    false_accepts: int  # impostor pairs at or above
    false_rejects: int  # genuine pairs below
    far: float
    frr: float


@dataclass(frozen=True)
class Tail:
    """Impostor scores above ``start`` (a fraction ``share`` of them) fall off exponentially
    with scale ``scale``: P(score > x) = share * exp(-(x - start) / scale)."""

    start: float
    share: float
    scale: float

    @classmethod
    def fit(cls, impostor: NDArray[np.float64], share: float = TAIL_SHARE) -> Tail:
        start = float(np.quantile(impostor, 1 - share))
        excess = impostor[impostor > start] - start
        return cls(start, share, float(excess.mean()) if excess.size else 0.01)

    def per_pair(self, score: float) -> float:
        """Estimated share of impostor pairs at or above ``score`` (for scores in the tail)."""
        return self.share * math.exp(-(score - self.start) / self.scale)


@dataclass(frozen=True)
class GallerySize:
    """How thresholds hold in 1:N search against ``people`` enrolled people (tail model)."""

    people: int
    top_impostor_p99: float  # an unknown face's best match stays below this 99% of the time
    reach_accept: float  # per search: an unknown face's best match reaches accept
    false_accept: float  # ... and also beats the second best by the margin: accepted
    margin_review: float  # genuine accept-level matches sent to review by the margin
    suggested_accept: float  # lowest accept keeping false_accept <= the target
    suggested_review: float  # unknown faces reach it in at most REVIEW_SHARE of searches


@dataclass(frozen=True)
class CalibrationReport:
    genuine: Distribution
    impostor: Distribution
    thresholds: Thresholds
    accept: Rates
    review: Rates
    target_far: float
    tail: Tail
    sizes: tuple[GallerySize, ...]


def load_identities(folder: Path, identities: Path | None = None) -> dict[str, list[Path]]:
    """Photos per person: from an identities JSON ({person: [paths relative to folder]}),
    ``folder/identities.json`` if present, else one sub-folder per person."""
    listing = identities or (folder / "identities.json")
    if listing.is_file():
        try:
            raw = json.loads(listing.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"cannot read {listing}: {exc}") from exc
        if not isinstance(raw, dict) or not all(
            isinstance(v, list) and all(isinstance(p, str) for p in v) for v in raw.values()
        ):
            raise CalibrationError(
                f"{listing} must map each person to a list of photo paths, e.g. "
                '{"ama": ["ama1.jpg", "ama2.jpg"], "kofi": ["kofi1.jpg"]}'
            )
        people = {str(k): [folder / p for p in v] for k, v in raw.items()}
    elif identities is not None:
        raise CalibrationError(f"{identities} does not exist.")
    elif not folder.is_dir():
        raise CalibrationError(f"{folder} is not a folder of labelled photos.")
    else:
        people = {
            sub.name: sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            for sub in sorted(folder.iterdir())
            if sub.is_dir()
        }
    people = {person: photos for person, photos in people.items() if photos}
    if len(people) < 2 or not any(len(p) >= 2 for p in people.values()):
        raise CalibrationError(
            f"{folder} needs photos of at least two people and two photos of at least one "
            "person: put each person's photos in a folder named after them, or pass "
            "--identities FILE mapping each person to their photos."
        )
    return people


def pair_scores(
    embeddings: Mapping[str, Sequence[NDArray[np.float32]]],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Cosine similarities of every genuine and every impostor pair of unit embeddings."""
    labels = np.array([person for person, vectors in embeddings.items() for _ in vectors])
    matrix = np.stack([v for vectors in embeddings.values() for v in vectors]).astype(np.float64)
    upper = np.triu_indices(labels.size, k=1)  # every unordered pair once
    scores = (matrix @ matrix.T)[upper]
    same = labels[upper[0]] == labels[upper[1]]
    return scores[same], scores[~same]


def rates(genuine: NDArray[np.float64], impostor: NDArray[np.float64], threshold: float) -> Rates:
    false_accepts = int((impostor >= threshold).sum())
    false_rejects = int((genuine < threshold).sum())
    return Rates(
        threshold,
        false_accepts,
        false_rejects,
        false_accepts / impostor.size,
        false_rejects / genuine.size,
    )


def analyse(
    genuine: NDArray[np.float64],
    impostor: NDArray[np.float64],
    thresholds: Thresholds,
    *,
    target_far: float = DEFAULT_TARGET_FAR,
    sizes: Sequence[int] = GALLERY_SIZES,
) -> CalibrationReport:
    """Distributions, rates at ``thresholds`` and suggestions per gallery size."""
    if genuine.size == 0 or impostor.size < 2:
        raise CalibrationError("Need at least one same-person pair and two different-person pairs.")
    if not 0 < target_far < 1:
        raise CalibrationError("The target false-accept rate must be between 0 and 1.")
    tail = Tail.fit(impostor)
    return CalibrationReport(
        Distribution.of(genuine),
        Distribution.of(impostor),
        thresholds,
        rates(genuine, impostor, thresholds.accept),
        rates(genuine, impostor, thresholds.review),
        target_far,
        tail,
        tuple(gallery_size(n, genuine, tail, thresholds, target_far) for n in sizes),
    )


def top_two_impostors(
    people: int, tail: Tail, searches: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Best and second-best impostor score of ``searches`` simulated searches.

    Only the tail matters: K ~ Binomial(people, share) scores land in it; the
    second-largest of K uniforms is Beta(K-1, 2), and above it the largest of
    exponentials lies one Exp(scale) further (memorylessness). Below the tail
    ``start`` stands in for a score, which never reaches a threshold above it.
    """
    k = rng.binomial(people, tail.share, searches)
    second_u = rng.beta(np.maximum(k - 1, 1), 2)
    second = np.where(k >= 2, tail.start - tail.scale * np.log1p(-second_u), tail.start)
    best = np.where(k >= 1, second + tail.scale * rng.exponential(1.0, searches), tail.start)
    return best, second


def gallery_size(
    people: int,
    genuine: NDArray[np.float64],
    tail: Tail,
    thresholds: Thresholds,
    target_far: float,
    *,
    searches: int = SEARCHES,
) -> GallerySize:
    """Simulated 1:N searches of an unknown face, and of enrolled faces, against ``people``."""
    rng = np.random.default_rng(people)  # the same figures on every run
    best, second = top_two_impostors(people, tail, searches, rng)
    separated = best - second >= thresholds.margin

    def false_accept(accept: float) -> float:
        return float(np.mean((best >= accept) & separated))

    # An enrolled face scores g (drawn from the genuine pairs) against people - 1 others.
    others, _ = top_two_impostors(people - 1, tail, searches, rng) if people > 1 else (None, None)
    g = rng.choice(genuine, searches)
    strong = g >= thresholds.accept
    margin_review = (
        float(np.mean(others[strong] > g[strong] - thresholds.margin))
        if others is not None and strong.any()
        else 0.0
    )
    candidates = np.round(np.arange(0.20, 1.0, 0.01), 2)
    suggested = next((float(a) for a in candidates if false_accept(a) <= target_far), 1.0)
    return GallerySize(
        people,
        float(np.quantile(best, 0.99)),
        float(np.mean(best >= thresholds.accept)),
        false_accept(thresholds.accept),
        margin_review,
        suggested,
        min(suggested, _round_up(float(np.quantile(best, 1 - REVIEW_SHARE)))),
    )


def _round_up(value: float) -> float:
    return math.ceil(value * 100 - 1e-9) / 100
