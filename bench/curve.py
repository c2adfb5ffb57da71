"""The time-quality curve: what a search's time budget buys. Reads `bench.search_cpu` results, one per
budget and seed (`--minutes M --trials 50 --seed S`), and shows the ensemble's validation RMSE (plain,
held out from the selection, with flip TTA as submissions predict) and the best single trial against
the budget: one line per way of searching (the default search, or the flags a run changed), one point
per run.

    python -m bench.curve bench/results/search_cpu_15min.json bench/results/search_cpu_30min.json ... [--tag time_quality]

Each point is its own search with that budget (what a user who passes `--time-budget M` gets: the last
trials' schedules are fitted to it), not a longer search stopped early.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bench.common import RESULTS, write_results

FLAGS = ("rung_cooldown", "ensemble_share", "max_epochs", "grace_period", "finish_start_points")  # what makes a run another way of searching
DEFAULTS = {"rung_cooldown": 1.0, "ensemble_share": 0, "max_epochs": None, "grace_period": None, "finish_start_points": False}


def way_of_searching(arguments: dict) -> str:
    """'default search', or the search.run flags a run set away from their defaults."""
    changed = [f"--{k.replace('_', '-')} {arguments[k]:g}" if not isinstance(arguments[k], bool) else f"--{k.replace('_', '-')}"
               for k in FLAGS if arguments.get(k, DEFAULTS[k]) not in (DEFAULTS[k], None)]
    return " ".join(changed) or "default search"


def point(path: Path) -> dict:
    """One run's point: its budget, seed and scores, from its search_cpu JSON."""
    run = json.loads(path.read_text())
    if run["bench"] != "search_cpu" or not run["arguments"]["minutes"]:
        raise SystemExit(f"{path}: not a time-budgeted bench.search_cpu result")
    ensemble, results = run["results"]["ensemble"], run["results"]
    return {"file": path.name, "way": way_of_searching(run["arguments"]), "minutes": run["arguments"]["minutes"],
            "seed": run["arguments"].get("seed", 0), "cpu": run["machine"]["cpu_model"], "commit": run["commit"],
            "trials": len(results["leaderboard"]), "val_rmse": ensemble["val_rmse"], "heldout_rmse": ensemble["heldout_rmse"],
            "flip_tta_val_rmse": ensemble["flip_tta_val_rmse"], "best_trial_rmse": results["best_trial"]["val_rmse"],
            "members": len(ensemble["members"]), "mb": ensemble["total_mb"]}


def draw(points: pd.DataFrame, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    ax = fig.subplots()
    for i, (way, runs) in enumerate(points.groupby("way")):
        colour = f"C{i}"
        mean = runs.groupby("minutes")["flip_tta_val_rmse"].mean()  # over the seeds run at a budget
        ax.plot(mean.index, mean.values, color=colour, marker="o", label=f"{way}: ensemble, flip TTA")
        ax.scatter(runs["minutes"], runs["heldout_rmse"], color=colour, marker="x", s=30, label=f"{way}: ensemble held out, no TTA")
        ax.scatter(runs["minutes"], runs["best_trial_rmse"], color=colour, marker="v", s=25, alpha=0.5, label=f"{way}: best single trial")
    budgets = sorted(points["minutes"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets, labels=[f"{m:g}" for m in budgets])
    cpus = ", ".join(sorted(points["cpu"].unique()))
    ax.set(xlabel="time budget (minutes)", ylabel="val RMSE (px)", title=f"What a search's budget buys (faces15, {cpus}, no GPU)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: no point hidden
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90, bbox_inches="tight")
    tmp.replace(path)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.curve", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="bench.search_cpu results, one per budget and seed")
    parser.add_argument("--tag", default="time_quality", help="writes bench/results/TAG.json and TAG.png")
    args = parser.parse_args()
    points = sorted((point(path) for path in args.runs), key=lambda p: (p["way"], p["minutes"], p["seed"]))
    print(f"{'way of searching':<40} {'min':>4} {'seed':>4} {'trials':>6} {'val':>6} {'held out':>8} {'flip TTA':>8} {'best trial':>10} {'MB':>5}")
    for p in points:
        print(f"{p['way']:<40} {p['minutes']:>4g} {p['seed']:>4} {p['trials']:>6} {p['val_rmse']:>6.3f} {p['heldout_rmse']:>8.3f} "
              f"{p['flip_tta_val_rmse']:>8.3f} {p['best_trial_rmse']:>10.3f} {p['mb']:>5.1f}")
    draw(pd.DataFrame(points), RESULTS / f"{args.tag}.png")
    write_results("curve", argparse.Namespace(runs=[p.name for p in args.runs], tag=args.tag), {"points": points}, RESULTS / f"{args.tag}.json")


if __name__ == "__main__":
    main()
