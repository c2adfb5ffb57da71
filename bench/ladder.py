"""The accuracy ladder: on faces15 train -> val, the same time box per rung, each rung one change on the
one before, from the seed's vgg_opt recipe to a residual net with a heatmap head, one-cycle, AdamW,
augmentation and an EMA, then the searches' recipe and the same compiled. Validation RMSE (px), with
and without flip TTA and the net's bias (ensemble.bias), and epochs per rung.

    python -m bench.ladder [--data ../shared/data/faces15] [--minutes 8] [--rungs NAME ...]

A rung with a schedule gets as many epochs as fit its box (from a timed probe epoch), so the
schedule ends when the box does: augmentation pays late, so rung and schedule length must agree.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from bench.common import FACES15, cpu_start_point, faces15_config, train_and_score, write_results
from training.config import TrainConfig
from training.trainer import Trainer

SEED = {"arch": "vgg_opt", "dropout": 1.0, "batch_size": 256, "optimizer": "adam", "lr": 1e-3, "amp": "off", "patience": 10}
TODAY = {"arch": "cnn_small", "dropout": 0.0, "batch_size": 32, "optimizer": "adam", "lr": 1e-3, "amp": "off", "patience": 5}
BF16 = {**TODAY, "amp": "auto"}
ONECYCLE = {**BF16, "optimizer": "adamw", "schedule": "onecycle", "lr": 2e-3, "weight_decay": 1e-4, "warmup": 0.2}
AUGMENT = {**ONECYCLE, "aug": 1.0}
RESNET = {**AUGMENT, "arch": "resnet_m", "dropout": 0.0}
HEATMAP = {**RESNET, "arch": "resnet_m_hm"}
EMA = {**HEATMAP, "ema": 0.5}
# issue 19's steps: the CPU space's first start point (the one-hour searches' best recipe: wing loss, EMA
# 0.5, stronger augmentation, lr 2e-3, weight decay 1e-5), then the same compiled (more epochs in the box
# if compiling pays)
RECIPE = {**HEATMAP, **cpu_start_point()}
COMPILED = {**RECIPE, "compile": True}
RUNGS = {
    "seed vgg_opt recipe": SEED,
    "today's best (cnn_small, no dropout, batch 32)": TODAY,
    "+ bf16": BF16,
    "+ one-cycle, AdamW": ONECYCLE,
    "+ augmentation": AUGMENT,
    "residual net (resnet_m)": RESNET,
    "+ heatmap head (resnet_m_hm)": HEATMAP,
    "+ EMA": EMA,
    "the searches' recipe (wing loss, EMA, aug 1.3)": RECIPE,
    "+ torch.compile": COMPILED,
}


def epochs_in(box_s: float, config: TrainConfig, split) -> int:
    """Epochs of `config` that fit the box, from one whole timed epoch with its validation pass (10 timed
    steps underestimated a real epoch by about 20 %: ladder_issue19.json's rungs were cut before their
    schedules ended), with 5 % to spare. A compiled config's box loses what compiling costs, which the
    run repeats: its first step, and what its first epoch took over a later one (it compiles again for
    the epoch's last, smaller batch), so the epoch timed is its second."""
    probe = Trainer(config, split)
    start = time.perf_counter()
    probe.train_step(torch.arange(config.batch_size))
    compile_s = time.perf_counter() - start if config.compile else 0.0
    first_s = timed_epoch(probe) if config.compile else 0.0
    epoch_s = timed_epoch(probe) * 1.05
    compile_s += max(0.0, first_s - epoch_s)
    return max(1, math.floor((box_s - compile_s) / epoch_s))


def timed_epoch(trainer: Trainer) -> float:
    """Seconds of one training epoch and its validation pass."""
    start = time.perf_counter()
    trainer.train_epoch()
    trainer.predict(trainer.val_images)
    return time.perf_counter() - start


def run_rung(name: str, values: dict, data: Path, box_s: float) -> dict:
    base = faces15_config(data, epochs=1000, **values)
    split = base.load_split()
    config = base
    if base.schedule != "constant":  # the schedule must end with the box
        epochs = epochs_in(box_s, base, split)
        config = TrainConfig.from_dict({"epochs": epochs, "patience": epochs}, base=base)
    print(f"== {name}: {values} (epochs {config.epochs if config.schedule != 'constant' else 'until the box ends'})", flush=True)
    _, scores = train_and_score(config, split, verbose=True, time_budget_s=box_s)
    result = {"rung": name, "config": config.to_dict(), **scores, "seconds_per_epoch": scores["seconds"] / scores["epochs"]}
    print(f"{name}: {result['val_rmse']:.3f} px ({result['val_rmse_flip_tta']:.3f} with flip TTA; bias off "
          f"{result['val_rmse_bias_off']:.3f} / {result['val_rmse_flip_tta_bias_off']:.3f}), {result['epochs']} epochs, "
          f"{result['seconds_per_epoch']:.1f} s/epoch", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--minutes", type=float, default=8.0, help="time box per rung")
    parser.add_argument("--rungs", nargs="+", type=int, help="indices of the rungs to run (default all)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/ladder.json"))
    args = parser.parse_args()

    chosen = [list(RUNGS)[i] for i in args.rungs] if args.rungs else list(RUNGS)
    report = {"rungs": []}
    for name in chosen:
        report["rungs"].append(run_rung(name, RUNGS[name], args.data, args.minutes * 60))
        write_results("ladder", args, report, args.out)  # after every rung: a cut-off run keeps what it measured
    print(f"\n{'rung':<48} {'val RMSE':>9} {'+flip TTA':>10} {'bias off':>9} {'both':>6} {'epochs':>7}")
    for r in report["rungs"]:
        print(f"{r['rung']:<48} {r['val_rmse']:>9.3f} {r['val_rmse_flip_tta']:>10.3f} {r['val_rmse_bias_off']:>9.3f} "
              f"{r['val_rmse_flip_tta_bias_off']:>6.3f} {r['epochs']:>7}")


if __name__ == "__main__":
    main()
