"""A trial's schedule fitted to what is left of the search's time budget.

A one-cycle schedule spans a trial's epochs, and a trial that the budget stops before the end of its
schedule stops at a learning rate still far from zero, its best weights never settled. In the one-hour
default search on faces15 with 72-epoch trials the last two trials ran 28 and 24 minutes and the budget
cut them at epochs 61 and 30 of 72 (bench/results/search_cpu_1h_e72.json). So when the search has a time
budget, each trial, as it starts, times a few of its own training steps and its validation pass, and
takes the schedule that ends before the budget does: all its epochs when they fit, else as many as fit,
but never fewer than MIN_SCHEDULE of them (such a trial runs as before and the budget may cut it). The
trial's config, saved in its checkpoints, records the epochs it took, and a trial restored from a
checkpoint keeps them.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from data.split import Split
from training.config import TrainConfig
from training.trainer import Trainer, prepare_process

MIN_SCHEDULE = 1 / 3  # the shortest schedule a trial takes, as a share of its own; the member phase's too (search.members)
PROBE_STEPS = 8  # timed training steps, after an untimed first one (allocations; the compile when config.compile)
MARGIN = 1.25  # an epoch takes longer than its steps and validation pass timed alone: data order, the EMA, the checkpoint


def shortest_schedule(epochs: int) -> int:
    """The fewest epochs a schedule of `epochs` is cut to: MIN_SCHEDULE of it."""
    return math.ceil(epochs * MIN_SCHEDULE)


def epochs_within(seconds_left: float, epoch_seconds: float) -> int:
    """The epochs that end within `seconds_left` at `epoch_seconds` (times MARGIN) an epoch."""
    return math.floor(seconds_left / (epoch_seconds * MARGIN))


def fitted_epochs(epochs: int, epoch_seconds: float, seconds_left: float) -> int:
    """The epochs of a schedule of at most `epochs` that end within `seconds_left`, at `epoch_seconds`
    an epoch; at least its shortest_schedule."""
    return min(epochs, max(epochs_within(seconds_left, epoch_seconds), shortest_schedule(epochs)))


def probe_epoch_seconds(config: TrainConfig, split: Split) -> float:
    """Seconds an epoch of `config` takes here: PROBE_STEPS training steps and one validation pass,
    timed on a Trainer that is thrown away. Sets torch's threads and seed for `config` (prepare_process)."""
    prepare_process(config)
    trainer = Trainer(config, split)
    index = torch.arange(min(config.batch_size, len(split.train)), device=trainer.device)
    trainer.train_step(index).item()
    start = time.perf_counter()
    for _ in range(PROBE_STEPS):
        loss = trainer.train_step(index)
    loss.item()  # waits for a GPU to finish the steps
    step_seconds = (time.perf_counter() - start) / PROBE_STEPS
    start = time.perf_counter()
    trainer.predict(trainer.val_images)
    return step_seconds * trainer.steps_per_epoch + time.perf_counter() - start


def fit_schedule(config: TrainConfig, split: Split, deadline: float | None) -> TrainConfig:
    """`config` with the epochs that end before `deadline` (time.time() seconds; None: no budget, the
    config as it is)."""
    if deadline is None:
        return config
    epochs = fitted_epochs(config.epochs, probe_epoch_seconds(config, split), deadline - time.time())
    return dataclasses.replace(config, epochs=epochs)
