"""The GPU check, ready for the first GPU machine: every net's training speed (the speed bench's own
step, float32 and bf16, batch 64), then a short faces15 search with fractional GPUs per trial (several
trials share one GPU), written as bench/results/gpu.json. Without CUDA it says so and exits 0.

    python -m bench.gpu [--data ../shared/data/faces15] [--gpus-per-trial 0.25] [--trials 8] [--minutes 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from bench.common import FACES15, write_results
from bench.speed import training_speed
from models import list_models
from search.results import SearchFolder
from search.run import main as search_main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--gpus-per-trial", type=float, default=0.25)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=5, help="the search's time budget")
    parser.add_argument("--out", type=Path, default=Path("bench/results/gpu.json"))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench.gpu: no CUDA GPU on this machine; nothing measured, nothing written")
        return

    print(f"GPU: {torch.cuda.get_device_name()}", flush=True)
    speed = training_speed(list_models(), [64], seconds=2.0)
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        search_main(["--trials", str(args.trials), "--gpus-per-trial", str(args.gpus_per_trial), "--max-epochs", str(args.max_epochs),
                     "--grace-period", "3", "--time-budget", str(args.minutes), "--train", str(args.data / "train.csv.gz"),
                     "--val", str(args.data / "val.csv.gz"), "--storage", work, "--name", "gpu-check", "--no-dashboard", "--no-report"])
        wall = time.perf_counter() - start
        trials = SearchFolder(Path(work) / "gpu-check").trials()
    search = {"wall_s": wall, "trials": len(trials), "epochs": int(sum(t.metrics.get("epoch", 0) for t in trials)),
              "best_val_rmse": min((t.best_val_rmse for t in trials if t.usable), default=float("nan")),
              "per_trial": [{"arch": t.config.arch if t.config else None, "status": t.status, "epochs": t.metrics.get("epoch", 0),
                             "best_val_rmse": t.best_val_rmse, "epoch_seconds": t.metrics.get("epoch_seconds")} for t in trials]}
    print(f"search: {search['trials']} trials at {args.gpus_per_trial} GPU each, {search['epochs']} epochs in {wall:.0f} s, "
          f"best {search['best_val_rmse']:.3f} px")
    write_results("gpu", args, {"gpu": torch.cuda.get_device_name(), "training_speed": speed, "search": search}, args.out)


if __name__ == "__main__":
    main()
