"""A member's bias: its mean error per coordinate on its own training faces, taken off what it predicts.

Trained nets answer every face a little off in the same direction. On faces15 the members of two one-hour
searches' ensembles were 0.23-0.35 px off (root mean square over the 30 coordinates), alike on their
training faces and on the validation faces of other people, and taking the training faces' bias off made
every member 0.02-0.04 px better on those validation faces (bench/README.md). Flip augmentation is a
likely part of why: a net cannot tell a mirrored face from a real one, so it learns the average of each
face and its mirror image, and the faces of a data set are not symmetric on average. The bias is measured on training faces
only, so every validation figure stays honest; with flip TTA a member errs differently, so it has a bias
for each way of predicting.
"""

from __future__ import annotations

import numpy as np
import torch

from data.faces import Faces

from .ensemble import predict_members

MAX_FACES = 1000  # enough: the mean of 1000 errors of about 1.5 px is within 0.05 px
MIN_LABELS = 30  # a coordinate labelled on fewer training faces gets no bias: its mean would be noise


def mean_error(predictions: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(N, 30) predictions and labels, px (NaN = missing) -> (30,) mean prediction - label; 0 where
    fewer than MIN_LABELS faces have the coordinate."""
    errors = predictions - keypoints
    counts = (~np.isnan(errors)).sum(0)
    means = np.nansum(errors, 0) / np.maximum(counts, 1)
    return np.where(counts >= MIN_LABELS, means, 0.0).astype(np.float32)


def bias_faces(train: Faces) -> Faces:
    """Up to MAX_FACES of the training faces, spread evenly over the file, with their true labels only."""
    index = np.unique(np.linspace(0, len(train) - 1, min(len(train), MAX_FACES)).round().astype(int))
    return train.true_labels_only().subset(index)


def member_bias(model: torch.nn.Module, origin: float, faces: Faces, device: torch.device, bf16: bool, tta: bool) -> np.ndarray:
    """(30,) px: the model's mean error on `faces` (bias_faces), predicting as an ensemble ships it."""
    predictions = predict_members([model], np.ones(1), faces.images, device, bf16, [origin] if tta else None)
    return mean_error(predictions, faces.keypoints)


def member_biases(model: torch.nn.Module, origin: float, faces: Faces, device: torch.device, bf16: bool) -> dict[str, list[float]]:
    """Both of a member's biases, as its manifest entry (ensemble.folder.Member) holds them."""
    return {"bias_px": member_bias(model, origin, faces, device, bf16, tta=False).tolist(),
            "flip_bias_px": member_bias(model, origin, faces, device, bf16, tta=True).tolist()}
