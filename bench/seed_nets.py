"""Train the seed's `cnn` and `vgg_opt` with the seed's recipe (Adam, batch 256, early stopping with
best-weight restore, flip augmentation) on faces15 train -> val, each within a time budget, and
write val RMSE and seconds per epoch to JSON.

    python bench/seed_nets.py [--data ../shared/data/faces15] [--minutes-each 15] [--out bench/results/seed_nets.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch  # noqa: E402

from bench.common import FACES15, machine, write_json  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.trainer import Trainer, prepare_process  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--archs", nargs="+", default=["cnn", "vgg_opt"])
    parser.add_argument("--minutes-each", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/seed_nets.json"))
    args = parser.parse_args()

    results = []
    for arch in args.archs:
        config = TrainConfig(
            train=str(args.data / "train.csv.gz"), val=str(args.data / "val.csv.gz"), arch=arch,
            optimizer="adam", lr=1e-3, batch_size=256, epochs=200, patience=10, seed=0,
        )
        prepare_process(config)
        trainer = Trainer(config, config.load_split())
        print(f"== {arch} on {trainer.device}, {torch.get_num_threads()} threads, budget {args.minutes_each:g} min", flush=True)
        start = time.perf_counter()
        history = trainer.fit(verbose=True, time_budget_s=args.minutes_each * 60)
        seconds = [r.seconds for r in history]
        results.append({
            "arch": arch,
            "best_val_rmse_px": trainer.best_rmse,
            "best_epoch": min(history, key=lambda r: r.val_rmse).epoch,
            "epochs_run": len(history),
            "seconds_per_epoch": sum(seconds) / len(seconds),
            "wall_seconds": time.perf_counter() - start,
            "val_rmse_per_epoch": [r.val_rmse for r in history],
            "config": config.to_dict(),
        })
        print(f"{arch}: best val RMSE {trainer.best_rmse:.3f} px after {len(history)} epochs, {results[-1]['seconds_per_epoch']:.1f} s/epoch", flush=True)

    report = {"machine": machine(), "results": results}
    write_json(report, args.out)


if __name__ == "__main__":
    main()
