"""Small data, strong start: the default search from scratch against the same search started from a model
pretrained on another set (`search.run --init`), on training subsets of a few sizes, each scored on a
test file of people it never saw.

    python -m bench.regime --set faces15=TRAIN,TEST --init faces15=CHECKPOINT [--set mtfl=... --init mtfl=...]
                           [--sizes 250 1000 4000] [--minutes 30] [--seeds 0]

For each set, size and seed: a seeded sample of SIZE labelled faces of TRAIN (the search holds out its
usual 15 % of them for validation), the default search for --minutes, `ensemble.build --max-mb 50`, and
the ensemble's RMSE on TEST with flip TTA, over TEST's labelled coordinates (MTFL: its five keypoints);
then the same with --init. Writes bench/results/regime_SET_SIZE_START_sSEED.json per search and prints
the table. Pretrain the starts on the *other* set (`python -m training.pretrain` or training.train).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from common.files import write_atomically
from ensemble.build import main as build_main
from ensemble.ensemble import Ensemble
from search.results import SearchFolder
from search.run import main as search_main

from .common import ensemble_test_rmse, portable_pairs, write_results


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


def run_one(train: Path, test: Path, init: Path | None, minutes: float, seed: int, name: str, storage: Path) -> dict:
    """One search and its ensemble, scored on `test`."""
    start = time.perf_counter()
    search_main(["--train", str(train), "--time-budget", str(minutes), "--seed", str(seed), "--storage", str(storage), "--name", name,
                 "--no-dashboard", "--no-report", *(["--init", str(init)] if init else [])])
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
    parser.add_argument("--storage", type=Path, default=Path("runs/regime"))
    args = parser.parse_args(argv)
    sets, inits = named_paths(args.set, 2), {k: v[0] for k, v in named_paths(args.init, 1).items()}

    table = []
    for set_name, (train, test) in sets.items():
        for size in args.sizes:
            for seed in args.seeds:
                subset = subset_file(set_name, train, size, seed, args.storage)
                for start, init in (("scratch", None), ("init", inits.get(set_name))):
                    if start == "init" and init is None:
                        continue
                    name = f"{set_name}-{size}-{start}-s{seed}"
                    print(f"\n=== {name}: {args.minutes:g} min", flush=True)
                    result = {"set": set_name, "size": size, "start": start, "seed": seed, "minutes": args.minutes,
                              **run_one(subset, test, init, args.minutes, seed, name, args.storage)}
                    shown = argparse.Namespace(**{**vars(args), "set": portable_pairs(args.set), "init": portable_pairs(args.init)})
                    write_results("regime", shown, result, Path(f"bench/results/regime_{name}.json"))
                    table.append(result)
                    print(f"{name}: test RMSE {result['test_rmse_flip_tta']:.3f} px (flip TTA)", flush=True)
    print(f"\n{'set':<10}{'faces':>7}{'seed':>6}{'scratch':>10}{'init':>10}")
    for (set_name, size, seed) in dict.fromkeys((r["set"], r["size"], r["seed"]) for r in table):
        score = {r["start"]: r["test_rmse_flip_tta"] for r in table if (r["set"], r["size"], r["seed"]) == (set_name, size, seed)}
        print(f"{set_name:<10}{size:>7}{seed:>6}{score.get('scratch', float('nan')):>10.3f}{score.get('init', float('nan')):>10.3f}")


if __name__ == "__main__":
    main()
