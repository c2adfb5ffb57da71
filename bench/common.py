"""What every bench shares: where the data is, what machine ran it, and writing its JSON atomically."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FACES15 = Path(os.environ.get("KPTUNE_FACES15", ROOT.parent / "shared/data/faces15"))  # the benchmark data beside a checkout


def machine() -> dict[str, object]:
    """The facts a figure needs beside it: cores, CPU features that decide bf16, GPU."""
    from search.device import cpu_has_native_bf16

    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "native_bf16": cpu_has_native_bf16(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
    }


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    tmp.replace(path)
    print(f"wrote {path}")
