"""SCALE-Sim cross-check (docs/validation.md sections 1 and 5): dense AlexNet-227, layer by layer.

Two workloads (designs.WORKLOADS): the grouped DeepPed AlexNet-227 (``deepped-alexnet``, 2 classes;
designs ``32x32-ws`` ...) and ungrouped AlexNet-227 on SCALE-Sim's terms (``alexnet-227``, 1,000 classes;
designs ``227-*``, with input-stationary points that accelsim runs once its config accepts
``input-stationary``: until then their rows show SCALE-Sim's figures and "accelsim: not yet").

    python validation/scalesim/compare.py              # cached SCALE-Sim reports, accelsim rerun (seconds)
    python validation/scalesim/compare.py --rerun-peer  # rerun the missing SCALE-Sim layers first (hours)
    python validation/scalesim/compare.py --no-write    # print only, leave docs/validation.md alone

Both tools see the same layer matrices: SCALE-Sim's topology rows (designs.LAYERS: padded inputs,
one group of a grouped convolution counted ``groups`` times) and accelsim's dense 8-bit workload of
``deepped-alexnet`` (no compression: every weight stored at the array's 8 bits plus a 16-bit bias
per output unit). accelsim runs every conv/fc layer *alone* (input read from DRAM, output written
to DRAM, weights loaded from DRAM once), as SCALE-Sim simulates each layer.

Units: SCALE-Sim counts 1-byte words of the im2col-expanded operand matrices; accelsim counts
bytes. With 8-bit operands the two are the same unit, so no conversion but the group count.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from designs import (ALL_DESIGNS, CACHE, DESIGN_BY_NAME, DESIGNS, DESIGNS_227, DESIGNS_227_EMB, HWCONFIGS,  # noqa: E402
                     LAYERS, Design, PeerLayer)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "validation.md"
TOLERANCE = 0.10  # differences above this are flagged and explained in the doc


# --- SCALE-Sim side: the cached reports ------------------------------------------------------------

@dataclass(frozen=True)
class PeerCounts:
    """One layer as SCALE-Sim reports it, scaled to the whole layer (x groups). Words = bytes."""

    total_cycles: int  # COMPUTE_REPORT "Total Cycles" (compute + stall, excl. prefetch)
    stall_cycles: int
    total_incl_prefetch: int  # "Total Cycles (incl. prefetch)"
    sram_ifmap_reads: int
    sram_filter_reads: int
    sram_ofmap_writes: int
    dram_ifmap_reads: int
    dram_filter_reads: int
    dram_ofmap_writes: int
    groups: int

    @property
    def compute_cycles(self) -> int:
        return self.total_cycles - self.stall_cycles


def _report_row(path: Path) -> dict[str, float]:
    """The one data row of a SCALE-Sim report CSV, keyed by its (stripped) header names."""
    with path.open() as f:
        rows = [[c.strip() for c in r] for r in csv.reader(f) if r]
    header, values = rows[0], rows[1]
    return {h: float(v) for h, v in zip(header, values) if h}


def read_peer(design: str, layer: str, cache: Path = CACHE) -> PeerCounts | None:
    folder = cache / design / layer
    if not (folder / "DETAILED_ACCESS_REPORT.csv").is_file():
        return None
    comp = _report_row(folder / "COMPUTE_REPORT.csv")
    det = _report_row(folder / "DETAILED_ACCESS_REPORT.csv")
    g = DESIGN_BY_NAME[design].layer(layer).groups
    return PeerCounts(
        total_cycles=int(comp["Total Cycles"]) * g,
        stall_cycles=int(comp["Stall Cycles"]) * g,
        total_incl_prefetch=int(comp["Total Cycles (incl. prefetch)"]) * g,
        sram_ifmap_reads=int(det["SRAM IFMAP Reads"]) * g,
        sram_filter_reads=int(det["SRAM Filter Reads"]) * g,
        sram_ofmap_writes=int(det["SRAM OFMAP Writes"]) * g,
        dram_ifmap_reads=int(det["DRAM IFMAP Reads"]) * g,
        dram_filter_reads=int(det["DRAM Filter Reads"]) * g,
        dram_ofmap_writes=int(det["DRAM OFMAP Writes"]) * g,
        groups=g,
    )


def scalesim_formula_cycles(layer: PeerLayer, d: Design) -> int:
    """SCALE-Sim's compute cycles from its own demand-matrix construction (compute/systolic_compute_*.py):
    every fold is ``2R + C + T - 2`` rows (WS, IS) or ``R + C + T - 2`` rows (OS) of the whole R x C
    array, and the report's Total Cycles is the index of the last row (rows - 1). Whole layer (x groups).
    WS keeps the weights (window x filters) in the array and streams the output pixels; IS keeps the
    im2col input (window x output pixels) and streams the filters; OS keeps the outputs (pixels x
    filters) and streams the window."""
    r, c = d.rows, d.cols
    if d.dataflow == "ws":
        sr, sc, t = layer.window, layer.filters, layer.ofmap_px
        per_fold = 2 * r + c + t - 2
    elif d.dataflow == "is":
        sr, sc, t = layer.window, layer.ofmap_px, layer.filters
        per_fold = 2 * r + c + t - 2
    else:
        sr, sc, t = layer.ofmap_px, layer.filters, layer.window
        per_fold = r + c + t - 2
    folds = math.ceil(sr / r) * math.ceil(sc / c)
    return (folds * per_fold - 1) * layer.groups


# --- accelsim side -------------------------------------------------------------------------------

@dataclass
class AccelCounts:
    """One conv/fc layer simulated alone by accelsim (bytes; 8-bit operands, so bytes = words)."""

    cycles: float  # the layer's latency in the engine (DMA, compute, write-back overlapped)
    mac_cycles: float  # MAC array busy, incl. fill and drain
    one_chunk_cycles: int  # accelsim's array formula for the whole layer in one pass (no chunks)
    chunks: int
    weight_tiles: int
    order: str
    pinned: bool
    sram_ifmap_reads: float
    sram_filter_reads: float  # incl. the 16-bit bias of each output unit
    sram_psum_reads: float  # bytes: partial sums read back for accumulation (SCALE-Sim has none)
    sram_ofmap_writes: float  # partial sums and final outputs written, counted as values (words)
    sram_ofmap_write_bytes: float  # the same in bytes: partial sums at the accumulator width
    sram_ofmap_to_dram_reads: float  # outputs read out of the SRAM on their way to DRAM
    sram_fill_writes: float  # DRAM -> SRAM fills
    dram_ifmap_reads: float
    dram_filter_reads: float  # incl. the cold-frame load of a pinned layer
    dram_ofmap_writes: float
    engine_dram_read_bytes: float  # the engine's DRAM reads (burst-rounded, steady frame)
    conflict_cycles: float
    extra: dict = field(default_factory=dict)


@lru_cache(maxsize=2)
def dense_workload(model: str = "deepped-alexnet"):
    from accelsim.model import get_model
    from accelsim.workload import build_workload

    entry = get_model(model)
    return tuple(build_workload(entry.build(None), entry.input_shape, None))


def check_shapes(workload=None, layers: list[PeerLayer] = LAYERS, model: str = "deepped-alexnet") -> None:
    """SCALE-Sim's topology describes the same matrices as accelsim's workload."""
    workload = workload or dense_workload(model)
    by_name = {l.name: l for l in workload}
    for p in layers:
        a = by_name[p.name]
        assert a.fan_in == p.window, (p.name, a.fan_in, p.window)
        assert a.out_units == p.filters * p.groups, (p.name, a.out_units, p.filters, p.groups)
        assert a.out_pixels == p.ofmap_px, (p.name, a.out_pixels, p.ofmap_px)
        assert a.groups == p.groups, (p.name, a.groups, p.groups)


def accelerator(design: Design):
    from accelsim.config import load_hwconfig
    from accelsim.pipeline.accelerator import accelerator_from_config

    return accelerator_from_config(load_hwconfig(HWCONFIGS / f"{design.hw_name}.yaml"))[0]


def accelsim_unsupported(design: Design) -> str | None:
    """Why accelsim cannot run ``design`` yet (its config rejects the dataflow), or None. Detected at
    run time: input-stationary runs as soon as accelsim's hardware config accepts it."""
    from accelsim.config import load_hwconfig
    from accelsim.errors import ConfigError

    try:
        load_hwconfig(HWCONFIGS / f"{design.hw_name}.yaml")
    except ConfigError as exc:
        if "dataflow" in str(exc):
            return str(exc).split(": ", 1)[-1]
        raise
    return None


