"""Pictures people would rather see than read: learning curves and keypoint overlays."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from data.transforms import frame_px  # noqa: E402


def plot_history(history: list, path: Path, title: str = "") -> None:
    """Train loss and validation RMSE per epoch; the kept (best) epoch marked."""
    epochs = [r.epoch for r in history]
    fig, (loss_ax, rmse_ax) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_ax.plot(epochs, [r.train_loss for r in history], marker=".")
    loss_ax.set(xlabel="epoch", ylabel="train loss (normalised MSE)", yscale="log")
    rmse_ax.plot(epochs, [r.val_rmse for r in history], marker=".", color="tab:orange")
    best = min(history, key=lambda r: r.val_rmse)
    rmse_ax.scatter([best.epoch], [best.val_rmse], color="red", zorder=3, label=f"kept: {best.val_rmse:.3f} px")
    rmse_ax.set(xlabel="epoch", ylabel="val RMSE (px)")
    rmse_ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_overlay(images: np.ndarray, predictions: np.ndarray, path: Path, targets: np.ndarray | None = None, n: int = 16,
                 titles: list[str] | None = None, suptitle: str = "", origin: float = 0.0) -> None:
    """A grid of faces with predicted keypoints (red x) and, where known, the true ones (green o);
    `origin`: the labels' (data.origin), so that each point is drawn on the pixel it names."""
    n = min(n, len(images))
    cols = min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows + (0.4 if suptitle else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in zip(range(n), axes.flat):
        low, high = frame_px(origin)
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255, extent=(low, high, high, low))
        if targets is not None:
            ax.scatter(targets[i, 0::2], targets[i, 1::2], s=10, facecolors="none", edgecolors="lime", linewidths=0.8)
        ax.scatter(predictions[i, 0::2], predictions[i, 1::2], s=8, c="red", marker="x", linewidths=0.8)
        if titles:
            ax.set_title(titles[i], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle + "   (green o: true, red x: predicted)", fontsize=9)
    fig.tight_layout(pad=0.3)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_search(trials: list, path: Path, baseline_px: float | None = None, max_epochs: int | None = None) -> None:
    """Left: every trial's validation RMSE per epoch, trials stopped before the last epoch (by ASHA or
    by patience) thin and grey.
    Right: each trial's best, in start order, by architecture. Log scale and the mean-face baseline, so
    the good trials stay apart however far a poor one strays."""
    fig, (curves_ax, best_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    colours: dict[str, str] = {}
    reported = sorted((t for t in trials if "val_rmse" in t.history), key=lambda t: t.history["timestamp"].min())
    for i, trial in enumerate(reported):
        arch, frame = (trial.config.arch if trial.config else "?"), trial.history
        colour = colours.setdefault(arch, f"C{len(colours) % 10}")
        stopped = trial.status == "DONE" and max_epochs is not None and frame["epoch"].max() < max_epochs
        curves_ax.plot(frame["epoch"], frame["val_rmse"], color="0.65" if stopped else colour, alpha=0.7,
                       lw=0.8 if stopped else 1.5, ls="--" if stopped else "-", marker="." if not stopped else None)
        best_ax.scatter([i + 1], [frame["best_val_rmse"].min()], color=colour, label=arch, marker="o" if not stopped else "s")
    for ax in (curves_ax, best_ax):
        ax.set_yscale("log")
        if baseline_px:
            ax.axhline(baseline_px, color="black", ls=":", lw=1, label="mean face")
    curves_ax.set(xlabel="epoch", ylabel="val RMSE (px, log scale)", title="learning curves (grey dashed: stopped early)")
    best_ax.set(xlabel="trial (in start order)", ylabel="best val RMSE (px, log scale)", title="best per trial (square: stopped early)")
    best_ax.xaxis.get_major_locator().set_params(integer=True)
    handles = {h.get_label(): h for h in [*best_ax.collections, *best_ax.lines]}
    if handles:
        best_ax.legend(handles.values(), handles.keys(), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
