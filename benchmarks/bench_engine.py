"""Benchmark: one design point of the full AlexNet-shaped detector (8 conv/fc layers plus pooling,
one frame, 10 proposals) on the embedded default, after JIT warm-up (Numba's cache).

Run: python benchmarks/bench_engine.py [--repeat N] [--baseline COMMIT]
Prints the wall time per design point (target <= 100 ms), its split between SimPy, the Numba kernels
and the rest, events per layer, and peak memory; then the time to count the layers' stream profiles,
which the workload pays once when it is built (not per design point).

With ``--baseline COMMIT`` (default c6d4c05, the mapper before issue 13) it also times the same design
point with that commit's ``accelsim`` package, extracted with ``git archive`` into a temporary folder and
imported in this process, and prints new / old as a ratio. Both run here, alternately, on the same machine.
"""

from __future__ import annotations

import argparse
import importlib
import io
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
import tracemalloc
from contextlib import contextmanager

import simpy

import accelsim.sim.engine as engine
import accelsim.sim.conflicts as conflicts
from accelsim.compress.profile import stream_profile
from accelsim.config import load_hwconfig
from accelsim.pipeline.compression import CompressionRequest, compress_stage
from accelsim.pipeline.accelerator import accelerator_from_config
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


def baseline_point(commit: str):
    """A function that simulates the benchmark's design point with ``commit``'s accelsim package (its
    compression is the same as ours, from the same cache)."""
    root = Path(__file__).resolve().parents[1]
    # the package and the shipped data it finds beside it
    tar = subprocess.run(["git", "-C", str(root), "archive", commit, "accelsim", "hwconfigs", "models"],
                         check=True, capture_output=True).stdout
    folder = tempfile.mkdtemp(prefix="accelsim-baseline-")
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(folder, filter="data")
    ours = {k: m for k, m in sys.modules.items() if k == "accelsim" or k.startswith("accelsim.")}
    for k in ours:
        del sys.modules[k]
    sys.path.insert(0, folder)
    try:
        load = importlib.import_module("accelsim.config").load_hwconfig
        try:
            build = importlib.import_module("accelsim.pipeline.accelerator").accelerator_from_config
        except ModuleNotFoundError:  # a baseline from before the builder left sim/ (which may not import config)
            build = importlib.import_module("accelsim.sim.build").accelerator_from_config
        frame = importlib.import_module("accelsim.sim.frame").simulate_frame
        stage = importlib.import_module("accelsim.pipeline.compression")
        workload = importlib.import_module("accelsim.workload").build_workload
        c = stage.compress_stage(stage.CompressionRequest.of("deepped-alexnet", "deep-compression-alexnet"))
        layers = workload(c.network, c.entry.input_shape, c.storage)
        accel, _ = build(load("embedded-45nm"))
    finally:
        sys.path.remove(folder)
        for k in [k for k in sys.modules if k == "accelsim" or k.startswith("accelsim.")]:
            del sys.modules[k]
        sys.modules.update(ours)
    frame(layers, accel, 10)  # JIT warm-up
    return lambda: frame(layers, accel, 10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--baseline", default="c6d4c05", help="commit whose mapper to time against ('' for none)")
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

    if args.baseline:
        old = baseline_point(args.baseline)
        new_s, old_s = [], []
        for _ in range(args.repeat):  # alternate, so that load on the machine hits both alike
            t = time.perf_counter()
            simulate_frame(layers, accel, 10)
            new_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            old()
            old_s.append(time.perf_counter() - t)
        new_ms, old_ms = 1e3 * sum(new_s) / len(new_s), 1e3 * sum(old_s) / len(old_s)
        print(f"mapper against {args.baseline}: {new_ms:.1f} ms now, {old_ms:.1f} ms then per design point; "
              f"ratio new / old = {new_ms / old_ms:.2f}")


if __name__ == "__main__":
    main()
