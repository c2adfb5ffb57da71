"""A real search on faces15 with the defaults of this machine, then `ensemble.build --max-mb 50`: the
best trial and the ensemble on val, wall time, trials per hour and the projected `--trials 50` time,
and how well ASHA's first rung ranks the trials that ran to the end (Spearman's rho between each such
trial's validation RMSE at the first rung and its final one).

    python -m bench.search_cpu [--data ../shared/data/faces15] [--trials 12] [--minutes 60] [--rung-cooldown 1] [--ensemble-share 0.25] [--seed 0]
        [--finish-start-points]
        [--max-epochs 72 --grace-period 24]

The projection scales the measured wall time per trial to 50 trials: the same mix of start points,
TPE proposals and ASHA stops, so it holds while the first trials are typical of the rest.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scipy.stats import spearmanr

from bench.common import FACES15, write_results
from ensemble.build import main as build_main
from ensemble.ensemble import Ensemble
from search.results import RUNG_METRIC, SearchFolder
from search.run import main as search_main

PROJECTED_TRIALS = 50
SMALL_MB = 5.0  # issue 19's single-model size limit


def best_small_trial(trials: list) -> dict | None:
    """The best usable trial whose net weighs at most SMALL_MB in float32 (its reported `mb`, as
    ensemble.build ships it)."""
    small = [t for t in trials if t.usable and t.metrics["mb"] <= SMALL_MB]
    if not small:
        return None
    best = min(small, key=lambda t: t.best_val_rmse)
    return {"id": best.id, "arch": best.config.arch, "mb": best.metrics["mb"], "val_rmse": best.best_val_rmse}


def rung_correlation(search: SearchFolder) -> dict:
    """Spearman's rho between the first-rung score (what ASHA judged: the rung score, or in searches from
    before rung scores the best so far) and the final validation RMSE of the trials that reached the end."""
    settings = search.settings
    pairs = []
    for trial in search.trials():
        history = trial.history
        if trial.status == "DONE" and len(history) and history["epoch"].max() == settings.max_epochs:
            at_rung = history.loc[history["epoch"] == settings.grace_period, RUNG_METRIC if RUNG_METRIC in history else "best_val_rmse"].iloc[0]
            pairs.append((float(at_rung), trial.best_val_rmse))
    rho = float(spearmanr(*zip(*pairs)).statistic) if len(pairs) >= 3 else float("nan")
    return {"first_rung_epoch": settings.grace_period, "final_epoch": settings.max_epochs, "trials": len(pairs),
            "pairs": pairs, "spearman_rho": rho}


def cut_share(trials: list) -> float:
    """The share of the trials' time (Tune's time_total_s: epochs, validation, rung branches) spent in
    trials that ended before their last epoch: cut by ASHA or the stopper, or left by the time budget (a
    trial whose schedule was fitted to the budget, search.budget, and ran to its end was not cut)."""
    total = {t.id: t.metrics.get("time_total_s", 0.0) for t in trials}
    cut = sum(total[t.id] for t in trials if not t.metrics.get("finished", False))
    return cut / max(sum(total.values()), 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--storage", type=Path, default=Path("runs"))
    parser.add_argument("--minutes", type=float, default=0, help="the search's time budget (0 = none)")
    parser.add_argument("--rung-cooldown", type=float, default=1.0, help="search.run's (0 = ASHA judges the best score so far)")
    parser.add_argument("--ensemble-share", type=float, default=0, help="search.run's: the last share spent on ensemble members")
    parser.add_argument("--max-epochs", type=int, help="search.run's: epochs per trial (default: search.run's)")
    parser.add_argument("--grace-period", type=int, help="search.run's: epochs before ASHA may stop a trial (default: search.run's)")
    parser.add_argument("--finish-start-points", action="store_true", help="search.run's: ASHA never cuts a start point")
    parser.add_argument("--seed", type=int, default=0, help="search.run's: the sampler's and every trial's seed")
    parser.add_argument("--name", default="bench-search-cpu")
    parser.add_argument("--out", type=Path, default=Path("bench/results/search_cpu.json"))
    args = parser.parse_args()
    data = ["--train", str(args.data / "train.csv.gz"), "--val", str(args.data / "val.csv.gz")]

    start = time.perf_counter()
    budget = ["--time-budget", str(args.minutes)] if args.minutes else []
    schedule = [*(["--max-epochs", str(args.max_epochs)] if args.max_epochs else []),
                *(["--grace-period", str(args.grace_period)] if args.grace_period else [])]
    search_main(["--trials", str(args.trials), "--storage", str(args.storage), "--name", args.name, "--no-dashboard", *data, *budget, *schedule,
                 "--rung-cooldown", str(args.rung_cooldown), "--ensemble-share", str(args.ensemble_share), "--seed", str(args.seed),
                 *(["--finish-start-points"] if args.finish_start_points else [])])
    wall = time.perf_counter() - start
    start = time.perf_counter()
    build_main(["--max-mb", "50", "--runs-dir", str(args.storage), "--run", args.name])
    build_s = time.perf_counter() - start

    search = SearchFolder(args.storage / args.name)
    trials = search.trials()
    best = min((t for t in trials if t.usable), key=lambda t: t.best_val_rmse)  # one stopped before its first epoch has no score
    manifest = Ensemble(search.ensemble_folder).manifest
    report = {
        "settings": {k: v for k, v in search.settings.to_dict().items() if k not in ("storage", "base", "space")},  # no paths of this machine
        "wall_s": wall,
        "trials_per_hour": len(trials) * 3600 / wall,
        "projected_hours": PROJECTED_TRIALS * wall / len(trials) / 3600,
        "best_trial": {"id": best.id, "arch": best.config.arch, "val_rmse": best.best_val_rmse},
        "best_trial_under_5mb": best_small_trial(trials),
        "ensemble": {"val_rmse": manifest.val_rmse, "heldout_rmse": manifest.heldout.ensemble_rmse,
                     "flip_tta_val_rmse": manifest.flip_tta_val_rmse, "val_rmse_with_bias": manifest.val_rmse_with_bias,
                     "members": [(m.arch, m.weight) for m in manifest.members],
                     "total_mb": manifest.total_mb, "build_s": build_s},
        "statuses": {s: sum(t.status == s for t in trials) for s in {t.status for t in trials}},
        "cut_cpu_share": cut_share(trials),
        "rank_correlation": rung_correlation(search),
        "leaderboard": [{"id": t.id, "arch": t.config.arch, "status": t.status, "epochs": int(t.metrics.get("epoch", 0)),
                         "val_rmse": t.best_val_rmse} for t in sorted(trials, key=lambda t: t.best_val_rmse)],
    }
    write_results("search_cpu", args, report, args.out)
    rho = report["rank_correlation"]
    print(f"{report['cut_cpu_share']:.0%} of the trials' time went to trials cut before their last epoch; ensemble held out "
          f"{manifest.heldout.ensemble_rmse:.3f} px")
    print(f"\n{len(trials)} trials in {wall / 60:.1f} min ({report['trials_per_hour']:.1f}/hour): best {best.best_val_rmse:.3f} px "
          f"({best.config.arch}); ensemble {manifest.val_rmse:.3f} px, {manifest.flip_tta_val_rmse:.3f} with flip TTA "
          f"({len(manifest.members)} members, {manifest.total_mb:.1f} MB)")
    small = report["best_trial_under_5mb"]
    if small:
        print(f"best trial under {SMALL_MB:g} MB: {small['val_rmse']:.3f} px ({small['arch']}, {small['mb']:.2f} MB)")
    print(f"projected --trials {PROJECTED_TRIALS}: {report['projected_hours']:.2f} h; Spearman rho (epoch {rho['first_rung_epoch']} vs "
          f"final, {rho['trials']} trials that ran to the end): {rho['spearman_rho']:.2f}")


if __name__ == "__main__":
    main()
