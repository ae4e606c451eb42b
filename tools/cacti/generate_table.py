#!/usr/bin/env python3
"""Generate accelsim's CACTI SRAM, codebook-decoder and Aladdin MAC tables.

Runs in the Python >= 3.12 environment built by ``setup_venv.sh`` (hwcomponents needs 3.12; accelsim
stays on 3.11 and only *reads* the tables written here). Writes, as committed data:

- ``hwconfigs/tech/cacti-sram.yaml``    one SRAM bank per row: read/write energy per access, leakage,
  area, access and cycle time, over tech node x ports x bank size x access width;
- ``hwconfigs/tech/cacti-decoder.yaml`` a codebook table (entries x value bits) read as a tiny SRAM;
- ``hwconfigs/tech/aladdin-mac.yaml``   integer MAC / multiplier / adder energy and area by width.

Every file carries its source: tool versions, the date and the command line that produced it.

Why hwcomponents' ``SRAM`` wrapper rather than calling CACTI ourselves: it is the packaging the
Accelergy/Timeloop community uses, so our numbers can be compared with theirs one-for-one, and it
handles arrays below CACTI's minimum geometry (< 64 rows or < 32 bits) with a stated empirical
scaling from the smallest CACTI array. Rows produced that way are marked ``scaled`` (``direct``
otherwise) so a reader can tell a CACTI run from an extrapolation.

Usage (from the repository root)::

    tools/cacti/setup_venv.sh
    tools/cacti/.venv/bin/python tools/cacti/generate_table.py [--jobs N] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata as md
import math
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "hwconfigs" / "tech"

# The sweep. Bank sizes are powers of two because banked SRAMs are built that way and the runtime
# interpolates log-log between neighbours; 1 KiB .. 16 MiB covers an embedded scratchpad bank up to
# a whole large-SRAM design held in one bank.
TECH_NODES_NM = (22, 32, 45, 65)
SIZES_BYTES = tuple(2**k for k in range(10, 25))  # 1 KiB .. 16 MiB
WIDTHS_BITS = (32, 64, 128, 256)
# Two ports only at 45 nm: the node every shipped config uses; a dual-ported bank elsewhere is
# reported as outside the table rather than guessed.
PORTS_BY_NODE = {22: (1,), 32: (1,), 45: (1, 2), 65: (1,)}
DECODER_ENTRIES = tuple(2**k for k in range(1, 11))  # 2 .. 1024 codebook entries
DECODER_VALUE_BITS = (4, 8, 16, 32)
MAC_MULT_BITS = (4, 8, 16, 32)
MAC_ACC_BITS = (16, 24, 32, 48, 64)


def _run_sram(**kwargs):
    """hwcomponents' SRAM, retried: its scratch-folder cleanup (it keeps the newest 200 CACTI files)
    can delete another worker's input file mid-run, which surfaces as FileNotFoundError."""
    from hwcomponents_cacti import SRAM

    for attempt in range(5):
        try:
            return SRAM(**kwargs)
        except FileNotFoundError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _sram_point(args: tuple[int, int, int, int]) -> list:
    """One CACTI run (through hwcomponents) for a single bank; returns a table row."""
    node, ports, size_bytes, width = args
    s = _run_sram(tech_node=node * 1e-9, width=width, size=size_bytes * 8, n_rw_ports=ports, n_banks=1)
    depth = size_bytes * 8 // width
    # hwcomponents scales (empirically) from a bigger array when the geometry is below CACTI's minimum.
    method = "direct" if depth >= 64 and width >= 32 and width % 8 == 0 else "scaled"
    return [
        node, ports, size_bytes, width,
        round(s.read_energy * 1e12, 6), round(s.write_energy * 1e12, 6),
        float(f"{s.cacti_leak_power * 1e3:.6g}"), float(f"{s.cacti_area * 1e6:.6g}"),
        round(s.access_time * 1e9, 5), round(s.cycle_period * 1e9, 5), method,
    ]


def _decoder_point(args: tuple[int, int, int]) -> list:
    node, entries, bits = args
    s = _run_sram(tech_node=node * 1e-9, width=bits, size=entries * bits, n_rw_ports=1, n_banks=1)
    method = "direct" if entries >= 64 and bits >= 32 else "scaled"
    return [
        node, entries, bits,
        float(f"{s.read_energy * 1e12:.6g}"), float(f"{s.write_energy * 1e12:.6g}"),
        float(f"{s.cacti_leak_power * 1e3:.6g}"), float(f"{s.cacti_area * 1e6:.6g}"), method,
    ]


