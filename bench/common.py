"""What every bench shares: where the data is, one train-and-score helper, and one results envelope.

Every bench is a module (`python -m bench.NAME` from a checkout) that prints its figures and writes
bench/results/NAME.json as {bench, commit, machine, arguments, results}: the git commit it measured,
the machine with its CPU model, its arguments with paths relative to the data folder (or the checkout),
never a path of the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from configs import CPU_SPACE
from data.reader import load_faces
from data.split import Split, labelled_rows
from data.transforms import rmse_px
from ensemble.bias import bias_faces, member_bias
from ensemble.ensemble import Ensemble, predict_members
from ensemble.submission import clip_to_frame
from search.space import load_space
from training.config import TrainConfig
from training.device import machine
from training.trainer import Trainer, prepare_process

ROOT = Path(__file__).resolve().parents[1]
FACES15 = Path(os.environ.get("KPTUNE_FACES15", ROOT.parent / "shared/data/faces15"))  # the benchmark data beside a checkout
RESULTS = ROOT / "bench/results"


def write_results(bench: str, args: argparse.Namespace, results: dict, path: Path | None = None) -> Path:
    """The envelope around `results`, written atomically to bench/results/BENCH.json (or `path`)."""
    path = path or RESULTS / f"{bench}.json"
    report = {"bench": bench, "commit": _commit(), "machine": machine(),
              "arguments": {k: _portable(v, getattr(args, "data", FACES15)) for k, v in vars(args).items()}, "results": results}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    tmp.replace(path)
    print(f"wrote {path}")
    return path


def train_and_score(config: TrainConfig, split: Split, verbose: bool = False, time_budget_s: float | None = None) -> tuple[Trainer, dict]:
    """Train `config` in this process (seeded) and score its kept weights on the validation faces:
    plain and with flip TTA, each also with the net's bias on its training faces taken off (as an
    ensemble member ships: ensemble.bias), the epochs run and the seconds they took."""
    prepare_process(config)
    trainer = Trainer(config, split)
    start = time.perf_counter()
    history = trainer.fit(verbose=verbose, time_budget_s=time_budget_s)
    seconds = time.perf_counter() - start
    return trainer, {"val_rmse": trainer.best_rmse, "val_rmse_flip_tta": flip_tta_rmse(trainer, split.val),
                     **bias_off_rmse(trainer, split), "epochs": len(history),
                     "best_epoch": min(history, key=lambda r: r.val_rmse).epoch, "seconds": seconds,
                     "val_rmse_per_epoch": [r.val_rmse for r in history]}


def cpu_start_point() -> dict:
    """What a search on a CPU trains first: the default CPU space's fixed values and its first start point."""
    space = load_space(CPU_SPACE)
    return {**{p.name: p.values[0] for p in space.params if p.kind == "fixed"}, **space.start[0]}


def faces15_config(data: Path, **values) -> TrainConfig:
    """A TrainConfig on the benchmark's train and val files."""
    return TrainConfig.from_dict({"train": str(data / "train.csv.gz"), "val": str(data / "val.csv.gz"), **values})


def flip_tta_rmse(trainer: Trainer, val) -> float:
    """Validation RMSE (px) of a trained Trainer's kept weights with flip TTA, mirrored about its label origin."""
    predictions = predict_members([trainer.evaluated], [1.0], val.images, trainer.device, bf16=False, tta_origins=[trainer.config.origin])
    return rmse_px(predictions, val.keypoints)


def ensemble_test_rmse(ensemble: Ensemble, test: Path) -> tuple[float, int]:
    """An ensemble's RMSE (px) with flip TTA, as submissions predict (clipped to the frame), over a labelled
    file's labelled coordinates, and how many faces that is."""
    faces = labelled_rows(load_faces(test, need_labels=True))
    return rmse_px(clip_to_frame(ensemble.predict(faces.images, tta=True), ensemble.origin), faces.keypoints), len(faces)


def bias_off_rmse(trainer: Trainer, split: Split) -> dict[str, float]:
    """Validation RMSE (px) of a trained Trainer's kept weights with its bias off, plain and with flip TTA."""
    faces = bias_faces(split.train)
    scores = {}
    for key, tta in (("val_rmse_bias_off", False), ("val_rmse_flip_tta_bias_off", True)):
        bias = member_bias(trainer.evaluated, trainer.config.origin, faces, trainer.device, bf16=False, tta=tta)
        predictions = predict_members([trainer.evaluated], [1.0], split.val.images, trainer.device, bf16=False,
                                      tta_origins=[trainer.config.origin] if tta else None, biases=[bias])
        scores[key] = rmse_px(predictions, split.val.keypoints)
    return scores


def _commit() -> str:
    run = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout
    return run.stdout.strip() + ("+changes" if dirty.strip() else "") if run.returncode == 0 else "unknown"


def portable_pairs(pairs: list[str], data: Path = FACES15) -> list[str]:
    """NAME=PATH[,PATH...] arguments with each path as another machine can read it (see _portable)."""
    return [f"{name}={','.join(str(_portable(Path(p), data)) for p in paths.split(','))}"
            for name, _, paths in (pair.partition("=") for pair in pairs)]


def _portable(value, data: Path):
    """A path as another machine can read it: within the data folder or the checkout, else its name."""
    if not isinstance(value, Path):
        return value
    resolved = value.resolve()
    for base, prefix in ((Path(data).resolve(), Path(data).name), (ROOT, "")):
        if resolved.is_relative_to(base):
            return str(Path(prefix) / resolved.relative_to(base))
    return value.name
