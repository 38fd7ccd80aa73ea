"""``sonta face calibrate``: embed labelled photos, then report as a table or JSON.

Each photo contributes its largest face, detected at the enrolment size. A photo that
cannot be read or shows no face is listed as skipped, never silently dropped.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kiosk.inference.calibration import (
    CalibrationReport,
    Rates,
    analyse,
    load_identities,
    pair_scores,
)
from kiosk.inference.calibration_bootstrap import suggestion_intervals, too_few_people
from kiosk.inference.engine import FaceEngine
from kiosk.inference.errors import CalibrationError, ImageError
from kiosk.inference.images import read_image_file
from kiosk.inference.packs import pack_thresholds
from kiosk.inference.quality import Purpose


def embed_people(
    engine: FaceEngine, people: dict[str, list[Path]]
) -> tuple[dict[str, list[NDArray[np.float32]]], list[dict[str, str]]]:
    """Embeddings per person (largest face of each photo) and the photos skipped, with why."""
    embeddings: dict[str, list[NDArray[np.float32]]] = {}
    skipped: list[dict[str, str]] = []
    for person, photos in people.items():
        for path in photos:
            try:
                decoded = read_image_file(path)
            except ImageError as exc:
                skipped.append({"path": str(path), "reason": str(exc)})
                continue
            faces = engine.analyze(decoded.pixels, purpose=Purpose.ENROLMENT, scale=decoded.scale)
            if not faces:
                skipped.append({"path": str(path), "reason": "no face found"})
                continue
            largest = max(faces, key=lambda a: a.face.inter_eye_distance)
            assert largest.embedding is not None  # analyze embeds by default
            embeddings.setdefault(person, []).append(largest.embedding.vector)
    return embeddings, skipped


def run(engine: FaceEngine, args: argparse.Namespace) -> tuple[CalibrationReport, dict[str, Any]]:
    """Embed, pair and analyse; returns the report and its JSON document."""
    people = load_identities(args.folder, args.identities)
    embeddings, skipped = embed_people(engine, people)
    if len(embeddings) < 2:
        raise CalibrationError("Fewer than two people have a usable photo; see the skipped list.")
    genuine, impostor = pair_scores(embeddings)
    thresholds, _ = pack_thresholds(engine.spec)
    report = analyse(genuine, impostor, thresholds, target_far=args.target_far)
    refused = too_few_people(len(embeddings))
    intervals = (
        {}
        if refused
        else {
            i.people: [i.low, i.high]
            for i in suggestion_intervals(embeddings, thresholds, target_far=args.target_far)
        }
    )
    sizes = [asdict(size) for size in report.sizes]
    for size in sizes:
        if refused:
            size["suggested_accept"] = size["suggested_review"] = None
        size["suggested_accept_90"] = intervals.get(size["people"])
    document = {
        "people": len(embeddings),
        "photos": sum(map(len, embeddings.values())),
        "skipped": skipped,
        "genuine": asdict(report.genuine),
        "impostor": asdict(report.impostor),
        "thresholds": {
            "accept": thresholds.accept,
            "review": thresholds.review,
            "margin": thresholds.margin,
        },
        "at_accept": asdict(report.accept),
        "at_review": asdict(report.review),
        "target_far": report.target_far,
        "tail": asdict(report.tail),
        "gallery_sizes": sizes,
        "suggestions_refused": refused,
    }
    return report, document


def render(report: CalibrationReport, document: dict[str, Any]) -> str:
    """The report as a few aligned tables a person can read."""
    lines = [f"{document['people']} people, {document['photos']} photos"]
    lines += [f"  skipped {s['path']}: {s['reason']}" for s in document["skipped"]]
    lines.append(f"\n{'pairs':<10}{'n':>6}" + "".join(f"{h:>8}" for h in _DIST_HEADERS))
    for name, dist in (("genuine", report.genuine), ("impostor", report.impostor)):
        values = (dist.minimum, dist.p01, dist.p05, dist.median, dist.p95, dist.p99, dist.maximum)
        lines.append(f"{name:<10}{dist.pairs:>6}" + "".join(f"{v:>8.3f}" for v in values))
    lines.append("\nat the pack's thresholds (per pair, measured):")
    lines.append(_rates_line("accept", report.accept))
    lines.append(_rates_line("review", report.review))
    t = report.thresholds
    lines.append(
        f"\n1:N search, simulated from the impostor tail (target false accepts per search "
        f"{report.target_far:g}; accept {t.accept:.2f}, margin {t.margin:.2f}):"
    )
    lines.append(
        f"{'people':>8}{'best p99':>10}{'reach acc.':>12}{'false acc.':>12}"
        f"{'margin rev.':>13}{'sugg. accept (90%)':>22}{'sugg. review':>14}"
    )
    for s, size in zip(report.sizes, document["gallery_sizes"], strict=True):
        lines.append(
            f"{s.people:>8}{s.top_impostor_p99:>10.3f}{s.reach_accept:>12.2e}"
            f"{s.false_accept:>12.2e}{s.margin_review:>13.2e}{_suggestion(size):>22}"
            f"{_number(size['suggested_review']):>14}"
        )
    if document["suggestions_refused"]:
        lines.append(document["suggestions_refused"])
    else:
        lines.append(
            "(90%): the suggestion's range over 200 resamplings of the people; a wide one "
            "means more people are needed before trusting it."
        )
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _suggestion(size: dict[str, Any]) -> str:
    """The suggested accept with its 90% interval beside it: 0.63 (0.55-0.71)."""
    interval = size["suggested_accept_90"]
    if size["suggested_accept"] is None or interval is None:
        return _number(size["suggested_accept"])
    return f"{size['suggested_accept']:.2f} ({interval[0]:.2f}-{interval[1]:.2f})"


_DIST_HEADERS = ("min", "p1", "p5", "median", "p95", "p99", "max")


def _rates_line(name: str, rates: Rates) -> str:
    return (
        f"  {name} {rates.threshold:.2f}: false accepts {rates.false_accepts} "
        f"(FAR {rates.far:.4f}), false rejects {rates.false_rejects} (FRR {rates.frr:.4f})"
    )
