"""The one train/validation split every consumer shares, so all trials are scored on the same faces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import UserError

from .faces import Faces
from .reader import load_faces


@dataclass(frozen=True)
class Split:
    train: Faces  # faces to fit on: every row with at least one label (filled-in ones included)
    val: Faces  # faces to score on (RMSE over their labelled coordinates): true labels only, never filled-in ones


def labelled_rows(faces: Faces) -> Faces:
    """Drop rows that have no label at all: they teach nothing and score nothing."""
    return faces.subset(np.flatnonzero(~np.isnan(faces.keypoints).all(axis=1)))


def make_split(train_path: str, val_path: str | None = None, *, val_fraction: float = 0.15, seed: int = 0) -> Split:
    """A separate validation file, or a seeded hold-out of val_fraction of the train file's rows."""
    train = labelled_rows(load_faces(train_path, need_labels=True))
    if val_path is not None:
        return Split(train, labelled_rows(load_faces(val_path, need_labels=True).true_labels_only()))
    if len(train) < 2:
        raise UserError(train_path, f"has {len(train)} labelled rows: too few to hold out a validation set")
    # imported here: sklearn takes 0.6 s to import, and every trial process imports this module (to
    # unpickle its Split) without ever splitting
    from sklearn.model_selection import train_test_split

    fit, held = train_test_split(np.arange(len(train)), test_size=val_fraction, random_state=seed)
    return Split(train.subset(np.sort(fit)), labelled_rows(train.subset(np.sort(held)).true_labels_only()))
