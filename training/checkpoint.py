"""A trial's checkpoint folder. This module alone knows its layout; everyone else goes through
`Checkpoint`:

    weights.pt            the kept weights: the best validation RMSE so far (the EMA weights when EMA is on)
    config.json           the resolved TrainConfig
    val_predictions.npz   ids, predictions of the kept weights and targets on the validation faces, in pixels
    history.csv           one row per epoch up to the checkpoint
    train_state.pt        what continues training exactly: the latest raw weights, EMA, optimizer,
                          schedule and random-number states
    format.json           {"version": 2}; a folder without it is version 1

Versions: 2 adds the GPU's random state to train_state.pt; 1 (no format.json) is read with an empty one.

Every file loads with torch.load(..., weights_only=True) or as plain text and arrays.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from common.errors import UserError
from common.files import write_folder_atomically
from common.versions import check_readable
from data.transforms import rmse_px
from models import cast_floating, create_model, list_models

from .config import TrainConfig

WEIGHTS, CONFIG, VAL_PREDICTIONS, HISTORY, TRAIN_STATE = "weights.pt", "config.json", "val_predictions.npz", "history.csv", "train_state.pt"
FILES = (WEIGHTS, CONFIG, VAL_PREDICTIONS, HISTORY, TRAIN_STATE)  # a complete checkpoint holds all of these
FORMAT, VERSION = "format.json", 2


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 1-based
    train_loss: float  # the configured loss on normalised targets, averaged over the epoch's batches
    val_rmse: float  # pixels, of the evaluated weights (EMA when on)
    seconds: float
    improved: bool  # this epoch set a new best validation RMSE (its weights are the ones kept)
    lr: float  # the learning rate at the epoch's end


@dataclass(frozen=True)
class ValPredictions:
    ids: np.ndarray  # (N,) which validation faces
    predictions: np.ndarray  # (N, 30) px
    targets: np.ndarray  # (N, 30) px, NaN = missing

    @property
    def rmse(self) -> float:
        return rmse_px(self.predictions, self.targets)


@dataclass(frozen=True)
class Checkpoint:
    folder: Path

    @classmethod
    def write(cls, folder: Path, *, weights: dict[str, torch.Tensor], config: TrainConfig, val: ValPredictions,
              history: list[EpochResult], train_state: dict[str, Any]) -> Checkpoint:
        """Write the whole folder atomically (a reader, or a crash, never sees half a checkpoint)."""

        def fill(tmp: Path) -> None:
            torch.save({k: v.detach().cpu() for k, v in weights.items()}, tmp / WEIGHTS)
            config.save(tmp / CONFIG)
            np.savez(tmp / VAL_PREDICTIONS, ids=val.ids, predictions=val.predictions, targets=val.targets)
            pd.DataFrame([asdict(r) for r in history]).to_csv(tmp / HISTORY, index=False)
            torch.save(train_state, tmp / TRAIN_STATE)
            (tmp / FORMAT).write_text(json.dumps({"version": VERSION}) + "\n")

        return cls(write_folder_atomically(Path(folder), fill))

    @cached_property
    def version(self) -> int:
        """The folder's format version; a newer one than this kptune reads is a UserError."""
        path = self.folder / FORMAT
        version = json.loads(path.read_text())["version"] if path.is_file() else 1
        check_readable(str(self.folder), "a checkpoint", version, VERSION)
        return version

    def is_complete(self) -> bool:
        return all((self.folder / name).is_file() for name in FILES)

    @cached_property
    def config(self) -> TrainConfig:
        self.version  # noqa: B018 (refuses a newer format)
        return TrainConfig.load(self.folder / CONFIG)

    def weights(self, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """The kept weights on the CPU; floating tensors cast to `dtype` when given."""
        self.version  # noqa: B018 (refuses a newer format)
        state = torch.load(self.folder / WEIGHTS, map_location="cpu", weights_only=True)
        return state if dtype is None else cast_floating(state, dtype)

    @cached_property
    def val(self) -> ValPredictions:
        with np.load(self.folder / VAL_PREDICTIONS) as z:
            return ValPredictions(z["ids"], z["predictions"], z["targets"])

    def history(self) -> list[EpochResult]:
        rows = pd.read_csv(self.folder / HISTORY).to_dict("records")
        return [EpochResult(**{**r, "epoch": int(r["epoch"]), "improved": bool(r["improved"])}) for r in rows]

    @property
    def kept_epoch(self) -> int:
        """The epoch the kept weights come from: the last one that improved (training.trainer)."""
        return max(r.epoch for r in self.history() if r.improved)

    def train_state(self) -> dict[str, Any]:
        """On the CPU (random-number states must be); load_state_dict moves the rest where it belongs."""
        state = torch.load(self.folder / TRAIN_STATE, map_location="cpu", weights_only=True)
        if self.version < 2:  # written before the GPU's random state was saved: none to restore
            state["cuda_rng"] = torch.empty(0, dtype=torch.uint8)
        return state

    def build_model(self, device: torch.device | str = "cpu") -> torch.nn.Module:
        """The architecture its config names, with every argument it was built with, holding the kept weights."""
        return load_model(self.config, self.weights(), device)


def build_model(config: TrainConfig) -> torch.nn.Module:
    """A fresh model exactly as `config` describes it."""
    return create_model(config.arch, dropout=config.dropout)


def start_from(model: torch.nn.Module, source: str) -> list[str]:
    """Load into `model` the weights of `source` (init_weights) wherever a tensor's name and shape match
    (another architecture of the same family shares its backbone; a head of another size keeps its random
    start). Returns the names of `model`'s tensors that kept their random start."""
    own = model.state_dict()
    matching = _matching(own, source)
    model.load_state_dict(matching, strict=False)
    return [name for name in own if name not in matching]


def is_init_source(source: str) -> bool:
    """`source` is there to start from: a weights file, or a complete checkpoint folder."""
    return Path(source).is_file() or Checkpoint(Path(source)).is_complete()


def init_arch(source: str) -> str:
    """The architecture whose weights `source` (is_init_source) holds: a checkpoint folder's config names it, a
    weights file's is recognised from its tensors (weights_arch)."""
    if not Path(source).is_file():
        return Checkpoint(Path(source)).config.arch
    arch = weights_arch(init_weights(source))
    if arch is None:
        raise UserError(source, "init: not the weights of any architecture `python -m models` lists")
    return arch


def init_weights(source: str) -> dict[str, torch.Tensor]:
    """The weights a net starts from with `init`: a complete checkpoint folder's kept weights, or a weights
    file (a state_dict as torch.save writes it: an ensemble's member, a distilled student's), in float32."""
    path = Path(source)
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 (torch raises several kinds for a file that is not its own)
            raise UserError(source, f"init: not a weights file torch can read ({type(err).__name__})") from None
        if not (isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values())):
            raise UserError(source, "init: not a state_dict (names to tensors)")
        return cast_floating(state, torch.float32)
    if not is_init_source(source):
        raise UserError(source, "init: neither a weights file nor a complete checkpoint folder (weights.pt, config.json, ...)")
    return Checkpoint(path).weights()


