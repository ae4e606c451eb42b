"""Fine-tuning that respects pruning masks and shared weights (Deep Compression, sections 2-3).

Works on any torch network built from Conv2d and Linear layers (plus parameter-free layers):

- pruned weights stay exactly zero: their gradients are dropped and the mask is re-applied after each
  step, so the optimizer's momentum cannot revive them;
- a shared layer's weight is computed as ``codebook[labels]`` in the forward pass, so autograd gives
  each centroid the *sum* of the gradients of the weights assigned to it, which is the centroid update
  of the paper. Assignments stay fixed; the reserved zero entry is not trained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from accelsim.compress.layers import compressible_layers


@dataclass
class SharedWeights:
    codebook: torch.Tensor  # (k,) float32
    labels: torch.Tensor  # long, weight shape; pruned weights point at any entry (masked out)
    frozen: torch.Tensor | None = None  # (k,) bool: entries kept fixed (the reserved zero)


def finetune(model: nn.Module, loader, epochs: int, lr: float, masks: dict[str, torch.Tensor],
             shared: dict[str, SharedWeights] | None = None, seed: int = 0,
             progress: Callable[[int, float], None] | None = None) -> dict[str, torch.Tensor]:
    """Train ``model`` in place for ``epochs`` passes over ``loader`` (batches of (input, class)).

    ``masks`` maps layer names to kept-weight masks; ``shared`` maps layer names to their codebook and
    assignments. Returns the trained codebooks; the model's weights end as the decoded shared weights.
    """
    shared = shared or {}
    layers = compressible_layers(model)
    torch.manual_seed(seed)
    codebooks = {n: nn.Parameter(s.codebook.detach().clone().float()) for n, s in shared.items()}
    mask_t = {n: m.to(torch.bool) for n, m in masks.items()}
    direct = [p for n, p in model.named_parameters() if n.removesuffix(".weight") not in shared or not n.endswith(".weight")]
    optimizer = torch.optim.Adam([*direct, *codebooks.values()], lr=lr)

    def shared_weights() -> dict[str, torch.Tensor]:
        out = {}
        for name, s in shared.items():
            w = codebooks[name][s.labels]
            if name in mask_t:
                w = w * mask_t[name]
            out[f"{name}.weight"] = w
        return out

    def apply_masks() -> None:
        with torch.no_grad():
            for name, m in mask_t.items():
                if name not in shared:
                    layers[name].weight.mul_(m)

    apply_masks()
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        total, batches = 0.0, 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(functional_call(model, shared_weights(), (x,)), y)
            loss.backward()
            for name, s in shared.items():
                if s.frozen is not None and codebooks[name].grad is not None:
                    codebooks[name].grad[s.frozen] = 0.0
            for name, m in mask_t.items():
                if name not in shared and layers[name].weight.grad is not None:
                    layers[name].weight.grad.mul_(m)
            optimizer.step()
            if shared:
                with torch.no_grad():
                    for name, s in shared.items():
                        if s.frozen is not None:
                            codebooks[name].data[s.frozen] = s.codebook[s.frozen].to(codebooks[name].dtype)
            apply_masks()
            total += float(loss.detach())
            batches += 1
        if progress:
            progress(epoch + 1, total / max(batches, 1))
    model.eval()
    with torch.no_grad():
        for key, w in shared_weights().items():
            layers[key.removesuffix(".weight")].weight.copy_(w)
    return {n: c.detach().clone() for n, c in codebooks.items()}

