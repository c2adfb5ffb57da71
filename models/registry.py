"""Architectures by name: `@register_model` on a builder, `create_model(name, **kw)` to build one."""

from __future__ import annotations

import io
from collections.abc import Callable

import torch
from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a builder under its function name."""
    if builder.__name__ in _BUILDERS:
        raise ValueError(f"model '{builder.__name__}' is registered twice")
    _BUILDERS[builder.__name__] = builder
    return builder


def list_models() -> list[str]:
    return list(_BUILDERS)


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered architecture: input (B, 1, 96, 96) in [0, 1], output (B, 30) normalised."""
    if name not in _BUILDERS:
        raise KeyError(f"unknown architecture '{name}'; known: {', '.join(_BUILDERS)}")
    return _BUILDERS[name](**kwargs)


def keras_param_count(model: nn.Module) -> int:
    """Parameters as Keras counts them: weights plus BatchNorm's running mean and variance."""
    weights = sum(p.numel() for p in model.parameters())
    running = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return weights + running


def saved_size_bytes(model: nn.Module, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the state_dict as torch.save writes it, with floating tensors cast to dtype."""
    state = cast_floating(model.state_dict(), dtype)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def cast_floating(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """A state_dict with its floating tensors in `dtype` (integer buffers, e.g. BatchNorm's count, kept)."""
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
