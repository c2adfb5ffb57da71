"""Architectures by name. Importing this package registers every model."""

from . import seed_nets  # noqa: F401  (registers the seed's nets)
from .registry import create_model, keras_param_count, list_models, register_model, saved_size_bytes

__all__ = ["create_model", "keras_param_count", "list_models", "register_model", "saved_size_bytes"]
