"""Do labels an ensemble filled in help? faces15's training file with 60 % of its keypoints blanked at
random (whole keypoints per face, as Kaggle's file is missing them, seeded); a default search on it and
its ensemble; `ensemble.label` fills the blanks; a second search on the filled file; both scored on the
val faces, which keep all their labels.

    python -m bench.blanked [--data ../shared/data/faces15] [--blank 0.6] [--trials 12] [--minutes 60] [--filled-weight 1]

Both searches get the same trial count and time budget (each minute figure is per search), and the
default CPU space; in the second, filled labels count `--filled-weight` against a true label's 1 in
every trial's loss (1: as true ones).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from bench.common import FACES15, write_results
from configs import CPU_SPACE
from data.keypoints import COLUMNS, KEYPOINT_NAMES
from ensemble.build import main as build_main
from ensemble.ensemble import Ensemble
from ensemble.label import main as label_main
from search.results import SearchFolder
from search.run import main as search_main


def blank(train: Path, share: float, seed: int, out: Path) -> float:
    """Write `train` with `share` of its face-keypoint pairs emptied (both coordinates); the share of
    coordinates missing afterwards."""
    frame = pd.read_csv(train, dtype=str)
    rng = np.random.default_rng(seed)
    blanked = rng.random((len(frame), len(KEYPOINT_NAMES))) < share  # (N, 15): which keypoints go
    for k, name in enumerate(KEYPOINT_NAMES):
        frame.loc[blanked[:, k], [f"{name}_x", f"{name}_y"]] = np.nan
    frame.to_csv(out, index=False)
    return float(frame[COLUMNS].isna().to_numpy().mean())


def space_with_filled_weight(weight: float, out: Path) -> Path:
    """The default CPU space with `filled_weight` fixed at `weight` for every trial."""
    out.write_text(yaml.safe_dump({**yaml.safe_load(CPU_SPACE.read_text()), "filled_weight": weight}, sort_keys=False))
    return out


def search_and_build(name: str, train: Path, args: argparse.Namespace, space: Path = CPU_SPACE) -> dict:
    start = time.perf_counter()
    search_main(["--trials", str(args.trials), "--time-budget", str(args.minutes), "--train", str(train), "--val",
                 str(args.data / "val.csv.gz"), "--space", str(space), "--storage", str(args.storage), "--name", name, "--no-dashboard",
                 "--no-report"])
    wall = time.perf_counter() - start
    build_main(["--max-mb", "50", "--runs-dir", str(args.storage), "--run", name])
    search = SearchFolder(args.storage / name)
    trials = search.trials()
    manifest = Ensemble(search.ensemble_folder).manifest
    best = min((t for t in trials if t.usable), key=lambda t: t.best_val_rmse)
    return {"wall_s": wall, "trials": len(trials), "best_trial_val_rmse": best.best_val_rmse, "best_trial_arch": best.config.arch,
            "ensemble_val_rmse": manifest.val_rmse, "ensemble_heldout_rmse": manifest.heldout.ensemble_rmse,
            "members": len(manifest.members)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--blank", type=float, default=0.6, help="share of the training keypoints blanked")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--minutes", type=float, default=60, help="each search's time budget")
    parser.add_argument("--filled-weight", type=float, default=1.0, help="a filled coordinate's weight in the second search's loss")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/blanked.json"))
    args = parser.parse_args()
    args.storage.mkdir(parents=True, exist_ok=True)
    blanked, filled = args.storage / "faces15-blanked.csv", args.storage / "faces15-filled.csv"
    missing = blank(args.data / "train.csv.gz", args.blank, args.seed, blanked)
    print(f"{blanked}: {missing:.0%} of the training coordinates blanked", flush=True)

    first = search_and_build("bench-blanked", blanked, args)
    label_main(["--runs-dir", str(args.storage), "--run", "bench-blanked", "--train", str(blanked), "--out", str(filled)])
    second = search_and_build("bench-filled", filled, args, space_with_filled_weight(args.filled_weight, args.storage / "space-filled.yaml"))
    results = {"blanked_share": missing, "on_blanked": first, "on_filled": second}
    write_results("blanked", args, results, args.out)
    for name, r in (("blanked", first), ("filled", second)):
        print(f"search on the {name} file: best trial {r['best_trial_val_rmse']:.3f} px, ensemble {r['ensemble_val_rmse']:.3f} px "
              f"(held out {r['ensemble_heldout_rmse']:.3f}), {r['trials']} trials in {r['wall_s'] / 60:.0f} min")


if __name__ == "__main__":
    main()
