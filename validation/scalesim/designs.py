"""The matched design points and the AlexNet-227 layers, as both SCALE-Sim and accelsim see them.

No accelsim or SCALE-Sim import here: the peer runner imports this module from SCALE-Sim's own
virtual environment, compare.py from accelsim's.

Units. SCALE-Sim counts *words* of ``word_size = 1`` byte (hard-coded in its
``single_layer_sim.py``); accelsim counts bytes. With 8-bit weights and activations in accelsim a
word is a byte, so counts compare one to one. SCALE-Sim's SRAM sizes are in kB of 1024 bytes
(``1024 * ifmapsramszkB`` in ``single_layer_sim.py``), which is accelsim's KiB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
INPUTS = HERE / "inputs"
HWCONFIGS = HERE / "hw"

# SRAM shares of the shipped embedded-45nm design (hwconfigs/embedded-45nm.yaml): 64 KiB of input
# activations, 384 KiB of weights, 64 KiB of output activations. Same sizes in both tools.
IFMAP_KIB, FILTER_KIB, OFMAP_KIB = 64, 384, 64


@dataclass(frozen=True)
class Design:
    name: str  # "32x32-ws"
    rows: int
    cols: int
    dataflow: str  # "ws" | "os"

    @property
    def accelsim_dataflow(self) -> str:
        return {"ws": "weight-stationary", "os": "output-stationary"}[self.dataflow]


DESIGNS = [Design("32x32-ws", 32, 32, "ws"), Design("32x32-os", 32, 32, "os"),
           Design("16x16-ws", 16, 16, "ws"), Design("16x16-os", 16, 16, "os")]
DESIGN_BY_NAME = {d.name: d for d in DESIGNS}


@dataclass(frozen=True)
class PeerLayer:
    """One row of a SCALE-Sim conv topology, plus how many identical copies make the real layer.

    SCALE-Sim has no grouped convolution and no padding: a layer with ``groups`` groups is one
    group's convolution (channels and filters divided by ``groups``) counted ``groups`` times, and a
    padded layer gets the padded input size (so its output size is the real one)."""

    name: str
    ifmap_h: int
    ifmap_w: int
    filt_h: int
    filt_w: int
    channels: int  # per group
    filters: int  # per group
    stride: int
    groups: int = 1

    @property
    def ofmap_px(self) -> int:
        return ((self.ifmap_h - self.filt_h + self.stride) // self.stride) * \
            ((self.ifmap_w - self.filt_w + self.stride) // self.stride)

    @property
    def window(self) -> int:
        """Fan-in of one output (im2col row length)."""
        return self.filt_h * self.filt_w * self.channels

    def topology_row(self) -> str:
        return (f"{self.name}, {self.ifmap_h}, {self.ifmap_w}, {self.filt_h}, {self.filt_w}, "
                f"{self.channels}, {self.filters}, {self.stride},")


# AlexNet-227 in the Caffe/R-CNN layout of models/deepped-alexnet (2-class fc8). Padding: conv2 2,
# conv3-5 1 (27 -> 31, 13 -> 15). Fully connected layers are 1x1 convolutions of one pixel.
LAYERS = [
    PeerLayer("conv1", 227, 227, 11, 11, 3, 96, 4),
    PeerLayer("conv2", 31, 31, 5, 5, 48, 128, 1, groups=2),
    PeerLayer("conv3", 15, 15, 3, 3, 256, 384, 1),
    PeerLayer("conv4", 15, 15, 3, 3, 192, 192, 1, groups=2),
    PeerLayer("conv5", 15, 15, 3, 3, 192, 128, 1, groups=2),
    PeerLayer("fc6", 1, 1, 1, 1, 9216, 4096, 1),
    PeerLayer("fc7", 1, 1, 1, 1, 4096, 4096, 1),
    PeerLayer("fc8", 1, 1, 1, 1, 4096, 2, 1),
]
LAYER_BY_NAME = {l.name: l for l in LAYERS}

TOPOLOGY_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"


def scalesim_cfg(design: Design) -> str:
    """SCALE-Sim 3.0.0 config: CALC bandwidth mode (DRAM unconstrained; SCALE-Sim reports the
    bandwidth it would need), no custom layouts, no sparsity, no Ramulator."""
    return f"""[general]
run_name = {design.name}

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = {design.rows}
ArrayWidth = {design.cols}
ifmapsramszkB = {IFMAP_KIB}
filtersramszkB = {FILTER_KIB}
ofmapsramszkB = {OFMAP_KIB}
IfmapOffset = 0
FilterOffset = 100000000
OfmapOffset = 200000000
Dataflow = {design.dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32
Bandwidth = 10

[layout]
IfmapCustomLayout = False
FilterCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
"""


# SCALE-Sim 3.0.0 opens the layout CSV even with custom layouts off (scale_sim.set_params); with
# IfmapCustomLayout/FilterCustomLayout = False its values are never used. One row per layer.
LAYOUT_HEADER = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height Intraline "
                 "Factor, Filter Width Intraline Factor, Channel Intraline Factor, Num Filter Intraline Factor, IFMAP "
                 "Height Intraline Order, IFMAP Width Intraline Order, Channel Intraline Order, IFMAP Height Interline "
                 "Order, IFMAP Width Interline Order, Channel Interline Order, Num Filter Intraline Order, Channel "
                 "Intraline Order, Filter Height Intraline Order, Filter Width Intraline Order, Num Filter Interline "
                 "Order, Channel Interline Order, Filter Height Interline Order, Filter Width Interline Order,")


def layout_row(layer: PeerLayer) -> str:
    return f"{layer.name}, 1, 1, 1, 1, 1, 1, 0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3,"


def write_inputs(root: Path = INPUTS) -> list[Path]:
    """SCALE-Sim's inputs: one cfg per design point, one topology and layout CSV per layer."""
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for d in DESIGNS:
        p = root / f"{d.name}.cfg"
        p.write_text(scalesim_cfg(d))
        written.append(p)
    for layer in LAYERS:
        p = root / f"topology-{layer.name}.csv"
        p.write_text(TOPOLOGY_HEADER + "\n" + layer.topology_row() + "\n")
        q = root / f"layout-{layer.name}.csv"
        q.write_text(LAYOUT_HEADER + "\n" + layout_row(layer) + "\n")
        written += [p, q]
    return written


if __name__ == "__main__":
    for path in write_inputs():
        print(path.relative_to(HERE))
