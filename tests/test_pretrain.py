"""Several training files trained on together (training.pretrain, `--train A B`): each keeps its own missing
keypoints, and labels of another pixel convention are moved into the first file's."""

import numpy as np
import pandas as pd
import pytest

from data.keypoints import COLUMNS, KEYPOINT_NAMES
from data.split import FILES_SEPARATOR, load_train_faces, make_split
from data.synthetic import images_to_strings, make_faces
from training.checkpoint import Checkpoint
from training.pretrain import main as pretrain

FIVE = ["left_eye_center", "right_eye_center", "nose_tip", "mouth_left_corner", "mouth_right_corner"]  # MTFL's points


def _write(path, images, keypoints) -> str:
    pd.DataFrame(keypoints, columns=COLUMNS).assign(Image=images_to_strings(images)).to_csv(path, index=False, float_format="%.4f")
    return str(path)


@pytest.fixture(scope="module")
def two_files(tmp_path_factory) -> tuple[str, str, np.ndarray]:
    """fifteen.csv: 200 faces, every keypoint, labelled in the pixel-index convention (origin 0); five.csv:
    200 other faces with five keypoints, labelled 1-based (origin 1); and five.csv's labels in origin 0."""
    folder = tmp_path_factory.mktemp("two")
    images, keypoints = make_faces(200, seed=11)
    fifteen = _write(folder / "fifteen.csv", images, keypoints)
    images, keypoints = make_faces(200, seed=12)
    kept = [COLUMNS.index(f"{name}_{axis}") for name in FIVE for axis in "xy"]
    five_labels = np.full_like(keypoints, np.nan)
    five_labels[:, kept] = keypoints[:, kept]
    return fifteen, _write(folder / "five.csv", images, five_labels + 1.0), five_labels


def test_two_files_join_with_the_second_files_labels_moved_into_the_first_files_convention(two_files, capsys):
    fifteen, five, five_in_origin_0 = two_files
    faces = load_train_faces(FILES_SEPARATOR.join([fifteen, five]))
    assert len(faces) == 400
    np.testing.assert_allclose(faces.keypoints[200:], five_in_origin_0, atol=1e-3)  # NaN where five.csv has none
    assert "its labels moved by -1 px" in capsys.readouterr().out


def test_the_hold_out_of_two_files_draws_from_both(two_files):
    fifteen, five, _ = two_files
    split = make_split(FILES_SEPARATOR.join([fifteen, five]), seed=0)
    labelled = (~np.isnan(split.val.keypoints)).sum(axis=1) // 2  # keypoints per validation face
    assert len(split.train) + len(split.val) == 400
    assert set(labelled) == {len(FIVE), len(KEYPOINT_NAMES)}


def test_pretrain_writes_a_checkpoint_that_names_every_file_it_learned_from(two_files, cli, tmp_path):
    fifteen, five, _ = two_files
    ran = cli(pretrain, "--train", fifteen, five, "--out", tmp_path / "start", "--arch", "cnn_gap", "--epochs", 1)
    assert ran.code == 0, ran.err
    assert Checkpoint(tmp_path / "start").config.train == FILES_SEPARATOR.join([fifteen, five])
    assert f"--init {tmp_path / 'start'}" in ran.out
