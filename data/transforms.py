"""Normalisation, mirroring and the score: the seed's recipe, on torch tensors.

Coordinates are the labels' own: pixel column c has its centre at x = c + origin, where the origin is
the data set's label convention (data.origin: 0 for the pixel-index convention, 1 for 1-based labels),
so mirroring an image of width W maps x to 2 (W - 1) / 2 + 2 origin - x.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .keypoints import FLIP_PERMUTATION, IMAGE_SIZE, X_COLUMNS

CENTRE = IMAGE_SIZE / 2  # 48: targets are (y - 48) / 48, so the frame maps to about [-1, 1]


def frame_px(origin: float) -> tuple[float, float]:
    """The image's edges in label coordinates: the outer pixels' centres are at origin and 95 + origin,
    their outer edges half a pixel further out."""
    return origin - 0.5, IMAGE_SIZE - 0.5 + origin


def normalise_images(images: np.ndarray) -> torch.Tensor:
    """(N, 96, 96) uint8 -> (N, 1, 96, 96) float32 in [0, 1]."""
    return torch.from_numpy(images).unsqueeze(1).float().div_(255.0)


def normalise_keypoints(keypoints: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Pixels -> (y - 48) / 48; NaN (missing) stays NaN."""
    return (torch.as_tensor(keypoints, dtype=torch.float32) - CENTRE) / CENTRE


def denormalise_keypoints(targets: torch.Tensor) -> torch.Tensor:
    """The inverse of normalise_keypoints: back to pixels."""
    return targets * CENTRE + CENTRE


def mirror_keypoints(keypoints_px: torch.Tensor, origin: float = 0.0) -> torch.Tensor:
    """Keypoints (B, 30) in pixels of a left-right mirrored face: x -> 2 axis - x about the image's
    axis (W - 1) / 2 + origin, and every left/right pair swaps names. Its own inverse."""
    mirrored = keypoints_px.clone()
    mirrored[:, X_COLUMNS] = (IMAGE_SIZE - 1 + 2 * origin) - mirrored[:, X_COLUMNS]
    return mirrored[:, torch.as_tensor(FLIP_PERMUTATION)]


def labelled_mean(px: np.ndarray) -> np.ndarray:
    """(N, 30) px -> (30,): each coordinate's mean over the faces labelled there; NaN (without numpy's warning)
    where no face is, as in a set with fewer keypoints than Kaggle's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(px, axis=0)


def mean_face_rmse(train_px: np.ndarray, val_px: np.ndarray) -> float:
    """The baseline every score is read against: RMSE (px) of predicting the average training face for
    every validation face."""
    return rmse_px(np.broadcast_to(labelled_mean(train_px), val_px.shape), val_px)


def rmse_px(prediction_px: np.ndarray, target_px: np.ndarray) -> float:
    """Kaggle's score: RMSE in pixels over every labelled coordinate."""
    labelled = ~np.isnan(target_px)
    return float(np.sqrt(np.mean((prediction_px[labelled] - target_px[labelled]) ** 2)))


def keypoint_rmse(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(15,) RMSE in px of each keypoint over its labelled x and y coordinates (NaN where none is labelled)."""
    squared = (predictions - targets) ** 2
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a keypoint labelled nowhere: NaN, said as such
        return np.sqrt(np.nanmean(squared.reshape(len(squared), 15, 2), axis=(0, 2)))


def face_rmse(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N,) RMSE in px of each face over its labelled coordinates."""
    return np.sqrt(np.nanmean((predictions - targets) ** 2, axis=1))
