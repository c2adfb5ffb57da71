"""Precision: amp=auto follows what the CPU reports, bf16 trains as well as float32, and what must stay
precise (coordinates, loss, scored predictions) stays float32."""

import os

import pytest
import torch

from models import create_model
from training.config import TrainConfig
from training.device import cpu_has_native_bf16, usable_cores, uses_bf16
from training.trainer import Trainer, prepare_process

CPU = torch.device("cpu")


@pytest.mark.parametrize("features, expected", [
    ({"avx512_bf16": True, "amx_bf16": False}, True),
    ({"avx512_bf16": False, "amx_bf16": True}, True),
    ({"avx512_bf16": False, "amx_bf16": False, "avx2": True}, False),
])
def test_auto_uses_bf16_exactly_when_the_cpu_reports_native_bf16(monkeypatch, features, expected):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: features)
    assert uses_bf16("auto", CPU) is expected


def test_bf16_and_off_are_obeyed_whatever_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {})
    assert uses_bf16("bf16", CPU) and not uses_bf16("off", CPU)


def test_auto_uses_bf16_on_cuda():
    assert uses_bf16("auto", torch.device("cuda"))


def test_unknown_amp_mode_is_an_error():
    with pytest.raises(ValueError, match="amp must be one of"):
        TrainConfig.from_dict({"amp": "fp8"})


def test_coordinates_are_float32_inside_bf16_autocast():
    model = create_model("cnn_gap")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(torch.rand(2, 1, 96, 96)).dtype == torch.float32


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16 (AVX512-BF16 or AMX): auto keeps float32 here")
def test_bf16_training_reaches_the_float32_loss(tiny_data):
    """bf16 rounds each activation by up to 2^-9 (0.2 %); over 18 steps the losses stay within about 1 %
    of each other while they fall tenfold, so 5 % separates rounding from a broken bf16 path."""
    losses = {}
    for amp in ("off", "bf16"):
        config = TrainConfig(train=str(tiny_data[0]), arch="cnn_gap", batch_size=16, epochs=6, lr=3e-3, patience=99, amp=amp, device="cpu")
        prepare_process(config)
        trainer = Trainer(config, config.load_split())
        conv_dtypes = set()  # of a convolution's output in training steps (validation is float32)

        def record(module, args, out, seen=conv_dtypes):
            if module.training:
                seen.add(out.dtype)

        trainer.model.backbone[1].register_forward_hook(record)
        losses[amp] = [r.train_loss for r in trainer.fit()]
        assert conv_dtypes == {torch.bfloat16 if amp == "bf16" else torch.float32}
    assert losses["off"][-1] < losses["off"][0] / 5
    assert losses["bf16"][-1] == pytest.approx(losses["off"][-1], rel=0.05)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_every_core_means_the_cores_the_process_may_run_on():
    """Under `taskset -c 0`, "every core" (threads=0) is one core, not every core of the machine."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        assert usable_cores() == 1
    finally:
        os.sched_setaffinity(0, cores)
