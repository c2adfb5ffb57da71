"""Keypoints on whole photos: find each face, crop it as the training faces were cropped, predict, and
map the keypoints back to the photo's pixels.

The crop: the training faces' mean keypoint layout (the ensemble's `face_layout`) says where a face
sits in the 96x96 frame; the detector's box, through its box fit (ensemble.detect), says where the
face's keypoints sit in the photo; the crop is the similarity that puts the one on the other. A
refinement pass fits that similarity (with rotation) to the prediction instead, crops again and predicts
again: bench/photos.py measures what each is worth.

Coordinates out are the photo's pixels in the ensemble's label convention: the centre of pixel column c
at x = c + origin (the origin its training labels used; kptune estimated 1 for faces15, data.origin).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import UserError

from .align import apply, crop, fit_similarity, from_box
from .detect import Detection, Detector

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")  # what a folder is searched for (a named file may be any Pillow reads)


class KeypointModel(Protocol):
    """What the photo path needs of an ensemble (ensemble.ensemble.Ensemble is one)."""

    origin: float  # the label convention of its predictions, px

    def predict(self, images: np.ndarray, tta: bool = False) -> np.ndarray: ...  # (N, 96, 96) uint8 -> (N, 30) px

    @property
    def face_layout(self) -> np.ndarray: ...  # (30,) px: its training faces' mean keypoints in the frame


@dataclass(frozen=True)
class PhotoFace:
    detection: Detection
    keypoints: np.ndarray  # (30,) x, y in the photo's pixels (Kaggle's column order), the model's label convention; NaN where it knows no keypoint


def photo_paths(specs: list[str]) -> list[Path]:
    """Files, folders (their JPEG and PNG files, sorted) and glob patterns -> the photos, in that order."""
    paths: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
        if not found:
            raise UserError(spec, "no such photo, folder of photos (.jpg, .jpeg, .png) or pattern matching any")
        paths += found
    return paths


def check_photos(paths: list[Path]) -> None:
    """Every photo opens as an image (headers only): a bad one fails here, before any model loads."""
    for path in paths:
        try:
            with Image.open(path) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise UserError(str(path), f"not a readable image ({err})") from None


def read_photo(path: Path) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8, turned upright as its EXIF orientation says."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        return np.asarray(image.convert("L" if image.mode in ("L", "I;16", "I", "F", "1") else "RGB"))


def to_grey(photo: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) uint8 luma (ITU-R 601, as Pillow and OpenCV convert); grey stays as it is."""
    if photo.ndim == 2:
        return photo
    return np.asarray(Image.fromarray(photo).convert("L"))


def locate(model: KeypointModel, grey: np.ndarray, detector: Detector, *, refine: int = 1, tta: bool = True) -> list[PhotoFace]:
    """Every face the detector finds in a (H, W) uint8 photo, largest first, with its keypoints, after
    `refine` refinement passes."""
    detections = detector.faces(grey)
    if not detections:
        return []
    shift = 0.5 - model.origin  # label coordinates + shift = pixel-edge coordinates
    layout = model.face_layout.reshape(15, 2) + shift  # NaN rows: keypoints its training faces never had
    known = np.isfinite(layout).all(axis=1)
    transforms = [from_box(d, detector.fit, layout) for d in detections]
    points = _predict(model, grey, transforms, tta, shift)  # (F, 15, 2) photo edge coordinates
    for _ in range(refine):
        transforms = [fit_similarity(layout[known], p[known]) for p in points]
        points = _predict(model, grey, transforms, tta, shift)
    points[:, ~known] = np.nan  # what it predicts there it never learned
    return [PhotoFace(d, (p - shift).reshape(30)) for d, p in zip(detections, points)]


def _predict(model: KeypointModel, grey: np.ndarray, transforms: list[np.ndarray], tta: bool, shift: float) -> np.ndarray:
    crops = np.stack([crop(grey, t) for t in transforms])
    predicted = model.predict(crops, tta=tta).reshape(-1, 15, 2) + shift  # frame edge coordinates
    return np.stack([apply(t, p) for t, p in zip(transforms, predicted)])
