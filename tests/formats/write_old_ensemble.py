"""Writes a one-member ensemble folder with the kptune found on PYTHONPATH (a past commit's), and that
kptune's answers on fixed faces beside it (FOLDER_answers.npz): tests/test_formats.py reads each with
today's kptune and expects the same answers. Made once per ensemble format version, e.g. version 6:

    git worktree add /tmp/kptune-v6 fc1316d^
    PYTHONPATH=/tmp/kptune-v6 python tests/formats/write_old_ensemble.py tests/formats/ensemble_v6
"""

import inspect
import sys
from pathlib import Path

import numpy as np
import torch

from ensemble.ensemble import Ensemble
from ensemble.folder import VERSION, Manifest, Member, member_bytes, member_file, write_ensemble
from models import create_model
from training.config import TrainConfig

out = Path(sys.argv[1])
torch.manual_seed(0)
weights = member_bytes(create_model("cnn_gap").state_dict())
# a bias off every answer, where the version has one: the migration must keep it
biases = {"bias_px": [0.5] * 30, "flip_bias_px": [0.25] * 30} if "bias_px" in inspect.signature(Member).parameters else {}
member = Member("m", "cnn_gap", member_file("m"), 1.0, len(weights) / 1e6, 2.0, TrainConfig(arch="cnn_gap", label_origin=0.0).to_dict(),
                **biases)
write_ensemble(out, Manifest([member], 2.0, len(weights) / 1e6, 50, "fp32", False, 0.0, "run", {}, "cpu", None), {"m": weights})
faces = np.random.default_rng(0).integers(0, 256, (4, 96, 96), dtype=np.uint8)
ensemble = Ensemble(out, device="cpu", amp="off")
np.savez(out.with_name(f"{out.name}_answers.npz"), faces=faces, plain=ensemble.predict(faces), flip=ensemble.predict(faces, tta=True))
print(f"{out}: ensemble format version {VERSION}")