def accelsim_layer(layer, accel) -> AccelCounts:
    """Simulate ``layer`` alone (one proposal) and read its traffic by operand from the layer row
    (`LayerRow`: weights, inputs, partial sums and outputs, SRAM and DRAM), checked to add up to the
    engine's totals."""
    from accelsim.sim.frame import simulate_frame
    from accelsim.sim.mac_array import mac_array_cycles

    frame = simulate_frame([layer], accel, 1)
    row = frame.layers.iloc[0]
    assert float(row["conflict_cycles"]) == 0, "the matched configs must have no bank conflicts (rows_used = rows)"
    ops = ("weights", "inputs", "psums", "outputs")
    for level, way in (("sram", "read"), ("sram", "write"), ("dram", "read"), ("dram", "write")):
        parts = sum(float(row[f"{op}_{level}_{way}_bytes"]) for op in ops)
        total = float(row[f"{level}_{way}_bytes"]) if level == "sram" else None
        if total is not None:
            assert math.isclose(parts, total, rel_tol=1e-9), (layer.name, level, way, parts, total)
    b, acc = accel.act_bytes, accel.accumulator_bytes
    cold = frame.figures.cold_frame_extra_dram_read_bytes
    one_chunk = mac_array_cycles(accel.rows, accel.cols, accel.dataflow, layer.out_pixels, layer.fan_in, layer.out_units,
                                 layer.groups, overlap=accel.overlap_stationary).cycles
    psum_writes = float(row["psums_sram_write_bytes"])
    return AccelCounts(
        cycles=float(row["cycles"]), mac_cycles=float(row["mac_cycles"]), one_chunk_cycles=int(one_chunk),
        chunks=int(row["activation_chunks"]), weight_tiles=int(row["weight_tiles"]), order=str(row["loop_order"]),
        pinned=bool(row["pinned"]),
        sram_ifmap_reads=float(row["inputs_sram_read_bytes"]), sram_filter_reads=float(row["weights_sram_read_bytes"]),
        sram_psum_reads=float(row["psums_sram_read_bytes"]),
        sram_ofmap_writes=float(row["outputs_sram_write_bytes"]) / b + psum_writes / acc,
        sram_ofmap_write_bytes=float(row["outputs_sram_write_bytes"]) + psum_writes,
        sram_ofmap_to_dram_reads=float(row["outputs_sram_read_bytes"]),
        sram_fill_writes=float(row["weights_sram_write_bytes"]) + float(row["inputs_sram_write_bytes"]),
        dram_ifmap_reads=float(row["inputs_dram_read_bytes"]),
        dram_filter_reads=float(row["weights_dram_read_bytes"]) + (cold if bool(row["pinned"]) else 0.0),
        dram_ofmap_writes=float(row["outputs_dram_write_bytes"]) + float(row["psums_dram_write_bytes"]),
        engine_dram_read_bytes=float(row["dram_read_bytes"]) + cold,
        conflict_cycles=float(row["conflict_cycles"]),
        extra={"input_mode": str(row["input_mode"]), "chunk_vectors": int(row["chunk_vectors"]),
               "psum_spill_bytes": float(row["psum_spill_bytes"]), "rows_used": int(row["rows_used"])},
    )


