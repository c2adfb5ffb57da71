"""Turn a Tune ResultGrid into the leaderboard: one row per trial, best first, written as CSV."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from ray.tune import ResultGrid

from .config import TrainConfig
from .trainable import METRIC
from .trainer import CONFIG

HYPERPARAMETERS = ["arch", "dropout", "optimizer", "lr", "batch_size", "weight_decay", "momentum", "patience"]


def leaderboard(grid: ResultGrid) -> pd.DataFrame:
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        trial_dir = Path(result.path)
        config = TrainConfig.load(trial_dir / CONFIG).to_dict() if (trial_dir / CONFIG).is_file() else result.config or {}
        rows.append({
            "trial": metrics.get("trial_id") or trial_dir.name,
            **{k: config.get(k) for k in HYPERPARAMETERS},
            "best_val_rmse": metrics.get(METRIC, math.nan),
            "epochs": metrics.get("epoch", 0),
            "params": metrics.get("params"),
            "mb": metrics.get("mb"),
            "device": metrics.get("device"),
            "status": _status(result),
            "checkpoint": result.checkpoint.path if result.checkpoint else "",
        })
    table = pd.DataFrame(rows)
    return table.sort_values(["best_val_rmse", "trial"], na_position="last").reset_index(drop=True) if rows else table


def _status(result) -> str:
    """DONE: finished (early stopping, ASHA or epoch cap); ERROR: crashed; UNFINISHED: interrupted or never started."""
    if result.error:
        return "ERROR"
    return "DONE" if (result.metrics or {}).get("done") else "UNFINISHED"


def format_table(table: pd.DataFrame, top: int = 10) -> str:
    shown = table.drop(columns=["checkpoint"]).head(top).copy()
    shown["lr"] = shown["lr"].map(lambda v: f"{v:.2e}" if isinstance(v, float) else v)
    shown["weight_decay"] = shown["weight_decay"].map(lambda v: f"{v:.1e}" if isinstance(v, float) and not math.isnan(v) else "")
    shown["momentum"] = [f"{m:.3f}" if o == "sgd" else "" for m, o in zip(shown["momentum"], shown["optimizer"])]
    shown["dropout"] = shown["dropout"].map(lambda v: f"{v:.2f}" if isinstance(v, float) else v)
    shown["best_val_rmse"] = shown["best_val_rmse"].map(lambda v: f"{v:.3f}")
    shown["mb"] = shown["mb"].map(lambda v: f"{v:.1f}" if isinstance(v, float) else v)
    return shown.to_string(index=False)
