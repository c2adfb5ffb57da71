"""How sure is the label-origin estimate on small data? data.origin's estimate, its 90 % interval and
the convention it picks (or its warning) on random subsets of faces15's training faces.

    python -m bench.origin_subsets [--data ../shared/data/faces15] [--sizes 50 150 400 1000] [--seeds 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import FACES15, write_results
from data.origin import estimate_origin
from data.reader import load_faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 150, 400, 1000])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/origin_subsets.json"))
    args = parser.parse_args()
    train = load_faces(args.data / "train.csv.gz")
    rows = []
    for size in [*args.sizes, len(train)]:
        for seed in range(args.seeds if size < len(train) else 1):
            subset = train.subset(np.random.default_rng(seed).choice(len(train), size, replace=False))
            start = time.perf_counter()
            try:
                estimate = estimate_origin(subset)
            except ValueError as err:  # too few faces: infer_origin warns and assumes 0
                rows.append({"faces": size, "seed": seed, "estimate": None, "error": str(err)})
                print(f"{size:>5} faces, seed {seed}: {err}", flush=True)
                continue
            row = {"faces": size, "seed": seed, "estimate": estimate.value, "low": estimate.low, "high": estimate.high,
                   "signal_r2": estimate.signal, "sure": estimate.is_sure, "convention": estimate.convention,
                   "seconds": time.perf_counter() - start}
            rows.append(row)
            print(f"{size:>5} faces, seed {seed}: {estimate} R^2 {estimate.signal:.2f} -> "
                  f"{row['convention']:g}{'' if estimate.is_sure else ' (warns: ' + ' or '.join(f'{c:g}' for c in estimate.candidates) + ')'}"
                  f"  {row['seconds']:.2f} s", flush=True)
    write_results("origin_subsets", args, {"rows": rows}, args.out)


if __name__ == "__main__":
    main()
