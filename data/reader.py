"""Read the users' CSVs (train, val or test layout, .csv, .csv.gz or a .zip with one CSV inside, as Kaggle ships them), validate them, cache the parse.

Every problem is a UserError naming file, row and column. Pixels are parsed in one vectorised pass
(pyarrow's string kernels), and the parsed arrays are cached (data.cache), so loading the same unchanged
file again takes milliseconds.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from common.errors import UserError

from . import cache
from .faces import Faces
from .keypoints import COLUMNS, IMAGE_SIZE, N_PIXELS

IMAGE_COLUMN = "Image"
ID_COLUMN = "ImageId"
FILLED_COLUMN = "Filled"  # ensemble.label's: the names of a row's coordinates it filled in, space-separated
INDEX_COLUMN = "Unnamed: 0"  # how pandas names a CSV's unnamed first column
COORDINATE_MARGIN = 24.0  # px a keypoint may lie outside the 96x96 frame before it is called an error


def load_faces(path: str | os.PathLike, *, need_labels: bool = False) -> Faces:
    """Load a train/val/test CSV. need_labels: a file without keypoint columns is an error."""
    path = Path(path)
    if path.is_dir():
        raise UserError(str(path), "is a folder; give the CSV file inside it")
    if not path.is_file():
        raise UserError(str(path), "no such file")
    faces = cache.load(path)
    if faces is None:
        faces = parse_csv(path)
        cache.save(path, faces)
    if need_labels and not faces.has_labels:
        raise UserError(
            str(path), "has no keypoint columns: this is a test file, but training needs a labelled train file"
        )
    return faces


def has_id_column(path: str | os.PathLike) -> bool:
    """Whether the faces' ids come from an ImageId column (else an index column or the row number)."""
    return ID_COLUMN in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns


def ignored_columns(path: str | os.PathLike) -> list[str]:
    """Columns of a CSV that kptune does not read (anything but the keypoints, Image and an id)."""
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    return [str(c) for c in header if c not in (*COLUMNS, IMAGE_COLUMN, ID_COLUMN, INDEX_COLUMN, FILLED_COLUMN)]


def parse_csv(path: Path) -> Faces:
    """Parse and validate one CSV (no cache)."""
    name = str(path)
    if path.suffix.lower() == ".zip":
        check_zip(path)
    try:
        df = pd.read_csv(path, encoding="utf-8-sig")  # -sig: a byte-order mark (Excel's UTF-8) is not part of the first name
    except pd.errors.EmptyDataError:
        raise UserError(name, "the file is empty") from None
    except pd.errors.ParserError as err:
        raise UserError(name, _explain_parser_error(str(err))) from None
    except UnicodeDecodeError as err:
        raise UserError(name, f"is not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8 CSV") from None
    except (OSError, EOFError) as err:  # e.g. a .gz cut short
        raise UserError(name, f"cannot be read as CSV ({err})") from None
    duplicated = [c for c in df.columns if re.fullmatch(r"(.+)\.\d+", str(c)) and str(c).rsplit(".", 1)[0] in (*COLUMNS, IMAGE_COLUMN)]
    if duplicated:
        raise UserError(name, f"column '{duplicated[0].rsplit('.', 1)[0]}' appears more than once", column=duplicated[0].rsplit(".", 1)[0])
    if len(df) == 0:
        raise UserError(name, "has a header but no rows")
    if IMAGE_COLUMN not in df.columns:
        raise UserError(name, f"missing column '{IMAGE_COLUMN}' (columns found: {', '.join(map(str, df.columns[:5]))}…)")
    images = _parse_images(df[IMAGE_COLUMN], name)
    keypoints = _parse_keypoints(df, name)
    filled = _parse_filled(df[FILLED_COLUMN], keypoints, name) if FILLED_COLUMN in df.columns and keypoints is not None else None
    return Faces(images, keypoints, _ids(df), name, filled=filled)


