"""The ensemble folder. This module alone knows its layout; everyone else goes through `write_ensemble`
and `read_ensemble`:

    members/<name>.pt   each member's state_dict, in the shipped dtype (loads with weights_only=True)
    manifest.json       format_version; the members (arch, file, weight, size, val RMSE, full config, bias), the
                        ensemble's val RMSE and its held-out (cross-fitted) score, the budget, the dtype,
                        the device and precision its figures were computed in, and the data it was built on

Versions: 7 adds the training faces' mean keypoint layout (where a face sits in the 96x96 frame, for
photos: ensemble.photos), filled in on reading older folders from their training file while it is there;
6 adds each member's kept epoch (what ensemble.refit trains to), the best single candidate's
score with its bias off, the held-out score with flip TTA, and the validation faces' digest; 5 adds each member's bias (ensemble.bias) and the scores with biases on and with flip TTA; 4
adds, for a refitted ensemble, where it came from; 3 adds the held-out score and, for a distilled student,
its teacher; 2 records the device; 1 (no format_version) computed its figures on the CPU.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from common.errors import UserError
from common.files import folder_lock, write_folder_atomically
from common.versions import check_readable
from data.faces import Faces
from data.split import load_train_faces
from data.transforms import labelled_mean

MANIFEST, VERSION = "manifest.json", 7


@dataclass(frozen=True)
class Member:
    name: str  # trial id
    arch: str
    file: str  # relative to the ensemble folder
    weight: float  # share in the average; the weights sum to 1
    size_mb: float  # of the member file as shipped
    val_rmse: float  # the member alone, px, with the shipped weights, its bias taken off
    config: dict  # the full TrainConfig it was trained with
    # (30,) px each: its mean error on its training faces (ensemble.bias), taken off what it predicts without
    # and with flip TTA; None in folders from before version 5, whose members predict as they are
    bias_px: list[float] | None = None
    flip_bias_px: list[float] | None = None
    kept_epoch: int | None = None  # the epoch its weights were kept at (its trial's best); None before version 6


@dataclass(frozen=True)
class HeldOut:
    """An honest score (ensemble.select.cross_fit): chosen on half the validation faces, scored on the
    other half, both ways; from the trials' float32 validation predictions."""

    seed: int  # splits the validation faces into the two halves
    ensemble_rmse: float  # px: every face predicted by the ensemble selected on the other half
    best_single_rmse: float  # px: every face predicted by the single candidate best on the other half
    # px: the same ensembles predicting with flip TTA as shipped (submissions' default); None before version 6
    flip_tta_ensemble_rmse: float | None = None


@dataclass(frozen=True)
class BestSingle:
    """The best single candidate that fits the budget, scored like the ensemble: its bias off, no TTA."""

    name: str  # trial id
    val_rmse: float  # px, on all the validation faces (chosen on them: optimistic, as the ensemble's val_rmse)


@dataclass(frozen=True)
class Distilled:
    """How a one-member ensemble was distilled from a bigger one (ensemble.distill)."""

    teacher: str  # the teacher ensemble's folder
    teacher_val_rmse: float  # px, chosen and scored on the validation faces (optimistic)
    teacher_heldout_rmse: float | None  # px, the teacher's held-out score (HeldOut.ensemble_rmse); None if it has none
    blend: float  # a true label's share in a target where there is one; the teacher's prediction has the rest
    unlabelled: str | None  # the file of images without labels added to the training faces
    unlabelled_faces: int
    seconds: float  # teacher predictions and the student's training


@dataclass(frozen=True)
class Refit:
    """How an ensemble's members were trained again on the training and validation faces together
    (ensemble.refit). Its manifest's validation figures and held-out score stay those of the searched
    weights that were selected: the refitted weights trained on those faces."""

    source: str  # the ensemble folder whose members were refitted
    train_faces: int  # faces each member trained on: the training and the validation faces
    seconds: float  # all the members' training


