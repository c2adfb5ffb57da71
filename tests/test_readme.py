"""What the README and docs/ promise a user, each promise a test: the demo, the hold-out, the flags that
change a search or an ensemble, and the commands that list and draw."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.keypoints import COLUMNS, X_COLUMNS
from data.reader import load_faces
from data.split import make_split
from data.synthetic import write_dataset
from search.results import SearchFolder


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_the_demo_searches_built_in_faces_and_ensemble_build_takes_the_test_file_it_printed(ray_cluster, tmp_path, monkeypatch, cli):
    """The README's demo, shortened to two 1-epoch trials: `search.run` with no data, then `ensemble.build
    --max-mb 50 --test` with the path it printed, then `report`. The demo's 1000 faces are enough to
    estimate the label origin (the synthetic faces' is 0), and 15 % of them are held out."""
    from ensemble.build import main as build
    from report.__main__ import main as report
    from search.run import main as search

    monkeypatch.chdir(tmp_path)  # runs/ and submission.csv land where the user stands
    searched = cli(search, "--trials", "2", "--max-epochs", "1", "--grace-period", "1", "--no-dashboard")
    assert searched.code == 0, searched.err[-2000:]
    test_csv = re.search(r"their test faces, for ensemble.build --test: (\S+)", searched.out)[1]
    assert "data: 850 train faces, 150 validation faces" in searched.out
    assert "label origin" not in searched.err  # estimated, no warning: too few faces or an unsure estimate would warn
    (run,) = (tmp_path / "runs").iterdir()
    page = SearchFolder(run).report_folder / "index.html"
    assert "<h2>Ensemble</h2>" not in page.read_text()  # the search wrote its report; no ensemble yet

    built = cli(build, "--max-mb", "50", "--test", test_csv)
    assert built.code == 0, built.err[-2000:]
    submission = pd.read_csv(tmp_path / "submission.csv")
    assert len(submission) == len(load_faces(test_csv)) and submission.shape[1] == 30

    assert "<h2>Ensemble</h2>" in page.read_text()  # build refreshed the report
    assert Path(cli(report).out.split("report: ")[1].strip()).resolve() == page.resolve()  # the latest search's page


def test_a_search_on_your_data_ends_within_its_time_budget_and_only_reads_your_data_folder(ray_cluster, tmp_path, cli):
    """`--time-budget` (minutes) ends a search that asked for more trials than fit; the data folder has
    the same files, unchanged, after the search; the labels' origin (here 1: Matlab's convention) is
    estimated from the faces and every trial trains with it."""
    from search.run import main as search

    data = tmp_path / "my_data"
    train, _ = write_dataset(data, n=300, seed=5, n_test=1)
    frame = pd.read_csv(train, index_col=0)
    x = [COLUMNS[i] for i in X_COLUMNS]
    frame[x] += 1.0  # pixel column c's centre at x = c + 1
    frame.to_csv(train)
    before = _files(data)
    ran = cli(search, "--train", train, "--space", Path("configs/smoke.yaml").resolve(), "--trials", "50", "--max-epochs", "3",
              "--time-budget", "0.3", "--storage", tmp_path / "runs", "--name", "budget", "--no-dashboard", "--no-report")
    assert ran.code == 0, ran.err[-2000:]
    trials = SearchFolder(tmp_path / "runs" / "budget").trials()
    assert 1 <= len(trials) < 50 and "label origin 1 px" in ran.out
    assert {t.config.label_origin for t in trials if t.config} == {1.0}
    assert _files(data) == before


def test_one_trial_at_a_time_the_same_search_twice_gives_the_same_trials(ray_cluster, tmp_path, cli):
    """`--max-concurrent 1` (with the same --seed): the same configurations, in order, scoring the same;
    `label_origin: 1` in the space reaches every trial."""
    from search.run import main as search

    space = tmp_path / "space.yaml"
    space.write_text("arch: cnn_gap\nbatch_size: 16\nlabel_origin: 1\nlr: {loguniform: [1.0e-3, 1.0e-2]}\n")
    runs = []
    for name in ("first", "second"):
        ran = cli(search, "--smoke", "--trials", "3", "--space", space, "--max-concurrent", "1", "--storage", tmp_path, "--name", name,
                  "--no-dashboard", "--no-report")
        assert ran.code == 0, ran.err[-2000:]
        trials = sorted(SearchFolder(tmp_path / name).trials(), key=lambda t: t.history["timestamp"].min())  # in the order they ran
        runs.append([(t.config.lr, t.config.label_origin, t.best_val_rmse) for t in trials])
    assert runs[0] == runs[1] and len(runs[0]) == 3
    assert {origin for _, origin, _ in runs[0]} == {1.0} and len({lr for lr, _, _ in runs[0]}) == 3


def test_without_a_rung_cooldown_asha_judges_the_runs_own_score(ray_cluster, tmp_path, cli):
    """`--rung-cooldown 0`: the rung score is the run's best validation RMSE so far, no branch trained."""
    from search.run import main as search

    ran = cli(search, "--smoke", "--trials", "2", "--max-epochs", "2", "--grace-period", "1", "--rung-cooldown", "0",
              "--storage", tmp_path, "--name", "plain", "--no-dashboard", "--no-report")
    assert ran.code == 0, ran.err[-2000:]
    for trial in SearchFolder(tmp_path / "plain").trials():
        at_rung = trial.history.set_index("epoch").loc[1]
        assert at_rung["rung_rmse"] == at_rung["val_rmse"]


def test_an_fp16_ensemble_from_the_command_line_ships_half_precision_members(smoke_search, tmp_path, cli):
    import torch

    from ensemble.build import main as build
    from ensemble.folder import read_ensemble

    built = cli(build, "--max-mb", "10", "--dtype", "fp16", "--runs-dir", smoke_search.parent, "--run", "smoke", "--ensemble-dir", tmp_path / "half")
    assert built.code == 0, built.err
    manifest, states = read_ensemble(tmp_path / "half")
    assert manifest.dtype == "fp16"
    assert {v.dtype for state in states for v in state.values() if v.is_floating_point()} == {torch.float16}


def test_tta_none_predicts_one_view_and_flip_averages_the_mirror(one_member_ensemble, tiny_data, tmp_path, cli):
    from ensemble.ensemble import Ensemble
    from ensemble.predict import main as predict
    from ensemble.submission import clip_to_frame

    folder = one_member_ensemble(tmp_path / "ens")
    ensemble, faces = Ensemble(folder), load_faces(tiny_data[1])
    written = {}
    for tta in ("none", "flip"):
        assert cli(predict, "--ensemble", folder, "--test", tiny_data[1], "--format", "course", "--tta", tta, "--out", tmp_path / f"{tta}.csv").code == 0
        written[tta] = pd.read_csv(tmp_path / f"{tta}.csv").to_numpy()
    np.testing.assert_allclose(written["none"], clip_to_frame(ensemble.predict(faces.images, tta=False), 0.0), atol=1e-4)
    np.testing.assert_allclose(written["flip"], clip_to_frame(ensemble.predict(faces.images, tta=True), 0.0), atol=1e-4)
    assert not np.allclose(written["none"], written["flip"], atol=1e-3)  # an untrained net is not mirror-symmetric


@pytest.mark.parametrize("gpu, gpus_per_trial, space", [(False, [], "space_cpu.yaml"), (True, [], "space.yaml"),
                                                        (True, ["--gpus-per-trial", "0"], "space_cpu.yaml")])
def test_the_default_space_is_the_large_one_only_where_trials_get_gpus(monkeypatch, tmp_path, gpu, gpus_per_trial, space):
    import torch

    from search.run import parse_args, settings_from_args

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    settings = settings_from_args(parse_args(["--train", str(tmp_path / "train.csv"), "--storage", str(tmp_path), *gpus_per_trial]))
    assert Path(settings.space).name == space


def test_without_val_15_percent_of_the_labelled_faces_are_held_out(tmp_path):
    train, _ = write_dataset(tmp_path, n=200, seed=0, n_test=1)
    split = make_split(str(train))
    assert (len(split.train), len(split.val)) == (170, 30)


def test_ids_come_from_an_index_column_where_the_file_has_one(tmp_path):
    train, _ = write_dataset(tmp_path, n=5, seed=0, n_test=1)
    frame = pd.read_csv(train, index_col=0)
    frame.index = [70, 3, 1000, 12, 5]  # as a user's filtered copy of Kaggle's file keeps its row labels
    frame.to_csv(tmp_path / "kept.csv")
    assert load_faces(tmp_path / "kept.csv").ids.tolist() == [70, 3, 1000, 12, 5]
    frame.to_csv(tmp_path / "none.csv", index=False)
    assert load_faces(tmp_path / "none.csv").ids.tolist() == [0, 1, 2, 3, 4]


def test_python_m_models_lists_every_registered_architecture_with_the_size_of_its_saved_weights(capsys):
    from ensemble.folder import member_bytes
    from models import create_model, list_models
    from models.__main__ import main

    main()
    rows = capsys.readouterr().out.strip().splitlines()[1:-1]
    assert [row.split()[0] for row in rows] == list_models()
    for row in rows:
        name, _, fp32_mb, fp16_mb = row.split()
        written = len(member_bytes(create_model(name).state_dict())) / 1e6  # as an ensemble member's file takes it
        assert float(fp32_mb) == pytest.approx(written, abs=0.051) and float(fp16_mb) == pytest.approx(written / 2, rel=0.05, abs=0.051)


def test_data_synthetic_writes_labelled_and_test_faces_in_the_users_format(tmp_path, cli):
    from data.synthetic import main

    assert cli(main, "--out", tmp_path / "demo", "--n", "40", "--n-test", "7", "--missing", "0.5").code == 0
    train, test = load_faces(tmp_path / "demo" / "train.csv"), load_faces(tmp_path / "demo" / "test.csv")
    assert len(train) == 40 and len(test) == 7 and test.keypoints is None
    assert list(pd.read_csv(tmp_path / "demo" / "train.csv", index_col=0).columns[:30]) == COLUMNS
    sparse = np.isnan(train.keypoints).any(axis=1)
    assert 0 < sparse.sum() < 40 and (np.isnan(train.keypoints[sparse]).sum(axis=1) == 22).all()  # 4 of 15 keypoints kept
