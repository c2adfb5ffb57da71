"""Between a photo and the 96x96 frame the models see: similarity transforms, the crop, the way back.

A transform is a (2, 3) matrix taking a point of the 96x96 frame to the photo, both in pixel-edge
coordinates: pixel column c spans [c, c + 1), so its centre is at c + 0.5 and an image of width W spans
[0, W]. Keypoints in a label convention with origin o (pixel column c's centre at c + o) are edge
coordinates less 0.5 - o (data.transforms).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from data.keypoints import IMAGE_SIZE

from .detect import BoxFit, Detection


def centroid_and_spread(points: np.ndarray) -> tuple[np.ndarray, float]:
    """(K, 2) points -> their centroid (2,) and RMS distance from it."""
    centre = points.mean(axis=0)
    return centre, float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))


def from_box(detection: Detection, fit: BoxFit, layout: np.ndarray) -> np.ndarray:
    """The transform that puts the mean face (`layout`, (15, 2) edge coordinates of the frame; NaN rows:
    keypoints the model never learned) where the detector's box says the face is, upright: the scale and
    shift that take the layout's known keypoints closest to where the box fit places them."""
    known = np.isfinite(layout).all(axis=1)
    return fit_scale_shift(layout[known], fit.keypoints(detection)[known])


def fit_scale_shift(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The uniform scale and shift (no rotation) taking (K, 2) `source` closest to `target` in least squares."""
    source_centre, target_centre = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_centre, target - target_centre
    scale = float((s * t).sum()) / float((s**2).sum())
    return np.hstack([scale * np.eye(2), (target_centre - scale * source_centre)[:, None]])


def fit_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The similarity (rotation, uniform scale, shift) taking (K, 2) `source` closest to `target` in least
    squares (Umeyama's closed form, without reflection)."""
    source_centre, target_centre = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_centre, target - target_centre
    u, singular, vt = np.linalg.svd(t.T @ s)
    d = np.array([1.0, np.sign(np.linalg.det(u @ vt))])  # -1 would be a mirror image: rotate instead
    rotation = u @ np.diag(d) @ vt
    scale = float(singular @ d) / float((s**2).sum())
    linear = scale * rotation
    return np.hstack([linear, (target_centre - linear @ source_centre)[:, None]])


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K, 2) points through a (2, 3) transform."""
    return points @ transform[:, :2].T + transform[:, 2]


def crop(grey: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """The 96x96 frame cut out of a (H, W) uint8 photo: each frame pixel samples the photo where the
    transform puts it (bilinear, the photo's edge repeated beyond it). Shrinking by more than 1 first
    blurs the photo (a Gaussian of the size that the shrink would otherwise alias), only where the
    frame lands."""
    scale = float(np.sqrt(abs(np.linalg.det(transform[:, :2]))))  # photo px per frame px
    corners = apply(transform, np.array([[0, 0], [IMAGE_SIZE, 0], [0, IMAGE_SIZE], [IMAGE_SIZE, IMAGE_SIZE]], float))
    sigma = 0.5 * np.sqrt(max(scale**2 - 1, 0.0))
    pad = int(np.ceil(3 * sigma)) + 2
    h, w = grey.shape
    x0, y0 = (np.clip(np.floor(corners.min(axis=0)) - pad, 0, [w, h])).astype(int)
    x1, y1 = (np.clip(np.ceil(corners.max(axis=0)) + pad, 0, [w, h])).astype(int)
    if x1 - x0 < 1 or y1 - y0 < 1:  # the frame lies wholly outside the photo: sample its nearest edge
        x0, y0 = min(x0, w - 1), min(y0, h - 1)
        x1, y1 = x0 + 1, y0 + 1
    region = grey[y0:y1, x0:x1].astype(np.float32)
    if sigma > 0.3:
        region = ndimage.gaussian_filter(region, sigma, mode="nearest")
    # frame pixel index (c, r) -> frame edge (c + 0.5, r + 0.5) -> photo edge -> photo index - 0.5 -> region index
    linear = transform[:, :2]
    offset = linear @ [0.5, 0.5] + transform[:, 2] - 0.5 - [x0, y0]
    # ndimage indexes (row, column): swap x and y on both sides
    out = ndimage.affine_transform(region, linear[::-1, ::-1], offset[::-1], output_shape=(IMAGE_SIZE, IMAGE_SIZE), order=1, mode="nearest")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