def check_zip(path: Path) -> None:
    """A .zip must hold one CSV, as Kaggle's training.zip and test.zip do; pandas reads it like a .csv."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile as err:
        raise UserError(str(path), f"is not a readable zip file ({err})") from None
    if len(names) != 1:
        raise UserError(str(path), f"holds {len(names)} files ({', '.join(names[:3]) or 'none'}); kptune reads a zip with one CSV inside")


def _parse_filled(column: pd.Series, keypoints: np.ndarray, name: str) -> np.ndarray:
    """FILLED_COLUMN -> (N, 30) bool; each name must be a keypoint column that holds a value."""
    filled = np.zeros(keypoints.shape, bool)
    for row, cell in enumerate(column.fillna("").astype(str)):
        for coordinate in cell.split():
            if coordinate not in COLUMNS:
                raise UserError(name, f"'{coordinate}' is not a keypoint column", row=row + 1, column=FILLED_COLUMN)
            j = COLUMNS.index(coordinate)
            if np.isnan(keypoints[row, j]):
                raise UserError(name, f"'{coordinate}' is marked filled but holds no value", row=row + 1, column=FILLED_COLUMN)
            filled[row, j] = True
    return filled


def _explain_parser_error(message: str) -> str:
    # pandas: "Error tokenizing data. C error: Expected 32 fields in line 5, saw 33"
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if m:
        return f"line {m[2]}: malformed row with {m[3]} fields, expected {m[1]}"
    return f"malformed CSV ({message})"


def _ids(df: pd.DataFrame) -> np.ndarray:
    for column in (ID_COLUMN, INDEX_COLUMN):
        if column in df.columns and pd.api.types.is_integer_dtype(df[column]):
            return df[column].to_numpy(np.int64)
    return np.arange(len(df), dtype=np.int64)


def _parse_images(column: pd.Series, name: str) -> np.ndarray:
    """'Image' strings -> (N, 96, 96) uint8, checking count, type and range of every pixel."""
    missing = column.isna().to_numpy()
    if missing.any():
        raise UserError(name, "image is empty", row=int(missing.argmax()) + 1, column=IMAGE_COLUMN)
    # Trimmed first: a space an editor left at either end is not a pixel.
    tokens = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(pa.array(column.astype(str), type=pa.string())))
    counts = pc.list_value_length(tokens).to_numpy()
    wrong = np.flatnonzero(counts != N_PIXELS)
    if wrong.size:
        row = int(wrong[0])
        raise UserError(name, f"image has {counts[row]} pixel values, expected {N_PIXELS}", row=row + 1, column=IMAGE_COLUMN)
    flat = pc.list_flatten(tokens)  # (N * 9216,) strings
    is_digits = pc.utf8_is_digit(flat).to_numpy(zero_copy_only=False)
    if not is_digits.all():
        i = int(np.argmin(is_digits))
        raise _pixel_error(name, i, flat[i].as_py())
    values = pc.cast(flat, pa.int64()).to_numpy()
    if values.max() > 255:
        i = int(np.argmax(values))
        raise _pixel_error(name, i, str(values[i]))
    return values.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def _pixel_error(name: str, flat_index: int, token: str) -> UserError:
    pixel, row = flat_index % N_PIXELS, flat_index // N_PIXELS + 1
    if re.fullmatch(r"[+-]?\d+", token):
        return UserError(name, f"pixel {pixel} is {token}, outside 0-255", row=row, column=IMAGE_COLUMN)
    return UserError(name, f"pixel {pixel} is '{token}', not an integer 0-255", row=row, column=IMAGE_COLUMN)


def _parse_keypoints(df: pd.DataFrame, name: str) -> np.ndarray | None:
    """The 30 keypoint columns (any order) -> (N, 30) float32 in COLUMNS order, or None for a test file."""
    present = [c for c in COLUMNS if c in df.columns]
    if not present:
        return None
    if len(present) < len(COLUMNS):
        absent = [c for c in COLUMNS if c not in df.columns]
        raise UserError(name, f"missing keypoint column '{absent[0]}' ({len(absent)} of 30 missing)")
    keypoints = np.empty((len(df), len(COLUMNS)), np.float32)
    for j, column in enumerate(COLUMNS):
        raw = df[column]
        values = pd.to_numeric(raw, errors="coerce")
        bad = (values.isna() & raw.notna()).to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise UserError(name, f"'{raw.iloc[row]}' is not a number", row=row + 1, column=column)
        infinite = np.isinf(values.to_numpy(np.float64))
        if infinite.any():
            row = int(infinite.argmax())
            raise UserError(name, f"'{raw.iloc[row]}' is not a finite number", row=row + 1, column=column)
        keypoints[:, j] = values.to_numpy(np.float32)
    low, high = -COORDINATE_MARGIN, IMAGE_SIZE + COORDINATE_MARGIN
    far = ~np.isnan(keypoints) & ((keypoints < low) | (keypoints > high))
    if far.any():
        row, j = map(int, np.argwhere(far)[0])
        raise UserError(
            name,
            f"coordinate {keypoints[row, j]:g} is far outside the 96x96 frame (allowed {low:g} to {high:g})",
            row=row + 1,
            column=COLUMNS[j],
        )
    return keypoints
