"""Optimizers and learning-rate schedules by name: torch's own, configured from a TrainConfig.
Schedules are stepped once per batch and span the run's `epochs`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import torch
from torch.optim import lr_scheduler


class TrainConfig(Protocol):
    """The fields of training.config.TrainConfig read here (that module checks names against this one's)."""

    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    schedule: str
    warmup: float
    epochs: int

WARMUP_START = 1 / 25  # warm-up starts at lr / 25, as one-cycle does

OPTIMIZERS: dict[str, Callable[[Iterable, TrainConfig], torch.optim.Optimizer]] = {
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),  # the seed's (L2 in the gradient)
    "adamw": lambda params, c: torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay),  # decoupled weight decay
    "sgd": lambda params, c: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
}


def _warmup(optimizer: torch.optim.Optimizer, warmup_steps: int) -> lr_scheduler.LRScheduler:
    """Linear warm-up from lr / 25 over `warmup_steps`; LinearLR holds the lr once it is over."""
    return lr_scheduler.LinearLR(optimizer, start_factor=WARMUP_START if warmup_steps else 1.0, total_iters=max(warmup_steps, 1))


def _cosine(optimizer: torch.optim.Optimizer, total: int, warmup_steps: int) -> lr_scheduler.LRScheduler:
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup_steps)
    if not warmup_steps:
        return cosine
    return lr_scheduler.SequentialLR(optimizer, [_warmup(optimizer, warmup_steps), cosine], milestones=[warmup_steps])


ONECYCLE_WARMUP = 0.3  # one-cycle's rising share when `warmup` is 0 (torch's default)

SCHEDULES: dict[str, Callable[[torch.optim.Optimizer, int, int, TrainConfig], lr_scheduler.LRScheduler]] = {
    # (optimizer, total steps, warm-up steps, config) -> a scheduler stepped once per batch
    "constant": lambda opt, total, warm, c: _warmup(opt, warm),  # the seed's
    "cosine": lambda opt, total, warm, c: _cosine(opt, total, warm),
    "onecycle": lambda opt, total, warm, c: lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=total, pct_start=_rising(total, warm)),
}


def _rising(total: int, warm: int) -> float:
    """One-cycle's rising share: `warm` steps, but at least 2 and at most all but one (OneCycleLR divides by
    the steps of each phase less one: a run of a few steps would divide by zero); ONECYCLE_WARMUP when 0."""
    return min(max(warm, 2), total - 1) / total if warm else ONECYCLE_WARMUP


def make_optimizer(params: Iterable, config: TrainConfig) -> torch.optim.Optimizer:
    return OPTIMIZERS[config.optimizer](params, config)


def make_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int) -> lr_scheduler.LRScheduler:
    total = config.epochs * steps_per_epoch
    return SCHEDULES[config.schedule](optimizer, total, round(config.warmup * total), config)
