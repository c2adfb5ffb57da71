"""Where a data set's labels put the pixels: the label origin, estimated from the faces themselves,
with how sure the estimate is.

Label tools disagree on where the centre of the top-left pixel lies: at 0 (pixel column c at x = c, the
pixel-index convention this package computes in), at 1 (1-based tools), or at 0.5 (pixel edges at whole
numbers). Nothing in a CSV says which, and it matters: a mirrored face's keypoint x is 2 a - x about the
image's axis a = 47.5 + origin, so a flip about the wrong axis moves every flipped target by twice the
error, and a net trained on them predicts off by the error on average.

The estimate: the axis about which the faces are mirror images of themselves. The midpoint of a
left/right pair (the eyes' centres, the mouth's corners) and a midline keypoint (the nose tip) lie on a
face's axis of symmetry. A face centred in the image has that axis on the image's axis a; a face off
centre or turned shows it as asymmetry: the image minus its mirror image. So each midline position is
regressed (ridge) on the image's asymmetry, and where the asymmetry is zero, the regression's intercept,
is the axis. Only the asymmetric half of the pooled pixels enters the fit (288 unknowns, not 577), the
fits of the nine midline positions are averaged weighted by their faces, and a seeded bootstrap over the
faces gives a 90 % interval. When that interval reaches another convention's side of the rounding, or
the images do not predict where the faces' midlines are (plain grey images, noise), `infer_origin`
warns and says how to set it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from .faces import Faces
from .keypoints import FLIP_PERMUTATION, IMAGE_SIZE, X_COLUMNS

PIXEL_INDEX_AXIS = (IMAGE_SIZE - 1) / 2  # 47.5: the mirror axis when the origin is 0
CONVENTIONS = (0.0, 0.5, 1.0)  # the origins label tools use
FALLBACK = 0.0  # the pixel-index convention: assumed when the images carry no face signal
POOL = 4  # 96x96 -> 24x24 pooled pixels: the asymmetric half is 288 numbers a face (8x8 pooling: biased by 0.2 px)
RIDGE = 0.01  # penalty per face on the asymmetry weights (features are standardised per face); more biases the axis
SIGNAL_RIDGE = 0.1  # the same for the signal check, whose held-out fits need more to not overfit
MIN_FACES = 100  # faces with a midline position below which nothing is estimated (the fit has 288 unknowns)
MIN_SIGNAL = 0.05  # cross-validated R^2 of the midlines from the images below which the images say nothing
BOOTSTRAP = 50  # resamples of the faces for the interval
# (left x column, right x column) of each mirror pair, and (c, c) for a keypoint on the midline: 9 in all
MIDLINES = [(int(c), int(FLIP_PERMUTATION[c])) for c in X_COLUMNS if c <= FLIP_PERMUTATION[c]]


@dataclass(frozen=True)
class OriginEstimate:
    value: float  # px: the fitted origin, not rounded
    low: float  # px: the 90 % bootstrap interval's ends
    high: float
    faces: int  # faces with at least one midline position labelled
    signal: float  # cross-validated R^2 of the faces' midline positions predicted from their images

    @property
    def convention(self) -> float:
        return nearest_convention(self.value)

    @property
    def candidates(self) -> list[float]:
        """The conventions whose rounding the interval reaches (one when the estimate is sure)."""
        return sorted({nearest_convention(x) for x in (self.low, self.value, self.high)})

    @property
    def has_signal(self) -> bool:
        return self.signal >= MIN_SIGNAL

    @property
    def is_sure(self) -> bool:
        return self.has_signal and len(self.candidates) == 1

    def __str__(self) -> str:
        return f"{self.value:.2f} px (90 % interval {self.low:.2f} to {self.high:.2f}, {self.faces} faces)"


def estimate_origin(faces: Faces, seed: int = 0) -> OriginEstimate:
    """The label origin the faces' x coordinates are most consistent with, and how sure that is.
    Raises ValueError when fewer than MIN_FACES faces label a midline position. Only true labels count:
    labels an ensemble filled in (ensemble.label) follow that ensemble's convention, not the data's."""
    faces = faces.true_labels_only()
    asymmetry = _asymmetry(faces.images)
    midlines = _midline_positions(faces.keypoints)  # (N, 9) px, NaN = not labelled
    labelled = ~np.isnan(midlines).all(axis=1)
    if labelled.sum() < MIN_FACES:
        raise ValueError(f"too few labelled faces to estimate the label origin ({MIN_FACES} with a keypoint pair or a "
                         f"midline keypoint; {int(labelled.sum())} here)")
    asymmetry, midlines = asymmetry[labelled], midlines[labelled]
    rng = np.random.default_rng(seed)
    resamples = [_fit_axis(asymmetry[i], midlines[i]) for i in (rng.integers(0, len(midlines), len(midlines)) for _ in range(BOOTSTRAP))]
    low, high = np.percentile(resamples, [5, 95]) - PIXEL_INDEX_AXIS
    return OriginEstimate(_fit_axis(asymmetry, midlines) - PIXEL_INDEX_AXIS, float(low), float(high), len(midlines),
                          _signal(asymmetry, midlines, rng))


def infer_origin(faces: Faces) -> float:
    """The convention the faces' labels follow. Unsure, it warns in one line and takes the convention
    nearest the estimate; with too few labelled faces, or images that do not show where the faces are,
    the pixel-index one (0)."""
    how_to_set = "set label_origin (--label-origin, or label_origin in the search space) to 0, 0.5 or 1 to choose"
    try:
        estimate = estimate_origin(faces)
    except ValueError as err:
        _warn(f"{faces.source}: {err}; assuming label origin {FALLBACK:g}: {how_to_set}")
        return FALLBACK
    if not estimate.has_signal:
        _warn(f"{faces.source}: the images do not show where the faces are (midlines predicted with R^2 {estimate.signal:.2f}), "
              f"so the label origin cannot be estimated; assuming {FALLBACK:g}: {how_to_set}")
        return FALLBACK
    if not estimate.is_sure:
        candidates = " or ".join(f"{c:g}" for c in estimate.candidates)
        _warn(f"{faces.source}: label origin uncertain: estimated {estimate}, which fits {candidates}; "
              f"assuming {estimate.convention:g}, the nearest: {how_to_set}")
    return estimate.convention


def nearest_convention(origin: float) -> float:
    return min(CONVENTIONS, key=lambda c: abs(c - origin))


def describe_origin(origin: float) -> str:
    return f"label origin {origin:g} px (pixel column c at x = c{f' + {origin:g}' if origin else ''}): flips mirror about x = {PIXEL_INDEX_AXIS + origin:g}"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _midline_positions(keypoints: np.ndarray) -> np.ndarray:
    """(N, 30) px -> (N, 9) px: each pair's midpoint x and each midline keypoint's x."""
    return np.stack([(keypoints[:, left] + keypoints[:, right]) / 2 for left, right in MIDLINES], axis=1)


def _asymmetry(images: np.ndarray) -> np.ndarray:
    """(N, 96, 96) uint8 -> (N, 288): pooled pixels (standardised per face) minus their mirror image,
    left half only (the right half is its negative)."""
    n, size = len(images), IMAGE_SIZE // POOL
    pooled = images.astype(np.float32).reshape(n, size, POOL, size, POOL).mean(axis=(2, 4))  # (N, 24, 24)
    pooled = (pooled - pooled.mean((1, 2), keepdims=True)) / (pooled.std((1, 2), keepdims=True) + 1e-6)
    return (pooled - pooled[:, :, ::-1])[:, :, : size // 2].reshape(n, -1)


def _fit_axis(asymmetry: np.ndarray, midlines: np.ndarray) -> float:
    """The axis (px): the intercepts of the midline positions' ridge fits, weighted by their faces."""
    axes, weights = [], []
    for faces, columns in _label_patterns(midlines):
        if faces.sum() >= 2:
            intercepts, _ = _ridge(asymmetry[faces], midlines[faces][:, columns])
            axes.extend(intercepts)
            weights.extend([faces.sum()] * len(intercepts))
    return float(np.average(axes, weights=weights))


