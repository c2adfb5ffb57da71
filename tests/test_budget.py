"""Trials' schedules fitted to the search's time budget (search.budget): whole when they fit, shortened
when they do not, never below a third; a restored trial keeps the schedule it started with."""

import shutil
import time

from search.budget import fit_schedule, fitted_epochs
from training.config import TrainConfig


def _config(tiny_data, **kw) -> TrainConfig:
    return TrainConfig(**{"train": str(tiny_data[0]), "arch": "cnn_gap", "batch_size": 16, "epochs": 9, **kw})


def test_a_schedule_that_fits_the_time_left_is_kept_whole():
    assert fitted_epochs(72, epoch_seconds=10, seconds_left=3600) == 72


def test_a_schedule_that_does_not_fit_takes_the_epochs_that_do_with_a_margin():
    assert fitted_epochs(72, epoch_seconds=10, seconds_left=500) == 40  # 500 s at 10 s an epoch and 25 % to spare


def test_a_schedule_is_never_fitted_below_a_third_of_its_epochs():
    assert fitted_epochs(72, epoch_seconds=10, seconds_left=100) == 24
    assert fitted_epochs(72, epoch_seconds=10, seconds_left=-5) == 24  # the budget already spent: the budget cuts it


def test_without_a_deadline_the_config_is_left_as_it_is(tiny_data):
    config = _config(tiny_data)
    assert fit_schedule(config, config.load_split(), deadline=None) is config


def test_a_trial_started_at_its_deadline_takes_the_shortest_schedule_and_a_distant_one_all(tiny_data):
    config = _config(tiny_data)
    split = config.load_split()
    assert fit_schedule(config, split, deadline=time.time()).epochs == 3
    assert fit_schedule(config, split, deadline=time.time() + 3600).epochs == 9


def _run_trial(monkeypatch, tmp_path, tiny_data, deadline, checkpoint=None) -> list[dict]:
    """search.trainable.train_trial outside Tune: its reports, each checkpoint copied to tmp_path/epoch-N."""
    import ray.tune

    from search.trainable import train_trial

    reports = []

    def report(metrics, checkpoint=None):
        reports.append(metrics)
        if checkpoint:
            shutil.copytree(checkpoint.path, tmp_path / f"epoch-{metrics['epoch']}")

    monkeypatch.setattr(ray.tune, "get_checkpoint", lambda: checkpoint)
    monkeypatch.setattr(ray.tune, "report", report)
    config = _config(tiny_data)
    train_trial({"arch": "cnn_gap", "lr": 3e-3}, config.to_dict(), config.load_split(), rungs=(), cooldown=0, deadline=deadline, init={})
    return reports


def test_a_trial_past_its_deadline_runs_a_third_of_its_schedule_and_a_restored_one_keeps_it(ray_cluster, monkeypatch, tmp_path, tiny_data):
    import ray.tune

    from training.checkpoint import Checkpoint

    reports = _run_trial(monkeypatch, tmp_path / "first", tiny_data, deadline=time.time())
    assert [r["epoch"] for r in reports] == [1, 2, 3] and reports[-1]["finished"]
    first = tmp_path / "first" / "epoch-1"
    assert Checkpoint(first).config.epochs == 3  # the schedule it took is in its checkpoints

    # restarted from its first epoch, with no deadline any more: it ends where its own schedule does
    restored = _run_trial(monkeypatch, tmp_path / "again", tiny_data, deadline=None, checkpoint=ray.tune.Checkpoint.from_directory(first))
    assert [r["epoch"] for r in restored] == [2, 3] and restored[-1]["finished"]
