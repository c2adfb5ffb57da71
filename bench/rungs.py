"""Do ASHA's rung scores predict where a trial ends? Configurations drawn at random from the default CPU
space, each trained to its end with no stopping; at candidate milestones, the raw score (best validation
RMSE so far, what ASHA judged before) and the rung score (a cooldown branch: the learning rate annealed
to zero over one epoch on a copy of the run, Trainer.cooldown_score). Then, per milestone and score:
Spearman's rho against the final score with a bootstrap 90 % interval, the share of the final top third
that is top third at the milestone, and Ray's own ASHAScheduler replayed on the recorded curves (the
best final RMSE it keeps, the epochs it spends) for each grace period and reduction factor.

    python -m bench.rungs [--data ../shared/data/faces15] [--configs 24] [--workers 2] [--hours 2]

Runs are written to the results file as each one ends; rerunning with the same arguments continues
where a stopped bench left off, and `--analyse-only` recomputes the figures from what is there.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
from scipy.stats import spearmanr

from bench.common import FACES15, RESULTS, faces15_config, write_results
from configs import CPU_SPACE
from search.settings import asha_rungs
from search.space import load_space
from training.config import TrainConfig
from training.trainer import Trainer, TrainingDiverged, prepare_process

BOOTSTRAP = 2000  # resamples of the configurations for rho's interval
ORDERS = 200  # random trial orders for the ASHA replay


def draw_configs(n: int, seed: int) -> list[dict]:
    """`n` configurations drawn uniformly (Optuna's RandomSampler) from the default CPU space."""
    space = load_space(CPU_SPACE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs = []
    for _ in range(n):
        trial = study.ask()
        fixed = space.sample(trial)
        configs.append({**fixed, **trial.params})
    return configs


def run_one(job: tuple[int, dict, dict, list[int], float, float]) -> dict | None:
    """Train one configuration to its end on one thread; the raw and rung scores at each milestone.
    None if the bench's time box (`deadline`, time.time()) was over before it started."""
    index, values, base, milestones, cooldown, deadline = job
    if time.time() > deadline:
        return None
    config = TrainConfig.from_dict({**values, "threads": 1, "device": "cpu"}, base=TrainConfig.from_dict(base))
    prepare_process(config)
    trainer = Trainer(config, config.load_split())
    rung, rung_seconds = {}, 0.0

    def at_epoch(epoch) -> None:
        nonlocal rung_seconds
        if epoch.epoch in milestones and not trainer.finished:
            start = time.perf_counter()
            rung[epoch.epoch] = trainer.cooldown_score(cooldown)
            rung_seconds += time.perf_counter() - start

    record = {"index": index, "config": values}
    try:
        trainer.fit(on_epoch=at_epoch)
    except TrainingDiverged as err:
        record["diverged"] = str(err)
    history = trainer.history
    record.update(val_rmse=[r.val_rmse for r in history], epoch_seconds=[r.seconds for r in history],
                  rung_rmse={str(k): v for k, v in rung.items()}, rung_seconds=rung_seconds)
    print(f"config {index}: {values['arch']}, {len(history)} epochs, final {min(record['val_rmse'], default=math.nan):.3f} px, "
          f"rungs {', '.join(f'{k}: {v:.3f}' for k, v in rung.items())}, {sum(record['epoch_seconds']) + rung_seconds:.0f} s", flush=True)
    return record


def scores_at(run: dict, milestone: int, kind: str) -> float:
    """A run's score at a milestone: "raw" = best validation RMSE so far, "rung" = the cooldown branch's."""
    if kind == "raw":
        return min(run["val_rmse"][:milestone])
    return run["rung_rmse"][str(milestone)]


def final(run: dict) -> float:
    return min(run["val_rmse"])


def rank_figures(runs: list[dict], milestone: int, kind: str, rng: np.random.Generator) -> dict:
    """Spearman's rho (bootstrap 90 % interval) and top-third recall of one score at one milestone."""
    at = np.array([scores_at(r, milestone, kind) for r in runs])
    end = np.array([final(r) for r in runs])
    rho = float(spearmanr(at, end).statistic)
    resampled = []
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, len(runs), len(runs))
        if len(set(end[pick])) > 2:
            resampled.append(spearmanr(at[pick], end[pick]).statistic)
    third = max(1, len(runs) // 3)
    top_end, top_at = set(np.argsort(end)[:third]), set(np.argsort(at)[:third])
    return {"milestone": milestone, "score": kind, "spearman_rho": rho, "rho_low": float(np.nanpercentile(resampled, 5)),
            "rho_high": float(np.nanpercentile(resampled, 95)), "top_third_recall": len(top_end & top_at) / third}


def replay_asha(runs: list[dict], kind: str, grace: int, factor: int, max_t: int, branch_epochs: float, rng: np.random.Generator) -> dict:
    """Ray's ASHAScheduler deciding on the recorded curves, trials arriving one after another in random
    orders: the best final RMSE among the trials it lets finish, and the epochs it spends (a rung branch
    counted as `branch_epochs`, what one cost as measured)."""
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    kept, spent, found = [], [], []
    best = min(final(r) for r in runs)
    rungs = asha_rungs(grace, factor, max_t)
    for _ in range(ORDERS):
        np.random.seed(int(rng.integers(2**31)))  # ASHA draws its bracket from numpy's global generator (one bracket here)
        asha = ASHAScheduler(time_attr="epoch", metric="score", mode="min", max_t=max_t, grace_period=grace, reduction_factor=factor)
        finished, epochs = [], 0.0
        for i in rng.permutation(len(runs)):
            run, trial = runs[i], SimpleNamespace(trial_id=str(i))
            asha.on_trial_add(None, trial)
            for epoch in range(1, len(run["val_rmse"]) + 1):
                epochs += 1
                score = scores_at(run, epoch, "raw")
                if epoch in rungs and kind == "rung":
                    score, epochs = scores_at(run, epoch, "rung"), epochs + branch_epochs
                if asha.on_trial_result(None, trial, {"epoch": epoch, "score": score}) == TrialScheduler.STOP:
                    break
            if epoch == len(run["val_rmse"]):
                finished.append(final(run))
        kept.append(min(finished))
        spent.append(epochs)
        found.append(min(finished) == best)
    return {"score": kind, "grace_period": grace, "reduction_factor": factor, "rungs": rungs,
            "best_final_kept": float(np.mean(kept)), "epochs_spent": float(np.mean(spent)), "share_keeping_the_best": float(np.mean(found))}


def analyse(runs: list[dict], milestones: list[int], max_t: int, seed: int) -> dict:
    runs = [r for r in runs if "diverged" not in r and len(r["val_rmse"]) == max_t]
    rng = np.random.default_rng(seed)
    ranks = [rank_figures(runs, m, kind, rng) for m in milestones for kind in ("raw", "rung")]
    epoch_s = [np.mean(r["epoch_seconds"]) for r in runs]
    branch_s = [r["rung_seconds"] / max(1, len(r["rung_rmse"])) for r in runs]
    branch_epochs = float(np.mean(np.array(branch_s) / np.array(epoch_s)))
    replays = []
    for grace in milestones:
        for factor in (2, 3, 4):
            if set(asha_rungs(grace, factor, max_t)) <= set(milestones):  # every rung below max_t was recorded
                replays += [replay_asha(runs, kind, grace, factor, max_t, branch_epochs, rng) for kind in ("raw", "rung")]
    return {"runs_analysed": len(runs), "ranks": ranks, "asha_replay": replays, "branch_cost_in_epochs": branch_epochs,
            "no_stopping_epochs": len(runs) * max_t}


def plot_scores(runs: list[dict], milestones: list[int], max_t: int, path: Path) -> None:
    """Per milestone: each run's raw and rung score against its final score (log axes)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    runs = [r for r in runs if "diverged" not in r and len(r["val_rmse"]) == max_t]
    fig = Figure(figsize=(3.2 * len(milestones), 3.4))
    end = [final(r) for r in runs]
    for ax, m in zip(fig.subplots(1, len(milestones), sharey=True), milestones):
        ax.scatter([scores_at(r, m, "raw") for r in runs], end, s=14, color="0.6", label="raw (best so far)")
        ax.scatter([scores_at(r, m, "rung") for r in runs], end, s=14, color="C0", label="rung (cooldown branch)")
        ax.set(xscale="log", yscale="log", title=f"epoch {m}", xlabel=f"score at epoch {m} (px)")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers on the log axes, not powers of ten
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    fig.axes[0].set_ylabel(f"final score at epoch {max_t} (px)")
    fig.axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def print_figures(results: dict) -> None:
    print(f"\n{results['runs_analysed']} runs to the end; a {results['cooldown_epochs']}-epoch branch costs "
          f"{results['branch_cost_in_epochs']:.2f} epochs")
    for r in results["ranks"]:
        print(f"epoch {r['milestone']:>2} {r['score']:<4}  rho {r['spearman_rho']:+.2f} ({r['rho_low']:+.2f} to {r['rho_high']:+.2f})  "
              f"top-third recall {r['top_third_recall']:.2f}")
    print(f"\nASHA replayed ({ORDERS} orders; best possible {results['best_final']:.3f} px, no stopping {results['no_stopping_epochs']} epochs):")
    for r in results["asha_replay"]:
        print(f"grace {r['grace_period']:>2}, factor {r['reduction_factor']}, {r['score']:<4}: best kept {r['best_final_kept']:.3f} px "
              f"(the best in {r['share_keeping_the_best']:.0%} of orders), {r['epochs_spent']:.0f} epochs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--configs", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=24, help="each run's schedule (the default search's --max-epochs)")
    parser.add_argument("--milestones", type=int, nargs="+", default=[4, 6, 8, 12, 16])
    parser.add_argument("--cooldown", type=float, default=1.0, help="epochs of each rung branch's cooldown")
    parser.add_argument("--workers", type=int, default=2, help="runs at a time, one core each")
    parser.add_argument("--hours", type=float, default=0, help="start no run after this long (0 = no limit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "rungs.json")
    args = parser.parse_args()

    done = json.loads(args.out.read_text())["results"]["runs"] if args.out.exists() else []
    base = faces15_config(args.data, epochs=args.epochs, seed=args.seed, split_seed=args.seed)
    base = base.with_label_origin(base.load_split())
    configs = draw_configs(args.configs, args.seed)
    deadline = time.time() + args.hours * 3600 if args.hours else math.inf
    todo = [(i, c, base.to_dict(), args.milestones, args.cooldown, deadline) for i, c in enumerate(configs) if i not in {r["index"] for r in done}]
    results = {"runs": done}
    if not args.analyse_only and todo:
        print(f"{len(todo)} of {len(configs)} configurations to run, {args.workers} at a time", flush=True)
        with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=1) as pool:
            for record in pool.imap_unordered(run_one, todo):
                if record is None:
                    continue  # the time box was over: rerun to continue
                done.append(record)
                write_results("rungs", args, {"runs": sorted(done, key=lambda r: r["index"])}, args.out)
    results = {"runs": sorted(done, key=lambda r: r["index"]), "cooldown_epochs": args.cooldown,
               "best_final": min((final(r) for r in done if r["val_rmse"]), default=math.nan)}
    complete = [r for r in done if "diverged" not in r and len(r["val_rmse"]) == args.epochs]
    if len(complete) >= 6:
        results.update(analyse(done, args.milestones, args.epochs, args.seed))
        print_figures(results)
        plot_scores(done, args.milestones, args.epochs, args.out.with_suffix(".png"))
    write_results("rungs", args, results, args.out)


if __name__ == "__main__":
    main()
