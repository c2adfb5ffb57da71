"""Labels filled in by an ensemble (ensemble.label): marked in the file, read back as such, never
scored as true labels, weighted as the config says in the loss, and every original value kept."""


import numpy as np
import pandas as pd
import pytest
import torch

from common.errors import UserError
from data.keypoints import COLUMNS
from data.reader import FILLED_COLUMN, load_faces
from data.split import make_split
from data.synthetic import write_dataset
from ensemble.label import fill_labels
from training.losses import LOSSES


@pytest.fixture(scope="module")
def sparse_train(tmp_path_factory):
    """A Kaggle-like train.csv: 40 faces, half of them with only the four always-present keypoints."""
    return write_dataset(tmp_path_factory.mktemp("sparse"), n=40, seed=5, n_test=4, missing=0.5)[0]


def _filled_file(sparse_train, path) -> pd.DataFrame:
    text = pd.read_csv(sparse_train, dtype=str)
    faces = load_faces(sparse_train)
    filled, _ = fill_labels(text, faces.keypoints, np.full(faces.keypoints.shape, 50.0))
    filled.to_csv(path, index=False)
    return filled


def test_filling_keeps_every_original_cell_and_fills_only_the_missing_ones(sparse_train):
    text = pd.read_csv(sparse_train, dtype=str)
    keypoints = load_faces(sparse_train).keypoints
    filled, mask = fill_labels(text, keypoints, np.full(keypoints.shape, 50.0))
    np.testing.assert_array_equal(mask, np.isnan(keypoints))
    kept = text[COLUMNS].notna().to_numpy()
    assert (filled[COLUMNS].to_numpy()[kept] == text[COLUMNS].to_numpy()[kept]).all()  # as text: bit for bit
    assert (filled[COLUMNS].to_numpy()[~kept] == "50.0000").all()
    row = int(np.flatnonzero(mask.any(axis=1))[0])
    assert filled[FILLED_COLUMN].iloc[row].split() == [c for c, m in zip(COLUMNS, mask[row]) if m]
    assert (filled["Image"] == text["Image"]).all()


def test_a_filled_file_reads_with_its_mask_and_no_missing_values(sparse_train, tmp_path):
    _filled_file(sparse_train, tmp_path / "filled.csv")
    faces = load_faces(tmp_path / "filled.csv")
    np.testing.assert_array_equal(faces.filled, np.isnan(load_faces(sparse_train).keypoints))
    assert not np.isnan(faces.keypoints).any()


def test_faces_joined_to_true_ones_keep_which_of_their_labels_were_filled(sparse_train, tmp_path):
    _filled_file(sparse_train, tmp_path / "filled.csv")
    filled, true = load_faces(tmp_path / "filled.csv"), load_faces(sparse_train)
    joined = filled.joined(true)
    assert len(joined) == len(filled) + len(true) and np.array_equal(joined.keypoints[len(filled):], true.keypoints, equal_nan=True)
    assert np.array_equal(joined.filled, np.concatenate([filled.filled, np.zeros(true.keypoints.shape, bool)]))
    assert true.joined(true).filled is None


def test_validation_never_scores_a_filled_coordinate(sparse_train, tmp_path):
    _filled_file(sparse_train, tmp_path / "filled.csv")
    for split in (make_split(str(tmp_path / "filled.csv"), str(tmp_path / "filled.csv")), make_split(str(tmp_path / "filled.csv"), seed=1)):
        original = load_faces(sparse_train)
        truth = original.keypoints[np.searchsorted(original.ids, split.val.ids)]
        np.testing.assert_array_equal(np.isnan(split.val.keypoints), np.isnan(truth))
        assert split.train.filled is not None and split.val.filled is None


@pytest.mark.parametrize("problem, cell, message", [("unknown", "left_ear_x", "'left_ear_x' is not a keypoint column"),
                                                     ("empty", None, "marked filled but holds no value")])
def test_a_bad_filled_mark_is_one_error_naming_row_and_column(sparse_train, tmp_path, problem, cell, message):
    frame = pd.read_csv(sparse_train, dtype=str)
    row, column = map(int, np.argwhere(frame[COLUMNS].isna().to_numpy())[0])  # a missing coordinate
    row = row if problem == "empty" else 0
    frame[FILLED_COLUMN] = ""
    frame.loc[row, FILLED_COLUMN] = cell or COLUMNS[column]
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UserError, match=message) as err:
        load_faces(tmp_path / "bad.csv")
    assert f"row {row + 1}" in str(err.value) and FILLED_COLUMN in str(err.value)


