"""What every bench shares: where the data is, what machine ran it, and writing its JSON atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from configs import CPU_SPACE
from data.transforms import rmse_px
from ensemble.ensemble import predict_members
from search.space import load_space
from training.device import machine  # noqa: F401  (re-exported: every bench records it)

ROOT = Path(__file__).resolve().parents[1]
FACES15 = Path(os.environ.get("KPTUNE_FACES15", ROOT.parent / "shared/data/faces15"))  # the benchmark data beside a checkout


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    tmp.replace(path)
    print(f"wrote {path}")


def cpu_start_point() -> dict:
    """What a search on a CPU trains first: the default CPU space's fixed values and its first start point."""
    space = load_space(CPU_SPACE)
    return {**{p.name: p.values[0] for p in space.params if p.kind == "fixed"}, **space.start[0]}


def flip_tta_rmse(trainer, val) -> float:
    """Validation RMSE (px) of a trained Trainer's kept weights with flip TTA, mirrored about its label origin."""
    predictions = predict_members([trainer.evaluated], [1.0], val.images, trainer.device, bf16=False, tta_origins=[trainer.config.origin])
    return rmse_px(predictions, val.keypoints)
