"""On-the-fly augmentation of a training batch, on the trainer's device: horizontal flip, then the
registered augmentations (`AUGMENTATIONS`): affine ones (rotation, scale, shift) composed into one warp
that moves the keypoints by the same matrix, and pixel ones (contrast, brightness, gamma, noise). A new
augmentation is one function here, decorated with @register_augmentation; TrainConfig.augment sets its
range and the strength `aug` scales every range.

Geometry works in pixels. Images are indexed from pixel centres (the centre is (W - 1) / 2 = 47.5 and
grid_sample runs with align_corners=True); keypoints are in the labels' convention, shifted from that by
the data set's label origin (data.origin), which every geometric step takes into account. A keypoint
that the transform pushes out of the frame becomes NaN: missing, so the masked loss ignores it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .keypoints import FLIP_PERMUTATION, IMAGE_SIZE
from .transforms import frame_px, mirror_keypoints

CENTRE_PX = (IMAGE_SIZE - 1) / 2  # 47.5: the rotation and scaling centre, in pixel-index coordinates


@dataclass(frozen=True)
class Op:
    """One registered augmentation. An affine op draws (n, 2, 3) maps in pixel-index coordinates, composed
    into one warp that moves pixels and keypoints together; a pixel op changes intensities only."""

    kind: str  # "affine" or "pixels"
    default: float  # its range at augmentation strength 1 (TrainConfig.augment overrides it)
    what: str  # what the range means
    draw: Callable[[torch.Tensor | int, float, torch.Generator], torch.Tensor]  # affine: (n, range, g) -> maps; pixels: (images, range, g) -> images


AUGMENTATIONS: dict[str, Op] = {}  # applied (and drawing random numbers) in registration order


def register_augmentation(name: str, kind: str, default: float, what: str) -> Callable:
    def register(draw: Callable) -> Callable:
        AUGMENTATIONS[name] = Op(kind, default, what, draw)
        return draw

    return register


def default_ranges() -> dict[str, float]:
    return {name: op.default for name, op in AUGMENTATIONS.items()}


@register_augmentation("rotate", "affine", 15.0, "degrees either way")
def _rotate(n: int, degrees: float, generator: torch.Generator) -> torch.Tensor:
    angle = math.radians(degrees) * _uniform(n, generator)
    return affine_matrices(angle, torch.ones_like(angle), torch.zeros(n, 2, device=angle.device))


@register_augmentation("scale", "affine", 0.1, "zoom, share either way")
def _scale(n: int, share: float, generator: torch.Generator) -> torch.Tensor:
    zoom = 1 + share * _uniform(n, generator)
    return affine_matrices(torch.zeros_like(zoom), zoom, torch.zeros(n, 2, device=zoom.device))


@register_augmentation("shift", "affine", 8.0, "pixels either way on each axis")
def _shift(n: int, pixels: float, generator: torch.Generator) -> torch.Tensor:
    shift = pixels * _uniform((n, 2), generator)
    return affine_matrices(torch.zeros(n, device=shift.device), torch.ones(n, device=shift.device), shift)


@register_augmentation("contrast", "pixels", 0.3, "contrast around the face's mean, share either way")
def _contrast(images: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * (1 + share * _uniform(_per_face(images), generator)) + mean


@register_augmentation("brightness", "pixels", 0.15, "added to [0, 1] intensities, either way")
def _brightness(images: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    return images + amount * _uniform(_per_face(images), generator)


@register_augmentation("gamma", "pixels", 0.3, "intensity ** exp(either way)")
def _gamma(images: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    return images.clamp(0, 1) ** torch.exp(amount * _uniform(_per_face(images), generator))


@register_augmentation("noise", "pixels", 0.03, "Gaussian noise, largest standard deviation")
def _noise(images: torch.Tensor, largest: float, generator: torch.Generator) -> torch.Tensor:
    sigma = largest * torch.rand(_per_face(images), generator=generator, device=generator.device)
    return images + sigma * torch.randn(images.shape, generator=generator, device=generator.device)


@dataclass(frozen=True)
class Augmentation:
    """What a training batch goes through; flip alone (no ranges) = the seed's recipe."""

    flip: bool = True  # mirror half the faces, left/right keypoints swapped
    origin: float = 0.0  # px: where the labels put the top-left pixel's centre (data.origin)
    ranges: dict[str, float] = field(default_factory=dict)  # op name (AUGMENTATIONS) -> its range; absent or 0 = off

    def _ops(self, kind: str) -> list[tuple[Op, float]]:
        return [(op, self.ranges.get(name, 0.0)) for name, op in AUGMENTATIONS.items() if op.kind == kind]

    def __call__(self, images: torch.Tensor, keypoints_px: torch.Tensor, generator: torch.Generator,
                 weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """images (B, 1, 96, 96) in [0, 1], keypoints (B, 30) px (NaN = missing), optional per-coordinate
        loss weights (B, 30) -> all three augmented (the weights follow their keypoints' names on a flip)."""
        if self.flip:
            images, keypoints_px, weights = random_hflip(images, keypoints_px, generator, self.origin, weights)
        if any(amount for _, amount in self._ops("affine")):
            images, keypoints_px = warp(images, keypoints_px, self.random_matrices(len(images), generator), self.origin)
        for op, amount in self._ops("pixels"):
            if amount:
                images = op.draw(images, amount, generator)
        return images.clamp(0, 1), keypoints_px, weights

    def random_matrices(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, 2, 3) forward maps in pixels, every affine op's composed in order (each draws, even at range
        0, once any is on: the random numbers stay where they were)."""
        maps = [op.draw(n, amount, generator) for op, amount in self._ops("affine")]
        return functools.reduce(_then, maps)


def _then(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The map `second` after `first`, both (n, 2, 3)."""
    linear = second[..., :2] @ first[..., :2]
    return torch.cat([linear, second[..., :2] @ first[..., 2:] + second[..., 2:]], dim=-1)


