"""`python -m ensemble.label --run NAME --train train.csv --out filled.csv`: the training file with every
missing keypoint coordinate filled in by the search's ensemble, and every original value unchanged.

The filled file is the original CSV row for row and column for column, read and written as text, so no
label is re-formatted; each missing coordinate gets the ensemble's prediction (flip TTA, clipped to the
image, 4 decimals), and a `Filled` column names the coordinates filled in each row. `search.run` and
`training.train` read it like any training file: a filled coordinate never counts in a validation
score, and counts `filled_weight` (a config field, 1 by default) against a true label's 1 in the loss.
A search on the filled file holds out the same validation faces as one on the original (data.split).
A refitted ensemble (ensemble.refit) is refused: it trained on the validation faces.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common.cli import add_ensemble_arg, add_report_arg, add_run_args
from common.errors import UserError, exits_on_bad_input
from common.files import write_csv_atomically
from data.keypoints import COLUMNS
from data.reader import FILLED_COLUMN, INDEX_COLUMN, load_faces
from search.results import SearchFolder

from .candidates import latest_run
from .ensemble import Ensemble
from .folder import is_ensemble
from .submission import check_writable, clip_to_frame

DECIMALS = 4  # a filled coordinate's precision: 0.0001 px, far below any model's error


def fill_labels(text: pd.DataFrame, keypoints: np.ndarray, predictions: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """text: the CSV as read with dtype=str (a missing cell is NaN); keypoints (N, 30) as parsed (NaN =
    missing); predictions (N, 30) px. Returns the frame with each missing coordinate filled and the
    Filled column set, and the (N, 30) mask of what was filled."""
    missing = np.isnan(keypoints)
    filled = text.copy()
    for j, column in enumerate(COLUMNS):
        rows = np.flatnonzero(missing[:, j])
        filled.loc[filled.index[rows], column] = [f"{v:.{DECIMALS}f}" for v in predictions[rows, j]]
    before = text[FILLED_COLUMN].fillna("") if FILLED_COLUMN in text else pd.Series("", index=text.index)  # filled once already
    names = [" ".join(np.array(COLUMNS)[row]) for row in missing]
    filled[FILLED_COLUMN] = [" ".join(filter(None, (old, new))) for old, new in zip(before, names)]
    return filled, missing


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ensemble.label", description=__doc__.split("\n\n")[0])
    p.add_argument("--train", type=Path, required=True, help="the training CSV whose missing coordinates to fill")
    p.add_argument("--out", type=Path, required=True, help="the filled CSV to write (.csv)")
    add_run_args(p, "the search whose ensemble fills them (default: the latest)")
    add_ensemble_arg(p, "an ensemble folder to use instead of the run's (ensemble.build writes one)")
    add_report_arg(p, "with what it filled")
    args = p.parse_args(argv)
    if args.out.suffix != ".csv":
        p.error(f"--out must name a .csv file, not {args.out.name}")
    return args


def ensemble_folder(args: argparse.Namespace) -> tuple[Path, SearchFolder | None]:
    if args.ensemble:
        return args.ensemble, None
    run = SearchFolder(args.runs_dir / args.run if args.run else latest_run(args.runs_dir))
    return run.ensemble_folder, run


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    folder, run = ensemble_folder(args)
    if not is_ensemble(folder):
        raise UserError(str(folder), "no ensemble here: build one first with python -m ensemble.build --max-mb 50")
    if args.out.resolve() == args.train.resolve():
        raise UserError(str(args.out), "is the training file itself: write the filled file beside it, not over it")
    check_writable(args.out.resolve().parent)
    faces = load_faces(args.train, need_labels=True)
    missing = int(np.isnan(faces.keypoints).sum())
    if not missing:
        raise UserError(str(args.train), "has no missing coordinates: nothing to fill")

    start = time.perf_counter()
    ensemble = Ensemble(folder)
    if ensemble.manifest.refit is not None:
        raise UserError(str(folder), "is a refitted ensemble: its members trained on the validation faces, so labels it fills in "
                                     "would carry those faces into the next search's training; label with the searched ensemble "
                                     f"({ensemble.manifest.refit.source})")
    print(f"filling {missing} missing coordinates of {len(faces)} faces with the ensemble in {folder} "
          f"({len(ensemble.models)} members, val RMSE {ensemble.manifest.val_rmse:.3f} px) ...", flush=True)
    predictions = clip_to_frame(ensemble.predict(faces.images, tta=True), ensemble.origin)
    text = pd.read_csv(args.train, dtype=str, encoding="utf-8-sig")
    filled, mask = fill_labels(text, faces.keypoints, predictions)
    write_csv_atomically(filled.rename(columns={INDEX_COLUMN: ""}), args.out)  # an unnamed index column stays unnamed
    faces_filled = int(mask.any(axis=1).sum())
    print(f"wrote {args.out}: {missing} coordinates filled in {faces_filled} faces, every original value kept "
          f"({time.perf_counter() - start:.1f} s); the column {FILLED_COLUMN} names them")
    if run is not None:
        settings = run.settings
        print(f"a search on {args.out} with --split-seed {settings.base['split_seed']} holds out the validation faces this search "
              f"scored on (digest {settings.val_digest or 'not recorded'}), and scores on their true labels only")
        run.write_labels({"train": str(args.train), "out": str(args.out), "faces": len(faces), "faces_filled": faces_filled,
                          "coordinates_filled": missing, "coordinates": int(faces.keypoints.size), "val_digest": settings.val_digest})
        if args.report:
            run.refresh_report()


if __name__ == "__main__":
    main()
