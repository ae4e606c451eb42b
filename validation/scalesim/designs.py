"""The matched design points and the AlexNet-227 layers, as both SCALE-Sim and accelsim see them.

Two workloads:

- ``deepped-alexnet`` (designs ``32x32-ws`` ... ``16x16-os``): the grouped Caffe AlexNet-227 of
  accelsim's DeepPed classifier (2-class fc8), at the embedded-45nm SRAM shares 64/384/64 KiB.
- ``alexnet-227`` (designs ``227-<array>-<dataflow>``): SCALE-Sim's own terms, ungrouped AlexNet-227
  with 1,000 classes (accelsim model ``alexnet-227``), SRAM 64 KiB ifmap, 64 KiB filter, 32 KiB ofmap,
  WS, OS and IS; and the same layers at 64/384/64 KiB (``227-emb-<array>-<dataflow>``).

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
EMBEDDED_SRAM = (IFMAP_KIB, FILTER_KIB, OFMAP_KIB)
# SCALE-Sim's terms (issue 13): 64 KiB ifmap, 64 KiB filter, 32 KiB ofmap.
PEER_SRAM = (64, 64, 32)

ACCELSIM_DATAFLOW = {"ws": "weight-stationary", "os": "output-stationary", "is": "input-stationary"}


@dataclass(frozen=True)
class Design:
    name: str  # "32x32-ws", "227-32x32-is", "227-emb-16x16-ws"
    rows: int
    cols: int
    dataflow: str  # "ws" | "os" | "is" (SCALE-Sim's cfg values)
    workload: str = "deepped-alexnet"  # a key of WORKLOADS
    sram_kib: tuple[int, int, int] = EMBEDDED_SRAM  # ifmap, filter, ofmap

    @property
    def accelsim_dataflow(self) -> str:
        return ACCELSIM_DATAFLOW[self.dataflow]

    @property
    def hw_name(self) -> str:
        """accelsim hardware config (hw/<hw_name>.yaml): array, dataflow and SRAM; the workload does not
        enter, so the grouped designs and the ungrouped ones at the same sizes share a file."""
        base = f"{self.rows}x{self.cols}-{self.dataflow}"
        return base if self.sram_kib == EMBEDDED_SRAM else base + "-sram-" + "-".join(map(str, self.sram_kib))

    @property
    def layers(self) -> list["PeerLayer"]:
        return WORKLOADS[self.workload].layers

    def layer(self, name: str) -> "PeerLayer":
        return {l.name: l for l in self.layers}[name]

    def cfg_path(self, root: Path | None = None) -> Path:
        return (root or INPUTS) / f"{self.name}.cfg"

    def topology_path(self, layer: str, root: Path | None = None) -> Path:
        return (root or INPUTS) / f"topology-{WORKLOADS[self.workload].prefix}{layer}.csv"

    def layout_path(self, layer: str, root: Path | None = None) -> Path:
        return (root or INPUTS) / f"layout-{WORKLOADS[self.workload].prefix}{layer}.csv"


# The grouped DeepPed workload at the embedded-45nm shares (the cache's first four design points).
DESIGNS = [Design("32x32-ws", 32, 32, "ws"), Design("32x32-os", 32, 32, "os"),
           Design("16x16-ws", 16, 16, "ws"), Design("16x16-os", 16, 16, "os")]
# Ungrouped AlexNet-227 on SCALE-Sim's terms (64/64/32 KiB), the three dataflows ...
DESIGNS_227 = [Design(f"227-{a}x{a}-{df}", a, a, df, "alexnet-227", PEER_SRAM) for a in (32, 16) for df in ("ws", "os", "is")]
# ... and at the embedded config's shares (64/384/64 KiB).
DESIGNS_227_EMB = [Design(f"227-emb-{a}x{a}-{df}", a, a, df, "alexnet-227", EMBEDDED_SRAM)
                   for a in (32, 16) for df in ("ws", "os", "is")]
ALL_DESIGNS = DESIGNS + DESIGNS_227 + DESIGNS_227_EMB
DESIGN_BY_NAME = {d.name: d for d in ALL_DESIGNS}


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

# AlexNet-227 on SCALE-Sim's terms (accelsim model alexnet-227): the same layers without groups and
# with the 1,000-class fc8. conv1, conv3, fc6 and fc7 have the same rows as above.
LAYERS_227 = [
    PeerLayer("conv1", 227, 227, 11, 11, 3, 96, 4),
    PeerLayer("conv2", 31, 31, 5, 5, 96, 256, 1),
    PeerLayer("conv3", 15, 15, 3, 3, 256, 384, 1),
    PeerLayer("conv4", 15, 15, 3, 3, 384, 384, 1),
    PeerLayer("conv5", 15, 15, 3, 3, 384, 256, 1),
    PeerLayer("fc6", 1, 1, 1, 1, 9216, 4096, 1),
    PeerLayer("fc7", 1, 1, 1, 1, 4096, 4096, 1),
    PeerLayer("fc8", 1, 1, 1, 1, 4096, 1000, 1),
]


@dataclass(frozen=True)
class Workload:
    key: str  # accelsim model name
    label: str
    prefix: str  # of its topology and layout file names in inputs/
    layers: list[PeerLayer]


WORKLOADS = {
    "deepped-alexnet": Workload("deepped-alexnet", "grouped Caffe AlexNet-227 of deepped-alexnet (conv2/4/5 in two "
                                "groups, 2-class fc8)", "", LAYERS),
    "alexnet-227": Workload("alexnet-227", "ungrouped AlexNet-227, 1,000 classes (SCALE-Sim's own terms)", "227-",
                            LAYERS_227),
}

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
ifmapsramszkB = {design.sram_kib[0]}
filtersramszkB = {design.sram_kib[1]}
ofmapsramszkB = {design.sram_kib[2]}
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
    for d in ALL_DESIGNS:
        p = d.cfg_path(root)
        p.write_text(scalesim_cfg(d))
        written.append(p)
    for w in WORKLOADS.values():
        for layer in w.layers:
            p = root / f"topology-{w.prefix}{layer.name}.csv"
            p.write_text(TOPOLOGY_HEADER + "\n" + layer.topology_row() + "\n")
            q = root / f"layout-{w.prefix}{layer.name}.csv"
            q.write_text(LAYOUT_HEADER + "\n" + layout_row(layer) + "\n")
            written += [p, q]
    return written


if __name__ == "__main__":
    for path in write_inputs():
        print(path.relative_to(HERE))
