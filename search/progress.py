"""A search that says when it will end: one progress line at each trial's end and every few minutes, in
the terminal and in a Ray job's log alike (it prints from the driver).

    progress: 5 trials ended, 2 running, 43 to start; best 1.612 px; 0:31 elapsed; projected end 03:12 (in 2:41) at this pace

The projection: each ended trial (finished, cut by ASHA or stopped) took some wall time; the trials still
to start will take as long on average, the running ones what is left of that average, and `slots` trials
run at once. With a time budget the search ends at the budget's end at the latest, and the line says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ray.tune import Callback

from .results import SearchFolder

REPORT_EVERY_S = 300  # a line at least this often while trials run


@dataclass(frozen=True)
class Projection:
    ended: int  # trials that ended (finished, cut or stopped)
    running: int
    to_start: int
    elapsed_s: float
    remaining_s: float | None  # None until a trial has ended: nothing to go by yet
    budget_left_s: float | None  # None: no time budget

    @property
    def ends_by_budget(self) -> bool:
        return self.budget_left_s is not None and (self.remaining_s is None or self.budget_left_s < self.remaining_s)

    @property
    def left_s(self) -> float | None:
        """Seconds until the search ends, as projected: by its trials, or by its budget if that comes first."""
        return self.budget_left_s if self.ends_by_budget else self.remaining_s


def project(trial_seconds: list[float], running_ages: list[float], to_start: int, slots: int, elapsed_s: float,
            budget_s: float | None) -> Projection:
    """trial_seconds: wall time of each ended trial; running_ages: how long each running trial has run;
    to_start: trials not started yet; slots: trials at once (at least 1); budget_s: the search's time
    budget, None for none."""
    remaining = None
    if trial_seconds:
        mean = sum(trial_seconds) / len(trial_seconds)
        work = to_start * mean + sum(max(mean - age, 0.0) for age in running_ages)  # trial-seconds still to run
        remaining = work / max(slots, 1)
    budget_left = max(budget_s - elapsed_s, 0.0) if budget_s else None
    return Projection(len(trial_seconds), len(running_ages), to_start, elapsed_s, remaining, budget_left)


def clock(seconds: float) -> str:
    """1:05 for an hour and five minutes (seconds rounded to minutes)."""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def describe(p: Projection, best: float, now: float, ended_before: int = 0) -> str:
    """The progress line; `ended_before`: trials that ended before a resume (not in the projection's pace)."""
    best_text = f"best {best:.3f} px" if math.isfinite(best) else "no score yet"
    before = f" (and {ended_before} before the resume)" if ended_before else ""
    head = (f"progress: {p.ended} trial{'' if p.ended == 1 else 's'} ended{before}, {p.running} running, {p.to_start} to start; {best_text}; "
            f"{clock(p.elapsed_s)} elapsed")
    if p.running == 0 and p.to_start == 0:
        return f"{head}; no trial left to run"
    if p.left_s is None:
        return f"{head}; projected end once a trial has ended"
    end = time.strftime("%H:%M", time.localtime(now + p.left_s))
    if p.ends_by_budget:
        at_pace = f", its trials would need {clock(p.remaining_s)} more" if p.remaining_s is not None else ""
        return f"{head}; the time budget ends it at {end} (in {clock(p.left_s)}){at_pace}"
    budget = f", within the time budget ({clock(p.budget_left_s)} left)" if p.budget_left_s is not None else ""
    return f"{head}; projected end {end} (in {clock(p.left_s)}) at this pace{budget}"


@dataclass
class ProgressCallback(Callback):
    """Tune calls it in the driver as trials start, report and end; it prints a progress line at each
    trial's end and every REPORT_EVERY_S seconds. Tune restores it with a resumed search, so it reads the
    trial count and the time budget from the search's settings as each start begins (a resume may change them)."""

    folder: str  # the search folder (search.results)
    metric: str  # the result key with the trial's best score
    clock: Callable[[], float] = time.time
    trials: int = 0  # the search's trials in all (a resumed search: all of them, those before it included)
    budget_s: float | None = None  # the time budget of this start of the search, None for none
    started: float = field(default=0.0)
    begun: dict = field(default_factory=dict)  # trial id -> when it started (wall time)
    ended_seconds: list = field(default_factory=list)
    best: float = math.inf
    slots: int = 1  # the most trials seen running at once
    last_line: float = 0.0

    def setup(self, **info) -> None:
        settings = SearchFolder(Path(self.folder)).settings
        self.trials, self.budget_s = settings.trials, settings.time_budget_s or None
        self.started = self.last_line = self.clock()
        self.begun.clear()
        self.ended_seconds.clear()

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.begun[trial.trial_id] = self.clock()
        self.slots = max(self.slots, sum(t.status == "RUNNING" for t in trials), len(self.begun))

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        score = result.get(self.metric)
        if score is not None and math.isfinite(score):
            self.best = min(self.best, score)
        if self.clock() - self.last_line >= REPORT_EVERY_S:
            self.report(trials)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._ended(trial, trials)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._ended(trial, trials)

    def _ended(self, trial, trials) -> None:
        if trial.trial_id in self.begun:
            self.ended_seconds.append(self.clock() - self.begun.pop(trial.trial_id))
        self.report(trials)

    def report(self, trials) -> None:
        now = self.clock()
        self.last_line = now
        ended_before = sum(t.status in ("TERMINATED", "ERROR") for t in trials) - len(self.ended_seconds)  # a resume's earlier trials
        to_start = max(self.trials - len(trials), 0) + sum(t.status == "PENDING" for t in trials)
        running = [now - self.begun[t.trial_id] for t in trials if t.status == "RUNNING" and t.trial_id in self.begun]
        projection = project(self.ended_seconds, running, to_start, self.slots, now - self.started, self.budget_s)
        print(describe(projection, self.best, now, max(ended_before, 0)), flush=True)
