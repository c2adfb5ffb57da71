"""Training losses by name, each masked: a NaN target (missing label, or a keypoint augmentation pushed
out of the frame) contributes nothing. Inputs are normalised coordinates, (px - 48) / 48."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from data.transforms import CENTRE

Loss = Callable[..., torch.Tensor]  # (prediction, target, weights=None) -> scalar


def masked(elementwise: Callable[[torch.Tensor], torch.Tensor]) -> Loss:
    """Turn a function of the error (B, 30) into a loss averaged over the labelled coordinates, each
    counted with its weight (B, 30) when given (a filled-in label may count less than a true one)."""

    def loss(prediction: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        labelled = ~torch.isnan(target)
        error = torch.where(labelled, prediction - torch.nan_to_num(target), torch.zeros_like(prediction))
        counted = labelled.to(prediction.dtype) if weights is None else torch.where(labelled, weights, torch.zeros_like(weights))
        return (counted * elementwise(error)).sum() / counted.sum().clamp(min=1e-8)

    return loss


def wing(width_px: float = 10.0, curvature_px: float = 2.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """Wing loss (Feng et al., CVPR 2018): logarithmic for errors below `width_px`, so small and medium
    errors keep a strong gradient; linear above. Its parameters are in pixels, as in the paper."""
    w, eps = width_px / CENTRE, curvature_px / CENTRE
    c = w - w * math.log(1 + w / eps)

    def elementwise(error: torch.Tensor) -> torch.Tensor:
        x = error.abs()
        return torch.where(x < w, w * torch.log1p(x / eps), x - c)

    return elementwise


LOSSES: dict[str, Loss] = {
    "mse": masked(torch.square),  # the seed's loss
    "smooth_l1": masked(lambda error: F.smooth_l1_loss(error, torch.zeros_like(error), reduction="none", beta=1 / CENTRE)),
    "wing": masked(wing()),
}
