"""Test-time augmentation beyond flip: does a built ensemble score better on the val faces when it also
sees each face shifted by a pixel or two (its answers shifted back), and at what cost in prediction time?

    python -m bench.tta --run NAME [--runs-dir runs] [--data ../shared/data/faces15]

Views: flip alone (what ensemble.predict --tta flip does), then flip plus the four shifts of 1 px (up,
down, left, right), of 2 px, and of both. Each shifted face has its edge pixels repeated into the gap.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.common import FACES15, write_results
from data.reader import load_faces
from data.transforms import rmse_px
from ensemble.ensemble import Ensemble
from search.results import SearchFolder

SHIFTS = {"flip": [(0, 0)],
          "flip + 1 px shifts": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)],
          "flip + 2 px shifts": [(0, 0), (2, 0), (-2, 0), (0, 2), (0, -2)],
          "flip + 1 and 2 px shifts": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (-2, 0), (0, 2), (0, -2)]}


def shifted(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """(N, 96, 96) uint8 with the content moved `dx` px right and `dy` px down, edges repeated."""
    pad = max(abs(dx), abs(dy))
    if pad == 0:
        return images
    padded = F.pad(torch.from_numpy(images).float()[:, None], (pad, pad, pad, pad), mode="replicate")[:, 0]  # (N, 96 + 2 pad, ...)
    size = images.shape[-1]
    return padded[:, pad - dy:pad - dy + size, pad - dx:pad - dx + size].to(torch.uint8).numpy()


def predict_shifted(ensemble: Ensemble, images: np.ndarray, dx: int, dy: int) -> tuple[np.ndarray, float]:
    """The ensemble's flip-TTA prediction (N, 30) px of the shifted faces, shifted back; the seconds it took."""
    start = time.perf_counter()
    prediction = ensemble.predict(shifted(images, dx, dy), tta=True)
    prediction[:, 0::2] -= dx
    prediction[:, 1::2] -= dy
    return prediction, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--out", type=Path, default=Path("bench/results/tta.json"))
    args = parser.parse_args()
    ensemble = Ensemble(SearchFolder(args.runs_dir / args.run).ensemble_folder)
    val = load_faces(args.data / "val.csv.gz", need_labels=True)

    views = {shift: predict_shifted(ensemble, val.images, *shift) for shift in SHIFTS["flip + 1 and 2 px shifts"]}
    results = {"members": len(ensemble.models), "views": {}}
    for name, shifts in SHIFTS.items():
        prediction = np.mean([views[s][0] for s in shifts], axis=0)
        rmse = rmse_px(prediction, val.keypoints)
        seconds = sum(views[s][1] for s in shifts)
        results["views"][name] = {"shifts": shifts, "val_rmse": rmse, "predict_s": seconds}
        print(f"{name:<26} {rmse:.4f} px   {seconds:5.1f} s for {len(val.images)} faces")
    residual = views[(0, 0)][0] - val.keypoints  # (N, 30) px, flip TTA
    results["mean_offset_px"] = {"x": float(np.nanmean(residual[:, 0::2])), "y": float(np.nanmean(residual[:, 1::2]))}
    print(f"flip's answers sit {results['mean_offset_px']['x']:+.2f} px in x, {results['mean_offset_px']['y']:+.2f} px in y from the labels on average")
    results["each_shift_alone"] = {f"{dx},{dy}": rmse_px(p, val.keypoints) for (dx, dy), (p, _) in views.items()}
    write_results("tta", args, results, args.out)


if __name__ == "__main__":
    main()
