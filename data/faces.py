"""`Faces`: the typed object every stage passes on -- images, keypoints in pixels, ids."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Faces:
    images: np.ndarray  # (N, 96, 96) uint8, row-major as in the CSV
    keypoints: np.ndarray | None  # (N, 30) float32 pixel coordinates, NaN = missing; None for a test file
    ids: np.ndarray  # (N,) int64: the ImageId column, else the index column, else the row number
    source: str  # the file these faces came from
    from_cache: bool = field(default=False, compare=False)  # loaded from the parse cache
    filled: np.ndarray | None = None  # (N, 30) bool: coordinates an ensemble filled in (ensemble.label); None = all true labels

    def __len__(self) -> int:
        return len(self.images)

    @property
    def has_labels(self) -> bool:
        return self.keypoints is not None

    def subset(self, index: np.ndarray) -> Faces:
        keypoints = None if self.keypoints is None else self.keypoints[index]
        filled = None if self.filled is None else self.filled[index]
        return Faces(self.images[index], keypoints, self.ids[index], self.source, filled=filled)

    def joined(self, other: Faces) -> Faces:
        """These faces followed by `other`'s (both labelled), as one set from both sources."""
        filled = None if self.filled is None and other.filled is None else np.concatenate([
            np.zeros(f.keypoints.shape, bool) if f.filled is None else f.filled for f in (self, other)])
        return Faces(np.concatenate([self.images, other.images]), np.concatenate([self.keypoints, other.keypoints]),
                     np.concatenate([self.ids, other.ids]), f"{self.source} + {other.source}", filled=filled)

    def true_labels_only(self) -> Faces:
        """The faces with every filled-in coordinate missing again: what they are scored on."""
        if self.filled is None:
            return self
        return Faces(self.images, np.where(self.filled, np.nan, self.keypoints).astype(np.float32), self.ids, self.source)
