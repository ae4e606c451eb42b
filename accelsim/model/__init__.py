"""Detector classifiers by name (see `registry`)."""

from accelsim.model.registry import ModelEntry, get_model, model_names

__all__ = ["ModelEntry", "get_model", "model_names"]
