"""``sonta face ...``: the face engine from the command line, for people and scripts.

With ``--json`` each command prints one JSON document on stdout whose shape is stable
(documented in the README); errors always go to stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from kiosk.inference.download import PackDownloader
from kiosk.inference.engine import AnalyzedFace, EngineConfig, FaceEngine
from kiosk.inference.errors import FaceEngineError, ImageError, ModelPackError
from kiosk.inference.images import read_image_file
from kiosk.inference.matching import band_for
from kiosk.inference.packs import (
    KNOWN_PACKS,
    LICENCE,
    default_cache_dir,
    get_pack_spec,
    missing_files,
    package_dir,
)
from kiosk.inference.quality import Purpose, image_issues

EXIT_ERROR = 1


def register(subparsers: Any) -> None:
    face = subparsers.add_parser("face", help="the face engine: detect, compare, model packs")
    commands = face.add_subparsers(dest="face_command", required=True, metavar="COMMAND")

    detect = commands.add_parser("detect", help="faces, keypoints and quality of images")
    detect.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    detect.add_argument("--purpose", choices=[p.value for p in Purpose], default="enrolment")
    detect.add_argument("--det-size", type=int, default=640, choices=[160, 320, 480, 640])
    _common(detect)
    detect.set_defaults(handler=_guarded(_detect))

    compare = commands.add_parser("compare", help="similarity of the main faces of two images")
    compare.add_argument("first", type=Path, metavar="A")
    compare.add_argument("second", type=Path, metavar="B")
    _common(compare)
    compare.set_defaults(handler=_guarded(_compare))

    models = commands.add_parser("models", help="known model packs and which are present")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(handler=_guarded(_models))

    fetch = commands.add_parser("fetch", help="download a model pack into the local cache")
    fetch.add_argument("pack", choices=sorted(KNOWN_PACKS))
    fetch.add_argument("--url", help="download from this URL instead of the official release")
    fetch.add_argument("--json", action="store_true", help="print JSON")
    fetch.set_defaults(handler=_guarded(_fetch))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--model", help="model pack to use (default: FACE_MODEL or buffalo_l)")


def _guarded(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        if not args.verbose:
            logging.getLogger("kiosk.inference").setLevel(logging.WARNING)
        try:
            code: int = command(args)
        except FaceEngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        return code

    return run


def _engine(args: argparse.Namespace) -> FaceEngine:
    config = EngineConfig.from_env()
    if args.model:
        config = replace(config, pack=args.model)
    # One-shot commands: no warm-up of detector sizes they will not use.
    return FaceEngine.load(config.resolve(), config.threads, warm_up_sizes=())


def _detect(args: argparse.Namespace) -> int:
    engine = _engine(args)
    results: list[dict[str, Any]] = []
    for path in args.images:
        try:
            decoded = read_image_file(path)
        except ImageError as exc:
            results.append({"path": str(path), "error": str(exc)})
            continue
        faces = engine.analyze(
            decoded.pixels,
            purpose=Purpose(args.purpose),
            det_size=args.det_size,
            scale=decoded.scale,
        )
        width, height = decoded.original_size
        issues = image_issues(len(faces), Purpose(args.purpose))
        results.append(
            {
                "path": str(path),
                "width": width,
                "height": height,
                "issues": [issue.value for issue in issues],
                "reasons": [issue.advice for issue in issues],
                "faces": [_face_json(face, decoded.scale) for face in faces],
            }
        )
    if args.json:
        _print_json({"model": _model_json(engine), "purpose": args.purpose, "images": results})
    else:
        for result in results:
            _print_detect_text(result)
    failed = [r for r in results if "error" in r]
    for result in failed:
        if not args.json:
            print(f"error: {result['path']}: {result['error']}", file=sys.stderr)
    return EXIT_ERROR if failed else 0


def _compare(args: argparse.Namespace) -> int:
    engine = _engine(args)
    embeddings = []
    for path in (args.first, args.second):
        decoded = read_image_file(path)
        faces = engine.analyze(decoded.pixels, scale=decoded.scale)
        if not faces:
            raise ImageError(
                f"{path}: no face found. Use a photo where the face is clearly visible."
            )
        largest = max(faces, key=lambda a: a.face.inter_eye_distance)
        assert largest.embedding is not None  # analyze(embed=True) always embeds
        embeddings.append(largest.embedding)
    similarity = embeddings[0].similarity(embeddings[1])
    band = band_for(similarity)
    if args.json:
        _print_json(
            {"model": _model_json(engine), "similarity": round(similarity, 4), "band": band.value}
        )
    else:
        print(f"similarity {similarity:.3f}: {band.value} (model {engine.model_id})")
    return 0


def _models(args: argparse.Namespace) -> int:
    config = EngineConfig.from_env()
    rows = []
    for spec in KNOWN_PACKS.values():
        places = [
            ("dir", config.model_dir),
            ("cache", (config.cache_dir or default_cache_dir()) / spec.name),
        ]
        places.append(("package", package_dir(spec)))
        found = next(
            (src for src, folder in places if folder and not missing_files(spec, folder)), None
        )
        rows.append(
            {
                "name": spec.name,
                "model_id": spec.model_id,
                "description": spec.description,
                "files": [f.filename for f in spec.files],
                "present": found is not None,
                "source": found,
                "selected": spec.name == config.pack,
            }
        )
    if args.json:
        _print_json({"packs": rows, "licence": LICENCE})
    else:
        for row in rows:
            mark = "*" if row["selected"] else " "
            state = f"present ({row['source']})" if row["present"] else "not present"
            print(f"{mark} {row['name']:<11} {state:<20} {row['description']}")
        print(f"\n* = selected by FACE_MODEL. {LICENCE}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    config = EngineConfig.from_env()
    spec = get_pack_spec(args.pack)
    if spec.url is None and args.url is None:
        raise ModelPackError(
            f"{spec.name} is not downloadable; it ships in the {spec.package} package."
        )
    target = (config.cache_dir or default_cache_dir()) / spec.name
    PackDownloader(progress=not args.json, url_override=args.url)(spec, target)
    if args.json:
        _print_json({"pack": spec.name, "model_id": spec.model_id, "path": str(target)})
    else:
        print(f"{spec.name} installed in {target}")
    return 0


def _face_json(analyzed: AnalyzedFace, scale: float) -> dict[str, Any]:
    face = analyzed.face.scaled(1 / scale)
    quality = analyzed.quality
    return {
        "bbox": [round(v, 1) for v in face.bbox],
        "score": round(face.score, 4),
        "keypoints": [[round(float(x), 1), round(float(y), 1)] for x, y in face.keypoints],
        "quality": {
            "passed": quality.passed,
            "issues": [issue.value for issue in quality.issues],
            "reasons": quality.reasons,
            "measures": {k: round(v, 2) for k, v in asdict(quality.measures).items()}
            if quality.measures
            else None,
        },
    }


def _model_json(engine: FaceEngine) -> dict[str, str]:
    return {"pack": engine.spec.name, "model_id": engine.model_id}


def _print_detect_text(result: dict[str, Any]) -> None:
    if "error" in result:
        return
    faces = result["faces"]
    print(f"{result['path']} ({result['width']}x{result['height']}): {len(faces)} face(s)")
    for reason in result["reasons"]:
        print(f"  {reason}")
    for number, face in enumerate(faces, 1):
        x1, y1, x2, y2 = (round(v) for v in face["bbox"])
        verdict = (
            "quality ok" if face["quality"]["passed"] else " ".join(face["quality"]["reasons"])
        )
        print(f"  face {number}: box ({x1},{y1})-({x2},{y2}) score {face['score']:.2f}  {verdict}")


def _print_json(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
