"""Does bf16 cost accuracy? The same configuration on faces15 trained in float32 and in bf16 autocast:
validation RMSE of each, their relative difference, and seconds per epoch.

    python bench/bf16_accuracy.py [--data ../shared/data/faces15] [--epochs 6]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bench.common import FACES15, machine, write_json  # noqa: E402
from search.config import TrainConfig  # noqa: E402
from search.trainer import Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--arch", default="cnn_small")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("bench/results/bf16_accuracy.json"))
    args = parser.parse_args()

    runs = {}
    for amp in ("off", "bf16"):
        config = TrainConfig(train=str(args.data / "train.csv.gz"), val=str(args.data / "val.csv.gz"), arch=args.arch, dropout=0.0,
                             batch_size=32, epochs=args.epochs, patience=args.epochs, amp=amp)
        trainer = Trainer(config, config.load_split())
        print(f"== {args.arch}, amp {amp}", flush=True)
        history = trainer.fit(verbose=True)
        runs[amp] = {"val_rmse": trainer.best_rmse, "seconds_per_epoch": sum(r.seconds for r in history) / len(history),
                     "val_rmse_per_epoch": [r.val_rmse for r in history]}
    difference = abs(runs["bf16"]["val_rmse"] - runs["off"]["val_rmse"]) / runs["off"]["val_rmse"]
    print(f"float32 {runs['off']['val_rmse']:.3f} px, bf16 {runs['bf16']['val_rmse']:.3f} px: {difference:.1%} apart; "
          f"{runs['off']['seconds_per_epoch']:.1f} vs {runs['bf16']['seconds_per_epoch']:.1f} s/epoch")
    write_json({"machine": machine(), "arch": args.arch, "epochs": args.epochs, "float32": runs["off"], "bf16": runs["bf16"],
                "relative_difference": difference}, args.out)


if __name__ == "__main__":
    main()
