"""Keypoints on whole photos: kptune's photo path against dlib's HOG detector + 68-point predictor, on
photos_val (faces15's validation people, never trained or selected on when the search ran without --val).

    python -m bench.photos --ensemble ensemble=runs/RUN/ensemble --ensemble student=runs/RUN/student
                           [--photos ../shared/data/photos_val] [--tag NAME]

Scored as photos_val's README says (300-W's inter-ocular NME): per photo, the mean point-to-point error
of the 15 keypoints over the distance between the labelled eye centres, on the largest face found; the
share of photos with a face found; failures = NME above 10 %. ms per photo: detection, crops and
prediction (kptune, flip TTA, as `ensemble.predict --images` runs) or detection and shape prediction
(dlib, HOG upsampled once), not reading the file; one process, torch on every core, dlib on one.
dlib's points are pixel indices (0-based); the labels put pixel column c's centre at c + 1, so dlib is
scored both as it answers and moved into the labels' convention.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import FACES15, RESULTS, write_results
from data.keypoints import COLUMNS
from ensemble.detect import DEFAULT_DETECTOR, create_detector
from ensemble.ensemble import Ensemble
from ensemble.photos import locate, read_photo, to_grey

# Kaggle's 15 keypoints from dlib's 68 (iBUG 300-W numbering, 0-based); "left" is the subject's left
DLIB_68_TO_15 = [list(range(42, 48)), list(range(36, 42)), [42], [45], [39], [36], [22], [26], [21], [17], [30], [54], [48], [51], [57]]


def nme(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Inter-ocular NME, %: (30,) each."""
    p, t = predicted.reshape(15, 2), truth.reshape(15, 2)
    return 100 * float(np.linalg.norm(p - t, axis=1).mean() / np.linalg.norm(t[0] - t[1]))


def summary(scores: list[float | None], seconds: float) -> dict:
    found = [s for s in scores if s is not None]
    return {"photos": len(scores), "found_share": len(found) / len(scores), "mean_nme_pct": float(np.mean(found)),
            "median_nme_pct": float(np.median(found)), "failure_share": float(np.mean(np.array(found) > 10)),
            "ms_per_photo": 1000 * seconds / len(scores)}


def score_kptune(ensemble: Ensemble, photos: list[np.ndarray], truth: np.ndarray, refine: int) -> dict:
    detector = create_detector(DEFAULT_DETECTOR)
    locate(ensemble, photos[0], detector)  # warm up
    scores, start = [], time.perf_counter()
    for grey, t in zip(photos, truth):
        faces = locate(ensemble, grey, detector, refine=refine, tta=True)
        scores.append(nme(faces[0].keypoints, t) if faces else None)
    return summary(scores, time.perf_counter() - start)


def score_dlib(photos: list[np.ndarray], truth: np.ndarray) -> dict[str, dict]:
    import dlib

    # the package's files, found without importing it (its __init__ needs setuptools' pkg_resources)
    models = Path(importlib.util.find_spec("face_recognition_models").origin).parent / "models"
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    answers, start = [], time.perf_counter()
    for grey in photos:
        rects = detector(grey, 1)
        if not rects:
            answers.append(None)
            continue
        shape = predictor(grey, max(rects, key=lambda r: r.width() * r.height()))
        points = np.array([(p.x, p.y) for p in shape.parts()], float)
        answers.append(np.concatenate([points[i].mean(axis=0) for i in DLIB_68_TO_15]))
    seconds = time.perf_counter() - start
    return {name: summary([None if a is None else nme(a + shift, t) for a, t in zip(answers, truth)], seconds)
            for name, shift in (("dlib HOG + 68 points, as it answers", 0.0), ("dlib HOG + 68 points, in the labels' convention (+1 px)", 1.0))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.photos", description=__doc__.split("\n\n")[0])
    p.add_argument("--ensemble", action="append", default=[], metavar="NAME=DIR", help="a kptune ensemble folder to score, named")
    p.add_argument("--photos", type=Path, default=FACES15.parent / "photos_val")
    p.add_argument("--tag", default="", help="the results file's suffix: bench/results/photos_TAG.json")
    args = p.parse_args(argv)
    labels = pd.read_csv(args.photos / "labels.csv")
    photos = [to_grey(read_photo(args.photos / "photos" / name)) for name in labels["image"]]
    truth = labels[COLUMNS].to_numpy(float)
    results = score_dlib(photos, truth)
    for spec in args.ensemble:
        name, folder = spec.split("=", 1)
        ensemble = Ensemble(Path(folder))
        for passes in (0, 1, 2):
            results[f"kptune {name}, {passes} refinement pass{'es' * (passes != 1)}"] = score_kptune(ensemble, photos, truth, passes)
    print(f"{'':60} {'found':>6} {'mean NME':>9} {'median':>7} {'>10 %':>6} {'ms/photo':>9}")
    for name, r in results.items():
        print(f"{name:60} {r['found_share']:6.1%} {r['mean_nme_pct']:8.2f}% {r['median_nme_pct']:6.2f}% {r['failure_share']:6.1%} "
              f"{r['ms_per_photo']:9.1f}")
    write_results("photos", args, results, path=RESULTS / f"photos_{args.tag}.json" if args.tag else None)


if __name__ == "__main__":
    main()
