"""The leaderboard: one row per trial, best first, written as CSV."""

from __future__ import annotations

import math

import pandas as pd

from .results import TrialRecord, ranked

HYPERPARAMETERS = ["arch", "dropout", "optimizer", "lr", "schedule", "batch_size", "weight_decay", "momentum", "aug", "ema", "loss", "patience"]


def leaderboard(trials: list[TrialRecord]) -> pd.DataFrame:
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
