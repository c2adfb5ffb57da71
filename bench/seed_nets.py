"""Train the seed's `cnn` and `vgg_opt` with the seed's recipe (Adam, batch 256, early stopping with
best-weight restore, flip augmentation) on faces15 train -> val, each within a time budget, and
write val RMSE and seconds per epoch to JSON.

    python -m bench.seed_nets [--data ../shared/data/faces15] [--minutes-each 15] [--out bench/results/seed_nets.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import FACES15, faces15_config, train_and_score, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--archs", nargs="+", default=["cnn", "vgg_opt"])
    parser.add_argument("--minutes-each", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/seed_nets.json"))
    args = parser.parse_args()

    results = []
    for arch in args.archs:
        config = faces15_config(args.data, arch=arch, optimizer="adam", lr=1e-3, batch_size=256, epochs=200, patience=10, seed=0)
        print(f"== {arch}, budget {args.minutes_each:g} min", flush=True)
        _, scores = train_and_score(config, config.load_split(), verbose=True, time_budget_s=args.minutes_each * 60)
        results.append({"arch": arch, **scores, "seconds_per_epoch": scores["seconds"] / scores["epochs"], "config": config.to_dict()})
        print(f"{arch}: best val RMSE {scores['val_rmse']:.3f} px after {scores['epochs']} epochs, {results[-1]['seconds_per_epoch']:.1f} s/epoch", flush=True)
    write_results("seed_nets", args, {"runs": results})


if __name__ == "__main__":
    main()
