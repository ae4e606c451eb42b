"""Workload extraction: one `Layer` per conv, fc, pooling and normalisation stage.

Shapes come from a forward pass of one input through the real network (hooks record every module's
input and output), so any sequential CNN of Conv2d/Linear/pooling layers works, not only AlexNet.
A ReLU directly after a conv or fc layer is applied in that layer's datapath (``relu=True``); flatten
and dropout are free. Compressed layers carry the stream profile of their storage
(`accelsim.compress.profile`), counted once here on the real streams: the numbers the accelerator
model reads, so a sweep over hardware counts each layer once and ships no streams to its workers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import math

import torch
from torch import nn

from accelsim.compress.model import CompressedModel
from accelsim.compress.profile import StreamProfile, stream_profile
from accelsim.compress.storage import LayerStorage
from accelsim.errors import ModelError


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str  # "conv" | "fc" | "pool" | "norm"
    in_shape: tuple[int, ...]  # (channels, height px, width px) or (features,)
    out_shape: tuple[int, ...]
    kernel: tuple[int, int] = (1, 1)
    stride: int = 1
    groups: int = 1
    relu: bool = False
    profile: StreamProfile | None = None  # compressed layers only
    padding: tuple[int, int] = (0, 0)  # zero rows/columns added on each side of a conv input (y, x)

    # -- sizes -----------------------------------------------------------------------------------
    @property
    def out_units(self) -> int:
        """Output channels (conv) or output features (fc): the rows of the weight matrix."""
        return self.out_shape[0]

    @property
    def out_pixels(self) -> int:
        return math.prod(self.out_shape[1:]) if len(self.out_shape) > 1 else 1

    @property
    def fan_in(self) -> int:
        """Weights per output unit: the columns of the weight matrix."""
        if self.kind == "conv":
            return self.in_shape[0] // self.groups * self.kernel[0] * self.kernel[1]
        if self.kind == "fc":
            return math.prod(self.in_shape)
        return 0

    @property
    def weights(self) -> int:
        return self.out_units * self.fan_in if self.kind in ("conv", "fc") else 0

    @property
    def macs(self) -> int:
        """Dense multiply-accumulates for one input (one proposal crop)."""
        return self.weights * self.out_pixels

    @property
    def input_elements(self) -> int:
        return math.prod(self.in_shape)

    @property
    def output_elements(self) -> int:
        return math.prod(self.out_shape)


def build_workload(model: nn.Module, input_shape: tuple[int, ...], compressed: CompressedModel | None = None) -> list[Layer]:
    """Layers in execution order for one input of ``input_shape`` (channels, height, width)."""
    records: list[tuple[str, nn.Module, tuple, tuple]] = []
    hooks = []
    for name, module in model.named_modules():
        if len(list(module.children())) == 0:
            hooks.append(module.register_forward_hook(
                lambda m, inp, out, name=name: records.append((name, m, tuple(inp[0].shape[1:]), tuple(out.shape[1:])))
            ))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()

    layers: list[Layer] = []
    for name, module, in_shape, out_shape in records:
        if isinstance(module, nn.ReLU) and layers and layers[-1].kind in ("conv", "fc") and not layers[-1].relu:
            layers[-1] = replace(layers[-1], relu=True)
            continue
        storage = compressed.layers.get(name) if compressed is not None else None
        if isinstance(module, nn.Conv2d):
            layers.append(Layer(name, "conv", in_shape, out_shape, tuple(module.kernel_size), module.stride[0],
                                module.groups, profile=_profile(name, module, storage), padding=_padding(module)))
        elif isinstance(module, nn.Linear):
            layers.append(Layer(name, "fc", in_shape, out_shape, profile=_profile(name, module, storage)))
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            k = module.kernel_size if isinstance(module.kernel_size, tuple) else (module.kernel_size,) * 2
            s = module.stride if isinstance(module.stride, int) else module.stride[0]
            layers.append(Layer(name, "pool", in_shape, out_shape, tuple(k), s))
        elif isinstance(module, nn.LocalResponseNorm):
            layers.append(Layer(name, "norm", in_shape, out_shape, (module.size, 1)))
        elif isinstance(module, (nn.ReLU, nn.Flatten, nn.Dropout, nn.Identity)):
            continue
        else:
            raise ModelError(f"layer '{name}' ({type(module).__name__}) has no accelerator model")
    if compressed is not None:
        missing = set(compressed.layers) - {l.name for l in layers if l.profile is not None}
        if missing:
            raise ModelError(f"compressed layers {sorted(missing)} are not conv or fc layers of the model")
    return layers


def _padding(module: nn.Conv2d) -> tuple[int, int]:
    """Zeros added before the first row and column: as given, or what 'same' adds (half the kernel's
    reach, the odd one after) and 'valid' (none)."""
    if module.padding == "valid":
        return (0, 0)
    if module.padding == "same":
        return tuple(d * (k - 1) // 2 for d, k in zip(module.dilation, module.kernel_size))
    return tuple(int(p) for p in module.padding)


def _profile(name: str, module: nn.Conv2d | nn.Linear, storage: LayerStorage | None) -> StreamProfile | None:
    if storage is None:
        return None
    if tuple(storage.shape) != tuple(module.weight.shape):
        raise ModelError(f"compressed layer '{name}' has shape {storage.shape}, the model's is {tuple(module.weight.shape)}")
    return stream_profile(storage)

