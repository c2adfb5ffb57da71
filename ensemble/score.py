"""`python -m ensemble.score --data labelled.csv [--ensemble DIR | --run RUN [--trial ID|RANK]]`: how a built
ensemble, a student or a single trial does on a labelled file of your own (a hold-out, last year's test):
RMSE over every labelled coordinate and per keypoint, without and with flip TTA, and a picture of the
faces it gets most wrong.

Each is scored as it ships: an ensemble (or a student) as `ensemble.predict` predicts, its members' biases
off; a trial as its checkpoint's weights predict, with no bias taken off. Faces it trained on flatter it:
a refitted ensemble scored on its search's validation faces is said to be.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common.cli import add_ensemble_arg, add_run_args
from common.errors import UserError, exits_on_bad_input
from data.keypoints import KEYPOINT_NAMES
from data.reader import load_faces
from data.split import faces_digest, labelled_rows
from data.transforms import face_rmse, keypoint_rmse, rmse_px
from search.results import SearchFolder
from training.config import AMP_MODES
from training.device import pick_device, uses_bf16
from training.plots import plot_overlay

from .candidates import latest_run
from .ensemble import Ensemble, predict_members
from .folder import is_ensemble
from .submission import clip_to_frame

WORST_SHOWN = 16

Predict = Callable[[np.ndarray, bool], np.ndarray]  # (N, 96, 96) uint8, flip TTA -> (N, 30) px


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ensemble.score", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="a labelled CSV (.csv, .csv.gz or .zip) in the training file's layout")
    add_ensemble_arg(p, "an ensemble folder: built, refitted or a student (default: the run's ensemble)")
    add_run_args(p, "the search whose ensemble, or whose --trial, to score (default: the latest)")
    p.add_argument("--trial", help="score this trial of the run instead (its id, or its leaderboard rank: 1 = best)")
    p.add_argument("--out", type=Path, default=Path("worst_faces.png"), help="the picture of the worst faces (default worst_faces.png)")
    p.add_argument("--amp", choices=AMP_MODES, default="auto",
                   help="auto: bfloat16 compute on CUDA and on CPUs with native bf16, as submissions predict; off: float32, as the search scored")
    args = p.parse_args(argv)
    if args.ensemble and args.trial:
        p.error("give --ensemble or --trial, not both")
    return args


def ensemble_predictor(folder: Path, amp: str = "auto") -> tuple[str, Predict, float, dict]:
    """What predicts, how, its label origin (the frame to clip to) and its manifest's data record."""
    if not is_ensemble(folder):
        raise UserError(str(folder), "not an ensemble folder (ensemble.build, refit or distill writes one)")
    ensemble = Ensemble(folder, amp=amp)
    m = ensemble.manifest
    kind = "refitted ensemble" if m.refit else "student" if m.distilled else "ensemble"
    data = {**m.data, "refit": m.refit is not None}
    return f"{kind} {folder} ({len(ensemble.models)} members)", ensemble.predict, ensemble.origin, data


def trial_predictor(search: SearchFolder, name: str, amp: str = "auto") -> tuple[str, Predict, float, dict]:
    trial = search.trial(name)
    if trial.checkpoint is None:
        raise UserError(str(trial.folder), "has no checkpoint: the trial ended before its first epoch")
    checkpoint = trial.checkpoint
    device = pick_device("auto")
    model, bf16, origin = checkpoint.build_model(device), uses_bf16(amp, device), checkpoint.config.origin

    def predict(images: np.ndarray, tta: bool) -> np.ndarray:
        return predict_members([model], np.ones(1), images, device, bf16, [origin] if tta else None)

    return f"trial {trial.id} of {search.folder.name} ({checkpoint.config.arch})", predict, origin, {}


def score_lines(predictions: dict[str, np.ndarray], targets: np.ndarray) -> list[str]:
    """The table: overall and per keypoint RMSE (px) for each way of predicting."""
    ways = list(predictions)
    per_keypoint = {way: keypoint_rmse(p, targets) for way, p in predictions.items()}
    lines = [f"{'keypoint':<26}" + "".join(f"{way:>12}" for way in ways)]
    for k, name in enumerate(KEYPOINT_NAMES):
        lines.append(f"{name:<26}" + "".join(f"{per_keypoint[way][k]:>12.3f}" for way in ways))
    lines.append(f"{'all coordinates':<26}" + "".join(f"{rmse_px(p, targets):>12.3f}" for p in predictions.values()))
    return lines


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    faces = labelled_rows(load_faces(args.data, need_labels=True).true_labels_only())
    if args.ensemble:
        what, predict, origin, data = ensemble_predictor(args.ensemble, args.amp)
    else:
        search = SearchFolder(args.runs_dir / args.run if args.run else latest_run(args.runs_dir))
        what, predict, origin, data = trial_predictor(search, args.trial, args.amp) if args.trial else ensemble_predictor(search.ensemble_folder, args.amp)
    if data.get("refit") and data.get("val_digest") == faces_digest(faces):
        print(f"note: {args.data} holds the validation faces this refitted ensemble trained on: its scores here flatter it")
    predictions = {way: clip_to_frame(predict(faces.images, tta), origin) for way, tta in (("no TTA", False), ("flip TTA", True))}
    print(f"{what} on {len(faces)} labelled faces of {args.data} (RMSE, px):")
    print("\n".join(score_lines(predictions, faces.keypoints)))
    per_face = face_rmse(predictions["flip TTA"], faces.keypoints)
    worst = np.argsort(per_face)[::-1][:WORST_SHOWN]
    plot_overlay(faces.images[worst], predictions["flip TTA"][worst], args.out, targets=faces.keypoints[worst], n=WORST_SHOWN,
                 titles=[f"{per_face[i]:.2f} px" for i in worst], suptitle=f"the {len(worst)} worst-predicted faces of {args.data.name}",
                 origin=origin)
    print(f"the {len(worst)} worst faces (flip TTA; green: labels, red: predictions): {args.out}")


if __name__ == "__main__":
    main()
