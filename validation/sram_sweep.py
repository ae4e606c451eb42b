"""Latency, DRAM traffic and energy per frame against SRAM size: the embedded config (embedded-45nm) with
its SRAM scaled from 64 KiB to 8 MiB, the weight / input / output shares kept at 75 / 12.5 / 12.5%, the
banks and their per-access energies and timing as shipped. Flags every step where latency or DRAM bytes
rise with a larger SRAM.

    python validation/sram_sweep.py                                   # the README's main job: deepped-small, 64 proposals
    python validation/sram_sweep.py deepped-alexnet deep-compression-alexnet 1
    python validation/sram_sweep.py deepped-alexnet deep-compression-alexnet 1 --objective latency
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from accelsim.config import load_hwconfig
from accelsim.pipeline.compression import CompressionRequest, compress_stage
from accelsim.pipeline.accelerator import accelerator_from_config
from accelsim.sim.frame import simulate_frame
from accelsim.sim.mapping import OBJECTIVES
from accelsim.workload import build_workload

SIZES_KIB = (64, 128, 256, 512, 1024, 2048, 4096, 6144, 8192)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="deepped-small")
    parser.add_argument("plan", nargs="?", default="deepped-small")
    parser.add_argument("proposals", nargs="?", type=int, default=64, help="proposals per frame")
    parser.add_argument("--objective", choices=OBJECTIVES, default=None, help="mapper objective (default: the config's)")
    args = parser.parse_args()
    c = compress_stage(CompressionRequest.of(args.model, args.plan))
    layers = build_workload(c.network, c.entry.input_shape, c.storage)
    base, _ = accelerator_from_config(load_hwconfig("embedded-45nm"))
    if args.objective:
        base = replace(base, mapper_objective=args.objective)
    total = base.sram_weight_bytes + base.sram_input_bytes + base.sram_output_bytes
    print(f"{args.model}, {args.plan}, {args.proposals} proposals/frame, mapper objective {base.mapper_objective}")
    print("| SRAM | latency, ms/frame | DRAM, B/frame | energy, µJ/frame | rises with SRAM |")
    print("|---:|---:|---:|---:|---|")
    prev = None
    for kib in SIZES_KIB:
        f = kib * 1024 / total
        a = replace(base, sram_weight_bytes=int(base.sram_weight_bytes * f), sram_input_bytes=int(base.sram_input_bytes * f),
                    sram_output_bytes=int(base.sram_output_bytes * f))
        r = simulate_frame(layers, a, args.proposals).figures
        rises = []
        if prev and r.latency_per_frame_ms > prev[0]:
            rises.append("latency")
        if prev and r.dram_bytes_per_frame > prev[1]:
            rises.append("DRAM bytes")
        print(f"| {kib:,} KiB | {r.latency_per_frame_ms:.3f} | {r.dram_bytes_per_frame:,.0f} | "
              f"{r.energy_per_frame_uj:,.1f} | {', '.join(rises) or '—'} |")
        prev = (r.latency_per_frame_ms, r.dram_bytes_per_frame)


if __name__ == "__main__":
    main()
