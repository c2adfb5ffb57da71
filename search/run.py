"""`python -m search.run --trials 50`: a Ray Tune search with Optuna's TPE sampler and ASHA early stopping.

Results go to runs/NAME/: Tune's trial folders (checkpoints, result.json, TensorBoard files),
optuna.db (open with `optuna-dashboard sqlite:///runs/NAME/optuna.db`), leaderboard.csv, search.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from common.cli import add_report_arg, add_run_args
from common.errors import UserError, exits_on_bad_input
from configs import CPU_SPACE, DEFAULT_SPACE, DEMO_SPACE, SMOKE_SPACE, TRIAL_EPOCHS
from data.origin import describe_origin
from data.split import FILES_SEPARATOR, Split
from data.synthetic import demo_dataset
from training.checkpoint import Checkpoint, init_arch, is_init_source, loadable_share
from training.config import TrainConfig
from training.device import machine

from .results import SearchFolder, latest_search
from .settings import ResumeChanges, SearchSettings
from .space import SearchSpace, load_space


@dataclass(frozen=True)
class Mode:
    """Defaults that differ between a search on the user's data, the demo, and the smoke test."""

    space: Path  # search-space YAML
    trials: int
    max_epochs: int
    grace_period: int  # epochs before ASHA may stop a trial
    time_budget_s: float  # 0 = none
    demo_faces: int  # synthetic faces to draw (0: the user's data)


# an architecture --init has no weights of starts from the checkpoint that fills at least this share of its
# weights (a net of the same family: all but the head), else from random
FAMILY_SHARE = 0.5

