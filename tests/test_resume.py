"""An interrupted search (Ctrl-C after a finished trial) resumes to all its trials, earlier ones unchanged."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd


def _finished_trials(folder: Path) -> dict[str, float]:
    """trial id -> best_val_rmse of every trial whose last result says done."""
    done = {}
    for result in folder.glob("*/result.json"):
        lines = result.read_text().splitlines()
        last = json.loads(lines[-1]) if lines else {}
        if last.get("done"):
            done[last["trial_id"]] = last["best_val_rmse"]
    return done


def test_interrupted_search_resumes_to_all_trials(tmp_path):
    cmd = [sys.executable, "-m", "search.run", "--smoke", "--trials", "4", "--max-epochs", "2",
           "--storage", str(tmp_path), "--name", "cut", "--no-dashboard"]
    search = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = tmp_path / "cut"
    deadline = time.time() + 300
    while not _finished_trials(folder) and time.time() < deadline and search.poll() is None:
        time.sleep(0.5)
    search.send_signal(signal.SIGINT)  # what Ctrl-C sends
    search.wait(timeout=120)
    before = _finished_trials(folder)
    assert 1 <= len(before) < 4, "the interruption should land mid-search"
    weights_before = {p: p.stat().st_mtime_ns for t in before for p in folder.glob(f"*_{t}_*/checkpoint_*/weights.pt")}
    assert len(weights_before) == len(before)

    resumed = subprocess.run(cmd[:3] + ["--resume", "--storage", str(tmp_path), "--name", "cut", "--no-dashboard"],
                             capture_output=True, text=True, timeout=400, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    table = pd.read_csv(folder / "leaderboard.csv").set_index("trial")
    assert len(table) == 4 and (table["status"] == "DONE").all()
    for trial, rmse in before.items():
        assert table.loc[trial, "best_val_rmse"] == rmse
    for path, mtime in weights_before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was retrained"
