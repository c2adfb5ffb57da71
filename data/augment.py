"""On-the-fly augmentation of a training batch, on the trainer's device: horizontal flip, a random
affine (rotation, scale, shift) that moves the keypoints by the same matrix, and photometric changes
(brightness, contrast, gamma, noise).

Geometry works in pixels. Images are indexed from pixel centres (the centre is (W - 1) / 2 = 47.5 and
grid_sample runs with align_corners=True); keypoints are in the labels' convention, shifted from that by
the data set's label origin (data.origin), which every geometric step takes into account. A keypoint
that the transform pushes out of the frame becomes NaN: missing, so the masked loss ignores it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .keypoints import IMAGE_SIZE
from .transforms import frame_px, mirror_keypoints

CENTRE_PX = (IMAGE_SIZE - 1) / 2  # 47.5: the rotation and scaling centre, in pixel-index coordinates


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random changes; all zero but flip = the seed's recipe."""

    flip: bool = True  # mirror half the faces, left/right keypoints swapped
    origin: float = 0.0  # px: where the labels put the top-left pixel's centre (data.origin)
    rotate: float = 0.0  # degrees: angle ~ U(-rotate, rotate)
    scale: float = 0.0  # zoom ~ U(1 - scale, 1 + scale)
    shift: float = 0.0  # pixels: each axis ~ U(-shift, shift)
    brightness: float = 0.0  # added to [0, 1] intensities ~ U(-brightness, brightness)
    contrast: float = 0.0  # factor around the face's mean ~ U(1 - contrast, 1 + contrast)
    gamma: float = 0.0  # intensity ** exp(U(-gamma, gamma))
    noise: float = 0.0  # Gaussian noise, standard deviation ~ U(0, noise)

    @property
    def affine(self) -> bool:
        return bool(self.rotate or self.scale or self.shift)

    def __call__(self, images: torch.Tensor, keypoints_px: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 1, 96, 96) in [0, 1], keypoints (B, 30) px (NaN = missing) -> both augmented."""
        if self.flip:
            images, keypoints_px = random_hflip(images, keypoints_px, generator, self.origin)
        if self.affine:
            images, keypoints_px = warp(images, keypoints_px, self.random_matrices(len(images), generator), self.origin)
        return self.photometric(images, generator), keypoints_px

    def random_matrices(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, 2, 3) forward maps in pixels: p_out = s R (p_in - c) + c + shift."""
        angle = math.radians(self.rotate) * _uniform(n, generator)
        zoom = 1 + self.scale * _uniform(n, generator)
        shift = self.shift * _uniform((n, 2), generator)
        return affine_matrices(angle, zoom, shift)

    def photometric(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = len(images)
        per_face = (n, 1, 1, 1)
        if self.contrast:
            mean = images.mean(dim=(1, 2, 3), keepdim=True)
            images = (images - mean) * (1 + self.contrast * _uniform(per_face, generator)) + mean
        if self.brightness:
            images = images + self.brightness * _uniform(per_face, generator)
        if self.gamma:
            images = images.clamp(0, 1) ** torch.exp(self.gamma * _uniform(per_face, generator))
        if self.noise:
            sigma = self.noise * torch.rand(per_face, generator=generator, device=generator.device)
            images = images + sigma * torch.randn(images.shape, generator=generator, device=generator.device)
        return images.clamp(0, 1)


def _uniform(shape, generator: torch.Generator) -> torch.Tensor:
    """U(-1, 1) on the generator's device."""
    return torch.rand(shape, generator=generator, device=generator.device) * 2 - 1


def random_hflip(images: torch.Tensor, keypoints_px: torch.Tensor, generator: torch.Generator,
                 origin: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a random half of a batch; keypoints (B, 30) px follow, partners swapped."""
    chosen = torch.rand(len(images), generator=generator, device=generator.device) < 0.5
    images = torch.where(chosen[:, None, None, None], images.flip(-1), images)
    keypoints_px = torch.where(chosen[:, None], mirror_keypoints(keypoints_px, origin), keypoints_px)
    return images, keypoints_px


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
