"""An A/B of one TrainConfig field on faces15: the default CPU start point trained with each value, the
same epochs and seeds, validation RMSE per run and the mean per value.

    python -m bench.ab --field ema --values 0 0.5 [--epochs 24] [--seeds 2] [--threads N] [--data ../shared/data/faces15]

--threads 1 runs on one core as a search's trial does: two such A/Bs (one value each) can then share a
2-core machine one core each.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from bench.common import FACES15, cpu_start_point, faces15_config, train_and_score, write_results
from training.config import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--field", required=True, help="a TrainConfig field")
    parser.add_argument("--values", nargs="+", required=True)
    parser.add_argument("--epochs", type=int, default=24, help="every run's schedule length (the default search's max)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default 0: every core)")
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--out", type=Path, help="default bench/results/ab_FIELD.json")
    args = parser.parse_args()

    # the start point fixes patience (1000) too: overridden here, not passed twice
    base = faces15_config(args.data, **{**cpu_start_point(), "epochs": args.epochs, "patience": args.epochs, "threads": args.threads})
    split = base.load_split()
    runs = []
    for seed in range(args.seeds):
        for value in args.values:
            config = TrainConfig.from_dict({args.field: value, "seed": seed}, base=base)
            _, scores = train_and_score(config, split)
            runs.append({"value": value, "seed": seed, **scores})
            print(f"{args.field}={value} seed {seed}: {scores['val_rmse']:.3f} px ({scores['seconds']:.0f} s)", flush=True)
    means = {value: statistics.mean(r["val_rmse"] for r in runs if r["value"] == value) for value in args.values}
    print("mean val RMSE: " + ", ".join(f"{args.field}={v}: {m:.3f} px" for v, m in means.items()))
    write_results("ab", args, {"config": base.to_dict(), "field": args.field, "runs": runs, "mean_val_rmse": means},
                  args.out or Path(f"bench/results/ab_{args.field}.json"))


if __name__ == "__main__":
    main()
