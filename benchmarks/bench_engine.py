"""Benchmark: one design point of the full AlexNet-shaped detector (8 conv/fc layers plus pooling,
one frame, 10 proposals) on the embedded default, after JIT warm-up (Numba's cache).

Run: python benchmarks/bench_engine.py [--repeat N]
Prints the wall time per design point (target <= 100 ms), its split between SimPy, the Numba kernels
and the rest, events per layer, and peak memory; then the time to count the layers' stream profiles,
which the workload pays once when it is built (not per design point).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from contextlib import contextmanager

import simpy

import accelsim.sim.engine as engine
import accelsim.sim.conflicts as conflicts
from accelsim.compress.profile import stream_profile
from accelsim.config import load_hwconfig
from accelsim.pipeline.compression import CompressionRequest, compress_stage
from accelsim.sim.build import accelerator_from_config
from accelsim.sim.frame import simulate_frame
from accelsim.workload import build_workload

SPENT = {"simpy": 0.0, "numba": 0.0}


def _timed(fn, bucket):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[bucket] += time.perf_counter() - t
    return wrapper


@contextmanager
def instrumented():
    originals = [(simpy.Environment, "run"), (engine, "dram_sequential"), (conflicts, "sram_conflicts")]
    saved = [getattr(obj, name) for obj, name in originals]
    simpy.Environment.run = _timed(saved[0], "simpy")
    engine.dram_sequential = _timed(saved[1], "numba")
    conflicts.sram_conflicts = _timed(saved[2], "numba")
    try:
        yield
    finally:
        for (obj, name), fn in zip(originals, saved):
            setattr(obj, name, fn)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    compressed = compress_stage(CompressionRequest.of("deepped-alexnet", "deep-compression-alexnet"))
    layers = build_workload(compressed.network, compressed.entry.input_shape, compressed.storage)
    accel, _ = accelerator_from_config(load_hwconfig("embedded-45nm"))
    simulate_frame(layers, accel, 10)  # JIT warm-up (loads Numba's cache)

    SPENT.update(simpy=0.0, numba=0.0)
    with instrumented():
        t = time.perf_counter()
        for _ in range(args.repeat):
            result = simulate_frame(layers, accel, 10)
        total = (time.perf_counter() - t) / args.repeat
    simpy_s, numba_s = SPENT["simpy"] / args.repeat, SPENT["numba"] / args.repeat
    tracemalloc.start()
    simulate_frame(layers, accel, 10)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print("design point: deepped-alexnet, deep-compression-alexnet, embedded-45nm, 10 proposals, one frame")
    print(f"  wall time        {total * 1e3:8.1f} ms per design point (mean of {args.repeat}; target <= 100 ms)")
    print(f"    SimPy          {simpy_s * 1e3:8.1f} ms ({simpy_s / total:.0%})")
    print(f"    Numba kernels  {numba_s * 1e3:8.1f} ms ({numba_s / total:.0%})")
    print(f"    rest (Python)  {(total - simpy_s - numba_s) * 1e3:8.1f} ms ({(total - simpy_s - numba_s) / total:.0%})")
    print(f"  peak memory      {peak / 2**20:8.1f} MiB traced during one design point; "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB process peak (model and weights included)")
    print("  events per layer " + ", ".join(f"{r.layer} {int(r.events)}" for r in result.layers.itertuples()))

    # The stream profiles: counted on the real streams once per workload, so the first design point of
    # a sweep (or a single `accelsim run`) pays this on top of the wall time above, and later ones do not.
    repeat = max(1, args.repeat // 4)
    t = time.perf_counter()
    for _ in range(repeat):
        for storage in compressed.storage.layers.values():
            stream_profile(storage)
    profiles = (time.perf_counter() - t) / repeat
    print(f"stream profiles: {profiles * 1e3:.1f} ms per workload ({len(compressed.storage.layers)} layers, "
          f"{sum(st.entries for st in compressed.storage.layers.values()) / 1e6:.2f} M stored entries), once when it is built")

if __name__ == "__main__":
    main()
