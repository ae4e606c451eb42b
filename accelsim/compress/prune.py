"""Magnitude pruning: keep the largest-magnitude weights of each layer.

Ties at the cut are broken by position (a stable sort), so the same weights and target always give
the same mask.
"""

from __future__ import annotations

import numpy as np


def magnitude_mask(weight: np.ndarray, sparsity: float = 0.0, threshold: float | None = None,
                   keep: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of kept weights (True = kept), same shape as ``weight``.

    ``sparsity``: prune exactly round(sparsity * n) weights of smallest magnitude.
    ``threshold``: prune weights with |w| < threshold.
    ``keep``: an earlier mask; weights it pruned stay pruned (iterative pruning only ever adds zeros),
    and they count towards the target.
    """
    w = np.abs(np.asarray(weight, dtype=np.float32))
    if keep is not None:
        w = np.where(keep, w, -1.0)  # already-pruned weights sort first
    if threshold is not None:
        mask = w >= threshold
        return mask if keep is None else mask & keep
    n_prune = int(round(sparsity * w.size))
    mask = np.ones(w.size, dtype=bool)
    if n_prune:
        order = np.argsort(w.ravel(), kind="stable")
        mask[order[:n_prune]] = False
    return mask.reshape(w.shape)


def schedule(target: float, steps: int) -> list[float]:
    """Sparsity after each step of iterative pruning.

    Cubic ramp (Zhu & Gupta, 2017): large cuts early while many redundant weights remain, small
    ones near the target where each removed weight hurts more."""
    return [target * (1.0 - (1.0 - (i + 1) / steps) ** 3) for i in range(steps)]
