"""Per-layer k-means weight sharing (Deep Compression, section 3).

Only the weights that survive pruning are clustered; each becomes an index into a codebook of
centroids. One-dimensional k-means is fitted with scikit-learn. Large layers (fc6 keeps 3.4 M weights) are fitted
on a seeded sample of `SAMPLE` weights, then refined with exact one-dimensional Lloyd steps over all
of them (assignment by binary search against the midpoints, O(n log k)); on fc6-sized normal data
this is 3x faster than a full scikit-learn fit and reaches a lower quantization error, since
scikit-learn stops at a tolerance relative to the data variance (see benchmarks/bench_compress.py).
Initialisation:

- ``linear``: centroids evenly spaced over [min, max] of the surviving weights. Deep Compression found
  it best, because it keeps centroids on the rare large weights that matter most.
- ``random``: k surviving weights drawn with the plan's seed.
- ``density``: evenly spaced quantiles of the surviving weights (the CDF-based init of the paper).
"""

from __future__ import annotations

import warnings

import numpy as np

INITS = ("linear", "random", "density")


SAMPLE = 1 << 18
REFINE_ITERS = 20


def fit_codebook(values: np.ndarray, k: int, init: str = "linear", seed: int = 0,
                 sample: int = SAMPLE, refine_iters: int = REFINE_ITERS) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (ascending, float64) and the label of every value.

    ``k`` is a maximum: with fewer distinct values than k, each distinct value is its own centroid, so
    the layer is represented exactly. No values gives an empty codebook.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    distinct = np.unique(values)
    if distinct.size <= k:
        return distinct, np.searchsorted(distinct, values)
    if init == "linear":
        start = np.linspace(values.min(), values.max(), k)
    elif init == "density":
        start = np.quantile(values, (np.arange(k) + 0.5) / k)
    elif init == "random":
        start = np.random.default_rng(seed).choice(distinct, size=k, replace=False)
    else:
        raise ValueError(f"unknown k-means init '{init}' (expected one of {', '.join(INITS)})")
    fit_on = values
    if values.size > sample:
        fit_on = np.random.default_rng(seed).choice(values, size=sample, replace=False)
    # scikit-learn takes a second to import: only runs that compress pay it, not those served by the cache
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, init=start.reshape(-1, 1), n_init=1, random_state=seed, algorithm="lloyd")
    with warnings.catch_warnings():
        # Duplicate starting points (density init on heavily repeated values) are resolved by
        # scikit-learn's empty-cluster relocation; its warning adds nothing for the user.
        warnings.simplefilter("ignore")
        km.fit(fit_on.reshape(-1, 1))
    centroids = np.sort(km.cluster_centers_.ravel())
    if fit_on is not values:
        centroids = _lloyd_refine(values, centroids, refine_iters)
    return centroids, nearest(values, centroids)


def _lloyd_refine(values: np.ndarray, centroids: np.ndarray, iters: int) -> np.ndarray:
    k = centroids.size
    tol = 1e-9 * (values.max() - values.min())
    for _ in range(iters):
        labels = nearest(values, centroids)
        counts = np.bincount(labels, minlength=k)
        sums = np.bincount(labels, weights=values, minlength=k)
        updated = np.sort(np.where(counts > 0, sums / np.maximum(counts, 1), centroids))
        done = np.max(np.abs(updated - centroids)) <= tol
        centroids = updated
        if done:
            break
    return centroids


def nearest(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest of ascending ``centroids`` for each value (ties go to the lower one)."""
    if centroids.size == 1:
        return np.zeros(values.shape, dtype=np.int64)
    mids = (centroids[1:] + centroids[:-1]) / 2.0
    return np.searchsorted(mids, values, side="left").astype(np.int64)
