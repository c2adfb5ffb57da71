"""The Ray side of a search: start or join Ray, build (or restore) the Tuner, run it, and report."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import optuna
import ray
from optuna.samplers import TPESampler
from ray import tune

from common.files import write_csv_atomically
from data.split import Split

from .internals import (
    ResumableOptunaSearch,
    check_cluster_authentication,
    give_time_budget,
    quiet_about_trials_without_results,
    requeue,
    run_on_to,
    set_ray_environment,
    time_budget_left,
    warn_if_token_readable,
)
from .leaderboard import format_table, leaderboard
from .members import MemberPhase
from .plots import plot_search
from .progress import ProgressCallback
from .results import METRIC, SearchFolder
from .rungs import make_scheduler
from .settings import OPTUNA_TRIAL, ResumeChanges, SearchSettings
from .space import SearchSpace
from .stopping import StuckAtMeanFace
from .trainable import train_trial


def start_ray(address: str | None, dashboard_host: str | None) -> None:
    if ray.is_initialized():  # e.g. the tests share one Ray instance
        return
    set_ray_environment()
    if address:
        context = ray.init(address=address)
        check_cluster_authentication(address)
    else:
        # "local": a Ray of its own, never the cluster whose address `ray start` left on this machine (RAY_ADDRESS,
        # /tmp/ray/ray_current_cluster), which plain ray.init() would join, or wait for if it is gone
        context = ray.init(address="local", include_dashboard=dashboard_host is not None, dashboard_host=dashboard_host or "127.0.0.1")
    warn_if_token_readable()  # after the start, which makes the token when there is none
    resources = ray.cluster_resources()
    print(f"Ray: {int(resources.get('CPU', 0))} CPUs, {int(resources.get('GPU', 0))} GPUs in the cluster")
    if context.dashboard_url:
        print(f"Ray dashboard: http://{context.dashboard_url}  (token authentication is on: paste the token that `ray get-auth-token` prints)")
        print("  look at Jobs/Actors (one actor per running trial, with its logs) and Cluster (CPU, GPU, memory per node)")


def trial_resources(settings: SearchSettings) -> dict[str, float]:
    """Without GPUs: one CPU per trial, so as many trials at once as there are cores (bench.speed: 16 %
    more trials an hour on 2 cores than one trial on both). With GPUs: one GPU (or the given fraction)
    and 2 CPUs per trial."""
    cluster = ray.cluster_resources()
    gpus = settings.gpus_per_trial if settings.gpus_per_trial >= 0 else (1.0 if cluster.get("GPU", 0) else 0.0)
    cpus = settings.cpus_per_trial or (min(2.0, cluster["CPU"]) if gpus else 1.0)
    return {"cpu": cpus, "gpu": gpus}


def make_trainable(settings: SearchSettings, split: Split, deadline: float | None):
    trainable = tune.with_parameters(train_trial, base=settings.base, split=split, rungs=settings.rungs, cooldown=settings.rung_cooldown,
                                     deadline=deadline, init=settings.init)
    return tune.with_resources(trainable, trial_resources(settings))


def make_searcher(settings: SearchSettings, space: SearchSpace) -> ResumableOptunaSearch:
    """Optuna's TPE over the space, its start points proposed first, its study in the search folder."""
    return ResumableOptunaSearch(
        space=space.sample,
        points_to_evaluate=[dict(point) for point in space.start] or None,
        metric=METRIC,
        mode="min",
        sampler=TPESampler(seed=settings.seed),
        study_name=settings.name,
        storage=optuna.storages.RDBStorage(SearchFolder(settings.folder).optuna_url),
        before_ask=MemberPhase(settings.ensemble_share, settings.trials, settings.time_budget_s, settings.max_epochs, settings.seed),
    )


def new_tuner(settings: SearchSettings, space: SearchSpace, split: Split) -> tune.Tuner:
    searcher = make_searcher(settings, space)
    scheduler = make_scheduler(settings, start_points=len(space.start))
    # trials fit their schedules to the budget (search.budget); a resumed search does not: Tune keeps what is
    # left of its budget to itself, and those trials run their full schedules as before
    deadline = time.time() + settings.time_budget_s if settings.time_budget_s else None
    return tune.Tuner(
        make_trainable(settings, split, deadline),
        tune_config=tune.TuneConfig(  # no metric here: the scheduler and the searcher each name their own
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=settings.trials,
            max_concurrent_trials=settings.max_concurrent or None,
            time_budget_s=settings.time_budget_s or None,
            reuse_actors=True,  # a trial after the first skips the worker start and imports (about 3 s)
        ),
        run_config=tune.RunConfig(
            name=settings.name,
            storage_path=settings.storage,
            stop=StuckAtMeanFace(),  # a trial that sits at the mean face ends before ASHA's first rung
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),  # only improving epochs are checkpointed
            # a crashed trial (an exception, or its process killed, e.g. for memory) is restarted once from its
            # last checkpoint; if it crashes again it is recorded as ERROR and the search goes on
            failure_config=tune.FailureConfig(max_failures=1),
            # a progress line with the projected end at each trial's end and every few minutes
            callbacks=[ProgressCallback(str(settings.folder), METRIC)],
        ),
    )


