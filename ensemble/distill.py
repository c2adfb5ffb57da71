"""`python -m ensemble.distill --max-mb 5 [--run NAME] [--arch ARCH] [--unlabelled test.csv]`: one small
network (the student) trained to predict what the search's ensemble (the teacher) predicts, written as
a one-member ensemble folder that `ensemble.predict` uses as it is.

The student trains on the search's training faces with the best trial's recipe (augmentation, schedule,
loss) for twice its epochs: on faces15 the student of a 4-member ensemble (1.634 px held out) scored
1.719 px in the recipe's 24 epochs and 1.596 px in 48 (bench/results/distill.json, distill_e48.json); that
of a one-hour default search's (1.494 px held out) 1.466 px in 72 (distill_h1e36.json).
Its targets are the teacher's predictions (flip TTA) blended with the true labels where there are any
(`--blend`, the true label's share), and the teacher's alone where a label is missing, where an ensemble
filled it in (ensemble.label: such a target counts `filled_weight` in the loss, as in a trial) and for
every face of `--unlabelled`. It is scored on the search's validation faces, which neither it nor the
teacher's predictions trained on: an `--unlabelled` file that holds one of them is refused, and its
labels, if it has any, are not used.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from common.cli import add_ensemble_arg, add_run_args
from common.errors import UserError, exits_on_bad_input
from data.faces import Faces
from data.reader import load_faces
from data.split import Split
from data.transforms import rmse_px
from models import cast_floating, create_model, list_models, saved_size_bytes
from search.results import SearchFolder
from training.checkpoint import load_model
from training.config import TrainConfig
from training.trainer import Trainer, prepare_process

from .bias import bias_faces, member_biases
from .candidates import DTYPES, Candidate, latest_run, load_candidates
from .ensemble import Ensemble, predict_members
from .folder import Distilled, Manifest, Member, is_ensemble, member_bytes, member_file, training_layout, write_ensemble
from .submission import check_writable, clip_to_frame

STUDENT_EPOCHS_FACTOR = 2  # the student's epochs against the recipe's, unless --epochs says


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ensemble.distill", description=__doc__.split("\n\n")[0])
    p.add_argument("--max-mb", type=float, required=True, help="the student's file size budget, MB (10^6 bytes)")
    add_run_args(p, "the search whose ensemble teaches (default: the latest)")
    p.add_argument("--arch", choices=list_models(), help="the student's architecture (default: the best trial's that fits, "
                                                         "else the largest registered one that fits)")
    p.add_argument("--dtype", choices=list(DTYPES), default="fp32", help="fp16 ships the student in half precision: half the size")
    p.add_argument("--blend", type=float, default=0.5, help="a true label's share in a target where there is one (default 0.5)")
    p.add_argument("--unlabelled", type=Path, help="images without labels (e.g. a test file) to add, with the teacher's targets")
    p.add_argument("--epochs", type=int, help="the student's epochs (default: twice the recipe's)")
    add_ensemble_arg(p, "the student's ensemble folder to write (default RUNS_DIR/RUN/student: the report shows it)", old="--out")
    args = p.parse_args(argv)
    if not args.max_mb > 0:
        p.error("--max-mb must be positive")
    if not 0 <= args.blend <= 1:
        p.error("--blend must be between 0 and 1")
    return args


def student_config(candidates: list[Candidate], budget_bytes: float, dtype: str, arch: str | None, epochs: int | None = None) -> TrainConfig:
    """The best trial's recipe on an architecture whose file fits: `arch`, else the best trial's own
    (the best trial that fits), else the largest registered one that fits; for `epochs`, else
    STUDENT_EPOCHS_FACTOR times the recipe's; never a refit (a student trains on the training faces only)."""
    def size(name: str) -> int:
        return saved_size_bytes(create_model(name), DTYPES[dtype])

    def for_student(recipe: TrainConfig) -> TrainConfig:
        return dataclasses.replace(recipe, epochs=epochs or STUDENT_EPOCHS_FACTOR * recipe.epochs, refit=False, stop_epoch=0)

    ranked = sorted(candidates, key=lambda c: c.val_rmse)
    if arch is None:
        fitting = [c for c in ranked if size(c.config.arch) <= budget_bytes]
        if fitting:
            return for_student(fitting[0].config)
        arch = max((a for a in list_models() if size(a) <= budget_bytes), key=size, default=None)
        if arch is None:
            smallest = min(list_models(), key=size)
            raise UserError("--max-mb", f"no registered architecture fits {budget_bytes / 1e6:g} MB in {dtype} "
                                        f"(the smallest, {smallest}, is {size(smallest) / 1e6:.2f} MB)")
    elif size(arch) > budget_bytes:
        raise UserError("--arch", f"{arch} is {size(arch) / 1e6:.2f} MB in {dtype}, over the {budget_bytes / 1e6:g} MB budget")
    return for_student(dataclasses.replace(ranked[0].config, arch=arch))


def teacher_targets(teacher: Ensemble, faces: Faces, blend: float) -> np.ndarray:
    """(N, 30) px: the teacher's predictions (flip TTA), blended with the true labels where there are any
    (filled-in labels are not true labels)."""
    taught = clip_to_frame(teacher.predict(faces.images, tta=True), teacher.origin)
    if faces.keypoints is None:
        return taught
    true = faces.true_labels_only().keypoints
    return np.where(np.isnan(true), taught, blend * np.nan_to_num(true) + (1 - blend) * taught).astype(np.float32)


