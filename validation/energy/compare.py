"""Energy cross-check: accelsim against ZigZag and nn-dataflow on one matched case.

    python validation/energy/compare.py                 # accelsim now, peers from cache/, update the doc
    python validation/energy/compare.py --no-doc        # print only
    python validation/energy/compare.py --rerun-peer    # rerun both peers first (one at a time, nice -n 10)
    python validation/energy/compare.py --rerun-peer zigzag
    python validation/energy/compare.py --workload alexnet-227   # the peers' own, ungrouped AlexNet

The matched case is defined once in ``matched.py`` (dense AlexNet-227, batch 1, 16x16 weight-stationary
array, 64/64/32 KiB input/weight/output SRAM, 8 B/cycle DRAM, the same unit costs everywhere), with
two workloads on the same hardware: ``deepped-alexnet`` (the default: the Caffe layout, groups of 2 on
conv2/4/5) and ``alexnet-227`` (every convolution in one group). accelsim runs it with
``matched-16x16-ws.yaml``, the unit costs of ``tech/matched-45nm.yaml`` and the plan ``dense-fixed8.yaml``
on a bias-free, 1000-class ``AlexNetClassifier`` (grouped; for ``alexnet-227`` the catalogue's model
``alexnet-227``, ungrouped; compression only quantizes to 8 bits: about 10 s). The peers run in their own environments (``run_zigzag.py``, ``run_nndf.py``);
their per-layer results are cached in ``cache/`` with their provenance, so this script reruns in
seconds. accelsim's own latest figures are written to ``cache/accelsim.json`` (what the doc shows).
Files of a workload other than the default carry its name (``cache/zigzag-alexnet-227.json``,
``cache/nndf-alexnet-227.json``, ``cache/accelsim-alexnet-227.json``), and its tables go between their own
markers in docs/validation.md (``energy-alexnet-227``; the default's are ``energy``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = HERE / "cache"
sys.path.insert(0, str(HERE))

import matched as M  # noqa: E402
from docblock import replace_block  # noqa: E402

PEERS = {
    "zigzag": {"label": "ZigZag", "python": "/work/venvs/zigzag/bin/python", "script": "run_zigzag.py",
               "cache": "zigzag{}.json"},
    "nndf": {"label": "nn-dataflow", "python": "/work/venvs/nndf/bin/python", "script": "run_nndf.py",
             "cache": "nndf{}.json"},
}
HW = HERE / "matched-16x16-ws.yaml"
PLAN = HERE / "dense-fixed8.yaml"
FIELDS = ["macs", "energy_total_pj", "energy_mac_pj", "energy_sram_pj", "energy_dram_pj", "dram_bytes", "cycles"]
TARGET_ENERGY, TARGET_DRAM = 0.10, 0.05  # the issue's targets


# --- accelsim ------------------------------------------------------------------------------------------

def doc_marker(workload: str = M.DEFAULT_WORKLOAD) -> str:
    """The docs/validation.md markers that hold ``workload``'s tables."""
    return "energy" + M.suffix(workload)


def command(workload: str = M.DEFAULT_WORKLOAD) -> str:
    suffix = M.suffix(workload)
    return "python validation/energy/compare.py" + (f" --workload {workload}" if suffix else "")


