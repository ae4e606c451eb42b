"""The SCALE-Sim cross-check's cached peer outputs parse, and the tables in docs/validation.md show
ratios computed from the numbers they print. Fast: no SCALE-Sim, no accelsim simulation."""

from __future__ import annotations

import csv
import math
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "validation" / "scalesim"))

import compare  # noqa: E402
from designs import (ALL_DESIGNS, CACHE, DESIGN_BY_NAME, DESIGNS, DESIGNS_227, LAYER_BY_NAME, LAYERS,  # noqa: E402
                     LAYERS_227, PeerLayer)

CACHED = sorted((p.parent.parent.name, p.parent.name) for p in CACHE.glob("*/*/DETAILED_ACCESS_REPORT.csv"))


def _raw(design: str, layer: str, report: str) -> dict[str, str]:
    with (CACHE / design / layer / report).open() as f:
        rows = list(csv.reader(f))
    return {h.strip(): v.strip() for h, v in zip(rows[0], rows[1]) if h.strip()}


def test_cache_has_the_matched_points():
    assert ("32x32-ws", "conv1") in CACHED and ("32x32-os", "conv1") in CACHED


@pytest.mark.parametrize("design,layer", CACHED)
def test_cached_reports_parse(design, layer):
    p = compare.read_peer(design, layer)
    d = DESIGN_BY_NAME[design]
    assert p is not None and p.groups == d.layer(layer).groups
    for name in ("total_cycles", "sram_ifmap_reads", "sram_filter_reads", "sram_ofmap_writes", "dram_ifmap_reads",
                 "dram_filter_reads", "dram_ofmap_writes"):
        assert getattr(p, name) > 0, name
    assert 0 <= p.stall_cycles <= p.total_cycles
    # SCALE-Sim's compute cycles are exactly its own fold formula (its demand matrices' rows - 1):
    assert p.compute_cycles == compare.scalesim_formula_cycles(d.layer(layer), d)
    run = (CACHE / design / layer / "run.json").read_text()
    assert '"version": "scalesim 3.0.0' in run and '"peak_rss_bytes"' in run
    # the run used this design's cfg (array, dataflow, SRAM sizes) and its workload's topology
    assert f"inputs/{design}.cfg" in run and (f"topology-227-{layer}.csv" in run) == (d.workload == "alexnet-227")


@pytest.mark.skipif(("32x32-ws", "conv1") not in CACHED, reason="32x32-ws conv1 not cached")
def test_conv1_ws_by_hand():
    """conv1: 227x227x3 input, 96 filters 11x11 stride 4 -> 55x55 = 3025 pixels, window 363.
    WS on 32x32: ceil(363/32) = 12 row folds x ceil(96/32) = 3 column folds, each 2*32 + 32 + 3025 - 2 rows."""
    raw = _raw("32x32-ws", "conv1", "COMPUTE_REPORT.csv")
    assert int(raw["Total Cycles"]) - int(raw["Stall Cycles"]) == 36 * (64 + 32 + 3025 - 2) - 1 == 112_283
    det = _raw("32x32-ws", "conv1", "DETAILED_ACCESS_REPORT.csv")
    assert int(det["SRAM IFMAP Reads"]) == 3025 * 363 * 3  # the im2col matrix once per column fold
    assert int(det["SRAM Filter Reads"]) == 363 * 96  # each weight once
    assert int(det["SRAM OFMAP Writes"]) == 3025 * 96 * 12  # a partial sum per row fold
    assert int(det["DRAM Filter Reads"]) == 363 * 96


@pytest.mark.skipif(("32x32-ws", "conv2") not in CACHED, reason="32x32-ws conv2 not cached")
def test_grouped_layer_counts_twice():
    raw = _raw("32x32-ws", "conv2", "DETAILED_ACCESS_REPORT.csv")
    p = compare.read_peer("32x32-ws", "conv2")
    assert p.sram_filter_reads == 2 * int(raw["SRAM Filter Reads"]) == 5 * 5 * 48 * 256
    assert p.dram_ofmap_writes == 2 * int(raw["DRAM OFMAP Writes"])


@pytest.mark.skipif(("32x32-os", "conv1") not in CACHED, reason="32x32-os conv1 not cached")
def test_conv1_os_by_hand():
    """OS on 32x32: ceil(3025/32) = 95 row folds x 3 column folds, each 363 + 32 + 32 - 2 rows; SCALE-Sim
    adds R + C = 64 to its SRAM ofmap write count per fold (compute/systolic_compute_os.py)."""
    raw = _raw("32x32-os", "conv1", "COMPUTE_REPORT.csv")
    assert int(raw["Total Cycles"]) - int(raw["Stall Cycles"]) == 285 * (363 + 62) - 1
    det = _raw("32x32-os", "conv1", "DETAILED_ACCESS_REPORT.csv")
    assert int(det["SRAM OFMAP Writes"]) == 3025 * 96 + 285 * 64
    assert int(det["SRAM Filter Reads"]) == 363 * 96 * 95


@pytest.mark.skipif(not {("32x32-ws", "conv1"), ("227-32x32-ws", "conv1")} <= set(CACHED),
                    reason="conv1 at both SRAM sizes not cached")
