"""Candidates: every trial of a search whose checkpoint holds validation predictions."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from data.errors import DataError
from data.transforms import rmse_px
from search.config import TrainConfig, latest_search
from search.trainer import CONFIG, VAL_PREDICTIONS, WEIGHTS

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


@dataclass(frozen=True)
class Candidate:
    name: str  # the Tune trial id
    checkpoint: Path  # folder with weights.pt, config.json, val_predictions.npz
    config: TrainConfig
    val_ids: np.ndarray  # (N,) which validation faces
    val_predictions: np.ndarray  # (N, 30) px
    val_targets: np.ndarray  # (N, 30) px, NaN = missing

    @property
    def val_rmse(self) -> float:
        return rmse_px(self.val_predictions, self.val_targets)

    def state_dict(self, dtype: str = "fp32") -> dict[str, torch.Tensor]:
        """The weights as shipped: floating tensors in `dtype`."""
        state = torch.load(self.checkpoint / WEIGHTS, map_location="cpu", weights_only=True)
        return {k: v.to(DTYPES[dtype]) if v.is_floating_point() else v for k, v in state.items()}


def shipped_size(state: dict[str, torch.Tensor]) -> int:
    """Bytes of the member file exactly as the ensemble folder will hold it."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def latest_run(runs_dir: Path) -> Path:
    run = latest_search(runs_dir)
    if run is None:
        raise DataError(str(runs_dir), "no search runs here (run `python -m search.run` first, or pass --run)")
    return run


def load_candidates(run: Path) -> list[Candidate]:
    """One candidate per trial: its latest checkpoint (trials checkpoint only on improvement, so the best)."""
    candidates = []
    for trial in sorted(p for p in run.iterdir() if p.is_dir()):
        checkpoints = sorted(trial.glob(f"checkpoint_*/{VAL_PREDICTIONS}"))
        if not checkpoints:
            continue
        folder = checkpoints[-1].parent
        with np.load(folder / VAL_PREDICTIONS) as val:
            ids, predictions, targets = val["ids"], val["predictions"], val["targets"]
        name = trial.name.split("_")[2] if trial.name.startswith("train_trial_") else trial.name
        candidates.append(Candidate(name, folder, TrainConfig.load(folder / CONFIG), ids, predictions, targets))
    if not candidates:
        raise DataError(str(run), "no trial checkpoint with validation predictions: nothing to ensemble")
    for c in candidates[1:]:
        if not np.array_equal(c.val_ids, candidates[0].val_ids):
            raise DataError(str(c.checkpoint), f"scored on other validation faces than {candidates[0].name}: cannot ensemble them")
    return candidates
