"""`python -m ensemble.refit [--run NAME] [--test test.csv]`: the search's ensemble with every member trained
again on the training and the validation faces together, written as an ensemble folder of its own that
`ensemble.predict` uses as it is.

Each member keeps its place and weight in the ensemble and trains with its own config (recipe, seed,
schedule) on the validation faces as well, as far as the selected weights trained: to the epoch its
trial kept them at (a trial ASHA cut at its first rung, to that rung; one that early stopping ended, to
its best epoch), on the schedule its trial ran, and keeps the weights of that epoch (TrainConfig.refit,
stop_epoch).
The selection and every validation figure stay those of the searched weights: the refitted ones trained
on the validation faces, so no figure of theirs would be honest. It takes about as long as the members'
own trials took; members train one after another, each on every core.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from common.cli import add_ensemble_arg, add_report_arg, add_run_args
from common.errors import UserError, exits_on_bad_input
from data.split import Split
from models import cast_floating
from search.results import SearchFolder
from training.checkpoint import load_model
from training.config import TrainConfig
from training.trainer import Trainer, prepare_process

from .bias import bias_faces, member_biases
from .candidates import DTYPES, latest_run
from .ensemble import Ensemble, predict_members
from .folder import Member, Refit, is_ensemble, member_bytes, write_ensemble
from .submission import add_submission_args, check_submission_args, check_submission_inputs, check_writable, write_submission


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ensemble.refit", description=__doc__.split("\n\n")[0])
    add_run_args(p, "the search whose ensemble to refit (default: the latest)")
    add_ensemble_arg(p, "the refitted ensemble's folder to write (default RUNS_DIR/RUN/ensemble_refit)", old="--ensemble-dir")
    add_submission_args(p)
    add_report_arg(p, "once the refitted ensemble is in the search folder")
    args = p.parse_args(argv)
    check_submission_args(p, args)
    return args


def refit_config(member: Member) -> TrainConfig:
    """The member's own config, trained on the validation faces too and stopped where its weights were kept."""
    if member.kept_epoch is None:
        raise UserError(member.name, "was built into its ensemble before kptune recorded the epoch each member was kept at: "
                                     "build the ensemble again (python -m ensemble.build), then refit it")
    return dataclasses.replace(TrainConfig.from_saved(member.config), refit=True, stop_epoch=member.kept_epoch, device="auto", threads=0)


def refit_member(member: Member, split: Split, dtype: str, source: Ensemble) -> tuple[Member, bytes, float]:
    """`member` trained again with its own config on `split`'s training and validation faces: its manifest
    entry (size and config updated, the searched weights' validation RMSE kept), its file's bytes in
    `dtype`, and how far the shipped weights' predictions are from the trained ones (px). Its biases are
    measured again, on the faces it now trained on."""
    config = refit_config(member)
    prepare_process(config)
    trainer = Trainer(config, split)
    trainer.fit(verbose=True)
    state = cast_floating(trainer.best_state, DTYPES[dtype])
    data = member_bytes(state)
    model = load_model(trainer.config, state, source.device)
    shipped = predict_members([model], np.ones(1), split.val.images, source.device, source.bf16)
    diff = float(np.abs(shipped - trainer.best_predictions).max())
    biases = member_biases(model, config.origin, bias_faces(split.train.joined(split.val)), source.device, source.bf16)
    return dataclasses.replace(member, size_mb=len(data) / 1e6, config=trainer.config.to_dict(), **biases), data, diff


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run = SearchFolder(args.runs_dir / args.run if args.run else latest_run(args.runs_dir))
    if not is_ensemble(run.ensemble_folder):
        raise UserError(str(run.ensemble_folder), "no ensemble to refit: build one first with python -m ensemble.build --max-mb 50")
    out = args.ensemble or run.refit_folder
    check_writable(out.resolve().parent)
    submission = check_submission_inputs(args)  # a bad test file or lookup fails here, before any training
    source = Ensemble(run.ensemble_folder, amp=args.amp)
    manifest = source.manifest
    config = source.configs[0]
    for member in manifest.members:
        refit_config(member)  # a member that cannot be refitted fails here, before any training
    split = config.load_split()  # the search's faces, one split for all its members; a file gone fails here
    if split.val_digest != manifest.data.get("val_digest"):
        raise UserError(config.val or config.train, f"no longer gives the {manifest.data.get('val_faces')} validation faces the ensemble "
                                                    "was built on")
    faces = len(split.train) + len(split.val)
    print(f"refitting {len(manifest.members)} members on {len(split.train)} training + {len(split.val)} validation faces, one after another")

    start = time.perf_counter()
    members, files, diffs = [], {}, []
    for i, member in enumerate(manifest.members, 1):
        print(f"member {i}/{len(manifest.members)}: {member.name} ({member.arch}, weight {member.weight:.3f}), epochs 1-{member.kept_epoch} "
              f"of its {member.config['epochs']}-epoch schedule, as its kept weights trained", flush=True)
        refitted, files[member.name], diff = refit_member(member, split, manifest.dtype, source)
        members.append(refitted)
        diffs.append(diff)
    seconds = time.perf_counter() - start
    refit = dataclasses.replace(manifest, members=members, total_mb=sum(m.size_mb for m in members), max_diff_px=max(diffs),
                                refit=Refit(source=str(run.ensemble_folder), train_faces=faces, seconds=seconds))
    write_ensemble(out, refit, files)
    print(f"refitted ensemble: {out}, in {seconds / 60:.1f} min; its validation figures are the searched weights' "
          f"({manifest.val_rmse:.3f} px): the refitted ones trained on those faces\n"
          f"reuse it with python -m ensemble.predict --ensemble {out} --test FILE")
    if submission:
        write_submission(submission, Ensemble(out, amp=args.amp), tta=args.tta == "flip")
    if args.report and out == run.refit_folder:
        run.refresh_report()


if __name__ == "__main__":
    main()
