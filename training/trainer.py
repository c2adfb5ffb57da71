"""Train one configuration: on-the-fly augmentation, the configured loss, optimizer and per-batch
schedule, an optional weight average (EMA), early stopping on validation RMSE (pixels) with the best
weights kept (a refit, trained on the validation faces too, keeps its last), divergence caught at once,
and checkpoints (training.checkpoint) that resume exactly."""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.optim import lr_scheduler
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from data.augment import Augmentation
from data.split import Split
from data.transforms import mean_face_rmse, normalise_keypoints, rmse_px

from .checkpoint import Checkpoint, EpochResult, ValPredictions, build_model, start_from
from .config import TrainConfig
from .device import autocast, configure_process, pick_device, uses_bf16
from .losses import LOSSES
from .optim import make_optimizer, make_schedule
from .predict import as_input, predict_keypoints

# A validation RMSE this many times the mean face's means the run has blown up. Healthy slow starters
# stay well below it (the seed's vgg_opt_gap: 5.4x after its first epoch on faces15).
DIVERGENCE_FACTOR = 10.0


class TrainingDiverged(RuntimeError):
    """The loss or the validation error blew up: the run ends at once and nothing of it is kept."""


def augmentation(c: TrainConfig) -> Augmentation:
    """The config's augmentation: every range scaled by the strength `aug` (0 = flip only)."""
    return Augmentation(flip=c.flip, origin=c.origin, ranges={name: c.aug * r for name, r in c.augment.items()})


def prepare_process(config: TrainConfig) -> None:
    """Seed torch and set its threads for `config`, once where the process starts (training.device):
    a Trainer built after this trains the same weights from the same seed."""
    configure_process(pick_device(config.device), config.threads, config.seed)


