"""The leaderboard: one row per trial, best first, written as CSV."""

from __future__ import annotations

import math

import pandas as pd

from .results import TrialRecord

HYPERPARAMETERS = ["arch", "dropout", "optimizer", "lr", "schedule", "batch_size", "weight_decay", "momentum", "aug", "ema", "loss", "patience"]


def leaderboard(trials: list[TrialRecord]) -> pd.DataFrame:
    rows = []
    for trial in trials:
        config = trial.config.to_dict() if trial.config else {}
        rows.append({
            "trial": trial.id,
            **{k: config.get(k) for k in HYPERPARAMETERS},
            "best_val_rmse": trial.best_val_rmse,
            "epochs": trial.metrics.get("epoch", 0),
            "params": trial.metrics.get("params"),
            "mb": trial.metrics.get("mb"),
            "device": trial.metrics.get("device"),
            "status": trial.status,
            "checkpoint": str(trial.checkpoint.folder) if trial.checkpoint else "",
        })
    table = pd.DataFrame(rows)
    return table.sort_values(["best_val_rmse", "trial"], na_position="last").reset_index(drop=True) if rows else table


def format_table(table: pd.DataFrame, top: int = 10) -> str:
    shown = table.drop(columns=["checkpoint"]).head(top).copy()
    shown["lr"] = shown["lr"].map(lambda v: f"{v:.2e}" if isinstance(v, float) else v)
    shown["weight_decay"] = shown["weight_decay"].map(lambda v: f"{v:.1e}" if isinstance(v, float) and not math.isnan(v) else "")
    shown["momentum"] = [f"{m:.3f}" if o == "sgd" else "" for m, o in zip(shown["momentum"], shown["optimizer"])]
    for column in ("dropout", "aug", "ema"):
        shown[column] = shown[column].map(lambda v: f"{v:.2f}" if isinstance(v, float) else v)
    shown["best_val_rmse"] = shown["best_val_rmse"].map(lambda v: f"{v:.3f}")
    shown["mb"] = shown["mb"].map(lambda v: f"{v:.1f}" if isinstance(v, float) else v)
    return shown.to_string(index=False)