def _label_patterns(midlines: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(faces, columns) masks: the midline positions labelled on exactly the same faces, fitted
    together (one Gram matrix for all nine when every face is fully labelled)."""
    labelled = ~np.isnan(midlines)  # (N, 9)
    patterns = np.unique(labelled, axis=1).T  # (P, N): the distinct columns of `labelled`
    return [(faces, (labelled == faces[:, None]).all(axis=0)) for faces in patterns]


def _ridge(features: np.ndarray, targets: np.ndarray, penalty: float = RIDGE) -> tuple[np.ndarray, np.ndarray]:
    """Intercepts (unpenalised, (K,)) and weights ((F, K)) of ridge regressions of (N, K) targets on
    the same (N, F) features."""
    mean = features.mean(axis=0)
    centred = features - mean
    weights = np.linalg.solve(centred.T @ centred + penalty * len(targets) * np.eye(features.shape[1]), centred.T @ (targets - targets.mean(axis=0)))
    return targets.mean(axis=0) - mean @ weights, weights


def _signal(asymmetry: np.ndarray, midlines: np.ndarray, rng: np.random.Generator) -> float:
    """Cross-validated R^2 (two halves, each predicting the other) of the midline positions from the
    images' asymmetry: about 0.2 to 0.6 for real faces, 0 or below when the images say nothing."""
    half = rng.permutation(len(midlines)) < len(midlines) // 2
    residual = total = 0.0
    for faces, columns in _label_patterns(midlines):
        for fit, held_out in ((half & faces, ~half & faces), (~half & faces, half & faces)):
            if fit.sum() < 2 or not held_out.any():
                continue
            intercepts, weights = _ridge(asymmetry[fit], midlines[fit][:, columns], SIGNAL_RIDGE)
            truth = midlines[held_out][:, columns]
            residual += float(((truth - intercepts - asymmetry[held_out] @ weights) ** 2).sum())
            total += float(((truth - midlines[fit][:, columns].mean(axis=0)) ** 2).sum())
    return 1 - residual / total if total > 0 else 0.0
