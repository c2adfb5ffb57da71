"""A search folder (runs/NAME), read through Tune's own API: one typed record per trial. This module
alone knows the folder's layout; the leaderboard, the plots, the ensemble, the report, the benches and
the tests go through `SearchFolder`, never through file names or Tune's folder conventions.

    runs/NAME/search.json           format_version and SearchSettings: what --resume needs, with the
                                    config every trial shares
    runs/NAME/<trial>/              Tune's: params.json (what Optuna sampled), results, error.txt,
                                    TensorBoard event files, and checkpoint_* (training.checkpoint
                                    folders; Tune keeps the latest, which holds the kept weights)
    runs/NAME/optuna.db             the Optuna study
    runs/NAME/machine.json          what it ran on
    runs/NAME/labels.json           what ensemble.label last filled in with this search's ensemble
    runs/NAME/leaderboard.csv, search.png, report/, ensemble/, student/

Versions: 8 adds `finish_start_points` to search.json (ASHA never stops a start point; before, it might:
false); 7 adds `rung_tie` to search.json (ASHA lets near-ties of a rung's cutoff go on; before, Ray's
rule: 0); 6 adds `init` to search.json (the checkpoint each architecture's trials start from; before,
none: {}); 5 adds `val_digest` to search.json (which validation faces the trials score on; before, unknown:
""); 4 adds `ensemble_share` to search.json (the last phase's members, search.members; before,
none: 0); 3 adds `rung_cooldown` to search.json (ASHA judges cooldown branches; before, the best
score so far, which is what 0 means) and trials report `rung_rmse`; 2 records a diverged trial in its
last result (`diverged`, `error`); 1 (search.json without format_version) only in the text of the
trial's error.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from common.errors import UserError
from common.files import write_text_atomically
from common.versions import check_readable
from training.checkpoint import Checkpoint
from training.config import TrainConfig

from .settings import SearchSettings, train_values

if TYPE_CHECKING:  # Ray and Optuna are imported only where trials are read: the CLIs check their input first
    import optuna
    from ray.tune import Result

METRIC = "best_val_rmse"  # what the search minimises: the validation RMSE (px) of the weights a trial keeps
RUNG_METRIC = "rung_rmse"  # what ASHA judges at its rungs: where the trial would end (search.trainable)
SETTINGS, OPTUNA_DB, MACHINE, LABELS, VERSION = "search.json", "optuna.db", "machine.json", "labels.json", 8
STATUSES = ("DONE", "UNFINISHED", "DIVERGED", "ERROR")
TUNE_ERROR_FILE = "error.txt"  # the traceback Tune writes into a crashed trial's folder


@dataclass(frozen=True)
class TrialRecord:
    id: str  # Tune's trial id
    folder: Path
    sampled: dict  # the values the search space gave it
    config: TrainConfig | None  # the checkpoint's, else the shared config plus the sampled values; None if those are invalid
    status: str  # DONE: finished (epochs, early stopping or ASHA); DIVERGED; ERROR: crashed; UNFINISHED: interrupted
    error: str  # the error's last line, "" when none
    error_file: Path | None  # the full traceback of a crash
    metrics: dict  # the last reported epoch's metrics
    history: pd.DataFrame  # one row per reported epoch (epoch, train_loss, val_rmse, best_val_rmse, ...)
    checkpoint: Checkpoint | None  # its kept weights with their validation predictions; None if none was reported

    @property
    def best_val_rmse(self) -> float:
        return self.metrics.get(METRIC, math.nan)

    @property
    def rung_rmse(self) -> float:
        """The score ASHA judged it by at its last rung (its final score once its schedule ended); NaN when
        it reached no rung, and in searches from before rung scores."""
        scores = self.history[RUNG_METRIC].dropna() if RUNG_METRIC in self.history else []
        return float(scores.iloc[-1]) if len(scores) else math.nan

    @property
    def healthy(self) -> bool:
        """Finished or interrupted: neither crashed nor diverged."""
        return self.status in ("DONE", "UNFINISHED")

    @property
    def usable(self) -> bool:
        """May enter an ensemble: healthy, with a complete checkpoint."""
        return self.healthy and self.checkpoint is not None and self.checkpoint.is_complete()


def _config(sampled: dict, checkpoint: Checkpoint | None, base: dict) -> TrainConfig | None:
    """The checkpoint's config, else the shared one with the sampled values; None when nothing was
    sampled (never the shared config alone: that is not what the trial would have run)."""
    if checkpoint is not None and checkpoint.is_complete():
        return checkpoint.config
    if not sampled:
        return None
    try:
        return TrainConfig.from_dict(train_values(sampled), base=TrainConfig.from_saved(base))
    except ValueError:  # the sampled values themselves were invalid: the trial crashed on them
        return None


def _status(result: Result, state: str, version: int) -> str:
    metrics = result.metrics or {}
    if metrics.get("diverged"):
        return "DIVERGED"
    if result.error:  # a version 1 search raised TrainingDiverged: Ray's wrapper of it names the class
        return "DIVERGED" if version < 2 and "TrainingDiverged" in str(result.error) else "ERROR"
    # Finished is Tune's word (TERMINATED), not the last result's `done`: a search stopped between the two
    # has a last result marked done for a trial that Tune will run again on --resume.
    return "DONE" if state == "TERMINATED" else "UNFINISHED"


def _record(result: Result, state: str, trial_config: dict, base: dict, version: int) -> TrialRecord:
    """One trial from Tune's result, status and config; `base`: the config every trial of the search shares."""
    folder = Path(result.path)
    metrics = result.metrics or {}
    checkpoint = Checkpoint(Path(result.checkpoint.path)) if result.checkpoint else None
    sampled = trial_config or result.config or {}  # Tune's experiment state holds it from the trial's creation on
    error = metrics.get("error", "")
    if result.error:
        error = [line for line in str(result.error).splitlines() if line.strip()][-1].strip()
    error_file = folder / TUNE_ERROR_FILE
    history = result.metrics_dataframe if result.metrics_dataframe is not None else pd.DataFrame()
    return TrialRecord(
        id=metrics.get("trial_id") or folder.name,
        folder=folder,
        sampled=sampled,
        config=_config(sampled, checkpoint, base),
        status=_status(result, state, version),
        error=error,
        error_file=error_file if error_file.is_file() else None,
        metrics=metrics,
        history=history,
        checkpoint=checkpoint,
    )