MODES = {
    # every trial's one-cycle schedule spans max_epochs; ASHA judges at a third of it (epoch 24) and at the end.
    # 72 epochs, not 36: on faces15 the one-hour default search's best trial scores 1.489 px against 1.576
    # with fewer, longer trials (bench/results/search_cpu_1h_e{72,36}.json); the rung at a third of the
    # schedule is where bench.rungs calibrated it
    "data": Mode(DEFAULT_SPACE, trials=50, max_epochs=TRIAL_EPOCHS, grace_period=TRIAL_EPOCHS // 3, time_budget_s=0, demo_faces=0),
    # the demo: 8 trials in about 7.5 minutes on 2 CPUs (a trial per core); grace 3 because cnn_small leaves the
    # mean-face plateau in epoch 3-4
    "demo": Mode(DEMO_SPACE, trials=8, max_epochs=8, grace_period=3, time_budget_s=14 * 60, demo_faces=1000),
    "smoke": Mode(SMOKE_SPACE, trials=3, max_epochs=1, grace_period=1, time_budget_s=0, demo_faces=48),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m search.run", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--trials", type=int, help="trials in all (default 50; demo 8; smoke 3)")
    p.add_argument("--train", nargs="+", metavar="FILE", help="train CSV (.csv, .csv.gz, or a .zip with one CSV inside), or several "
                   "trained on together; omitted = the built-in synthetic demo data (8 trials, about 7.5 minutes on 2 CPUs)")
    p.add_argument("--val", help="validation CSV (default: a seeded 15%% hold-out of --train)")
    p.add_argument("--space", type=Path, help=f"search-space YAML (default {DEFAULT_SPACE.name} with GPUs, {CPU_SPACE.name} without)")
    p.add_argument("--max-epochs", type=int, help="epochs per trial, which its schedule spans (default 72; demo 8; smoke 1)")
    p.add_argument("--grace-period", type=int, help="epochs before ASHA may stop a trial (default 24; demo 3)")
    p.add_argument("--reduction-factor", type=int, default=3, help="ASHA's reduction factor (default 3)")
    p.add_argument("--rung-cooldown", type=float, default=1.0,
                   help="at each rung ASHA judges a copy of the trial trained this many more epochs with its learning rate "
                        "falling to zero (default 1); 0 = judge the best score so far")
    p.add_argument("--rung-tie", type=float, default=0.0, metavar="SHARE",
                   help="ASHA lets a trial within SHARE of a rung's cutoff score go on (e.g. 0.01: 1 %%), so that near-ties are not cut "
                        "by the order they arrived in (default 0: Ray's rule)")
    p.add_argument("--finish-start-points", action="store_true",
                   help="ASHA never stops one of the space's start points, which earlier searches found good; their rung scores still "
                        "judge TPE's proposals (default: off, Ray's rule for every trial: not yet measured)")
    p.add_argument("--cpus-per-trial", type=float, default=0, help="default: 1 without GPUs (a trial per core), 2 with")
    p.add_argument("--gpus-per-trial", type=float, default=-1, help="default: 1 when the cluster has GPUs; 0.25 = four trials per GPU")
    p.add_argument("--max-concurrent", type=int, default=0, help="trials at once (default: as resources allow; 1 makes a search reproducible)")
    p.add_argument("--time-budget", type=float, help="minutes after which the search stops (default none; demo 14)")
    p.add_argument("--ensemble-share", type=float, default=0.0,
                   help="the last share of the search (of --time-budget, else of --trials) trains the best recipes again with new "
                        "seeds, as ensemble members, instead of new proposals; e.g. 0.25 (default 0: none; in a one-hour search "
                        "on 2 cores no core was free for a member in time, bench/README.md)")
    p.add_argument("--seed", type=int, default=0, help="seed for the sampler and every trial")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the 15%% hold-out of --train (default 0); --seed leaves it alone, "
                                                           "so searches with other seeds score on the same faces")
    p.add_argument("--init", type=Path, help="an earlier search's folder (its best finished trial of each architecture), a checkpoint "
                                             "folder or a weights file (an ensemble's or a student's members/NAME.pt): each trial starts from the "
                                             "weights of its architecture, or of one of its family (all but the head); the others from random")
    p.add_argument("--address", help="join a running Ray cluster (e.g. 10.0.0.5:6379 or auto) instead of starting one")
    add_run_args(p, "the search's name: its results in RUNS_DIR/RUN (default search-TIME; with --resume, the latest)")
    p.add_argument("--resume", action="store_true",
                   help="continue a stopped search (--run, or the latest): on to its --trials (or as many more as you give), within "
                        "what is left of its time budget (or a new --time-budget); its data, space and schedule stay")
    p.add_argument("--smoke", action="store_true", help="tiny synthetic data, 1 epoch: checks the whole pipeline in a minute")
    p.add_argument("--dashboard-host", default="127.0.0.1", help="where the Ray dashboard listens (default 127.0.0.1)")
    p.add_argument("--dashboard", action=argparse.BooleanOptionalAction, default=True, help="start the Ray dashboard (default: yes)")
    add_report_arg(p, "at the end")
    args = p.parse_args(argv)
    args.given = {a.split("=", 1)[0] for a in (sys.argv[1:] if argv is None else argv) if a.startswith("--")}
    if not 0 <= args.ensemble_share < 1:
        p.error(f"--ensemble-share {args.ensemble_share:g}: give a share from 0 up to (not including) 1")
    if not 0 <= args.rung_tie < 1:
        p.error(f"--rung-tie {args.rung_tie:g}: give a share from 0 up to (not including) 1")
    return args


def settings_from_args(args: argparse.Namespace) -> SearchSettings:
    mode = MODES["smoke" if args.smoke else ("data" if args.train else "demo")]
    space = args.space or (CPU_SPACE if mode.space == DEFAULT_SPACE and not uses_gpus(args) else mode.space)
    if args.train:
        train = FILES_SEPARATOR.join(str(Path(path).resolve()) for path in args.train)
        val = str(Path(args.val).resolve()) if args.val else ""
    else:
        demo = demo_dataset(mode.demo_faces, seed=args.seed)
        train, val = str(demo / "train.csv"), ""
        print(f"{'--smoke' if args.smoke else 'no --train given'}: searching on synthetic demo faces ({train}); "
              f"their test faces, for ensemble.build --test: {demo / 'test.csv'}")
    max_epochs = args.max_epochs or mode.max_epochs
    base = TrainConfig(train=train, val=val, epochs=max_epochs, seed=args.seed, split_seed=args.split_seed)
    return SearchSettings(
        name=args.run or time.strftime("search-%Y%m%d-%H%M%S"),
        storage=str(args.runs_dir.resolve()),
        space=str(Path(space).resolve()),
        trials=args.trials or mode.trials,
        max_epochs=max_epochs,
        grace_period=min(args.grace_period or mode.grace_period, max_epochs),
        reduction_factor=args.reduction_factor,
        rung_cooldown=args.rung_cooldown,
        rung_tie=args.rung_tie,
        finish_start_points=args.finish_start_points,
        seed=args.seed,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent,
        time_budget_s=args.time_budget * 60 if args.time_budget is not None else mode.time_budget_s,
        ensemble_share=args.ensemble_share,
        base=base.to_dict(),
        init=start_weights(args.init) if args.init else {},
    )


