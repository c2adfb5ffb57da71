"""Architectures by name. Importing this package registers every model."""

from . import resnet, seed_nets  # noqa: F401  (registers the architectures)
from .registry import create_model, keras_param_count, list_models, register_model, saved_size_bytes

__all__ = ["create_model", "keras_param_count", "list_models", "register_model", "saved_size_bytes"]
