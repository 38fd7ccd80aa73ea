"""The code behind ``sonta face ...`` (declared in kiosk.inference.face_command)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from kiosk.inference import calibration_run
from kiosk.inference.download import PackDownloader, install_from_dir
from kiosk.inference.engine import AnalyzedFace, EngineConfig, FaceEngine
from kiosk.inference.errors import ImageError, ModelPackError
from kiosk.inference.images import read_image_file
from kiosk.inference.matching import band_for
from kiosk.inference.packs import (
    KNOWN_PACKS,
    PackSpec,
    default_cache_dir,
    get_pack_spec,
    missing_files,
    pack_thresholds,
    package_dir,
)
from kiosk.inference.quality import Purpose, image_issues

EXIT_ERROR = 1


def _engine(args: argparse.Namespace) -> FaceEngine:
    config = EngineConfig.from_env()
    if args.model:
        config = replace(config, pack=args.model)
    # One-shot commands: no warm-up of detector sizes they will not use.
    return FaceEngine.load(config.resolve(), config.threads, warm_up_sizes=())


def detect(args: argparse.Namespace) -> int:
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


def compare(args: argparse.Namespace) -> int:
    """Similarity of the largest faces, after the check-in gates (unless --skip-gates)."""
    engine = _engine(args)
    chosen = [_main_face(engine, path) for path in (args.first, args.second)]
    failed = [
        f"{path}: {' '.join(face.quality.reasons)}"
        for path, face in zip((args.first, args.second), chosen, strict=True)
        if not face.quality.passed
    ]
    blocked = bool(failed) and not args.skip_gates
    similarity = None
    band = None
    if not blocked:
        assert chosen[0].embedding is not None and chosen[1].embedding is not None
        similarity = chosen[0].embedding.similarity(chosen[1].embedding)
        band = band_for(similarity, pack_thresholds(engine.spec)[0]).value
    if args.json:
        _print_json(
            {
                "model": _model_json(engine),
                "similarity": None if similarity is None else round(similarity, 4),
                "band": band,
                "gates": "skipped" if args.skip_gates else "checkin",
                "images": [
                    {"path": str(path), "quality": _face_json(face, 1.0)["quality"]}
                    for path, face in zip((args.first, args.second), chosen, strict=True)
                ],
            }
        )
    elif similarity is not None:
        print(f"similarity {similarity:.3f}: {band} (model {engine.model_id})")
    for line in failed:
        print(f"{'warning' if args.skip_gates else 'error'}: {line}", file=sys.stderr)
    if blocked:
        print(
            "error: a face fails the check-in quality gates, so the server would refuse it; "
            "use --skip-gates to compare anyway.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return 0


def _main_face(engine: FaceEngine, path: Path) -> AnalyzedFace:
    """The largest face of the image, assessed with the check-in gates."""
    decoded = read_image_file(path)
    faces = engine.analyze(decoded.pixels, purpose=Purpose.CHECKIN, scale=decoded.scale)
    if not faces:
        raise ImageError(f"{path}: no face found. Use a photo where the face is clearly visible.")
    return max(faces, key=lambda a: a.face.inter_eye_distance)


def calibrate(args: argparse.Namespace) -> int:
    engine = _engine(args)
    report, document = calibration_run.run(engine, args)
    if args.json:
        _print_json({"model": _model_json(engine), **document})
    else:
        print(f"model {engine.model_id}")
        print(calibration_run.render(report, document))
    return 0


def models(args: argparse.Namespace) -> int:
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
                "licence": spec.licence,
                "licence_terms": spec.licence_terms,
                **_thresholds_json(spec),
            }
        )
    if args.json:
        _print_json({"packs": rows})
    else:
        for row in rows:
            mark = "*" if row["selected"] else " "
            state = f"present ({row['source']})" if row["present"] else "not present"
            print(f"{mark} {row['name']:<11} {row['licence']:<15} {state:<20} {row['description']}")
        terms = {spec.licence: spec.licence_terms for spec in KNOWN_PACKS.values()}
        print("\n* = selected by FACE_MODEL. Weight licences:")
        for word, text in terms.items():
            print(f"  {word}: {text}")
    return 0


def fetch(args: argparse.Namespace) -> int:
    config = EngineConfig.from_env()
    spec = get_pack_spec(args.pack)
    target = (config.cache_dir or default_cache_dir()) / spec.name
    if args.from_dir is not None:
        install_from_dir(spec, args.from_dir, target)
    elif spec.url is None and args.url is None:
        raise ModelPackError(
            f"{spec.name} is not downloadable; it ships in the {spec.package} package "
            "(install it, then `sonta face fetch --from-dir` its model folder)."
        )
    else:
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


def _thresholds_json(spec: PackSpec) -> dict[str, Any]:
    """The pack's decision thresholds, whether measured on it, and the measurement."""
    thresholds, measured = pack_thresholds(spec)
    return {
        "thresholds": {
            "accept": thresholds.accept,
            "review": thresholds.review,
            "margin": thresholds.margin,
            "accept_by_gallery": [list(point) for point in thresholds.by_gallery],
        },
        "thresholds_measured": measured,
        "measurement": spec.calibration.measured if spec.calibration else None,
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
