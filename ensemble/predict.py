"""`python -m ensemble.predict --ensemble DIR --test PATH`: a submission from a saved ensemble folder,
without the search that built it; `--images PATH...`: the keypoints of every face in whole photos.

Photos: files, folders and glob patterns, JPEG or PNG, colour or grey, any size. Each face a detector
finds is cropped as the training faces were (ensemble.photos); the CSV has a row per face, keypoints in
the photo's pixels, and a row with no keypoints for a photo without a face."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common.cli import add_ensemble_arg
from common.errors import UserError, exits_on_bad_input

from .detect import DEFAULT_DETECTOR, create_detector, detector_names
from .ensemble import Ensemble
from .folder import Manifest, is_ensemble
from .photo_output import draw, keypoint_rows, write_keypoints
from .photos import check_photos, locate, photo_paths, read_photo, to_grey
from .submission import add_submission_args, check_submission_args, check_submission_inputs, write_submission


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m ensemble.predict", description=__doc__.split("\n\n")[0])
    add_ensemble_arg(p, "the ensemble folder to predict with (ensemble.build, refit or distill wrote it)", required=True)
    add_submission_args(p)
    g = p.add_argument_group("photos")
    g.add_argument("--images", nargs="+", metavar="PATH", help="photos, folders of photos or glob patterns: predict every face in them "
                                                               "(writes a keypoints CSV, --out, default keypoints.csv)")
    g.add_argument("--detector", choices=detector_names(), default=DEFAULT_DETECTOR,
                   help=f"the face detector (default {DEFAULT_DETECTOR}: it found the most faces on photos_val, bench/README.md)")
    g.add_argument("--refine", type=int, default=1, metavar="PASSES",
                   help="refinement passes: crop each face again around its prediction and predict again (default 1; 0: none; "
                        "bench/README.md measures 0, 1 and 2)")
    g.add_argument("--draw", type=Path, metavar="DIR", help="also write each photo with its boxes and keypoints drawn, as PNG, here")
    args = p.parse_args(argv)
    check_submission_args(p, args)
    if bool(args.test) == bool(args.images):
        p.error("give --test (a CSV of 96x96 faces) or --images (photos), one of them")
    if args.refine < 0:
        p.error("--refine counts passes: 0 or more")
    if args.images and (args.format or args.lookup or args.student_id):
        p.error("--format, --lookup and --student-id shape a submission; --images writes a keypoints CSV (--out)")
    if not is_ensemble(args.ensemble):
        raise UserError(str(args.ensemble), "not an ensemble folder (python -m ensemble.build writes one)")
    if args.images:
        return predict_photos(args)
    submission = check_submission_inputs(args)  # a bad test file or lookup fails here, before any model loads
    ensemble = Ensemble(args.ensemble, amp=args.amp)
    tta = args.tta == "flip"
    print(f"ensemble of {len(ensemble.models)} members on {ensemble.device}{' (bf16 compute)' if ensemble.bf16 else ''}, "
          f"{validation_figure(ensemble.manifest, tta)}")
    write_submission(submission, ensemble, tta=tta)


def predict_photos(args: argparse.Namespace) -> None:
    paths = photo_paths(args.images)
    check_photos(paths)  # a bad photo fails here, before any model loads
    detector = create_detector(args.detector)
    ensemble = Ensemble(args.ensemble, amp=args.amp)
    out = args.out or Path("keypoints.csv")
    print(f"{len(paths)} photos; ensemble of {len(ensemble.models)} members on {ensemble.device}, {validation_figure(ensemble.manifest, args.tta == 'flip')}; "
          f"faces found by {detector.name}, {args.refine} refinement pass{'es' * (args.refine != 1)}", flush=True)
    rows, faces_found, empty, start = [], 0, 0, time.perf_counter()
    for i, path in enumerate(paths, 1):
        photo = read_photo(path)
        faces = locate(ensemble, to_grey(photo), detector, refine=args.refine, tta=args.tta == "flip")
        rows += keypoint_rows(str(path), faces)
        faces_found, empty = faces_found + len(faces), empty + (not faces)
        if args.draw:
            draw(photo, faces, ensemble.origin, args.draw / f"{i:05d}_{path.stem}.png")
        if i % 50 == 0 or i == len(paths):
            print(f"photo {i}/{len(paths)}: {faces_found} faces, {(time.perf_counter() - start) / i * 1000:.0f} ms a photo", flush=True)
    write_keypoints(rows, out)
    print(f"wrote {out}: {faces_found} faces in {len(paths) - empty} photos; no face found in {empty} photo{'s' * (empty != 1)}"
          f"{' (their rows have no keypoints)' if empty else ''}; keypoints in the photos' pixels, the centre of pixel column c "
          f"at x = c + {ensemble.origin:g}{f'; drawn in {args.draw}' if args.draw else ''}")


def validation_figure(manifest: Manifest, tta: bool) -> str:
    """What the manifest honestly says of predictions made this way."""
    if manifest.refit is not None:
        return (f"refitted on the validation faces: no validation figure of its own (the searched weights it was refitted "
                f"from scored {manifest.val_rmse:.3f} px)")
    if tta and manifest.flip_tta_val_rmse is not None:
        return f"val RMSE {manifest.flip_tta_val_rmse:.3f} px with flip TTA"
    if tta:  # a folder from before version 5 has no flip TTA figure
        return f"val RMSE {manifest.val_rmse:.3f} px without flip TTA (none recorded with it)"
    return f"val RMSE {manifest.val_rmse:.3f} px without flip TTA"


if __name__ == "__main__":
    main()
