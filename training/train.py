"""`python -m training.train`: train one configuration and write its checkpoint folder.

Every TrainConfig field is a flag (`--arch vgg_opt --train PATH --epochs 20 ...`). With no --train
it trains on the built-in synthetic demo data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common.errors import exits_on_bad_input
from data.origin import describe_origin
from data.synthetic import demo_dataset

from .config import TrainConfig, config_fields
from .device import describe
from .plots import plot_history, plot_overlay
from .trainer import Trainer, TrainingDiverged, prepare_process


def add_config_flags(parser: argparse.ArgumentParser, exclude: tuple[str, ...] = ()) -> None:
    """One flag per TrainConfig field, parsed as strings and checked by TrainConfig.from_dict."""
    for f in config_fields():
        if f.name not in exclude:
            default = getattr(TrainConfig(), f.name)
            parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, help=f"{f.metadata['help']} (default: {default})")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in config_fields()}
    config = TrainConfig.from_dict({k: v for k, v in vars(args).items() if k in names and v is not None})
    return with_demo_data(config)


def with_demo_data(config: TrainConfig) -> TrainConfig:
    """No train file given: use the built-in demo data, and say so."""
    if config.train:
        return config
    train = demo_dataset() / "train.csv"
    print(f"no --train given: using the built-in synthetic demo data ({train})")
    return TrainConfig.from_dict({"train": str(train)}, base=config)


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0])
    add_config_flags(parser)
    parser.add_argument("--out", type=Path, default=None, help="checkpoint folder (default runs/train/ARCH-TIME)")
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    out = args.out or Path("runs/train") / f"{config.arch}-{time.strftime('%Y%m%d-%H%M%S')}"

    split = config.load_split()
    prepare_process(config)
    trainer = Trainer(config, split)
    print(f"{config.arch} on {describe(trainer.device, trainer.bf16)}: {len(split.train)} train faces, {len(split.val)} validation faces; "
          f"{describe_origin(trainer.config.origin)}")
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
