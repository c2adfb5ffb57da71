"""Does the label origin matter? The default CPU start point trained twice on the same faces, the same
epochs and seed: flipping about the pixel-index axis (label_origin 0, kptune's behaviour before) and
about the axis the faces' own labels imply (auto). Validation RMSE, with flip TTA, and the mean x and y
error (a wrong axis shows as an x bias).

    python -m bench.label_origin [--data ../shared/data/faces15] [--epochs 12]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.common import FACES15, cpu_start_point, train_and_score, write_results
from data.keypoints import X_COLUMNS
from data.origin import estimate_origin
from training.config import TrainConfig


def run(split, epochs: int, label_origin: str) -> dict:
    config = TrainConfig.from_dict({**cpu_start_point(), "epochs": epochs, "patience": epochs, "label_origin": label_origin})
    trainer, scores = train_and_score(config, split)
    error = trainer.best_predictions - split.val.keypoints  # (N, 30) px
    result = {"label_origin": trainer.config.label_origin, **scores,
              "mean_x_error_px": float(np.nanmean(error[:, X_COLUMNS])), "mean_y_error_px": float(np.nanmean(error[:, X_COLUMNS + 1]))}
    print(f"label_origin {label_origin:>4} -> {result['label_origin']}: val RMSE {result['val_rmse']:.3f} px, flip TTA {result['val_rmse_flip_tta']:.3f}, "
          f"mean error x {result['mean_x_error_px']:+.2f} y {result['mean_y_error_px']:+.2f} px ({result['seconds']:.0f} s)", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("bench/results/label_origin.json"))
    args = parser.parse_args()
    split = TrainConfig(train=str(args.data / "train.csv.gz"), val=str(args.data / "val.csv.gz")).load_split()
    estimates = {"train": estimate_origin(split.train).value, "val": estimate_origin(split.val).value}
    print(f"estimated label origin: train {estimates['train']:.3f} px, val {estimates['val']:.3f} px", flush=True)
    runs = [run(split, args.epochs, origin) for origin in ("0", "auto")]
    write_results("label_origin", args, {"config": {**cpu_start_point(), "epochs": args.epochs}, "estimated_origin": estimates, "runs": runs}, args.out)


if __name__ == "__main__":
    main()