@functools.lru_cache(maxsize=None)
def matched_inputs(workload: str = M.DEFAULT_WORKLOAD):
    """(model description, layers, accelerator, table entries) of the matched case; built once per workload
    (the model is compressed to 8 bits) for the three simulations that use it."""
    from torch import nn

    from accelsim.compress import compress, load_plan
    from accelsim.config import load_hwconfig
    from accelsim.model.alexnet import AlexNetClassifier, init_gaussian_
    from accelsim.model.registry import get_model
    from accelsim.pipeline.accelerator import accelerator_from_config
    from accelsim.workload import build_workload

    M.layers(workload)
    if workload == "alexnet-227":
        model_desc, model = "alexnet-227 (the catalogue's model: ungrouped, 1000 classes, seed 0)", \
            get_model("alexnet-227").build()
        model_name = "alexnet-227-matched"
    else:
        model_desc = "AlexNetClassifier(num_classes=1000, input_size=227), Caffe layout, seed 0"
        model = init_gaussian_(AlexNetClassifier(num_classes=1000, input_size=227), 0)
        model_name = "alexnet227-1000-matched"
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.bias = None  # the peers model no biases
    cm = compress(model, load_plan(str(PLAN)), model_name=model_name)
    layers = build_workload(model, (3, 227, 227), cm)
    os.chdir(ROOT)  # the hwconfig names its energy table by a path from the repository root
    cfg = load_hwconfig(str(HW.relative_to(ROOT)))
    accel, entries = accelerator_from_config(cfg)
    return model_desc, layers, accel, entries


