"""The Ray Tune trainable: one trial = the foundation Trainer, reporting every epoch to Tune.

Kept apart from the search space: Tune hands it the sampled hyperparameters; the fixed part of the
configuration (data paths, epochs cap, seed) and the parsed train/validation faces come in through
`tune.with_parameters`, which puts them in Ray's object store once for every trial (so trials neither
re-read the data nor need the data files on their node).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import ray
from ray import tune

from data.split import Split
from models import keras_param_count, saved_size_bytes
from training.checkpoint import Checkpoint, EpochResult
from training.config import TrainConfig
from training.trainer import Trainer, TrainingDiverged, prepare_process

from .budget import fit_schedule
from .results import METRIC, RUNG_METRIC
from .settings import SCHEDULE, train_values


def train_trial(sampled: dict[str, Any], base: dict[str, Any], split: Split, rungs: tuple[int, ...], cooldown: float,
                deadline: float | None, init: dict[str, str]) -> None:
    """Train one trial, reporting every epoch. At the epochs in `rungs` (ASHA's, before the last) the
    rung score (RUNG_METRIC) is a branch's cooled-down score (Trainer.cooldown_score over `cooldown`
    epochs; 0: the best score so far); at the trial's own last epoch, its final score; else NaN. With a
    `deadline` (the search's time budget ends then, time.time() seconds) a new trial's schedule ends
    before it (search.budget). `init`: the checkpoint folder each architecture starts from (--init)."""
    # Ray gives a trial GPUs by setting CUDA_VISIBLE_DEVICES; with none assigned it must stay on the
    # CPU even on a GPU node. OMP_NUM_THREADS is set by Ray to the trial's CPU share.
    device = "cuda" if ray.get_gpu_ids() else "cpu"
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    config = TrainConfig.from_dict({**train_values(sampled), "device": device, "threads": threads}, base=TrainConfig.from_dict(base))
    config = dataclasses.replace(config, init=init.get(config.arch, ""))

    checkpoint = tune.get_checkpoint()
    if checkpoint:  # a resumed trial continues exactly from its latest checkpoint, on the schedule it started with
        with checkpoint.as_directory() as folder:
            saved = Checkpoint(Path(folder))
            config = dataclasses.replace(config, epochs=saved.config.epochs)
            prepare_process(config)
            trainer = Trainer(config, split)
            trainer.restore(saved)
    else:
        config = fit_schedule(config, split, deadline)
        prepare_process(config)
        trainer = Trainer(config, split)
    size = {"params": keras_param_count(trainer.model), "mb": saved_size_bytes(trainer.model) / 1e6, "device": device,
            "node": ray.get_runtime_context().get_node_id()}  # the Ray node it ran on (on a cluster: where to look for its logs)

    def rung_score(epoch: EpochResult) -> float:
        if trainer.finished:
            return trainer.best_rmse
        if epoch.epoch not in rungs:
            return math.nan  # ASHA reads this only at its rungs; Tune wants the key in every result
        return trainer.cooldown_score(cooldown) if cooldown else trainer.best_rmse

    def report(epoch: EpochResult) -> None:
        metrics = {
            "epoch": epoch.epoch,
            "train_loss": epoch.train_loss,
            "val_rmse": epoch.val_rmse,
            "mean_face_rmse": trainer.mean_face_rmse,  # the baseline: search.stopping ends trials stuck there
            METRIC: trainer.best_rmse,
            RUNG_METRIC: rung_score(epoch),
            "epoch_seconds": epoch.seconds,
            "lr": epoch.lr,
            "finished": trainer.finished,  # the last epoch of the trial's own schedule (not a stop by ASHA or a budget)
            SCHEDULE: trainer.config.epochs,  # its schedule's epochs: fewer than the search's when the time budget shortened it
            **size,
        }
        if not epoch.improved:
            tune.report(metrics)
            return
        # Checkpoints hold the kept weights and the training state; written when the kept weights change,
        # so a resumed trial replays (exactly) at most the epochs since its last improvement.
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = trainer.save(Path(tmp) / "checkpoint")
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(checkpoint.folder))

    try:
        trainer.fit(on_epoch=report)
    except TrainingDiverged as err:  # the trial ends here, recorded as diverged (rerunning it would diverge again)
        best = trainer.best_rmse if math.isfinite(trainer.best_rmse) else math.nan  # NaN: ASHA's rung cut-offs skip it
        tune.report({"epoch": len(trainer.history) + 1, METRIC: best, RUNG_METRIC: best, "finished": True, "diverged": True, "error": str(err), **size})
