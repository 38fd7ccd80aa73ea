"""One dynamic-input SCRFD session against InsightFace's fixed-shape session per size.

Stock SCRFD (insightface 2.x) rewrites the model with onnx into a fixed input shape for
each detection size; the engine keeps one session with dynamic input, so that nothing
imports insightface or onnx at run time (kiosk/inference/detector.py). This measures
what that costs: the detector's ONNX run alone, on the same blob, both sessions with the
engine's options (one intra-op thread, spinning off), runs interleaved, median CPU time.

    .venv/bin/python bench/bench_scrfd_sessions.py [--repeats 40]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort
from insightface.model_zoo.scrfd import _static_scrfd_model

from kiosk.inference.packs import resolve_pack
from kiosk.inference.sessions import ThreadSettings, session_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    path = str(resolve_pack("vectron").detector_path)
    options = session_options(ThreadSettings(intra_op_threads=1))
    dynamic = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    name = dynamic.get_inputs()[0].name
    outputs = [output.name for output in dynamic.get_outputs()]
    print("det size   dynamic ms   fixed ms   dynamic/fixed   max |difference|")
    for size in (320, 640):
        fixed = ort.InferenceSession(
            _static_scrfd_model(path, (size, size), name),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        blob = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
        a, b = dynamic.run(outputs, {name: blob}), fixed.run(outputs, {name: blob})
        pairs = zip(a, b, strict=True)
        difference = max(float(np.abs(x.reshape(-1) - y.reshape(-1)).max()) for x, y in pairs)
        times: dict[str, list[float]] = {"dynamic": [], "fixed": []}
        for _ in range(args.repeats):
            for label, session in (("dynamic", dynamic), ("fixed", fixed)):
                started = time.process_time()
                session.run(outputs, {name: blob})
                times[label].append((time.process_time() - started) * 1000)
        dyn, fix = statistics.median(times["dynamic"]), statistics.median(times["fixed"])
        print(f"{size:8d}   {dyn:10.2f}   {fix:8.2f}   {dyn / fix:13.3f}   {difference:.1e}")


if __name__ == "__main__":
    main()
