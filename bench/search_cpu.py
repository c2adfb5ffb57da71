"""A small real search on faces15 with the CPU defaults, and the projected time of the default
50-trial search (`python -m search.run --trials 50`) on the same machine.

    python bench/search_cpu.py [--data ../shared/data/faces15] [--trials 6] [--max-epochs 2]

The projection: 50 trials x (per-trial overhead + expected epochs per trial x mean seconds per epoch),
where the overhead and seconds per epoch are measured here, and the expected epochs follow from ASHA's
rungs with the default settings (a trial reaches rung r with probability reduction_factor^-r); it
ignores early stopping by patience, so it errs long.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from bench.common import FACES15, machine, write_json  # noqa: E402
from search.results import SearchFolder  # noqa: E402
from search.run import MODES  # noqa: E402
from search.run import main as search_main  # noqa: E402

DEFAULT_GRACE, DEFAULT_FACTOR = 2, 3


def expected_epochs(max_epochs: int, grace: int, factor: int) -> float:
    """Mean epochs a trial runs under ASHA: rung r sits at grace * factor^r epochs."""
    total, start, reach, rung = 0.0, 0, 1.0, grace
    while start < max_epochs:
        end = min(rung, max_epochs)
        total += reach * (end - start)
        start, reach, rung = end, reach / factor, rung * factor
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--max-epochs", type=int, default=2)
    parser.add_argument("--storage", type=Path, default=Path("runs"))
    parser.add_argument("--name", default="bench-search-cpu")
    parser.add_argument("--out", type=Path, default=Path("bench/results/search_cpu.json"))
    args = parser.parse_args()

    start = time.perf_counter()
    search_main(["--trials", str(args.trials), "--max-epochs", str(args.max_epochs), "--train", str(args.data / "train.csv.gz"),
                 "--val", str(args.data / "val.csv.gz"), "--storage", str(args.storage), "--name", args.name, "--no-dashboard"])
    wall = time.perf_counter() - start

    board = pd.read_csv(SearchFolder(args.storage / args.name).leaderboard_csv)
    trials = SearchFolder(args.storage / args.name).trials()
    epochs = pd.concat([t.history.assign(trial=t.id, arch=t.config.arch) for t in trials if len(t.history)])
    per_arch = epochs.groupby("arch")["epoch_seconds"].mean()
    trial_time = epochs.groupby("trial")["time_total_s"].max()
    overhead = max(0.0, (wall - trial_time.sum()) / len(board)) + float((trial_time - epochs.groupby("trial")["epoch_seconds"].sum()).mean())
    default_trials, default_epochs = MODES["data"].trials, MODES["data"].max_epochs
    per_trial_epochs = expected_epochs(default_epochs, DEFAULT_GRACE, DEFAULT_FACTOR)
    projected = default_trials * (overhead + per_trial_epochs * float(per_arch.mean()))

    report = {
        "machine": machine(),
        "search": {"trials": len(board), "max_epochs": args.max_epochs, "wall_seconds": wall,
                   "best_val_rmse_px": float(board["best_val_rmse"].min()), "best_arch": board.loc[0, "arch"],
                   "leaderboard": board.drop(columns=["checkpoint"]).to_dict("records")},
        "seconds_per_epoch_by_arch": per_arch.to_dict(),
        "overhead_seconds_per_trial": overhead,
        "projection": {"trials": default_trials, "max_epochs": default_epochs, "grace_period": DEFAULT_GRACE,
                       "reduction_factor": DEFAULT_FACTOR, "expected_epochs_per_trial": per_trial_epochs,
                       "hours": projected / 3600},
    }
    write_json(report, args.out)
    print(f"\n{len(board)} trials in {wall / 60:.1f} min, best val RMSE {report['search']['best_val_rmse_px']:.3f} px ({report['search']['best_arch']})")
    print(f"projected `--trials {default_trials}` (max {default_epochs} epochs, ASHA grace {DEFAULT_GRACE}, factor {DEFAULT_FACTOR}): "
          f"{per_trial_epochs:.1f} epochs/trial, {projected / 3600:.1f} h")


if __name__ == "__main__":
    main()
