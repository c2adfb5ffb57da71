"""The seed report's three nets, faithfully, and a global-average-pooling (GAP) head for each backbone.

Every model is a backbone (conv blocks, input (B, 1, 96, 96)) plus a head; `<name>_gap` swaps the
Flatten + Dense head for global average pooling + one Dense layer to the 30 outputs.

Every builder takes `dropout`, a factor on the seed's dropout rates: 1 (the default) is the seed's net,
0 drops nothing. Dropout slows direct coordinate regression a lot (train and eval outputs disagree
until it has trained long), so the search treats it as a knob.
"""

from __future__ import annotations

from torch import nn

from data.keypoints import IMAGE_SIZE

from .heads import KeypointNet, dense_head, gap_head
from .registry import register_model

# --- cnn: Conv 32/3x3, 64/2x2, 128/2x2 ('same', ReLU), each + MaxPool 2 + Dropout 0.1/0.2/0.3 ---

def same_padding(kernel: int) -> nn.ZeroPad2d:
    """Keras' 'same' padding: an even kernel gets the extra row/column on the right and bottom."""
    total = kernel - 1
    return nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))


CNN_CHANNELS = 128
CNN_FEATURES = CNN_CHANNELS * (IMAGE_SIZE // 8) ** 2  # 128 x 12 x 12 after three pools


def cnn_backbone(dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 1
    for out_ch, kernel, p in [(32, 3, 0.1), (64, 2, 0.2), (CNN_CHANNELS, 2, 0.3)]:
        layers += [same_padding(kernel), nn.Conv2d(in_ch, out_ch, kernel), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(p * dropout)]
        in_ch = out_ch
    return nn.Sequential(*layers)


@register_model
def cnn(dropout: float = 1.0) -> nn.Module:
    """The seed's CNN: Dense 1000-1000-30, dropout 0.5 after the first."""
    return KeypointNet(cnn_backbone(dropout), dense_head(CNN_FEATURES, [1000, 1000], [0.5 * dropout, 0.0]))


@register_model
def cnn_small(dropout: float = 1.0) -> nn.Module:
    """The seed's CNN variant: Dense 512-256-30."""
    return KeypointNet(cnn_backbone(dropout), dense_head(CNN_FEATURES, [512, 256], [0.5 * dropout, 0.0]))


@register_model
def cnn_gap(dropout: float = 1.0) -> nn.Module:
    return KeypointNet(cnn_backbone(dropout), gap_head(CNN_CHANNELS))


# --- vgg16: VGG-16 configuration D, pool after each of the five blocks, Dense 512-128-30 ---

VGG16_BLOCKS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]


def vgg16_backbone() -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 1
    for block in VGG16_BLOCKS:
        for out_ch in block:
            layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.ReLU(inplace=True)]
            in_ch = out_ch
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)  # (B, 512, 3, 3)


@register_model
def vgg16(dropout: float = 1.0) -> nn.Module:  # the seed's VGG-16 has no dropout: nothing to scale
    return KeypointNet(vgg16_backbone(), dense_head(512 * 3 * 3, [512, 128], [0.0, 0.0]))


@register_model
def vgg16_gap(dropout: float = 1.0) -> nn.Module:
    return KeypointNet(vgg16_backbone(), gap_head(512))


# --- vgg_opt: 6 blocks of two 3x3 convs, each conv -> LeakyReLU(0.1) -> BatchNorm ---
# Convs have no bias (as in the Kaggle kernel the seed followed): that gives Keras' 7,268,670.

VGG_OPT_FILTERS = [32, 64, 96, 128, 256, 512]


def vgg_opt_backbone() -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 1
    for i, out_ch in enumerate(VGG_OPT_FILTERS):
        for _ in range(2):
            layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.LeakyReLU(0.1, inplace=True), nn.BatchNorm2d(out_ch)]
            in_ch = out_ch
        if i < len(VGG_OPT_FILTERS) - 1:  # MaxPool after the first five blocks: 96 -> 3
            layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)  # (B, 512, 3, 3)


VGG_OPT_DROPOUT = 0.1  # after Dense 512, as in the Kaggle kernel


@register_model
def vgg_opt(dropout: float = 1.0) -> nn.Module:
    return KeypointNet(vgg_opt_backbone(), dense_head(512 * 3 * 3, [512], [VGG_OPT_DROPOUT * dropout]))


@register_model
def vgg_opt_gap(dropout: float = 1.0) -> nn.Module:
    return KeypointNet(vgg_opt_backbone(), gap_head(512, VGG_OPT_DROPOUT * dropout))
