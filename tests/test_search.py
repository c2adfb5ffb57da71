"""A real smoke search (Ray Tune + Optuna + ASHA) on tiny synthetic data."""

import numpy as np
import pandas as pd
import torch

from search.config import TrainConfig


def test_three_trial_smoke_search_finishes_in_under_two_minutes(smoke_search):
    _, seconds = smoke_search
    assert seconds < 120


def test_leaderboard_has_a_row_per_trial_best_first(smoke_search):
    folder, _ = smoke_search
    table = pd.read_csv(folder / "leaderboard.csv")
    assert len(table) == 3
    assert (table["status"] == "DONE").all()
    assert table["best_val_rmse"].is_monotonic_increasing
    assert set(table["arch"]) == {"cnn_gap"}


def test_every_trial_checkpoint_holds_weights_config_and_val_predictions(smoke_search):
    folder, _ = smoke_search
    for checkpoint in pd.read_csv(folder / "leaderboard.csv")["checkpoint"]:
        val = np.load(f"{checkpoint}/val_predictions.npz")
        assert val["predictions"].shape == val["targets"].shape == (8, 30)
        config = TrainConfig.load(f"{checkpoint}/config.json")
        assert torch.load(f"{checkpoint}/weights.pt", weights_only=True)
        assert config.arch == "cnn_gap" and config.epochs == 1


def test_all_trials_are_scored_on_the_same_validation_faces(smoke_search):
    folder, _ = smoke_search
    ids = [np.load(f"{c}/val_predictions.npz")["ids"] for c in pd.read_csv(folder / "leaderboard.csv")["checkpoint"]]
    for other in ids[1:]:
        np.testing.assert_array_equal(ids[0], other)


def test_search_leaves_optuna_study_and_plots(smoke_search):
    import optuna

    folder, _ = smoke_search
    study = optuna.load_study(study_name="smoke", storage=f"sqlite:///{folder / 'optuna.db'}")
    assert len(study.trials) == 3
    assert (folder / "search.png").stat().st_size > 0
    assert list(folder.glob("*/events.out.tfevents.*"))


def test_crashed_trials_are_recorded_and_reported(ray_cluster, tmp_path, capsys):
    """A configuration that fails inside the trial (a learning rate TrainConfig rejects)."""
    import pytest

    from search.run import main

    space = tmp_path / "crash.yaml"
    space.write_text("arch: cnn_gap\nlr: {uniform: [-2.0, -1.0]}\n")
    with pytest.raises(SystemExit, match="all 2 trials crashed"):
        main(["--smoke", "--trials", "2", "--space", str(space), "--storage", str(tmp_path), "--name", "crash", "--no-dashboard"])
    assert "crashed:" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "crash" / "leaderboard.csv")
    assert (table["status"] == "ERROR").all() and len(table) == 2
    assert len(list((tmp_path / "crash").glob("*/error.txt"))) == 2
