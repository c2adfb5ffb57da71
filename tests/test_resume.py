"""A search interrupted (Ctrl-C) or killed hard (SIGKILL of the driver and everything it started, as a
power cut) resumes to all its trials, finished ones unchanged, Optuna's study one record per trial."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch

from search.results import SearchFolder

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.slow  # every test here runs and kills real searches

FAULTY_SEARCH = [sys.executable, str(Path(__file__).with_name("faulty_search.py"))]  # search.run with a fault injected
TRIALS = 6  # enough for a stop to land mid-search and for ASHA to stop some


def _finished(search: SearchFolder) -> dict:
    """trial id -> record, for every trial that finished."""
    try:
        return {t.id: t for t in search.trials() if t.status == "DONE"}
    except Exception:  # Tune has not written its experiment state yet
        return {}


def _search(tmp_path, name: str, trials: int) -> list[str]:
    return [sys.executable, "-m", "search.run", "--smoke", "--trials", str(trials), "--max-epochs", "3",
            "--storage", str(tmp_path), "--name", name, "--no-dashboard", "--no-report"]


def _stop_mid_search(cmd: list[str], search: SearchFolder, stop) -> dict:
    """Start the search, stop it with `stop(process)` once a trial has finished; the finished trials. What
    the stopped search printed is kept beside its folder (`NAME.log`) and shown when a check fails."""
    with _log(search).open("w") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 300
        while not _finished(search) and time.time() < deadline and process.poll() is None:
            time.sleep(0.2)
        stop(process)
        process.wait(timeout=120)
    return _finished(search)


def _log(search: SearchFolder) -> Path:
    return search.folder.with_suffix(".log")


def _resume_and_check(cmd: list[str], search: SearchFolder, before: dict, trials: int) -> str:
    """Resume the stopped search and check it; what the resumed search printed."""
    assert 1 <= len(before) < trials, f"the stop should land mid-search; the stopped search printed:\n{_log(search).read_text()[-3000:]}"
    weights_before = {t: trial.checkpoint.weights() for t, trial in before.items()}
    resumed = subprocess.run(cmd[:3] + ["--resume", *cmd[8:]], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert resumed.returncode == 0, f"{_log(search).read_text()[-2000:]}\n--- resumed:\n{resumed.stderr[-2000:]}"

    after = {t.id: t for t in search.trials()}
    assert len(after) == trials and all(t.status == "DONE" for t in after.values())
    for trial_id, trial in before.items():
        assert after[trial_id].best_val_rmse == trial.best_val_rmse
        assert after[trial_id].checkpoint == trial.checkpoint
        for name, value in after[trial_id].checkpoint.weights().items():
            assert torch.equal(value, weights_before[trial_id][name]), f"{trial_id} was retrained"
    study = optuna.load_study(study_name=search.settings.name, storage=search.optuna_url)
    # One record per Tune trial, none lost, none counted twice; but for a trial that ran and finished
    # wholly between two of Tune's state saves just before the kill, which the resumed search names.
    finished_unseen = resumed.stdout.count("before Tune recorded it")
    assert len(study.trials) == trials + finished_unseen
    # COMPLETE: ran its schedule to the end; PRUNED: stopped by ASHA. A trial rerun after the kill keeps
    # the state Optuna recorded first, which the rerun (ASHA deciding again) may not repeat.
    reruns = resumed.stdout.count("rerun after the search was killed")
    pruned = [t.state for t in study.trials].count(optuna.trial.TrialState.PRUNED)
    stopped_by_asha = sum(not t.metrics["finished"] for t in after.values())
    assert {t.state for t in study.trials} <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert abs(pruned - stopped_by_asha) <= reruns + finished_unseen and stopped_by_asha >= 1, f"ASHA should stop some of {trials} trials"
    return resumed.stdout


def test_interrupted_search_resumes_to_all_trials(tmp_path):
    cmd = _search(tmp_path, "cut", TRIALS)
    search = SearchFolder(tmp_path / "cut")
    before = _stop_mid_search(cmd, search, lambda p: p.send_signal(signal.SIGINT))  # what Ctrl-C sends
    _resume_and_check(cmd, search, before, TRIALS)


def test_search_killed_hard_resumes_to_all_trials(tmp_path):
    cmd = _search(tmp_path, "killed", TRIALS)
    search = SearchFolder(tmp_path / "killed")
    before = _stop_mid_search(cmd, search, lambda p: os.killpg(p.pid, signal.SIGKILL))  # the driver and all it started
    _resume_and_check(cmd, search, before, TRIALS)


def _killed_by_fault(tmp_path, fault: str, name: str) -> tuple[list[str], SearchFolder, dict]:
    """A search run with `fault` (tests/faulty_search.py), armed once a trial has finished and
    killing the search when it fires: (the plain search command, the search, the finished trials)."""
    flags = tmp_path / "flags"
    flags.mkdir()
    cmd = _search(tmp_path, name, TRIALS)
    search = SearchFolder(tmp_path / name)
    before = _stop_mid_search([*FAULTY_SEARCH, fault, str(flags), *cmd[3:]], search, lambda p: (flags / "armed").touch())
    assert (flags / "killed").exists(), f"{fault} should have killed the search"
    return cmd, search, before


def test_a_search_killed_mid_checkpoint_resumes_to_all_trials(tmp_path):
    """The kill lands inside a checkpoint write, leaving a file cut in half."""
    cmd, search, before = _killed_by_fault(tmp_path, "kill_mid_checkpoint", "cut_checkpoint")
    _resume_and_check(cmd, search, before, TRIALS)


def test_a_search_killed_after_optuna_recorded_a_trial_resumes_to_all_trials(tmp_path):
    """The kill lands after Optuna recorded a trial as finished and before Tune did: Tune reruns the
    trial on resume, and Optuna keeps its one record of it."""
    cmd, search, before = _killed_by_fault(tmp_path, "kill_after_optuna_tells", "told")
    printed = _resume_and_check(cmd, search, before, TRIALS)
    assert "rerun after the search was killed; Optuna keeps the result it recorded before" in printed


def test_a_trial_that_raises_and_one_whose_process_is_killed_are_restarted_and_finish(tmp_path):
    """Ray's failure handling restarts each from its last checkpoint: an exception in the trial, and its
    process killed as the out-of-memory killer would. Both end DONE with all their epochs run."""
    cmd = [*FAULTY_SEARCH, "raise_once,kill_trial_once", str(tmp_path), "--smoke", "--trials", "2", "--max-epochs", "4",
           "--grace-period", "4", "--storage", str(tmp_path), "--name", "flaky", "--no-dashboard", "--no-report"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "raised").exists() and (tmp_path / "killed").exists(), "both faults should have fired"
    trials = SearchFolder(tmp_path / "flaky").trials()
    assert len(trials) == 2 and all(t.status == "DONE" and t.metrics["epoch"] == 4 for t in trials)


def test_a_flag_a_resumed_search_cannot_change_is_refused_in_one_line_naming_it(tmp_path, capsys):
    from search.run import main, parse_args, settings_from_args

    settings = settings_from_args(parse_args(["--smoke", "--runs-dir", str(tmp_path), "--run", "s"]))
    SearchFolder(settings.folder).write_settings(settings)
    for flag, value in (("--train", "other.csv"), ("--space", "other.yaml"), ("--seed", "3")):
        with pytest.raises(SystemExit):
            main(["--resume", "--runs-dir", str(tmp_path), "--run", "s", flag, value])
        err = capsys.readouterr().err
        assert err.startswith(f"error: {flag}: cannot change when a search resumes") and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["--resume", "--runs-dir", str(tmp_path), "--run", "s", "--trials", "2"])
    assert "2 is fewer than the 3 this search was started with" in capsys.readouterr().err


def test_a_resumed_search_runs_on_to_more_trials_within_a_new_time_budget(ray_cluster, tmp_path, capsys):
    from search.run import main

    common = ["--runs-dir", str(tmp_path), "--run", "s", "--no-dashboard", "--no-report"]
    main(["--smoke", "--trials", "2", "--time-budget", "0.05", *common])  # a budget of 3 s: the first start ends with it
    started = len(SearchFolder(tmp_path / "s").trials())
    capsys.readouterr()
    main(["--resume", "--trials", "3", "--time-budget", "10", *common])
    out = capsys.readouterr().out
    search = SearchFolder(tmp_path / "s")
    assert "resumed with 10.0 minutes of time budget (--time-budget); on to 3 trials in all" in out
    assert len(search.trials()) == 3 and all(t.status == "DONE" for t in search.trials()), [t.status for t in search.trials()]
    assert search.settings.trials == 3 and started <= 2