@dataclass(frozen=True)
class SearchFolder:
    folder: Path

    @property
    def settings(self) -> SearchSettings:
        saved = self._saved_settings()
        saved.pop("format_version", None)
        saved.setdefault("rung_cooldown", 0.0)  # versions 1 and 2: ASHA judged the best score so far
        saved.setdefault("ensemble_share", 0.0)  # versions 1 to 3: no ensemble members
        saved.setdefault("rung_tie", 0.0)  # versions 1 to 6: Ray's rule
        saved.setdefault("finish_start_points", False)  # versions 1 to 7: ASHA might stop a start point
        return SearchSettings(**saved)

    @property
    def version(self) -> int:
        """The folder's format version; a newer one than this kptune reads is a UserError."""
        version = self._saved_settings().get("format_version", 1)
        check_readable(str(self.folder), "a search folder", version, VERSION)
        return version

    def _saved_settings(self) -> dict:
        return json.loads((self.folder / SETTINGS).read_text())

    def best_checkpoints(self) -> dict[str, Path]:
        """Architecture -> the checkpoint folder of its best finished trial, best architecture first."""
        best: dict[str, Path] = {}
        for trial in ranked(self.trials()):
            if trial.usable and trial.config.arch not in best:
                best[trial.config.arch] = trial.checkpoint.folder
        return best

    def write_settings(self, settings: SearchSettings) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.folder / SETTINGS, json.dumps({"format_version": VERSION, **settings.to_dict()}, indent=2) + "\n")

    def leaderboard(self) -> pd.DataFrame:
        """The leaderboard as search.run last wrote it."""
        return pd.read_csv(self.leaderboard_csv)

    def study(self) -> optuna.Study:
        import optuna

        return optuna.load_study(study_name=self.settings.name, storage=self.optuna_url)

    def event_files(self) -> list[Path]:
        """Tune's TensorBoard event files, one set per trial."""
        return sorted(self.folder.glob("*/events.out.tfevents.*"))

    @property
    def leaderboard_csv(self) -> Path:
        return self.folder / "leaderboard.csv"

    @property
    def plot_png(self) -> Path:
        return self.folder / "search.png"

    def write_machine(self, facts: dict) -> None:
        self._write_json(MACHINE, facts)

    @property
    def machine(self) -> dict:
        """What the search ran on (cores, bf16, GPU); empty for searches from before it was recorded."""
        return self._read_json(MACHINE)

    def write_labels(self, facts: dict) -> None:
        self._write_json(LABELS, facts)

    @property
    def labels(self) -> dict:
        """What ensemble.label last filled in with this search's ensemble (files, counts); empty if never."""
        return self._read_json(LABELS)

    def _write_json(self, name: str, facts: dict) -> None:
        write_text_atomically(self.folder / name, json.dumps(facts, indent=2) + "\n")

    def _read_json(self, name: str) -> dict:
        path = self.folder / name
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def report_folder(self) -> Path:
        return self.folder / "report"

    @property
    def ensemble_folder(self) -> Path:
        return self.folder / "ensemble"

    @property
    def refit_folder(self) -> Path:
        """Where ensemble.refit writes ensemble_folder's members trained again on train + val."""
        return self.folder / "ensemble_refit"

    @property
    def student_folder(self) -> Path:
        """Where ensemble.distill writes the one-member ensemble it distilled from ensemble_folder's."""
        return self.folder / "student"

    def refresh_report(self) -> None:
        """Write or refresh the report page. The report is the stage above the search and the ensemble,
        so it runs as its own command, as a user would run it (`python -m report` prints the page's path)."""
        subprocess.run([sys.executable, "-m", "report", "--runs-dir", str(self.folder.parent), "--run", self.folder.name], check=False)

    def is_search(self) -> bool:
        return (self.folder / SETTINGS).is_file()

    @property
    def optuna_url(self) -> str:
        return f"sqlite:///{self.folder / OPTUNA_DB}"

    def trials(self) -> list[TrialRecord]:
        """Every trial Tune has recorded in this folder (no Ray needed)."""
        from ray.tune import ExperimentAnalysis, ResultGrid

        from .internals import quiet_about_trials_without_results

        version, base = self.version, self.settings.base  # a folder of a newer format is refused before Tune reads it
        # absolute: Tune reads the folder through pyarrow, which takes a relative path for a URI and fails
        with quiet_about_trials_without_results():
            analysis = ExperimentAnalysis(str(self.folder.resolve()), default_metric=METRIC, default_mode="min")
        trials = {trial.path: trial for trial in analysis.trials}  # by folder, as ResultGrid names them
        return [_record(result, trials[result.path].status, trials[result.path].config, base, version) for result in ResultGrid(analysis)]


    def trial(self, name: str) -> TrialRecord:
        """One trial by its id, or by its rank on the leaderboard (1 = best); a UserError naming the ids when
        there is none such."""
        trials = ranked(self.trials())
        if name.isdigit() and 1 <= int(name) <= len(trials):
            return trials[int(name) - 1]
        found = [t for t in trials if t.id == name]
        if not found:
            ids = ", ".join(t.id for t in trials) or "none"
            raise UserError(str(self.folder), f"has no trial '{name}' (its trials: {ids}; or give a rank, 1 = best)")
        return found[0]


def ranked(trials: list[TrialRecord]) -> list[TrialRecord]:
    """The leaderboard's order: best score first, those without a score last, ties by id."""
    return sorted(trials, key=lambda t: (math.isnan(t.best_val_rmse), 0.0 if math.isnan(t.best_val_rmse) else t.best_val_rmse, t.id))


def timed(trials: list[TrialRecord]) -> list[TrialRecord]:
    """The trials whose epochs carry Tune's clock (its `timestamp`, and `time_total_s`, the trial's training seconds)."""
    return [t for t in trials if "timestamp" in t.history and "time_total_s" in t.history]


def search_started(trials: list[TrialRecord]) -> float:
    """When the first trial started (Unix seconds): its first epoch's timestamp less the seconds it took.
    `trials`: timed ones."""
    return min(float((t.history["timestamp"] - t.history["time_total_s"]).min()) for t in trials)


def latest_search(storage: Path) -> SearchFolder | None:
    """The most recently started search under storage, or None."""
    runs = sorted(Path(storage).glob(f"*/{SETTINGS}"), key=lambda p: p.stat().st_mtime)
    return SearchFolder(runs[-1].parent) if runs else None
