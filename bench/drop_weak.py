"""`ensemble.build --drop-weak SHARE` against every trial as a candidate, on searches already run: each
ensemble's members, its held-out score (cross-fitted on the validation faces) and its RMSE on a test file
of other people, with flip TTA as submissions predict.

    python -m bench.drop_weak --run RUNS/NAME=TEST.csv [--run ...] [--shares 0.5 0.25] [--tag NAME]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ensemble.build import build
from ensemble.candidates import load_candidates
from ensemble.ensemble import Ensemble

from .common import ensemble_test_rmse, portable_pairs, write_results


def scored(folder: Path, test: Path) -> dict:
    ensemble = Ensemble(folder)
    m = ensemble.manifest
    return {"members": [(x.name, round(x.weight, 3), round(x.val_rmse, 3)) for x in m.members], "total_mb": m.total_mb,
            "val_rmse_flip_tta": m.flip_tta_val_rmse, "heldout_flip_tta": m.heldout.flip_tta_ensemble_rmse,
            "test_rmse_flip_tta": ensemble_test_rmse(ensemble, test)[0]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.drop_weak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, help="SEARCH_FOLDER=TEST_CSV")
    parser.add_argument("--shares", type=float, nargs="+", default=[0.5])
    parser.add_argument("--max-mb", type=float, default=50)
    parser.add_argument("--tag", default="drop_weak")
    args = parser.parse_args(argv)
    results = {}
    for pair in args.run:
        run, test = (Path(p) for p in pair.split("=", 1))
        candidates = load_candidates(run)
        rows = {}
        with tempfile.TemporaryDirectory() as tmp:
            for share in [None, *args.shares]:
                name = "all" if share is None else f"drop_weak {share:g}"
                rows[name] = scored(build(candidates, args.max_mb, "fp32", 50, run, Path(tmp) / name, drop_weak=share), test)
                print(f"{run.name} {name}: test {rows[name]['test_rmse_flip_tta']:.3f} px, held out {rows[name]['heldout_flip_tta']:.3f}, "
                      f"{len(rows[name]['members'])} members", flush=True)
        results[run.name] = {"candidates": len(candidates), **rows}
    shown = argparse.Namespace(**{**vars(args), "run": portable_pairs([f"{Path(r).name}={t}" for r, _, t in (p.partition("=") for p in args.run)])})
    write_results("drop_weak", shown, results, Path(f"bench/results/{args.tag}.json"))


if __name__ == "__main__":
    main()
