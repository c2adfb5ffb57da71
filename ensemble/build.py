"""`python -m ensemble.build --max-mb 50`: the best weighted ensemble of a search's trials whose
member files fit the budget, saved as a folder; with --test, also the submission CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common.cli import add_ensemble_arg, add_report_arg, add_run_args
from common.errors import UserError, exits_on_bad_input
from data.split import Split
from data.transforms import mean_face_rmse, rmse_px
from search.results import SearchFolder
from training.checkpoint import load_model
from training.device import pick_device, uses_bf16

from .bias import bias_faces, member_bias
from .candidates import Candidate, latest_run, load_candidates
from .ensemble import Ensemble, predict_members
from .folder import BestSingle, Manifest, Member, member_bytes, member_file, training_layout, write_ensemble
from .select import cross_fit, near_the_best, select
from .submission import add_submission_args, check_submission_args, check_submission_inputs, check_writable, write_submission


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ensemble.build", description=__doc__.split("\n\n")[0])
    p.add_argument("--max-mb", type=float, required=True, help="budget for the member files together, in MB (10^6 bytes)")
    add_run_args(p, "the search to ensemble (default: the latest)")
    p.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32", help="fp16 ships members in half precision: half the size")
    p.add_argument("--rounds", type=int, default=50, help="greedy selection rounds, 1 or more (default 50)")
    add_ensemble_arg(p, "the ensemble folder to write (default RUNS_DIR/RUN/ensemble)", old="--ensemble-dir")
    p.add_argument("--seed", type=int, default=0, help="splits the validation faces in two for the held-out score (default 0)")
    p.add_argument("--drop-weak", type=float, metavar="SHARE",
                   help="leave out trials whose own validation RMSE lies more than SHARE of the way from the best trial's to the "
                        "mean face's (e.g. 0.5; default: every trial is a candidate)")
    add_submission_args(p)
    add_report_arg(p, "once the ensemble is in the search folder")
    args = p.parse_args(argv)
    if not args.max_mb > 0:  # NaN too
        p.error("--max-mb must be positive")
    if args.rounds < 1:
        p.error("--rounds must be 1 or more")
    check_submission_args(p, args)
    return args


def search_split(candidate: Candidate, val_digest: str) -> Split:
    """The faces the search trained and scored on, re-read from the data its config names; they must be
    the ones it recorded (`val_digest`; "" for a search from before digests: the ids then)."""
    c = candidate.config
    split = c.load_split()
    same = split.val_digest == val_digest if val_digest else np.array_equal(split.val.ids, candidate.val_ids)
    if not same:
        raise UserError(c.val or c.train, "no longer gives the validation faces the search was scored on")
    return split


def build(candidates: list[Candidate], budget_mb: float, dtype: str, rounds: int, run: Path, out: Path, amp: str = "auto",
          seed: int = 0, drop_weak: float | None = None) -> Path:
    """Select on all validation faces and ship that; score the selection honestly by cross-fitting (`seed`).
    Each candidate's bias (ensemble.bias), measured on training faces, is taken off its predictions first.
    `drop_weak`: leave out the candidates that `near_the_best` does not keep at that share."""
    targets = candidates[0].val_targets
    split = search_split(candidates[0], SearchFolder(run).settings.val_digest)
    if drop_weak is not None:
        mean_face = mean_face_rmse(split.train.keypoints, targets)
        kept = near_the_best(np.array([c.val_rmse for c in candidates]), mean_face, drop_weak)
        print(f"--drop-weak {drop_weak:g}: {len(candidates) - kept.sum()} of {len(candidates)} trials left out (their own val RMSE "
              f"above {drop_weak:g} of the way from the best, {min(c.val_rmse for c in candidates):.3f} px, to the mean face, {mean_face:.3f} px)")
        candidates = [c for c, keep in zip(candidates, kept) if keep]
    states = [c.state_dict(dtype) for c in candidates]
    files = [member_bytes(s) for s in states]
    sizes = np.array([len(f) for f in files])

    # Biases and shipped figures are computed on the members as stored in `dtype`, where and as Ensemble
    # will predict on this machine (the GPU when there is one; bf16 where amp allows); selection uses the
    # trials' float32 validation predictions, less those biases.
    device = pick_device("auto")
    bf16 = uses_bf16(amp, device)
    models = [load_model(c.config, s, device) for c, s in zip(candidates, states)]
    faces = bias_faces(split.train)
    print(f"measuring each candidate's bias on {len(faces)} training faces", flush=True)
    biases = [member_bias(m, c.config.origin, faces, device, bf16, tta=False) for m, c in zip(models, candidates)]
    predictions = np.stack([c.val_predictions - b for c, b in zip(candidates, biases)])  # (M, N, 30) px
    selection = select(predictions, targets, sizes, budget_mb * 1e6, rounds)
    chosen = np.flatnonzero(selection.counts)

    alone = {i: predict_members([models[i]], np.ones(1), split.val.images, device=device, bf16=bf16) for i in chosen}  # biases on
    max_diff = max(float(np.abs(p - candidates[i].val_predictions).max()) for i, p in alone.items())
    weights = selection.weights[chosen]
    # every candidate with flip TTA, as shipped, less its flip bias: the held-out score of what submissions use
    flip_biases = [member_bias(m, c.config.origin, faces, device, bf16, tta=True) for m, c in zip(models, candidates)]
    flipped = np.stack([predict_members([m], np.ones(1), split.val.images, device, bf16, [c.config.origin], [b])
                        for m, c, b in zip(models, candidates, flip_biases)])  # (M, N, 30) px
    members = [
        Member(candidates[i].name, candidates[i].config.arch, member_file(candidates[i].name), float(w), sizes[i] / 1e6,
               rmse_px(alone[i] - biases[i], targets), candidates[i].config.to_dict(), bias_px=biases[i].tolist(),
               flip_bias_px=flip_biases[i].tolist(), kept_epoch=candidates[i].checkpoint.kept_epoch)
        for i, w in zip(chosen, weights)
    ]
    fitting = np.flatnonzero(sizes <= budget_mb * 1e6)
    best = fitting[np.argmin([rmse_px(predictions[i], targets) for i in fitting])]  # biases off, as the ensemble's
    c = candidates[0].config
    manifest = Manifest(
        members=members,
        val_rmse=rmse_px(sum(w * (alone[i] - biases[i]) for i, w in zip(chosen, weights)), targets),
        total_mb=selection.size_bytes / 1e6,
        budget_mb=budget_mb,
        dtype=dtype,
        bf16=bf16,
        max_diff_px=max_diff,
        device=device.type,
        heldout=cross_fit(predictions, targets, sizes, budget_mb * 1e6, rounds, seed, flipped),
        run=str(run),
        data={"train": c.train, "val": c.val or f"{c.val_fraction:.0%} of train, split seed {c.split_seed}", "val_faces": len(targets),
              "val_digest": split.val_digest},
        val_rmse_with_bias=rmse_px(sum(w * alone[i] for i, w in zip(chosen, weights)), targets),
        flip_tta_val_rmse=rmse_px(np.tensordot(weights, flipped[chosen], axes=1), targets),
        best_single=BestSingle(candidates[best].name, rmse_px(predictions[best], targets)),
        face_layout=training_layout(split.train),
    )

    return write_ensemble(out, manifest, {candidates[i].name: files[i] for i in chosen})


def format_members(manifest: Manifest) -> str:
    lines = [f"{'member':<10} {'arch':<12} {'weight':>7} {'MB':>7} {'val RMSE':>9}"]
    for m in manifest.members:
        lines.append(f"{m.name:<10} {m.arch:<12} {m.weight:>7.3f} {m.size_mb:>7.2f} {m.val_rmse:>9.3f}")
    lines.append(f"{'ensemble':<10} {'':<12} {1:>7.3f} {manifest.total_mb:>7.2f} {manifest.val_rmse:>9.3f}"
                 f"   (budget {manifest.budget_mb:g} MB, {manifest.dtype} weights, {manifest.device}{', bf16 compute' if manifest.bf16 else ''})")
    lines.append(f"best single trial that fits: {manifest.best_single.name} {manifest.best_single.val_rmse:.3f} px "
                 "(both with their biases off, no TTA)")
    lines.append(f"ensemble with flip TTA (what submissions use unless --tta none): {manifest.flip_tta_val_rmse:.3f} px")
    lines.append(f"each member's bias (its mean error on training faces) taken off: without that the ensemble scores "
                 f"{manifest.val_rmse_with_bias:.3f} px")
    h = manifest.heldout
    lines.append(f"held out from the selection (members chosen on half the validation faces, scored on the other half, both "
                 f"ways; seed {h.seed}): ensemble {h.ensemble_rmse:.3f} px, with flip TTA {h.flip_tta_ensemble_rmse:.3f} px (as "
                 f"shipped); best single trial {h.best_single_rmse:.3f} px. The figures above were chosen and scored on the same "
                 "faces: optimistic. Each trial's kept epoch was chosen on all the validation faces, in these figures too")
    lines.append(f"shipped vs trained predictions: at most {manifest.max_diff_px:.4f} px apart")
    return "\n".join(lines)


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run = args.runs_dir / args.run if args.run else latest_run(args.runs_dir)
    if not run.is_dir():
        raise UserError(str(run), "no such search run")
    out = args.ensemble or SearchFolder(run).ensemble_folder
    check_writable(out.resolve().parent)
    submission = check_submission_inputs(args)  # a bad test file or lookup fails here, before any work
    candidates = load_candidates(run)
    print(f"{len(candidates)} candidate trials in {run}")
    out = build(candidates, args.max_mb, args.dtype, args.rounds, run, out, args.amp, args.seed, args.drop_weak)
    ensemble = Ensemble(out, amp=args.amp)
    print(format_members(ensemble.manifest))
    print(f"ensemble: {out}; reuse it with python -m ensemble.predict --ensemble {out} --test FILE")
    if submission:
        write_submission(submission, ensemble, tta=args.tta == "flip")
    if args.report and out == SearchFolder(run).ensemble_folder:
        SearchFolder(run).refresh_report()


if __name__ == "__main__":
    main()