def _per_face(images: torch.Tensor) -> tuple[int, int, int, int]:
    return (len(images), 1, 1, 1)


def _uniform(shape, generator: torch.Generator) -> torch.Tensor:
    """U(-1, 1) on the generator's device."""
    return torch.rand(shape, generator=generator, device=generator.device) * 2 - 1


def random_hflip(images: torch.Tensor, keypoints_px: torch.Tensor, generator: torch.Generator, origin: float = 0.0,
                 weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Mirror a random half of a batch; keypoints (B, 30) px follow, partners swapped, and so do the
    per-coordinate weights (B, 30) when given."""
    chosen = torch.rand(len(images), generator=generator, device=generator.device) < 0.5
    images = torch.where(chosen[:, None, None, None], images.flip(-1), images)
    keypoints_px = torch.where(chosen[:, None], mirror_keypoints(keypoints_px, origin), keypoints_px)
    if weights is not None:
        weights = torch.where(chosen[:, None], weights[:, torch.as_tensor(FLIP_PERMUTATION)], weights)
    return images, keypoints_px, weights


def affine_matrices(angle: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """angle (n,) radians, zoom (n,), shift (n, 2) px -> (n, 2, 3) maps p_out = zoom R (p_in - c) + c + shift."""
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    linear = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (n, 2, 2)
    centre = torch.full((2,), CENTRE_PX, device=angle.device)
    offset = centre + shift - linear @ centre
    return torch.cat([linear, offset[..., None]], dim=-1)


def warp(images: torch.Tensor, keypoints_px: torch.Tensor, matrices: torch.Tensor, origin: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply forward maps (B, 2, 3) in pixel-index coordinates to images (B, 1, H, W) and keypoints
    (B, 30) px whose labels put the top-left pixel's centre at `origin`. Keypoints that land outside the
    frame (data.transforms.frame_px) become NaN (both coordinates)."""
    linear, offset = matrices[..., :2], matrices[..., 2:]
    # grid_sample needs the inverse map, in coordinates where -1 and 1 are the outer pixels' centres.
    inverse = torch.linalg.inv(linear)
    inverse_offset = -inverse @ offset  # p_in = inverse p_out + inverse_offset
    to_unit = 1 / CENTRE_PX  # u = (p - c) / c
    theta = torch.cat([inverse, (inverse @ torch.full_like(offset, CENTRE_PX) + inverse_offset - CENTRE_PX) * to_unit], dim=-1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

    points = keypoints_px.view(len(keypoints_px), -1, 2) - origin  # (B, 15, 2) in pixel-index coordinates
    moved = points @ linear.transpose(1, 2) + offset.transpose(1, 2) + origin  # back in label coordinates
    low, high = frame_px(origin)
    outside = ((moved < low) | (moved > high)).any(-1, keepdim=True)
    moved = torch.where(outside, torch.full_like(moved, float("nan")), moved)
    return images, moved.reshape(keypoints_px.shape)
