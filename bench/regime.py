"""Small data, strong start, honest baselines: the default search from scratch against the same search
started from a model pretrained on another set (`search.run --init`) and against its start points alone,
on training subsets of a few sizes, each scored on a test file of people it never saw.

    python -m bench.regime --set faces15=TRAIN,TEST --init faces15=CHECKPOINT [--set mtfl=... --init mtfl=...]
                           [--sizes 250 1000 4000] [--minutes 30] [--seeds 0] [--arms scratch init start-points finish-start-points]

For each set, size and seed: a seeded sample of SIZE labelled faces of TRAIN (the search holds out its
usual 15 % of them for validation), then per arm a search for --minutes, `ensemble.build --max-mb 50`, and
the ensemble's RMSE on TEST with flip TTA, over TEST's labelled coordinates (MTFL: its five keypoints).
The arms (ARMS): the default search; the same with --init; its start points alone (issue 37's baseline,
the bar a search must clear): no trial is cut, and once one has finished every new trial is a best start
point again with a new seed (search.members), so the time goes to the start points fully trained and
their seeds as members instead of TPE's proposals; the default search with `--finish-start-points`. Writes bench/results/regime_SET_SIZE_ARM_sSEED.json
(_TAG with --tag) per search and prints the table. Pretrain the starts on the *other* set (`python -m training.pretrain`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from common.files import write_atomically
from configs import TRIAL_EPOCHS
from ensemble.build import main as build_main
from ensemble.ensemble import Ensemble
from search.results import SearchFolder
from search.run import main as search_main

from .common import ensemble_test_rmse, portable_pairs, write_results

# arm -> search.run's flags besides the data, budget and seed; "init" adds --init with the set's start
ARMS = {
    "scratch": [],
    "init": [],
    # ASHA's grace period is the whole schedule (nothing cut); the member phase (search.members) takes over
    # as soon as a trial has finished: the start points, queued first, are the only recipes it repeats
    "start-points": ["--grace-period", str(TRIAL_EPOCHS), "--ensemble-share", "0.99"],
    # the default search with ASHA never cutting a start point (search.rungs.StartPointsFinish)
    "finish-start-points": ["--finish-start-points"],
}


def named_paths(pairs: list[str], n: int) -> dict[str, list[Path]]:
    """["name=a,b", ...] -> {name: [a, b]}, each with n paths."""
    out = {}
    for pair in pairs:
        name, _, paths = pair.partition("=")
        out[name] = [Path(p) for p in paths.split(",")]
        if len(out[name]) != n:
            raise SystemExit(f"{pair}: give NAME=" + ",".join(["PATH"] * n))
    return out


def subset_file(name: str, train: Path, size: int, seed: int, work: Path) -> Path:
    """A seeded sample of `size` of the labelled rows of `train` (set `name`), as a CSV in the training layout."""
    import pandas as pd

    frame = pd.read_csv(train)
    labelled = frame.drop(columns="Image").notna().any(axis=1).to_numpy()
    rows = np.random.default_rng(seed).choice(np.flatnonzero(labelled), size, replace=False)
    path = work / f"{name}-{size}-s{seed}.csv.gz"
    write_atomically(path, lambda f: frame.iloc[np.sort(rows)].to_csv(f, index=False, compression={"method": "gzip", "mtime": 0}), binary=True)
    return path


def run_one(train: Path, test: Path, flags: list[str], minutes: float, seed: int, name: str, storage: Path) -> dict:
    """One search (search.run's `flags` besides these) and its ensemble, scored on `test`."""
    start = time.perf_counter()
    search_main(["--train", str(train), "--time-budget", str(minutes), "--seed", str(seed), "--storage", str(storage), "--name", name,
                 "--no-dashboard", "--no-report", *flags])
    build_main(["--max-mb", "50", "--runs-dir", str(storage), "--run", name])
    search = SearchFolder(storage / name)
    ensemble = Ensemble(search.ensemble_folder)
    test_rmse, test_faces = ensemble_test_rmse(ensemble, test)
    trials = search.trials()
    best = min((t for t in trials if t.usable), key=lambda t: t.best_val_rmse)
    return {"test_rmse_flip_tta": test_rmse, "test_faces": test_faces, "val_rmse": ensemble.manifest.val_rmse,
            "members": [(m.arch, m.weight) for m in ensemble.manifest.members], "trials": len(trials),
            "best_trial": {"arch": best.config.arch, "val_rmse": best.best_val_rmse, "init": best.config.init},
            "wall_s": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.regime", description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", required=True, help="NAME=TRAIN,TEST (labelled CSVs)")
    parser.add_argument("--init", action="append", default=[], help="NAME=CHECKPOINT: the start for that set's --init searches")
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 4000])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=["scratch", "init"])
    parser.add_argument("--storage", type=Path, default=Path("runs/regime"))
    parser.add_argument("--tag", default="", help="the results files' suffix: regime_SET_SIZE_ARM_sSEED_TAG.json")
    args = parser.parse_args(argv)
    sets, inits = named_paths(args.set, 2), {k: v[0] for k, v in named_paths(args.init, 1).items()}

    table = []
    for set_name, (train, test) in sets.items():
        for size in args.sizes:
            for seed in args.seeds:
                subset = subset_file(set_name, train, size, seed, args.storage)
                for arm in args.arms:
                    if arm == "init" and set_name not in inits:
                        continue
                    flags = ARMS[arm] + (["--init", str(inits[set_name])] if arm == "init" else [])
                    name = f"{set_name}-{size}-{arm}-s{seed}"
                    print(f"\n=== {name}: {args.minutes:g} min", flush=True)
                    result = {"set": set_name, "size": size, "start": arm, "seed": seed, "minutes": args.minutes,
                              **run_one(subset, test, flags, args.minutes, seed, name, args.storage)}
                    shown = argparse.Namespace(**{**vars(args), "set": portable_pairs(args.set), "init": portable_pairs(args.init)})
                    write_results("regime", shown, result, Path(f"bench/results/regime_{name}{'_' + args.tag if args.tag else ''}.json"))
                    table.append(result)
                    print(f"{name}: test RMSE {result['test_rmse_flip_tta']:.3f} px (flip TTA)", flush=True)
    print(f"\n{'set':<10}{'faces':>7}{'seed':>6}" + "".join(f"{arm:>14}" for arm in args.arms))
    for (set_name, size, seed) in dict.fromkeys((r["set"], r["size"], r["seed"]) for r in table):
        score = {r["start"]: r["test_rmse_flip_tta"] for r in table if (r["set"], r["size"], r["seed"]) == (set_name, size, seed)}
        print(f"{set_name:<10}{size:>7}{seed:>6}" + "".join(f"{score.get(arm, float('nan')):>14.3f}" for arm in args.arms))


if __name__ == "__main__":
    main()
