"""compress(model, plan): prune, share weights, fine-tune, and lay out the storage.

Order of work (Deep Compression's three stages, without Huffman-before-quantization):
1. check the plan against the model (layer names, and fixed-point formats against each layer's range)
   before any work;
2. prune by magnitude, one-shot or iteratively with fine-tuning between steps;
3. fit a k-means codebook per shared layer over the surviving weights, and quantize codebook entries
   (or unshared weights) to their format;
4. fine-tune the centroids with the masks and assignments fixed, then quantize again;
5. encode every layer's streams (`storage.encode_layer`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from accelsim import __version__
from accelsim.compress.cluster import fit_codebook, nearest
from accelsim.compress.finetune import SharedWeights, finetune
from accelsim.compress.formats import ValueFormat
from accelsim.compress.layers import compressible_layers
from accelsim.compress.model import CompressedModel
from accelsim.compress.plan import CompressionPlan, LayerPlan
from accelsim.compress.prune import magnitude_mask, schedule
from accelsim.compress.storage import encode_layer
from accelsim.errors import PlanError

Progress = Callable[[str], None]


def check_formats(plans: dict[str, LayerPlan], layers: dict[str, nn.Module], where: str) -> dict[str, tuple]:
    """Resolve each layer's value and bias formats against its range; refuse what cannot hold it."""
    resolved = {}
    for name, lp in plans.items():
        module = layers[name]
        w_max = float(module.weight.detach().abs().max()) if module.weight.numel() else 0.0
        b_max = float(module.bias.detach().abs().max()) if module.bias is not None and module.bias.numel() else 0.0
        try:
            value_fmt = lp.codebook_format.resolve(w_max)
        except ValueError as exc:
            raise PlanError(f"{where}: layer {name}: codebook_format: {exc}") from None
        try:
            bias_fmt = lp.bias_format.resolve(b_max)
        except ValueError as exc:
            raise PlanError(f"{where}: layer {name}: bias_format: {exc}") from None
        resolved[name] = (value_fmt, bias_fmt)
    return resolved


def compress(model: nn.Module, plan: CompressionPlan, *, model_name: str, loader=None, finetune_epochs: int | None = None,
             lr: float | None = None, progress: Progress | None = None, provenance: dict | None = None) -> CompressedModel:
    """Compress ``model`` (modified in place: it ends with the decoded weights) following ``plan``."""
    say = progress or (lambda _msg: None)
    where = f"plan '{plan.name}'"
    layers = compressible_layers(model)
    plans = plan.resolve(list(layers), where=where)
    formats = check_formats(plans, layers, where)
    epochs = plan.finetune.epochs if finetune_epochs is None else finetune_epochs
    lr = plan.finetune.lr if lr is None else lr
    if epochs > 0 and loader is None:
        raise PlanError(f"fine-tuning for {epochs} epochs needs training data, and model '{model_name}' has none")

    masks = _prune(model, layers, plans, plan, loader, epochs, lr, say)

    say("weight sharing (k-means per layer)")
    shared: dict[str, SharedWeights] = {}
    for name, lp in plans.items():
        if lp.clusters is None:
            continue
        shared[name] = _share(layers[name].weight.detach().numpy(), masks[name], lp, formats[name][0], plan.seed)

    if epochs > 0:
        say(f"fine-tuning shared weights, {epochs} epochs")
        trained = finetune(model, loader, epochs, lr, {n: torch.from_numpy(m) for n, m in masks.items()}, shared,
                           seed=plan.seed, progress=lambda e, loss: say(f"  epoch {e}/{epochs}: loss {loss:.4f}"))
        for name, codebook in trained.items():
            shared[name].codebook = torch.from_numpy(formats[name][0].quantize(codebook.numpy()))

    say("encoding storage")
    storage = {}
    with torch.no_grad():
        for name, lp in plans.items():
            module = layers[name]
            value_fmt, bias_fmt = formats[name]
            weight = module.weight.detach().numpy()
            bias = None if module.bias is None else bias_fmt.quantize(module.bias.detach().numpy())
            s = shared.get(name)
            storage[name] = encode_layer(
                name, masks[name],
                labels=None if s is None else s.labels.numpy(),
                codebook=None if s is None else s.codebook.numpy(),
                zero_code=-1 if s is None else _zero_code(s),
                weight=weight, value_format=value_fmt, position_width=lp.positions,
                huffman_indices=lp.huffman_indices, huffman_positions=lp.huffman_positions,
                bias=bias, bias_format=None if bias is None else bias_fmt,
            )
            module.weight.copy_(torch.from_numpy(storage[name].decode()))
            if bias is not None:
                module.bias.copy_(torch.from_numpy(bias))
    info = {"accelsim_version": __version__, "seed": plan.seed, "finetune_epochs": epochs, "finetune_lr": lr}
    info.update(provenance or {})
    return CompressedModel(model=model_name, plan=plan, layers=storage, provenance=info)


