"""Train one configuration: flip augmentation, masked MSE, early stopping on validation RMSE (pixels),
best weights restored, and a checkpoint folder any later stage can read:

    weights.pt            best state_dict (load with torch.load(..., weights_only=True))
    config.json           the resolved TrainConfig
    val_predictions.npz   ids, predictions and targets of the validation faces, in pixels
    history.csv           one row per epoch: train_loss, val_rmse, seconds
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from data.faces import Faces
from data.files import write_folder_atomically
from data.split import Split
from data.transforms import denormalise_keypoints, masked_mse, normalise_keypoints, random_hflip, rmse_px
from models import create_model

from .config import TrainConfig
from .device import autocast, pick_device, set_threads, uses_bf16

WEIGHTS, CONFIG, VAL_PREDICTIONS, HISTORY = "weights.pt", "config.json", "val_predictions.npz", "history.csv"


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 1-based
    train_loss: float  # masked MSE on normalised targets, averaged over the epoch's batches
    val_rmse: float  # pixels
    seconds: float
    improved: bool  # this epoch set a new best validation RMSE (its weights are the ones kept)


class Trainer:
    def __init__(self, config: TrainConfig, split: Split):
        self.config = config
        self.device = pick_device(config.device)
        set_threads(self.device, config.threads)
        self.bf16 = uses_bf16(config.amp, self.device)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)  # batch order and flips

        self.split = split
        # torch.tensor copies: a search's faces come read-only from Ray's object store
        self.train_images = torch.tensor(split.train.images, device=self.device)  # (N, 96, 96) uint8
        self.train_targets = normalise_keypoints(split.train.keypoints).to(self.device)  # (N, 30), NaN = missing
        self.val_images = torch.tensor(split.val.images, device=self.device)

        # channels_last: faster convolutions on both CPU (oneDNN) and GPU (tensor cores)
        self.model = create_model(config.arch, dropout=config.dropout).to(self.device, memory_format=torch.channels_last)
        self.optimizer = self._make_optimizer()
        self.history: list[EpochResult] = []
        self.best_rmse = float("inf")
        self.best_state = copy.deepcopy(self.model.state_dict())
        self.best_predictions: np.ndarray | None = None  # (N_val, 30) px, from the best epoch

    def _make_optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "adam":
            return torch.optim.Adam(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.SGD(self.model.parameters(), lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)

    def restore(self, folder: Path) -> None:
        """Continue from a checkpoint folder written by `save` (weights and history; fresh optimizer)."""
        self.model.load_state_dict(torch.load(folder / WEIGHTS, map_location=self.device, weights_only=True))
        self.best_state = copy.deepcopy(self.model.state_dict())
        rows = pd.read_csv(folder / HISTORY).to_dict("records")
        self.history = [EpochResult(**{**r, "improved": bool(r["improved"])}) for r in rows]
        self.best_rmse = min(r.val_rmse for r in self.history)

    def train_epoch(self, progress: Callable[[int, int], None] | None = None) -> float:
        self.model.train()
        order = torch.randperm(len(self.train_images), generator=self.generator, device=self.device)
        batches = order.split(self.config.batch_size)
        total = torch.zeros((), device=self.device)  # summed on the device: no GPU sync per batch
        for i, index in enumerate(batches):
            total += self.train_step(index)
            if progress:
                progress(i + 1, len(batches))
        return total.item() / len(batches)

    def train_step(self, index: torch.Tensor) -> torch.Tensor:
        """One optimisation step on the training faces `index`; returns the (detached) loss."""
        images = _as_input(self.train_images[index])
        targets = self.train_targets[index]
        if self.config.flip:
            images, targets = random_hflip(images, targets, self.generator)
        with autocast(self.device, self.bf16):
            prediction = self.model(images)  # (B, 30) float32: the last layer leaves autocast
        loss = masked_mse(prediction, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def predict(self, images: torch.Tensor) -> np.ndarray:
        """(N, 96, 96) uint8 on the device -> (N, 30) float32 predictions in pixels (float32 throughout:
        these pick the kept epoch and the ensemble's members)."""
        return predict_keypoints(self.model, images)

    def fit(
        self, on_epoch: Callable[[EpochResult], None] | None = None, verbose: bool = False, time_budget_s: float | None = None
    ) -> list[EpochResult]:
        """Train until `epochs`, early stopping, or (if given) the time budget would be overrun by
        another epoch as long as the last; the best weights are in the model afterwards."""
        c = self.config
        started = time.perf_counter()
        while len(self.history) < c.epochs and self._epochs_since_best() < c.patience:
            if time_budget_s and self.history and time.perf_counter() - started + self.history[-1].seconds > time_budget_s:
                break
            start = time.perf_counter()
            epoch = len(self.history) + 1
            show = _progress_bar(epoch, c.epochs) if verbose and sys.stderr.isatty() else None
            loss = self.train_epoch(show)
            predictions = self.predict(self.val_images)
            val_rmse = rmse_px(predictions, self.split.val.keypoints)
            improved = val_rmse < self.best_rmse
            if improved:
                self.best_rmse, self.best_state = val_rmse, copy.deepcopy(self.model.state_dict())
                self.best_predictions = predictions
            result = EpochResult(epoch, loss, val_rmse, time.perf_counter() - start, improved)
            self.history.append(result)
            if verbose:
                mark = " *" if improved else ""
                print(f"epoch {epoch:>3}/{c.epochs}  train loss {loss:.5f}  val RMSE {val_rmse:.3f} px  {result.seconds:.1f} s{mark}", flush=True)
            if on_epoch:
                on_epoch(result)
        self.model.load_state_dict(self.best_state)
        return self.history

    def _epochs_since_best(self) -> int:
        best = [i for i, r in enumerate(self.history) if r.improved]
        return len(self.history) - (best[-1] + 1) if best else len(self.history)

    def save(self, folder: Path) -> Path:
        """Write the checkpoint folder atomically. Call it when the model holds the best weights:
        right after an improving epoch, or after `fit`."""
        if self.best_predictions is None:  # restored from a checkpoint and not improved since
            self.best_predictions = self.predict(self.val_images)
        val: Faces = self.split.val

        def fill(tmp: Path) -> None:
            torch.save({k: v.cpu() for k, v in self.model.state_dict().items()}, tmp / WEIGHTS)
            self.config.save(tmp / CONFIG)
            np.savez(tmp / VAL_PREDICTIONS, ids=val.ids, predictions=self.best_predictions, targets=val.keypoints)
            pd.DataFrame([r.__dict__ for r in self.history]).to_csv(tmp / HISTORY, index=False)

        return write_folder_atomically(Path(folder), fill)


@torch.inference_mode()
def predict_keypoints(model: torch.nn.Module, images: torch.Tensor, bf16: bool = False) -> np.ndarray:
    """(N, 96, 96) uint8 on the model's device -> (N, 30) float32 predictions in pixels (eval mode).
    bf16: bfloat16 autocast for the layers before the coordinates (test-time speed; never for
    predictions that are scored to pick epochs or members)."""
    model.eval()
    # On a CPU, batches of 32 keep activations in cache: 2-3x the images per second of batches of 256.
    batch_size = 32 if images.device.type == "cpu" else 256
    out = []
    for chunk in images.split(batch_size):
        with autocast(images.device, bf16):
            out.append(model(_as_input(chunk)))
    return denormalise_keypoints(torch.cat(out)).cpu().numpy()


def _as_input(images: torch.Tensor) -> torch.Tensor:
    """(B, 96, 96) uint8 -> (B, 1, 96, 96) float in [0, 1], channels_last like the model."""
    return images.unsqueeze(1).float().div_(255).contiguous(memory_format=torch.channels_last)


def _progress_bar(epoch: int, epochs: int) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        end = "\r" if done < total else "\r" + " " * 60 + "\r"
        print(f"epoch {epoch}/{epochs}  batch {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show
