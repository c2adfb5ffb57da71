"""`python -m ensemble.predict --ensemble DIR --test PATH`: a submission from a saved ensemble folder,
without the search that built it."""

from __future__ import annotations

import argparse

from common.cli import add_ensemble_arg
from common.errors import UserError, exits_on_bad_input

from .ensemble import Ensemble
from .folder import Manifest, is_ensemble
from .submission import add_submission_args, check_submission_args, check_submission_inputs, write_submission


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m ensemble.predict", description=__doc__.split("\n\n")[0])
    add_ensemble_arg(p, "the ensemble folder to predict with (ensemble.build, refit or distill wrote it)", required=True)
    add_submission_args(p)
    args = p.parse_args(argv)
    check_submission_args(p, args)
    if not args.test:
        p.error("--test is required")
    if not is_ensemble(args.ensemble):
        raise UserError(str(args.ensemble), "not an ensemble folder (python -m ensemble.build writes one)")
    submission = check_submission_inputs(args)  # a bad test file or lookup fails here, before any model loads
    ensemble = Ensemble(args.ensemble, amp=args.amp)
    tta = args.tta == "flip"
    print(f"ensemble of {len(ensemble.models)} members on {ensemble.device}{' (bf16 compute)' if ensemble.bf16 else ''}, "
          f"{validation_figure(ensemble.manifest, tta)}")
    write_submission(submission, ensemble, tta=tta)


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
