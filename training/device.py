"""Where and in what precision training runs: the device, and bfloat16 autocast where it pays.

bfloat16 autocast halves the bytes every convolution moves, so it pays on CUDA and on CPUs whose
oneDNN kernels compute in bf16 natively (x86 AVX512-BF16 or AMX, ARM's BF16 extension). Elsewhere
oneDNN emulates bf16 and autocast is slower than float32 (PyTorch PR #86550), so `amp=auto` keeps
float32 there. What must stay precise never runs in bf16 (8 mantissa bits: 0.4 % of 48 px is 0.2 px):
the layer that produces the 30 coordinates (see models.registry.KeypointNet), the loss, and every
prediction that is scored, kept or shipped.
"""

from __future__ import annotations

import os
import platform
from contextlib import AbstractContextManager
from pathlib import Path

import torch

# CPU features (torch.cpu.get_capabilities()) with which oneDNN computes bf16 natively.
NATIVE_BF16_FEATURES = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")


def pick_device(requested: str) -> torch.device:
    """auto: CUDA when a GPU is visible, else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def cpu_has_native_bf16() -> bool:
    capabilities = torch.cpu.get_capabilities()
    return any(capabilities.get(feature, False) for feature in NATIVE_BF16_FEATURES)


def uses_bf16(amp: str, device: torch.device) -> bool:
    """Resolve `amp` (auto | bf16 | off) for a device: auto = bf16 on CUDA and native-bf16 CPUs."""
    if amp == "auto":
        return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    return amp == "bf16"


def autocast(device: torch.device, bf16: bool) -> AbstractContextManager:
    """bfloat16 autocast for the forward pass when `bf16`; a no-op otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def configure_process(device: torch.device, threads: int, seed: int) -> None:
    """What a training process sets once, where it starts (training.train, a search trial, a bench or a
    test), and nothing else in kptune changes: torch's global seed (weight initialisation and dropout
    draw from it), its CPU threads (0 = every core this process may run on), and on CUDA cuDNN's autotuning, which picks the
    fastest kernels for the fixed 96x96 inputs."""
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.set_num_threads(threads or usable_cores())
    else:
        torch.backends.cudnn.benchmark = True


def usable_cores() -> int:
    """The cores this process may run on: fewer than the machine's under `taskset` or a container's CPU set."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine() -> dict[str, object]:
    """The facts a figure needs beside it: cores, the CPU's model, whether it has native bf16, the GPU."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "processor": platform.processor() or platform.machine(),
        "native_bf16": cpu_has_native_bf16(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
    }


def cpu_model() -> str:
    """The CPU's name as the kernel reports it (Linux), else the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(device: torch.device, bf16: bool) -> str:
    """One line for logs: where and in what precision, and why."""
    if device.type == "cpu":
        why = "native bf16" if cpu_has_native_bf16() else "no native bf16"
        return f"cpu, {torch.get_num_threads()} threads, {why}: {'bfloat16 autocast' if bf16 else 'float32'}"
    return f"{device} ({torch.cuda.get_device_name(device)}): {'bfloat16 autocast' if bf16 else 'float32'}"