def _mac_rows(nodes) -> list[list]:
    """Aladdin integer MAC, multiplier and adder; a null width = not a parameter of that component."""
    from hwcomponents_library import AladdinAdder, AladdinIntMAC, AladdinMultiplier

    def num(x: float) -> float:
        return float(f"{x:.6g}")

    rows = []
    for node in nodes:
        for mb in MAC_MULT_BITS:
            for ab in MAC_ACC_BITS:
                m = AladdinIntMAC(node * 1e-9, ab, mb)
                rows.append(["mac", node, mb, ab, num(m.mac().energy * 1e12), num(m.area * 1e12), num(m.leak_power * 1e3)])
        for mb in MAC_MULT_BITS:
            m = AladdinMultiplier(node * 1e-9, width=mb)
            rows.append(["multiplier", node, mb, None, num(m.multiply().energy * 1e12), num(m.area * 1e12),
                         num(m.leak_power * 1e3)])
        for ab in MAC_ACC_BITS:
            a = AladdinAdder(node * 1e-9, ab)
            rows.append(["adder", node, None, ab, num(a.add().energy * 1e12), num(a.area * 1e12), num(a.leak_power * 1e3)])
    return rows


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("hwcomponents", "hwcomponents-cacti", "hwcomponents-library", "hwcomponents-neurosim"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    import hwcomponents_cacti

    header = Path(hwcomponents_cacti.__file__).parent / "cacti" / "version_cacti.h"
    major = minor = "?"
    for line in header.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define" and parts[1] == "VER_MAJOR_CACTI":
            major = parts[2]
        if len(parts) >= 3 and parts[0] == "#define" and parts[1] == "VER_MINOR_CACTI":
            minor = parts[2]
    out["cacti"] = f"{major}.{minor} (sources bundled in hwcomponents-cacti, rebuilt with `make opt`)"
    return out


def _q(s: str) -> str:
    """A YAML double-quoted scalar (the environment has no PyYAML; JSON strings are valid YAML)."""
    import json

    return json.dumps(s)


def _write(path: Path, header: dict, columns: list[str], rows: list[list]) -> None:
    lines = [f"# Generated by tools/cacti/generate_table.py on {header['generated']}; do not edit by hand.",
             "# Regenerate: tools/cacti/setup_venv.sh && tools/cacti/.venv/bin/python tools/cacti/generate_table.py"]
    for key, value in header.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            for k, v in value.items():
                if isinstance(v, dict):
                    inner = ", ".join(f"{ik}: {_q(str(iv))}" for ik, iv in v.items())
                    lines.append(f"  {k}: {{{inner}}}")
                else:
                    lines.append(f"  {_q(str(k))}: {_q(str(v))}")
        elif isinstance(value, list):
            lines.append(f"{key}: [{', '.join(_q(str(v)) for v in value)}]")
        else:
            lines.append(f"{key}: {_q(str(value))}")
    lines.append(f"columns: [{', '.join(columns)}]")
    lines.append("rows:")
    for row in rows:
        lines.append("  - [" + ", ".join(_q(v) if isinstance(v, str) else "null" if v is None else repr(v) for v in row) + "]")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path} ({len(rows)} rows)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="parallel CACTI runs")
    ap.add_argument("--quick", action="store_true", help="45 nm only (for testing the script)")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--only", default="sram,decoder,mac", help="comma-separated subset of sram,decoder,mac")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    if not only <= {"sram", "decoder", "mac"}:
        ap.error(f"--only: unknown table(s) {sorted(only - {'sram', 'decoder', 'mac'})}")

    nodes = (45,) if args.quick else TECH_NODES_NM
    today = _dt.date.today().isoformat()
    versions = _versions()
    command = "tools/cacti/generate_table.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    tool_line = ", ".join(f"{k} {v}" for k, v in versions.items())
    args.out.mkdir(parents=True, exist_ok=True)

    sram_jobs = [(n, p, s, w) for n in nodes for p in PORTS_BY_NODE[n] for s in SIZES_BYTES for w in WIDTHS_BITS]
    dec_jobs = [(n, e, b) for n in nodes for e in DECODER_ENTRIES for b in DECODER_VALUE_BITS]
    sram_rows: list[list] = []
    dec_rows: list[list] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        if "sram" in only:
            sram_rows = list(pool.map(_sram_point, sram_jobs, chunksize=4))
        if "decoder" in only:
            dec_rows = list(pool.map(_decoder_point, dec_jobs, chunksize=8))

    common = {"generated": today, "command": command, "tools": versions}
    if sram_rows:
        _write_sram(args.out, tool_line, today, common, sram_rows)
        check = next(r for r in sram_rows if r[:4] == [45, 1, 65536, 64])
        print(f"check 45 nm, 64 KiB, 64-bit: read {check[4]} pJ, write {check[5]} pJ, area {check[7]} mm2 "
              f"(REFERENCES.md: 25.87 / 19.65 pJ, 0.209 mm2)")
    if dec_rows:
        _write_decoder(args.out, tool_line, today, common, dec_rows)
    if "mac" in only:
        mac_rows = _mac_rows(nodes)
        _write_mac(args.out, tool_line, today, common, mac_rows)
        check = next(r for r in mac_rows if r[:4] == ["mac", 45, 8, 24])
        print(f"check 45 nm 8x8-bit MAC, 24-bit accumulator: {check[4]} pJ, {check[5]} um2 (REFERENCES.md: 1.09 pJ, 885 um2)")
    return 0