@pytest.mark.parametrize("name", LOSSES)
def test_a_zero_weight_counts_like_a_missing_label_and_weights_scale_the_mean(name):
    prediction, target = torch.tensor([[0.1, 0.4, -0.2]]), torch.tensor([[0.0, 0.0, 0.0]])
    loss = LOSSES[name]
    assert loss(prediction, target, torch.tensor([[1.0, 0.0, 1.0]])) == pytest.approx(loss(prediction, torch.tensor([[0.0, float("nan"), 0.0]])).item())
    assert loss(prediction, target, torch.full((1, 3), 0.3)).item() == pytest.approx(loss(prediction, target).item())


def test_label_cli_fills_with_the_runs_ensemble_and_the_report_says_so(smoke_copy, sparse_train, tmp_path, cli):
    from ensemble.label import main
    from report.page import PAGE
    from search.results import SearchFolder

    search = SearchFolder(smoke_copy)
    run = cli(main, "--runs-dir", smoke_copy.parent, "--run", "smoke", "--train", sparse_train, "--out", tmp_path / "filled.csv")
    assert run.code == 0, run.err
    original, filled = load_faces(sparse_train), load_faces(tmp_path / "filled.csv")
    known = ~np.isnan(original.keypoints)
    np.testing.assert_array_equal(filled.keypoints[known], original.keypoints[known])
    np.testing.assert_array_equal(filled.filled, ~known)
    assert search.labels["coordinates_filled"] == int((~known).sum())
    assert "labels filled" in (search.report_folder / PAGE).read_text()


def test_label_cli_refuses_what_cannot_work_in_one_line_before_any_model_loads(one_member_ensemble, tiny_data, sparse_train, tmp_path, cli):
    from ensemble.label import main

    ensemble = one_member_ensemble(tmp_path / "ens")
    nothing_missing = cli(main, "--ensemble", ensemble, "--train", tiny_data[0], "--out", tmp_path / "f.csv")
    over_itself = cli(main, "--ensemble", ensemble, "--train", sparse_train, "--out", sparse_train)
    no_ensemble = cli(main, "--ensemble", tmp_path, "--train", sparse_train, "--out", tmp_path / "f.csv")
    for run, message in ((nothing_missing, "has no missing coordinates"), (over_itself, "is the training file itself"), (no_ensemble, "no ensemble here")):
        assert run.code != 0 and message in run.err and len(run.err.strip().splitlines()) == 1, run.err
    assert not (tmp_path / "f.csv").exists()


def test_label_refuses_a_refitted_ensemble_which_trained_on_the_validation_faces(sparse_train, tmp_path, capsys, one_member_ensemble):
    from ensemble.folder import Refit
    from ensemble.label import main

    one_member_ensemble(tmp_path / "refit", refit=Refit(source="runs/s/ensemble", train_faces=48, seconds=1.0))
    with pytest.raises(SystemExit):
        main(["--ensemble", str(tmp_path / "refit"), "--train", str(sparse_train), "--out", str(tmp_path / "f.csv")])
    assert "is a refitted ensemble" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()


def test_filled_labels_at_weight_zero_train_as_if_missing_and_at_one_as_if_true(sparse_train, tmp_path):
    from training.config import TrainConfig
    from training.trainer import Trainer, prepare_process

    _filled_file(sparse_train, tmp_path / "filled.csv").drop(columns=FILLED_COLUMN).to_csv(tmp_path / "unmarked.csv", index=False)
    runs = []
    for train, weight in ((sparse_train, 1.0), (tmp_path / "filled.csv", 0.0), (tmp_path / "filled.csv", 1.0), (tmp_path / "unmarked.csv", 1.0),
                          (tmp_path / "filled.csv", 0.5)):
        config = TrainConfig(train=str(train), val=str(sparse_train), arch="cnn_gap", batch_size=16, epochs=2, aug=1.0, filled_weight=weight,
                             label_origin=0.0, device="cpu")
        prepare_process(config)
        runs.append([r.val_rmse for r in Trainer(config, config.load_split()).fit()])
    assert runs[1] == runs[0]  # weight 0: as if the filled labels were missing
    assert runs[2] == runs[3]  # weight 1: as if they were true labels
    assert runs[4] not in (runs[0], runs[2])  # between: neither
