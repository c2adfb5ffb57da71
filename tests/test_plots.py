"""The search as a picture: the best single net it had at each minute, from Tune's clock on every epoch."""

from pathlib import Path

import pandas as pd

from search.plots import best_so_far, plot_search
from search.results import TrialRecord


def _trial(started: float, scores: list[float]) -> TrialRecord:
    """A trial that started at Unix second `started` and reported `scores` a minute apart."""
    seconds = [60.0 * (i + 1) for i in range(len(scores))]
    history = pd.DataFrame({"epoch": range(1, len(scores) + 1), "val_rmse": scores, "best_val_rmse": pd.Series(scores).cummin(),
                            "time_total_s": seconds, "timestamp": [started + s for s in seconds]})
    return TrialRecord("t", Path("t"), {}, None, "DONE", "", None, {"epoch": len(scores)}, history, None)


def test_the_best_so_far_is_the_best_epoch_of_any_trial_by_each_minute_of_the_search():
    first, second = _trial(1000, [5.0, 3.0, 2.5]), _trial(1030, [4.0, 2.0])  # the second starts half a minute later
    best = best_so_far([second, first])
    assert list(best.index) == [1.0, 1.5, 2.0, 2.5, 3.0]  # minutes since the first trial started
    assert list(best) == [5.0, 4.0, 3.0, 2.0, 2.0]  # the first trial's 2.5 at minute 3 came after the second's 2.0


def test_the_picture_is_drawn_for_trials_with_and_without_tunes_clock(tmp_path):
    clockless = TrialRecord("old", Path("old"), {}, None, "DONE", "", None, {}, pd.DataFrame({"epoch": [1], "val_rmse": [3.0]}), None)
    plot_search([_trial(1000, [5.0, 3.0]), clockless], tmp_path / "search.png", baseline_px=4.0, max_epochs=3)
    assert (tmp_path / "search.png").stat().st_size


def test_a_diverged_trials_unscored_last_epoch_leaves_the_best_so_far_unbroken():
    diverged = _trial(1000, [5.0, 3.0])
    diverged.history.loc[2] = {"epoch": 3, "val_rmse": float("nan"), "best_val_rmse": 3.0, "time_total_s": 180.0, "timestamp": 1180.0}
    assert list(best_so_far([diverged])) == [5.0, 3.0]
