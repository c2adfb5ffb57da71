"""Predicting keypoints with a trained model: what training scores itself with and what an ensemble ships."""

from __future__ import annotations

import numpy as np
import torch

from data.transforms import denormalise_keypoints

from .device import autocast


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
            out.append(model(as_input(chunk)))
    return denormalise_keypoints(torch.cat(out)).cpu().numpy()


def as_input(images: torch.Tensor) -> torch.Tensor:
    """(B, 96, 96) uint8 -> (B, 1, 96, 96) float in [0, 1], channels_last like the model."""
    return images.unsqueeze(1).float().div_(255).contiguous(memory_format=torch.channels_last)
