"""Ensembles of a real smoke search: the budget holds, the ensemble is no worse than its best member,
fp16 agrees with fp32, and the submissions have the right shape."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from common.errors import UserError
from data.faces import Faces
from data.transforms import rmse_px
from ensemble.bias import MAX_FACES, MIN_LABELS, bias_faces, mean_error, member_bias
from ensemble.build import build
from ensemble.candidates import load_candidates
from ensemble.ensemble import Ensemble, predict_members
from ensemble.folder import member_bytes, read_ensemble
from ensemble.select import cross_fit, near_the_best, select
from ensemble.submission import clip_to_frame, kaggle_frame, read_lookup
from search.results import SearchFolder


@pytest.fixture(scope="module")
def candidates(_smoke_search):
    return load_candidates(_smoke_search)


def _sizes(candidates, dtype="fp32"):
    return np.array([len(member_bytes(c.state_dict(dtype))) for c in candidates])


def test_budget_below_the_total_is_respected_and_ensemble_beats_best_member(candidates, smoke_search, tmp_path):
    sizes = _sizes(candidates)
    budget_mb = (sizes.sum() - 1) / 1e6  # not all of them fit
    folder = build(candidates, budget_mb, "fp32", 50, smoke_search, tmp_path / "ens")
    manifest, states = read_ensemble(folder)
    assert sum(len(member_bytes(s)) for s in states) <= budget_mb * 1e6
    assert manifest.val_rmse <= min(c.val_rmse for c in candidates) + 1e-6
    assert sum(m.weight for m in manifest.members) == pytest.approx(1.0)


def test_member_files_on_disk_fit_a_budget_set_exactly_at_the_edge(candidates, smoke_search, tmp_path):
    smallest = _sizes(candidates).min()
    budget_mb = np.nextafter(smallest / 1e6, 1.0)  # room for the smallest member's bytes, not one byte more
    folder = build(candidates, budget_mb, "fp32", 50, smoke_search, tmp_path / "edge")
    manifest = read_ensemble(folder)[0]
    assert len(manifest.members) == 1 and (folder / manifest.members[0].file).stat().st_size <= budget_mb * 1e6


def test_the_manifest_names_the_device_its_figures_were_computed_on(smoke_search):
    manifest = read_ensemble(SearchFolder(smoke_search).ensemble_folder)[0]
    assert manifest.device == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("origin", [0.0, 1.0])
def test_predictions_are_clipped_to_the_frame_the_label_origin_implies(origin):
    predictions = np.array([[-0.7, -0.4, 95.4, 96.2] + [48.0] * 26]) + origin
    clipped = clip_to_frame(predictions, origin)
    np.testing.assert_allclose(clipped[0, :4], np.array([-0.5, -0.4, 95.4, 95.5]) + origin)


def test_selection_only_uses_members_that_fit():
    rng = np.random.default_rng(0)
    targets = rng.uniform(0, 96, (20, 30))
    good_but_big = targets + rng.normal(0, 0.1, targets.shape)
    small = [targets + rng.normal(0, 2, targets.shape) for _ in range(3)]
    predictions = np.stack([good_but_big, *small])
    chosen = select(predictions, targets, np.array([100, 10, 10, 10]), budget_bytes=30)
    assert chosen.counts[0] == 0 and chosen.size_bytes <= 30
    assert chosen.val_rmse < min(np.sqrt(np.mean((p - targets) ** 2)) for p in small)


def test_the_held_out_score_is_what_selection_on_the_same_faces_overstates():
    """30 candidates, each the truth plus its own noise, 40 faces: chosen on all the faces, the ensemble
    fits some of their noise too; scored on faces it was not chosen on, it does worse."""
    rng = np.random.default_rng(0)
    targets = rng.uniform(0, 96, (40, 30))
    predictions = targets + rng.normal(0, 2, (30, *targets.shape))
    sizes = np.full(30, 10)
    chosen = select(predictions, targets, sizes, budget_bytes=100)
    heldout = cross_fit(predictions, targets, sizes, budget_bytes=100, rounds=50, seed=0)
    assert heldout.ensemble_rmse > chosen.val_rmse
    assert heldout.ensemble_rmse < heldout.best_single_rmse  # averaging independent errors still pays on unseen faces
    assert cross_fit(predictions, targets, sizes, 100, 50, seed=0) == heldout
    assert cross_fit(predictions, targets, sizes, 100, 50, seed=1) != heldout


def test_the_held_out_score_with_flip_tta_scores_the_same_selections_on_the_flipped_predictions():
    """Selected on the plain predictions, as build selects, and scored on the ones made with flip TTA:
    here those are exact, so the ensembles that ship score 0 on the faces they were not chosen on."""
    rng = np.random.default_rng(0)
    targets = rng.uniform(0, 96, (40, 30))
    predictions = targets + rng.normal(0, 2, (5, *targets.shape))
    flipped = np.broadcast_to(targets, predictions.shape)
    heldout = cross_fit(predictions, targets, np.full(5, 10), budget_bytes=100, rounds=50, seed=0, flipped=flipped)
    assert heldout.flip_tta_ensemble_rmse == pytest.approx(0, abs=1e-9) and heldout.ensemble_rmse > 0.5
    assert cross_fit(predictions, targets, np.full(5, 10), 100, 50, 0).flip_tta_ensemble_rmse is None


def test_the_manifest_holds_the_held_out_scores_beside_the_selection_score(candidates, smoke_search, tmp_path):
    manifest = read_ensemble(build(candidates, 10, "fp32", 50, smoke_search, tmp_path / "ens", seed=3))[0]
    assert manifest.heldout.seed == 3 and manifest.heldout.ensemble_rmse != manifest.val_rmse
    assert 0 < manifest.heldout.best_single_rmse < 96 and 0 < manifest.heldout.flip_tta_ensemble_rmse < 96


def test_the_best_single_trial_is_scored_like_the_ensemble_with_its_bias_off(candidates, smoke_search):
    manifest = read_ensemble(SearchFolder(smoke_search).ensemble_folder)[0]
    by_name = {c.name: c for c in candidates}
    best = by_name[manifest.best_single.name]
    assert manifest.best_single.val_rmse < best.val_rmse  # the search's figure has its bias on
    assert manifest.best_single.val_rmse <= min(m.val_rmse for m in manifest.members) + 1e-4
    assert all(m.kept_epoch == by_name[m.name].checkpoint.kept_epoch for m in manifest.members)


def test_budget_below_the_smallest_candidate_is_a_clear_error(candidates, smoke_search, tmp_path):
    with pytest.raises(UserError, match="below the smallest candidate"):
        build(candidates, 0.001, "fp32", 50, smoke_search, tmp_path / "none")


def test_fp16_members_are_half_the_size_and_agree_with_fp32(candidates, smoke_search, tmp_path):
    assert (_sizes(candidates, "fp16") < 0.6 * _sizes(candidates)).all()
    folder = build(candidates, 10, "fp16", 50, smoke_search, tmp_path / "half")
    manifest = read_ensemble(folder)[0]
    assert manifest.dtype == "fp16" and manifest.max_diff_px < 0.05


def test_kaggle_lookup_gets_exactly_its_row_ids_back():
    ids = np.array([1, 2, 3])
    predictions = np.arange(90, dtype=float).reshape(3, 30)
    lookup = pd.DataFrame({
        "RowId": [1, 2, 3, 4, 5],
        "ImageId": [1, 1, 3, 3, 2],
        "FeatureName": ["left_eye_center_x", "nose_tip_y", "left_eye_center_x", "mouth_center_bottom_lip_y", "left_eye_center_y"],
        "Location": [np.nan] * 5,
    })
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "IdLookupTable.csv")
        lookup.to_csv(path, index=False)
        frame = kaggle_frame(predictions, read_lookup(path, ids))
    assert list(frame.columns) == ["RowId", "Location"]
    assert sorted(frame["RowId"]) == [1, 2, 3, 4, 5]
    assert frame["Location"].tolist() == [0.0, 21.0, 60.0, 89.0, 31.0]


def test_build_cli_writes_course_csv_and_predict_cli_reuses_the_folder(smoke_search, tiny_data, tmp_path, cli, monkeypatch):
    from ensemble.build import main as build_cli
    from ensemble.predict import main as predict_cli

    monkeypatch.chdir(tmp_path)
    run = cli(build_cli, "--max-mb", "1", "--runs-dir", smoke_search.parent, "--run", "smoke", "--ensemble-dir", tmp_path / "ens",
              "--test", tiny_data[1], "--student-id", "2019211234", "--tta", "flip")
    assert run.code == 0, run.err
    assert "ensemble" in run.out and "best single trial" in run.out
    course = pd.read_csv(tmp_path / "2019211234.csv")
    assert course.shape == (12, 30) and list(course.columns) == [str(i) for i in range(30)]
    assert course.to_numpy().min() >= 0 and course.to_numpy().max() <= 96

    lookup = pd.DataFrame({"RowId": range(1, 25), "ImageId": np.repeat(np.arange(1, 13), 2),
                           "FeatureName": ["nose_tip_x", "nose_tip_y"] * 12, "Location": ""})
    lookup.to_csv(tmp_path / "lookup.csv", index=False)
    run = cli(predict_cli, "--ensemble", tmp_path / "ens", "--test", tiny_data[1], "--format", "kaggle", "--lookup", tmp_path / "lookup.csv",
              "--out", tmp_path / "k.csv", "--tta", "flip")
    assert run.code == 0, run.err
    kaggle = pd.read_csv(tmp_path / "k.csv")
    assert kaggle["RowId"].tolist() == list(range(1, 25))
    np.testing.assert_allclose(kaggle["Location"].to_numpy()[::2], course["20"].to_numpy(), atol=1e-4)


def test_loaded_ensemble_predicts_in_pixels(smoke_search, tiny_data):
    from data.reader import load_faces

    predictions = Ensemble(SearchFolder(smoke_search).ensemble_folder).predict(load_faces(tiny_data[1]).images)
    assert predictions.shape == (12, 30) and np.isfinite(predictions).all()


def test_the_built_ensemble_predicts_what_its_manifest_scores(smoke_search):
    """Each member's bias comes off its answers alike in build's figures and in Ensemble.predict, with
    flip TTA and without."""
    ensemble = Ensemble(SearchFolder(smoke_search).ensemble_folder)
    val = ensemble.configs[0].load_split().val
    assert all(len(m.bias_px) == len(m.flip_bias_px) == 30 for m in ensemble.manifest.members)
    assert rmse_px(ensemble.predict(val.images), val.keypoints) == pytest.approx(ensemble.manifest.val_rmse, abs=1e-4)
    assert rmse_px(ensemble.predict(val.images, tta=True), val.keypoints) == pytest.approx(ensemble.manifest.flip_tta_val_rmse, abs=1e-4)
    assert ensemble.manifest.val_rmse != pytest.approx(ensemble.manifest.val_rmse_with_bias, abs=1e-4)


@pytest.fixture
def no_search_yet(tmp_path) -> Path:
    """A search folder with nothing in it: a command that must refuse before it reads any trial refuses here too."""
    folder = tmp_path / "runs" / "smoke"
    folder.mkdir(parents=True)
    return folder


def test_a_bad_lookup_fails_before_any_model_is_loaded(no_search_yet, tiny_data, tmp_path, cli):
    from ensemble.build import main as build_cli

    (tmp_path / "lookup.csv").write_text("RowId,ImageId,FeatureName,Location\n1,1,nose_tip_x,\n2,99,nose_tip_y,\n")
    run = cli(build_cli, "--max-mb", "1", "--runs-dir", no_search_yet.parent, "--run", "smoke", "--ensemble-dir", tmp_path / "ens",
              "--test", tiny_data[1], "--format", "kaggle", "--lookup", tmp_path / "lookup.csv", "--out", tmp_path / "k.csv")
    assert run.code == 1
    assert run.err.strip().splitlines() == [f"error: {tmp_path / 'lookup.csv'}: row 2 (line 3): column ImageId: ImageId 99 is not in the test file"]
    assert "candidate trials" not in run.out and not (tmp_path / "ens").exists()


def _kaggle_test_files(tiny_data, tmp_path):
    """(test file with an ImageId twice, test file without ImageId, a lookup for ImageIds 1 and 2)."""
    test = pd.read_csv(tiny_data[1])
    twice = test.assign(ImageId=[1, 2, 3, 3] + list(range(5, len(test) + 1)))
    twice.to_csv(tmp_path / "twice.csv", index=False)
    test.drop(columns="ImageId").to_csv(tmp_path / "no_ids.csv", index=False)
    (tmp_path / "lookup.csv").write_text("RowId,ImageId,FeatureName,Location\n1,1,nose_tip_x,\n2,2,nose_tip_y,\n")
    return tmp_path / "twice.csv", tmp_path / "no_ids.csv", tmp_path / "lookup.csv"


def test_each_argument_that_cannot_work_gets_one_line_before_any_model_loads(no_search_yet, tiny_data, tmp_path, cli):
    from ensemble.build import main as build_cli

    twice, no_ids, lookup = _kaggle_test_files(tiny_data, tmp_path)
    build_args = ["--max-mb", "1", "--runs-dir", no_search_yet.parent, "--run", "smoke", "--ensemble-dir", tmp_path / "ens", "--out", tmp_path / "k.csv"]
    kaggle = ["--format", "kaggle", "--lookup", lookup]
    cases = {
        "--rounds 0": (["--rounds", "0"], "--rounds must be 1 or more"),
        "an ImageId twice": (["--test", str(twice), *kaggle], f"error: {twice}: row 4 (line 5): column ImageId: ImageId 3 appears twice (first in row 3)"),
        "no ImageId": (["--test", str(no_ids), *kaggle], f"error: {no_ids}: column ImageId: has no ImageId column"),
    }
    for name, (extra, message) in cases.items():
        run = cli(build_cli, *build_args, *extra)
        assert run.code != 0 and message in run.err.strip().splitlines()[-1], name
        assert "candidate trials" not in run.out and not (tmp_path / "ens").exists(), name


def test_an_unwritable_output_folder_fails_before_any_work(no_search_yet, tiny_data, tmp_path, cli):
    from ensemble.build import main as build_cli

    run = cli(build_cli, "--max-mb", "1", "--runs-dir", no_search_yet.parent, "--run", "smoke", "--ensemble-dir", tmp_path / "ens",
              "--test", tiny_data[1], "--out", tmp_path / "no/such/dir/s.csv")
    assert run.code == 1 and "no such folder to write into" in run.err
    assert not (tmp_path / "ens").exists()


def test_two_builds_at_once_wait_for_each_other_and_leave_one_whole_ensemble(smoke_search, tiny_data, tmp_path):
    """Both builds are held at the ensemble folder's lock, each with its whole ensemble written aside (so
    they overlap, not just run one after the other); let go, each swaps its own in, one at a time."""
    from common.files import folder_lock
    from ensemble.folder import MANIFEST

    def start(n):
        return subprocess.Popen([sys.executable, "-m", "ensemble.build", "--max-mb", "1", "--runs-dir", str(smoke_search.parent),
                                 "--run", "smoke", "--ensemble-dir", str(tmp_path / "ens"), "--test", str(tiny_data[1]),
                                 "--out", str(tmp_path / f"s{n}.csv")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def both_written_aside():
        assert all(b.poll() is None for b in builds), [b.stderr.read() for b in builds]
        return len([d for d in tmp_path.glob(".ens.*") if (d / MANIFEST).is_file()]) == 2

    with folder_lock(tmp_path / "ens"):
        builds = [start(1), start(2)]
        deadline = time.monotonic() + 300
        while not both_written_aside():
            assert time.monotonic() < deadline, "the builds did not both reach the lock"
            time.sleep(0.2)
        assert not (tmp_path / "ens").exists() and all(b.poll() is None for b in builds)
    assert [b.wait(timeout=300) for b in builds] == [0, 0], [b.stderr.read() for b in builds]
    manifest, states = read_ensemble(tmp_path / "ens")  # whole: every member the manifest names loads
    assert len(states) == len(manifest.members) >= 1 and not [d for d in tmp_path.glob(".ens.*") if d.is_dir()]  # nothing left aside
    for n in (1, 2):
        assert pd.read_csv(tmp_path / f"s{n}.csv").shape == (12, 30)


def test_a_truncated_member_checkpoint_is_skipped_with_a_warning(smoke_copy, capsys):
    from training.checkpoint import WEIGHTS

    trials = SearchFolder(smoke_copy).trials()
    weights = trials[0].checkpoint.folder / WEIGHTS
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    names = {c.name for c in load_candidates(smoke_copy)}
    assert trials[0].id not in names and len(names) == len(trials) - 1
    assert f"warning: trial {trials[0].id}" in capsys.readouterr().err


class _FixedAnswer(torch.nn.Module):
    """A 'net' that gives every face the same normalised keypoints, mirrored or not."""

    def __init__(self, answer: torch.Tensor):
        super().__init__()
        self.register_buffer("answer", answer)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.answer.expand(len(images), -1)


def test_flip_tta_mirrors_back_about_each_members_label_origin():
    """One pixel more origin moves the mirrored answer by two, so the TTA average's x by one; y stays."""
    model, images = _FixedAnswer(torch.linspace(-0.5, 0.5, 30)[None]), np.zeros((3, 96, 96), np.uint8)
    at = {origin: predict_members([model], np.ones(1), images, torch.device("cpu"), bf16=False, tta_origins=[origin]) for origin in (0.0, 1.0)}
    np.testing.assert_allclose(at[1.0][:, 0::2] - at[0.0][:, 0::2], 1.0, atol=1e-5)
    np.testing.assert_allclose(at[1.0][:, 1::2], at[0.0][:, 1::2])


