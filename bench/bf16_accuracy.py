"""Does bf16 cost accuracy? The same configuration on faces15 trained in float32 and in bf16 autocast,
over a few seeds: validation RMSE of each, the relative difference of the means, and seconds per epoch.

    python -m bench.bf16_accuracy [--data ../shared/data/faces15] [--epochs 6] [--seeds 0 1]

The default schedule is one-cycle, so each run ends annealed: at a constant learning rate the last
epoch's RMSE jumps by several per cent from one epoch to the next, more than any precision effect.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from bench.common import FACES15, faces15_config, train_and_score, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--arch", default="cnn_small")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--schedule", default="onecycle")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=Path("bench/results/bf16_accuracy.json"))
    args = parser.parse_args()

    runs: dict[str, list[dict]] = {"off": [], "bf16": []}
    for seed in args.seeds:
        for amp in runs:
            config = faces15_config(args.data, arch=args.arch, dropout=0.0, batch_size=32, epochs=args.epochs, patience=args.epochs,
                                    schedule=args.schedule, amp=amp, seed=seed)
            print(f"== {args.arch}, {args.schedule}, amp {amp}, seed {seed}", flush=True)
            trainer, scores = train_and_score(config, config.load_split(), verbose=True)
            runs[amp].append({"seed": seed, **scores, "seconds_per_epoch": statistics.mean(r.seconds for r in trainer.history)})
    mean = {amp: statistics.mean(r["val_rmse"] for r in rs) for amp, rs in runs.items()}
    seconds = {amp: statistics.mean(r["seconds_per_epoch"] for r in rs) for amp, rs in runs.items()}
    difference = abs(mean["bf16"] - mean["off"]) / mean["off"]
    print(f"float32 {mean['off']:.3f} px, bf16 {mean['bf16']:.3f} px (means over seeds {args.seeds}): {difference:.1%} apart; "
          f"{seconds['off']:.1f} vs {seconds['bf16']:.1f} s/epoch")
    write_results("bf16_accuracy", args, {"float32": runs["off"], "bf16": runs["bf16"], "mean_val_rmse": {"float32": mean["off"], "bf16": mean["bf16"]},
                                          "relative_difference": difference, "seconds_per_epoch": {"float32": seconds["off"], "bf16": seconds["bf16"]}})


if __name__ == "__main__":
    main()