def start_weights(source: Path) -> dict[str, str]:
    """Architecture -> the checkpoint folder or weights file its trials start from: a search folder gives its
    best finished trial of each architecture, a checkpoint folder its own architecture, a weights file (an
    ensemble's member, a student's) the architecture whose weights it holds."""
    search = SearchFolder(source)
    if search.is_search():
        best = search.best_checkpoints()
        if not best:
            raise UserError(str(source), "--init: this search has no finished trial with a checkpoint to start from")
        return {arch: str(folder.resolve()) for arch, folder in best.items()}
    if not is_init_source(str(source)):
        raise UserError(str(source), "--init: neither a search folder, a complete checkpoint folder (weights.pt, config.json, ...) "
                                     "nor a weights file (an ensemble's members/NAME.pt)")
    return {init_arch(str(source)): str(source.resolve())}


def uses_gpus(args: argparse.Namespace) -> bool:
    """Will trials get GPUs? Asked for, or (by default) present on this machine."""
    if args.gpus_per_trial >= 0:
        return args.gpus_per_trial > 0
    import torch

    return torch.cuda.is_available()


# what a search is: a resumed one keeps it (--trials and --time-budget may change)
FIXED_ON_RESUME = ("--train", "--val", "--space", "--max-epochs", "--grace-period", "--reduction-factor", "--rung-cooldown", "--seed",
                   "--split-seed", "--init", "--rung-tie", "--finish-start-points", "--ensemble-share", "--smoke", "--cpus-per-trial", "--gpus-per-trial", "--max-concurrent")


def settings_to_resume(args: argparse.Namespace) -> tuple[SearchSettings, ResumeChanges]:
    storage = args.runs_dir.resolve()
    search = SearchFolder(storage / args.run) if args.run else latest_search(storage)
    if search is None:
        raise UserError(str(storage), "no search to resume here")
    if not search.is_search():
        raise UserError(str(search.folder), "not a search folder, nothing to resume")
    search.version  # noqa: B018 (a folder of a newer format is refused here, before anything starts)
    fixed = [flag for flag in FIXED_ON_RESUME if flag in args.given]
    if fixed:
        raise UserError(fixed[0], "cannot change when a search resumes (its data, space and schedule stay as they were): leave it "
                                  "out, or start a new search under another --run")
    settings = search.settings
    if args.trials is not None and args.trials < settings.trials:
        raise UserError("--trials", f"{args.trials} is fewer than the {settings.trials} this search was started with")
    changes = ResumeChanges(args.trials if args.trials != settings.trials else None,
                            args.time_budget * 60 if args.time_budget is not None else None)
    if changes.time_budget_s and settings.ensemble_share:
        raise UserError("--time-budget", "cannot change when a search with --ensemble-share resumes: its member phase is timed by the "
                                         "budget it started with")
    return replace(settings, trials=args.trials or settings.trials, time_budget_s=changes.time_budget_s or settings.time_budget_s), changes


