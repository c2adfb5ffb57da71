"""The search as a picture: every trial's learning curve, and each trial's best score against the time it
came (the best so far as a step: what the search's budget bought).

Drawn on a matplotlib Figure object, not pyplot: no backend to choose, nothing process-wide.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from .results import search_started, timed


def best_so_far(trials: list) -> pd.Series:
    """The best validation RMSE of any epoch of any trial reported by each minute into the search: the best
    single net the search had by then (indexed by minutes, one entry per reported epoch). `trials`: timed."""
    start = search_started(trials)
    epochs = pd.concat([t.history[["timestamp", "val_rmse"]] for t in trials]).dropna()  # a diverged trial's last epoch has no score
    epochs = epochs.sort_values("timestamp", kind="stable")
    return pd.Series(epochs["val_rmse"].cummin().to_numpy(), index=((epochs["timestamp"] - start) / 60).to_numpy(), name="best_val_rmse")


def plot_search(trials: list, path: Path, baseline_px: float | None = None, max_epochs: int | None = None) -> None:
    """Left: every trial's validation RMSE per epoch, trials stopped before the last epoch (by ASHA or
    by patience) thin and grey, and the rung scores ASHA judged them by (diamonds: a cooldown branch's score).
    Right: each trial's best, at the minute into the search it was reached, by architecture, and the best so
    far: where it stops falling, more time bought little. Log scale and the mean-face baseline, so the good
    trials stay apart however far a poor one strays."""
    fig = Figure(figsize=(12, 4.2))
    curves_ax, best_ax = fig.subplots(1, 2)
    colours: dict[str, str] = {}
    reported = sorted((t for t in timed(trials) if "val_rmse" in t.history), key=lambda t: t.history["timestamp"].min())
    start = search_started(reported) if reported else 0.0
    for trial in reported:
        arch, frame = (trial.config.arch if trial.config else "?"), trial.history
        colour = colours.setdefault(arch, f"C{len(colours) % 10}")
        stopped = trial.status == "DONE" and max_epochs is not None and frame["epoch"].max() < max_epochs
        curves_ax.plot(frame["epoch"], frame["val_rmse"], color="0.65" if stopped else colour, alpha=0.7,
                       lw=0.8 if stopped else 1.5, ls="--" if stopped else "-", marker="." if not stopped else None)
        if "rung_rmse" in frame:  # searches from before rung scores have none
            rungs = frame[frame["rung_rmse"].notna()]
            curves_ax.scatter(rungs["epoch"], rungs["rung_rmse"], color=colour, marker="D", s=18, zorder=3)
        best_epoch = frame.loc[frame["val_rmse"].idxmin()]
        best_ax.scatter([(best_epoch["timestamp"] - start) / 60], [best_epoch["val_rmse"]], color=colour, label=arch,
                        marker="o" if not stopped else "s")
    if reported:
        best = best_so_far(reported)
        best_ax.step(best.index, best.values, where="post", color="black", lw=1, label="best so far")
    for ax in (curves_ax, best_ax):
        ax.set_yscale("log")
        if baseline_px:
            ax.axhline(baseline_px, color="black", ls=":", lw=1, label="mean face")
    curves_ax.set(xlabel="epoch", ylabel="val RMSE (px, log scale)", title="learning curves (grey dashed: stopped early; diamonds: rung scores)")
    best_ax.set(xlabel="minutes into the search (when the trial reached its best)", ylabel="best val RMSE (px, log scale)",
                title="best per trial against time (square: stopped early)")
    handles = {h.get_label(): h for h in [*best_ax.collections, *best_ax.lines]}
    if handles:
        best_ax.legend(handles.values(), handles.keys(), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
