"""A real smoke search (Ray Tune + Optuna + ASHA) on tiny synthetic data."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from report.page import PAGE
from search.results import SearchFolder


def test_leaderboard_has_a_row_per_trial_best_first(smoke_search):
    folder = smoke_search
    table = SearchFolder(folder).leaderboard()
    assert len(table) == 3
    assert (table["status"] == "DONE").all()
    assert table["best_val_rmse"].is_monotonic_increasing
    assert set(table["arch"]) == {"cnn_gap"}


def test_every_trial_has_its_config_and_a_complete_checkpoint(smoke_search):
    folder = smoke_search
    trials = SearchFolder(folder).trials()
    assert len(trials) == 3
    for trial in trials:
        assert trial.status == "DONE" and trial.checkpoint.is_complete()
        assert trial.config == trial.checkpoint.config and trial.config.arch == "cnn_gap" and trial.config.epochs == 1
        assert trial.checkpoint.val.predictions.shape == trial.checkpoint.val.targets.shape == (8, 30)
        assert trial.checkpoint.val.rmse == pytest.approx(trial.best_val_rmse)


def test_all_trials_are_scored_on_the_same_validation_faces(smoke_search):
    folder = smoke_search
    ids = [trial.checkpoint.val.ids for trial in SearchFolder(folder).trials()]
    for other in ids[1:]:
        np.testing.assert_array_equal(ids[0], other)


def test_search_leaves_optuna_study_and_plots(smoke_search):
    folder = smoke_search
    search = SearchFolder(folder)
    assert len(search.study().trials) == 3
    assert search.plot_png.stat().st_size > 0
    assert search.event_files()


def test_a_diverging_trial_ends_diverged_fails_in_optuna_and_stays_out_of_the_ensemble(ray_cluster, tmp_path, capsys):
    import optuna

    from ensemble.candidates import load_candidates
    from search.run import main

    space = tmp_path / "hot.yaml"
    space.write_text("start: [{lr: 10.0}, {lr: 0.003}, {lr: 0.005}]\narch: cnn_gap\nbatch_size: 16\nlr: {loguniform: [1.0e-3, 20.0]}\n")
    main(["--smoke", "--trials", "3", "--max-epochs", "2", "--space", str(space), "--storage", str(tmp_path), "--name", "hot", "--no-dashboard"])
    trials = {t.config.lr: t for t in SearchFolder(tmp_path / "hot").trials()}
    assert trials[10.0].status == "DIVERGED" and "diverged in epoch" in trials[10.0].error
    assert trials[0.003].status == trials[0.005].status == "DONE"
    out = capsys.readouterr().out
    assert "diverged:" in out
    assert "progress: 1 trial ended" in out and "projected end" in out  # a line at each trial's end, with the projected end
    assert "progress: 3 trials ended, 0 running, 0 to start" in out
    states = {t.params["lr"]: t.state for t in optuna.load_study(study_name="hot", storage=SearchFolder(tmp_path / "hot").optuna_url).trials}
    ended = {lr: optuna.trial.TrialState.COMPLETE if trials[lr].metrics["finished"] else optuna.trial.TrialState.PRUNED for lr in (0.003, 0.005)}
    assert states == {10.0: optuna.trial.TrialState.FAIL, **ended}  # PRUNED: ASHA stopped it at its rung
    assert {c.name for c in load_candidates(tmp_path / "hot")} == {trials[0.003].id, trials[0.005].id}
    assert (SearchFolder(tmp_path / "hot").report_folder / PAGE).is_file()  # a search ends by writing its report


def test_crashed_trials_are_recorded_and_reported(ray_cluster, tmp_path, capsys):
    """A configuration that fails inside the trial (a learning rate TrainConfig rejects)."""
    from search.run import main

    space = tmp_path / "crash.yaml"
    space.write_text("arch: cnn_gap\nlr: {uniform: [-2.0, -1.0]}\n")
    with pytest.raises(SystemExit, match="all 2 trials crashed"):
        main(["--smoke", "--trials", "2", "--space", str(space), "--storage", str(tmp_path), "--name", "crash", "--no-dashboard", "--no-report"])
    assert "crashed:" in capsys.readouterr().out
    search = SearchFolder(tmp_path / "crash")
    table = search.leaderboard()
    assert (table["status"] == "ERROR").all() and len(table) == 2
    assert all(t.error_file.is_file() for t in search.trials())


def test_a_second_search_under_an_existing_name_is_refused(smoke_search, capsys):
    from search.run import main

    folder = smoke_search
    with pytest.raises(SystemExit) as exit_code:
        main(["--smoke", "--storage", str(folder.parent), "--name", folder.name, "--no-dashboard"])
    assert exit_code.value.code == 1
    assert "already holds a search: continue it with --resume --run smoke" in capsys.readouterr().err


def test_a_trial_that_always_raises_ends_error_while_the_others_finish(ray_cluster, tmp_path):
    from ensemble.candidates import load_candidates
    from search.run import main

    space = tmp_path / "one_bad.yaml"  # dropout 2.4 passes the range check but TrainConfig rejects it inside the trial
    space.write_text("start: [{dropout: 2.4}, {dropout: 0.0}, {dropout: 0.5}]\narch: cnn_gap\nbatch_size: 16\ndropout: {uniform: [0.0, 2.5]}\n")
    main(["--smoke", "--trials", "3", "--space", str(space), "--storage", str(tmp_path), "--name", "one_bad", "--no-dashboard", "--no-report"])
    trials = SearchFolder(tmp_path / "one_bad").trials()
    assert {t.sampled["dropout"]: t.status for t in trials} == {2.4: "ERROR", 0.0: "DONE", 0.5: "DONE"}
    assert {c.name for c in load_candidates(tmp_path / "one_bad")} == {t.id for t in trials if t.status == "DONE"}  # no ERROR trial in an ensemble


def test_a_search_folder_given_as_a_relative_path_is_read(smoke_search, monkeypatch):
    """As `ensemble.build` finds it under the default `--runs-dir runs`."""
    monkeypatch.chdir(smoke_search.parent)
    assert len(SearchFolder(Path(smoke_search.name)).trials()) == 3


def test_a_trial_without_results_shows_its_sampled_config_and_no_tune_warning(smoke_search, tmp_path, capfd, caplog):
    import logging
    import shutil

    copy = Path(shutil.copytree(smoke_search, tmp_path / "smoke"))
    victim = SearchFolder(copy).trials()[0]
    for name in ("result.json", "progress.csv", "params.json"):  # as a trial stopped before its first result leaves it
        (victim.folder / name).unlink(missing_ok=True)
    with caplog.at_level(logging.WARNING):
        trial = {t.id: t for t in SearchFolder(copy).trials()}[victim.id]
    assert "Failed to fetch metrics" not in caplog.text + capfd.readouterr().err
    assert trial.history.empty and trial.config.arch == "cnn_gap" and trial.config.batch_size == 16


def test_a_trial_tune_created_but_never_started_shows_the_sampled_config_or_none(tmp_path):
    from types import SimpleNamespace

    from search.results import _record

    never_started = SimpleNamespace(path=str(tmp_path), metrics={}, checkpoint=None, error=None, metrics_dataframe=None, config=None)
    base = {"arch": "vgg_opt", "batch_size": 256}
    assert _record(never_started, "PENDING", {"arch": "resnet_m_hm", "batch_size": 32}, base, 2).config.arch == "resnet_m_hm"
    nothing = _record(never_started, "PENDING", {}, base, 2)
    assert nothing.config is None and nothing.status == "UNFINISHED"


def test_an_optuna_record_tune_never_saw_is_named_on_resume(smoke_search, tmp_path, capsys):
    """As a trial that ran and finished between two of Tune's state saves, just before a kill, leaves it."""
    import shutil

    import optuna

    from search.experiment import reconcile_optuna

    search = SearchFolder(shutil.copytree(smoke_search, tmp_path / "smoke"))
    study = search.study()
    lr = optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.00123}, distributions={"lr": lr}, state=optuna.trial.TrialState.PRUNED))
    reconcile_optuna(search)
    assert capsys.readouterr().out.count("before Tune recorded it") == 1