def student_faces(teacher: Ensemble, train: Faces, unlabelled: Faces | None, blend: float) -> Faces:
    """The student's training faces with their targets (teacher_targets): the search's training faces, a
    coordinate ensemble.label filled in still marked so (its target the teacher's, weighted `filled_weight`
    as in a trial), then the unlabelled ones."""
    faces = Faces(train.images, teacher_targets(teacher, train, blend), train.ids, "distilled", filled=train.filled)
    if unlabelled is None:
        return faces
    return faces.joined(Faces(unlabelled.images, teacher_targets(teacher, unlabelled, blend), unlabelled.ids, "distilled"))


def unlabelled_faces(path: Path, val: Faces) -> Faces:
    """The images of `path`, labels dropped (saying so); a validation face among them is a UserError."""
    faces = load_faces(path)
    seen = {image.tobytes() for image in val.images}
    for row, image in enumerate(faces.images, 1):
        if image.tobytes() in seen:
            raise UserError(str(path), "holds a validation face (the same image): the student's validation score would no longer be "
                                       "honest; give faces the search did not score on, e.g. the test file", row=row, column="Image")
    if faces.has_labels:
        print(f"{path}: its labels are not used (--unlabelled adds images with the teacher's targets only)")
    return Faces(faces.images, None, faces.ids, faces.source)


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run = SearchFolder(args.runs_dir / args.run if args.run else latest_run(args.runs_dir))
    out = args.ensemble or run.student_folder
    if not is_ensemble(run.ensemble_folder):
        raise UserError(str(run.ensemble_folder), "no ensemble to learn from: build one first with python -m ensemble.build --max-mb 50")
    check_writable(out.resolve().parent)
    candidates = load_candidates(run.folder)
    config = student_config(candidates, args.max_mb * 1e6, args.dtype, args.arch, args.epochs)
    config = dataclasses.replace(config, device="auto", threads=0)
    start = time.perf_counter()
    teacher = Ensemble(run.ensemble_folder)
    split = config.load_split()
    if teacher.manifest.data.get("val_digest", split.val_digest) != split.val_digest:  # none before version 6
        raise UserError(config.val or config.train, "no longer gives the validation faces the teacher was built on")
    unlabelled = unlabelled_faces(args.unlabelled, split.val) if args.unlabelled else None  # fails here, before any training
    train = student_faces(teacher, split.train, unlabelled, args.blend)
    print(f"teacher: {len(teacher.models)} members, val RMSE {teacher.manifest.val_rmse:.3f} px; student: {config.arch}, "
          f"{len(train)} training faces ({len(unlabelled) if unlabelled is not None else 0} unlabelled), {config.epochs} epochs", flush=True)

    prepare_process(config)
    trainer = Trainer(config, Split(train, split.val))
    trainer.fit(verbose=True)
    state = cast_floating(trainer.best_state, DTYPES[args.dtype])
    data = member_bytes(state)
    # scored as shipped: its dtype, on the device and in the precision Ensemble will use, as ensemble.build does
    model = load_model(trainer.config, state, teacher.device)
    shipped = predict_members([model], np.ones(1), split.val.images, teacher.device, teacher.bf16)
    biases = member_biases(model, config.origin, bias_faces(split.train), teacher.device, teacher.bf16)  # against the true labels
    val_rmse = rmse_px(shipped - np.array(biases["bias_px"]), split.val.keypoints)
    flipped = predict_members([model], np.ones(1), split.val.images, teacher.device, teacher.bf16, [config.origin], [np.array(biases["flip_bias_px"])])
    seconds = time.perf_counter() - start
    name = f"student-{config.arch}"
    manifest = Manifest(
        members=[Member(name, config.arch, member_file(name), 1.0, len(data) / 1e6, val_rmse, trainer.config.to_dict(), **biases)],
        val_rmse=val_rmse, total_mb=len(data) / 1e6, budget_mb=args.max_mb, dtype=args.dtype, bf16=teacher.bf16,
        max_diff_px=float(np.abs(shipped - trainer.best_predictions).max()),
        val_rmse_with_bias=rmse_px(shipped, split.val.keypoints), flip_tta_val_rmse=rmse_px(flipped, split.val.keypoints),
        run=str(run.folder), device=teacher.device.type, heldout=None, face_layout=training_layout(split.train),
        data={"train": config.train, "val": config.val, "val_faces": len(split.val), "val_digest": split.val_digest},
        distilled=Distilled(teacher=str(run.ensemble_folder), teacher_val_rmse=teacher.manifest.val_rmse,
                            teacher_heldout_rmse=teacher.manifest.heldout.ensemble_rmse if teacher.manifest.heldout else None,
                            blend=args.blend, unlabelled=str(args.unlabelled) if args.unlabelled else None,
                            unlabelled_faces=len(unlabelled) if unlabelled is not None else 0, seconds=seconds),
    )
    write_ensemble(out, manifest, {name: data})
    print(f"student {config.arch}: {len(data) / 1e6:.2f} MB, val RMSE {val_rmse:.3f} px (teacher {teacher.manifest.val_rmse:.3f} px"
          f"{f', held out {manifest.distilled.teacher_heldout_rmse:.3f} px' if manifest.distilled.teacher_heldout_rmse else ''}), "
          f"{seconds / 60:.1f} min\nstudent: {out}; use it with python -m ensemble.predict --ensemble {out} --test FILE")


if __name__ == "__main__":
    main()