def reconcile_optuna(search: SearchFolder) -> None:
    """A search killed hard (power cut, SIGKILL) can leave Optuna records that Tune never saved:
    - a trial RUNNING in Optuna, proposed but killed before Tune recorded it: put back in Optuna's
      queue (WAITING, its values kept), so that Tune's next proposal is that same trial;
    - a trial proposed, run and finished (a single epoch, then stopped by ASHA) between two of Tune's
      state saves: Optuna keeps it, a real evaluation, and Tune runs another trial in its place; said
      in one line, as the study then holds one record more than Tune has trials."""
    from optuna.trial import TrialState

    storage = optuna.storages.RDBStorage(search.optuna_url)
    study = optuna.load_study(study_name=search.settings.name, storage=storage)
    with quiet_about_trials_without_results():
        known = [trial.config for trial in tune.ExperimentAnalysis(str(search.folder)).trials]  # pending ones too
    numbers = {config[OPTUNA_TRIAL] for config in known if OPTUNA_TRIAL in config}

    def tune_knows(trial: optuna.trial.FrozenTrial) -> bool:
        if numbers:  # each Tune trial names its Optuna trial
            return trial.number in numbers
        # a search from before that: by the sampled values (one killed while sampling can pass for another)
        return bool(trial.params) and any(all(sampled.get(k) == v for k, v in trial.params.items()) for sampled in known)

    for orphan in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not tune_knows(orphan):  # never handed to Tune (or killed before its values were drawn)
            requeue(storage, orphan)
            print(f"Optuna trial {orphan.number} was proposed but never started before the search stopped: proposed again")
    for lost in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)):
        if not tune_knows(lost):
            print(f"Optuna trial {lost.number} finished just before the search was killed, before Tune recorded it: "
                  "Optuna keeps it; Tune runs another trial in its place")


def restore_limits(settings: SearchSettings, changes: ResumeChanges) -> float | None:
    """Give the stopped search the resume's trial count and time budget before Tune restores it, record
    this start's budget in its settings, and return it (seconds; None: no budget)."""
    search = SearchFolder(settings.folder)
    if changes.trials:
        run_on_to(settings.folder, changes.trials)
    if changes.time_budget_s:
        give_time_budget(settings.folder, changes.time_budget_s)
    budget = changes.time_budget_s or time_budget_left(settings.folder)
    search.write_settings(replace(settings, time_budget_s=budget or 0.0))
    if budget is not None:
        print(f"  resumed with {budget / 60:.1f} minutes of time budget{' (--time-budget)' if changes.time_budget_s else ' left'}; "
              f"on to {settings.trials} trials in all")
    return budget


def run_search(settings: SearchSettings, space: SearchSpace, split: Split, address: str | None, dashboard_host: str | None,
               resume: ResumeChanges | None, report: bool = True) -> None:
    """A new search, or (`resume` not None) a stopped one resumed with what the resume changes."""
    start_ray(address, dashboard_host)
    path = str(settings.folder)
    print(f"search '{settings.name}': {settings.trials} trials, up to {settings.max_epochs} epochs each, space {Path(settings.space).name}")
    print(f"  {settings.rungs_in_words}; {settings.members_in_words}")
    print(f"  results: {path}   TensorBoard: tensorboard --logdir {path}   Optuna: optuna-dashboard {SearchFolder(settings.folder).optuna_url}")
    if resume:
        if not tune.Tuner.can_restore(path):
            raise SystemExit(f"error: {path}: no Tune experiment state to resume from")
        reconcile_optuna(SearchFolder(settings.folder))
        budget = restore_limits(settings, resume)
        # new trials fit their schedules to the budget of this start (search.budget); restored ones keep theirs
        deadline = time.time() + budget if budget else None
        tuner = tune.Tuner.restore(path, trainable=make_trainable(settings, split, deadline), resume_unfinished=True, resume_errored=False)
    else:
        tuner = new_tuner(settings, space, split)
    with quiet_about_trials_without_results():  # the ResultGrid fit() returns reads every trial, one stopped before it reported too
        tuner.fit()
    search = SearchFolder(settings.folder)
    trials = search.trials()  # as every later reader sees them: from the experiment state Tune just saved
    table = leaderboard(trials, settings)
    write_csv_atomically(table, search.leaderboard_csv)
    plot_search(trials, search.plot_png, max_epochs=settings.max_epochs)
    print(f"\ntop trials by validation RMSE (px):\n{format_table(table)}")
    print(f"\nleaderboard: {search.leaderboard_csv}   plots: {search.plot_png}")
    print(f"next: python -m ensemble.build --max-mb 50 --runs-dir {settings.storage} --run {settings.name} --test TEST.csv")
    if report and any(t.usable for t in trials):
        search.refresh_report()
    failed = [t for t in trials if t.status in ("ERROR", "DIVERGED")]
    for trial in failed:
        traceback = f"  (full traceback: {trial.error_file})" if trial.error_file else ""
        print(f"trial {trial.id} {'crashed' if trial.status == 'ERROR' else 'diverged'}: {trial.error}{traceback}")
    for trial in trials:
        if trial.status == "UNFINISHED" and trial.history.empty:
            print(f"trial {trial.id}: stopped before its first epoch ended; nothing of it is kept, --resume runs it again")
    if trials and len(failed) == len(trials):
        raise SystemExit(f"error: all {len(trials)} trials crashed or diverged; nothing to rank")
    unfinished = int((table["status"] == "UNFINISHED").sum()) if len(table) else 0
    if len(table) < settings.trials or unfinished:
        print(f"the search stopped early ({len(table)} of {settings.trials} trials started); continue it with:\n"
              f"  python -m search.run --resume --runs-dir {settings.storage} --run {settings.name}")