def test_an_optuna_proposal_killed_while_sampling_is_proposed_again(smoke_search, tmp_path):
    """Its first values alone match every trial of the search: it is matched by its number instead."""
    import shutil

    import optuna

    from search.experiment import reconcile_optuna

    search = SearchFolder(shutil.copytree(smoke_search, tmp_path / "smoke"))
    study = search.study()
    half_sampled = study.ask()
    half_sampled.suggest_categorical("arch", ["cnn_gap"])  # killed here, before the rest was drawn
    reconcile_optuna(search)
    assert study.trials[half_sampled.number].state == optuna.trial.TrialState.WAITING


def test_asha_judges_each_trial_by_its_cooldown_branch_at_the_rung(ray_cluster, tmp_path):
    """Three trials one after another, 2 epochs, a rung at epoch 1 (reduction factor 3): each trial went on
    or stopped as Ray's ASHAScheduler decides when given the trial's rung score at epoch 1, and Optuna
    prunes the ones it stopped."""
    from types import SimpleNamespace

    import optuna
    from ray.tune.schedulers import TrialScheduler

    from search.results import RUNG_METRIC
    from search.run import main
    from search.rungs import make_scheduler

    space = tmp_path / "three.yaml"
    space.write_text("start: [{lr: 0.004}, {lr: 0.0005}, {lr: 0.002}]\narch: cnn_gap\nbatch_size: 16\nschedule: onecycle\n"
                     "lr: {loguniform: [1.0e-4, 1.0e-2]}\n")
    main(["--smoke", "--trials", "3", "--max-epochs", "2", "--space", str(space), "--storage", str(tmp_path), "--name", "rungs",
          "--max-concurrent", "1", "--no-dashboard", "--no-report"])
    search = SearchFolder(tmp_path / "rungs")
    trials = sorted(search.trials(), key=lambda t: t.history["timestamp"].min())
    oracle = make_scheduler(search.settings, start_points=3)  # a fresh scheduler, told the rung scores in the order they came
    for trial in trials:
        at_rung = trial.history.set_index("epoch").loc[1]
        stub = SimpleNamespace(trial_id=trial.id)
        oracle.on_trial_add(None, stub)
        decision = oracle.on_trial_result(None, stub, {"training_iteration": 1, RUNG_METRIC: at_rung["rung_rmse"]})
        stopped = decision == TrialScheduler.STOP
        assert trial.metrics["epoch"] == (1 if stopped else 2)
        assert trial.metrics["finished"] == (not stopped) and trial.rung_rmse == (at_rung["rung_rmse"] if stopped else trial.best_val_rmse)
    states = [t.state for t in search.study().trials]
    assert states == [optuna.trial.TrialState.COMPLETE if t.metrics["finished"] else optuna.trial.TrialState.PRUNED for t in trials]
    board = search.leaderboard().set_index("trial")
    assert [board.loc[t.id, "ended"] for t in trials] == ["finished" if t.metrics["finished"] else "cut at rung 1" for t in trials]
    assert "rung_rmse" in board


