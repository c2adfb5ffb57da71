"""A faces15 search killed hard mid-epoch (SIGKILL of the driver, Ray and the trials: what a power cut
does), then `--resume`d: were the finished trials kept unchanged, was the killed trial continued from its
checkpoint, does the Optuna study hold exactly one finished record per Tune trial, and how much work was
lost.

    python -m bench.kill_resume [--data ../shared/data/faces15] [--trials 3] [--epochs 4]

The tests do the same with a tiny synthetic search; this is the real-sized case (seconds-long epochs,
megabyte checkpoints), killed while a trial is halfway through an epoch.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from bench.common import FACES15, ROOT, write_results
from search.results import SearchFolder, TrialRecord

logging.getLogger("ray.tune").setLevel(logging.ERROR)  # polled mid-search, Tune warns of trials without results yet


def records(search: SearchFolder) -> list[TrialRecord]:
    try:
        return search.trials()
    except Exception:  # Tune has not written its experiment state yet
        return []


def kill_mid_epoch(cmd: list[str], search: SearchFolder) -> tuple[float, dict[str, TrialRecord], TrialRecord, float]:
    """Start the search; once a trial has finished and another is halfway through an epoch, SIGKILL every
    process of the search's session. Returns the seconds it ran, the finished trials, the killed one, and
    how many seconds into its epoch the kill landed."""
    process = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    started = time.perf_counter()
    while process.poll() is None:
        time.sleep(0.5)
        trials = records(search)
        running = [t for t in trials if t.status == "UNFINISHED" and len(t.history)]
        if not (any(t.status == "DONE" for t in trials) and running):
            continue
        last = running[0].history.iloc[-1]  # its latest epoch; the next one started as it was reported
        wait = last["timestamp"] + last["epoch_seconds"] / 2 - time.time()
        if wait < 0:  # read too late: already past halfway, wait for its next epoch
            continue
        time.sleep(wait)
        killed_at = time.time()
        subprocess.run(["pkill", "-KILL", "-s", str(process.pid)])  # every process in the search's session
        process.wait()
        break
    else:
        raise SystemExit("the search ended before it could be killed: give it more trials or epochs")
    seconds = time.perf_counter() - started
    trials = {t.id: t for t in records(search)}
    victim = trials[running[0].id]
    into_epoch = killed_at - victim.history.iloc[-1]["timestamp"]
    return seconds, {i: t for i, t in trials.items() if t.status == "DONE"}, victim, into_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench/results/kill_resume.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as storage:
        cmd = [sys.executable, "-m", "search.run", "--train", str(args.data / "train.csv.gz"), "--val", str(args.data / "val.csv.gz"),
               "--trials", str(args.trials), "--max-epochs", str(args.epochs), "--storage", storage, "--name", "killed", "--no-dashboard"]
        search = SearchFolder(Path(storage) / "killed")
        killed_after, finished, victim, into_epoch = kill_mid_epoch(cmd, search)
        weights = {t.id: t.checkpoint.weights() for t in finished.values()}
        victim_epochs = int(victim.history["epoch"].max())
        checkpointed_epochs = len(victim.checkpoint.history()) if victim.checkpoint else 0

        start = time.perf_counter()
        resumed = subprocess.run(cmd[:3] + ["--resume", "--storage", storage, "--name", "killed", "--no-dashboard"], cwd=ROOT)
        resume_seconds = time.perf_counter() - start
        after = {t.id: t for t in search.trials()}
        study = optuna.load_study(study_name="killed", storage=search.optuna_url)

        unchanged = all(
            after[i].best_val_rmse == t.best_val_rmse and all((after[i].checkpoint.weights()[k] == v).all() for k, v in weights[i].items())
            for i, t in finished.items()
        )
        report = {
            "trials": args.trials,
            "epochs": args.epochs,
            "killed_after_s": killed_after,
            "finished_before_kill": len(finished),
            "killed_trial": {"id": victim.id, "killed_in_epoch": victim_epochs + 1, "seconds_into_that_epoch": into_epoch,
                             "epoch_seconds": float(victim.history.iloc[-1]["epoch_seconds"]), "epochs_in_its_checkpoint": checkpointed_epochs,
                             "epochs_after_resume": int(after[victim.id].metrics["epoch"]), "status_after_resume": after[victim.id].status},
            "resume_exit_code": resumed.returncode,
            "resume_s": resume_seconds,
            "trials_after_resume": len(after),
            "all_done": all(t.status == "DONE" for t in after.values()),
            "finished_trials_unchanged": unchanged,
            "optuna_records": len(study.trials),
            "optuna_complete": sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials),
        }
    print(f"killed after {killed_after:.0f} s with {len(finished)} trial(s) finished; trial {victim.id} killed {into_epoch:.0f} s into epoch {victim_epochs + 1}, "
          f"its checkpoint held {checkpointed_epochs} epochs; resumed in {resume_seconds:.0f} s to {len(after)} trials "
          f"(all DONE: {report['all_done']}), finished ones unchanged: {unchanged}; Optuna: {report['optuna_records']} records, "
          f"{report['optuna_complete']} complete")
    write_results("kill_resume", args, report, args.out)


if __name__ == "__main__":
    main()
