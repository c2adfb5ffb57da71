"""Submission files, written atomically: the course format and Kaggle's RowId,Location."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from data.errors import DataError
from data.files import write_csv_atomically
from data.keypoints import COLUMNS, IMAGE_SIZE
from data.reader import load_faces
from search.config import AMP_MODES

from .ensemble import Ensemble


def add_submission_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("submission")
    g.add_argument("--test", type=Path, help="test CSV to predict (ImageId or index column, Image)")
    g.add_argument("--tta", choices=["none", "flip"], default="none", help="flip: also predict the mirrored face and average")
    g.add_argument("--amp", choices=AMP_MODES, default="auto",
                   help="auto: members compute in bfloat16 on CUDA and on CPUs with native bf16 (2x faster; the manifest says how far that moves them), off: float32")
    g.add_argument("--format", choices=["course", "kaggle"], default="course", help="course: header 0..29, one row per face; kaggle: RowId,Location")
    g.add_argument("--lookup", type=Path, help="Kaggle's IdLookupTable.csv (needed for --format kaggle)")
    g.add_argument("--student-id", help="name the file after the student number: ID.csv")
    g.add_argument("--out", type=Path, help="the submission file (default: ID.csv, else submission.csv)")


def check_submission_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.format == "kaggle" and not args.lookup:
        parser.error("--format kaggle needs --lookup IdLookupTable.csv")
    if args.student_id and args.out:
        parser.error("give --student-id or --out, not both")


def clip_to_frame(predictions: np.ndarray) -> np.ndarray:
    return np.clip(predictions, 0.0, float(IMAGE_SIZE))


def course_frame(predictions: np.ndarray) -> pd.DataFrame:
    """As the course's export does: a DataFrame of the predictions, header 0..29, no index."""
    return pd.DataFrame(predictions)


def kaggle_frame(predictions: np.ndarray, image_ids: np.ndarray, lookup_path: Path) -> pd.DataFrame:
    """RowId,Location for each row of Kaggle's lookup table (RowId,ImageId,FeatureName,Location)."""
    lookup = pd.read_csv(lookup_path)
    for column in ("RowId", "ImageId", "FeatureName"):
        if column not in lookup.columns:
            raise DataError(str(lookup_path), f"missing column '{column}'")
    row_of_id = pd.Series(np.arange(len(image_ids)), index=image_ids)
    unknown_id = ~lookup["ImageId"].isin(row_of_id.index)
    if unknown_id.any():
        i = int(np.argmax(unknown_id.to_numpy()))
        raise DataError(str(lookup_path), f"ImageId {lookup['ImageId'].iloc[i]} is not in the test file", row=i + 1, column="ImageId")
    column_of = {name: j for j, name in enumerate(COLUMNS)}
    unknown_feature = ~lookup["FeatureName"].isin(column_of)
    if unknown_feature.any():
        i = int(np.argmax(unknown_feature.to_numpy()))
        raise DataError(str(lookup_path), f"unknown keypoint '{lookup['FeatureName'].iloc[i]}'", row=i + 1, column="FeatureName")
    rows = row_of_id[lookup["ImageId"]].to_numpy()
    cols = lookup["FeatureName"].map(column_of).to_numpy()
    return pd.DataFrame({"RowId": lookup["RowId"], "Location": predictions[rows, cols]})


def write_submission(args: argparse.Namespace, ensemble: Ensemble) -> Path:
    test = load_faces(args.test)
    predictions = clip_to_frame(ensemble.predict(test.images, tta=args.tta == "flip"))
    out = args.out or Path(f"{args.student_id}.csv" if args.student_id else "submission.csv")
    if args.format == "kaggle":
        frame = kaggle_frame(predictions, test.ids, args.lookup)
    else:
        frame = course_frame(predictions)
    write_csv_atomically(frame, out)
    print(f"wrote {out}: {len(frame)} rows ({args.format} format, {len(test)} test faces, tta {args.tta})")
    return out
