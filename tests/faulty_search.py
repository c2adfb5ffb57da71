"""`python tests/faulty_search.py FAULT[,FAULT] FLAGS [search.run arguments]`: `search.run` with faults
injected into every trial process through Ray's own `worker_process_setup_hook`, or into the driver, so
that product code carries no test hooks. FLAGS is a folder through which the test and the faults talk
across processes:

  raise_once           a trial's second epoch raises, once in the whole search (FLAGS/raised marks it)
  kill_trial_once      a trial's process SIGKILLs itself as its second epoch starts, as the out-of-memory
                       killer would, once in the whole search (FLAGS/killed marks it)
                       (with both, each hits a different trial)
  kill_mid_checkpoint  once the test creates FLAGS/armed, the next file a checkpoint writes is cut in half
                       and the search's whole process group (driver, Ray, trials) is SIGKILLed, as by a
                       power cut (FLAGS/killed marks it)
  kill_after_optuna_tells  (driver) once FLAGS/armed exists, the search is SIGKILLed right after Optuna
                       records the next finished trial, before Tune saves that trial's state (FLAGS/killed)
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def _first(flag: Path) -> bool:
    """True for the first caller in any process: creating a file with O_EXCL is atomic."""
    try:
        os.close(os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def _first_on_a_new_trial(flag: Path, trainer) -> bool:
    """As `_first`, but never on a trial another fault of the search has hit: each hit costs the trial
    one of its restarts (max_failures=1). A trial is known by its config, the same when it restarts."""
    config = json.dumps(trainer.config.to_dict(), sort_keys=True)
    if any(hit.read_text() == config for hit in flag.parent.glob("*.trial")) or not _first(flag):
        return False
    flag.with_suffix(".trial").write_text(config)
    return True


def raise_once(flags: Path, search_group: int) -> None:
    from training.trainer import Trainer

    train_epoch = Trainer.train_epoch

    def faulty(self, *args, **kwargs):
        if len(self.history) == 1 and _first_on_a_new_trial(flags / "raised", self):
            raise RuntimeError("injected fault: a trial's second epoch raises, once")
        return train_epoch(self, *args, **kwargs)

    Trainer.train_epoch = faulty


def kill_trial_once(flags: Path, search_group: int) -> None:
    from training.trainer import Trainer

    train_epoch = Trainer.train_epoch

    def killed(self, *args, **kwargs):
        if len(self.history) == 1 and _first_on_a_new_trial(flags / "killed", self):
            os.kill(os.getpid(), signal.SIGKILL)
        return train_epoch(self, *args, **kwargs)

    Trainer.train_epoch = killed


def kill_mid_checkpoint(flags: Path, search_group: int) -> None:
    import torch

    save = torch.save

    def cut_short(obj, path, *args, **kwargs):
        save(obj, path, *args, **kwargs)
        written_to_disk = isinstance(path, (str, os.PathLike))  # not a buffer (Ray and torch save to those too)
        if written_to_disk and (flags / "armed").exists() and _first(flags / "killed"):
            os.truncate(path, os.path.getsize(path) // 2)
            os.killpg(search_group, signal.SIGKILL)  # the driver and the Ray processes it started
            os.killpg(os.getpgid(0), signal.SIGKILL)  # Ray starts its workers in groups of their own

    torch.save = cut_short


def kill_after_optuna_tells(flags: Path, search_group: int) -> None:
    from optuna.study import Study

    tell = Study.tell

    def tell_then_die(self, *args, **kwargs):
        told = tell(self, *args, **kwargs)
        if (flags / "armed").exists() and _first(flags / "killed"):
            os.killpg(search_group, signal.SIGKILL)
        return told

    Study.tell = tell_then_die


IN_TRIALS = {"raise_once": raise_once, "kill_trial_once": kill_trial_once, "kill_mid_checkpoint": kill_mid_checkpoint}
IN_DRIVER = {"kill_after_optuna_tells": kill_after_optuna_tells}

if __name__ == "__main__":
    import ray

    from search.internals import set_ray_environment
    from search.run import main

    faults, flags, argv, search_group = sys.argv[1].split(","), Path(sys.argv[2]), sys.argv[3:], os.getpgid(0)

    def setup() -> None:  # runs in every Ray worker process as it starts
        for fault in faults:
            if fault in IN_TRIALS:
                IN_TRIALS[fault](flags, search_group)

    for fault in faults:
        if fault in IN_DRIVER:
            IN_DRIVER[fault](flags, search_group)
    set_ray_environment()  # as search.run would before its own ray.init: trial processes at the driver's priority
    ray.init(address="local", num_cpus=2, include_dashboard=False, runtime_env={"worker_process_setup_hook": setup})
    main(argv)
