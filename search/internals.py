"""Everything kptune relies on in Ray Tune and Optuna beyond their documented use, in one place. Each
reliance has a test in tests/test_internals.py that fails when an upgrade changes the behaviour it
depends on, so an upgrade says what broke.

- ResumableOptunaSearch keeps its own state across a resume only because Tune saves a searcher by
  pickling its __dict__; it relies on Ray's OptunaSearch telling Optuna PRUNED for a trial completed
  with no result and FAIL for one completed with an error, and reads the Optuna trial it asked for a
  Tune trial from Ray's private `_ot_trials`, to put its number in the trial's config, and hands Ray's
  private `_ot_study` to its `before_ask` hook (search.members queues ensemble members in it).
- requeue puts an Optuna trial back in the queue through Optuna's private trial id, and the searcher
  finds a trial's record by it when Tune runs a trial its saved state never suggested.
- quiet_about_trials_without_results filters one warning by its logger's name and its text.
- set_ray_environment sets three variables that Ray reads when it starts; the authentication mode Ray
  reads when it is imported, so its configuration is read again (ray._raylet.Config.initialize).
- run_on_to and give_time_budget change a stopped search's saved Tune state before Tuner.restore reads it,
  which Tune has no public way to do: the newest search-generator checkpoint (SearchGenerator.CKPT_FILE_TMPL,
  its `total_samples` and `finished`, read and written with Ray's _load_newest_checkpoint and _atomic_save),
  and the newest experiment state (_find_newest_experiment_checkpoint, a JSON document of TuneFunctionEncoder
  whose `runner_data` holds the TuneController's stopper, TimeoutStopper's `_budget` the seconds left).
- near_ties_go_on changes the class of ASHAScheduler's private brackets (`_brackets`, Ray's `_Bracket`) to one
  whose `cutoff` (the rung's quantile of rewards: minus the scores, for mode min) is lowered by a share of itself.
- check_cluster_authentication relies on an actor of a driver that sends a token to a cluster started
  without token authentication dying before it runs (ActorDiedError) while plain tasks still run, and
  auth_token_file on where Ray looks for the token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from ray.tune.schedulers import ASHAScheduler
from ray.tune.schedulers.async_hyperband import _Bracket
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from .settings import OPTUNA_TRIAL, SCHEDULE

TUNE_ANALYSIS_LOGGER = "ray.tune.analysis.experiment_analysis"  # where Tune warns about trials it has no results of
RAY_ENVIRONMENT = {
    # Checkpointing only on improvement with num_to_keep=1 makes Tune snapshot often on tiny data, and
    # warn about it; the snapshots are cheap here, so the warning is noise.
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    # Ray starts worker processes at nice 15. Here a trial is the work itself: at that priority it yields
    # its core to Ray's own housekeeping, and its OpenMP threads wait for the one that yielded.
    "RAY_worker_niceness": "0",
    # A cluster started with token authentication (as the README starts one) refuses a driver that sends no
    # token, and ray.init(address=...) sends none unless told to: it would retry forever with
    # "Authentication token is missing".
    # With this it sends ~/.ray/auth_token (or RAY_AUTH_TOKEN); set RAY_AUTH_MODE=disabled for a cluster
    # started without authentication.
    "RAY_AUTH_MODE": "token",
}


def set_ray_environment() -> None:
    """Before Ray starts in this process (a search's driver), unless the user set them."""
    from ray._raylet import Config

    for name, value in RAY_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    Config.initialize("")  # Ray read its configuration (RAY_AUTH_MODE among it) at import: read it again


def check_cluster_authentication(address: str) -> None:
    """Joined a cluster: with this driver sending a token to a cluster that runs without token
    authentication, every trial's actor would die before it runs, and the search would end with "all
    trials crashed". A probe actor (no CPU asked) dies the same way: say so in one line before any trial."""
    import ray

    @ray.remote(num_cpus=0)
    class Probe:
        def ping(self) -> bool:
            return True

    try:
        ray.get(Probe.remote().ping.remote(), timeout=120)
    except ray.exceptions.ActorDiedError:
        mode = os.environ.get("RAY_AUTH_MODE", "")
        hint = ("set RAY_AUTH_MODE=disabled for search.run (or restart the cluster with RAY_AUTH_MODE=token)" if mode == "token"
                else "check that the cluster and this machine use the same RAY_AUTH_MODE and token")
        raise SystemExit(f"error: the Ray cluster at {address} cannot start this search's workers: it runs without Ray's token "
                         f"authentication while this driver sends a token (RAY_AUTH_MODE={mode or 'unset'}); {hint}") from None
    except ray.exceptions.GetTimeoutError:
        pass  # a busy or slow cluster: the trials will say what is wrong, if anything


def auth_token_file() -> Path | None:
    """The file Ray reads this driver's token from, or None when it comes from RAY_AUTH_TOKEN or there is none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return None
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    return path if path.is_file() else None


def warn_if_token_readable() -> None:
    """A token that other local users can read lets them run code on the cluster: say how to close it."""
    path = auth_token_file()
    if path is not None and os.name == "posix" and path.stat().st_mode & 0o077:
        print(f"warning: Ray's token {path} can be read by other users of this machine, who could then run code on the "
              f"cluster: chmod 600 {path}", file=sys.stderr)


def run_on_to(folder: Path, trials: int) -> None:
    """A stopped search resumes to `trials` in all: its search generator's saved count, and its finished
    flag (set when the search had run its count, or the member phase stopped proposing) cleared."""
    from ray.tune.search import SearchGenerator
    from ray.tune.utils.util import _atomic_save, _load_newest_checkpoint

    pattern = SearchGenerator.CKPT_FILE_TMPL.format("*")
    newest = max(Path(folder).glob(pattern))  # as _load_newest_checkpoint picks it
    state = _load_newest_checkpoint(str(folder), pattern)
    state.update(total_samples=trials, finished=False)
    _atomic_save(state, str(folder), newest.name, f"tmp-{newest.name}")


def _experiment_state(folder: Path) -> tuple[Path, dict]:
    from ray.tune.execution.experiment_state import _find_newest_experiment_checkpoint
    from ray.tune.utils.serialization import _loads_with_cloudpickle

    path = Path(_find_newest_experiment_checkpoint(str(folder)))
    return path, _loads_with_cloudpickle(path.read_text())


def _timeouts(stopper) -> list:
    from ray.tune.stopper import CombinedStopper, TimeoutStopper

    if isinstance(stopper, TimeoutStopper):
        return [stopper]
    return [t for s in stopper._stoppers for t in _timeouts(s)] if isinstance(stopper, CombinedStopper) else []


def time_budget_left(folder: Path) -> float | None:
    """Seconds left of a stopped search's time budget as Tune will resume it; None without a budget."""
    timeouts = _timeouts(_experiment_state(folder)[1]["runner_data"]["_stopper"])
    return max(timeouts[0]._budget, 0.0) if timeouts else None


def give_time_budget(folder: Path, seconds: float) -> None:
    """A stopped search resumes with `seconds` of time budget, whatever it had left (or if it had none)."""
    from ray.tune.stopper import CombinedStopper, TimeoutStopper
    from ray.tune.utils.serialization import TuneFunctionEncoder

    from common.files import write_text_atomically

    path, state = _experiment_state(folder)
    runner = state["runner_data"]
    timeouts = _timeouts(runner["_stopper"])
    for timeout in timeouts:
        timeout._budget = timeout._timeout_seconds = seconds
    if not timeouts:
        runner["_stopper"] = CombinedStopper(runner["_stopper"], TimeoutStopper(seconds))
    write_text_atomically(path, json.dumps(state, cls=TuneFunctionEncoder))


class ResumableOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna how each trial ended, and survives a hard kill between Optuna's
    record of a finished trial and Tune's.

    Ray's OptunaSearch records every trial Tune completes with a result as COMPLETE with its last value,
    so a trial ASHA stopped at a rung would reach TPE as if its mid-schedule score were final. Here only a
    trial that ran its own schedule to the end (its last result says `finished`) is COMPLETE; one stopped
    before (by ASHA, or the search's time budget) is PRUNED, with its epoch-by-epoch values; one that
    diverged (its last result says `diverged`) is FAIL. Each trial's schedule is its Optuna user attribute
    SCHEDULE: one the time budget shortened (search.budget) scores worse than its recipe would over the whole
    schedule (the same recipe on faces15: 1.70 px at 24 epochs in float32, 1.49 at 72 in bf16,
    bench/results/ab_epochs24.json, ab_epochs72.json), and is still COMPLETE: as PRUNED, a search whose budget
    shortens every schedule (20 minutes on faces15) would leave Optuna no complete trial, TPE would rank its
    trials by epochs run before scores, and the member phase would find no recipe.

    Tune saves its trials' states every few seconds; Optuna's study is written the moment a trial ends. A
    search killed in between resumes with the trial finished in Optuna but unfinished in Tune, which runs
    it again from its checkpoint. A finished Optuna trial cannot be updated (`UpdateFinishedTrialError`),
    so Optuna keeps the outcome it was told first, and the rerun's results are not reported to it again.

    `before_ask(study)`, if given, runs before each new trial is asked of Optuna: it may queue the trial
    to ask (Optuna's enqueue_trial), and returns False when the search should start no more trials."""

    def __init__(self, *args, before_ask: Callable[[optuna.Study], bool] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._finished_before_resume: set[str] = set()  # Tune trial ids; saved with the searcher's state
        self._before_ask = before_ask

    def suggest(self, trial_id: str) -> dict | str | None:
        """The sampled values, and the Optuna trial's number (OPTUNA_TRIAL): after a kill, Optuna's
        records are matched to Tune's trials by it. Searcher.FINISHED when `before_ask` says to stop."""
        if trial_id not in self._ot_trials and self._before_ask and not self._before_ask(self._ot_study):
            return Searcher.FINISHED
        config = super().suggest(trial_id)
        return {**config, OPTUNA_TRIAL: self._ot_trials[trial_id].number} if isinstance(config, dict) else config

    def _knows(self, trial_id: str, result: dict | None) -> bool:
        """Whether this searcher has the trial's Optuna record, finding it if needed. Tune writes its
        experiment state before the searcher's, so a kill between the two resumes with a searcher saved
        before it suggested a trial that Tune runs: its record is found by the number in its config."""
        if trial_id in self._ot_trials:
            return True
        result = result or {}
        number = result.get(f"config/{OPTUNA_TRIAL}", result.get("config", {}).get(OPTUNA_TRIAL))  # Tune's flat result, or not
        found = [t for t in self._ot_study.get_trials(deepcopy=False) if t.number == number]
        if not found:
            print(f"trial {trial_id}: no Optuna record of it (the search was killed as it began); Optuna is not told its results")
            return False
        self._ot_trials[trial_id] = optuna.Trial(self._ot_study, found[0]._trial_id)
        return True

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._finished_before_resume or result.get("diverged") or not self._knows(trial_id, result):
            return  # a diverged trial's score is no score
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            self._finished_before_resume.add(trial_id)
            print(f"trial {trial_id}: rerun after the search was killed; Optuna keeps the result it recorded before")

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._finished_before_resume or not self._knows(trial_id, result):
            return
        if result is not None and result.get("diverged"):
            super().on_trial_complete(trial_id, None, error=True)  # FAIL
            return
        stopped_early = result is not None and not error and not result.get("finished", True)  # "finished": absent before it existed
        if result is not None and SCHEDULE in result:  # which scores come from a schedule the budget shortened
            self._ot_trials[trial_id].set_user_attr(SCHEDULE, result[SCHEDULE])
        super().on_trial_complete(trial_id, None if stopped_early else result, error)  # no result, no error: Ray's OptunaSearch prunes


def requeue(storage: optuna.storages.RDBStorage, trial: optuna.trial.FrozenTrial) -> None:
    """Put a RUNNING Optuna trial back in the queue (WAITING, its values kept): the study's next ask()
    returns it. Optuna has no public way to set a trial's state by number."""
    storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.WAITING)


class _DropMissingMetrics(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to fetch metrics")


@contextmanager
def quiet_about_trials_without_results() -> Iterator[None]:
    """A trial stopped before its first result has no result files, and Tune's reader warns about it
    with a traceback's worth of text; kptune lists such a trial itself (UNFINISHED, empty history)."""
    logger, drop = logging.getLogger(TUNE_ANALYSIS_LOGGER), _DropMissingMetrics()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


class _TieTolerantBracket(_Bracket):
    """Ray's ASHA bracket whose rungs let a trial within `tie` (a share) of the cutoff score go on."""

    tie = 0.0

    def cutoff(self, recorded):
        cut = super().cutoff(recorded)
        return None if cut is None else cut - self.tie * abs(cut)


def near_ties_go_on(scheduler: ASHAScheduler, tie: float) -> ASHAScheduler:
    """ASHA stops a trial whose rung score is worse than the rung's cutoff (the best 1/reduction_factor of the
    scores recorded there so far); with this, only one worse than the cutoff by more than `tie` of it, so that
    a near-tie is not cut by the order the trials arrived in. Stays picklable, as Tune saves its scheduler."""
    for bracket in scheduler._brackets:
        bracket.__class__ = _TieTolerantBracket
        bracket.tie = tie
    return scheduler