def _prune(model, layers, plans, plan, loader, epochs, lr, say) -> dict[str, np.ndarray]:
    weights = {n: m.weight.detach().numpy() for n, m in layers.items()}
    masks = {n: np.ones(w.shape, dtype=bool) for n, w in weights.items()}
    iterative = plan.pruning.mode == "iterative" and epochs > 0
    if plan.pruning.mode == "iterative" and not iterative:
        say("iterative pruning needs fine-tuning epochs; with 0 epochs it is one-shot")
    steps = plan.pruning.steps if iterative else 1
    for step in range(steps):
        for name, lp in plans.items():
            if not lp.pruned:
                continue
            target = schedule(lp.sparsity, steps)[step] if lp.threshold is None else 0.0
            masks[name] = magnitude_mask(weights[name], target, lp.threshold, keep=masks[name])
            with torch.no_grad():
                layers[name].weight.mul_(torch.from_numpy(masks[name]))
        if iterative:
            say(f"pruning step {step + 1}/{steps}, fine-tuning {epochs} epochs")
            finetune(model, loader, epochs, lr, {n: torch.from_numpy(m) for n, m in masks.items()}, seed=plan.seed + step)
            weights = {n: m.weight.detach().numpy() for n, m in layers.items()}
    if any(lp.pruned for lp in plans.values()):
        say("pruned: " + ", ".join(f"{n} {1 - m.mean():.0%}" for n, m in masks.items() if plans[n].pruned))
    return masks


def _share(weight: np.ndarray, mask: np.ndarray, lp: LayerPlan, fmt: ValueFormat, seed: int) -> SharedWeights:
    """Codebook and labels of one layer. A pruned layer reserves an entry for exactly 0, since its
    stored zeros (position fillers, or pruned weights in dense storage) must decode to 0. Reserving it
    whenever anything is pruned, rather than only when a filler happens to occur, keeps the codebook
    from growing when more is pruned."""
    needs_zero = not mask.all() and (lp.positions is None or mask.any())  # a fully pruned sparse layer stores nothing
    survivors = weight[mask].astype(np.float64)
    centroids, _ = fit_codebook(survivors, lp.clusters - int(needs_zero), lp.kmeans_init, seed)
    fitted = np.unique(fmt.quantize(centroids))  # quantization can merge neighbouring centroids
    codebook = np.union1d(fitted, [0.0]) if needs_zero else fitted
    # Survivors take their nearest fitted centroid; the reserved 0 is for stored zeros (it is also a
    # survivor's entry only when k-means itself put a centroid at 0).
    real = np.searchsorted(codebook, fitted)
    labels = np.zeros(weight.shape, dtype=np.int64)
    if survivors.size and fitted.size:
        labels[mask] = real[nearest(survivors, fitted)]
    return SharedWeights(torch.from_numpy(codebook.astype(np.float32)), torch.from_numpy(labels),
                         frozen=torch.from_numpy(codebook == 0.0) if needs_zero else None)


def _zero_code(s: SharedWeights) -> int:
    return -1 if s.frozen is None else int(np.flatnonzero(s.frozen.numpy())[0])
