"""Run ZigZag (zigzag-dse 3.9.1) on the matched case and cache its per-layer results as JSON.

Runs inside ZigZag's own environment, never accelsim's:

    python3.11 -m venv /work/venvs/zigzag && /work/venvs/zigzag/bin/pip install zigzag-dse==3.9.1 six
    nice -n 10 /work/venvs/zigzag/bin/python validation/energy/run_zigzag.py [--workload alexnet-227]

(`compare.py --rerun-peer` does the same). Writes the generated ZigZag inputs to
``cache/zigzag-inputs/`` and the results to ``cache/zigzag.json`` with their provenance; for a workload
other than the default (``deepped-alexnet``, see ``matched.WORKLOADS``) the names carry the workload:
``cache/zigzag-inputs-alexnet-227/``, ``cache/zigzag-alexnet-227.json``. The hardware is the same.

How the matched case maps onto ZigZag (every unit cost given, so CACTI never runs):

* operational array 16 x 16, D1 = output channels K (columns), D2 = fan-in (rows), systolic, 1.09 pJ
  per MAC. D2 may mix C, FX and FY (ZigZag's mixed spatial mapping), as accelsim unrolls the whole
  fan-in (channels x kernel) over the rows;
* per PE a 1-word weight register and a psum register (zero cost: accelsim has no register level);
* ``sram_in`` 64 KiB (I1), ``sram_w`` 64 KiB (I2), ``sram_out`` 32 KiB (O); a 64-bit access costs
  25.87 pJ read / 19.65 pJ write, expressed per ``bandwidth_max`` access (ZigZag counts accesses of the
  maximum port width) so that every 64 bits moved cost the same as in accelsim;
* DRAM: 64 bits per cycle (8 B/cycle), 512 pJ per 64-bit access (8 pJ/bit), read and write;
* partial sums are 24 bits (the accumulator), final outputs 8 bits; the search minimises energy;
* LOMA's ``lpf_limit`` (how many loop prime factors it orders, hence how many temporal mappings it tries)
  is ``matched.ZIGZAG_LPF_LIMIT``: ZigZag's default 6 for the grouped workload, 8 for ``alexnet-227``,
  whose conv2 the default search leaves at a mapping that reloads its input 7.3x from DRAM.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import matched as M  # noqa: E402

CACHE = HERE / "cache"
SRAM_BW_MAX = 512  # bits per cycle a buffer can deliver; energy stays per 64 bits (see module doc)


def _port(name, kind, bw_min, bw_max, alloc):
    return {"name": name, "type": kind, "bandwidth_min": bw_min, "bandwidth_max": bw_max, "allocation": alloc}


def _sram(size_bytes, operand, r_pj, w_pj):
    scale = SRAM_BW_MAX / M.SRAM_WORD_BITS  # cost per bandwidth_max access
    if operand == "O":
        ports = [_port("r_port_1", "read", M.SRAM_WORD_BITS, SRAM_BW_MAX, ["O, tl", "O, th"]),
                 _port("w_port_1", "write", M.SRAM_WORD_BITS, SRAM_BW_MAX, ["O, fh", "O, fl"])]
    else:
        ports = [_port("r_port_1", "read", M.SRAM_WORD_BITS, SRAM_BW_MAX, [f"{operand}, tl"]),
                 _port("w_port_1", "write", M.SRAM_WORD_BITS, SRAM_BW_MAX, [f"{operand}, fh"])]
    return {"size": size_bytes * 8, "r_cost": r_pj * scale, "w_cost": w_pj * scale, "area": 0.0, "latency": 1,
            "operands": [operand], "ports": ports, "served_dimensions": ["D1", "D2"]}


def hardware() -> dict:
    dram_pj = M.DRAM_PJ_PER_BIT * 64
    return {
        "name": "matched_16x16_ws",
        "memories": {
            "w_reg": {"size": M.WEIGHT_BITS, "r_cost": 0.0, "w_cost": 0.0, "area": 0.0, "latency": 1,
                      "operands": ["I2"], "served_dimensions": [],
                      "ports": [_port("r_port_1", "read", M.WEIGHT_BITS, M.WEIGHT_BITS, ["I2, tl"]),
                                _port("w_port_1", "write", M.WEIGHT_BITS, M.WEIGHT_BITS, ["I2, fh"])]},
            "o_reg": {"size": M.ACC_BITS, "r_cost": 0.0, "w_cost": 0.0, "area": 0.0, "latency": 1,
                      "operands": ["O"], "served_dimensions": [],
                      "ports": [_port("r_port_1", "read", M.ACC_BITS, M.ACC_BITS, ["O, tl"]),
                                _port("r_port_2", "read", M.ACC_BITS, M.ACC_BITS, ["O, th"]),
                                _port("w_port_1", "write", M.ACC_BITS, M.ACC_BITS, ["O, fh"]),
                                _port("w_port_2", "write", M.ACC_BITS, M.ACC_BITS, ["O, fl"])]},
            "sram_w": _sram(M.WEIGHT_SRAM_BYTES, "I2", M.SRAM_READ_PJ, M.SRAM_WRITE_PJ),
            "sram_in": _sram(M.INPUT_SRAM_BYTES, "I1", M.SRAM_READ_PJ, M.SRAM_WRITE_PJ),
            "sram_out": _sram(M.OUTPUT_SRAM_BYTES, "O", M.SRAM_READ_PJ, M.SRAM_WRITE_PJ),
            "dram": {"size": 10**10, "r_cost": dram_pj, "w_cost": dram_pj, "area": 0.0, "latency": 1,
                     "mem_type": "dram", "operands": ["I1", "I2", "O"], "served_dimensions": ["D1", "D2"],
                     "ports": [_port("rw_port_1", "read_write", 64, 64,
                                     ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"])]},
        },
        "operational_array": {"unit_energy": M.MAC_PJ, "unit_area": 1.0, "dimensions": ["D1", "D2"],
                              "sizes": [M.ARRAY_COLS, M.ARRAY_ROWS], "systolic_dimensions": ["D1", "D2"]},
    }


def workload(name: str = M.DEFAULT_WORKLOAD) -> list[dict]:
    layers = []
    for i, (name, (kind, c, k, size, out, kern, stride, pad, g)) in enumerate(M.layers(name).items()):
        layer = {
            "id": i, "name": name, "operator_type": "Conv",
            "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
            "dimension_relations": [f"ix={stride}*ox+1*fx", f"iy={stride}*oy+1*fy"],
            "loop_dims": ["B", "G", "K", "C", "OY", "OX", "FY", "FX"],
            "loop_sizes": [M.BATCH, g, k // g, c // g, out, out, kern, kern],
            "operand_precision": {"W": M.WEIGHT_BITS, "I": M.ACT_BITS, "O": M.ACC_BITS, "O_final": M.ACT_BITS},
            "operand_source": {"I": i - 1 if i else 0},  # each layer's input is the previous one's output
        }
        if pad:
            layer["pr_loop_dims"] = ["IX", "IY"]
            layer["pr_loop_sizes"] = [size, size]
            layer["padding"] = [[pad, pad], [pad, pad]]
        if i == 0:
            del layer["operand_source"]
        layers.append(layer)
    return layers


def mapping() -> list[dict]:
    # D2 (rows) holds the fan-in; the generator may mix C with the kernel dimensions on it.
    return [{"name": "default",
             "spatial_mapping_hint": {"D1": ["K"], "D2": ["C", "FX", "FY"]},
             "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]


def summarise(cmes) -> list[dict]:
    """Per layer: energy split, DRAM and SRAM traffic in bytes, latency in cycles."""
    from zigzag.hardware.architecture.memory_port import DataDirection

    rows = []
    for cme in cmes:
        layer = cme.layer
        breakdown = {str(op): [float(e) for e in levels] for op, levels in cme.mem_energy_breakdown.items()}
        dram_bits = 0.0
        sram_pj = dram_pj = 0.0
        sram_bits_read = sram_bits_written = 0.0
        for layer_op, accesses in cme.memory_word_access.items():
            mem_op = cme.memory_operand_links.layer_to_mem_op(layer_op)
            levels = cme.accelerator.memory_hierarchy.get_memory_levels(mem_op=mem_op)
            for level_accesses, level, energy in zip(accesses, levels, cme.mem_energy_breakdown[layer_op]):
                name = level.memory_instance.name
                reads = level_accesses.get(DataDirection.RD_OUT_TO_HIGH) + level_accesses.get(DataDirection.RD_OUT_TO_LOW)
                writes = level_accesses.get(DataDirection.WR_IN_BY_HIGH) + level_accesses.get(DataDirection.WR_IN_BY_LOW)
                if name == "dram":  # counted in 64-bit accesses (port width)
                    dram_bits += (reads + writes) * 64
                    dram_pj += energy
                elif name.startswith("sram"):  # counted in SRAM_BW_MAX-bit accesses
                    sram_pj += energy
                    sram_bits_read += reads * SRAM_BW_MAX
                    sram_bits_written += writes * SRAM_BW_MAX
        rows.append({
            "layer": layer.name,
            "macs": int(layer.total_mac_count),
            "energy_total_pj": float(cme.energy_total),
            "energy_mac_pj": float(cme.mac_energy),
            "energy_sram_pj": sram_pj,
            "energy_dram_pj": dram_pj,
            "dram_bytes": dram_bits / 8,
            "sram_read_bytes": sram_bits_read / 8,
            "sram_write_bytes": sram_bits_written / 8,
            "cycles": float(cme.latency_total2),
            "ideal_cycles": float(cme.ideal_cycle),
            "spatial_mapping": str(cme.mapping.spatial_mapping),
            "temporal_mapping": str(cme.temporal_mapping),
            "mem_energy_breakdown_pj": breakdown,
        })
    return rows


def main(argv=None) -> int:
    import argparse
    import pickle
    from importlib.metadata import version

    ap = argparse.ArgumentParser(description="run ZigZag on the matched case; cache per-layer results")
    ap.add_argument("--summarise", metavar="DIR", help="only re-read a finished run's dump folder (list_of_cmes.pickle)")
    ap.add_argument("--wall-s", type=float, help="with --summarise: the wall time that run took")
    ap.add_argument("--workload", choices=list(M.WORKLOADS), default=M.DEFAULT_WORKLOAD,
                    help=f"the matched case's workload (default {M.DEFAULT_WORKLOAD})")
    ap.add_argument("--lpf-limit", type=int, default=None,
                    help="LOMA's loop-prime-factor limit: how many temporal loop orderings ZigZag tries (default: the "
                         f"matched case's for the workload, {M.ZIGZAG_LPF_LIMIT})")
    args = ap.parse_args(argv)
    lpf = args.lpf_limit or M.ZIGZAG_LPF_LIMIT[args.workload]
    suffix = M.suffix(args.workload)
    inputs = CACHE / f"zigzag-inputs{suffix}"
    result = CACHE / f"zigzag{suffix}.json"
    command = "nice -n 10 /work/venvs/zigzag/bin/python validation/energy/run_zigzag.py"
    if suffix:
        command += f" --workload {args.workload}"
    if args.lpf_limit:
        command += f" --lpf-limit {args.lpf_limit}"

    logging.disable(logging.INFO)
    inputs.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, data in (("hardware", hardware()), ("workload", workload(args.workload)), ("mapping", mapping())):
        files[name] = inputs / f"{name}.yaml"
        files[name].write_text(yaml.safe_dump(data, sort_keys=False))
    if args.summarise:
        dump, wall = Path(args.summarise), args.wall_s
    else:
        from zigzag.api import get_hardware_performance_zigzag

        dump = Path("/tmp") / f"zigzag-out-{int(time.time())}"
        print(f"zigzag ({args.workload}): dump folder {dump}", flush=True)
        t0 = time.perf_counter()
        get_hardware_performance_zigzag(
            str(files["workload"]), str(files["hardware"]), str(files["mapping"]), opt="energy",
            dump_folder=str(dump), loma_show_progress_bar=False, enable_mix_spatial_mapping=True,
            nb_spatial_mappings_generated=3, lpf_limit=lpf)
        wall = time.perf_counter() - t0
    with open(dump / "list_of_cmes.pickle", "rb") as f:
        cmes = pickle.load(f)  # one CostModelEvaluation per layer, in order
    rows = summarise(cmes)
    out = {
        "peer": "zigzag",
        "provenance": {
            "tool": f"zigzag-dse {version('zigzag-dse')}",
            "python": platform.python_version(),
            "command": command,
            "workload": args.workload,
            "api": "zigzag.api.get_hardware_performance_zigzag(workload, hardware, mapping, opt='energy', "
                   f"enable_mix_spatial_mapping=True, nb_spatial_mappings_generated=3, lpf_limit={lpf})",
            "lpf_limit": lpf,
            "inputs": [str(p.relative_to(HERE)) for p in files.values()],
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_s": None if wall is None else round(wall, 1),
            "host": platform.node(),
        },
        "total_energy_pj": sum(r["energy_total_pj"] for r in rows),
        "total_cycles": sum(r["cycles"] for r in rows),
        "layers": rows,
    }
    result.write_text(json.dumps(out, indent=1) + "\n")
    print(f"zigzag ({args.workload}): {out['total_energy_pj'] / 1e6:.3f} uJ, {out['total_cycles']:,.0f} cycles, "
          f"{out['provenance']['wall_s']} s -> {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
