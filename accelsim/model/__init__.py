"""Detector classifiers by name (see `registry`)."""

from accelsim.model.registry import ModelSpec, get_model, model_names

__all__ = ["ModelSpec", "get_model", "model_names"]
