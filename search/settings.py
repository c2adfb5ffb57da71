"""SearchSettings: everything a search needs, saved in its folder (search.results owns the file) for --resume."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPTUNA_TRIAL = "optuna_trial"  # the key under which a trial's Tune config carries its Optuna trial number
SCHEDULE = "schedule_epochs"  # a trial's schedule in epochs, in its results and as its Optuna user attribute


def train_values(trial_config: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig values in a trial's Tune config: all but its Optuna trial number."""
    return {k: v for k, v in trial_config.items() if k != OPTUNA_TRIAL}


def asha_rungs(grace_period: int, reduction_factor: int, max_epochs: int) -> tuple[int, ...]:
    """The epochs before the last at which ASHA judges a trial (Ray's ASHAScheduler, one bracket)."""
    rungs, epoch = [], grace_period
    while epoch < max_epochs:
        rungs.append(epoch)
        epoch *= reduction_factor
    return tuple(rungs)


@dataclass(frozen=True)
class ResumeChanges:
    """What `search.run --resume` changes of a stopped search, else None."""

    trials: int | None  # run on to this many trials in all
    time_budget_s: float | None  # the resumed part's time budget, in place of what was left


@dataclass(frozen=True)
class SearchSettings:
    name: str  # runs/NAME holds everything this search writes
    storage: str  # absolute folder above NAME; on a cluster, one that every node can reach
    space: str  # the search-space YAML
    trials: int  # trials to run in all (a resumed search runs on to this number)
    max_epochs: int  # epoch cap per trial; ASHA's max_t
    grace_period: int  # epochs every trial gets before ASHA may stop it
    reduction_factor: int  # ASHA keeps about 1 in this many trials at each rung
    rung_cooldown: float  # epochs of the cooldown branch scored at each rung (Trainer.cooldown_score); 0 = the best score so far
    seed: int  # seeds the TPE sampler and every trial's training
    cpus_per_trial: float  # 0 = decide from the cluster
    gpus_per_trial: float  # -1 = decide from the cluster (1 per trial when GPUs exist); fractions share a GPU
    max_concurrent: int  # 0 = as many as resources allow; 1 makes an Optuna search reproducible
    time_budget_s: float  # stop starting/continuing trials after this long (a resumed search: after its last start); 0 = no limit
    ensemble_share: float  # the last share of the search (of time_budget_s, else of the trials) trains seeds of the best recipes (search.members)
    base: dict  # the fixed TrainConfig part every trial shares (data paths, epochs, seed, split seed)
    val_digest: str = ""  # data.split.faces_digest of the validation faces every trial scores on ("" until the data is read)
    init: dict = dataclasses.field(default_factory=dict)  # architecture -> checkpoint folder its trials start from (--init); {}: random
    rung_tie: float = 0.0  # ASHA lets a trial within this share of a rung's cutoff score go on (search.internals.near_ties_go_on); 0: Ray's rule
    finish_start_points: bool = False  # ASHA never stops one of the space's start points (search.rungs); False: Ray's rule for every trial

    @property
    def folder(self) -> Path:
        return Path(self.storage) / self.name

    @property
    def rungs(self) -> tuple[int, ...]:
        return asha_rungs(self.grace_period, self.reduction_factor, self.max_epochs)

    @property
    def rungs_in_words(self) -> str:
        if not self.rungs:
            return "no ASHA rungs"
        judged = f"a {self.rung_cooldown:g}-epoch cooldown branch" if self.rung_cooldown else "the best score so far"
        ties = f" and any within {self.rung_tie:.1%} of its cutoff" if self.rung_tie else ""
        start = ", the start points to the end" if self.finish_start_points else ""
        return f"ASHA at epoch {', '.join(map(str, self.rungs))} by {judged}, keeping about 1 in {self.reduction_factor}{ties}{start}"

    @property
    def members_in_words(self) -> str:
        if not self.ensemble_share:
            return "no ensemble members: every trial is a new proposal"
        of = "time budget" if self.time_budget_s else "trials"
        return f"the last {self.ensemble_share:.0%} of the {of}: the best recipes again with new seeds, as ensemble members"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
