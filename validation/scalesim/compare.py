"""SCALE-Sim cross-check (docs/validation.md sections 1 and 5): dense AlexNet-227, layer by layer.

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
from designs import CACHE, DESIGNS, HWCONFIGS, LAYER_BY_NAME, LAYERS, Design, PeerLayer  # noqa: E402

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
    g = LAYER_BY_NAME[layer].groups
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
    every fold is ``2R + C + T - 2`` rows (WS) or ``R + C + T - 2`` rows (OS) of the whole R x C array,
    and the report's Total Cycles is the index of the last row (rows - 1). Whole layer (x groups)."""
    r, c = d.rows, d.cols
    if d.dataflow == "ws":
        sr, sc, t = layer.window, layer.filters, layer.ofmap_px
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


@lru_cache(maxsize=1)
def dense_workload():
    from accelsim.model import get_model
    from accelsim.workload import build_workload

    entry = get_model("deepped-alexnet")
    return tuple(build_workload(entry.build(None), entry.input_shape, None))


def check_shapes(workload=None) -> None:
    """SCALE-Sim's topology describes the same matrices as accelsim's workload."""
    workload = workload or dense_workload()
    by_name = {l.name: l for l in workload}
    for p in LAYERS:
        a = by_name[p.name]
        assert a.fan_in == p.window, (p.name, a.fan_in, p.window)
        assert a.out_units == p.filters * p.groups, (p.name, a.out_units, p.filters, p.groups)
        assert a.out_pixels == p.ofmap_px, (p.name, a.out_pixels, p.ofmap_px)
        assert a.groups == p.groups, (p.name, a.groups, p.groups)


def accelerator(design: Design):
    from accelsim.config import load_hwconfig
    from accelsim.sim.build import accelerator_from_config

    return accelerator_from_config(load_hwconfig(HWCONFIGS / f"{design.name}.yaml"))[0]


