"""search.progress: the projected end of a search, from the pace of the trials that ended."""

import time

import pytest

from search.progress import clock, describe, project


def test_the_projection_is_the_mean_trial_time_over_what_is_left_run_in_parallel():
    # two trials ended after 10 and 20 minutes; one has run 5 of its 15; 6 to start; 2 at once
    p = project([600, 1200], running_ages=[300], to_start=6, slots=2, elapsed_s=1500, budget_s=None)
    assert p.remaining_s == pytest.approx((6 * 900 + 600) / 2) and p.left_s == p.remaining_s and not p.ends_by_budget


def test_a_running_trial_older_than_the_mean_adds_nothing():
    assert project([600], running_ages=[900], to_start=0, slots=1, elapsed_s=900, budget_s=None).remaining_s == 0


def test_with_a_budget_the_search_ends_by_whichever_comes_first():
    slow = project([1800], running_ages=[], to_start=10, slots=2, elapsed_s=1800, budget_s=3600)
    assert slow.ends_by_budget and slow.left_s == 1800
    fast = project([60], running_ages=[], to_start=2, slots=2, elapsed_s=600, budget_s=3600)
    assert not fast.ends_by_budget and fast.left_s == 60 and fast.budget_left_s == 3000


def test_before_any_trial_ends_there_is_no_pace_but_the_budget_still_counts():
    assert project([], [10, 20], 5, 2, 30, None).left_s is None
    assert project([], [10, 20], 5, 2, 30, 3600).left_s == 3570


def _at(seconds: float) -> str:
    """The local clock time `seconds` after the epoch, as the line shows it."""
    return time.strftime("%H:%M", time.localtime(seconds))


def test_the_line_says_counts_best_score_and_when_it_ends():
    p = project([600, 1200], running_ages=[300], to_start=6, slots=2, elapsed_s=1500, budget_s=None)
    line = describe(p, best=1.6123, now=0.0, ended_before=3)
    assert line == ("progress: 2 trials ended (and 3 before the resume), 1 running, 6 to start; best 1.612 px; 0:25 elapsed; "
                    f"projected end {_at(3000)} (in 0:50) at this pace")
    budgeted = describe(project([1800], [], 10, 2, 1800, 3600), best=float("inf"), now=0.0)
    assert "no score yet" in budgeted and f"the time budget ends it at {_at(1800)} (in 0:30), its trials would need 2:30 more" in budgeted


def test_the_last_line_says_nothing_is_left():
    assert describe(project([60, 60], [], 0, 2, 120, None), best=1.5, now=0.0).endswith("; no trial left to run")


def test_clock_rounds_to_minutes():
    assert clock(3900) == "1:05" and clock(29) == "0:00"


def test_the_callback_prints_a_line_at_each_trials_end_projected_from_the_trials_pace(tmp_path, capsys):
    """Two trials at once, ten to run; the first ends after 10 minutes (on a fake clock): the other has run
    10 minutes of the 10 a trial takes, 8 are left to start, two at a time: 40 minutes more."""
    from types import SimpleNamespace

    from search.progress import ProgressCallback
    from search.results import SearchFolder
    from search.run import parse_args, settings_from_args

    settings = settings_from_args(parse_args(["--smoke", "--trials", "10", "--runs-dir", str(tmp_path), "--run", "s"]))
    SearchFolder(settings.folder).write_settings(settings)
    capsys.readouterr()
    now = [1000.0]
    callback = ProgressCallback(str(settings.folder), "best_val_rmse", clock=lambda: now[0])
    callback.setup()
    a, b = SimpleNamespace(trial_id="a", status="RUNNING"), SimpleNamespace(trial_id="b", status="RUNNING")
    callback.on_trial_start(0, [a], a)
    callback.on_trial_start(0, [a, b], b)
    callback.on_trial_result(0, [a, b], a, {"best_val_rmse": 1.7})
    now[0] += 600
    a.status = "TERMINATED"
    callback.on_trial_complete(0, [a, b], a)
    line = capsys.readouterr().out.strip()
    assert line.startswith("progress: 1 trial ended, 1 running, 8 to start; best 1.700 px; 0:10 elapsed; projected end")
    assert line.endswith(f"{_at(1600 + 40 * 60)} (in 0:40) at this pace")
