"""What kptune relies on in Ray Tune and Optuna beyond their documented use (search/internals.py), one
test each: when an upgrade changes one of these behaviours, its test says so."""

import os
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from search.internals import RAY_ENVIRONMENT, TUNE_ANALYSIS_LOGGER, ResumableOptunaSearch, requeue, warn_if_token_readable
from search.results import METRIC
from search.settings import SCHEDULE


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


def test_each_trials_schedule_reaches_optuna_so_one_the_budget_shortened_can_be_told_apart(tmp_path):
    searcher = _searcher(tmp_path)
    for trial_id, schedule in (("whole", 72), ("shortened", 24)):
        searcher.suggest(trial_id)
        result = {METRIC: 2.0, "training_iteration": 1, "finished": True, SCHEDULE: schedule}
        searcher.on_trial_result(trial_id, result)
        searcher.on_trial_complete(trial_id, result)
    whole, shortened = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'optuna.db'}").trials
    assert whole.state == TrialState.COMPLETE and whole.user_attrs[SCHEDULE] == 72
    assert shortened.state == TrialState.COMPLETE and shortened.user_attrs[SCHEDULE] == 24


def test_a_token_file_other_users_can_read_is_warned_about(tmp_path, monkeypatch, capsys):
    token = tmp_path / "auth_token"
    token.write_text("secret")
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    token.chmod(0o644)
    warn_if_token_readable()
    assert f"chmod 600 {token}" in capsys.readouterr().err
    token.chmod(0o600)
    warn_if_token_readable()
    assert capsys.readouterr().err == ""


def test_a_crashed_trial_fails(tmp_path):
    searcher = _searcher(tmp_path)
    searcher.suggest("crashed")
    searcher.on_trial_complete("crashed", None, error=True)
    (trial,) = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'optuna.db'}").trials
    assert trial.state == TrialState.FAIL


def test_the_searchers_own_state_survives_tunes_save_and_restore(tmp_path):
    """Tune saves a searcher by pickling its __dict__: the set of trials Optuna already recorded survives."""
    searcher = _searcher(tmp_path)
    searcher._finished_before_resume.add("told_before_the_kill")
    searcher.save(str(tmp_path / "searcher.pkl"))
    restored = _searcher(tmp_path)
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert restored._finished_before_resume == {"told_before_the_kill"}


def test_a_requeued_optuna_trial_is_the_next_one_asked(tmp_path):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    study = optuna.create_study(study_name="t", storage=storage)
    orphan = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)})
    requeue(storage, study.trials[0])
    again = study.ask()
    assert again.number == orphan.number and again.params == orphan.params


def test_tune_warns_about_trials_without_results_through_the_logger_kptune_filters():
    from ray.tune.analysis import experiment_analysis

    assert experiment_analysis.logger.name == TUNE_ANALYSIS_LOGGER


def test_ray_reads_the_environment_kptune_sets_when_it_starts_not_at_import(monkeypatch):
    from ray._private import ray_constants
    from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

    assert ray_constants.RAY_WORKER_NICENESS in RAY_ENVIRONMENT  # the variable Ray's workers read for their priority
    monkeypatch.setenv("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", RAY_ENVIRONMENT["TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"])
    assert _ExperimentCheckpointManager(storage=None, checkpoint_period="auto")._excessive_sync_threshold == 0


@pytest.mark.slow  # a subprocess: the environment and Ray's configuration stay the test process's own
def test_a_search_driver_sends_the_clusters_token():
    """A cluster with token authentication refuses a driver without its token; a driver that joins it
    sends its token only in token mode, which Ray reads at import: set_ray_environment must make Ray
    read it again."""
    script = ("import os; os.environ.pop('RAY_AUTH_MODE', None)\n"
              "from ray._private.authentication.authentication_utils import get_authentication_mode, AuthenticationMode\n"
              "assert get_authentication_mode() != AuthenticationMode.TOKEN\n"
              "from search.internals import set_ray_environment\n"
              "set_ray_environment()\n"
              "assert get_authentication_mode() == AuthenticationMode.TOKEN\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


@pytest.mark.slow  # a subprocess
def test_importing_kptune_changes_nothing_process_wide():
    script = ("import os, matplotlib; env, backend = dict(os.environ), matplotlib.rcParams['backend']\n"
              "import search.experiment, search.run, ensemble.build, report.page, training.train\n"
              "assert dict(os.environ) == env, set(os.environ.items()) ^ set(env.items())\n"
              "assert matplotlib.rcParams['backend'] == backend")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env={**os.environ, "MPLBACKEND": ""})
    assert run.returncode == 0, run.stderr[-2000:]


def test_each_suggestion_names_its_optuna_trial(tmp_path):
    """Read from Ray's private map of Tune trials to Optuna trials: after a kill, records are matched by it."""
    from search.settings import OPTUNA_TRIAL

    searcher = _searcher(tmp_path)
    first, second = searcher.suggest("a"), searcher.suggest("b")
    assert (first[OPTUNA_TRIAL], second[OPTUNA_TRIAL]) == (0, 1) and "lr" in first


