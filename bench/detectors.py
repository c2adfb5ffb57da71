"""Which face detector for photos, and where each puts a face in its box.

    python -m bench.detectors [--data ../shared/data/faces15] [--photos ../shared/data/photos_val] [--faces 600]

1. Box fit (ensemble.detect.BoxFit) on faces15's *training* crops: each crop enlarged 2x (a face about
   140 px wide, as in photos) in a margin of its own edge pixels, the detector run, and each of the 15
   labelled keypoints measured from the box's centre in box sides (medians over the crops found): the
   offsets ensemble.detect's detectors carry.
2. Recall and speed on photos_val's whole photos: a photo counts as found when its largest detection's
   box holds the labelled keypoints' centroid; ms per photo over all of them, in this process, 2 threads.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.common import FACES15, RESULTS, write_results
from data.keypoints import COLUMNS
from data.origin import infer_origin
from data.reader import load_faces
from ensemble.detect import create_detector, detector_names
from ensemble.photos import read_photo, to_grey

SCALE, MARGIN = 2, 96  # crops enlarged 2x, then MARGIN px of repeated edge on every side


def box_fit(name: str, data: Path, n_faces: int) -> dict:
    faces = load_faces(data / "train.csv.gz", need_labels=True)
    origin = infer_origin(faces)
    complete = np.flatnonzero(~np.isnan(faces.keypoints).any(axis=1))[:n_faces]
    detector = create_detector(name)
    offsets = []
    for i in complete:
        big = np.asarray(Image.fromarray(faces.images[i]).resize((96 * SCALE,) * 2, Image.BICUBIC))
        photo = np.pad(big, MARGIN, mode="edge")
        found = detector.find(photo)
        if not found:
            continue
        box = max(found, key=lambda d: d.size)
        # keypoints in pixel-edge units of the padded photo: label x - origin is the pixel index, + 0.5 its centre
        points = (faces.keypoints[i].reshape(15, 2) - origin + 0.5) * SCALE + MARGIN
        offsets.append((points - box.centre) / box.size)
    median = np.median(offsets, axis=0)  # (15, 2)
    return {"crops": len(complete), "found": len(offsets), "offsets": np.round(median, 4).tolist(),
            "iqr_box_sides": float(np.mean(np.subtract(*np.percentile(offsets, [75, 25], axis=0))))}


def recall(name: str, photos: Path) -> dict:
    labels = pd.read_csv(photos / "labels.csv")
    detector = create_detector(name)
    found, seconds = 0, 0.0
    for _, row in labels.iterrows():
        grey = to_grey(read_photo(photos / "photos" / row["image"]))
        start = time.perf_counter()
        detections = detector.find(grey)
        seconds += time.perf_counter() - start
        if detections:
            box = max(detections, key=lambda d: d.size).box
            cx, cy = row[COLUMNS].to_numpy(float).reshape(15, 2).mean(axis=0)
            found += box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
    return {"photos": len(labels), "found_share": found / len(labels), "ms_per_photo": 1000 * seconds / len(labels)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.detectors", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=FACES15)
    p.add_argument("--photos", type=Path, default=FACES15.parent / "photos_val")
    p.add_argument("--faces", type=int, default=600, help="training crops to fit each detector's box on")
    p.add_argument("--detectors", nargs="+", default=detector_names())
    p.add_argument("--tag", default="", help="the results file's suffix: bench/results/detectors_TAG.json")
    args = p.parse_args(argv)
    results = {}
    for name in args.detectors:
        results[name] = {"box_fit": box_fit(name, args.data, args.faces), "photos_val": recall(name, args.photos)}
        fit, val = results[name]["box_fit"], results[name]["photos_val"]
        print(f"{name}: box fit on {fit['found']}/{fit['crops']} training crops (per-keypoint spread: {fit['iqr_box_sides']:.4f} box "
              f"sides, interquartile); photos_val: found {val['found_share']:.1%}, {val['ms_per_photo']:.1f} ms/photo\n"
              f"  BoxFit(offsets={tuple(map(tuple, fit['offsets']))})", flush=True)
    write_results("detectors", args, results, path=RESULTS / f"detectors_{args.tag}.json" if args.tag else None)


if __name__ == "__main__":
    main()
