"""ensemble.distill: a student that fits its budget, trained on the teacher's predictions blended with
the true labels, shipped as a one-member ensemble folder."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from common.errors import UserError
from data.faces import Faces
from data.reader import load_faces
from data.split import make_split
from ensemble.distill import student_config, student_faces, teacher_targets, unlabelled_faces
from ensemble.folder import read_ensemble
from models import create_model, saved_size_bytes
from training.config import TrainConfig


def _candidate(arch: str, val_rmse: float):
    return SimpleNamespace(config=TrainConfig(arch=arch, lr=val_rmse / 1000), val_rmse=val_rmse)


def test_the_student_is_the_best_trial_that_fits_else_the_largest_net_that_fits():
    trials = [_candidate("resnet_m_hm", 1.5), _candidate("resnet_s_hm", 1.7), _candidate("cnn_gap", 2.5)]
    small = saved_size_bytes(create_model("resnet_s_hm"))
    student = student_config(trials, small, "fp32", None)
    assert dataclasses.replace(student, epochs=trials[1].config.epochs) == trials[1].config  # its whole recipe
    only_cnn = [_candidate("resnet_m_hm", 1.5)]
    chosen = student_config(only_cnn, small, "fp32", None)
    assert saved_size_bytes(create_model(chosen.arch)) <= small and chosen.lr == only_cnn[0].config.lr  # the best trial's recipe


def test_the_student_trains_twice_the_recipes_epochs_unless_told():
    recipe = _candidate("cnn_gap", 2.0)
    assert student_config([recipe], 1e9, "fp32", None).epochs == 2 * recipe.config.epochs
    assert student_config([recipe], 1e9, "fp32", None, epochs=5).epochs == 5
    assert student_config([recipe], 1e9, "fp32", "cnn_small").epochs == 2 * recipe.config.epochs


def test_a_budget_no_student_fits_is_one_clear_error():
    with pytest.raises(UserError, match="no registered architecture fits 0.001 MB"):
        student_config([_candidate("cnn_gap", 2.0)], 1000, "fp32", None)
    with pytest.raises(UserError, match="resnet_m_hm is .* MB in fp32, over the 0.1 MB budget"):
        student_config([_candidate("cnn_gap", 2.0)], 1e5, "fp32", "resnet_m_hm")


def test_targets_blend_true_labels_with_the_teacher_and_take_the_teacher_where_labels_are_missing():
    keypoints = np.full((2, 30), 40.0, np.float32)
    keypoints[1, 4:] = np.nan
    faces = Faces(np.zeros((2, 96, 96), np.uint8), keypoints, np.arange(2), "t")
    teacher = SimpleNamespace(predict=lambda images, tta: np.full((len(images), 30), 50.0, np.float32), origin=0.0)
    targets = teacher_targets(teacher, faces, blend=0.25)
    assert (targets[0] == 47.5).all() and (targets[1, :4] == 47.5).all() and (targets[1, 4:] == 50.0).all()
    unlabelled = Faces(faces.images, None, faces.ids, "u")
    assert (teacher_targets(teacher, unlabelled, blend=0.25) == 50.0).all()


def test_filled_in_labels_are_not_blended_as_true_ones():
    keypoints = np.full((1, 30), 40.0, np.float32)
    filled = np.zeros((1, 30), bool)
    filled[0, 10:] = True
    faces = Faces(np.zeros((1, 96, 96), np.uint8), keypoints, np.arange(1), "filled.csv", filled=filled)
    teacher = SimpleNamespace(predict=lambda images, tta: np.full((len(images), 30), 50.0, np.float32), origin=0.0)
    targets = teacher_targets(teacher, faces, blend=0.5)
    assert (targets[0, :10] == 45.0).all() and (targets[0, 10:] == 50.0).all()


def test_a_student_keeps_the_filled_mask_so_filled_weight_applies_to_it_as_to_a_trial():
    keypoints = np.full((2, 30), 40.0, np.float32)
    filled = np.zeros((2, 30), bool)
    filled[1, :6] = True
    train = Faces(np.zeros((2, 96, 96), np.uint8), keypoints, np.arange(2), "filled.csv", filled=filled)
    extra = Faces(np.zeros((3, 96, 96), np.uint8), None, np.arange(3), "test.csv")
    teacher = SimpleNamespace(predict=lambda images, tta: np.full((len(images), 30), 50.0, np.float32), origin=0.0)
    faces = student_faces(teacher, train, extra, blend=0.5)
    assert len(faces) == 5 and faces.filled[:2].tolist() == filled.tolist() and not faces.filled[2:].any()
    assert (faces.keypoints[1, :6] == 50.0).all() and (faces.keypoints[2:] == 50.0).all()


def test_a_student_never_refits_even_from_a_recipe_that_did():
    recipe = SimpleNamespace(config=TrainConfig(arch="cnn_gap", refit=True, epochs=8, stop_epoch=4), val_rmse=2.0)
    student = student_config([recipe], 1e9, "fp32", None)
    assert not student.refit and student.stop_epoch == 0 and student.epochs == 16


def test_unlabelled_faces_that_are_validation_faces_are_refused_naming_the_row(tiny_data):
    split = make_split(str(tiny_data[0]))  # the default 15 % hold-out of the training file
    row = int(np.flatnonzero(np.isin(load_faces(tiny_data[0]).ids, split.val.ids))[0]) + 1
    with pytest.raises(UserError, match=f"row {row} .* holds a validation face"):
        unlabelled_faces(tiny_data[0], split.val)


def test_unlabelled_faces_lose_their_labels_and_say_so(tiny_data, capsys):
    split = make_split(str(tiny_data[0]), str(tiny_data[0]))  # (a validation file that is not in --unlabelled)
    others = Faces(split.val.images[:0], split.val.keypoints[:0], split.val.ids[:0], "none")
    faces = unlabelled_faces(tiny_data[0], others)
    assert faces.keypoints is None and len(faces) == 48
    assert "its labels are not used" in capsys.readouterr().out


def test_distill_cli_writes_a_student_within_budget_that_ensemble_predict_uses(smoke_search, tiny_data, tmp_path, cli):
    from ensemble.distill import main as distill
    from ensemble.predict import main as predict

    run = cli(distill, "--max-mb", "1", "--runs-dir", smoke_search.parent, "--run", "smoke", "--epochs", "1", "--unlabelled", tiny_data[1],
              "--out", tmp_path / "student")
    assert run.code == 0, run.err
    manifest = read_ensemble(tmp_path / "student")[0]
    assert len(manifest.members) == 1 and (tmp_path / "student" / manifest.members[0].file).stat().st_size <= 1e6
    assert manifest.distilled.blend == 0.5 and manifest.distilled.unlabelled_faces == 12 and np.isfinite(manifest.val_rmse)
    predicted = cli(predict, "--ensemble", tmp_path / "student", "--test", tiny_data[1], "--out", tmp_path / "sub.csv")
    assert predicted.code == 0, predicted.err
    assert len((tmp_path / "sub.csv").read_text().splitlines()) == 13  # header and 12 faces


def test_distill_refuses_a_budget_no_student_fits_before_any_training(smoke_search, tmp_path, cli):
    from ensemble.distill import main

    run = cli(main, "--max-mb", "0.0001", "--runs-dir", smoke_search.parent, "--run", "smoke", "--out", tmp_path / "student")
    assert run.code != 0 and "no registered architecture fits" in run.err and len(run.err.strip().splitlines()) == 1
    assert not (tmp_path / "student").exists()