def _write_sram(out: Path, tool_line: str, today: str, common: dict, rows: list[list]) -> None:
    _write(
        out / "cacti-sram.yaml",
        {
            "name": "cacti-sram",
            "kind": "grid",
            "component": "sram",
            "description": "One SRAM bank (scratchpad, cache type 'ram', no tags) per row, one access = width bits.",
            "source": f"CACTI via hwcomponents-cacti SRAM(tech_node, width, size, n_rw_ports, n_banks=1); {tool_line}; generated {today}",
            "notes": "CACTI cell and peripheral type itrs-lstp (hwcomponents default config), so leakage is low-standby-power "
                     "leakage; optimisation target as in hwcomponents' default_cfg. method=scaled marks geometries below "
                     "CACTI's minimum, scaled by hwcomponents from the nearest CACTI array.",
            **common,
            "exact_axes": ["tech_node_nm", "ports"],
            "interp_axes": ["size_bytes", "width_bits"],
            "units": {"tech_node_nm": "nm", "ports": "1", "size_bytes": "B", "width_bits": "bit", "read": "pJ",
                      "write": "pJ", "leakage": "mW", "area": "mm2", "access_time": "ns", "cycle_time": "ns"},
        },
        ["tech_node_nm", "ports", "size_bytes", "width_bits", "read", "write", "leakage", "area", "access_time",
         "cycle_time", "method"],
        rows,
    )


def _write_decoder(out: Path, tool_line: str, today: str, common: dict, rows: list[list]) -> None:
    _write(
        out / "cacti-decoder.yaml",
        {
            "name": "cacti-decoder",
            "kind": "grid",
            "component": "decoder",
            "description": "Codebook decoder table: entries x value_bits read as one small SRAM; a lookup reads one entry.",
            "source": f"CACTI via hwcomponents-cacti SRAM(tech_node, width=value_bits, size=entries*value_bits); {tool_line}; generated {today}",
            "notes": "Tables below 64 entries or 32 bits are below CACTI's minimum; hwcomponents runs CACTI on the 64 x 32-bit "
                     "array and scales energy by (0.7*w/32 + 0.3) * (d/64)^0.78 and area/leakage linearly (method=scaled).",
            **common,
            "exact_axes": ["tech_node_nm"],
            "interp_axes": ["entries", "value_bits"],
            "units": {"tech_node_nm": "nm", "entries": "1", "value_bits": "bit", "read": "pJ", "write": "pJ",
                      "leakage": "mW", "area": "mm2"},
        },
        ["tech_node_nm", "entries", "value_bits", "read", "write", "leakage", "area", "method"],
        rows,
    )


def _write_mac(out: Path, tool_line: str, today: str, common: dict, rows: list[list]) -> None:
    _write(
        out / "aladdin-mac.yaml",
        {
            "name": "aladdin-mac",
            "kind": "grid",
            "description": "Integer multiply-accumulate (multiplier + accumulator adder), multiplier alone, adder alone; "
                           "multiplier_bits is the width of both operands, adder_bits the accumulator width.",
            "source": f"Aladdin (Shao et al., ISCA 2014) 40 nm figures scaled by hwcomponents-library AladdinIntMAC / "
                      f"AladdinMultiplier / AladdinAdder; {tool_line}; generated {today}",
            "notes": "hwcomponents scales the 32-bit Aladdin figures quadratically in multiplier width (width_a = width_b) "
                     "and linearly in adder width, and to the tech node with its tech_node_* scaling functions.",
            **common,
            "exact_axes": ["tech_node_nm"],
            "interp_axes": ["multiplier_bits", "adder_bits"],
            "units": {"tech_node_nm": "nm", "multiplier_bits": "bit", "adder_bits": "bit", "compute": "pJ",
                      "area": "um2", "leakage": "mW"},
        },
        ["component", "tech_node_nm", "multiplier_bits", "adder_bits", "compute", "area", "leakage"],
        rows,
    )


if __name__ == "__main__":
    raise SystemExit(main())
