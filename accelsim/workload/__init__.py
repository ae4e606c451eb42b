"""The ordered layers the accelerator executes, from a torch model and its CompressedModel."""

from accelsim.workload.layers import Layer, build_workload

__all__ = ["Layer", "build_workload"]
