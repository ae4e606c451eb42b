"""Run nn-dataflow 2.1 on the matched case and cache its per-layer results as JSON.

Runs inside nn-dataflow's own environment, never accelsim's:

    python3.11 -m venv /work/venvs/nndf && /work/venvs/nndf/bin/pip install nn-dataflow==2.1 sympy==1.5.1
    nice -n 10 /work/venvs/nndf/bin/python validation/energy/run_nndf.py [--workload alexnet-227]

(`compare.py --rerun-peer` does the same). Writes ``cache/nndf.json`` with its provenance; for a
workload other than the default (``deepped-alexnet``, see ``matched.WORKLOADS``) the name carries the
workload: ``cache/nndf-alexnet-227.json``. The hardware, costs and options are the same.

How the matched case maps onto nn-dataflow (its own search over Eyeriss-style row-stationary
mappings; it has no weight-stationary mode, so the *mapping* is its own, the *costs* are ours):

* ``deepped-alexnet``: the network is AlexNet-227 as in ``matched.py``, laid out as nn-dataflow's shipped
  AlexNet: every conv layer as two halves (``_a``/``_b``), since nn-dataflow cannot express groups any
  other way (conv1 and conv3 halves each read their whole input); ``alexnet-227``: the same layers
  ungrouped, one nn-dataflow layer each; pooling layers are scheduled, not compared;
* one node with a 16 x 16 PE array; one global buffer of 64 + 64 + 32 KiB = 160 KiB shared by inputs,
  weights and outputs (nn-dataflow has a single buffer level); a register file of REGF_BYTES per PE
  (24: the smallest that schedules every layer; 16 and 22 find no schedule), costing nothing, like the
  NoC and the array interconnect (accelsim has no register level to charge);
* 8-bit words; costs per word: MAC 1.09 pJ, DRAM 64 pJ (8 pJ/bit), GBUF 25.87 / 8 = 3.234 pJ (the
  64-bit read figure per byte; nn-dataflow has one figure per level, so writes are charged as reads);
* no buffer bypass: every operand passes through the global buffer, as through accelsim's and
  ZigZag's SRAMs (nn-dataflow would otherwise stream fc weights from DRAM straight into the PEs);
* DRAM bandwidth 8 bytes per cycle; search goal: energy; batch 1; no inter-layer pipelining, so every
  layer reads its input from DRAM and writes its output to DRAM.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import matched as M  # noqa: E402

CACHE = HERE / "cache"
REGF_BYTES = 24
GBUF_BYTES = M.INPUT_SRAM_BYTES + M.WEIGHT_SRAM_BYTES + M.OUTPUT_SRAM_BYTES
WORD_BITS = 8
GBUF_PJ_PER_WORD = M.SRAM_READ_PJ * WORD_BITS / M.SRAM_WORD_BITS
DRAM_PJ_PER_WORD = M.DRAM_PJ_PER_BIT * WORD_BITS


def network(workload: str = M.DEFAULT_WORKLOAD):
    return network_ungrouped() if workload == "alexnet-227" else network_grouped()


def network_ungrouped():
    """AlexNet-227 with every convolution in one group: one nn-dataflow layer per accelsim layer."""
    from nn_dataflow.core import ConvLayer, FCLayer, InputLayer, Network, PoolingLayer

    L = M.layers("alexnet-227")
    nn = Network("AlexNet227-ungrouped-matched")
    nn.set_input_layer(InputLayer(3, 227))
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5"):
        _, c, k, _, out, kern, stride, _, _ = L[name]
        nn.add(name, ConvLayer(c, k, out, kern, stride))
        if name in ("conv1", "conv2", "conv5"):
            pool_out = {"conv1": 27, "conv2": 13, "conv5": 6}[name]
            nn.add(f"pool{name[-1]}", PoolingLayer(k, pool_out, 3, strd=2))
    nn.add("fc6", FCLayer(L["conv5"][2], L["fc6"][2], 6))
    nn.add("fc7", FCLayer(L["fc7"][1], L["fc7"][2]))
    nn.add("fc8", FCLayer(L["fc8"][1], L["fc8"][2]))
    return nn


def network_grouped():
    """AlexNet-227 as nn-dataflow's own ``nns/alex_net.py`` lays it out (the two-GPU halves as separate
    layers), with a 227 px input: nn-dataflow requires a layer's inputs to be exactly its predecessors'
    channels, so the layers feeding a grouped layer (conv1, conv3) are split in halves too, each half
    reading the whole input."""
    from nn_dataflow.core import ConvLayer, FCLayer, InputLayer, Network, PoolingLayer

    L = M.LAYERS
    nn = Network("AlexNet227-matched")
    nn.set_input_layer(InputLayer(3, 227))
    for h in "ab":
        nn.add(f"conv1_{h}", ConvLayer(3, L["conv1"][2] // 2, 55, 11, 4), prevs=(nn.INPUT_LAYER_KEY,))
        nn.add(f"pool1_{h}", PoolingLayer(L["conv1"][2] // 2, 27, 3, strd=2), prevs=(f"conv1_{h}",))
    for h in "ab":
        nn.add(f"conv2_{h}", ConvLayer(L["conv2"][1] // 2, L["conv2"][2] // 2, 27, 5), prevs=(f"pool1_{h}",))
        nn.add(f"pool2_{h}", PoolingLayer(L["conv2"][2] // 2, 13, 3, strd=2), prevs=(f"conv2_{h}",))
    for h in "ab":
        nn.add(f"conv3_{h}", ConvLayer(L["conv3"][1], L["conv3"][2] // 2, 13, 3), prevs=("pool2_a", "pool2_b"))
    for h in "ab":
        nn.add(f"conv4_{h}", ConvLayer(L["conv4"][1] // 2, L["conv4"][2] // 2, 13, 3), prevs=(f"conv3_{h}",))
    for h in "ab":
        nn.add(f"conv5_{h}", ConvLayer(L["conv5"][1] // 2, L["conv5"][2] // 2, 13, 3), prevs=(f"conv4_{h}",))
        nn.add(f"pool5_{h}", PoolingLayer(L["conv5"][2] // 2, 6, 3, strd=2), prevs=(f"conv5_{h}",))
    nn.add("fc6", FCLayer(L["conv5"][2], L["fc6"][2], 6), prevs=("pool5_a", "pool5_b"))
    nn.add("fc7", FCLayer(L["fc7"][1], L["fc7"][2]))
    nn.add("fc8", FCLayer(L["fc8"][1], L["fc8"][2]))
    return nn


def schedule(workload: str = M.DEFAULT_WORKLOAD):
    from nn_dataflow.core import (Cost, DataCategoryEnum as de, MapStrategyEyeriss, MemHierEnum as me, NNDataflow,
                                  NodeRegion, Option, PhyDim2, Resource)

    nodes = PhyDim2(1, 1)
    proc = NodeRegion(dim=nodes, origin=PhyDim2(0, 0), type=NodeRegion.PROC)
    data = NodeRegion(dim=PhyDim2(2, 2), origin=PhyDim2(0, 0), dist=nodes - PhyDim2(1, 1), type=NodeRegion.DRAM)
    word = WORD_BITS // 8
    resource = Resource(proc_region=proc, dram_region=data, src_data_region=data, dst_data_region=data,
                        dim_array=PhyDim2(M.ARRAY_ROWS, M.ARRAY_COLS), size_gbuf=GBUF_BYTES // word,
                        size_regf=REGF_BYTES // word, array_bus_width=float("inf"),
                        dram_bandwidth=M.DRAM_BYTES_PER_CYCLE / word, no_time_mux=False)
    hier = [0.0] * me.NUM
    hier[me.DRAM], hier[me.GBUF], hier[me.ITCN], hier[me.REGF] = DRAM_PJ_PER_WORD, GBUF_PJ_PER_WORD, 0.0, 0.0
    cost = Cost(mac_op=M.MAC_PJ, mem_hier=tuple(hier), noc_hop=0.0, idl_unit=0.0)
    options = Option(sw_gbuf_bypass=(False,) * de.NUM, sw_solve_loopblocking=False, opt_goal="e", ntops=1,
                     nprocesses=1, partition_hybrid=False, layer_pipeline_opt=False)
    nnd = NNDataflow(network(workload), M.BATCH, resource, cost, MapStrategyEyeriss)
    t0 = time.perf_counter()
    tops, _ = nnd.schedule_search(options)
    wall = time.perf_counter() - t0
    if not tops:
        raise SystemExit("nn-dataflow found no valid dataflow for the matched case")
    return tops[0], cost, resource, wall


def summarise(top) -> list[dict]:
    """Per compared layer (group halves summed): energy split, DRAM and GBUF words, time in cycles."""
    from nn_dataflow.core import MemHierEnum as me

    rows = OrderedDict()
    for lname in top:
        base = lname.split("_")[0]
        if base not in M.LAYERS:
            continue  # pooling
        s = top[lname].scheme
        accesses = top[lname].total_accesses
        r = rows.setdefault(base, {"layer": base, "macs": 0, "energy_total_pj": 0.0, "energy_mac_pj": 0.0,
                                   "energy_sram_pj": 0.0, "energy_dram_pj": 0.0, "dram_bytes": 0.0,
                                   "gbuf_access_bytes": 0.0, "cycles": 0.0, "dram_cycles": 0.0, "parts": []})
        r["macs"] += int(s["ops"])
        r["energy_total_pj"] += float(s["cost"])
        r["energy_mac_pj"] += float(s["cost_op"])
        r["energy_dram_pj"] += float(accesses[me.DRAM]) * DRAM_PJ_PER_WORD
        r["energy_sram_pj"] += float(accesses[me.GBUF]) * GBUF_PJ_PER_WORD
        r["dram_bytes"] += float(accesses[me.DRAM]) * WORD_BITS / 8
        r["gbuf_access_bytes"] += float(accesses[me.GBUF]) * WORD_BITS / 8
        r["cycles"] += float(s["time"])
        r["dram_cycles"] += float(s["dram_time"])
        r["parts"].append({"name": lname, "access_words_by_level_dram_gbuf_itcn_regf": [float(a) for a in accesses],
                           "access_words_dram_by_fil_ifm_ofm": [float(a) for a in s["access"][me.DRAM]],
                           "access_words_gbuf_by_fil_ifm_ofm": [float(a) for a in s["access"][me.GBUF]],
                           "time": float(s["time"]), "proc_time": float(s["proc_time"]),
                           "dram_time": float(s["dram_time"]), "part": str(s["part"]),
                           "orders": str(s["orders"]), "tvals": str(s["tvals"])})
    return list(rows.values())


def main(argv=None) -> int:
    import argparse
    from importlib.metadata import version

    ap = argparse.ArgumentParser(description="run nn-dataflow on the matched case; cache per-layer results")
    ap.add_argument("--workload", choices=list(M.WORKLOADS), default=M.DEFAULT_WORKLOAD,
                    help=f"the matched case's workload (default {M.DEFAULT_WORKLOAD})")
    args = ap.parse_args(argv)
    suffix = M.suffix(args.workload)
    result = CACHE / f"nndf{suffix}.json"
    command = "nice -n 10 /work/venvs/nndf/bin/python validation/energy/run_nndf.py"
    if suffix:
        command += f" --workload {args.workload}"
    top, cost, resource, wall = schedule(args.workload)
    rows = summarise(top)
    out = {
        "peer": "nn-dataflow",
        "provenance": {
            "tool": f"nn-dataflow {version('nn-dataflow')}",
            "python": platform.python_version(),
            "command": command,
            "workload": args.workload,
            "api": "nn_dataflow.core.NNDataflow(network, batch 1, resource, cost, MapStrategyEyeriss)"
                   ".schedule_search(Option(sw_gbuf_bypass=(False,) * 3, opt_goal='e', ntops=1, nprocesses=1, "
                   "layer_pipeline_opt=False))",
            "resource": {"array": [M.ARRAY_ROWS, M.ARRAY_COLS], "gbuf_bytes": GBUF_BYTES, "regf_bytes": REGF_BYTES,
                         "word_bits": WORD_BITS, "dram_bytes_per_cycle": M.DRAM_BYTES_PER_CYCLE},
            "cost_pj_per_word": {"mac": M.MAC_PJ, "dram": DRAM_PJ_PER_WORD, "gbuf": GBUF_PJ_PER_WORD,
                                 "itcn": 0.0, "regf": 0.0, "noc_hop": 0.0, "idle": 0.0},
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_s": round(wall, 1),
            "host": platform.node(),
        },
        "total_energy_pj": sum(r["energy_total_pj"] for r in rows),
        "total_cycles": sum(r["cycles"] for r in rows),
        "layers": rows,
    }
    CACHE.mkdir(exist_ok=True)
    result.write_text(json.dumps(out, indent=1) + "\n")
    print(f"nn-dataflow ({args.workload}): {out['total_energy_pj'] / 1e6:.3f} uJ, {out['total_cycles']:,.0f} cycles, "
          f"{wall:.1f} s -> {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