def test_compute_cycles_do_not_depend_on_sram_sizes():
    """conv1 has the same topology row in both workloads: SCALE-Sim at 64/384/64 KiB and at 64/64/32 KiB
    gives the same compute cycles and SRAM counts (only prefetch and DRAM timing move)."""
    assert LAYER_BY_NAME["conv1"] == LAYERS_227[0]
    a, b = _raw("32x32-ws", "conv1", "COMPUTE_REPORT.csv"), _raw("227-32x32-ws", "conv1", "COMPUTE_REPORT.csv")
    assert a["Total Cycles"] == b["Total Cycles"] and a["Stall Cycles"] == b["Stall Cycles"] == "0"
    a, b = _raw("32x32-ws", "conv1", "DETAILED_ACCESS_REPORT.csv"), _raw("227-32x32-ws", "conv1", "DETAILED_ACCESS_REPORT.csv")
    for key in ("SRAM IFMAP Reads", "SRAM Filter Reads", "SRAM OFMAP Writes"):
        assert a[key] == b[key], key


def test_every_sram_pair_has_the_same_compute_cycles():
    """Wherever SCALE-Sim ran the same array, dataflow and topology row at two SRAM sizes, compute cycles,
    stall cycles and SRAM counts agree (compare.sram_pairs; the doc's table of them)."""
    pairs = [(a, b, l) for a, b, l in compare.sram_pairs() if (a.name, l) in CACHED and (b.name, l) in CACHED]
    for a, b, layer in pairs:
        ra = {**_raw(a.name, layer, "COMPUTE_REPORT.csv"), **_raw(a.name, layer, "DETAILED_ACCESS_REPORT.csv")}
        rb = {**_raw(b.name, layer, "COMPUTE_REPORT.csv"), **_raw(b.name, layer, "DETAILED_ACCESS_REPORT.csv")}
        for key in compare.SRAM_EQUAL:
            assert float(ra[key]) == float(rb[key]), (a.name, b.name, layer, key)
    assert ("conv1", "32x32-ws", "227-32x32-ws") in {(l, a.name, b.name) for a, b, l in compare.sram_pairs()}


@pytest.mark.skipif(("227-32x32-is", "conv1") not in CACHED, reason="227-32x32-is conv1 not cached")
def test_conv1_is_by_hand():
    """IS on 32x32: the im2col input (363 x 3025) stays in the array, ceil(363/32) = 12 row folds x
    ceil(3025/32) = 95 column folds, each 2*32 + 32 + 96 - 2 rows (the 96 filters stream through)."""
    raw = _raw("227-32x32-is", "conv1", "COMPUTE_REPORT.csv")
    assert int(raw["Total Cycles"]) - int(raw["Stall Cycles"]) == 12 * 95 * (64 + 32 + 96 - 2) - 1 == 216_599
    det = _raw("227-32x32-is", "conv1", "DETAILED_ACCESS_REPORT.csv")
    assert int(det["SRAM IFMAP Reads"]) == 3025 * 363  # each im2col element once
    assert int(det["SRAM Filter Reads"]) == 363 * 96 * 95  # the filters once per column fold


def test_alexnet227_topology():
    """The ungrouped rows: no groups, the 1,000-class fc8, and the padded input sizes of the grouped rows."""
    assert [l.name for l in LAYERS_227] == [l.name for l in LAYERS]
    assert all(l.groups == 1 for l in LAYERS_227)
    for grouped, whole in zip(LAYERS, LAYERS_227):
        assert (grouped.ifmap_h, grouped.filt_h, grouped.stride, grouped.ofmap_px) == \
            (whole.ifmap_h, whole.filt_h, whole.stride, whole.ofmap_px)
        if grouped.name != "fc8":
            assert (whole.channels, whole.filters) == (grouped.channels * grouped.groups, grouped.filters * grouped.groups)
    assert LAYERS_227[-1].filters == 1000
    macs = sum(l.window * l.filters * l.ofmap_px for l in LAYERS_227)
    assert macs == 1_135_256_096
    assert {(d.rows, d.dataflow, d.sram_kib) for d in DESIGNS_227} == \
        {(a, df, (64, 64, 32)) for a in (16, 32) for df in ("ws", "os", "is")}
    cfg = DESIGN_BY_NAME["227-16x16-is"].cfg_path().read_text()
    assert "Dataflow = is" in cfg and "filtersramszkB = 64" in cfg and "ofmapsramszkB = 32" in cfg


def test_input_stationary_waits_for_accelsim():
    """IS rows show "not yet" for accelsim exactly while accelsim's config rejects input-stationary."""
    from accelsim.config import load_hwconfig
    from accelsim.errors import ConfigError

    d = DESIGN_BY_NAME["227-32x32-is"]
    try:
        load_hwconfig(compare.HWCONFIGS / f"{d.hw_name}.yaml")
        accepted = True
    except ConfigError:
        accepted = False
    assert (compare.accelsim_unsupported(d) is None) == accepted
    assert compare.accelsim_unsupported(DESIGN_BY_NAME["227-32x32-ws"]) is None


