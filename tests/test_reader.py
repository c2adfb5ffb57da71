"""The reader: layouts it accepts, and the one clear error for each kind of bad input."""

import gzip

import numpy as np
import pandas as pd
import pytest

from common.errors import UserError
from data.keypoints import COLUMNS
from data.reader import load_faces


@pytest.fixture()
def train_frame(tiny_data) -> pd.DataFrame:
    return pd.read_csv(tiny_data[0], index_col=0)


def write(frame: pd.DataFrame, path, index=True) -> str:
    frame.to_csv(path, index=index)
    return str(path)


def test_reads_train_layout_with_labels(tiny_data):
    faces = load_faces(tiny_data[0], need_labels=True)
    assert faces.images.shape == (48, 96, 96) and faces.images.dtype == np.uint8
    assert faces.keypoints.shape == (48, 30)
    np.testing.assert_array_equal(faces.ids, np.arange(48))


def test_reads_kaggle_test_layout(tiny_data):
    faces = load_faces(tiny_data[1])
    assert faces.keypoints is None and len(faces) == 12
    np.testing.assert_array_equal(faces.ids, np.arange(1, 13))


def test_gzip_columns_in_any_order_and_missing_labels(train_frame, tmp_path):
    frame = train_frame[["Image"] + COLUMNS[::-1]].copy()
    frame.iloc[3, 1:5] = np.nan
    path = tmp_path / "shuffled.csv.gz"
    with gzip.open(path, "wt") as f:
        frame.to_csv(f)
    faces = load_faces(path, need_labels=True)
    np.testing.assert_allclose(faces.keypoints[0], train_frame[COLUMNS].iloc[0].to_numpy(np.float32), atol=1e-4)
    assert np.isnan(faces.keypoints[3]).sum() == 4


def test_second_load_of_an_unchanged_file_comes_from_the_cache(train_frame, tmp_path):
    path = write(train_frame, tmp_path / "t.csv")
    first = load_faces(path)
    second = load_faces(path)
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.images, second.images)


def test_a_changed_file_is_parsed_again(train_frame, tmp_path):
    path = write(train_frame, tmp_path / "t.csv")
    load_faces(path)
    write(train_frame.iloc[:10], path)
    faces = load_faces(path)
    assert len(faces) == 10 and not faces.from_cache


def _error(path, **kw) -> str:
    with pytest.raises(UserError) as err:
        load_faces(path, **kw)
    return str(err.value)


def test_missing_image_column(train_frame, tmp_path):
    msg = _error(write(train_frame.drop(columns="Image"), tmp_path / "a.csv"))
    assert "a.csv" in msg and "missing column 'Image'" in msg


def test_wrong_pixel_count_names_row_and_column(train_frame, tmp_path):
    train_frame.iloc[4, -1] = train_frame.iloc[4, -1] + " 7"
    msg = _error(write(train_frame, tmp_path / "b.csv"))
    assert "row 5 (line 6)" in msg and "column Image" in msg and "9217 pixel values" in msg


def test_non_numeric_pixel(train_frame, tmp_path):
    pixels = train_frame.iloc[2, -1].split()
    pixels[17] = "x9"
    train_frame.iloc[2, -1] = " ".join(pixels)
    msg = _error(write(train_frame, tmp_path / "c.csv"))
    assert "row 3" in msg and "pixel 17 is 'x9'" in msg


def test_pixel_out_of_range(train_frame, tmp_path):
    pixels = train_frame.iloc[6, -1].split()
    pixels[0] = "256"
    train_frame.iloc[6, -1] = " ".join(pixels)
    msg = _error(write(train_frame, tmp_path / "d.csv"))
    assert "row 7" in msg and "pixel 0 is 256, outside 0-255" in msg


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_text("")
    assert "e.csv: the file is empty" in _error(tmp_path / "e.csv")


def test_non_numeric_keypoint(train_frame, tmp_path):
    train_frame["nose_tip_y"] = train_frame["nose_tip_y"].astype(object)
    train_frame.loc[8, "nose_tip_y"] = "abc"
    msg = _error(write(train_frame, tmp_path / "f.csv"))
    assert "row 9" in msg and "column nose_tip_y" in msg and "'abc' is not a number" in msg


def test_coordinate_far_outside_the_frame(train_frame, tmp_path):
    train_frame.loc[1, "left_eye_center_x"] = 250.0
    msg = _error(write(train_frame, tmp_path / "g.csv"))
    assert "row 2" in msg and "column left_eye_center_x" in msg and "far outside" in msg


def test_test_file_where_a_train_file_is_needed(tiny_data):
    assert "test file" in _error(tiny_data[1], need_labels=True)


def test_malformed_row_names_the_line(train_frame, tmp_path):
    path = write(train_frame, tmp_path / "h.csv")
    lines = open(path).read().splitlines()
    lines[3] += ",extra"
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n")
    msg = _error(path)
    assert "line 4" in msg and "malformed row" in msg


def test_inspect_cli_prints_one_line_and_exits_1_on_bad_input(tmp_path, cli):
    from data.inspect import main

    (tmp_path / "empty.csv").write_text("")
    run = cli(main, tmp_path / "empty.csv")
    assert run.code == 1
    assert run.err.strip().splitlines() == [f"error: {tmp_path / 'empty.csv'}: the file is empty"]


def test_inspect_cli_reports_rows_and_cache(tiny_data, cli):
    from data.inspect import main

    run = cli(main, tiny_data[0])
    assert run.code == 0
    assert "48 rows" in run.out and "complete rows: 48 of 48" in run.out and "loaded in" in run.out


