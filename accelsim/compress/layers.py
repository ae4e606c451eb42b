"""The layers that compression and the accelerator act on: every Conv2d and Linear, in execution order."""

from __future__ import annotations

from torch import nn


def compressible_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Conv2d and Linear modules by qualified name, in registration order (which is execution order for
    the sequential CNNs this project models)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