def accelsim_design(design: Design) -> dict[str, AccelCounts] | None:
    """Every layer of ``design``'s workload alone in accelsim, or None where accelsim cannot run the
    design yet (``accelsim_unsupported``)."""
    if accelsim_unsupported(design):
        return None
    accel = accelerator(design)
    workload = dense_workload(design.workload)
    check_shapes(workload, design.layers, design.workload)
    by_name = {l.name: l for l in workload}
    return {p.name: accelsim_layer(by_name[p.name], accel) for p in design.layers}


def accelsim_network(design: Design) -> dict | None:
    """The whole dense network as one accelsim design point (pooling and normalisation included,
    activations kept on chip where they fit): per-layer cycles and the frame summary."""
    from accelsim.sim.frame import simulate_frame

    if accelsim_unsupported(design):
        return None
    result = simulate_frame(list(dense_workload(design.workload)), accelerator(design), 1)
    t = result.layers.set_index("layer")
    return {"cycles": {n: float(t.loc[n, "cycles"]) for n in t.index}, "summary": result.figures.flat()}


# --- comparison ----------------------------------------------------------------------------------

def ratio(a: float, b: float) -> float:
    """accelsim / SCALE-Sim (nan when SCALE-Sim's figure is 0)."""
    return a / b if b else float("nan")


