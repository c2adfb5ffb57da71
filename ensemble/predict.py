"""`python -m ensemble.predict --ensemble DIR --test PATH`: a submission from a saved ensemble folder,
without the search that built it."""

from __future__ import annotations

import argparse
from pathlib import Path

from common.errors import UserError, exits_on_bad_input

from .ensemble import Ensemble
from .folder import is_ensemble
from .submission import add_submission_args, check_submission_args, check_submission_inputs, write_submission


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m ensemble.predict", description=__doc__.split("\n\n")[0])
    p.add_argument("--ensemble", type=Path, required=True, help="folder written by ensemble.build")
    add_submission_args(p)
    args = p.parse_args(argv)
    check_submission_args(p, args)
    if not args.test:
        p.error("--test is required")
    if not is_ensemble(args.ensemble):
        raise UserError(str(args.ensemble), "not an ensemble folder (python -m ensemble.build writes one)")
    submission = check_submission_inputs(args)  # a bad test file or lookup fails here, before any model loads
    ensemble = Ensemble(args.ensemble, amp=args.amp)
    print(f"ensemble of {len(ensemble.models)} members on {ensemble.device}{' (bf16 compute)' if ensemble.bf16 else ''}, "
          f"val RMSE {ensemble.manifest.val_rmse:.3f} px")
    write_submission(submission, ensemble, tta=args.tta == "flip")


if __name__ == "__main__":
    main()
