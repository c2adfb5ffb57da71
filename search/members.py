"""The search's last phase: its best finished recipes trained again with seeds of their own, as ensemble
members, instead of more of TPE's proposals.

Late in a search TPE proposes near neighbours of its best recipe, which make near-copies in the
ensemble, or explores, and ASHA or the time budget cut what it explores. Once the last `share` of the
search begins (of its time budget; of its trials when it has none), each new trial is the next of the
best finished recipes in turn (the best of each architecture within RECIPE_MARGIN of the best score) with a
new seed: a member that finishes, differs from its recipe by its seed at least, and is not a copy.

With a time budget a member, like every trial, takes the schedule that ends before the budget does
(search.budget), and once not even the shortest schedule fits at the pace its recipe ran the search starts
no more trials (what is running finishes, or the budget stops it). The time left is read when Tune asks
for the trial, which may be before a core is free for it: a member Tune holds PENDING starts later than
planned and can still be cut by the budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from .budget import epochs_within, shortest_schedule

MEMBER = "ensemble_member"  # Optuna user attribute of a member trial: the TrainConfig values it sets (its seed)
RECIPE_MARGIN = 0.05  # recipes scoring within this share of the best finished trial take turns as members


def recipes(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The finished trials that members repeat, best first: the best of each architecture within
    RECIPE_MARGIN of the best finished score (a member's own score counts for its recipe's family)."""
    finished = sorted((t for t in trials if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)),
                      key=lambda t: t.value)
    best_per_family: dict[str, FrozenTrial] = {}
    for trial in finished:
        best_per_family.setdefault(str(trial.params.get("arch")), trial)
    return [t for t in best_per_family.values() if t.value <= finished[0].value * (1 + RECIPE_MARGIN)]


def member_fits(recipe: FrozenTrial, max_epochs: int, seconds_left: float | None) -> bool:
    """Whether the shortest schedule of `max_epochs` (search.budget) ends within `seconds_left` (None: no
    budget) at the pace `recipe` ran: its seconds over the epochs it reported (its own schedule may have
    been fitted shorter than max_epochs)."""
    epochs_run = max(recipe.intermediate_values, default=0)  # Tune's training iterations: one per epoch
    if seconds_left is None or not epochs_run or recipe.datetime_start is None or recipe.datetime_complete is None:
        return True
    epoch_seconds = (recipe.datetime_complete - recipe.datetime_start).total_seconds() / epochs_run
    return epochs_within(seconds_left, epoch_seconds) >= shortest_schedule(max_epochs)


@dataclass
class MemberPhase:
    """Called by the searcher (search.internals.ResumableOptunaSearch) before it asks Optuna for a new
    trial. In the last phase it queues the next member in the study; it returns False when no trial
    should start any more (no member fits in the time left). Pickled with the searcher whenever Tune saves
    the search; its clock counts the seconds the search ran, not the time it lay stopped before a resume,
    as Tune's own time budget does (ray.tune.stopper.TimeoutStopper)."""

    share: float  # the last share of the search that trains members (0 = none)
    trials: int  # the search's trials in all
    time_budget_s: float  # 0 = none: then the phase is the last `share` of the trials
    max_epochs: int  # a member's schedule (search.budget shortens it to the time left)
    seed: int  # the search's seed; member k trains with seed + 1 + k
    ran_before_s: float = 0.0  # seconds the search ran before this process took it up (a resume)
    started: float = field(default_factory=time.time)  # when this process took it up

    def __getstate__(self) -> dict:
        return {**self.__dict__, "ran_before_s": self.elapsed_s()}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, started=time.time())  # restored: the clock goes on from the last save

    def elapsed_s(self) -> float:
        """Seconds the search has run, over all its starts."""
        return self.ran_before_s + time.time() - self.started

    def __call__(self, study: optuna.Study) -> bool:
        trials = study.get_trials(deepcopy=False)
        if not self.share or not self._in_phase(len(trials)) or any(t.state == TrialState.WAITING for t in trials):
            return True
        recipe_list = recipes(trials)
        if not recipe_list:  # nothing finished yet: TPE goes on
            return True
        members = sum(MEMBER in t.user_attrs for t in trials)
        recipe = recipe_list[members % len(recipe_list)]
        if not member_fits(recipe, self.max_epochs, self._seconds_left()):
            return False
        study.enqueue_trial(recipe.params, user_attrs={MEMBER: {"seed": self.seed + 1 + members}})
        return True

    def _in_phase(self, asked: int) -> bool:
        if self.time_budget_s:
            return self.elapsed_s() >= (1 - self.share) * self.time_budget_s
        return asked >= (1 - self.share) * self.trials

    def _seconds_left(self) -> float | None:
        return self.time_budget_s - self.elapsed_s() if self.time_budget_s else None