def run_accelsim(workload: str = M.DEFAULT_WORKLOAD) -> dict:
    """Simulate the matched case; per compared layer the same fields the peers' caches carry."""
    from accelsim.sim.frame import simulate_frame

    model_desc, layers, accel, entries = matched_inputs(workload)
    t0 = time.perf_counter()
    frame = simulate_frame(layers, accel, M.BATCH)
    wall = time.perf_counter() - t0
    rows, other = [], []
    for r in frame.layers.to_dict("records"):
        row = {
            "layer": r["layer"], "macs": int(r["macs"]), "energy_total_pj": float(r["energy_total_pj"]),
            "energy_mac_pj": float(r["energy_mac_pj"]), "energy_sram_pj": float(r["energy_sram_pj"]),
            "energy_dram_pj": float(r["energy_dram_pj"]),
            "energy_other_pj": float(r["energy_decoder_pj"] + r["energy_leakage_pj"] + r["energy_accumulator_pj"]),
            "dram_bytes": float(r["dram_read_bytes"] + r["dram_write_bytes"]),
            "dram_read_bytes": float(r["dram_read_bytes"]), "dram_write_bytes": float(r["dram_write_bytes"]),
            "sram_read_bytes": float(r["sram_read_bytes"]), "sram_write_bytes": float(r["sram_write_bytes"]),
            "cycles": float(r["cycles"]), "mac_cycles": float(r["mac_cycles"]), "dram_cycles": float(r["dram_cycles"]),
            "weight_tiles": int(r["weight_tiles"]), "loop_order": r["loop_order"], "bound": r["bound"],
        }
        (rows if r["layer"] in M.LAYERS else other).append(row)
    from accelsim import __version__

    return {
        "tool": "accelsim",
        "provenance": {"tool": f"accelsim {__version__}", "hwconfig": str(HW.relative_to(ROOT)),
                       "plan": str(PLAN.relative_to(ROOT)), "command": command(workload),
                       "workload": workload, "model": model_desc,
                       "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "simulation_wall_s": round(wall, 2)},
        "total_energy_pj": sum(r["energy_total_pj"] for r in rows),
        "total_cycles": sum(r["cycles"] for r in rows),
        "layers": rows,
        "not_compared": other,  # pooling and LRN: the peers' workloads leave them out
        # steady frame: the planner's pinned weights stay in the weight share across frames, so their DRAM
        # reads fall on the cold first frame only (the peers run one cold inference)
        "pinned_layers": list(frame.figures.pinned_layers),
        "cold_frame_extra_dram_read_bytes": float(frame.figures.cold_frame_extra_dram_read_bytes),
        "cold_frame_extra_energy_pj": float(frame.figures.cold_frame_extra_energy_uj) * 1e6,
        "entries": [{k: e[k] for k in ("figure", "key", "value", "unit", "source")} for e in entries],
    }


# --- peers --------------------------------------------------------------------------------------------

def cache_name(name: str, workload: str = M.DEFAULT_WORKLOAD) -> str:
    """The cached output of peer ``name`` (or ``accelsim``) on ``workload``: ``zigzag.json``,
    ``zigzag-alexnet-227.json``, ..."""
    pattern = "accelsim{}.json" if name == "accelsim" else PEERS[name]["cache"]
    return pattern.format(M.suffix(workload))


def load_peer(name: str, workload: str = M.DEFAULT_WORKLOAD) -> dict:
    data = json.loads((CACHE / cache_name(name, workload)).read_text())
    check_peer(data, workload)
    return data


def check_peer(data: dict, workload: str = M.DEFAULT_WORKLOAD) -> None:
    """A cached peer output must name its provenance, have run ``workload`` (outputs written before
    the workloads were selectable ran the default) and hold the eight compared layers with every field
    and the workload's MACs."""
    for key in ("tool", "command", "date", "wall_s"):
        if key not in data["provenance"]:
            raise ValueError(f"{data.get('peer')}: provenance lacks '{key}'")
    ran = data["provenance"].get("workload", M.DEFAULT_WORKLOAD)
    if ran != workload:
        raise ValueError(f"{data.get('peer')}: ran workload '{ran}', expected '{workload}'")
    names = [r["layer"] for r in data["layers"]]
    if names != list(M.LAYERS):
        raise ValueError(f"{data.get('peer')}: layers {names}, expected {list(M.LAYERS)}")
    for r in data["layers"]:
        missing = [f for f in FIELDS if f not in r]
        if missing:
            raise ValueError(f"{data.get('peer')}: layer {r['layer']} lacks {missing}")
        if r["macs"] != M.macs(r["layer"], workload):
            raise ValueError(f"{data.get('peer')}: layer {r['layer']} has {r['macs']} MACs, "
                             f"'{workload}' has {M.macs(r['layer'], workload)}")


def write_provenance() -> None:
    """cache/PROVENANCE.md: what produced each cached peer output (from the outputs themselves), for
    every workload whose outputs are cached."""
    lines = ["# Provenance of the cached peer outputs", "",
             "Written by `python validation/energy/compare.py` from the `provenance` block of each JSON file; "
             "rerun the peers with `python validation/energy/compare.py [--workload W] --rerun-peer`.", ""]
    for workload in M.WORKLOADS:
        for name in PEERS:
            path = CACHE / cache_name(name, workload)
            if not path.is_file():
                continue
            data = json.loads(path.read_text())
            p = data["provenance"]
            lines += [f"## {path.name}", "", f"- workload: {workload}", f"- tool: {p['tool']} (Python {p.get('python', '?')}, "
                      f"environment `{Path(PEERS[name]['python']).parents[1]}`)", f"- command: `{p['command']}`",
                      f"- call: `{p.get('api', '')}`", f"- date: {p['date']}", f"- wall time: {p['wall_s']} s on a "
                      "shared 2-core machine", ""]
            if "inputs" in p:
                lines.insert(len(lines) - 1, f"- generated inputs: {', '.join(f'`{i}`' for i in p['inputs'])}")
    (CACHE / "PROVENANCE.md").write_text("\n".join(lines))


def rerun_peer(name: str, workload: str = M.DEFAULT_WORKLOAD) -> None:
    peer = PEERS[name]
    cmd = ["nice", "-n", "10", peer["python"], str(HERE / peer["script"]), "--workload", workload]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def zigzag_rows(spatial_mapping: str) -> int:
    """Array rows a ZigZag mapping uses: the product of the factors it unrolls beside K (which takes the
    columns), read from its printed spatial mapping (``O: [[], [(K, 16.0), (FX, 11.0)], ...``)."""
    factors = re.findall(r"\((\w+), ([\d.]+)\)", spatial_mapping.split("O:", 1)[1].split("]]", 1)[0] + "]")
    return math.prod(int(float(n)) for dim, n in factors if dim != "K")


def on_zigzag_rows(workload: str, zigzag: dict) -> list[dict]:
    """accelsim on the rows ZigZag's spatial mapping uses, for every layer where that is fewer than the
    array has. ZigZag unrolls whole loop factors on the rows (conv1's fan-in 3 x 11 x 11 has no product of
    factors between 11 and 16, so it uses 11 rows); accelsim packs the flattened fan-in (im2col) on all 16.
    Giving accelsim ZigZag's rows isolates that one difference."""
    from dataclasses import replace

    from accelsim.sim.frame import simulate_frame

    _, layers, accel, _ = matched_inputs(workload)
    wanted = {r["layer"]: zigzag_rows(r["spatial_mapping"]) for r in zigzag["layers"]}
    out = []
    for rows in sorted({r for r in wanted.values() if r < accel.rows}):
        frame = simulate_frame(layers, replace(accel, rows=rows), M.BATCH).layers.set_index("layer")
        for name, r in wanted.items():
            if r == rows:
                out.append({"layer": name, "rows": rows, "energy_total_pj": float(frame.loc[name, "energy_total_pj"]),
                            "energy_sram_pj": float(frame.loc[name, "energy_sram_pj"])})
    return out


def nndf_storage_entries(nndf: dict) -> int:
    """nn-dataflow's free register files, as accelsim accumulator entries per column: the same bytes below
    the buffer (``regf_bytes`` in each of a column's PEs), in partial sums of the accumulator width."""
    return nndf["provenance"]["resource"]["regf_bytes"] * M.ARRAY_ROWS * 8 // M.ACC_BITS


def on_nndf_storage(workload: str, nndf: dict) -> dict:
    """accelsim with as much free storage below the SRAM as nn-dataflow's register files hold, as accumulator
    buffers (the one level of that kind a weight-stationary array has; nn-dataflow's row-stationary PEs keep
    filter rows, input windows and partial sums there). Per compared layer: energy, SRAM energy, DRAM bytes."""
    from dataclasses import replace

    from accelsim.sim.frame import simulate_frame

    _, layers, accel, _ = matched_inputs(workload)
    entries = nndf_storage_entries(nndf)
    frame = simulate_frame(layers, replace(accel, accumulator_entries=entries), M.BATCH).layers.set_index("layer")
    return {"entries": entries, "layers": [
        {"layer": name, "energy_total_pj": float(frame.loc[name, "energy_total_pj"]),
         "energy_sram_pj": float(frame.loc[name, "energy_sram_pj"]),
         "dram_bytes": float(frame.loc[name, "dram_read_bytes"] + frame.loc[name, "dram_write_bytes"])}
        for name in M.layers(workload)]}


# --- comparison ---------------------------------------------------------------------------------------

def ratio(a: float, b: float) -> float:
    """accelsim over peer, minus 1 (+0.05 = accelsim 5% higher)."""
    return a / b - 1 if b else float("nan")


def totals(tool: dict) -> dict:
    return {f: sum(r[f] for r in tool["layers"]) for f in FIELDS}


def compare(ours: dict, peers: dict[str, dict]) -> dict:
    """Per layer and in total: each tool's figures and accelsim's relative difference to each peer."""
    out = {"layers": [], "total": {}}
    by_layer = {name: {r["layer"]: r for r in p["layers"]} for name, p in peers.items()}
    for r in ours["layers"]:
        row = {"layer": r["layer"], "accelsim": {f: r[f] for f in FIELDS}}
        for name in peers:
            p = by_layer[name][r["layer"]]
            row[name] = {f: p[f] for f in FIELDS}
            row[f"vs_{name}"] = {f: ratio(r[f], p[f]) for f in FIELDS}
        out["layers"].append(row)
    t = totals(ours)
    out["total"]["accelsim"] = t
    for name, p in peers.items():
        pt = totals(p)
        out["total"][name] = pt
        out["total"][f"vs_{name}"] = {f: ratio(t[f], pt[f]) for f in FIELDS}
    return out


def reconcile(ours: dict) -> list[dict]:
    """accelsim's SRAM energy per layer recounted the way nn-dataflow counts, from accelsim's own counts.

    For the weight-stationary array accelsim's SRAM writes are the DRAM fills plus the partial sums
    (one write per output per row fold, 24-bit partial sums but the last, the 8-bit final output), and
    its reads include the spills to DRAM. ``nndf_accounting``: one access per byte moved between the
    buffer and the array at the buffer's read cost, fills and spills charged to DRAM only."""
    r_pj = M.SRAM_READ_PJ * 8 / M.SRAM_WORD_BITS  # per byte
    out = []
    for r in ours["layers"]:
        fills, spills = r["dram_read_bytes"], r["dram_write_bytes"]
        psum_writes = r["sram_write_bytes"] - fills
        out.append({
            "layer": r["layer"],
            "simulated_pj": r["energy_sram_pj"],
            "nndf_accounting_pj": (r["sram_read_bytes"] - spills + psum_writes) * r_pj,
        })
    return out


# --- tables ---------------------------------------------------------------------------------------------

def _uj(pj: float) -> str:
    return f"{pj / 1e6:,.1f}"


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def markdown(cmp: dict, ours: dict, peers: dict[str, dict]) -> str:
    names = list(peers)
    labels = {n: PEERS[n]["label"] for n in names}
    t = cmp["total"]
    lines = ["**Totals, conv1–fc8, one frame** (accelsim vs each peer: accelsim / peer − 1)", "",
             "| figure | accelsim | " + " | ".join(labels[n] for n in names) + " | "
             + " | ".join(f"vs {labels[n]}" for n in names) + " |",
             "|---|---:|" + "---:|" * (2 * len(names))]
    rows = [("energy, µJ", "energy_total_pj", _uj), ("  MAC, µJ", "energy_mac_pj", _uj),
            ("  SRAM, µJ", "energy_sram_pj", _uj), ("  DRAM, µJ", "energy_dram_pj", _uj),
            ("DRAM traffic, KiB", "dram_bytes", lambda b: f"{b / 1024:,.0f}"),
            ("cycles", "cycles", lambda c: f"{c:,.0f}"), ("MACs", "macs", lambda m: f"{m:,.0f}")]
    for label, f, fmt in rows:
        lines.append(f"| {label} | {fmt(t['accelsim'][f])} | " + " | ".join(fmt(t[n][f]) for n in names) + " | "
                     + " | ".join(_pct(t[f'vs_{n}'][f]) for n in names) + " |")
    lines += ["", f"Targets: total energy within ±{TARGET_ENERGY:.0%}, DRAM bytes within ±{TARGET_DRAM:.0%}.", ""]

    def per_layer(title, f, fmt):
        out = [f"**{title}**", "", "| layer | accelsim | " + " | ".join(labels[n] for n in names) + " | "
               + " | ".join(f"vs {labels[n]}" for n in names) + " |", "|---|---:|" + "---:|" * (2 * len(names))]
        for row in cmp["layers"]:
            out.append(f"| {row['layer']} | {fmt(row['accelsim'][f])} | " + " | ".join(fmt(row[n][f]) for n in names)
                       + " | " + " | ".join(_pct(row[f'vs_{n}'][f]) for n in names) + " |")
        return out + [""]

    lines += per_layer("Energy per layer, µJ", "energy_total_pj", _uj)
    lines += per_layer("SRAM energy per layer, µJ", "energy_sram_pj", _uj)
    lines += per_layer("DRAM traffic per layer, KiB (reads + writes)", "dram_bytes", lambda b: f"{b / 1024:,.1f}")
    lines += per_layer("Cycles per layer", "cycles", lambda c: f"{c:,.0f}")
    rec = reconcile(ours)
    if set(names) == {"zigzag", "nndf"}:
        by = {n: {r["layer"]: r for r in peers[n]["layers"]} for n in names}
        lines += ["**SRAM energy recounted the way nn-dataflow counts it, µJ** (from accelsim's own access counts; "
                  "see the explanation below)", "",
                  "| layer | accelsim | ZigZag | accelsim, nn-dataflow's accounting | nn-dataflow |",
                  "|---|---:|---:|---:|---:|"]
        for r in rec:
            zz, nn = by["zigzag"][r["layer"]], by["nndf"][r["layer"]]
            lines.append(f"| {r['layer']} | {_uj(r['simulated_pj'])} | {_uj(zz['energy_sram_pj'])} | "
                         f"{_uj(r['nndf_accounting_pj'])} | {_uj(nn['energy_sram_pj'])} |")
        sums = {k: sum(r[k] for r in rec) for k in ("simulated_pj", "nndf_accounting_pj")}
        lines.append(f"| total | {_uj(sums['simulated_pj'])} | {_uj(t['zigzag']['energy_sram_pj'])} | "
                     f"{_uj(sums['nndf_accounting_pj'])} | {_uj(t['nndf']['energy_sram_pj'])} |")
        e_nn = t["accelsim"]["energy_total_pj"] - sums["simulated_pj"] + sums["nndf_accounting_pj"]
        lines += ["", f"Total energy with nn-dataflow's accounting: {_uj(e_nn)} µJ, "
                  f"{_pct(ratio(e_nn, t['nndf']['energy_total_pj']))} against nn-dataflow.", ""]
    if ours.get("on_zigzag_rows"):
        zz = {r["layer"]: r for r in peers["zigzag"]["layers"]}
        lines += ["**accelsim on ZigZag's spatial unrolling** (the rows ZigZag's mapping uses, where fewer than 16; "
                  "see below)", "",
                  "| layer | rows ZigZag unrolls | accelsim on those rows, µJ | ZigZag, µJ | vs ZigZag | "
                  "SRAM: accelsim, µJ | SRAM: ZigZag, µJ | vs ZigZag |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in ours["on_zigzag_rows"]:
            p = zz[r["layer"]]
            lines.append(f"| {r['layer']} | {r['rows']} | {_uj(r['energy_total_pj'])} | {_uj(p['energy_total_pj'])} | "
                         f"{_pct(ratio(r['energy_total_pj'], p['energy_total_pj']))} | {_uj(r['energy_sram_pj'])} | "
                         f"{_uj(p['energy_sram_pj'])} | {_pct(ratio(r['energy_sram_pj'], p['energy_sram_pj']))} |")
        lines.append("")
    if ours.get("on_nndf_storage"):
        st = ours["on_nndf_storage"]
        nn = {r["layer"]: r for r in peers["nndf"]["layers"]}
        regf = peers["nndf"]["provenance"]["resource"]["regf_bytes"]
        lines += [f"**accelsim with nn-dataflow's free storage below the buffer** ({regf} B of register file in each "
                  f"of a column's {M.ARRAY_ROWS} PEs = {st['entries']} free {M.ACC_BITS}-bit accumulator entries per "
                  "column; see below)", "",
                  "| layer | accelsim, µJ | nn-dataflow, µJ | vs nn-dataflow | SRAM: accelsim, µJ | SRAM: nn-dataflow, µJ "
                  "| DRAM: accelsim, KiB | DRAM: nn-dataflow, KiB | vs nn-dataflow |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in st["layers"]:
            p = nn[r["layer"]]
            lines.append(f"| {r['layer']} | {_uj(r['energy_total_pj'])} | {_uj(p['energy_total_pj'])} | "
                         f"{_pct(ratio(r['energy_total_pj'], p['energy_total_pj']))} | {_uj(r['energy_sram_pj'])} | "
                         f"{_uj(p['energy_sram_pj'])} | {r['dram_bytes'] / 1024:,.1f} | {p['dram_bytes'] / 1024:,.1f} | "
                         f"{_pct(ratio(r['dram_bytes'], p['dram_bytes']))} |")
        tot = {f: sum(r[f] for r in st["layers"]) for f in ("energy_total_pj", "energy_sram_pj", "dram_bytes")}
        ptot = {f: sum(nn[r["layer"]][f] for r in st["layers"]) for f in tot}
        lines += [f"| total | {_uj(tot['energy_total_pj'])} | {_uj(ptot['energy_total_pj'])} | "
                  f"{_pct(ratio(tot['energy_total_pj'], ptot['energy_total_pj']))} | {_uj(tot['energy_sram_pj'])} | "
                  f"{_uj(ptot['energy_sram_pj'])} | {tot['dram_bytes'] / 1024:,.0f} | {ptot['dram_bytes'] / 1024:,.0f} | "
                  f"{_pct(ratio(tot['dram_bytes'], ptot['dram_bytes']))} |", ""]
    if ours.get("pinned_layers"):
        lines.append(f"accelsim's figures are its steady frame: the planner keeps the weights of "
                     f"{', '.join(ours['pinned_layers'])} in the weight share across frames, so their "
                     f"{ours['cold_frame_extra_dram_read_bytes']:,.0f} DRAM bytes "
                     f"({ours['cold_frame_extra_energy_pj'] / 1e6:,.1f} µJ) are read on the cold first frame only, "
                     "and are not in the figures above; the peers run one inference and read every weight.")
        lines.append("")
    skipped = ours.get("not_compared", [])
    if skipped:
        lines.append(f"accelsim also simulates {', '.join(r['layer'] for r in skipped)} (pooling, LRN): "
                     f"{sum(r['energy_total_pj'] for r in skipped) / 1e6:,.1f} µJ, "
                     f"{sum(r['cycles'] for r in skipped):,.0f} cycles, not in the totals above.")
        lines.append("")
    prov = [f"accelsim: {ours['provenance']['tool']}, `{ours['provenance']['command']}` "
            f"({ours['provenance']['date']}, simulation {ours['provenance']['simulation_wall_s']} s)"]
    for n in names:
        p = peers[n]["provenance"]
        prov.append(f"{labels[n]}: {p['tool']}, `{p['command']}` ({p['date']}, {p['wall_s']} s)")
    lines.append("Produced by: " + "; ".join(prov) + ".")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rerun-peer", nargs="?", const="all", choices=["all", *PEERS],
                    help="rerun the peer(s) in their own environments before comparing (minutes)")
    ap.add_argument("--no-doc", action="store_true", help="print the tables; do not touch docs/validation.md")
    ap.add_argument("--workload", choices=list(M.WORKLOADS), default=M.DEFAULT_WORKLOAD,
                    help=f"the matched case's workload (default {M.DEFAULT_WORKLOAD}; alexnet-227: the peers' own, "
                         "ungrouped AlexNet)")
    args = ap.parse_args(argv)
    if args.rerun_peer:
        for name in PEERS if args.rerun_peer == "all" else [args.rerun_peer]:
            rerun_peer(name, args.workload)  # one at a time: the machine is shared
    ours = run_accelsim(args.workload)
    peers = {name: load_peer(name, args.workload) for name in PEERS}
    ours["on_zigzag_rows"] = on_zigzag_rows(args.workload, peers["zigzag"])
    ours["on_nndf_storage"] = on_nndf_storage(args.workload, peers["nndf"])
    CACHE.mkdir(exist_ok=True)
    (CACHE / cache_name("accelsim", args.workload)).write_text(json.dumps(ours, indent=1) + "\n")
    write_provenance()
    cmp = compare(ours, peers)
    text = markdown(cmp, ours, peers)
    print(text)
    marker = doc_marker(args.workload)
    if not args.no_doc and not replace_block(marker, text):
        print(f"docs/validation.md has no <!-- {marker}:begin --> / <!-- {marker}:end --> markers; doc not updated",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