def _faces(keypoints: np.ndarray) -> Faces:
    return Faces(np.zeros((len(keypoints), 96, 96), np.uint8), keypoints.astype(np.float32), np.arange(len(keypoints)), "train.csv")


def test_a_members_mean_error_on_training_faces_comes_off_its_answers():
    model = _FixedAnswer(torch.linspace(-0.5, 0.5, 30)[None])
    answer = predict_members([model], np.ones(1), np.zeros((1, 96, 96), np.uint8), torch.device("cpu"), bf16=False)[0]  # (30,) px
    labels = answer - np.linspace(-1, 1, 30) + np.random.default_rng(0).normal(0, 0.1, (100, 30))
    bias = member_bias(model, 0.0, _faces(labels), torch.device("cpu"), bf16=False, tta=False)
    np.testing.assert_allclose(bias, np.linspace(-1, 1, 30), atol=0.05)
    corrected = predict_members([model], np.ones(1), np.zeros((1, 96, 96), np.uint8), torch.device("cpu"), bf16=False, biases=[bias])
    np.testing.assert_allclose(corrected[0], labels.mean(0), atol=1e-4)


def test_a_coordinate_labelled_on_too_few_training_faces_gets_no_bias():
    labels = np.zeros((MIN_LABELS, 30))
    labels[1:, 0] = np.nan  # coordinate 0: one label
    assert mean_error(np.ones_like(labels), labels).tolist() == [0.0] + [1.0] * 29