class Trainer:
    """One configuration's training. It changes nothing process-wide: call prepare_process(config) first
    where the process starts (weight initialisation and dropout draw from torch's global generator)."""

    def __init__(self, config: TrainConfig, split: Split):
        self.config = config = config.with_label_origin(split)  # resolved: the checkpoint records the number
        self.device = pick_device(config.device)
        self.bf16 = uses_bf16(config.amp, self.device)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)  # batch order and augmentation

        self.split = split
        train = split.train.joined(split.val) if config.refit else split.train  # a refit trains on the validation faces too
        # torch.tensor copies: a search's faces come read-only from Ray's object store
        self.train_images = torch.tensor(train.images, device=self.device)  # (N, 96, 96) uint8
        self.train_keypoints = torch.tensor(train.keypoints, device=self.device)  # (N, 30) px, NaN = missing
        # (N, 30) loss weights when some labels were filled in by an ensemble and count differently; else None
        self.train_weights = (torch.tensor(np.where(train.filled, config.filled_weight, 1.0), dtype=torch.float32, device=self.device)
                              if train.filled is not None and config.filled_weight != 1 else None)
        self.val_images = torch.tensor(split.val.images, device=self.device)
        self.steps_per_epoch = math.ceil(len(train) / config.batch_size)
        self.mean_face_rmse = mean_face_rmse(train.keypoints, split.val.keypoints)

        # channels_last: faster convolutions on both CPU (oneDNN) and GPU (tensor cores)
        self.model = build_model(config)
        # tensors that kept their random start: all of them without `init`, else those the checkpoint lacks
        self.fresh = start_from(self.model, config.init) if config.init else list(self.model.state_dict())
        self.model = self.model.to(self.device, memory_format=torch.channels_last)
        # what train_step calls: the same parameters, compiled or not (state_dict, EMA and predictions use self.model)
        self.forward = torch.compile(self.model) if config.compile else self.model
        self.ema = None
        if config.ema:  # decay from the half-life: 0.5 ** (1 / half-life in steps)
            decay = 0.5 ** (1 / (config.ema * self.steps_per_epoch))
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.optimizer = make_optimizer(self.model.parameters(), config)
        self.schedule = make_schedule(self.optimizer, config, self.steps_per_epoch)
        self.loss = LOSSES[config.loss]
        self.augment = augmentation(config)

        self.history: list[EpochResult] = []
        self.best_rmse = float("inf")
        self.best_state = _cpu_copy(self.evaluated.state_dict())  # the kept weights
        self.best_predictions: np.ndarray | None = None  # (N_val, 30) px, of the kept weights

    @property
    def evaluated(self) -> torch.nn.Module:
        """The weights that are scored, kept and shipped: the EMA when on, else the trained ones."""
        return self.ema.module if self.ema else self.model

    def _epoch_batches(self) -> tuple[torch.Tensor, ...]:
        """One epoch's batches of training-face indices, in a fresh random order."""
        order = torch.randperm(len(self.train_images), generator=self.generator, device=self.device)
        return order.split(self.config.batch_size)

    def _train_mode(self) -> None:
        """The model in training mode, but in the first `head_epochs` epochs with its backbone frozen: no
        gradients (the optimizer skips it), batch-norm statistics left as they are."""
        frozen = len(self.history) < self.config.head_epochs
        self.model.train()
        self.model.backbone.requires_grad_(not frozen)
        if frozen:
            self.model.backbone.eval()

    def train_epoch(self, progress: Callable[[int, int], None] | None = None) -> float:
        self._train_mode()
        batches = self._epoch_batches()
        total = torch.zeros((), device=self.device)  # summed on the device: no GPU sync per batch
        for i, index in enumerate(batches):
            total += self.train_step(index)
            if progress:
                progress(i + 1, len(batches))
        return total.item() / len(batches)

    def train_step(self, index: torch.Tensor) -> torch.Tensor:
        """One optimisation step on the training faces `index`; returns the (detached) loss."""
        weights = None if self.train_weights is None else self.train_weights[index]
        images, keypoints, weights = self.augment(as_input(self.train_images[index]), self.train_keypoints[index], self.generator, weights)
        with autocast(self.device, self.bf16):
            prediction = self.forward(images)  # (B, 30) float32: the last layer leaves autocast
        loss = self.loss(prediction, normalise_keypoints(keypoints), weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.schedule.step()
        if self.ema:
            self.ema.update_parameters(self.model)
        return loss.detach()

    def predict(self, images: torch.Tensor) -> np.ndarray:
        """(N, 96, 96) uint8 on the device -> (N, 30) float32 predictions in pixels of the evaluated
        weights (float32 throughout: these pick the kept epoch and the ensemble's members)."""
        return predict_keypoints(self.evaluated, images)

    def fit(
        self, on_epoch: Callable[[EpochResult], None] | None = None, verbose: bool = False, time_budget_s: float | None = None
    ) -> list[EpochResult]:
        """Train until `epochs`, early stopping, or (if given) the time budget would be overrun by
        another epoch as long as the last; the kept weights are in `evaluated` afterwards.
        Raises TrainingDiverged as soon as an epoch blows up."""
        c = self.config
        started = time.perf_counter()
        while not self.finished:
            if time_budget_s and self.history and time.perf_counter() - started + self.history[-1].seconds > time_budget_s:
                break
            start = time.perf_counter()
            epoch = len(self.history) + 1
            show = _progress_bar(epoch, c.last_epoch) if verbose and sys.stderr.isatty() else None
            loss = self.train_epoch(show)
            predictions = self.predict(self.val_images)
            val_rmse = rmse_px(predictions, self.split.val.keypoints)
            self._check_divergence(epoch, loss, val_rmse)
            improved = val_rmse < self.best_rmse
            if improved or c.refit:  # a refit keeps its last weights: its validation faces cannot judge it
                self.best_rmse, self.best_state, self.best_predictions = val_rmse, _cpu_copy(self.evaluated.state_dict()), predictions
            result = EpochResult(epoch, loss, val_rmse, time.perf_counter() - start, improved, self.optimizer.param_groups[0]["lr"])
            self.history.append(result)
            if verbose:
                mark = "" if c.refit or not improved else " *"
                scored = "RMSE on the validation faces it trains on" if c.refit else "val RMSE"
                print(f"epoch {epoch:>3}/{c.last_epoch}  train loss {loss:.5f}  {scored} {val_rmse:.3f} px  lr {result.lr:.2e}  "
                      f"{result.seconds:.1f} s{mark}", flush=True)
            if on_epoch:
                on_epoch(result)
        self.evaluated.load_state_dict(self.best_state)
        return self.history

    def cooldown_score(self, epochs: float) -> float:
        """Validation RMSE (px) of a branch of the run whose learning rate falls linearly from where it is
        to zero over `epochs`: about what the run would score if its schedule ended here (a one-cycle run
        mid-schedule is still at a high learning rate; search.trainable gives this to ASHA as the rung
        score). The run itself goes on untouched: its training state (weights, EMA, optimizer, schedule,
        random numbers) is saved before the branch and restored after it, as a resume would."""
        saved = copy.deepcopy(self._train_state())
        schedule = self.schedule
        steps = max(1, round(epochs * self.steps_per_epoch))
        self.schedule = lr_scheduler.LinearLR(self.optimizer, start_factor=1.0, end_factor=0.0, total_iters=steps)
        try:
            self._train_mode()
            done = 0
            while done < steps:
                for index in self._epoch_batches()[: steps - done]:
                    self.train_step(index)
                    done += 1
            return rmse_px(self.predict(self.val_images), self.split.val.keypoints)
        finally:
            self.schedule = schedule
            self._load_train_state(saved)

    def _check_divergence(self, epoch: int, loss: float, val_rmse: float) -> None:
        if math.isfinite(loss) and math.isfinite(val_rmse) and not val_rmse > DIVERGENCE_FACTOR * self.mean_face_rmse:
            return
        raise TrainingDiverged(f"diverged in epoch {epoch}: train loss {loss:.4g}, val RMSE {val_rmse:.4g} px "
                               f"(the mean face scores {self.mean_face_rmse:.2f} px); try a lower learning rate")

    @property
    def finished(self) -> bool:
        """The run has ended on its own terms: all its epochs (or its stop_epoch), or early stopping's
        patience (not for a refit)."""
        c = self.config
        return len(self.history) >= c.last_epoch or (not c.refit and self._epochs_since_best() >= c.patience)

    def _epochs_since_best(self) -> int:
        best = [i for i, r in enumerate(self.history) if r.improved]
        return len(self.history) - (best[-1] + 1) if best else len(self.history)

    def save(self, folder: Path) -> Checkpoint:
        """The kept weights with their validation predictions, and the latest training state."""
        if self.best_predictions is None:
            raise RuntimeError("nothing to save before the first epoch")
        val = self.split.val
        return Checkpoint.write(folder, weights=self.best_state, config=self.config, history=self.history,
                                val=ValPredictions(val.ids, self.best_predictions, val.keypoints), train_state=self._train_state())

    def _train_state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema else {},
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            # dropout on a GPU draws from the device's generator, not the CPU one above
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else torch.empty(0, dtype=torch.uint8),
        }

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue exactly where `checkpoint` was written: same weights, optimizer, schedule, EMA and
        random numbers, so the run ends as an uninterrupted one would."""
        self._load_train_state(checkpoint.train_state())
        self.history = checkpoint.history()
        self.best_rmse = min(r.val_rmse for r in self.history)
        self.best_state, self.best_predictions = checkpoint.weights(), checkpoint.val.predictions

    def _load_train_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if self.ema:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and len(state["cuda_rng"]):  # empty in checkpoints written on a CPU
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _progress_bar(epoch: int, epochs: int) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        end = "\r" if done < total else "\r" + " " * 60 + "\r"
        print(f"epoch {epoch}/{epochs}  batch {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show
