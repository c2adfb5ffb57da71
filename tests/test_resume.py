"""An interrupted search (Ctrl-C after a finished trial) resumes to all its trials, earlier ones unchanged."""

import os
import signal
import subprocess
import sys
import time

import torch

from search.results import SearchFolder


def _finished(search: SearchFolder) -> dict:
    """trial id -> record, for every trial that finished."""
    try:
        return {t.id: t for t in search.trials() if t.status == "DONE"}
    except Exception:  # Tune has not written its experiment state yet
        return {}


def test_interrupted_search_resumes_to_all_trials(tmp_path):
    cmd = [sys.executable, "-m", "search.run", "--smoke", "--trials", "8", "--max-epochs", "3",
           "--storage", str(tmp_path), "--name", "cut", "--no-dashboard"]
    search = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = SearchFolder(tmp_path / "cut")
    deadline = time.time() + 300
    while not _finished(folder) and time.time() < deadline and search.poll() is None:
        time.sleep(0.2)
    search.send_signal(signal.SIGINT)  # what Ctrl-C sends
    search.wait(timeout=120)
    before = _finished(folder)
    assert 1 <= len(before) < 8, "the interruption should land mid-search"
    weights_before = {t: trial.checkpoint.weights() for t, trial in before.items()}

    resumed = subprocess.run(cmd[:3] + ["--resume", "--storage", str(tmp_path), "--name", "cut", "--no-dashboard"],
                             capture_output=True, text=True, timeout=400, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    after = {t.id: t for t in folder.trials()}
    assert len(after) == 8 and all(t.status == "DONE" for t in after.values())
    for trial_id, trial in before.items():
        assert after[trial_id].best_val_rmse == trial.best_val_rmse
        assert after[trial_id].checkpoint == trial.checkpoint
        for name, value in after[trial_id].checkpoint.weights().items():
            assert torch.equal(value, weights_before[trial_id][name]), f"{trial_id} was retrained"
