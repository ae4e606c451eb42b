"""Benchmark: compress the full AlexNet-shaped DeepPed classifier (56.9 M weights) with the Deep
Compression Table 4 plan, no fine-tuning; and the cost/benefit of fitting k-means on a sample.

Run: python benchmarks/bench_compress.py
Prints wall time and peak resident memory of one compression (in a child process, so the peak is its
own), then, for fc6 and fc7, the time and quantization error of the shipped k-means (sample of
cluster.SAMPLE weights + exact Lloyd refinement over all) against a full scikit-learn fit of every
surviving weight, run in this process, as ratios.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
import warnings

import numpy as np


def _compress_once(queue) -> None:
    from accelsim.compress import compress, load_plan
    from accelsim.model import get_model

    t0 = time.perf_counter()
    model = get_model("deepped-alexnet").build()
    t1 = time.perf_counter()
    cm = compress(model, load_plan("deep-compression-alexnet"), model_name="deepped-alexnet")
    t2 = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((t1 - t0, t2 - t1, peak_kib, cm.totals()["ratio"]))


def _full_sklearn(values: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    start = np.linspace(values.min(), values.max(), k).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = KMeans(n_clusters=k, init=start, n_init=1, random_state=0, algorithm="lloyd").fit(values.reshape(-1, 1))
    return np.sort(km.cluster_centers_.ravel())


def main() -> None:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_compress_once, args=(queue,))
    proc.start()
    build_s, compress_s, peak_kib, ratio = queue.get()
    proc.join()
    print("full AlexNet-shaped DeepPed classifier, deep-compression-alexnet plan, no fine-tuning")
    print(f"  build model       {build_s:6.2f} s")
    print(f"  compress          {compress_s:6.2f} s   (target < 60 s)")
    print(f"  peak memory       {peak_kib / 2**20:6.2f} GiB (whole process; target < 4 GiB)")
    print(f"  compression ratio {ratio:6.2f}x vs dense fp32")

    from accelsim.compress.cluster import SAMPLE, fit_codebook, nearest
    from accelsim.compress.layers import compressible_layers
    from accelsim.compress.prune import magnitude_mask
    from accelsim.model import get_model

    layers = compressible_layers(get_model("deepped-alexnet").build())
    print(f"\nk-means on a {SAMPLE:,}-weight sample + Lloyd refinement over all, vs full scikit-learn fit (baseline)")
    for name, sparsity, k in (("fc6", 0.91, 32), ("fc7", 0.91, 32)):
        w = layers[name].weight.detach().numpy()
        survivors = w[magnitude_mask(w, sparsity)].astype(np.float64)
        t = time.perf_counter()
        full = _full_sklearn(survivors, k)
        base_s = time.perf_counter() - t
        t = time.perf_counter()
        ours, _ = fit_codebook(survivors, k)
        ours_s = time.perf_counter() - t
        mse_full = np.mean((survivors - full[nearest(survivors, full)]) ** 2)
        mse_ours = np.mean((survivors - ours[nearest(survivors, ours)]) ** 2)
        print(f"  {name}: {survivors.size:,} weights, k={k}: full fit {base_s:5.2f} s, shipped {ours_s:5.2f} s "
              f"(speed-up {base_s / ours_s:4.1f}x); quantization MSE ratio shipped/full = {mse_ours / mse_full:.4f}")


if __name__ == "__main__":
    main()