def family_starts(init: dict[str, str], architectures: list[str]) -> dict[str, str]:
    """`init`, and for each of `architectures` it has no weights of, the checkpoint of `init` that fills the
    largest share of its weights if that is at least FAMILY_SHARE: a net of the same family (resnet_m for
    resnet_m_hm) shares the backbone, and only its head starts random."""
    starts = dict(init)
    for arch in (a for a in architectures if a not in init):
        shares = {folder: loadable_share(arch, folder) for folder in dict.fromkeys(init.values())}
        best = max(shares, key=shares.__getitem__)
        if shares[best] >= FAMILY_SHARE:
            starts[arch] = best
    return starts


def describe_start(init: dict[str, str], architectures: list[str]) -> str:
    """Which of the space's architectures start from which weights, and which from random."""
    lines = []
    for arch in (a for a in architectures if a in init):
        source_arch = init_arch(init[arch])
        sibling = "" if source_arch == arch else f"a {source_arch}: {loadable_share(arch, init[arch]):.1%} of the weights, the rest random"
        score = "a weights file" if Path(init[arch]).is_file() else \
            f"val RMSE {Checkpoint(Path(init[arch])).val.rmse:.3f} px on its own validation faces"
        lines.append(f"  {arch}: from {init[arch]} ({'; '.join(filter(None, (sibling, score)))})")
    scratch = [arch for arch in architectures if arch not in init]
    if scratch:
        lines.append(f"  {', '.join(scratch)}: from random (--init has no weights of {'it' if len(scratch) == 1 else 'them'})")
    return "--init: trials start from earlier weights by architecture\n" + "\n".join(lines)


def check_before_start(settings: SearchSettings) -> tuple[SearchSettings, SearchSpace, Split]:
    """Everything that can be wrong with the input fails here, before Ray starts. Returns the settings
    with the data's label origin resolved, once for every trial."""
    try:
        space = load_space(settings.space)
    except ValueError as err:
        raise UserError(settings.space, str(err).removeprefix(f"{settings.space}: ")) from None
    base = TrainConfig.from_saved(settings.base)  # a search saved before label_origin existed resumes with its origin 0
    split = base.load_split()
    base = base.with_label_origin(split)
    for arch, source in settings.init.items():
        if not is_init_source(source):  # a resumed search whose starting weights were moved
            raise UserError(source, f"--init: the weights {arch}'s trials start from are gone or incomplete")
    if settings.init:
        settings = replace(settings, init=family_starts(settings.init, space.architectures))
        print(describe_start(settings.init, space.architectures))
    if settings.val_digest and settings.val_digest != split.val_digest:  # a resumed search whose files changed
        raise UserError(base.val or base.train, f"no longer gives the validation faces this search was scored on (digest "
                                                f"{split.val_digest}, not {settings.val_digest}): put the files back as they were")
    print(f"data: {len(split.train)} train faces, {len(split.val)} validation faces (every trial is scored on the same ones; "
          f"digest {split.val_digest}); {describe_origin(base.origin)}")
    return replace(settings, base=base.to_dict(), val_digest=split.val_digest), space, split


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings, changes = settings_to_resume(args) if args.resume else (settings_from_args(args), None)
    search = SearchFolder(settings.folder)
    if not args.resume and search.is_search():  # never mix two searches' trials in one folder
        raise UserError(str(search.folder), f"already holds a search: continue it with --resume --run {settings.name}, "
                                            "or give another --run")
    settings, space, split = check_before_start(settings)
    if not args.resume:  # a resumed search's settings are written once Tune's state takes its changes (experiment.restore_limits)
        search.write_settings(settings)
        search.write_machine(machine())
    if args.train and not settings.time_budget_s and not uses_gpus(args):
        print(f"no --time-budget: {settings.trials} trials of up to {settings.max_epochs} epochs, which can take many hours without a GPU "
              "(on 2 cores of an AMD EPYC a one-hour search starts 11-15 trials of 2949 faces); the progress lines project the "
              "end once trials end. --time-budget 60 ends it in an hour, each trial's schedule fitted to the time left")

    from .experiment import run_search  # imports Ray: only once the input is known to be good

    run_search(settings, space, split, address=args.address, dashboard_host=args.dashboard_host if args.dashboard else None, resume=changes,
               report=args.report)


if __name__ == "__main__":
    sys.exit(main())
