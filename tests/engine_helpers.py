"""Shared fixtures of the engine tests: a small CNN, its compressed variants, and an LPDDR4-like accelerator.

Plain functions with caches (not pytest fixtures) so that hypothesis tests can use them too.

The small model, for one 3x18x18 input:

    conv1  3->8, 3x3, stride 1      -> 8x16x16    MACs 8*16*16*3*3*3          = 55,296
    pool1  2x2                      -> 8x8x8
    conv2  8->16, 3x3, pad 1, g=2   -> 16x8x8     MACs 16*8*8*(8/2)*3*3       = 36,864
    pool2  2x2                      -> 16x4x4
    fc1    256->64                                MACs 256*64                 = 16,384
    fc2    64->2                                  MACs 64*2                   =    128
                                                  total per proposal          = 108,672
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from functools import lru_cache

from torch import nn

from accelsim.model.alexnet import init_gaussian_  # (the model package first: see test_engine_cases' import test)
from accelsim.compress import CompressionPlan, compress  # noqa: I001
from accelsim.sim.accelerator import Accelerator, Energies
from accelsim.sim.dram import DramEnergy, DramTiming
from accelsim.sim.sram import SramGeometry
from accelsim.workload import build_workload

INPUT_SHAPE = (3, 18, 18)
ANALYTIC_MACS = {
    "conv1": 8 * 16 * 16 * 3 * 3 * 3,
    "conv2": 16 * 8 * 8 * (8 // 2) * 3 * 3,
    "fc1": 256 * 64,
    "fc2": 64 * 2,
}
ANALYTIC_MACS_PER_PROPOSAL = 108_672
assert sum(ANALYTIC_MACS.values()) == ANALYTIC_MACS_PER_PROPOSAL
WEIGHT_LAYERS = ("conv1", "conv2", "fc1", "fc2")

# LPDDR4-3200-like (../shared/REFERENCES.md): 2 x16 channels, BL16 -> 32-byte bursts, 2 KiB rows.
DRAM_TIMING = DramTiming(0.625, 16, 16, 2, 8, 2048, 29, 29, 28, 68, 6246, 448)
DRAM_ENERGY = DramEnergy(5.3, 3.9, 1.06, 33.0)
BURST_BYTES = 32

ACCEL = Accelerator(
    clock_hz=800e6, rows=16, cols=16, dataflow="ws", weight_bits=16, activation_bits=16, accumulator_bits=32,
    sram=SramGeometry(banks=8, bank_width_bytes=8, ports=1), sram_weight_bytes=256 * 1024,
    sram_input_bytes=128 * 1024, sram_output_bytes=128 * 1024, decoders=16,
    decoder_lookups_per_cycle=1, skip_pruned_weights=True, skip_zero_activations=False,
    dram_timing=DRAM_TIMING, dram_energy=DRAM_ENERGY, energies=Energies(1.09, 25.87, 19.65, 1.0, 10.0, accumulator_read_pj=1.1, accumulator_write_pj=1.7),
    proposals_batch=10,
    # Every fold pays its stationary load, as in SCALE-Sim's formula: the hand-computed cycles below count
    # it; the overlap has its own tests (test_sim_compute, test_mapper_cases).
    overlap_stationary=False,
)

# Plans. The dense plan stores every weight at the array's 16-bit precision and biases at 32 bits,
# which is exactly what the engine assumes for an uncompressed layer (profile=None).
PLANS = {
    "dense": {"name": "dense", "defaults": {"sparsity": 0.0, "clusters": None, "positions": None,
                                            "codebook_format": "fixed16", "bias_format": "fixed32"}},
    "dense-fp32": {"name": "dense-fp32", "defaults": {"sparsity": 0.0, "clusters": None, "positions": None}},
    "deep-compression": {"name": "dc", "defaults": {"sparsity": 0.7, "clusters": 16, "positions": 4,
                                                    "codebook_format": "fixed16", "bias_format": "fixed32"},
                         "layers": {"fc1": {"sparsity": 0.9, "clusters": 8}}},
    "huffman": {"name": "huff", "defaults": {"sparsity": 0.6, "clusters": 32, "positions": 3,
                                             "huffman_indices": True, "huffman_positions": True,
                                             "codebook_format": "fp16", "bias_format": "fp16"}},
    "shared-dense": {"name": "shared-dense", "defaults": {"clusters": 16, "positions": None,
                                                          "codebook_format": "fixed16"}},
}


def small_model(seed: int = 0) -> nn.Module:
    m = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 8, 3)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(8, 16, 3, padding=1, groups=2)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(16 * 4 * 4, 64)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(64, 2)),
    ]))
    return init_gaussian_(m, seed)


def compressed(plan: str, seed: int = 0):
    """(model with decoded weights, CompressedModel) for one of `PLANS`."""
    model = small_model(seed)
    cm = compress(model, CompressionPlan.model_validate(PLANS[plan]), model_name="small-test")
    return model, cm


@lru_cache(maxsize=None)
def workload(plan: str | None, seed: int = 0) -> tuple:
    """Layers of the small model; ``plan=None`` gives the uncompressed workload (no stream profiles)."""
    if plan is None:
        return tuple(build_workload(small_model(seed), INPUT_SHAPE, None))
    model, cm = compressed(plan, seed)
    return tuple(build_workload(model, INPUT_SHAPE, cm))


def accel(**changes) -> Accelerator:
    return dataclasses.replace(ACCEL, **changes)


def stored_bytes(layer) -> int:
    """Bytes of one layer's storage as the DMA moves it (all its bits, biases included): its stream
    profile's total, which is the storage's bit count (test_compress_profile), or by hand."""
    if layer.profile is not None:
        return math.ceil(layer.profile.total_bits / 8)
    return layer.out_units * (layer.fan_in * 16 + 32) // 8


def bursts(n_bytes: float) -> int:
    """Bytes moved on the bus for one contiguous transfer from a burst-aligned address."""
    return math.ceil(n_bytes / BURST_BYTES) * BURST_BYTES
