"""MTFL as kptune's users would have it: the CUHK multi-task facial landmark photos cropped to 96x96 grey
faces in the Kaggle layout, their five points in Kaggle's columns, the other ten keypoints missing.

    python -m bench.mtfl --source path/to/MTFL --out path/to/mtfl [--layout ../shared/data/faces15/train.csv.gz]

MTFL (Zhang et al., ECCV 2014): 10,000 training photos (LFW and the web) and 2,995 test photos (AFLW),
each with both eye centres, the nose tip and both mouth corners; a copy is in the public repository
nieag/deepl18_project, folder MTFL/ (`training.txt`, `testing.txt` and the photos). Each face is cropped
upright, as a face detector's box would place it: the similarity without rotation that puts its five
points' centroid and spread on those of the same five keypoints in the layout file's mean face, then a
seeded jitter of the box (shift and scale, as a detector's boxes wander) so that the keypoints move about
the frame as much as in faces15's crops. Head roll and pose stay in the labels, as in Kaggle's crops.

Writes OUT/train.csv.gz and OUT/test.csv.gz, both labelled (score on the test file with ensemble.score),
and never into the repository. MTFL's coordinates are taken as 1-based pixel centres (MATLAB's, as
faces15's labels are); the crops' labels keep that convention (label_origin 1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from common.files import write_atomically
from data.keypoints import COLUMNS, KEYPOINT_NAMES
from data.reader import load_faces
from data.synthetic import images_to_strings
from ensemble.align import centroid_and_spread, crop
from ensemble.photos import read_photo, to_grey

from .common import FACES15

# MTFL's points in its order (left and right as the photo shows them: its "left eye" is the subject's right)
MTFL_POINTS = ["right_eye_center", "left_eye_center", "nose_tip", "mouth_right_corner", "mouth_left_corner"]
ORIGIN = 1.0  # MTFL's and the crops' label convention: pixel column c's centre at x = c + 1
SHIFT_SD = 0.06  # the box's jitter: its shift, as a share of the face's spread (x and y), and ...
SCALE_SD = 0.06  # ... its log-scale


def read_annotations(listing: Path) -> pd.DataFrame:
    """training.txt / testing.txt: path, x1..x5, y1..y5, gender, smile, glasses, pose; one face a line."""
    rows = [line.split() for line in listing.read_text().splitlines() if line.strip()]
    frame = pd.DataFrame([[r[0].replace("\\", "/"), *map(float, r[1:11])] for r in rows],
                         columns=["path", *(f"x{i}" for i in range(5)), *(f"y{i}" for i in range(5))])
    return frame


def layout_points(layout_file: Path) -> np.ndarray:
    """(5, 2) the layout file's mean position of MTFL's five keypoints, in pixel-edge coordinates of the frame."""
    keypoints = load_faces(layout_file, need_labels=True).keypoints.reshape(-1, len(KEYPOINT_NAMES), 2)
    index = [KEYPOINT_NAMES.index(name) for name in MTFL_POINTS]
    return np.nanmean(keypoints[:, index], axis=0) + 0.5 - ORIGIN


def crop_face(grey: np.ndarray, points: np.ndarray, layout: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One photo's face: the (96, 96) crop and its (5, 2) points in the frame, edge coordinates both ways."""
    centre, spread = centroid_and_spread(points)
    layout_centre, layout_spread = centroid_and_spread(layout)
    centre = centre + rng.normal(0, SHIFT_SD, 2) * spread
    scale = spread / layout_spread * np.exp(rng.normal(0, SCALE_SD))  # photo px per frame px
    transform = np.hstack([scale * np.eye(2), (centre - scale * layout_centre)[:, None]])  # frame -> photo
    return crop(grey, transform), (points - transform[:, 2]) / scale


def convert(source: Path, listing: str, layout: np.ndarray, seed: int) -> pd.DataFrame:
    """The faces of one MTFL listing as a kptune training frame (30 keypoint columns, Image)."""
    annotations = read_annotations(source / listing)
    rng = np.random.default_rng(seed)
    keypoints = np.full((len(annotations), len(COLUMNS)), np.nan, np.float32)
    images = []
    columns = [COLUMNS.index(f"{name}_{axis}") for name in MTFL_POINTS for axis in "xy"]
    for i, row in enumerate(annotations.itertuples(index=False)):
        points = np.array([[getattr(row, f"x{k}"), getattr(row, f"y{k}")] for k in range(5)]) + 0.5 - ORIGIN
        image, in_frame = crop_face(to_grey(read_photo(source / row.path)), points, layout, rng)
        images.append(image)
        keypoints[i, columns] = (in_frame - 0.5 + ORIGIN).reshape(-1)
        if (i + 1) % 1000 == 0:
            print(f"  {listing}: {i + 1} of {len(annotations)} faces", flush=True)
    return pd.DataFrame(keypoints, columns=COLUMNS).assign(Image=images_to_strings(np.stack(images)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mtfl", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="the MTFL folder (training.txt, testing.txt and the photos)")
    parser.add_argument("--out", type=Path, required=True, help="where train.csv.gz and test.csv.gz go")
    parser.add_argument("--layout", type=Path, default=FACES15 / "train.csv.gz", help="a training file whose mean face places the crops")
    parser.add_argument("--seed", type=int, default=0, help="seed of the boxes' jitter")
    args = parser.parse_args(argv)
    layout = layout_points(args.layout)
    for listing, name, seed in (("training.txt", "train", args.seed), ("testing.txt", "test", args.seed + 1)):
        frame = convert(args.source, listing, layout, seed)
        path = write_atomically(args.out / f"{name}.csv.gz", lambda f, frame=frame: frame.to_csv(
            f, index=False, float_format="%.3f", compression={"method": "gzip", "mtime": 0}), binary=True)
        eyes = frame[["left_eye_center_x", "left_eye_center_y"]].std()
        print(f"wrote {path}: {len(frame)} faces; the left eye's spread in the frame {eyes.iloc[0]:.2f} x {eyes.iloc[1]:.2f} px")


if __name__ == "__main__":
    main()