@dataclass(frozen=True)
class Manifest:
    members: list[Member]
    val_rmse: float  # the weighted average with the shipped weights, biases off, px (selected on these faces: optimistic)
    total_mb: float  # the distinct member files together
    budget_mb: float
    dtype: str  # fp32 or fp16
    bf16: bool  # members compute in bfloat16 autocast where this machine has it natively (amp=auto)
    max_diff_px: float  # largest |shipped - trained| member prediction on the validation faces (fp16 weights, bf16 compute)
    run: str  # the search it came from
    data: dict  # train/val files and validation face count
    device: str  # where val_rmse, the members' val_rmse and max_diff_px were computed: the device Ensemble predicts
    # on on the machine that built it (cuda when it has a GPU)
    heldout: HeldOut | None  # None in folders from before version 3, and for a distilled student
    distilled: Distilled | None = None  # a student's teacher and blend; None for an ensemble built from trials
    refit: Refit | None = None  # where a refitted ensemble came from; None for one built from the searched weights
    val_rmse_with_bias: float | None = None  # val_rmse with no member's bias taken off; None before version 5
    flip_tta_val_rmse: float | None = None  # val_rmse with flip TTA (submissions' default), biases off; None before version 5
    best_single: BestSingle | None = None  # None before version 6, and for a student or a refit
    # (30,) px: the training file's mean keypoints, in the members' label convention: where a face sits in the
    # 96x96 frame (ensemble.photos crops photos to match); None in a folder from before version 7 whose training file is gone
    face_layout: list[float] | None = None


def training_layout(faces: Faces) -> list[float]:
    """The mean of every truly labelled keypoint (filled-in labels left out) over the training faces
    (NaN-aware), px: where a face sits in the frame (ensemble.photos)."""
    return labelled_mean(faces.true_labels_only().keypoints).tolist()


def member_file(name: str) -> str:
    """Where member `name`'s weights lie, relative to the folder."""
    return f"members/{name}.pt"


def member_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """The member file's bytes, exactly as the ensemble folder will hold them: the budget is measured on
    these and these are written (torch.save to a path names its archive after the file, so a save to
    the path itself would differ from the measured bytes by the name's length)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def write_ensemble(out: Path, manifest: Manifest, files: dict[str, bytes]) -> Path:
    """The whole folder, atomically: `files` maps each member's name to its file's bytes."""

    def fill(folder: Path) -> None:
        (folder / "members").mkdir()
        for name, data in files.items():
            (folder / member_file(name)).write_bytes(data)
        (folder / MANIFEST).write_text(json.dumps({"format_version": VERSION, **asdict(manifest)}, indent=2) + "\n")

    return write_folder_atomically(out, fill)


def is_ensemble(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def read_ensemble(folder: Path) -> tuple[Manifest, list[dict[str, torch.Tensor]]]:
    """The manifest and each member's weights (on the CPU), read whole even while a build swaps the folder."""
    with folder_lock(folder):
        raw = json.loads((Path(folder) / MANIFEST).read_text())
        version = raw.pop("format_version", 1)
        check_readable(str(folder), "an ensemble folder", version, VERSION)
        if version < 2:
            raw["device"] = "cpu"  # version 1 computed every figure on the CPU
        heldout = HeldOut(**raw["heldout"]) if raw.get("heldout") else None  # none before version 3
        distilled = Distilled(**raw["distilled"]) if raw.get("distilled") else None
        refit = Refit(**raw["refit"]) if raw.get("refit") else None  # none before version 4
        best_single = BestSingle(**raw["best_single"]) if raw.get("best_single") else None  # none before version 6
        if version < 7:
            raw["face_layout"] = _old_layout(raw["data"].get("train"))
        manifest = Manifest(**{**raw, "members": [Member(**m) for m in raw["members"]], "heldout": heldout, "distilled": distilled,
                               "refit": refit, "best_single": best_single})
        return manifest, [torch.load(Path(folder) / m.file, map_location="cpu", weights_only=True) for m in manifest.members]


def _old_layout(train: str | None) -> list[float] | None:
    """A folder from before version 7: its layout from its training file, if that is still where it was."""
    try:
        return training_layout(load_train_faces(train)) if train else None
    except (UserError, OSError):
        return None
