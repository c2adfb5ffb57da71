"""Architectures by name. Importing this package registers every model."""

from . import resnet, seed_nets  # noqa: F401  (registers the architectures)
from .registry import cast_floating, create_model, keras_param_count, list_models, register_model, saved_size_bytes

__all__ = ["cast_floating", "create_model", "keras_param_count", "list_models", "register_model", "saved_size_bytes"]
