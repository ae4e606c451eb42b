"""Benchmark: design-space sweep throughput with accuracy cached, on this machine.

Run: python benchmarks/bench_sweep.py [--points N] [--dask-points M] [--skip-dask]

1. Per-point rate, one core: hardware-only design points of the AlexNet-shaped deepped-small detector
   (its compression variant and miss rate already computed), through the sweep's points task, against
   the baseline of the same points through `run_design_point` (what `accelsim run` does per point,
   its caches warm) in the same process. Prints points/s and the ratio.
2. A hardware-only sweep of --points design points (default 1,000: SRAM size x banks x MAC array x DRAM
   part) through `accelsim sweep`'s runner with the local executor on all cores: wall time and points/s.
3. The same sweep (--dask-points of it) on a local Dask cluster with 1 worker and with 2 workers: the
   speed-up of 2 workers over 1.

Each sweep writes to a fresh temporary folder, so nothing is resumed; the compression variant and its
accuracy come from the pipeline's cache (computed once, before the timings).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import textwrap
import time
from pathlib import Path

from accelsim.detect.functional import NumberFormats
from accelsim.pipeline.accuracy import AccuracyRequest
from accelsim.pipeline.compression import CompressionRequest
from accelsim.pipeline.design_point import DesignPointRequest, run_design_point
from accelsim.sweep.runner import run_points, run_sweep, run_variant, variant_tasks
from accelsim.sweep.spec import load_sweep

BASE = """
name: bench
hardware: embedded-45nm
hardware_overrides: {sram.split.weights: 75%, sram.split.input_activations: 12.5%, sram.split.output_activations: 12.5%}
model: deepped-small
dataset: synthetic
frames: 20
"""

# up to 10 x 5 x 4 x 5 x 2 hardware points; spec_file keeps the first axes whole and trims the rest
AXES = {
    "sram.size": ["64KiB", "128KiB", "256KiB", "384KiB", "512KiB", "768KiB", "1MiB", "2MiB", "4MiB", "8MiB"],
    "sram.banks": [4, 8, 16, 32, 64],
    "mac_array.rows": [8, 16, 32, 64],
    "mac_array.cols": [8, 16, 32, 64, 128],
    "dram.preset": ["LPDDR4-3200", "DDR4-2400"],
}


def spec_file(folder: Path, points: int) -> Path:
    """A grid of the first axes, trimmed to about ``points`` design points."""
    axes, total = {}, 1
    for path, values in AXES.items():
        keep = max(1, min(len(values), points // total))
        axes[path] = values[:keep]
        total *= keep
    body = BASE + "axes:\n" + "".join(f"  {k}: [{', '.join(map(str, v))}]\n" for k, v in axes.items())
    path = folder / f"bench-{total}.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def per_point_rate(folder: Path, n: int) -> None:
    sweep = load_sweep(spec_file(folder, n))
    points = sweep.points()[:n]
    plan = sweep.plan_for(points[0].plan_values)
    tasks, by_variant, _ = variant_tasks(sweep, points)
    (key, task), = tasks.items()  # hardware-only axes: one variant
    items = by_variant[key]
    outcome = run_variant(task)
    assert outcome.error is None, outcome.error
    run_points(task.model, outcome, items[:2], 10, False)  # warm the JIT-compiled kernels

    t = time.perf_counter()
    rows = run_points(task.model, outcome, items, 10, False)
    sweep_s = time.perf_counter() - t
    ok = sum(r["status"] == "ok" for r, _ in rows)

    t = time.perf_counter()
    base_n = min(n, 20)
    for item in items[:base_n]:
        accuracy = AccuracyRequest.of(NumberFormats.from_hardware(item.hardware), sweep.dataset, sweep.spec.frames)
        run_design_point(DesignPointRequest(item.hardware, CompressionRequest(sweep.spec.model, plan), accuracy))
    base_s = (time.perf_counter() - t) / base_n * n
    print(f"1. per point, one core ({n} hardware-only points, {ok} ok, accuracy cached):")
    print(f"   sweep points task   {n / sweep_s:8.1f} points/s")
    print(f"   run_design_point    {n / base_s:8.1f} points/s (baseline, {base_n} points, caches warm)")
    print(f"   ratio               {base_s / sweep_s:8.1f}x")


def timed_sweep(spec: Path, out: Path, **kw) -> tuple[float, dict]:
    t = time.perf_counter()
    res = run_sweep(load_sweep(spec), out, **kw)
    return time.perf_counter() - t, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000, help="design points of the local sweep")
    ap.add_argument("--rate-points", type=int, default=200, help="design points of the per-point rate test")
    ap.add_argument("--dask-points", type=int, default=400, help="design points of the Dask 1-vs-2 workers test")
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        per_point_rate(folder, args.rate_points)

        spec = spec_file(folder, args.points)
        n = len(load_sweep(spec).points())
        wall, res = timed_sweep(spec, folder / "local", workers=cores)
        print(f"2. {n}-point hardware-only sweep, local executor, {cores} workers: {wall:.1f} s wall, "
              f"{n / wall:.1f} points/s ({n / wall / cores:.1f} per core), {res['ok_run']} ok, {res['failed_run']} failed")

        if not args.skip_dask:
            spec = spec_file(folder, args.dask_points)
            m = len(load_sweep(spec).points())
            one, _ = timed_sweep(spec, folder / "dask1", executor="dask", workers=1)
            two, _ = timed_sweep(spec, folder / "dask2", executor="dask", workers=2)
            print(f"3. {m}-point sweep on a local Dask cluster: 1 worker {one:.1f} s, 2 workers {two:.1f} s, "
                  f"speed-up {one / two:.2f}x (start-up of the cluster included)")
    print(f"peak memory of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