def pct(a: float, b: float) -> str:
    r = ratio(a, b)
    if math.isnan(r):
        return "n/a"
    d = (r - 1) * 100
    flag = " ⚠" if abs(r - 1) > TOLERANCE + 1e-12 else ""
    return f"{d:+.1f}%{flag}"


def fmt(x: float) -> str:
    return f"{x:,.0f}"


NOT_YET = "not yet"  # accelsim's cell for a design its config does not accept yet (input-stationary)


@dataclass
class LayerComparison:
    design: str
    layer: str
    peer: PeerCounts
    accel: AccelCounts | None  # None: accelsim cannot run this design yet
    formula: int

    @property
    def quantities(self) -> list[tuple[str, float, float | None]]:
        """(name, SCALE-Sim, accelsim) pairs, in the order of the tables; accelsim's is None where it
        cannot run the design yet."""
        p, a = self.peer, self.accel
        pairs = [
            ("compute cycles", p.compute_cycles, "mac_cycles"),
            ("total cycles", p.total_cycles, "cycles"),
            ("SRAM ifmap reads", p.sram_ifmap_reads, "sram_ifmap_reads"),
            ("SRAM filter reads", p.sram_filter_reads, "sram_filter_reads"),
            ("SRAM ofmap writes", p.sram_ofmap_writes, "sram_ofmap_writes"),
            ("DRAM ifmap reads", p.dram_ifmap_reads, "dram_ifmap_reads"),
            ("DRAM filter reads", p.dram_filter_reads, "dram_filter_reads"),
            ("DRAM ofmap writes", p.dram_ofmap_writes, "dram_ofmap_writes"),
        ]
        return [(name, peer, getattr(a, attr) if a is not None else None) for name, peer, attr in pairs]


def compare(designs=DESIGNS, cache: Path = CACHE, accel: dict | None = None) -> list[LayerComparison]:
    """Every cached (design, layer) of ``designs`` against accelsim (``accel``: accelsim_design results
    by design name, precomputed)."""
    out = []
    for d in designs:
        a = accel[d.name] if accel is not None else None
        loaded = accel is not None
        for layer in d.layers:
            peer = read_peer(d.name, layer.name, cache)
            if peer is None:
                continue
            if not loaded:
                a, loaded = accelsim_design(d), True
            out.append(LayerComparison(d.name, layer.name, peer, a[layer.name] if a is not None else None,
                                       scalesim_formula_cycles(layer, d)))
    return out


# --- tables --------------------------------------------------------------------------------------

def layer_table(rows: list[LayerComparison], design: str) -> str:
    rs = [r for r in rows if r.design == design]
    if not rs:
        return f"*{design}: no cached SCALE-Sim reports yet.*\n"
    head = ("| layer | quantity | SCALE-Sim | accelsim | accelsim vs SCALE-Sim |\n"
            "|---|---|---:|---:|---:|\n")
    body = []
    for r in rs:
        for i, (name, p, a) in enumerate(r.quantities):
            if a is None:
                cells = f"{NOT_YET} | –"
            elif math.isnan(a):
                cells = "n/a | –"
            else:
                cells = f"{fmt(a)} | {pct(a, p)}"
            body.append(f"| {r.layer if i == 0 else ''} | {name} | {fmt(p)} | {cells} |")
    return head + "\n".join(body) + "\n"


