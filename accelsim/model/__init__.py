"""Detector classifiers by name (see `registry`)."""

from accelsim.model.layers import compressible_layers
from accelsim.model.registry import ModelSpec, get_model, model_names

__all__ = ["ModelSpec", "compressible_layers", "get_model", "model_names"]