def test_the_last_share_of_a_search_trains_its_best_recipe_again_with_new_seeds(ray_cluster, tmp_path):
    from dataclasses import replace

    from search.run import main

    main(["--smoke", "--trials", "4", "--ensemble-share", "0.5", "--max-concurrent", "1", "--storage", str(tmp_path), "--name", "members",
          "--no-dashboard", "--no-report"])
    trials = sorted(SearchFolder(tmp_path / "members").trials(), key=lambda t: t.config.seed)
    assert [t.config.seed for t in trials] == [0, 0, 1, 2]  # two proposals with the search's seed, then two members
    best = min(trials[:2], key=lambda t: t.best_val_rmse)
    assert all(replace(member.config, seed=0) == best.config and member.status == "DONE" for member in trials[2:])


@pytest.mark.slow  # starts Ray in a subprocess
def test_a_search_without_address_starts_its_own_ray_where_ray_start_left_an_address():
    """`ray start` leaves its cluster's address where a plain ray.init() looks for one (RAY_ADDRESS,
    /tmp/ray/ray_current_cluster): a search without --address must neither join that cluster nor wait
    for it once it is gone (nothing listens at port 9)."""
    script = "from search.experiment import start_ray; start_ray(address=None, dashboard_host=None)"
    run = subprocess.run([sys.executable, "-c", script], env=os.environ | {"RAY_ADDRESS": "127.0.0.1:9"}, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and "Ray: " in run.stdout, run.stderr[-2000:]


@pytest.mark.parametrize("tie, second", [("0", "STOP"), ("0.01", "CONTINUE")])
def test_rung_tie_is_saved_with_the_search_and_decides_its_rungs(tmp_path, tie, second):
    """The second trial at the first rung scores 1.667 px against the first's 1.662: cut by Ray's rule,
    within 1 % of the cutoff with --rung-tie 0.01."""
    from types import SimpleNamespace

    from ray.tune.schedulers import TrialScheduler

    from search.results import RUNG_METRIC
    from search.run import parse_args, settings_from_args
    from search.rungs import make_scheduler

    settings = settings_from_args(parse_args(["--smoke", "--max-epochs", "3", "--rung-tie", tie, "--runs-dir", str(tmp_path), "--run", "s"]))
    SearchFolder(settings.folder).write_settings(settings)
    scheduler = make_scheduler(SearchFolder(settings.folder).settings, start_points=0)
    decisions = []
    for name, score in (("a", 1.662), ("b", 1.667)):
        trial = SimpleNamespace(trial_id=name)
        scheduler.on_trial_add(None, trial)
        decisions.append(scheduler.on_trial_result(None, trial, {"training_iteration": 1, RUNG_METRIC: score}))
    assert decisions == [TrialScheduler.CONTINUE, getattr(TrialScheduler, second)]


@pytest.mark.parametrize("flag, decisions", [([], ["CONTINUE", "STOP", "CONTINUE", "STOP"]),
                                             (["--finish-start-points"], ["CONTINUE", "CONTINUE", "CONTINUE", "STOP"])])
def test_finish_start_points_is_saved_with_the_search_and_lets_only_start_points_past_a_rung(tmp_path, flag, decisions):
    """Two start points (Optuna trials 0 and 1), then two of TPE's proposals, at the first rung: the second
    start point (1.80 px) is cut by Ray's rule and goes on with --finish-start-points; either way its score
    is recorded, so the first proposal (1.67) passes the cutoff it lowers and the second (1.79) does not."""
    from types import SimpleNamespace

    from ray.tune.schedulers import TrialScheduler

    from search.results import RUNG_METRIC
    from search.run import parse_args, settings_from_args
    from search.rungs import make_scheduler
    from search.settings import OPTUNA_TRIAL

    settings = settings_from_args(parse_args(["--smoke", "--max-epochs", "3", *flag, "--runs-dir", str(tmp_path), "--run", "s"]))
    SearchFolder(settings.folder).write_settings(settings)
    scheduler = make_scheduler(SearchFolder(settings.folder).settings, start_points=2)
    made = []
    for number, score in enumerate((1.662, 1.80, 1.67, 1.79)):
        trial = SimpleNamespace(trial_id=str(number), config={OPTUNA_TRIAL: number})
        scheduler.on_trial_add(None, trial)
        made.append(scheduler.on_trial_result(None, trial, {"training_iteration": 1, RUNG_METRIC: score}))
    assert made == [getattr(TrialScheduler, d) for d in decisions]
