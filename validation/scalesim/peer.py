"""Run SCALE-Sim (in its own virtual environment) one layer at a time and cache its reports.

    python validation/scalesim/peer.py [--design 32x32-ws ...] [--layer conv1 ...] [--force]

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
from designs import CACHE, DESIGN_BY_NAME, DESIGNS, HERE, LAYER_BY_NAME, LAYERS, write_inputs  # noqa: E402

SCALESIM_PYTHON = os.environ.get("SCALESIM_PYTHON", "/work/venvs/scalesim/bin/python")
MEMORY_CAP_BYTES = int(os.environ.get("SCALESIM_MEMORY_CAP", 14_000_000_000))
REPORTS = ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")
# Order of work: the matched 32x32 comparison first, conv layers before the slow fc layers.
ORDER = ["32x32-ws", "32x32-os", "16x16-ws", "16x16-os"]


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
        "inputs": [f"validation/scalesim/inputs/{design}.cfg", f"validation/scalesim/inputs/topology-{layer}.csv",
                   f"validation/scalesim/inputs/layout-{layer}.csv"],
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
    runs = sorted(load_runs(), key=lambda r: (ORDER.index(r["design"]), [l.name for l in LAYERS].index(r["layer"])))
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
        "| design | layer | SCALE-Sim | date (UTC) | wall s | CPU s | peak RSS GiB | command |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in runs:
        lines.append(f"| {r['design']} | {r['layer']} | {r['version']} | {r['date_utc']} | {r['wall_s']:.1f} | "
                     f"{r['user_cpu_s']:.1f} | {r['peak_rss_bytes'] / 2**30:.2f} | `{r['command']}` |")
    path = CACHE / "PROVENANCE.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def queue(designs: list[str], layers: list[str], force: bool) -> list[tuple[str, str]]:
    """Runs still missing, in order of priority: every layer of the matched 32x32 points, then the
    16x16 points (conv layers before the fc layers, which are the slowest: one pixel, thousands of folds)."""
    todo = [(d, l) for d in designs for l in layers if force or not (CACHE / d / l / "run.json").is_file()]
    names = [l.name for l in LAYERS]
    return sorted(todo, key=lambda t: (not t[0].startswith("32x32"), t[1].startswith("fc"), ORDER.index(t[0]),
                                       names.index(t[1])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", action="append", choices=list(DESIGN_BY_NAME))
    parser.add_argument("--layer", action="append", choices=list(LAYER_BY_NAME))
    parser.add_argument("--force", action="store_true", help="rerun layers already cached")
    args = parser.parse_args(argv)
    write_inputs()
    version = scalesim_version()
    todo = queue(args.design or [d.name for d in DESIGNS], args.layer or [l.name for l in LAYERS], args.force)
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
