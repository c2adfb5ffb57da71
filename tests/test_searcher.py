"""What Optuna is told about each trial: the searcher between Tune and Optuna, driven as Tune drives it."""

import optuna
from optuna.trial import TrialState

from search.experiment import ResumableOptunaSearch
from search.results import METRIC


def _searcher(tmp_path) -> ResumableOptunaSearch:
    return ResumableOptunaSearch(space={"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}, metric=METRIC, mode="min", study_name="t",
                                 storage=optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}"))


def _run(searcher: ResumableOptunaSearch, trial_id: str, scores: list[float], finished: bool) -> None:
    """A trial reporting one score an epoch; its last result says whether its own schedule ended there."""
    searcher.suggest(trial_id)
    for epoch, score in enumerate(scores, 1):
        result = {METRIC: score, "training_iteration": epoch, "finished": finished and epoch == len(scores)}
        searcher.on_trial_result(trial_id, result)
    searcher.on_trial_complete(trial_id, result)


def test_a_trial_stopped_before_its_schedule_ends_is_pruned_with_its_epochs_and_a_finished_one_complete(tmp_path):
    searcher = _searcher(tmp_path)
    _run(searcher, "ran_to_the_end", [3.0, 2.5, 2.2], finished=True)
    _run(searcher, "stopped_by_asha", [3.5, 3.1], finished=False)
    done, stopped = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'optuna.db'}").trials
    assert done.state == TrialState.COMPLETE and done.value == 2.2
    assert stopped.state == TrialState.PRUNED and stopped.intermediate_values == {1: 3.5, 2: 3.1}


def test_a_crashed_trial_fails(tmp_path):
    searcher = _searcher(tmp_path)
    searcher.suggest("crashed")
    searcher.on_trial_complete("crashed", None, error=True)
    (trial,) = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'optuna.db'}").trials
    assert trial.state == TrialState.FAIL
