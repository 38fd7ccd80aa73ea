"""The public-domain dlib pack beside the offline vectron pack: speed and accuracy.

Speed, per frame, median of interleaved runs (both packs measured in one run, so the
machine's load hits them alike): the enrolment path (detect at 640 + quality + align +
embed of every face), a live-size detection (320), and one embedding of an aligned crop.
Accuracy on the labelled calibration photos: same-person and different-person cosine
ranges, and false accepts / false rejects per pair at each pack's recorded thresholds.

    .venv/bin/python bench/bench_packs.py [--repeats 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_engine import FRAMES, measure  # noqa: E402
from kiosk.inference.calibration import load_identities  # noqa: E402
from kiosk.inference.calibration_run import embed_people  # noqa: E402
from kiosk.inference.engine import FaceEngine  # noqa: E402
from kiosk.inference.images import read_image_file  # noqa: E402
from kiosk.inference.packs import resolve_pack  # noqa: E402
from kiosk.inference.sessions import ThreadSettings  # noqa: E402

PACKS = ("vectron", "dlib")
CALIBRATION = ROOT / "tests/data/calibration"


def speed(engines: dict[str, FaceEngine], repeats: int) -> None:
    print(f"\n{'frame / step':<26}" + "".join(f"{p:>12}" for p in PACKS) + "   dlib/vectron")
    for label, path in FRAMES.items():
        image = read_image_file(path).pixels
        crops = {
            p: [e.recognizer.align(image, f) for f in e.detect(image)][:1]
            for p, e in engines.items()
        }
        steps = {
            "enrol (640, all faces)": lambda e, image=image: e.analyze(image),
            "live detect (320)": lambda e, image=image: e.detect(image, det_size=320),
            "embed one crop": None,
        }
        for step, call in steps.items():
            methods = {
                p: (
                    (lambda e=e, c=crops[p]: e.recognizer.embed(c))
                    if call is None
                    else (lambda e=e, call=call: call(e))
                )
                for p, e in engines.items()
            }
            wall = measure(methods, repeats)["wall"]
            cells = "".join(f"{wall[p]:>10.1f}ms" for p in PACKS)
            print(f"{label[:10] + ' ' + step:<26}{cells}{wall['dlib'] / wall['vectron']:>15.1f}")
        faces = {p: len(e.detect(image)) for p, e in engines.items()}
        print(f"{label[:10] + ' faces found':<26}" + "".join(f"{faces[p]:>12}" for p in PACKS))


def accuracy(engine: FaceEngine) -> str:
    embeddings, skipped = embed_people(engine, load_identities(CALIBRATION, None))
    vectors = np.stack([v for vs in embeddings.values() for v in vs])
    labels = np.array([p for p, vs in embeddings.items() for _ in vs])
    upper = np.triu_indices(len(vectors), 1)
    same = (labels[:, None] == labels[None, :])[upper]
    scores = (vectors @ vectors.T)[upper]
    genuine, impostor = scores[same], scores[~same]
    t = engine.thresholds
    return (
        f"{engine.spec.name:<8} same {genuine.min():.3f}-{genuine.max():.3f} "
        f"(p1 {np.percentile(genuine, 1):.3f})  different {impostor.min():.3f}-"
        f"{impostor.max():.3f} (p99 {np.percentile(impostor, 99):.3f})  gap "
        f"{genuine.min() - impostor.max():+.3f}  at accept {t.accept:.2f}: false accepts "
        f"{int((impostor >= t.accept).sum())}/{len(impostor)}, same-person pairs below "
        f"{int((genuine < t.accept).sum())}/{len(genuine)}; at review {t.review:.2f}: "
        f"rejected {int((genuine < t.review).sum())}; skipped photos {len(skipped)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    compare(args.repeats, args.threads)


def compare(repeats: int, intra_op_threads: int) -> None:
    threads = ThreadSettings(intra_op_threads=intra_op_threads)
    engines = {
        p: FaceEngine.load(resolve_pack(p, cache_dir=Path("/nonexistent")), threads) for p in PACKS
    }
    models = ", ".join(e.model_id for e in engines.values())
    print(f"{intra_op_threads} intra-op thread(s) for onnxruntime; {models}")
    speed(engines, repeats)
    print(f"\naccuracy on {CALIBRATION.relative_to(ROOT)} (cosine, largest face per photo)")
    for engine in engines.values():
        print(accuracy(engine))


if __name__ == "__main__":
    main()
