"""Speed of the accelerator model's Numba kernels on AlexNet-sized inputs, against numpy baselines.

    python benchmarks/bench_kernels.py [--repeat 5]

Each kernel runs once to JIT-compile (or load Numba's cache), then the best of ``--repeat`` runs is
reported next to a vectorised numpy computation of the same figures in the same process. Times are
CPU time of this process (``time.process_time``), which a busy shared machine disturbs far less
than wall time; on an idle machine the two agree (every computation here is single-threaded). The numpy
DRAM baseline counts row hits and misses but ignores tRAS (a per-bank recurrence numpy cannot
vectorise), so it does less work than the kernel.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from accelsim.sim.dram import DramEnergy, DramTiming, dram_sequential, dram_stream
from accelsim.sim.sram import SramGeometry, sram_conflicts

# LPDDR4-3200 x16 (REFERENCES.md), 2 channels
LPDDR4 = DramTiming(tck_ns=0.625, burst_length=16, bus_width_bits=16, channels=2, banks=8, row_bytes=2048,
                    trcd_cycles=29, trp_cycles=29, cl_cycles=28, tras_cycles=68, trefi_cycles=6246, trfc_cycles=448)
LPDDR4_E = DramEnergy(read_pj_per_bit=5.3, write_pj_per_bit=3.9, act_pre_nj=1.06, background_mw=0.0)


def best_ms(fn, repeat: int) -> float:
    fn()  # JIT warm-up / cache load
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return 1e3 * min(times)


# -- numpy baselines --------------------------------------------------------------------------------

def numpy_dram(starts, lengths, t: DramTiming):
    first, last = starts // t.burst_bytes, (starts + lengths - 1) // t.burst_bytes
    counts = last - first + 1
    bursts = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    chan, local = bursts % t.channels, bursts // t.channels
    bank = (local // t.bursts_per_row) % t.banks
    row = local // (t.bursts_per_row * t.banks)
    key = chan * t.banks + bank
    order = np.argsort(key, kind="stable")
    k, r = key[order], row[order]
    miss = np.ones(k.size, dtype=bool)
    miss[1:] = (k[1:] != k[:-1]) | (r[1:] != r[:-1])
    per_chan = np.bincount(chan, minlength=t.channels) * t.burst_cycles
    per_chan += np.bincount(chan[order][miss], minlength=t.channels) * (t.trp_cycles + t.trcd_cycles)
    return int(miss.sum()), int(per_chan.max()) + t.cl_cycles


def numpy_sram(addr, geo: SramGeometry):
    words = np.sort(addr // geo.bank_width_bytes, axis=1)
    keep = np.ones(words.shape, dtype=bool)
    keep[:, 1:] = words[:, 1:] != words[:, :-1]
    g = np.broadcast_to(np.arange(words.shape[0])[:, None], words.shape)
    counts = np.bincount((g * geo.banks + words % geo.banks)[keep], minlength=words.shape[0] * geo.banks)
    worst = counts.reshape(-1, geo.banks).max(axis=1)
    return int(np.maximum(1, -(-worst // geo.ports)).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []

    # 27 MB of weights streamed from LPDDR4 (Deep Compression's pruned AlexNet), cut into 4 KiB DMA requests
    n = 27 * 2**20
    starts = np.arange(0, n, 4096, dtype=np.int64)
    lengths = np.full(starts.size, 4096, dtype=np.int64)
    a = dram_stream(starts, lengths, False, LPDDR4, LPDDR4_E)
    assert numpy_dram(starts, lengths, LPDDR4)[0] == a.row_misses
    assert dram_sequential(0, n, False, LPDDR4, LPDDR4_E).busy_cycles == a.busy_cycles
    numpy_ms = best_ms(lambda: numpy_dram(starts, lengths, LPDDR4), args.repeat)
    rows.append((f"DRAM stream, 27 MiB sequential ({a.read_bursts / 1e6:.2f} M bursts)",
                 best_ms(lambda: dram_stream(starts, lengths, False, LPDDR4, LPDDR4_E), args.repeat), numpy_ms))
    rows.append(("DRAM sequential closed form, 27 MiB",
                 best_ms(lambda: dram_sequential(0, n, False, LPDDR4, LPDDR4_E), args.repeat), numpy_ms))

    # 1 M scattered 64-byte reads (activations gathered at random): mostly misses
    scattered = rng.integers(0, 2**30, 2**20, dtype=np.int64) & ~63
    ones = np.full(scattered.size, 64, dtype=np.int64)
    rows.append(("DRAM stream, 1 M scattered 64 B reads",
                 best_ms(lambda: dram_stream(scattered, ones, False, LPDDR4, LPDDR4_E), args.repeat),
                 best_ms(lambda: numpy_dram(scattered, ones, LPDDR4), args.repeat)))

    # SRAM: 1 M cycles of 16 requests, half unit-stride rows of a tile, half random (conflicting)
    geo = SramGeometry(banks=16, bank_width_bytes=8, ports=1)
    seq = (np.arange(2**19, dtype=np.int64)[:, None] * 128 + np.arange(16, dtype=np.int64)[None, :] * 8)
    addr = np.concatenate([seq, rng.integers(0, 2**20, (2**19, 16), dtype=np.int64)])
    assert sram_conflicts(addr, geo).cycles == numpy_sram(addr, geo)
    rows.append(("SRAM conflicts, 1 M groups x 16 requests",
                 best_ms(lambda: sram_conflicts(addr, geo), args.repeat),
                 best_ms(lambda: numpy_sram(addr, geo), args.repeat)))

    width = max(len(r[0]) for r in rows)
    print(f"{'kernel (CPU time, best of ' + str(args.repeat) + ')':<{width}}  {'numba_ms':>9}  {'numpy_ms':>9}  {'speedup':>8}")
    for name, numba_ms, numpy_ms in rows:
        print(f"{name:<{width}}  {numba_ms:9.2f}  {numpy_ms:9.2f}  {numpy_ms / numba_ms:7.1f}x")


if __name__ == "__main__":
    main()
