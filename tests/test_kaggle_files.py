"""Kaggle's files as downloaded: training.zip and test.zip with one CSV inside, IdLookupTable.csv beside
them, and a submission in Kaggle's layout without a format flag."""

import argparse
import zipfile

import numpy as np
import pandas as pd
import pytest

from common.errors import UserError
from data.keypoints import COLUMNS
from data.reader import load_faces
from ensemble.submission import LOOKUP_NAME, add_submission_args, check_submission_args, check_submission_inputs


def _zip(csv, path, name):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv, name)
    return path


@pytest.fixture
def kaggle_download(tiny_data, tmp_path):
    """The folder Kaggle's download unpacks to: training.zip, test.zip, IdLookupTable.csv."""
    train, test = tiny_data
    _zip(train, tmp_path / "training.zip", "training.csv")
    _zip(test, tmp_path / "test.zip", "test.csv")
    pd.DataFrame({"RowId": [1, 2, 3], "ImageId": [1, 1, 2], "FeatureName": [COLUMNS[0], COLUMNS[1], COLUMNS[0]]}).to_csv(
        tmp_path / LOOKUP_NAME, index=False)
    return tmp_path


def test_a_zip_with_one_csv_reads_as_the_csv_does(kaggle_download, tiny_data):
    zipped, plain = load_faces(kaggle_download / "training.zip"), load_faces(tiny_data[0])
    np.testing.assert_array_equal(zipped.images, plain.images)
    np.testing.assert_array_equal(zipped.keypoints, plain.keypoints)
    np.testing.assert_array_equal(load_faces(kaggle_download / "test.zip").ids, load_faces(tiny_data[1]).ids)


def test_a_zip_with_other_than_one_file_is_one_clear_error(tiny_data, tmp_path):
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.write(tiny_data[0], "training.csv")
        archive.write(tiny_data[1], "test.csv")
    with pytest.raises(UserError, match=r"two.zip: holds 2 files \(training.csv, test.csv\); kptune reads a zip with one CSV inside"):
        load_faces(tmp_path / "two.zip")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="bad.zip: is not a readable zip file"):
        load_faces(tmp_path / "bad.zip")


def _inputs(*argv):
    parser = argparse.ArgumentParser()
    add_submission_args(parser)
    args = parser.parse_args([str(a) for a in argv])
    check_submission_args(parser, args)
    return check_submission_inputs(args)


def test_a_test_file_with_its_lookup_table_beside_it_gets_kaggles_layout_said_in_one_line(kaggle_download, tmp_path, capsys):
    inputs = _inputs("--test", kaggle_download / "test.zip", "--out", tmp_path / "s.csv")
    assert inputs.lookup is not None and list(inputs.lookup.row_ids) == [1, 2, 3]
    assert capsys.readouterr().out.count("Kaggle's layout") == 1


def test_without_a_lookup_table_or_when_told_the_course_layout_stays(kaggle_download, tiny_data, tmp_path):
    assert _inputs("--test", tiny_data[1], "--out", tmp_path / "s.csv").lookup is None  # none beside it
    assert _inputs("--test", kaggle_download / "test.zip", "--format", "course", "--out", tmp_path / "s.csv").lookup is None
    given = _inputs("--test", tiny_data[1], "--lookup", kaggle_download / LOOKUP_NAME, "--out", tmp_path / "s.csv")
    assert given.lookup is not None  # a lookup given anywhere


def test_a_test_file_without_image_ids_keeps_the_course_layout_unless_kaggles_is_asked_for(kaggle_download, tiny_data, tmp_path):
    pd.read_csv(tiny_data[1]).drop(columns="ImageId").to_csv(tmp_path / "test.csv")  # ids from an index column
    (tmp_path / LOOKUP_NAME).write_text((kaggle_download / LOOKUP_NAME).read_text())
    assert _inputs("--test", tmp_path / "test.csv", "--out", tmp_path / "s.csv").lookup is None
    with pytest.raises(UserError, match="has no ImageId column"):
        _inputs("--test", tmp_path / "test.csv", "--format", "kaggle", "--out", tmp_path / "s.csv")
