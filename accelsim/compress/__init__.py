"""Compression: magnitude pruning, k-means weight sharing, fine-tuning, bit-exact storage."""

from accelsim.compress.io import load, save
from accelsim.compress.model import CompressedModel
from accelsim.compress.pipeline import compress
from accelsim.compress.plan import CompressionPlan, LayerPlan, load_plan

__all__ = ["CompressedModel", "CompressionPlan", "LayerPlan", "compress", "load", "load_plan", "save"]
