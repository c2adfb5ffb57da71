"""The ensemble folder -- member weights plus manifest.json -- and predicting with it.

    members/<trial>.pt   each member's state_dict, in the shipped dtype
    manifest.json        members (arch, file, weight, size, val RMSE, full config), the ensemble's
                         val RMSE, the budget, the dtype, and the data it was built on
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from common.files import folder_lock
from data.transforms import mirror_keypoints
from training.checkpoint import load_model
from training.config import TrainConfig
from training.device import pick_device, uses_bf16
from training.predict import predict_keypoints

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Member:
    name: str  # trial id
    arch: str
    file: str  # relative to the ensemble folder
    weight: float  # share in the average; the weights sum to 1
    size_mb: float  # of the member file as shipped
    val_rmse: float  # the member alone, px, with the shipped weights
    config: dict  # the full TrainConfig it was trained with


@dataclass(frozen=True)
class Manifest:
    members: list[Member]
    val_rmse: float  # the weighted average with the shipped weights, px (selected on these faces: optimistic)
    total_mb: float  # the distinct member files together
    budget_mb: float
    dtype: str  # fp32 or fp16
    bf16: bool  # members compute in bfloat16 autocast where this machine has it natively (amp=auto)
    max_diff_px: float  # largest |shipped - trained| member prediction on the validation faces (fp16 weights, bf16 compute)
    run: str  # the search it came from
    data: dict  # train/val files and validation face count
    device: str = "cpu"  # where val_rmse, the members' val_rmse and max_diff_px were computed: the device Ensemble
    # predicts on on the machine that built it (cuda when it has a GPU); manifests from before it: cpu


def write_manifest(folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")


def predict_members(models: list[torch.nn.Module], weights: np.ndarray, images: np.ndarray, device: torch.device, bf16: bool,
                    tta_origins: list[float] | None = None) -> np.ndarray:
    """Weighted average of the members' predictions (N, 30) px. Flip TTA when given each member's label
    origin: each member also sees the mirrored face, and its answer is mirrored back about that member's
    axis."""
    batch = torch.from_numpy(images).to(device)
    total = np.zeros((len(images), 30), np.float32)
    for i, (model, weight) in enumerate(zip(models, weights)):
        prediction = predict_keypoints(model, batch, bf16)
        if tta_origins is not None:
            mirrored = predict_keypoints(model, batch.flip(-1), bf16)
            prediction = (prediction + mirror_keypoints(torch.from_numpy(mirrored), tta_origins[i]).numpy()) / 2
        total += weight * prediction
    return total


class Ensemble:
    """A built ensemble, loaded from its folder (weights with torch.load(weights_only=True))."""

    def __init__(self, folder: Path, device: str = "auto", amp: str = "auto"):
        self.folder = Path(folder)
        self.device = pick_device(device)
        self.bf16 = uses_bf16(amp, self.device)
        with folder_lock(self.folder, shared=True):  # a build finishing meanwhile swaps the folder after we read it
            raw = json.loads((self.folder / MANIFEST).read_text())
            self.manifest = Manifest(**{**raw, "members": [Member(**m) for m in raw["members"]]})
            self.models = [
                load_model(TrainConfig.from_saved(m.config), torch.load(self.folder / m.file, map_location="cpu", weights_only=True),
                           self.device)
                for m in self.manifest.members
            ]
        self.weights = np.array([m.weight for m in self.manifest.members])

    def predict(self, images: np.ndarray, tta: bool = False) -> np.ndarray:
        """(N, 96, 96) uint8 -> (N, 30) px."""
        return predict_members(self.models, self.weights, images, self.device, self.bf16, [c.origin for c in self.configs] if tta else None)

    @property
    def origin(self) -> float:
        """The members' label origin (their weighted mean, should they differ), px: the frame of the predictions."""
        return float(np.dot(self.weights, [c.origin for c in self.configs]))

    @property
    def configs(self) -> list[TrainConfig]:
        return [TrainConfig.from_saved(m.config) for m in self.manifest.members]
