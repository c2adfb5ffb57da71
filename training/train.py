"""`python -m training.train`: train one configuration and write its checkpoint folder.

It starts from the best recipe kptune knows for a laptop (the CPU search space's first start point,
72 epochs), or with `--from-trial RUN TRIAL` from a search's trial (its id, or its rank on the
leaderboard, 1 = best) with the config it saved; every TrainConfig field is a flag that overrides either
(`--arch resnet_s --epochs 20 ...`). With no --train it trains on the built-in synthetic demo data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from common.cli import add_run_args
from common.errors import UserError, exits_on_bad_input
from configs import TRIAL_EPOCHS, start_recipe
from data.origin import describe_origin
from data.split import FILES_SEPARATOR
from data.synthetic import demo_dataset

from .config import CHOICES, TrainConfig, config_fields
from .device import describe
from .plots import plot_history, plot_overlay
from .trainer import Trainer, TrainingDiverged, prepare_process


class _Bool(argparse.Action):
    """--x or --x true|false (as older scripts wrote it), and --no-x."""

    def __init__(self, option_strings, dest, **kwargs):
        names = [*option_strings, *(f"--no-{s[2:]}" for s in option_strings)]
        super().__init__(names, dest, nargs="?", metavar="true|false", **kwargs)

    def __call__(self, parser, namespace, value, option_string=None):
        setattr(namespace, self.dest, "false" if option_string.startswith("--no-") else value or "true")


def add_config_flags(parser: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """One flag per TrainConfig field, parsed as strings and checked by TrainConfig.from_dict; the few-valued
    ones list their choices, booleans are --x/--no-x."""
    for f in config_fields():
        default = getattr(defaults, f.name)
        kind = ({"action": _Bool} if isinstance(default, bool) else {"choices": CHOICES[f.name]} if f.name in CHOICES else
                {"nargs": "+", "metavar": "FILE"} if f.name == "train" else {})
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, help=f"{f.metadata['help']} (default: {default})",
                            **kind)


def recipe() -> TrainConfig:
    """training.train's starting point: the CPU search space's first start point, with a trial's schedule."""
    return TrainConfig.from_dict({**start_recipe(), "epochs": TRIAL_EPOCHS})


def config_from_args(args: argparse.Namespace, base: TrainConfig) -> TrainConfig:
    names = {f.name for f in config_fields()}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "train" in values:  # one file or several, as the config names them
        values["train"] = FILES_SEPARATOR.join(values["train"])
    config = TrainConfig.from_dict(values, base=base)
    return with_demo_data(config)


def with_demo_data(config: TrainConfig) -> TrainConfig:
    """No train file given: use the built-in demo data, and say so."""
    if config.train:
        return config
    train = demo_dataset() / "train.csv"
    print(f"no --train given: using the built-in synthetic demo data ({train})")
    return TrainConfig.from_dict({"train": str(train)}, base=config)


def trial_config(runs_dir: Path, run: str, trial: str) -> tuple[TrainConfig, dict[str, Any]]:
    """The config a search's trial (its id, or its leaderboard rank) trained with, on whatever device this
    machine has, and what the search recorded of it (its score, epochs run and status)."""
    from search.results import SearchFolder  # the search folder's owner: the one way into a trial's files

    search = SearchFolder(runs_dir / run)
    if not search.is_search():
        raise UserError(str(search.folder), "no search here")
    record = search.trial(trial)
    if record.config is None:
        raise UserError(str(record.folder), "has no valid config to train again")
    config = TrainConfig.from_dict({"device": "auto", "threads": 0}, base=record.config)  # the trial's were the Ray worker's
    return config, {"id": record.id, "score": record.best_val_rmse, "epochs": len(record.history), "status": record.status}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0])
    add_config_flags(p, recipe())
    p.add_argument("--from-trial", nargs=2, metavar=("RUN", "TRIAL"),
                   help="start from a search's trial: RUN under --runs-dir, TRIAL its id or its leaderboard rank (1 = best)")
    add_run_args(p, run_help=None)
    p.add_argument("--checkpoint", "--out", dest="checkpoint", type=Path, default=None,
                   help="the checkpoint folder to write (default runs/train/ARCH-TIME)")
    return p


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    trial = None
    base = recipe()
    if args.from_trial:
        base, trial = trial_config(args.runs_dir, *args.from_trial)
    try:
        config = config_from_args(args, base)
    except ValueError as err:
        p.error(str(err))
    out = args.checkpoint or Path("runs/train") / f"{config.arch}-{time.strftime('%Y%m%d-%H%M%S')}"
    if trial:
        print(f"trial {trial['id']} of {args.from_trial[0]}: {trial['status']} after {trial['epochs']} of its {base.epochs} epochs, "
              f"best val RMSE {trial['score']:.3f} px; its config, with your flags, trains again (same seed, epochs and CPU: "
              "the same score; --stop-epoch N ends where a cut trial ended)")

    split = config.load_split()
    prepare_process(config)
    trainer = Trainer(config, split)
    print(f"{config.arch} on {describe(trainer.device, trainer.bf16)}: {len(split.train)} train faces, {len(split.val)} validation faces; "
          f"{describe_origin(trainer.config.origin)}")
    if config.init:
        total = len(trainer.model.state_dict())
        print(f"started from {config.init}: {total - len(trainer.fresh)} of {total} tensors loaded"
              + (f"; random: {', '.join(trainer.fresh)}" if trainer.fresh else ""))
    try:
        trainer.fit(verbose=True)
    except TrainingDiverged as err:
        sys.exit(f"error: {err}")
    trainer.save(out)
    if config.refit:  # its validation faces trained it: no figure of theirs says how good it is
        plot_history(trainer.history, out / "curves.png", title=f"{config.arch}: refit on the training and validation faces")
        print(f"refit on {len(split.train)} training + {len(split.val)} validation faces, its last epoch's weights kept; "
              f"no validation score (it trained on those faces); checkpoint: {out} (weights, config, curves.png)")
        return
    plot_history(trainer.history, out / "curves.png", title=f"{config.arch}: best val RMSE {trainer.best_rmse:.3f} px")
    plot_overlay(split.val.images, trainer.best_predictions, out / "val_overlay.png", targets=split.val.keypoints, origin=trainer.config.origin)
    print(f"best val RMSE {trainer.best_rmse:.3f} px; checkpoint: {out} (weights, config, {len(split.val)} validation predictions, curves.png, val_overlay.png)")


if __name__ == "__main__":
    main()
