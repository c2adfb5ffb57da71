"""ASHA as the search runs it: each trial judged at its rungs by its rung score (search.trainable), near-ties
of a rung's cutoff let through with --rung-tie, and the space's start points run to the end with
--finish-start-points."""

from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from .internals import near_ties_go_on
from .results import RUNG_METRIC
from .settings import OPTUNA_TRIAL, SearchSettings


class StartPointsFinish(ASHAScheduler):
    """ASHA that never stops a start point at a rung. The start points are recipes that earlier searches
    found good, and ASHA's cut among a rung's first few scores is decided by the order they arrived in: in
    both one-hour default searches on faces15 (seeds 0 and 1) the third start point was cut at its first
    rung 0.01-0.03 px behind the two before it, and run to its end it scores second best of all (1.495 px,
    bench/results/search_cpu_1h_start_points.json). Its rung scores are still recorded, so TPE's proposals
    are judged against them. A start point is a trial whose Optuna number is below `start_points`: Optuna
    asks the enqueued start points first."""

    def __init__(self, *args, start_points: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.start_points = start_points

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP and trial.config.get(OPTUNA_TRIAL, self.start_points) < self.start_points:
            return TrialScheduler.CONTINUE  # at its schedule's end the trial stops by itself
        return decision


def make_scheduler(settings: SearchSettings, start_points: int) -> ASHAScheduler:
    """ASHA over the trials' epochs, judging each at its rungs by its rung score; `start_points`: how many
    of the first trials are the space's start points."""
    asha = dict(
        metric=RUNG_METRIC,  # the rung score; Optuna gets the trial's own score (METRIC)
        mode="min",
        time_attr="training_iteration",  # = epochs
        max_t=settings.max_epochs,
        grace_period=settings.grace_period,
        reduction_factor=settings.reduction_factor,
    )
    scheduler = StartPointsFinish(**asha, start_points=start_points) if settings.finish_start_points else ASHAScheduler(**asha)
    return near_ties_go_on(scheduler, settings.rung_tie) if settings.rung_tie else scheduler
