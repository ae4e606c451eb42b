"""Golden outputs of shipped design points, and their comparison with a run folder.

`tests/golden/*.json` hold summary.json and layers.csv of every shipped hardware config x plan pair that
runs, and of the README's main job on 200 frames (`main-job-200-frames.json`), as computed by accelsim
before the result schema of issue 11 (main at a8d0c48). The schema renamed a few fields; `RENAMED`,
`DROPPED` and `NOT_COMPARED` list every difference, so any other change of a value fails.
`main-job.json` is the main job since issue 12 raised its frames to 1,500 (computed at that change,
where the 200-frame run still matched its golden values).

Issue 13 (the capacity-aware mapper, SRAM timing, averaged bank conflicts) moved the hardware figures on
purpose; `tools/update_golden.py` rewrote the files in the schema's own names then (so the renames above
only matter to files written before).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

GOLDEN = Path(__file__).resolve().parent / "golden"

# Intended differences between the old summary.json and the schema's, old key -> new key. Nested
# groups became flat fields; "frames" (always 1) is gone; wall times and the version are not compared.
RENAMED = {
    **{f"energy_breakdown_pj.{part}": f"energy_{part}_pj" for part in ("dram", "sram", "decoder", "mac", "leakage")},
    **{f"cold_frame.{key}": f"cold_frame_{key}" for key in (
        "energy_uj", "latency_ms", "dram_bytes", "extra_energy_uj", "extra_latency_ms", "extra_dram_read_bytes")},
}
DROPPED = {"frames"}
NOT_COMPARED = {"simulation_wall_s", "eval_wall_s", "accelsim_version"}
# Without a dataset every accuracy field is null; before, frames_evaluated was 0.
NULL_WITHOUT_DATASET = {"frames_evaluated": 0}


def pairs() -> list[tuple[str, str, str]]:
    return [tuple(p.stem.split("--")) for p in sorted(GOLDEN.glob("*--*--*.json"))]


def _flatten(summary: dict) -> dict:
    out = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _same(old, new) -> bool:
    if isinstance(old, float) or isinstance(new, float):
        if old is None or new is None:
            return old is new
        return math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(old, list):
        return list(new) == old
    return old == new


def differences(name: str, run_dir: Path) -> list[str]:
    """Every value of golden ``name`` that the run in ``run_dir`` does not reproduce."""
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    bad = []
    for key, value in _flatten(golden["summary"]).items():
        if key in DROPPED or key in NOT_COMPARED:
            continue
        new_key = RENAMED.get(key, key)
        if golden["summary"]["dataset"] is None and NULL_WITHOUT_DATASET.get(key, object()) == value:
            value = None
        if new_key not in summary:
            bad.append(f"summary: {key} ({new_key}) is missing")
        elif not _same(value, summary[new_key]):
            bad.append(f"summary: {new_key}: golden {value!r}, now {summary[new_key]!r}")
    layers = pd.read_csv(run_dir / "layers.csv").to_dict("records")
    if len(layers) != len(golden["layers"]):
        return bad + [f"layers.csv: {len(layers)} rows, golden {len(golden['layers'])}"]
    for old, new in zip(golden["layers"], layers):
        for column, value in old.items():
            if column not in new:
                bad.append(f"layers.csv: column {column} is missing")
            elif not _same(value, new[column]):
                bad.append(f"layers.csv {old['layer']}.{column}: golden {value!r}, now {new[column]!r}")
    return bad