def test_the_bias_is_measured_on_true_labels_only_and_at_most_max_faces():
    labels = np.zeros((3 * MAX_FACES, 30), np.float32)
    filled = np.zeros_like(labels, bool)
    filled[:, 0] = True
    faces = bias_faces(Faces(np.zeros((len(labels), 96, 96), np.uint8), labels, np.arange(len(labels)), "filled.csv", filled=filled))
    assert len(faces) == MAX_FACES and np.isnan(faces.keypoints[:, 0]).all() and not np.isnan(faces.keypoints[:, 1:]).any()


def test_a_trial_more_than_the_share_of_the_way_from_the_best_to_the_mean_face_is_left_out():
    """Best 1.5 px, mean face 4.16 px: half-way is 2.83 px."""
    kept = near_the_best(np.array([1.8, 1.5, 2.9, 4.1, 2.8]), mean_face_rmse=4.16, share=0.5)
    assert kept.tolist() == [True, True, False, False, True]


def test_drop_weak_leaves_out_trials_before_selection(candidates, smoke_search, tmp_path):
    """At share 0 only the best trial is a candidate: the ensemble is that one trial."""
    manifest = read_ensemble(build(candidates, 10, "fp32", 50, smoke_search, tmp_path / "best", drop_weak=0.0))[0]
    assert [m.name for m in manifest.members] == [min(candidates, key=lambda c: c.val_rmse).name]
