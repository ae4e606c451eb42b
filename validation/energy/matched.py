"""The matched case of the energy cross-check: one definition read by accelsim's and both peers' runners.

Plain Python (no imports beyond the standard library), because the peers' runners execute in their
own virtual environments (``run_zigzag.py`` in /work/venvs/zigzag, ``run_nndf.py`` in
/work/venvs/nndf) and must see exactly the same numbers as ``compare.py``.

Workload (``WORKLOADS``, selected by name; the hardware is the same for both): ``deepped-alexnet``,
dense AlexNet-227 in the Caffe layout (groups=2 on conv2/4/5, LRN ignored by the peers), or
``alexnet-227``, the peers' own ungrouped AlexNet-227 (every convolution in one group); both with a
1000-class fc8, batch 1, 8-bit weights and activations, no biases. Hardware: a 16x16 weight-stationary
MAC array, separate 64 KiB input, 64 KiB weight and 32 KiB output SRAMs (64-bit words), DRAM at
8 bytes per cycle. Unit costs (shared/REFERENCES.md, hwcomponents at 45 nm): Aladdin 8x8-bit MAC with
24-bit accumulator 1.09 pJ; CACTI 64 KiB SRAM, 64-bit wide, 25.87 pJ read / 19.65 pJ write per access;
LPDDR4 8 pJ/bit flat. The same figures go to all three tools; nothing else costs energy (no leakage,
no register files, no NoC).
"""

from __future__ import annotations

# --- unit costs -----------------------------------------------------------------------------------
MAC_PJ = 1.09
SRAM_READ_PJ = 25.87  # per 64-bit access
SRAM_WRITE_PJ = 19.65
SRAM_WORD_BITS = 64
DRAM_PJ_PER_BIT = 8.0

SOURCES = {
    "mac": "hwcomponents-library AladdinIntMAC, 8x8-bit multiplier with 24-bit accumulator, 45 nm: 1.09 pJ "
           "(shared/REFERENCES.md, 'Figures from hwcomponents at 45 nm')",
    "sram": "hwcomponents-cacti (CACTI 7) SRAM 64 KiB, 64-bit wide, 45 nm: 25.87 pJ read, 19.65 pJ write per access "
            "(shared/REFERENCES.md, 'Figures from hwcomponents at 45 nm')",
    "dram": "hwcomponents DRAM model, LPDDR4: flat 8 pJ/bit, no timing (shared/REFERENCES.md)",
}

# --- hardware ----------------------------------------------------------------------------------------
ARRAY_ROWS = 16  # rows: fan-in (input channels x kernel), weight-stationary
ARRAY_COLS = 16  # cols: output channels
INPUT_SRAM_BYTES = 64 * 1024
WEIGHT_SRAM_BYTES = 64 * 1024
OUTPUT_SRAM_BYTES = 32 * 1024
DRAM_BYTES_PER_CYCLE = 8
CLOCK_MHZ = 800  # only for accelsim's DRAM timing: 8 B/cycle = 6.4 GB/s = one LPDDR4-3200 x16 channel
WEIGHT_BITS = ACT_BITS = 8
ACC_BITS = 24
BATCH = 1

# --- workloads ------------------------------------------------------------------------------------------
# name: (kind, in_channels, out_channels, in_size, out_size, kernel, stride, pad, groups)
# deepped-alexnet: AlexNet-227 in the Caffe layout (DeepPed's classifier with a 1000-class fc8)
LAYERS = {
    "conv1": ("conv", 3, 96, 227, 55, 11, 4, 0, 1),
    "conv2": ("conv", 96, 256, 27, 27, 5, 1, 2, 2),
    "conv3": ("conv", 256, 384, 13, 13, 3, 1, 1, 1),
    "conv4": ("conv", 384, 384, 13, 13, 3, 1, 1, 2),
    "conv5": ("conv", 384, 256, 13, 13, 3, 1, 1, 2),
    "fc6": ("fc", 9216, 4096, 1, 1, 1, 1, 0, 1),
    "fc7": ("fc", 4096, 4096, 1, 1, 1, 1, 0, 1),
    "fc8": ("fc", 4096, 1000, 1, 1, 1, 1, 0, 1),
}
# alexnet-227: the same layers with every convolution in one group (ZigZag's and nn-dataflow's own AlexNet,
# accelsim's model ``alexnet-227``)
LAYERS_UNGROUPED = {name: spec[:-1] + (1,) for name, spec in LAYERS.items()}

DEFAULT_WORKLOAD = "deepped-alexnet"
# ZigZag's LOMA search orders at most this many loop prime factors (its ``lpf_limit``, default 6). On the
# ungrouped conv2 the default finds only mappings that reload the input 7.3x from DRAM (6,250 KiB, 1,535.7 uJ);
# 8 finds 2,081 KiB and 1,204.3 uJ (measured 2026-12-08, 417 s for that layer alone).
ZIGZAG_LPF_LIMIT = {"deepped-alexnet": 6, "alexnet-227": 8}
WORKLOADS = {"deepped-alexnet": LAYERS, "alexnet-227": LAYERS_UNGROUPED}


def layers(workload: str = DEFAULT_WORKLOAD) -> dict:
    try:
        return WORKLOADS[workload]
    except KeyError:
        raise ValueError(f"unknown workload {workload!r}; known: {', '.join(WORKLOADS)}") from None


def suffix(workload: str = DEFAULT_WORKLOAD) -> str:
    """How cached files of ``workload`` are named: '' for the default (``zigzag.json``), else
    '-<workload>' (``zigzag-alexnet-227.json``)."""
    layers(workload)
    return "" if workload == DEFAULT_WORKLOAD else f"-{workload}"


def macs(name: str, workload: str = DEFAULT_WORKLOAD) -> int:
    kind, c, k, _, out, kern, _, _, g = layers(workload)[name]
    return BATCH * k * (c // g) * kern * kern * out * out


def weights(name: str, workload: str = DEFAULT_WORKLOAD) -> int:
    kind, c, k, _, _, kern, _, _, g = layers(workload)[name]
    return k * (c // g) * kern * kern


def input_bytes(name: str, workload: str = DEFAULT_WORKLOAD) -> int:
    """Unpadded input activations of one frame, 8-bit."""
    kind, c, _, size, _, _, _, _, _ = layers(workload)[name]
    return BATCH * c * size * size * ACT_BITS // 8


def output_bytes(name: str, workload: str = DEFAULT_WORKLOAD) -> int:
    kind, _, k, _, out, _, _, _, _ = layers(workload)[name]
    return BATCH * k * out * out * ACT_BITS // 8


def compulsory_dram_bytes(name: str, workload: str = DEFAULT_WORKLOAD) -> int:
    """Each weight and input read once, each output written once: the floor any tool should reach when
    the layer's activations come from and go to DRAM."""
    return weights(name, workload) * WEIGHT_BITS // 8 + input_bytes(name, workload) + output_bytes(name, workload)
