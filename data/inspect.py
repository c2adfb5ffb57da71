"""`python -m data.inspect FILE`: what a CSV holds, or the one line that says what is wrong with it."""

from __future__ import annotations

import argparse
import time

import numpy as np

from common.errors import exits_on_bad_input

from .keypoints import KEYPOINT_NAMES
from .origin import describe_origin, estimate_origin
from .reader import ignored_columns, load_faces


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.inspect", description=__doc__)
    parser.add_argument("file", help="a train, val or test CSV (.csv or .csv.gz)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    faces = load_faces(args.file)
    seconds = time.perf_counter() - start
    print(f"{faces.source}: {len(faces)} rows")
    ignored = ignored_columns(args.file)
    if ignored:
        print(f"ignored columns (not keypoints, Image or an id): {', '.join(ignored)}")
    print(f"loaded in {seconds:.2f} s {'from cache' if faces.from_cache else 'from CSV (now cached)'}")
    print(f"pixels: min {faces.images.min()}, max {faces.images.max()}, mean {faces.images.mean():.1f}")
    if not faces.has_labels:
        print("no keypoint columns: a test file")
        return
    missing = np.isnan(faces.keypoints)
    print(f"complete rows: {int((~missing.any(axis=1)).sum())} of {len(faces)}")
    try:
        estimate = estimate_origin(faces)
        sure = "" if estimate.is_sure else f"; uncertain: {' or '.join(f'{c:g}' for c in estimate.candidates)} fit, set label_origin to choose"
        signal = "" if estimate.has_signal else "; the images do not show where the faces are"
        print(f"{describe_origin(estimate.convention)} (estimated {estimate}{sure}{signal})")
    except ValueError as err:
        print(f"label origin: {err}")
    print("missing values per keypoint (x, y):")
    for k, name in enumerate(KEYPOINT_NAMES):
        print(f"  {name:<26} {missing[:, 2 * k].sum():>6} {missing[:, 2 * k + 1].sum():>6}")


if __name__ == "__main__":
    main()