def test_missing_keypoint_column(train_frame, tmp_path):
    msg = _error(write(train_frame.drop(columns="nose_tip_y"), tmp_path / "i.csv"))
    assert "i.csv" in msg and "missing keypoint column 'nose_tip_y'" in msg


# --- A corpus of awkward files: each valid one loads with the right pixels; each invalid one makes
# `python -m data.inspect` print one line and exit 1 (no traceback).

def _image_cell(frame: pd.DataFrame, row: int) -> str:
    return frame["Image"].iloc[row]


def _valid_files(frame: pd.DataFrame, tmp_path) -> dict:
    """name -> path of a file that must load exactly like `frame`."""
    plain = frame.to_csv()
    files = {
        "trailing space in Image": frame.assign(Image=frame["Image"] + " ").to_csv(),
        "leading space in Image": frame.assign(Image=" " + frame["Image"]).to_csv(),
        "tabs and double spaces between pixels": frame.assign(Image=frame["Image"].str.replace(" ", " \t ", n=5)).to_csv(),
        "UTF-8 byte-order mark": "\ufeff" + plain,
        "CRLF line endings": plain.replace("\n", "\r\n"),
        "every field quoted": frame.to_csv(quoting=1),
        "extra columns": frame.assign(Subject="a", Session=3).to_csv(),
    }
    paths = {}
    for i, (name, text) in enumerate(files.items()):
        paths[name] = tmp_path / f"valid{i}.csv"
        paths[name].write_bytes(text.encode("utf-8"))
    paths["gzip with trailing spaces"] = tmp_path / "valid.csv.gz"
    with gzip.open(paths["gzip with trailing spaces"], "wt") as f:
        f.write(files["trailing space in Image"])
    return paths


def test_awkward_but_valid_files_load_with_the_right_pixels(train_frame, tmp_path):
    expected = load_faces(write(train_frame, tmp_path / "plain.csv"))
    for name, path in _valid_files(train_frame, tmp_path).items():
        faces = load_faces(path, need_labels=True)
        np.testing.assert_array_equal(faces.images, expected.images, err_msg=name)
        np.testing.assert_allclose(faces.keypoints, expected.keypoints, err_msg=name)


def test_inspect_names_the_columns_it_ignores(train_frame, tmp_path, capsys):
    from data.inspect import main

    main([write(train_frame.assign(Subject="a"), tmp_path / "extra.csv")])
    assert "ignored columns (not keypoints, Image or an id): Subject" in capsys.readouterr().out


def _invalid_files(frame: pd.DataFrame, tmp_path) -> dict:
    """name -> (path, what the one line must say)."""
    def text(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)

    plain = frame.to_csv()
    truncated = gzip.compress(plain.encode())[:5000]
    duplicated = frame.copy()
    duplicated.insert(1, "nose_tip_y_copy", duplicated["nose_tip_y"])
    duplicated_text = duplicated.to_csv().replace("nose_tip_y_copy", "nose_tip_y", 1)
    infinite = frame.copy()
    infinite.loc[2, "mouth_left_corner_x"] = np.inf
    (tmp_path / "folder.csv").mkdir()
    return {
        "a folder": (str(tmp_path / "folder.csv"), "is a folder"),
        "a truncated .gz": (text("cut.csv.gz", truncated), "cannot be read as CSV"),
        "not UTF-8": (text("latin1.csv", plain.replace("Image", "Imagé").encode("latin-1")), "is not UTF-8 text"),
        "a keypoint column twice": (text("twice.csv", duplicated_text), "column 'nose_tip_y' appears more than once"),
        "an inf coordinate": (text("inf.csv", infinite.to_csv()), "row 3 (line 4): column mouth_left_corner_x: 'inf' is not a finite number"),
        "an empty file": (text("empty.csv", ""), "the file is empty"),
        "a header and no rows": (text("header.csv", plain.splitlines()[0] + "\n"), "has a header but no rows"),
        "no Image column": (text("noimage.csv", frame.drop(columns="Image").to_csv()), "missing column 'Image'"),
        "a pixel missing": (text("short.csv", frame.assign(Image=frame["Image"].str.rsplit(" ", n=1).str[0]).to_csv()), "9215 pixel values"),
        "a word for a pixel": (text("word.csv", frame.assign(Image=frame["Image"].str.replace(r"^\d+", "x", regex=True)).to_csv()),
                               "pixel 0 is 'x'"),
        "a missing file": (str(tmp_path / "nowhere.csv"), "no such file"),
    }


def test_each_invalid_file_gets_one_line_and_exit_1(train_frame, tmp_path, capsys):
    from data.inspect import main

    cases = _invalid_files(train_frame, tmp_path)
    for name, (path, words) in cases.items():
        with pytest.raises(SystemExit) as exit_code:
            main([path])
        lines = capsys.readouterr().err.strip().splitlines()
        assert exit_code.value.code == 1, name
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}") and words in lines[0], (name, lines)


def test_an_unwritable_cache_only_warns(train_frame, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a cache 'folder' that cannot be created (read-only for any user, root included)
    monkeypatch.setenv("KPTUNE_CACHE", str(blocker / "cache"))
    faces = load_faces(write(train_frame, tmp_path / "t.csv"))
    assert len(faces) == 48 and "warning: cannot cache the parsed file" in capsys.readouterr().err
