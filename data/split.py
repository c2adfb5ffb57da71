"""The one train/validation split every consumer shares, so all trials are scored on the same faces.

The hold-out is drawn from the rows that have a true label, so a file that ensemble.label filled (row for
row the same, rows with no true label now labelled by an ensemble) holds out the same faces: rows whose
every label was filled in always train. `Split.val_digest` names the validation faces by their images,
for the search, the ensembles and a later search to check that they still score on the same ones.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from common.errors import UserError

from .faces import Faces
from .origin import describe_origin, infer_origin
from .reader import load_faces

FILES_SEPARATOR = os.pathsep  # a config's `train` names several files joined by this (":", or ";" on Windows)


@dataclass(frozen=True)
class Split:
    train: Faces  # faces to fit on: every row with at least one label (filled-in ones included)
    val: Faces  # faces to score on (RMSE over their labelled coordinates): true labels only, never filled-in ones

    @property
    def val_digest(self) -> str:
        """The validation faces by their pixels and true labels, in order (ids are per file)."""
        return faces_digest(self.val)


def faces_digest(faces: Faces) -> str:
    """16 hex digits naming `faces`' images and labels, in order."""
    digest = hashlib.sha256(faces.images.tobytes())
    if faces.keypoints is not None:
        digest.update(faces.keypoints.tobytes())
    return digest.hexdigest()[:16]


def labelled_rows(faces: Faces) -> Faces:
    """Drop rows that have no label at all: they teach nothing and score nothing."""
    return faces.subset(np.flatnonzero(~np.isnan(faces.keypoints).all(axis=1)))


def truly_labelled(faces: Faces) -> np.ndarray:
    """(N,) bool: rows with at least one true (not filled-in) label."""
    return ~np.isnan(faces.true_labels_only().keypoints).all(axis=1)


def train_files(train: str) -> list[str]:
    """The files a config's `train` names: one, or several joined by FILES_SEPARATOR."""
    return train.split(FILES_SEPARATOR)


def load_train_faces(train: str) -> Faces:
    """The training faces of one file, or of several joined (each with its own missing keypoints: a five-point
    set beside a fifteen-point one). Files may put the pixels differently (data.origin): each file's labels are
    moved into the first file's convention, so that one flip axis fits them all, and each move is said."""
    files = [load_faces(path, need_labels=True) for path in train_files(train)]
    if len(files) == 1:
        return files[0]
    origins = [infer_origin(labelled_rows(faces)) for faces in files]
    for faces, origin in zip(files, origins):
        if origin != origins[0]:
            print(f"{faces.source}: {describe_origin(origin)}; its labels moved by {origins[0] - origin:+g} px into {files[0].source}'s")
    moved = [dataclasses.replace(faces, keypoints=faces.keypoints + (origins[0] - origin)) for faces, origin in zip(files, origins)]
    return functools.reduce(Faces.joined, moved)


def make_split(train_path: str, val_path: str | None = None, *, val_fraction: float = 0.15, seed: int = 0) -> Split:
    """A separate validation file, or a seeded hold-out of val_fraction of the training rows (of all the
    training files together)."""
    train = labelled_rows(load_train_faces(train_path))
    if val_path is not None:
        return Split(train, labelled_rows(load_faces(val_path, need_labels=True).true_labels_only()))
    # imported here: sklearn takes 0.6 s to import, and every trial process imports this module (to
    # unpickle its Split) without ever splitting
    from sklearn.model_selection import train_test_split

    true = truly_labelled(train)
    if true.sum() < 2:
        raise UserError(train_path, f"has {true.sum()} rows with true labels: too few to hold out a validation set")
    fit, held = train_test_split(np.flatnonzero(true), test_size=val_fraction, random_state=seed)
    fit = np.union1d(fit, np.flatnonzero(~true))  # rows labelled only by an ensemble always train
    return Split(train.subset(fit), labelled_rows(train.subset(np.sort(held)).true_labels_only()))
