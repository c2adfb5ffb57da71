"""An A/B of one TrainConfig field on faces15: the default CPU start point trained with each value, the
same epochs and seeds, validation RMSE per run and the mean per value.

    python bench/ab.py --field ema --values 0 0.5 [--epochs 24] [--seeds 2] [--data ../shared/data/faces15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bench.common import FACES15, cpu_start_point, machine, write_json  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.trainer import Trainer, prepare_process  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--field", required=True, help="a TrainConfig field")
    parser.add_argument("--values", nargs="+", required=True)
    parser.add_argument("--epochs", type=int, default=24, help="every run's schedule length (the default search's max)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--out", type=Path, help="default bench/results/ab_FIELD.json")
    args = parser.parse_args()

    base = TrainConfig.from_dict({**cpu_start_point(), "epochs": args.epochs, "patience": args.epochs, "train": str(args.data / "train.csv.gz"),
                                  "val": str(args.data / "val.csv.gz")})
    split = base.load_split()
    runs = []
    for seed in range(args.seeds):
        for value in args.values:
            config = TrainConfig.from_dict({args.field: value, "seed": seed}, base=base)
            start = time.perf_counter()
            prepare_process(config)
            trainer = Trainer(config, split)
            trainer.fit()
            runs.append({"value": value, "seed": seed, "val_rmse": trainer.best_rmse, "seconds": time.perf_counter() - start})
            print(f"{args.field}={value} seed {seed}: {trainer.best_rmse:.3f} px ({runs[-1]['seconds']:.0f} s)", flush=True)
    means = {value: statistics.mean(r["val_rmse"] for r in runs if r["value"] == value) for value in args.values}
    print("mean val RMSE: " + ", ".join(f"{args.field}={v}: {m:.3f} px" for v, m in means.items()))
    write_json({"machine": machine(), "config": base.to_dict(), "field": args.field, "runs": runs, "mean_val_rmse": means},
               args.out or Path(f"bench/results/ab_{args.field}.json"))


if __name__ == "__main__":
    main()
