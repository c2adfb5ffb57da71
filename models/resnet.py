"""Residual nets with batch norm, sized for 96x96 faces on a CPU: a stride-2 stem (96 -> 48), then four
stages of basic blocks (48, 24, 12, 6 px), widths w, 2w, 4w, 8w. Each size comes with two heads:

    resnet_<size>      global average pooling + Dense 30 (direct regression)
    resnet_<size>_hm   heatmaps + soft-argmax (integral regression, Sun et al. 2018): one 12x12 map per
                       keypoint, whose softmax-weighted mean position is the keypoint; still (B, 30)

The heatmap head has no Dense layer, so no dropout: its builders ignore the dropout factor.
"""

from __future__ import annotations

import torch
from torch import nn

from data.keypoints import IMAGE_SIZE, N_TARGETS

from .heads import KeypointNet, gap_head
from .registry import register_model

GAP_DROPOUT = 0.1  # before the GAP head's Dense layer at dropout factor 1
HEATMAP_SIZE = 12  # heatmap cells per side: each covers 8 x 8 pixels; soft-argmax interpolates between them


def conv_bn(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(out_ch))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus the input (projected when the shape changes), then ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(in_ch, out_ch, 3, stride), nn.ReLU(inplace=True), conv_bn(out_ch, out_ch))
        nn.init.zeros_(self.body[-1][1].weight)  # each block starts as the identity: deep nets train from step one
        self.shortcut = nn.Identity() if stride == 1 and in_ch == out_ch else conv_bn(in_ch, out_ch, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet_backbone(width: int, blocks: list[int]) -> nn.Sequential:
    """(B, 1, 96, 96) -> (B, 8 * width, 6, 6)."""
    layers: list[nn.Module] = [conv_bn(1, width, 3, stride=2), nn.ReLU(inplace=True)]
    in_ch = width
    for stage, n in enumerate(blocks):
        out_ch = width * 2**stage
        for i in range(n):
            layers.append(BasicBlock(in_ch, out_ch, stride=2 if stage and i == 0 else 1))
            in_ch = out_ch
    return nn.Sequential(*layers)


class SoftArgmax(nn.Module):
    """(B, C, h, w) features -> 1x1 conv to one heatmap per keypoint -> softmax over each map ->
    expected (x, y) -> (B, 30) normalised coordinates. Cell (i, j) has its centre at pixel
    ((j + 0.5) * 96 / w - 0.5, (i + 0.5) * 96 / h - 0.5) in the pixel-index convention."""

    def __init__(self, channels: int, size: int = HEATMAP_SIZE):
        super().__init__()
        self.logits = nn.Conv2d(channels, N_TARGETS // 2, 1)
        centres = (torch.arange(size) + 0.5) * IMAGE_SIZE / size - 0.5  # px
        self.register_buffer("grid", (centres - IMAGE_SIZE / 2) / (IMAGE_SIZE / 2), persistent=False)  # normalised

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        heat = self.logits(features)  # (B, 15, h, w)
        probabilities = heat.flatten(2).softmax(-1).view_as(heat)
        x = (probabilities.sum(2) * self.grid).sum(-1)  # marginal over rows, then E[x]: (B, 15)
        y = (probabilities.sum(3) * self.grid).sum(-1)
        return torch.stack([x, y], dim=-1).flatten(1)  # (B, 30): x, y per keypoint, Kaggle's order


def heatmap_head(channels: int) -> nn.Sequential:
    """(B, C, 6, 6) -> 1x1 conv to C/2 -> bilinear upsampling to 12 x 12 -> soft-argmax; the last
    module (float32, as every head's last) makes the coordinates."""
    half = channels // 2
    return nn.Sequential(conv_bn(channels, half, 1), nn.ReLU(inplace=True), nn.Upsample(scale_factor=2, mode="bilinear"), SoftArgmax(half))


def resnet(width: int, blocks: list[int], head: str, dropout: float) -> nn.Module:
    """head: "gap" (global average pooling + Dense 30, dropout GAP_DROPOUT x factor) or "hm" (heatmaps)."""
    channels = 8 * width
    top = gap_head(channels, GAP_DROPOUT * dropout) if head == "gap" else heatmap_head(channels)
    return KeypointNet(resnet_backbone(width, blocks), top)


# Sizes: width, blocks per stage. s and m fit many members into a 50 MB ensemble; l is for GPUs.

@register_model
def resnet_s(dropout: float = 1.0) -> nn.Module:
    return resnet(16, [1, 1, 1, 1], "gap", dropout)


@register_model
def resnet_s_hm(dropout: float = 1.0) -> nn.Module:
    return resnet(16, [1, 1, 1, 1], "hm", dropout)


@register_model
def resnet_m(dropout: float = 1.0) -> nn.Module:
    return resnet(20, [2, 2, 2, 2], "gap", dropout)


@register_model
def resnet_m_hm(dropout: float = 1.0) -> nn.Module:
    return resnet(20, [2, 2, 2, 2], "hm", dropout)


@register_model
def resnet_l(dropout: float = 1.0) -> nn.Module:
    return resnet(48, [2, 2, 2, 2], "gap", dropout)


@register_model
def resnet_l_hm(dropout: float = 1.0) -> nn.Module:
    return resnet(48, [2, 2, 2, 2], "hm", dropout)