def weights_arch(weights: dict[str, torch.Tensor]) -> str | None:
    """The registered architecture whose weights these are: the same tensor names, and of the architectures
    with those names the one whose shapes match most of them (a head for another keypoint set differs); None
    when no architecture has these names. Built on the meta device: nothing is allocated."""
    shares = {}
    for arch in list_models():
        with torch.device("meta"):
            own = create_model(arch).state_dict()
        if own.keys() == weights.keys():
            shares[arch] = sum(v.numel() for n, v in own.items() if v.shape == weights[n].shape) / sum(v.numel() for v in own.values())
    return max(shares, key=shares.__getitem__) if shares else None


def loadable_share(arch: str, source: str) -> float:
    """The share of a fresh `arch`'s weights, counted in numbers, that start_from would load from `source`."""
    own = create_model(arch).state_dict()
    return sum(v.numel() for v in _matching(own, source).values()) / sum(v.numel() for v in own.values())


def _matching(own: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """The tensors of `source` (init_weights) that fit `own` by name and shape."""
    return {name: value for name, value in init_weights(source).items() if name in own and own[name].shape == value.shape}


def load_model(config: TrainConfig, weights: dict[str, torch.Tensor], device: torch.device | str = "cpu") -> torch.nn.Module:
    """`config`'s model holding `weights` (any floating dtype; computation in float32), in eval mode."""
    model = build_model(config)
    model.load_state_dict(cast_floating(weights, torch.float32))
    return model.to(device, memory_format=torch.channels_last).eval()
