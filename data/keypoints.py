"""The 15 facial keypoints, declared once; everything else (columns, flip permutation) is derived.

"Left" is the subject's left, which appears on the right of the image (larger x).
"""

from __future__ import annotations

import numpy as np

IMAGE_SIZE = 96  # images are IMAGE_SIZE x IMAGE_SIZE grey pixels
N_PIXELS = IMAGE_SIZE * IMAGE_SIZE

# Keypoint name -> its mirror partner (None: on the midline, maps to itself). Kaggle's column order.
KEYPOINTS: dict[str, str | None] = {
    "left_eye_center": "right_eye_center",
    "right_eye_center": "left_eye_center",
    "left_eye_inner_corner": "right_eye_inner_corner",
    "left_eye_outer_corner": "right_eye_outer_corner",
    "right_eye_inner_corner": "left_eye_inner_corner",
    "right_eye_outer_corner": "left_eye_outer_corner",
    "left_eyebrow_inner_end": "right_eyebrow_inner_end",
    "left_eyebrow_outer_end": "right_eyebrow_outer_end",
    "right_eyebrow_inner_end": "left_eyebrow_inner_end",
    "right_eyebrow_outer_end": "left_eyebrow_outer_end",
    "nose_tip": None,
    "mouth_left_corner": "mouth_right_corner",
    "mouth_right_corner": "mouth_left_corner",
    "mouth_center_top_lip": None,
    "mouth_center_bottom_lip": None,
}
KEYPOINT_NAMES: list[str] = list(KEYPOINTS)

# The 30 target columns: x then y for each keypoint, in Kaggle's order.
COLUMNS: list[str] = [f"{name}_{axis}" for name in KEYPOINT_NAMES for axis in ("x", "y")]
N_TARGETS = len(COLUMNS)


def _flip_permutation() -> np.ndarray:
    """Column permutation that renames every coordinate to its mirror partner's column."""
    partner = [KEYPOINTS[name] or name for name in KEYPOINT_NAMES]
    return np.array([COLUMNS.index(f"{p}_{axis}") for p in partner for axis in ("x", "y")])


FLIP_PERMUTATION: np.ndarray = _flip_permutation()  # (30,) int; flipped[:, i] = original[:, FLIP_PERMUTATION[i]]
X_COLUMNS: np.ndarray = np.arange(0, N_TARGETS, 2)  # the 15 x coordinates
