"""An exported ensemble against kptune: do ONNX Runtime's answers agree with Ensemble.predict on the
val faces, and how many ms a face does each take?

    python -m bench.export --ensemble ensemble=runs/RUN/ensemble --ensemble student=runs/RUN/student
                           [--data ../shared/data/faces15] [--tag NAME]

Both with flip TTA, on the CPU, in one process: ONNX Runtime's CPU provider (its default threads) on the
file `ensemble.export` writes, and Ensemble.predict in float32 (amp off: what the file computes) and as
`ensemble.predict` runs it (amp auto: bfloat16 where the CPU has it). ms per face one face at a time
(an app's webcam frame) and in batches of 32 (a folder of photos), over the 443 val faces.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import FACES15, RESULTS, write_results
from data.reader import load_faces
from ensemble.ensemble import Ensemble
from ensemble.export import disagreement, export, load_exported


def ms_per_face(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch: int) -> float:
    predict(images[:batch])  # warm up
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        predict(images[i:i + batch])
    return 1000 * (time.perf_counter() - start) / len(images)


def measure(folder: Path, images: np.ndarray) -> dict:
    exact, shipped = Ensemble(folder, device="cpu", amp="off"), Ensemble(folder, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        path = export(exact, Path(tmp) / "ensemble.onnx", "onnx", tta=True)
        result = {"members": len(exact.models), "onnx_mb": path.stat().st_size / 1e6,
                  "max_abs_diff_px": disagreement(path, "onnx", exact, images, tta=True)}
        runtimes = {"onnxruntime": load_exported(path, "onnx"), "kptune fp32": lambda x: exact.predict(x, tta=True),
                    f"kptune amp auto{' (bf16)' if shipped.bf16 else ''}": lambda x: shipped.predict(x, tta=True)}
        for name, run in runtimes.items():
            for batch in (1, 32):
                result[f"{name}, batch {batch}, ms/face"] = ms_per_face(run, images, batch)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--ensemble", action="append", default=[], metavar="NAME=DIR", help="a kptune ensemble folder to export, named")
    p.add_argument("--data", type=Path, default=FACES15)
    p.add_argument("--tag", default="", help="the results file's suffix: bench/results/export_TAG.json")
    args = p.parse_args(argv)
    images = load_faces(args.data / "val.csv.gz").images
    results = {}
    for spec in args.ensemble:
        name, folder = spec.split("=", 1)
        results[name] = measure(Path(folder), images)
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in results[name].items()}, flush=True)
    write_results("export", args, results, path=RESULTS / f"export_{args.tag}.json" if args.tag else None)


if __name__ == "__main__":
    main()