def cycles_table(rows: list[LayerComparison], design: str) -> str:
    """The chain from SCALE-Sim's compute cycles to accelsim's, one modelling step at a time:
    SCALE-Sim's own formula; accelsim's array formula for the whole layer in one pass (skew of the
    rows and columns a fold uses, OS drain); then cut into its activation chunks, which is accelsim's
    MAC-cycle figure. Weight tiles (their count shown) add no array cycles: each is a piece of the
    stream in the array's order (accelsim/sim/mapping.py, WeightTiles)."""
    rs = [r for r in rows if r.design == design]
    if not rs:
        return ""
    head = ("| layer | SCALE-Sim compute | SCALE-Sim formula − 1 | accelsim one pass | step | weight tiles | "
            "+ chunks (count) = accelsim MAC cycles | step | accelsim vs SCALE-Sim |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    body = []
    for r in rs:
        a = r.accel
        if a is None:
            body.append(f"| {r.layer} | {fmt(r.peer.compute_cycles)} | {fmt(r.formula)} | {NOT_YET} | – | – | "
                        f"{NOT_YET} | – | – |")
            continue
        body.append(f"| {r.layer} | {fmt(r.peer.compute_cycles)} | {fmt(r.formula)} | {fmt(a.one_chunk_cycles)} | "
                    f"{_step(a.one_chunk_cycles, r.peer.compute_cycles)} | {a.weight_tiles} | "
                    f"{fmt(a.mac_cycles)} ({a.chunks}) | {_step(a.mac_cycles, a.one_chunk_cycles)} | "
                    f"{pct(a.mac_cycles, r.peer.compute_cycles)} |")
    return head + "\n".join(body) + "\n"


def _step(a: float, b: float) -> str:
    return pct(a, b).replace(" ⚠", "")


def peer_table(rows: list[LayerComparison], designs: list[Design]) -> str:
    """SCALE-Sim's compute cycles per layer and design point (Total Cycles − Stall Cycles, whole layer),
    one column per design point; every cached figure equals SCALE-Sim's fold formula (asserted)."""
    have = {(r.design, r.layer): r for r in rows}
    names = [l.name for l in designs[0].layers]
    lines = ["| layer | " + " | ".join(d.name for d in designs) + " |",
             "|---|" + "---:|" * len(designs)]
    for n in names:
        cells = []
        for d in designs:
            r = have.get((d.name, n))
            if r is None:
                cells.append("–")
            else:
                assert r.peer.compute_cycles == r.formula, (d.name, n, r.peer.compute_cycles, r.formula)
                cells.append(fmt(r.peer.compute_cycles))
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    total = len(designs) * len(names)
    cached = sum(1 for d in designs for n in names if (d.name, n) in have)
    lines += ["", f"{cached} of {total} runs cached" + (" (–: not run yet)." if cached < total else ".")]
    return "\n".join(lines) + "\n"


def sram_pairs() -> list[tuple[Design, Design, str]]:
    """(design, design, layer) run by SCALE-Sim with the same array, dataflow and topology row but
    different SRAM sizes: conv1, conv3, fc6 and fc7 of a grouped point against its 64/64/32 KiB
    ``227-`` twin, and every layer of a ``227-`` point against its ``227-emb-`` twin."""
    out = []
    for i, a in enumerate(ALL_DESIGNS):
        for b in ALL_DESIGNS[i + 1:]:
            if (a.rows, a.cols, a.dataflow) != (b.rows, b.cols, b.dataflow) or a.sram_kib == b.sram_kib:
                continue
            out += [(a, b, la.name) for la in a.layers if la == b.layer(la.name)]
    return out


SRAM_EQUAL = ("Total Cycles", "Stall Cycles", "SRAM IFMAP Reads", "SRAM Filter Reads", "SRAM OFMAP Writes")


def sram_table(cache: Path = CACHE) -> str:
    """Evidence that SCALE-Sim's compute cycles do not depend on the SRAM sizes: every cached pair of
    ``sram_pairs``, with its compute cycles and whether Total Cycles, Stall Cycles and the SRAM counts
    are equal (the DRAM schedule and "Total Cycles (incl. prefetch)" may differ)."""
    lines = ["| layer | design point (SRAM kB) | compute cycles | design point (SRAM kB) | compute cycles | "
             "Total, Stall Cycles and SRAM counts equal | DRAM counts equal |",
             "|---|---|---:|---|---:|---|---|"]
    n = 0
    for a, b, layer in sram_pairs():
        fa, fb = cache / a.name / layer, cache / b.name / layer
        if not ((fa / "run.json").is_file() and (fb / "run.json").is_file()):
            continue
        ra = {**_report_row(fa / "COMPUTE_REPORT.csv"), **_report_row(fa / "DETAILED_ACCESS_REPORT.csv")}
        rb = {**_report_row(fb / "COMPUTE_REPORT.csv"), **_report_row(fb / "DETAILED_ACCESS_REPORT.csv")}
        ca, cb = ra["Total Cycles"] - ra["Stall Cycles"], rb["Total Cycles"] - rb["Stall Cycles"]
        same = all(ra[k] == rb[k] for k in SRAM_EQUAL)
        dram = all(ra[k] == rb[k] for k in ("DRAM IFMAP Reads", "DRAM Filter Reads", "DRAM OFMAP Writes"))
        lines.append(f"| {layer} | {a.name} ({'/'.join(map(str, a.sram_kib))}) | {fmt(ca)} | {b.name} "
                     f"({'/'.join(map(str, b.sram_kib))}) | {fmt(cb)} | {'yes' if same else '**no**'} | "
                     f"{'yes' if dram else 'no'} |")
        n += 1
    if not n:
        return "*No layer cached at two SRAM sizes yet.*\n"
    return "\n".join(lines) + "\n"


def totals(rows: list[LayerComparison], designs: list[Design] = DESIGNS) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for d in designs:
        rs = [r for r in rows if r.design == d.name]
        names = [r.layer for r in rs]
        runs = all(r.accel is not None for r in rs)
        out[d.name] = {
            "layers": names,
            "complete": len(rs) == len(d.layers),
            "conv_complete": all(f"conv{i}" in names for i in range(1, 6)),
            "peer_total": sum(r.peer.total_cycles for r in rs),
            "accel_total": sum(r.accel.cycles for r in rs) if runs else None,
            "peer_conv": sum(r.peer.total_cycles for r in rs if r.layer.startswith("conv")),
            "accel_conv": sum(r.accel.cycles for r in rs if r.layer.startswith("conv")) if runs else None,
            "peer_compute": sum(r.peer.compute_cycles for r in rs),
            "accel_compute": sum(r.accel.mac_cycles for r in rs) if runs else None,
        }
    return out


def _ranks(values: dict[str, float]) -> dict[str, int]:
    order = sorted(values, key=lambda k: values[k])
    return {k: order.index(k) + 1 for k in values}


def trend_table(rows: list[LayerComparison], layers: list[str], network: dict[str, float | None] | None = None,
                designs: list[Design] = DESIGNS) -> tuple[str, bool | None]:
    """Rank of total cycles over ``layers`` across the design points that have SCALE-Sim reports for all
    of them: SCALE-Sim, accelsim (layers alone), accelsim's array model with each layer in one pass and,
    given ``network``, accelsim's whole network (every layer, activations on chip where they fit).
    Design points accelsim cannot run yet are ranked by SCALE-Sim alone; accelsim's order is compared
    with SCALE-Sim's over the points both tools run."""
    have = [d.name for d in designs if all(any(r.design == d.name and r.layer == l for r in rows) for l in layers)]
    if len(have) < 2:
        missing = [d.name for d in designs if d.name not in have]
        return f"*Not enough design points with SCALE-Sim reports for {', '.join(layers)} yet (missing: " \
               f"{', '.join(missing)}).*\n", None
    sums, both = {}, []
    for d in have:
        rs = [r for r in rows if r.design == d and r.layer in layers]
        peer = sum(r.peer.total_cycles for r in rs)
        if all(r.accel is not None for r in rs):
            sums[d] = (peer, sum(r.accel.cycles for r in rs), sum(r.accel.one_chunk_cycles for r in rs))
            both.append(d)
        else:
            sums[d] = (peer, None, None)
    pr_all = _ranks({d: s[0] for d, s in sums.items()})
    pr = _ranks({d: sums[d][0] for d in both})  # SCALE-Sim's ranks among the points accelsim runs
    ar = _ranks({d: sums[d][1] for d in both})
    orr = _ranks({d: sums[d][2] for d in both})
    network = {d: v for d, v in (network or {}).items() if v is not None}
    nr = _ranks({d: network[d] for d in both}) if network and both and all(d in network for d in both) else None
    agree = all(pr[d] == ar[d] for d in both) if len(both) >= 2 else None
    partial = len(both) < len(have)
    lines = ["| design point | SCALE-Sim total cycles | rank | accelsim total cycles, same layers alone | rank | "
             "accelsim vs SCALE-Sim | accelsim array model, one pass per layer | rank |"
             + (" accelsim whole network cycles | rank |" if nr else ""),
             "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if nr else "")]
    for d in sorted(have, key=lambda k: pr_all[k]):
        p, a, o = sums[d]
        rank = f"{pr_all[d]} ({pr[d]})" if partial and d in pr else f"{pr_all[d]}"
        if a is None:
            lines.append(f"| {d} | {fmt(p)} | {rank} | {NOT_YET} | – | – | {NOT_YET} | – |" + (" – | – |" if nr else ""))
            continue
        extra = f" {fmt(network[d])} | {nr[d]} |" if nr else ""
        lines.append(f"| {d} | {fmt(p)} | {rank} | {fmt(a)} | {ar[d]} | {pct(a, p)} | {fmt(o)} | {orr[d]} |{extra}")

    def verdict(name, ranks):
        same = all(pr[d] == ranks[d] for d in both)
        return f"{name} **{'identical to' if same else 'differs from'}** SCALE-Sim's"

    missing = [d.name for d in designs if d.name not in have]
    notyet = [d for d in have if d not in both]
    head = f"Rank order over {len(both)} design points" + (f" ({', '.join(missing)} not cached yet)" if missing else "")
    if notyet:
        head += (f"; {', '.join(notyet)} ranked by SCALE-Sim alone (accelsim: {NOT_YET}), SCALE-Sim's rank among "
                 f"the points accelsim runs in brackets")
    if len(both) >= 2:
        verdicts = [verdict("accelsim (layers alone)", ar), verdict("accelsim's array model", orr)] \
            + ([verdict("accelsim's whole network", nr)] if nr else [])
        lines += ["", head + ": " + "; ".join(verdicts) + "."]
    else:
        lines += ["", head + "."]
    text = "\n".join(lines) + "\n"
    if designs is DESIGNS:  # the grouped workload's tables keep their wording: its network is the detector
        text = text.replace("whole network", "whole detector")
    return text, agree


def summary_table(rows: list[LayerComparison], designs: list[Design] = DESIGNS, all_layers: bool = False) -> str:
    """Per design point: compute-cycle differences of the conv layers (``all_layers``: of every conv and
    fc layer) against the ±10% target, for accelsim's MAC cycles and for its array model with the
    whole layer in one pass (no activation chunks), which isolates the array timing from accelsim's
    tiling choices."""
    span = "conv1 … fc8" if all_layers else "conv1 … conv5"
    lines = [f"| design point | layers cached | {span} compute cycles, accelsim vs SCALE-Sim | within ±10% | "
             "accelsim array model, one pass, vs SCALE-Sim | within ±10% |",
             "|---|---|---|---|---|---|"]
    for d in designs:
        rs = [r for r in rows if r.design == d.name]
        shown = [r for r in rs if all_layers or r.layer.startswith("conv")]
        cached = f"{len(rs)} of {len(d.layers)}"
        if all_layers and 0 < len(rs) < len(d.layers):
            cached += " (" + ", ".join(r.layer for r in rs) + ")"
        if not shown:
            lines.append(f"| {d.name} | {cached} | – | – | – | – |")
            continue
        if any(r.accel is None for r in shown):
            lines.append(f"| {d.name} | {cached} | accelsim: {NOT_YET} | – | accelsim: {NOT_YET} | – |")
            continue

        def cells(attr):
            vals = [(getattr(r.accel, attr), r.peer.compute_cycles) for r in shown]
            diffs = ", ".join(pct(a, p).replace(" ⚠", "") for a, p in vals) or "–"
            ok = sum(abs(ratio(a, p) - 1) <= TOLERANCE + 1e-12 for a, p in vals)
            return f"{diffs} | {ok} of {len(shown)}"

        lines.append(f"| {d.name} | {cached} | {cells('mac_cycles')} | {cells('one_chunk_cycles')} |")
    return "\n".join(lines) + "\n"


# --- the document --------------------------------------------------------------------------------

def replace_block(text: str, key: str, content: str) -> str:
    begin, end = f"<!-- scalesim:{key}:begin -->", f"<!-- scalesim:{key}:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{DOC}: markers {begin} ... {end} not found; add them to the section first")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{begin}\n{content.rstrip()}\n{end}", text, count=1)


# Design groups in the doc: the grouped DeepPed workload keeps its block names (summary, trend,
# layers-<design>, cycles-<design>); the alexnet-227 groups prefix theirs ("227-summary", ...).
GROUPS = {"": DESIGNS, "227-": DESIGNS_227, "227-emb-": DESIGNS_227_EMB}


def blocks(rows: list[LayerComparison], network: dict[str, float | None] | None = None) -> dict[str, str]:
    out = {}
    for prefix, designs in GROUPS.items():
        names = [l.name for l in designs[0].layers]
        conv, _ = trend_table(rows, [n for n in names if n.startswith("conv")], None, designs)
        every, _ = trend_table(rows, names, network, designs)
        out[f"{prefix}summary"] = summary_table(rows, designs, all_layers=bool(prefix))
        out[f"{prefix}trend"] = "**conv1–conv5:**\n\n" + conv + "\n**All eight layers (conv1–fc8):**\n\n" + every
        if prefix:
            out[f"{prefix}peer"] = peer_table(rows, designs)
        for d in designs:
            out[f"layers-{d.name}"] = layer_table(rows, d.name)
            out[f"cycles-{d.name}"] = cycles_table(rows, d.name) or f"*{d.name}: no cached SCALE-Sim reports yet.*\n"
    out["227-sram"] = sram_table()
    return out


def write_doc(rows: list[LayerComparison], network: dict[str, float] | None = None, doc: Path = DOC) -> None:
    text = doc.read_text()
    for key, content in blocks(rows, network).items():
        if f"<!-- scalesim:{key}:begin -->" in text:
            text = replace_block(text, key, content)
    doc.write_text(text)


def network_cycles(design: Design) -> float | None:
    """accelsim's cycles for the whole network of ``design``'s workload, or None (not yet supported)."""
    net = accelsim_network(design)
    return None if net is None else net["summary"]["latency_per_frame_ms"] * 1e6 / accelerator(design).cycle_ns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rerun-peer", action="store_true", help="run SCALE-Sim for layers missing from the cache")
    parser.add_argument("--force-peer", action="store_true", help="with --rerun-peer: rerun every layer")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/validation.md")
    args = parser.parse_args(argv)
    if args.rerun_peer:
        import peer

        if peer.main(["--force"] if args.force_peer else []) != 0:
            print("some SCALE-Sim runs failed; comparing what is cached", file=sys.stderr)
    rows = compare(ALL_DESIGNS)
    cached = {r.design for r in rows}
    network = {d.name: network_cycles(d) for d in ALL_DESIGNS if d.name in cached}
    for key, content in blocks(rows, network).items():
        print(f"## {key}\n{content}")
    if not args.no_write:
        write_doc(rows, network)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
