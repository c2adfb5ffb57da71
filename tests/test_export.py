"""ensemble.export: one file that answers as Ensemble.predict does (flip TTA, biases, clipping inside),
read back by ONNX Runtime (the `onnx` extra) or TorchScript."""

from __future__ import annotations

import numpy as np
import pytest

from ensemble.ensemble import Ensemble
from ensemble.export import disagreement, main
from ensemble.folder import Manifest, Member, member_bytes, member_file, write_ensemble
from models import create_model
from training.config import TrainConfig

pytestmark = pytest.mark.slow  # an export traces every member: seconds each


@pytest.fixture
def two_members(tmp_path):
    """A heatmap member and a direct-regression one, different origins, weights and biases, untrained."""
    members, files = [], {}
    for name, arch, origin, weight in (("a", "resnet_s_hm", 1.0, 0.7), ("b", "cnn_small", 0.0, 0.3)):
        files[name] = member_bytes(create_model(arch).state_dict())
        members.append(Member(name, arch, member_file(name), weight, len(files[name]) / 1e6, 3.0,
                              TrainConfig(arch=arch, label_origin=origin).to_dict(),
                              bias_px=np.linspace(-1, 1, 30).tolist(), flip_bias_px=np.linspace(2, -2, 30).tolist()))
    manifest = Manifest(members=members, val_rmse=3.0, total_mb=1.0, budget_mb=50, dtype="fp32", bf16=False, max_diff_px=0.0,
                        run="", data={}, device="cpu", heldout=None)
    return write_ensemble(tmp_path / "ens", manifest, files)


@pytest.mark.parametrize("tta", ["flip", "none"])
def test_the_onnx_file_answers_as_the_ensemble_does(two_members, tmp_path, tta):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "ens.onnx"
    main(["--ensemble", str(two_members), "--tta", tta, "--out", str(out)])
    images = np.random.default_rng(1).integers(0, 256, (5, 96, 96), dtype=np.uint8)  # a batch size it was not traced with
    assert disagreement(out, "onnx", Ensemble(two_members, device="cpu", amp="off"), images, tta == "flip") < 0.01


def test_the_torchscript_file_answers_as_the_ensemble_does(two_members, tmp_path):
    out = tmp_path / "ens.pt"
    main(["--ensemble", str(two_members), "--format", "torchscript", "--out", str(out)])
    images = np.random.default_rng(2).integers(0, 256, (3, 96, 96), dtype=np.uint8)
    assert disagreement(out, "torchscript", Ensemble(two_members, device="cpu", amp="off"), images, tta=True) < 0.01
