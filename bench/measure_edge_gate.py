"""The measurement behind the quality gate for faces cut off by the picture's edge.

Real faces (tests/data/faces and the labelled photos of tests/data/calibration), each
cut by the picture's edge on each side in turn: from 10% of the face box to spare
(-0.1, a whole face in a tight frame) to 40% of the box cut off. Each cut is analysed as
enrolment and check-in would (FaceEngine.analyze) and embedded; its similarity to the
uncut face says what recognition lost. Printed per cut: the box margin and the share of
the central face region outside the picture (the two edge measures), the self-similarity,
and how often each purpose's gate refuses; then, over all cuts, what check-in's gate
refuses among the faces recognition still uses (self-similarity >= 0.9) and those it
cannot (< 0.8).

    .venv/bin/python bench/measure_edge_gate.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import read_image_file
from kiosk.inference.packs import resolve_pack
from kiosk.inference.quality import Issue, Purpose, assess
from kiosk.inference.sessions import ThreadSettings

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CUTS = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3, 0.4)
SIDES = ("right", "left", "bottom", "top")


def cut(
    image: np.ndarray, box: tuple[float, float, float, float], side: str, share: float
) -> np.ndarray:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    parts = {
        "right": image[:, : int(x2 - share * w)],
        "left": image[:, max(0, int(x1 + share * w)) :],
        "bottom": image[: int(y2 - share * h)],
        "top": image[max(0, int(y1 + share * h)) :],
    }
    return np.ascontiguousarray(parts[side])


def main() -> None:
    engine = FaceEngine.load(resolve_pack("vectron"), ThreadSettings(intra_op_threads=1))
    paths = sorted((DATA / "faces").glob("*.jpg")) + sorted((DATA / "calibration").glob("*.jpg"))
    rows: list[tuple[float, float, float, float, bool, bool]] = []
    margins_uncut: list[float] = []
    for path in paths:
        whole = read_image_file(path).pixels
        found = engine.analyze(whole, purpose=Purpose.CHECKIN)
        if len(found) != 1 or found[0].embedding is None:
            continue
        reference = found[0]
        margins_uncut.append(reference.quality.measures.edge_margin)  # type: ignore[union-attr]
        for side in SIDES:
            for share in CUTS:
                analysed = engine.analyze(cut(whole, reference.face.bbox, side, share))
                if not analysed:
                    continue
                face = max(analysed, key=lambda a: a.face.score)
                m = face.quality.measures
                assert m is not None and face.embedding is not None
                rows.append(
                    (
                        share,
                        m.edge_margin,
                        m.outside_share,
                        face.embedding.similarity(reference.embedding),
                        Issue.CUT_OFF in assess(m, Purpose.ENROLMENT).issues,
                        Issue.CUT_OFF in assess(m, Purpose.CHECKIN).issues,
                    )
                )
    print(
        f"{len(margins_uncut)} faces; box margin of the uncut photos {min(margins_uncut):.2f}"
        f" to {max(margins_uncut):.2f}"
    )
    print(
        f"{'cut':>6}{'n':>5}{'margin p50':>12}{'outside p50':>13}{'outside max':>13}"
        f"{'sim p10':>9}{'sim p50':>9}{'enrol refuses':>15}{'check-in refuses':>18}"
    )
    table = np.array(rows, dtype=np.float64)
    for share in CUTS:
        part = table[table[:, 0] == share]
        print(
            f"{share:>6.2f}{len(part):>5}{np.median(part[:, 1]):>12.3f}"
            f"{np.median(part[:, 2]):>13.3f}{part[:, 2].max():>13.3f}"
            f"{np.percentile(part[:, 3], 10):>9.2f}{np.median(part[:, 3]):>9.2f}"
            f"{part[:, 4].mean():>15.2f}{part[:, 5].mean():>18.2f}"
        )
    cut_only = table[table[:, 0] > 0]
    kept, lost = cut_only[cut_only[:, 3] >= 0.9], cut_only[cut_only[:, 3] < 0.8]
    for limit in (0.1, 0.15, 0.2, 0.25, 0.3):
        print(
            f"outside share above {limit:.2f} refuses {int((kept[:, 2] > limit).sum())} of "
            f"{len(kept)} cut faces at >= 0.9 and {int((lost[:, 2] > limit).sum())} of "
            f"{len(lost)} below 0.8"
        )
    print(
        f"check-in refuses {int(kept[:, 5].sum())} of {len(kept)} cut faces at >= 0.9 "
        f"self-similarity and {int(lost[:, 5].sum())} of {len(lost)} below 0.8; enrolment "
        f"refuses {int(cut_only[:, 4].sum())} of {len(cut_only)} cut faces"
    )


if __name__ == "__main__":
    main()
