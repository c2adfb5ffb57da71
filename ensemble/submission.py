"""Submission files, written atomically: the course format and Kaggle's RowId,Location."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import UserError
from common.files import write_csv_atomically
from data.faces import Faces
from data.keypoints import COLUMNS
from data.reader import has_id_column, load_faces
from data.transforms import frame_px
from training.config import AMP_MODES

from .ensemble import Ensemble

LOOKUP_NAME = "IdLookupTable.csv"  # Kaggle's name for it, beside test.zip in its download


def add_submission_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("submission")
    g.add_argument("--test", type=Path, help="test CSV to predict (ImageId or index column, Image)")
    g.add_argument("--tta", choices=["none", "flip"], default="flip",
                   help="flip (default): also predict the mirrored face and average (the manifest's flip_tta_val_rmse); none: half the time")
    g.add_argument("--amp", choices=AMP_MODES, default="auto",
                   help="auto: members compute in bfloat16 on CUDA and on CPUs with native bf16 (2x faster; the manifest says how far that moves them), off: float32")
    g.add_argument("--format", choices=["course", "kaggle"],
                   help="kaggle: RowId,Location, as Kaggle takes it; course: header 0..29, one row per face (default: kaggle when the "
                        "test file has ImageIds and a lookup table is given or lies beside it, else course)")
    g.add_argument("--lookup", type=Path, help=f"Kaggle's {LOOKUP_NAME} (default: the one beside the test file, if any)")
    g.add_argument("--student-id", help="name the file after the student number: ID.csv")
    g.add_argument("--out", type=Path, help="the submission file (default: ID.csv, else submission.csv)")


def check_submission_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.format == "kaggle" and not args.lookup and not (args.test and (args.test.parent / LOOKUP_NAME).is_file()):
        parser.error(f"--format kaggle needs Kaggle's lookup table: --lookup {LOOKUP_NAME}, or the table beside the test file")
    if args.format == "course" and args.lookup:
        parser.error("--lookup is Kaggle's: give --format kaggle, or leave --format out")
    if args.student_id and args.out:
        parser.error("give --student-id or --out, not both")


def clip_to_frame(predictions: np.ndarray, origin: float) -> np.ndarray:
    """Into the image as the labels place it (data.transforms.frame_px)."""
    return np.clip(predictions, *frame_px(origin))


def course_frame(predictions: np.ndarray) -> pd.DataFrame:
    """As the course's export does: a DataFrame of the predictions, header 0..29, no index."""
    return pd.DataFrame(predictions)


@dataclass(frozen=True)
class Lookup:
    """Kaggle's IdLookupTable.csv, checked against the test file: which prediction each row asks for."""

    row_ids: np.ndarray  # (R,) RowId, in the table's order
    faces: np.ndarray  # (R,) row of the test file
    columns: np.ndarray  # (R,) keypoint column, 0..29


def read_lookup(lookup_path: Path, image_ids: np.ndarray) -> Lookup:
    """Every problem (a missing column, an ImageId not in the test file, an unknown keypoint) is a
    UserError naming row and column, found before any prediction."""
    try:
        lookup = pd.read_csv(lookup_path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UserError(str(lookup_path), f"cannot be read as CSV ({err})") from None
    for column in ("RowId", "ImageId", "FeatureName"):
        if column not in lookup.columns:
            raise UserError(str(lookup_path), f"missing column '{column}'")
    row_of_id = pd.Series(np.arange(len(image_ids)), index=image_ids)
    unknown_id = ~lookup["ImageId"].isin(row_of_id.index)
    if unknown_id.any():
        i = int(np.argmax(unknown_id.to_numpy()))
        raise UserError(str(lookup_path), f"ImageId {lookup['ImageId'].iloc[i]} is not in the test file", row=i + 1, column="ImageId")
    column_of = {name: j for j, name in enumerate(COLUMNS)}
    unknown_feature = ~lookup["FeatureName"].isin(column_of)
    if unknown_feature.any():
        i = int(np.argmax(unknown_feature.to_numpy()))
        raise UserError(str(lookup_path), f"unknown keypoint '{lookup['FeatureName'].iloc[i]}'", row=i + 1, column="FeatureName")
    return Lookup(lookup["RowId"].to_numpy(), row_of_id[lookup["ImageId"]].to_numpy(), lookup["FeatureName"].map(column_of).to_numpy())


def kaggle_frame(predictions: np.ndarray, lookup: Lookup) -> pd.DataFrame:
    """RowId,Location for each row of Kaggle's lookup table."""
    return pd.DataFrame({"RowId": lookup.row_ids, "Location": predictions[lookup.faces, lookup.columns]})


@dataclass(frozen=True)
class SubmissionInputs:
    test: Faces
    lookup: Lookup | None  # with --format kaggle
    out: Path


def check_submission_inputs(args: argparse.Namespace) -> SubmissionInputs | None:
    """Read and check the test file, the lookup table and the output folder before any model is built
    or loaded; None without --test."""
    if not args.test:
        return None
    test = load_faces(args.test)
    lookup = None
    lookup_path = kaggle_lookup(args)
    if lookup_path is not None:
        check_image_ids(args.test, test.ids)
        lookup = read_lookup(lookup_path, test.ids)
    out = args.out or Path(f"{args.student_id}.csv" if args.student_id else "submission.csv")
    check_writable(out.resolve().parent)
    return SubmissionInputs(test, lookup, out)


def kaggle_lookup(args: argparse.Namespace) -> Path | None:
    """The lookup table of a Kaggle submission, or None for the course's layout. Without --format:
    Kaggle's when the test file has ImageIds and a lookup table is given or lies beside it (as Kaggle's
    download leaves them), said in one line."""
    given = args.lookup or (args.test.parent / LOOKUP_NAME if (args.test.parent / LOOKUP_NAME).is_file() else None)
    if args.format == "course" or (args.format is None and (given is None or not has_id_column(args.test))):
        return None
    if args.format is None:
        print(f"submission in Kaggle's layout (RowId,Location) for {given}; --format course for the course's")
    return given


def check_image_ids(path: Path, ids: np.ndarray) -> None:
    """Kaggle's lookup names faces by ImageId: the test file must carry its own, each once (a file
    without them would be numbered from 0 where Kaggle counts from 1, every face one off)."""
    if not has_id_column(path):
        raise UserError(str(path), "has no ImageId column, which --format kaggle needs to match the lookup's ImageIds to faces",
                        column="ImageId")
    duplicated = pd.Index(ids).duplicated()
    if duplicated.any():
        row = int(np.argmax(duplicated))
        first = int(np.flatnonzero(ids == ids[row])[0])
        raise UserError(str(path), f"ImageId {ids[row]} appears twice (first in row {first + 1})", row=row + 1, column="ImageId")


def check_writable(folder: Path) -> None:
    if not folder.is_dir():
        raise UserError(str(folder), "no such folder to write into")
    if not os.access(folder, os.W_OK):
        raise UserError(str(folder), "cannot write here (read-only)")


def write_submission(inputs: SubmissionInputs, ensemble: Ensemble, tta: bool) -> Path:
    predictions = clip_to_frame(ensemble.predict(inputs.test.images, tta=tta), ensemble.origin)
    frame = kaggle_frame(predictions, inputs.lookup) if inputs.lookup else course_frame(predictions)
    write_csv_atomically(frame, inputs.out)
    kind = "kaggle" if inputs.lookup else "course"
    print(f"wrote {inputs.out}: {len(frame)} rows ({kind} format, {len(inputs.test)} test faces, tta {'flip' if tta else 'none'})")
    return inputs.out
