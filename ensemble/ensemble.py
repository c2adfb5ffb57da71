"""Predicting with an ensemble: a built one loaded from its folder (ensemble.folder), or any members."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from common.errors import UserError
from data.transforms import mirror_keypoints
from training.checkpoint import load_model
from training.config import TrainConfig
from training.device import pick_device, uses_bf16
from training.predict import predict_keypoints

from .detect import DEFAULT_DETECTOR, create_detector
from .folder import read_ensemble
from .photos import PhotoFace, locate, read_photo, to_grey


def predict_members(models: list[torch.nn.Module], weights: np.ndarray, images: np.ndarray, device: torch.device, bf16: bool,
                    tta_origins: list[float] | None = None, biases: list[np.ndarray | None] | None = None) -> np.ndarray:
    """Weighted average of the members' predictions (N, 30) px. Flip TTA when given each member's label
    origin: each member also sees the mirrored face, and its answer is mirrored back about that member's
    axis. `biases`: each member's (30,) px bias for this way of predicting (ensemble.bias), taken off its
    answer; None: that member's answer as it is."""
    batch = torch.from_numpy(images).to(device)
    total = np.zeros((len(images), 30), np.float32)
    if tta_origins is not None:  # the faces and their mirror images in one batch: one pass per member (a photo's one face: half the time)
        batch = torch.cat([batch, batch.flip(-1)])
    for i, (model, weight) in enumerate(zip(models, weights)):
        prediction = predict_keypoints(model, batch, bf16)
        if tta_origins is not None:
            prediction, mirrored = np.split(prediction, 2)
            prediction = (prediction + mirror_keypoints(torch.from_numpy(mirrored), tta_origins[i]).numpy()) / 2
        if biases is not None and biases[i] is not None:
            prediction = prediction - biases[i]
        total += weight * prediction
    return total


class Ensemble:
    """A built ensemble, loaded from its folder (weights with torch.load(weights_only=True))."""

    def __init__(self, folder: Path, device: str = "auto", amp: str = "auto"):
        self.folder = Path(folder)
        self.device = pick_device(device)
        self.bf16 = uses_bf16(amp, self.device)
        self.manifest, states = read_ensemble(self.folder)
        members = self.manifest.members
        self.configs = [TrainConfig.from_saved(m.config) for m in members]
        self.models = [load_model(config, state, self.device) for config, state in zip(self.configs, states)]
        self.weights = np.array([m.weight for m in members])
        # each member's (30,) px bias without and with flip TTA (ensemble.bias); None: it has none
        self.biases = {False: [_as_array(m.bias_px) for m in members], True: [_as_array(m.flip_bias_px) for m in members]}

    def predict(self, images: np.ndarray, tta: bool = False) -> np.ndarray:
        """(N, 96, 96) uint8 -> (N, 30) px."""
        return predict_members(self.models, self.weights, images, self.device, self.bf16, [c.origin for c in self.configs] if tta else None,
                               self.biases[tta])

    def predict_photo(self, photo: str | Path | np.ndarray, *, detector: str = DEFAULT_DETECTOR, refine: int = 1,
                      tta: bool = True) -> list[PhotoFace]:
        """Every face in a photo (a file, or an (H, W) or (H, W, 3) uint8 array), largest first, with its
        keypoints in the photo's pixels (ensemble.photos)."""
        image = photo if isinstance(photo, np.ndarray) else read_photo(Path(photo))
        return locate(self, to_grey(image), create_detector(detector), refine=refine, tta=tta)

    @property
    def face_layout(self) -> np.ndarray:
        """(30,) px: where its training faces sit in the 96x96 frame, on average (ensemble.photos crops to it)."""
        if self.manifest.face_layout is None:
            raise UserError(str(self.folder), f"made before kptune recorded face layouts, and its training file "
                                              f"{self.manifest.data.get('train')} is gone: rebuild it, or put the file back")
        return np.array(self.manifest.face_layout, np.float32)

    @property
    def origin(self) -> float:
        """The members' label origin (their weighted mean, should they differ), px: the frame of the predictions."""
        return float(np.dot(self.weights, [c.origin for c in self.configs]))


def _as_array(bias: list[float] | None) -> np.ndarray | None:
    return None if bias is None else np.array(bias, np.float32)
