"""Pictures of one training run: its learning curves, and predicted keypoints over faces.

Drawn on matplotlib Figure objects, not pyplot: no backend to choose, nothing process-wide.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from data.transforms import frame_px


def plot_history(history: list, path: Path, title: str = "") -> None:
    """Train loss and validation RMSE per epoch; the kept (best) epoch marked."""
    epochs = [r.epoch for r in history]
    fig = Figure(figsize=(9, 3.5))
    loss_ax, rmse_ax = fig.subplots(1, 2)
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


def plot_overlay(images: np.ndarray, predictions: np.ndarray, path: Path, targets: np.ndarray | None = None, n: int = 16,
                 titles: list[str] | None = None, suptitle: str = "", origin: float = 0.0) -> None:
    """A grid of faces with predicted keypoints (red x) and, where known, the true ones (green o);
    `origin`: the labels' (data.origin), so that each point is drawn on the pixel it names."""
    n = min(n, len(images))
    cols = min(n, 8)
    rows = -(-n // cols)
    # constrained layout makes room for each face's title and the figure's (tight_layout leaves the latter out)
    fig = Figure(figsize=(1.6 * cols, 1.75 * rows + (0.4 if suptitle else 0)), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
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
    fig.savefig(path, dpi=90)
