"""Does the label origin matter? The default CPU start point trained twice on the same faces, the same
epochs and seed: flipping about the pixel-index axis (label_origin 0, kptune's behaviour before) and
about the axis the faces' own labels imply (auto). Validation RMSE, with flip TTA, and the mean x and y
error (a wrong axis shows as an x bias).

    python bench/label_origin.py [--data ../shared/data/faces15] [--epochs 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.common import FACES15, cpu_start_point, flip_tta_rmse, machine, write_json  # noqa: E402
from data.keypoints import X_COLUMNS  # noqa: E402
from data.origin import estimate_origin  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.trainer import Trainer, prepare_process  # noqa: E402


def run(split, epochs: int, label_origin: str) -> dict:
    config = TrainConfig.from_dict({**cpu_start_point(), "epochs": epochs, "patience": epochs, "label_origin": label_origin})
    prepare_process(config)
    trainer = Trainer(config, split)
    start = time.perf_counter()
    trainer.fit()
    val = split.val
    error = trainer.best_predictions - val.keypoints  # (N, 30) px
    result = {"label_origin": trainer.config.label_origin, "val_rmse": trainer.best_rmse, "val_rmse_flip_tta": flip_tta_rmse(trainer, val),
              "mean_x_error_px": float(np.nanmean(error[:, X_COLUMNS])), "mean_y_error_px": float(np.nanmean(error[:, X_COLUMNS + 1])),
              "seconds": time.perf_counter() - start}
    print(f"label_origin {label_origin:>4} -> {result['label_origin']}: val RMSE {result['val_rmse']:.3f} px, flip TTA {result['val_rmse_flip_tta']:.3f}, "
          f"mean error x {result['mean_x_error_px']:+.2f} y {result['mean_y_error_px']:+.2f} px ({result['seconds']:.0f} s)", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("bench/results/label_origin.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    split = TrainConfig(train=str(args.data / "train.csv.gz"), val=str(args.data / "val.csv.gz")).load_split()
    estimates = {"train": estimate_origin(split.train).value, "val": estimate_origin(split.val).value}
    print(f"estimated label origin: train {estimates['train']:.3f} px, val {estimates['val']:.3f} px", flush=True)
    runs = [run(split, args.epochs, origin) for origin in ("0", "auto")]
    write_json({"machine": machine(), "config": {**cpu_start_point(), "epochs": args.epochs}, "estimated_origin": estimates, "runs": runs}, args.out)


if __name__ == "__main__":
    main()
