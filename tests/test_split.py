import numpy as np
import pandas as pd

from data.faces import Faces
from data.keypoints import COLUMNS
from data.reader import load_faces
from data.split import Split, make_split
from ensemble.label import fill_labels


def test_held_out_split_is_seeded_and_disjoint(tiny_data):
    a = make_split(str(tiny_data[0]), seed=1)
    b = make_split(str(tiny_data[0]), seed=1)
    np.testing.assert_array_equal(a.val.ids, b.val.ids)
    assert not set(a.val.ids) & set(a.train.ids)
    assert len(a.train) + len(a.val) == 48


def test_separate_validation_file_is_used_whole(tiny_data):
    split = make_split(str(tiny_data[0]), str(tiny_data[0]))
    assert len(split.val) == 48


def _with_blank_rows(source, path, rows) -> pd.DataFrame:
    """`source` with every keypoint of `rows` blanked: faces without any label, as Kaggle's file has."""
    text = pd.read_csv(source, dtype=str)
    text.loc[rows, COLUMNS] = np.nan
    text.to_csv(path, index=False)
    return text


def test_a_file_filled_by_an_ensemble_holds_out_the_same_validation_faces(tiny_data, tmp_path):
    """ensemble.label fills rows that had no label at all: they must not move the hold-out, or the next
    search would validate on faces the labelling ensemble trained on."""
    text = _with_blank_rows(tiny_data[0], tmp_path / "sparse.csv", [0, 5, 9, 17, 30])
    filled, _ = fill_labels(text, load_faces(tmp_path / "sparse.csv").keypoints, np.full((48, 30), 48.0))
    filled.to_csv(tmp_path / "filled.csv", index=False)
    before, after = make_split(str(tmp_path / "sparse.csv")), make_split(str(tmp_path / "filled.csv"))
    assert after.val_digest == before.val_digest
    np.testing.assert_array_equal(after.val.ids, before.val.ids)
    assert {0, 5, 9, 17, 30} <= set(after.train.ids)  # the rows only the ensemble labelled train


def test_the_digest_names_the_validation_faces_not_their_ids(tiny_data):
    a, b = make_split(str(tiny_data[0]), seed=1), make_split(str(tiny_data[0]), seed=2)
    assert a.val_digest == make_split(str(tiny_data[0]), seed=1).val_digest
    assert a.val_digest != b.val_digest
    renumbered = Faces(a.val.images, a.val.keypoints, a.val.ids + 1000, "other.csv")
    assert Split(a.train, renumbered).val_digest == a.val_digest


def test_a_searchs_seed_leaves_its_split_alone():
    from search.run import parse_args, settings_from_args

    settings = settings_from_args(parse_args(["--smoke", "--seed", "5"]))
    assert settings.seed == 5 and settings.base["seed"] == 5 and settings.base["split_seed"] == 0
    assert settings_from_args(parse_args(["--smoke", "--split-seed", "3"])).base["split_seed"] == 3
