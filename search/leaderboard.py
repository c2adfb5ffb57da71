"""The leaderboard: one row per trial, best first, written as CSV."""

from __future__ import annotations

import math

import pandas as pd

from .results import TrialRecord, ranked
from .settings import SCHEDULE, SearchSettings

HYPERPARAMETERS = ["arch", "dropout", "optimizer", "lr", "schedule", "batch_size", "weight_decay", "momentum", "aug", "ema", "loss", "patience"]


def ended(trial: TrialRecord, settings: SearchSettings) -> str:
    """How a trial ended, in words: "finished" its schedule (or early stopping ended it), "cut at rung N"
    (ASHA), "stopped at epoch N" between rungs (the search's time budget ran out, or it sat at the mean
    face); a schedule the time budget shortened is named. Not DONE: its status."""
    if trial.status != "DONE":
        return trial.status.lower()
    epoch = trial.metrics.get("epoch", 0)
    if trial.metrics.get("finished", True):  # absent in searches from before it was recorded
        schedule = trial.metrics.get(SCHEDULE, settings.max_epochs)
        return "finished" if schedule >= settings.max_epochs else f"finished ({schedule} epochs: the time budget's fit)"
    return f"cut at rung {epoch}" if epoch in settings.rungs else f"stopped at epoch {epoch}"


def leaderboard(trials: list[TrialRecord], settings: SearchSettings) -> pd.DataFrame:
    rows = []
    for trial in ranked(trials):
        config = trial.config.to_dict() if trial.config else {}
        rows.append({
            "trial": trial.id,
            **{k: config.get(k) for k in HYPERPARAMETERS},
            "best_val_rmse": trial.best_val_rmse,
            "rung_rmse": trial.rung_rmse,  # what ASHA judged at the trial's last rung
            "epochs": trial.metrics.get("epoch", 0),
            "params": trial.metrics.get("params"),
            "mb": trial.metrics.get("mb"),
            "device": trial.metrics.get("device"),
            "status": trial.status,
            "ended": ended(trial, settings),
            "checkpoint": str(trial.checkpoint.folder) if trial.checkpoint else "",
        })
    return pd.DataFrame(rows)


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard as people read it: rounded, momentum only where SGD uses it, no paths."""
    shown = table.drop(columns=["checkpoint"]).copy()
    for column, digits in (("best_val_rmse", 3), ("rung_rmse", 3), ("mb", 1), ("dropout", 2), ("aug", 2), ("ema", 2)):
        shown[column] = shown[column].map(lambda v, d=digits: f"{v:.{d}f}" if isinstance(v, float) and not math.isnan(v) else "")
    for column in ("lr", "weight_decay"):
        shown[column] = shown[column].map(lambda v: f"{v:.1e}" if isinstance(v, float) and not math.isnan(v) else "")
    shown["momentum"] = [f"{m:.3f}" if o == "sgd" else "" for m, o in zip(shown["momentum"], shown["optimizer"])]
    return shown


def format_table(table: pd.DataFrame, top: int = 10) -> str:
    return readable(table).head(top).to_string(index=False)
