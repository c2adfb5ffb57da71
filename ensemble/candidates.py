"""Candidates: every trial of a search that may enter an ensemble (finished or interrupted, not crashed
or diverged) with a complete checkpoint, read through the search folder's typed reader."""

from __future__ import annotations

import pickle
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.errors import UserError
from search.results import SearchFolder, latest_search
from training.checkpoint import Checkpoint
from training.config import TrainConfig

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


@dataclass(frozen=True)
class Candidate:
    name: str  # the Tune trial id
    checkpoint: Checkpoint  # the trial's kept weights and their validation predictions

    @property
    def config(self) -> TrainConfig:
        return self.checkpoint.config

    @property
    def val_ids(self) -> np.ndarray:
        return self.checkpoint.val.ids

    @property
    def val_predictions(self) -> np.ndarray:  # (N, 30) px
        return self.checkpoint.val.predictions

    @property
    def val_targets(self) -> np.ndarray:  # (N, 30) px, NaN = missing
        return self.checkpoint.val.targets

    @property
    def val_rmse(self) -> float:
        return self.checkpoint.val.rmse

    def state_dict(self, dtype: str = "fp32") -> dict[str, torch.Tensor]:
        """The weights as shipped: floating tensors in `dtype`."""
        return self.checkpoint.weights(DTYPES[dtype])


def latest_run(runs_dir: Path) -> Path:
    search = latest_search(runs_dir)
    if search is None:
        raise UserError(str(runs_dir), "no search runs here (run `python -m search.run` first, or pass --run)")
    return search.folder


def _unreadable(checkpoint: Checkpoint) -> str:
    """Why a checkpoint cannot be used (half written: a file missing or cut short), or ""."""
    if not checkpoint.is_complete():
        return "is incomplete"
    try:
        checkpoint.weights()
        checkpoint.val  # noqa: B018 (reads the validation predictions)
    except (RuntimeError, ValueError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
        return f"cannot be read ({type(err).__name__})"
    return ""


def load_candidates(run: Path) -> list[Candidate]:
    """One candidate per usable trial: its checkpoint holds the trial's kept (best) weights."""
    candidates = []
    for trial in SearchFolder(run).trials():
        if trial.checkpoint is None or not trial.healthy:
            continue  # crashed or diverged trials never enter an ensemble
        problem = _unreadable(trial.checkpoint)
        if problem:
            print(f"warning: trial {trial.id}: checkpoint {trial.checkpoint.folder} {problem}; left out", file=sys.stderr)
        else:
            candidates.append(Candidate(trial.id, trial.checkpoint))
    if not candidates:
        raise UserError(str(run), "no finished trial with a complete checkpoint: nothing to ensemble")
    for c in candidates[1:]:
        if not np.array_equal(c.val_ids, candidates[0].val_ids):
            raise UserError(str(c.checkpoint.folder), f"scored on other validation faces than {candidates[0].name}: cannot ensemble them")
    return candidates
