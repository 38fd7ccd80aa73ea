"""``sonta face ...``: the face engine from the command line, for people and scripts.

With ``--json`` each command prints one JSON document on stdout whose shape is stable
(documented in the README); errors always go to stderr with a non-zero exit code.

This module only declares the commands: their code (kiosk.inference.commands) imports
onnxruntime, OpenCV and InsightFace, so it is loaded when a face command runs, keeping
every other ``sonta`` command quick to start and light in memory.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.inference.errors import FaceEngineError
from kiosk.inference.packs import KNOWN_PACKS

EXIT_ERROR = 1
MAX_DET_SIZE = 1280
PURPOSES = ("enrolment", "checkin")  # kiosk.inference.quality.Purpose values


def register(subparsers: Any) -> None:
    face = subparsers.add_parser(
        "face", help="the face engine: detect, compare, calibrate, model packs"
    )
    commands = face.add_subparsers(dest="face_command", required=True, metavar="COMMAND")

    detect = commands.add_parser("detect", help="faces, keypoints and quality of images")
    detect.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    detect.add_argument("--purpose", choices=PURPOSES, default="enrolment")
    detect.add_argument(
        "--det-size",
        type=det_size,
        default=640,
        help=f"detector input size: a multiple of 32 up to {MAX_DET_SIZE} (default 640)",
    )
    _common(detect)
    detect.set_defaults(handler=_command("detect"))

    compare = commands.add_parser("compare", help="similarity of the main faces of two images")
    compare.add_argument("first", type=Path, metavar="A")
    compare.add_argument("second", type=Path, metavar="B")
    compare.add_argument(
        "--skip-gates",
        action="store_true",
        help="compare even faces that fail the check-in quality gates (they are still reported)",
    )
    _common(compare)
    compare.set_defaults(handler=_command("compare"))

    calibrate = commands.add_parser(
        "calibrate", help="measure the pack's thresholds on labelled photos"
    )
    calibrate.add_argument("folder", type=Path, metavar="DIR")
    calibrate.add_argument(
        "--identities",
        type=Path,
        metavar="FILE",
        help="JSON mapping each person to their photos (paths relative to DIR); default: "
        "DIR/identities.json, else one sub-folder of DIR per person",
    )
    calibrate.add_argument(
        "--target-far",
        type=float,
        default=0.001,
        help="false accepts per search to aim for when suggesting thresholds (default 0.001)",
    )
    _common(calibrate)
    calibrate.set_defaults(handler=_command("calibrate"))

    models = commands.add_parser("models", help="known model packs and which are present")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(handler=_command("models"))

    fetch = commands.add_parser("fetch", help="download a model pack into the local cache")
    fetch.add_argument("pack", choices=sorted(KNOWN_PACKS))
    source = fetch.add_mutually_exclusive_group()
    source.add_argument("--url", help="download from this URL instead of the official release")
    source.add_argument(
        "--from-dir",
        type=Path,
        metavar="DIR",
        help="install from a folder holding the pack's ONNX files (checksums verified)",
    )
    fetch.add_argument("--json", action="store_true", help="print JSON")
    fetch.set_defaults(handler=_command("fetch"))


def det_size(text: str) -> int:
    """A detector input size: SCRFD's strides need a multiple of 32."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 32 or value > MAX_DET_SIZE or value % 32:
        raise argparse.ArgumentTypeError(
            f"{text} is not a multiple of 32 between 32 and {MAX_DET_SIZE} (e.g. 640, or 1024 "
            "for a group photo)"
        )
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--model", help="model pack to use (default: FACE_MODEL or buffalo_l)")


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if not args.verbose:
            logging.getLogger("kiosk.inference").setLevel(logging.WARNING)
        try:
            commands = importlib.import_module("kiosk.inference.commands")
            code: int = getattr(commands, name)(args)
        except FaceEngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        return code

    return run