def test_peer_queue_order():
    import peer

    order = [t for t in peer.queue([d.name for d in ALL_DESIGNS], [l.name for l in LAYERS], force=True)
             if t[0].startswith("227-")]
    first = order[:36]  # conv layers and fc8 of the six 64/64/32 points
    assert {d for d, _ in first} == {d.name for d in DESIGNS_227} and all(l not in ("fc6", "fc7") for _, l in first)
    assert {t for t in order[36:40]} == {(f"227-{a}x{a}-is", l) for a in (32, 16) for l in ("fc6", "fc7")}


def test_formula_matches_topology_shapes():
    conv3 = PeerLayer("conv3", 15, 15, 3, 3, 256, 384, 1)
    assert conv3.ofmap_px == 169 and conv3.window == 2304
    assert compare.scalesim_formula_cycles(conv3, DESIGN_BY_NAME["32x32-ws"]) == 72 * 12 * (64 + 32 + 169 - 2) - 1


def _num(s: str) -> float:
    return float(s.replace(",", "").replace("−", "-"))


def _doc_layer_rows(design: str) -> list[tuple[str, str, float, float, str]]:
    text = compare.DOC.read_text()
    m = re.search(rf"<!-- scalesim:layers-{design}:begin -->(.*?)<!-- scalesim:layers-{design}:end -->", text, re.S)
    assert m, f"markers for {design} missing from docs/validation.md"
    out, layer = [], None
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[2] or not cells[2][0].isdigit():
            continue
        layer = cells[0] or layer
        accel = None if cells[3] in (compare.NOT_YET, "n/a") else _num(cells[3])
        out.append((layer, cells[1], _num(cells[2]), accel, cells[4]))
    return out


@pytest.mark.parametrize("design", [d.name for d in ALL_DESIGNS])
def test_doc_tables_show_cached_values_and_their_ratios(design):
    rows = _doc_layer_rows(design)
    cached = [l for d, l in CACHED if d == design]
    if not rows:
        pytest.skip(f"no {design} table in the doc yet")
    names = {"compute cycles": "compute_cycles", "total cycles": "total_cycles", "SRAM ifmap reads": "sram_ifmap_reads",
             "SRAM filter reads": "sram_filter_reads", "SRAM ofmap writes": "sram_ofmap_writes",
             "DRAM ifmap reads": "dram_ifmap_reads", "DRAM filter reads": "dram_filter_reads",
             "DRAM ofmap writes": "dram_ofmap_writes"}
    seen = set()
    for layer, quantity, peer, accel, shown in rows:
        assert layer in cached, f"{design} {layer} in the doc but not in the cache"
        assert peer == getattr(compare.read_peer(design, layer), names[quantity]), (layer, quantity)
        seen.add(layer)
        if accel is None:  # accelsim cannot run this design yet, or has no figure for the quantity
            assert shown == "–", (layer, quantity, shown)
            continue
        # the printed difference is accelsim / SCALE-Sim - 1 of the printed numbers (rounded to integers)
        d = float(shown.split("%")[0])
        assert math.isclose(d, (accel / peer - 1) * 100, abs_tol=0.051 + 100 / peer), (layer, quantity, shown)
        off = abs(accel / peer - 1)
        if abs(off - compare.TOLERANCE) > 1e-3:  # flagged exactly when beyond the tolerance
            assert ("⚠" in shown) == (off > compare.TOLERANCE), (layer, quantity, shown)
        seen.add(layer)
    assert seen == set(cached), f"doc shows {sorted(seen)}, cache has {sorted(cached)}: rerun compare.py"


def test_pct_and_ratio():
    assert compare.pct(110, 100) == "+10.0%"
    assert compare.pct(111, 100) == "+11.0% ⚠"
    assert compare.pct(50, 100) == "-50.0% ⚠"
    assert compare.pct(1, 0) == "n/a"


def test_trend_ranks():
    assert compare._ranks({"a": 3.0, "b": 1.0, "c": 2.0}) == {"b": 1, "c": 2, "a": 3}


def test_peer_and_accelsim_see_the_same_layers():
    """The SCALE-Sim topology rows describe accelsim's layer matrices (shapes only, no simulation)."""
    from accelsim.workload import Layer

    shapes = {"conv1": ((3, 227, 227), (96, 55, 55), (11, 11), 4, 1), "conv2": ((96, 27, 27), (256, 27, 27), (5, 5), 1, 2),
              "conv3": ((256, 13, 13), (384, 13, 13), (3, 3), 1, 1), "conv4": ((384, 13, 13), (384, 13, 13), (3, 3), 1, 2),
              "conv5": ((384, 13, 13), (256, 13, 13), (3, 3), 1, 2)}
    layers = [Layer(n, "conv", i, o, k, s, g) for n, (i, o, k, s, g) in shapes.items()]
    layers += [Layer("fc6", "fc", (256, 6, 6), (4096,)), Layer("fc7", "fc", (4096,), (4096,)),
               Layer("fc8", "fc", (4096,), (2,))]
    compare.check_shapes(layers)
    assert [l.name for l in LAYERS] == [l.name for l in layers]
