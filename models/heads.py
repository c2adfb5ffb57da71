"""What every architecture shares: a backbone plus a head, and the heads themselves.

Output (B, 30): normalised keypoints, (px - 48) / 48, in Kaggle's column order.
"""

from __future__ import annotations

import torch
from torch import nn

from data.keypoints import N_TARGETS


class KeypointNet(nn.Module):
    """backbone (B, 1, 96, 96) -> features; head -> (B, 30). The head's last layer, which produces the
    coordinates, always computes in float32, even inside a bfloat16 autocast region: bf16's 8 mantissa
    bits would round a coordinate by up to 0.2 px."""

    def __init__(self, backbone: nn.Module, head: nn.Sequential):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head[:-1](self.backbone(x))
        with torch.autocast(x.device.type, enabled=False):
            return self.head[-1](features.float())


def dense_head(in_features: int, hidden: list[int], dropouts: list[float]) -> nn.Sequential:
    """Flatten, then Dense+ReLU layers (each followed by its dropout), then Dense 30. A rate of 0 still
    gets its (inert) Dropout layer, so the weights' names do not depend on the dropout factor."""
    layers: list[nn.Module] = [nn.Flatten()]
    for width, p in zip(hidden, dropouts):
        layers += [nn.Linear(in_features, width), nn.ReLU(inplace=True), nn.Dropout(p)]
        in_features = width
    return nn.Sequential(*layers, nn.Linear(in_features, N_TARGETS))


def gap_head(channels: int, dropout: float = 0.0) -> nn.Sequential:
    """Global average pooling (B, C, h, w) -> (B, C), then Dense 30."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, N_TARGETS))
