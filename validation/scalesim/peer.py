"""Run SCALE-Sim (in its own virtual environment) one layer at a time and cache its reports.

    python validation/scalesim/peer.py [--design 32x32-ws ...] [--layer conv1 ...] [--force]
    python validation/scalesim/peer.py --workload alexnet-227      # every design of one workload
    python validation/scalesim/peer.py --dry-run                   # print the queue, run nothing

Each (design point, layer) runs as its own process under ``nice -n 10``, an address-space cap
(``prlimit --as``) and ``/usr/bin/time -v`` (wall time, peak RSS), one process at a time. Its three
report CSVs go to ``cache/<design>/<layer>/`` with a ``run.json`` (command, SCALE-Sim version, date,
wall time, peak RSS); ``cache/PROVENANCE.md`` is rewritten from all ``run.json`` files after each run.
Layers already cached are skipped unless ``--force``.

Environment: SCALESIM_PYTHON (default /work/venvs/scalesim/bin/python), created with
``python3.11 -m venv /work/venvs/scalesim && /work/venvs/scalesim/bin/pip install scalesim==3.0.0 'numpy<2.3'``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from designs import ALL_DESIGNS, CACHE, DESIGN_BY_NAME, HERE, LAYERS, WORKLOADS, write_inputs  # noqa: E402

SCALESIM_PYTHON = os.environ.get("SCALESIM_PYTHON", "/work/venvs/scalesim/bin/python")
MEMORY_CAP_BYTES = int(os.environ.get("SCALESIM_MEMORY_CAP", 14_000_000_000))
REPORTS = ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")
ORDER = [d.name for d in ALL_DESIGNS]
LAYER_NAMES = [l.name for l in LAYERS]  # the same eight names in both workloads


def scalesim_version() -> str:
    out = subprocess.run([SCALESIM_PYTHON, "-c", "import importlib.metadata as m; print(m.version('scalesim'), "
                          "m.version('numpy'))"], capture_output=True, text=True, check=True).stdout.split()
    return f"scalesim {out[0]} (numpy {out[1]})"


def _time_v(stderr: str) -> dict:
    def grab(label: str) -> str | None:
        m = re.search(rf"^\s*{re.escape(label)}: (.+)$", stderr, re.M)
        return m.group(1).strip() if m else None

    wall = grab("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    seconds = None
    if wall:
        parts = [float(p) for p in wall.split(":")]
        seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = grab("Maximum resident set size (kbytes)")
    return {"wall_s": seconds, "peak_rss_bytes": int(rss) * 1024 if rss else None,
            "user_s": float(grab("User time (seconds)") or "nan"), "exit_status": int(grab("Exit status") or -1)}


def run_one(design: str, layer: str, version: str, cache: Path = CACHE) -> dict:
    """Run SCALE-Sim on one layer; its reports and run.json go to ``cache/<design>/<layer>/``."""
    root, cache = cache, cache / design / layer
    with tempfile.TemporaryDirectory(prefix=f"scalesim-{design}-{layer}-") as tmp:
        cmd = ["nice", "-n", "10", "/usr/bin/time", "-v", "prlimit", f"--as={MEMORY_CAP_BYTES}", SCALESIM_PYTHON,
               str(HERE / "run_scalesim.py"), design, layer, tmp]
        started = dt.datetime.now(dt.timezone.utc)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent.parent)
        timing = _time_v(proc.stderr)
        if proc.returncode != 0:
            log = root / f"failed-{design}-{layer}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(proc.stdout[-20000:] + "\n---- stderr ----\n" + proc.stderr[-20000:])
            raise RuntimeError(f"SCALE-Sim failed on {design} {layer} (exit {proc.returncode}); see {log}")
        cache.mkdir(parents=True, exist_ok=True)
        for name in REPORTS:
            shutil.copyfile(Path(tmp) / design / name, cache / name)
    inner = re.search(r"SCALESIM_RUN_WALL_S ([0-9.]+)", proc.stdout)
    record = {
        "design": design,
        "layer": layer,
        "command": " ".join(["nice", "-n", "10", "/usr/bin/time", "-v", "prlimit", f"--as={MEMORY_CAP_BYTES}",
                             "$SCALESIM_PYTHON", "validation/scalesim/run_scalesim.py", design, layer, "OUTDIR"]),
        "workload": DESIGN_BY_NAME[design].workload,
        "sram_kib": list(DESIGN_BY_NAME[design].sram_kib),
        "inputs": [str(path.relative_to(HERE.parent.parent)) for path in
                   (DESIGN_BY_NAME[design].cfg_path(), DESIGN_BY_NAME[design].topology_path(layer),
                    DESIGN_BY_NAME[design].layout_path(layer))],
        "version": version,
        "date_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_s": timing["wall_s"],
        "simulation_wall_s": float(inner.group(1)) if inner else None,
        "user_cpu_s": timing["user_s"],
        "peak_rss_bytes": timing["peak_rss_bytes"],
        "host_cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg()[0],
    }
    (cache / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    if root == CACHE:
        write_provenance()
    return record


def load_runs() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(CACHE.glob("*/*/run.json"))]


def write_provenance() -> Path:
    runs = sorted(load_runs(), key=lambda r: (ORDER.index(r["design"]), LAYER_NAMES.index(r["layer"])))
    lines = [
        "# Provenance of the cached SCALE-Sim reports",
        "",
        "Generated by `python validation/scalesim/peer.py` (do not edit by hand). Each row is one SCALE-Sim",
        "process on one layer of one design point, inputs in `validation/scalesim/inputs/`, run by",
        "`validation/scalesim/run_scalesim.py` (SCALE-Sim's own API, traces not written) under",
        "`nice -n 10`, an address-space cap and `/usr/bin/time -v`, one process at a time, on a shared",
        "2-core machine. Wall time and peak RSS are `/usr/bin/time -v`'s (the whole process: interpreter",
        "start, imports, simulation, reports). The files kept per run are SCALE-Sim's COMPUTE_REPORT.csv,",
        "BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv, unmodified.",
        "",
        "Workloads: " + "; ".join(f"`{w.key}`: {w.label}" for w in WORKLOADS.values()) + ". SRAM is",
        "SCALE-Sim's ifmap/filter/ofmap kB (1024 bytes).",
        "",
        "| design | workload | SRAM kB | layer | SCALE-Sim | date (UTC) | wall s | CPU s | peak RSS GiB | command |",
        "|---|---|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in runs:
        d = DESIGN_BY_NAME[r["design"]]
        lines.append(f"| {r['design']} | {d.workload} | {'/'.join(map(str, d.sram_kib))} | {r['layer']} | {r['version']} | "
                     f"{r['date_utc']} | {r['wall_s']:.1f} | {r['user_cpu_s']:.1f} | {r['peak_rss_bytes'] / 2**30:.2f} | "
                     f"`{r['command']}` |")
    path = CACHE / "PROVENANCE.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def priority(design: str, layer: str) -> tuple:
    """Order of work, most informative first. fc6 and fc7 are the slow runs (one pixel, thousands of
    folds: 6-17 minutes and up to 12 GiB each); the other layers take seconds to minutes.

    0. the grouped DeepPed points: 32x32 before 16x16, conv layers before fc layers;
    1. alexnet-227 on SCALE-Sim's terms (64/64/32 KiB): every conv layer and fc8 of all six points;
    2. fc6 and fc7 of the input-stationary points (no other cache has an IS run);
    3. the conv layers of the weight-stationary points at the embedded shares (64/384/64 KiB): ungrouped
       conv2/4/5 have no counterpart in the grouped cache, and they take minutes;
    4. fc6 and fc7 of the WS and OS points (the grouped cache has runs of the same shapes);
    5. the rest of the embedded-share points."""
    d = DESIGN_BY_NAME[design]
    slow = layer in ("fc6", "fc7")
    if d.workload == "deepped-alexnet":
        tier = (0, d.rows != 32, layer.startswith("fc"))
    elif d.sram_kib != DESIGN_BY_NAME["32x32-ws"].sram_kib:
        tier = (1,) if not slow else (2,) if d.dataflow == "is" else (4,)
    else:
        tier = (3,) if d.dataflow == "ws" and layer.startswith("conv") else (5, slow)
    return tier + (ORDER.index(design), LAYER_NAMES.index(layer))


def queue(designs: list[str], layers: list[str], force: bool) -> list[tuple[str, str]]:
    """Runs still missing, in order of priority (see ``priority``)."""
    todo = [(d, l) for d in designs for l in layers if force or not (CACHE / d / l / "run.json").is_file()]
    return sorted(todo, key=lambda t: priority(*t))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", action="append", choices=list(DESIGN_BY_NAME))
    parser.add_argument("--workload", action="append", choices=list(WORKLOADS))
    parser.add_argument("--layer", action="append", choices=LAYER_NAMES)
    parser.add_argument("--force", action="store_true", help="rerun layers already cached")
    parser.add_argument("--dry-run", action="store_true", help="print the queue and stop")
    args = parser.parse_args(argv)
    write_inputs()
    designs = args.design or [d.name for d in ALL_DESIGNS if not args.workload or d.workload in args.workload]
    todo = queue(designs, args.layer or LAYER_NAMES, args.force)
    if args.dry_run:
        for design, layer in todo:
            print(design, layer)
        return 0
    version = scalesim_version()
    print(f"{len(todo)} SCALE-Sim runs to do with {version}", flush=True)
    failures = 0
    for design, layer in todo:
        print(f"{dt.datetime.now():%H:%M:%S} {design} {layer} ...", flush=True)
        try:
            r = run_one(design, layer, version)
        except RuntimeError as exc:
            failures += 1
            print(f"  FAILED: {exc}", flush=True)
            continue
        print(f"  {r['wall_s']:.1f} s, peak RSS {r['peak_rss_bytes'] / 2**30:.2f} GiB", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