def test_a_before_ask_hook_that_says_stop_ends_the_proposals_and_one_that_queues_a_trial_is_asked_it(tmp_path):
    """The hook gets Ray's private Optuna study: what it queues there is the next trial Tune is given."""
    from ray.tune.search import Searcher

    stop = ResumableOptunaSearch(space=lambda trial: {"x": trial.suggest_float("x", 0, 1)}, metric=METRIC, mode="min",
                                 before_ask=lambda study: False)
    assert stop.suggest("a") == Searcher.FINISHED

    def queue(study: optuna.Study) -> bool:
        study.enqueue_trial({"x": 0.25})
        return True

    searcher = ResumableOptunaSearch(space=lambda trial: {"x": trial.suggest_float("x", 0, 1)}, metric=METRIC, mode="min", before_ask=queue)
    assert searcher.suggest("b")["x"] == 0.25


def test_a_trial_tune_saved_but_the_searcher_never_suggested_reports_to_its_optuna_record(tmp_path):
    """Tune writes its experiment state before the searcher's: killed between the two, a search resumes
    with a searcher saved before it suggested a trial that Tune runs. The trial's config names its record."""
    from search.settings import OPTUNA_TRIAL

    number = _searcher(tmp_path).suggest("a")[OPTUNA_TRIAL]
    restored = _searcher(tmp_path)  # the same study, as saved before "a" was suggested
    restored.on_trial_result("a", {METRIC: 2.0, "training_iteration": 1, f"config/{OPTUNA_TRIAL}": number})
    restored.on_trial_complete("a", {METRIC: 1.5, "training_iteration": 2, "finished": True, f"config/{OPTUNA_TRIAL}": number})
    (trial,) = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'optuna.db'}").trials
    assert trial.state == TrialState.COMPLETE and trial.value == 1.5 and trial.intermediate_values == {1: 2.0}


@pytest.mark.parametrize("grace, factor, max_t", [(24, 3, 72), (1, 3, 2), (2, 2, 20), (5, 4, 5), (3, 3, 100)])
def test_asha_rungs_are_the_milestones_of_rays_scheduler_below_its_last(grace, factor, max_t):
    """search.settings.asha_rungs says where ASHA judges a trial (the report, the budget fit and bench.rungs
    use it); Ray's scheduler keeps its own milestones (private): they must agree."""
    from ray.tune.schedulers import ASHAScheduler

    from search.settings import asha_rungs

    ray_milestones = ASHAScheduler(metric="m", mode="min", max_t=max_t, grace_period=grace, reduction_factor=factor)._brackets[0]._rungs
    assert asha_rungs(grace, factor, max_t) == tuple(sorted(m for m, _ in ray_milestones if m < max_t))


@pytest.mark.slow  # a pytest subprocess with two xdist workers
def test_xdist_runs_a_group_of_tests_on_one_worker(tmp_path):
    """The README's test command runs every test on the test process's Ray on one xdist worker (one Ray,
    one smoke search): the group conftest.py gives them must reach xdist's scheduler (it did not with
    pytest 9.2 and pytest-xdist 3.8, silently)."""
    (tmp_path / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        item.add_marker(pytest.mark.xdist_group('one'))\n")
    for name in ("a", "b"):
        (tmp_path / f"test_{name}.py").write_text("".join(f"def test_{i}():\n    pass\n" for i in range(6)))
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:randomly", "-p", "no:cacheprovider",
                          str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:]
    workers = {line.split("]")[0].lstrip("[") for line in run.stdout.splitlines() if "PASSED" in line and line.startswith("[gw")}
    assert len(workers) == 1, run.stdout[-2000:]


def _rung_decisions(scheduler, scores: list[float]) -> list[str]:
    """Trials arriving one after another at ASHA's first rung (epoch 1) with these scores: its decisions."""
    from types import SimpleNamespace

    decisions = []
    for i, score in enumerate(scores):
        trial = SimpleNamespace(trial_id=str(i))
        scheduler.on_trial_add(None, trial)
        decisions.append(scheduler.on_trial_result(None, trial, {"training_iteration": 1, "m": score}))
    return decisions


def test_near_ties_of_a_rungs_cutoff_go_on_and_clear_losses_are_still_cut(tmp_path):
    """Reduction factor 3: the third arrival must beat two thirds of the rung's scores. 1.676 px against
    1.662 and 1.667 is within 1 % of the cutoff; 1.80 is not. The scheduler survives Tune's pickling."""
    import pickle

    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    from search.internals import near_ties_go_on

    def asha():
        return ASHAScheduler(metric="m", mode="min", max_t=3, grace_period=1, reduction_factor=3)

    plain = _rung_decisions(asha(), [1.662, 1.667, 1.676])
    tolerant = _rung_decisions(pickle.loads(pickle.dumps(near_ties_go_on(asha(), 0.01))), [1.662, 1.667, 1.676, 1.80])
    assert plain[2] == TrialScheduler.STOP
    assert tolerant == [TrialScheduler.CONTINUE] * 3 + [TrialScheduler.STOP]
