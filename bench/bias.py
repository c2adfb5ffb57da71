"""Members' biases (ensemble.bias) on a finished search: its ensemble built again as ensemble.build now
does (each candidate's bias, measured on training faces, taken off), against the ensemble built before
(its folder as it is), on the val faces: selection score, held-out score, and with flip TTA.

    python -m bench.bias --run NAME [--runs-dir runs] [--max-mb 50]

The new ensemble is built in a temporary folder and measured there; the run's own is left alone.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.common import FACES15, write_results
from data.transforms import rmse_px
from ensemble.build import build
from ensemble.candidates import load_candidates
from ensemble.ensemble import Ensemble
from search.results import SearchFolder


def scores(ensemble: Ensemble) -> dict:
    """Val RMSE of `ensemble` without and with flip TTA, and its manifest's figures."""
    val = ensemble.configs[0].load_split().val
    m = ensemble.manifest
    return {"val_rmse": m.val_rmse, "heldout_rmse": m.heldout.ensemble_rmse if m.heldout else None,
            "val_rmse_with_bias": m.val_rmse_with_bias, "flip_tta_val_rmse": rmse_px(ensemble.predict(val.images, tta=True), val.keypoints),
            "members": [{"arch": x.arch, "weight": x.weight, "val_rmse": x.val_rmse,
                         "bias_rms_px": None if x.bias_px is None else float(np.sqrt(np.mean(np.square(x.bias_px)))),
                         "flip_bias_rms_px": None if x.flip_bias_px is None else float(np.sqrt(np.mean(np.square(x.flip_bias_px))))}
                        for x in m.members],
            "total_mb": m.total_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--max-mb", type=float, default=50)
    parser.add_argument("--data", type=Path, default=FACES15, help="only to write paths relative to it")
    parser.add_argument("--out", type=Path, default=Path("bench/results/bias.json"))
    args = parser.parse_args()
    search = SearchFolder(args.runs_dir / args.run)

    before = scores(Ensemble(search.ensemble_folder))
    with tempfile.TemporaryDirectory() as tmp:
        after = scores(Ensemble(build(load_candidates(search.folder), args.max_mb, "fp32", 50, search.folder, Path(tmp) / "ensemble")))
    write_results("bias", args, {"before": before, "after": after}, args.out)
    for name, s in (("built before (biases on)", before), ("biases off", after)):
        print(f"{name:<25} val {s['val_rmse']:.3f} px, held out {s['heldout_rmse']:.3f}, flip TTA {s['flip_tta_val_rmse']:.3f}, "
              f"{len(s['members'])} members, {s['total_mb']:.1f} MB")


if __name__ == "__main__":
    main()