def accelsim_layer(layer, accel) -> AccelCounts:
    """Simulate ``layer`` alone (one proposal) and split its SRAM traffic by operand.

    The split applies accelsim's own formulas (accelsim/sim/mapping.py: column_passes,
    partial_sum_bytes, output_departures) to the tiling decision (plan_traffic) and is checked against
    the engine's total SRAM reads and writes."""
    from accelsim.sim.frame import plan_frame, simulate_frame
    from accelsim.sim.mac_array import mac_array_cycles
    from accelsim.sim.mapping import WeightStream, column_passes, output_departures, partial_sum_bytes, plan_traffic

    frame = simulate_frame([layer], accel, 1)
    row = frame.layers.iloc[0]
    streams = {layer.name: WeightStream.for_layer(layer, accel)}
    plan = plan_frame([layer], streams, accel, 1, {})
    m = plan.mappings[0][0]
    tr = plan_traffic(layer, streams[layer.name], accel, 1, pinned=m.pinned, stream_buffer_bytes=plan.stream_buffer_bytes,
                      input_on_chip=m.input_on_chip, output_on_chip=m.output_on_chip)
    assert float(row["conflict_cycles"]) == 0, "the matched configs must have no bank conflicts (rows_used = rows)"
    b = accel.act_bytes
    rows_used = accel.rows
    vectors = layer.out_pixels
    chunk_vectors = [vectors // tr.chunks + (1 if i < vectors % tr.chunks else 0) for i in range(tr.chunks)]
    wt = tr.tiles
    col_passes = column_passes(layer.out_units, accel.cols)
    departures = output_departures(wt, accel.dataflow, layer.fan_in, rows_used)
    weight_bytes = float(tr.tile_weight_bytes.sum())
    ifmap = vectors * layer.fan_in * col_passes * b
    psum_w, psum_r = partial_sum_bytes(vectors, wt.group_units, departures, b, accel.accumulator_bytes)
    if accel.dataflow == "ws":
        filt = weight_bytes * tr.weight_reads
    else:
        filt = weight_bytes * sum(math.ceil(v / rows_used) for v in chunk_vectors)
    out_dram = m.dram_write_bytes
    fills = m.dram_read_bytes
    reads = ifmap + psum_r + filt + out_dram
    writes = psum_w + fills
    assert math.isclose(reads, m.sram_read_bytes, rel_tol=1e-9), (layer.name, reads, m.sram_read_bytes)
    assert math.isclose(writes, m.sram_write_bytes, rel_tol=1e-9), (layer.name, writes, m.sram_write_bytes)
    cold = frame.figures.cold_frame_extra_dram_read_bytes
    one_chunk = mac_array_cycles(accel.rows, accel.cols, accel.dataflow, vectors, layer.fan_in, layer.out_units).cycles
    return AccelCounts(
        cycles=float(row["cycles"]), mac_cycles=float(row["mac_cycles"]), one_chunk_cycles=int(one_chunk),
        chunks=tr.chunks, weight_tiles=int(row["weight_tiles"]), order=str(row["loop_order"]), pinned=bool(m.pinned),
        sram_ifmap_reads=ifmap, sram_filter_reads=filt, sram_psum_reads=psum_r,
        sram_ofmap_writes=vectors * float((wt.group_units * departures).sum()), sram_ofmap_write_bytes=psum_w,
        sram_ofmap_to_dram_reads=out_dram, sram_fill_writes=fills,
        dram_ifmap_reads=m.dram_read_bytes - m.weight_dram_bytes,
        dram_filter_reads=m.weight_dram_bytes + (streams[layer.name].total_bytes if m.pinned else 0.0),
        dram_ofmap_writes=m.dram_write_bytes,
        engine_dram_read_bytes=float(row["dram_read_bytes"]) + cold,
        conflict_cycles=float(row["conflict_cycles"]),
        extra={"weight_bytes": weight_bytes, "departures": [int(d) for d in departures], "col_passes": col_passes,
               "chunk_vectors": chunk_vectors},
    )


def accelsim_design(design: Design) -> dict[str, AccelCounts]:
    accel = accelerator(design)
    workload = dense_workload()
    check_shapes(workload)
    by_name = {l.name: l for l in workload}
    return {p.name: accelsim_layer(by_name[p.name], accel) for p in LAYERS}


def accelsim_network(design: Design) -> dict:
    """The whole dense detector as one accelsim design point (pooling and normalisation included,
    activations kept on chip where they fit): per-layer cycles and the frame summary."""
    from accelsim.sim.frame import simulate_frame

    result = simulate_frame(list(dense_workload()), accelerator(design), 1)
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


@dataclass
class LayerComparison:
    design: str
    layer: str
    peer: PeerCounts
    accel: AccelCounts
    formula: int

    @property
    def quantities(self) -> list[tuple[str, float, float]]:
        """(name, SCALE-Sim, accelsim) pairs, in the order of the tables."""
        p, a = self.peer, self.accel
        return [
            ("compute cycles", p.compute_cycles, a.mac_cycles),
            ("total cycles", p.total_cycles, a.cycles),
            ("SRAM ifmap reads", p.sram_ifmap_reads, a.sram_ifmap_reads),
            ("SRAM filter reads", p.sram_filter_reads, a.sram_filter_reads),
            ("SRAM ofmap writes", p.sram_ofmap_writes, a.sram_ofmap_writes),
            ("DRAM ifmap reads", p.dram_ifmap_reads, a.dram_ifmap_reads),
            ("DRAM filter reads", p.dram_filter_reads, a.dram_filter_reads),
            ("DRAM ofmap writes", p.dram_ofmap_writes, a.dram_ofmap_writes),
        ]


def compare(designs=DESIGNS, cache: Path = CACHE, accel: dict | None = None) -> list[LayerComparison]:
    out = []
    for d in designs:
        a = accel[d.name] if accel is not None else None
        for layer in LAYERS:
            peer = read_peer(d.name, layer.name, cache)
            if peer is None:
                continue
            if a is None:
                a = accelsim_design(d)
            out.append(LayerComparison(d.name, layer.name, peer, a[layer.name], scalesim_formula_cycles(layer, d)))
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
            body.append(f"| {r.layer if i == 0 else ''} | {name} | {fmt(p)} | {fmt(a)} | {pct(a, p)} |")
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
        body.append(f"| {r.layer} | {fmt(r.peer.compute_cycles)} | {fmt(r.formula)} | {fmt(a.one_chunk_cycles)} | "
                    f"{_step(a.one_chunk_cycles, r.peer.compute_cycles)} | {a.weight_tiles} | "
                    f"{fmt(a.mac_cycles)} ({a.chunks}) | {_step(a.mac_cycles, a.one_chunk_cycles)} | "
                    f"{pct(a.mac_cycles, r.peer.compute_cycles)} |")
    return head + "\n".join(body) + "\n"


def _step(a: float, b: float) -> str:
    return pct(a, b).replace(" ⚠", "")


def totals(rows: list[LayerComparison]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for d in DESIGNS:
        rs = [r for r in rows if r.design == d.name]
        names = [r.layer for r in rs]
        out[d.name] = {
            "layers": names,
            "complete": len(rs) == len(LAYERS),
            "conv_complete": all(f"conv{i}" in names for i in range(1, 6)),
            "peer_total": sum(r.peer.total_cycles for r in rs),
            "accel_total": sum(r.accel.cycles for r in rs),
            "peer_conv": sum(r.peer.total_cycles for r in rs if r.layer.startswith("conv")),
            "accel_conv": sum(r.accel.cycles for r in rs if r.layer.startswith("conv")),
            "peer_compute": sum(r.peer.compute_cycles for r in rs),
            "accel_compute": sum(r.accel.mac_cycles for r in rs),
        }
    return out


def _ranks(values: dict[str, float]) -> dict[str, int]:
    order = sorted(values, key=lambda k: values[k])
    return {k: order.index(k) + 1 for k in values}


def trend_table(rows: list[LayerComparison], layers: list[str], network: dict[str, float] | None = None) -> tuple[str, bool | None]:
    """Rank of total cycles over ``layers`` across the design points that have SCALE-Sim reports for all
    of them: SCALE-Sim, accelsim (layers alone), accelsim's array model with each layer in one pass and,
    given ``network``, accelsim's whole detector (every layer, activations on chip where they fit)."""
    have = [d.name for d in DESIGNS if all(any(r.design == d.name and r.layer == l for r in rows) for l in layers)]
    if len(have) < 2:
        missing = [d.name for d in DESIGNS if d.name not in have]
        return f"*Not enough design points with SCALE-Sim reports for {', '.join(layers)} yet (missing: " \
               f"{', '.join(missing)}).*\n", None
    sums = {}
    for d in have:
        rs = [r for r in rows if r.design == d and r.layer in layers]
        sums[d] = (sum(r.peer.total_cycles for r in rs), sum(r.accel.cycles for r in rs),
                   sum(r.accel.one_chunk_cycles for r in rs))
    pr = _ranks({d: s[0] for d, s in sums.items()})
    ar = _ranks({d: s[1] for d, s in sums.items()})
    orr = _ranks({d: s[2] for d, s in sums.items()})
    nr = _ranks({d: network[d] for d in have}) if network else None
    agree = all(pr[d] == ar[d] for d in have)
    lines = ["| design point | SCALE-Sim total cycles | rank | accelsim total cycles, same layers alone | rank | "
             "accelsim vs SCALE-Sim | accelsim array model, one pass per layer | rank |"
             + (" accelsim whole detector cycles | rank |" if network else ""),
             "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if network else "")]
    for d in sorted(have, key=lambda k: pr[k]):
        p, a, o = sums[d]
        extra = f" {fmt(network[d])} | {nr[d]} |" if network else ""
        lines.append(f"| {d} | {fmt(p)} | {pr[d]} | {fmt(a)} | {ar[d]} | {pct(a, p)} | {fmt(o)} | {orr[d]} |{extra}")

    def verdict(name, ranks):
        same = all(pr[d] == ranks[d] for d in have)
        return f"{name} **{'identical to' if same else 'differs from'}** SCALE-Sim's"

    missing = [d.name for d in DESIGNS if d.name not in have]
    lines += ["", f"Rank order over {len(have)} design points"
              + (f" ({', '.join(missing)} not cached yet)" if missing else "") + ": "
              + "; ".join([verdict("accelsim (layers alone)", ar), verdict("accelsim's array model", orr)]
                          + ([verdict("accelsim's whole detector", nr)] if nr else [])) + "."]
    return "\n".join(lines) + "\n", agree


def summary_table(rows: list[LayerComparison]) -> str:
    """Per design point: compute-cycle differences of the conv layers against the ±10% target, for
    accelsim's MAC cycles and for its array model with the whole layer in one pass (no activation
    chunks), which isolates the array timing from accelsim's tiling choices."""
    lines = ["| design point | layers cached | conv1 … conv5 compute cycles, accelsim vs SCALE-Sim | within ±10% | "
             "accelsim array model, one pass, vs SCALE-Sim | within ±10% |",
             "|---|---|---|---|---|---|"]
    for d in DESIGNS:
        rs = [r for r in rows if r.design == d.name]
        conv = [r for r in rs if r.layer.startswith("conv")]

        def cells(attr):
            vals = [(getattr(r.accel, attr), r.peer.compute_cycles) for r in conv]
            diffs = ", ".join(pct(a, p).replace(" ⚠", "") for a, p in vals) or "–"
            ok = sum(abs(ratio(a, p) - 1) <= TOLERANCE + 1e-12 for a, p in vals)
            return f"{diffs} | {ok} of {len(conv)}"

        lines.append(f"| {d.name} | {len(rs)} of {len(LAYERS)} | {cells('mac_cycles')} | {cells('one_chunk_cycles')} |")
    return "\n".join(lines) + "\n"


# --- the document --------------------------------------------------------------------------------

def replace_block(text: str, key: str, content: str) -> str:
    begin, end = f"<!-- scalesim:{key}:begin -->", f"<!-- scalesim:{key}:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{DOC}: markers {begin} ... {end} not found; add them to the section first")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{begin}\n{content.rstrip()}\n{end}", text, count=1)


def blocks(rows: list[LayerComparison], network: dict[str, float] | None = None) -> dict[str, str]:
    conv, _ = trend_table(rows, [l.name for l in LAYERS if l.name.startswith("conv")])
    every, _ = trend_table(rows, [l.name for l in LAYERS], network)
    trend = "**conv1–conv5:**\n\n" + conv + "\n**All eight layers (conv1–fc8):**\n\n" + every
    out = {"summary": summary_table(rows), "trend": trend}
    for d in DESIGNS:
        out[f"layers-{d.name}"] = layer_table(rows, d.name)
        out[f"cycles-{d.name}"] = cycles_table(rows, d.name) or f"*{d.name}: no cached SCALE-Sim reports yet.*\n"
    return out


def write_doc(rows: list[LayerComparison], network: dict[str, float] | None = None, doc: Path = DOC) -> None:
    text = doc.read_text()
    for key, content in blocks(rows, network).items():
        if f"<!-- scalesim:{key}:begin -->" in text:
            text = replace_block(text, key, content)
    doc.write_text(text)


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
    rows = compare()
    network = {d.name: accelsim_network(d)["summary"]["latency_per_frame_ms"] * 1e6 / accelerator(d).cycle_ns
               for d in DESIGNS}
    for key, content in blocks(rows, network).items():
        print(f"## {key}\n{content}")
    if not args.no_write:
        write_doc(rows, network)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
