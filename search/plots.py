"""Pictures people would rather see than read: learning curves and keypoint overlays."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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


def plot_overlay(images: np.ndarray, predictions: np.ndarray, path: Path, targets: np.ndarray | None = None, n: int = 16) -> None:
    """A grid of faces with predicted keypoints (red) and, where known, the true ones (green)."""
    n = min(n, len(images))
    cols = min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in zip(range(n), axes.flat):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        if targets is not None:
            ax.scatter(targets[i, 0::2], targets[i, 1::2], s=6, c="lime")
        ax.scatter(predictions[i, 0::2], predictions[i, 1::2], s=6, c="red", marker="x", linewidths=0.8)
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_search(trials: list, path: Path) -> None:
    """Left: every trial's validation RMSE per epoch. Right: each trial's best, in trial order, by architecture."""
    fig, (curves_ax, best_ax) = plt.subplots(1, 2, figsize=(11, 4))
    colours: dict[str, str] = {}
    reported = sorted((t for t in trials if "val_rmse" in t.history), key=lambda t: t.history["timestamp"].min())
    for i, (arch, frame) in enumerate((t.config.arch if t.config else "?", t.history) for t in reported):
        colour = colours.setdefault(arch, f"C{len(colours) % 10}")
        curves_ax.plot(frame["epoch"], frame["val_rmse"], color=colour, alpha=0.6, marker=".")
        best_ax.scatter([i + 1], [frame["best_val_rmse"].min()], color=colour, label=arch)
    curves_ax.set(xlabel="epoch", ylabel="val RMSE (px)", title="learning curves (ASHA stops the poor ones)")
    best_ax.set(xlabel="trial (in start order)", ylabel="best val RMSE (px)", title="best per trial")
    best_ax.xaxis.get_major_locator().set_params(integer=True)
    handles = {h.get_label(): h for h in best_ax.collections}
    if handles:
        best_ax.legend(handles.values(), handles.keys(), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
