"""The leaderboard says how each trial ended: its schedule finished, cut by ASHA at a rung, or stopped
between rungs; and names a schedule the time budget shortened."""

from pathlib import Path

import pandas as pd
import pytest

from search.leaderboard import ended
from search.results import TrialRecord
from search.settings import SCHEDULE, SearchSettings

# 72-epoch schedules, ASHA's one rung at epoch 24
SETTINGS = SearchSettings(name="s", storage="/runs", space="space.yaml", trials=9, max_epochs=72, grace_period=24, reduction_factor=3,
                          rung_cooldown=1.0, seed=0, cpus_per_trial=1, gpus_per_trial=0, max_concurrent=0, time_budget_s=3600,
                          ensemble_share=0.0, base={})


def _trial(status: str, **metrics) -> TrialRecord:
    return TrialRecord("t", Path("t"), {}, None, status, "", None, metrics, pd.DataFrame(), None)


@pytest.mark.parametrize("status, metrics, words", [
    ("DONE", {"epoch": 72, "finished": True, SCHEDULE: 72}, "finished"),
    ("DONE", {"epoch": 40, "finished": True, SCHEDULE: 72}, "finished"),  # early stopping ended it: its own terms
    ("DONE", {"epoch": 24, "finished": True, SCHEDULE: 24}, "finished (24 epochs: the time budget's fit)"),
    ("DONE", {"epoch": 24, "finished": False, SCHEDULE: 72}, "cut at rung 24"),
    ("DONE", {"epoch": 3, "finished": False, SCHEDULE: 72}, "stopped at epoch 3"),  # the budget ran out, or at the mean face
    ("DONE", {"epoch": 30}, "finished"),  # a search from before `finished` was recorded
    ("ERROR", {}, "error"),
    ("DIVERGED", {"epoch": 2, "finished": True}, "diverged"),
])
def test_a_trial_says_how_it_ended(status, metrics, words):
    assert ended(_trial(status, **metrics), SETTINGS) == words
