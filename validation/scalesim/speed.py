"""Speed (docs/validation.md section 6): accelsim's time per AlexNet design point against SCALE-Sim's.

    python validation/scalesim/speed.py [--repeat 20] [--live-peer 32x32-ws:conv3] [--no-write]

accelsim is timed here, in this run, after a JIT warm-up (as benchmarks/bench_engine.py does): the
whole dense detector (conv, pooling, normalisation and fc layers, one proposal) on each of the four
matched hardware configs of the SCALE-Sim cross-check, and, on the same configs, the eight conv/fc
layers one at a time as the cross-check runs them. SCALE-Sim's time and peak memory per design point
are the sums (time) and maxima (memory) over its cached per-layer runs, measured with
``/usr/bin/time -v`` when the cache was made (validation/scalesim/cache/PROVENANCE.md): a full
SCALE-Sim AlexNet takes minutes to hours here, too long to repeat for every doc rebuild.
``--live-peer DESIGN:LAYER`` reruns one cached layer in this run as well, to show the cached
figure is still what this machine does.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402
from designs import CACHE, DESIGN_BY_NAME, DESIGNS, LAYERS  # noqa: E402


def _median_time(fn, repeat: int) -> float:
    """Median wall time of ``repeat`` calls (the median resists the other jobs of a shared machine)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_accelsim(repeat: int) -> dict[str, dict]:
    from accelsim.sim.frame import simulate_frame

    workload = list(compare.dense_workload())
    by_name = {l.name: l for l in workload}
    out = {}
    for d in DESIGNS:
        t0 = time.perf_counter()
        accel = compare.accelerator(d)
        build_s = time.perf_counter() - t0
        simulate_frame(workload, accel, 1)  # warm-up: Numba's cache, bank-conflict cache
        point_s = _median_time(lambda: simulate_frame(workload, accel, 1), repeat)
        layers_s = _median_time(lambda: [simulate_frame([by_name[p.name]], accel, 1) for p in LAYERS], repeat)
        tracemalloc.start()
        simulate_frame(workload, accel, 1)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[d.name] = {"design_point_s": point_s, "layers_s": layers_s, "config_build_s": build_s,
                       "traced_peak_bytes": peak}
    return out


def _runs() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(CACHE.glob("*/*/run.json"))]


def peer_runs() -> dict[str, dict]:
    runs = _runs()
    out = {}
    for d in DESIGNS:
        rs = [r for r in runs if r["design"] == d.name]
        out[d.name] = {"layers": sorted((r["layer"] for r in rs), key=[l.name for l in LAYERS].index),
                       "wall_s": sum(r["wall_s"] for r in rs), "cpu_s": sum(r["user_cpu_s"] for r in rs),
                       "peak_rss_bytes": max((r["peak_rss_bytes"] for r in rs), default=0),
                       "dates": sorted({r["date_utc"][:10] for r in rs})}
    return out


def live_peer(spec: str) -> dict:
    import tempfile

    import peer

    design, layer = spec.split(":")
    cached = json.loads((CACHE / design / layer / "run.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        record = peer.run_one(design, layer, peer.scalesim_version(), cache=Path(tmp))
    return {"design": design, "layer": layer, "live_wall_s": record["wall_s"], "cached_wall_s": cached["wall_s"],
            "live_peak_rss_bytes": record["peak_rss_bytes"], "cached_peak_rss_bytes": cached["peak_rss_bytes"]}


def table(accel: dict, peer: dict, live: dict | None, repeat: int) -> str:
    gib = 2 ** 30
    lines = [
        "| design point | SCALE-Sim layers cached | SCALE-Sim wall s (sum of layers) | SCALE-Sim peak RSS GiB (largest layer) | "
        "accelsim ms per design point (whole detector) | ratio | accelsim ms, same 8 layers alone | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for d in DESIGNS:
        a, p = accel[d.name], peer[d.name]
        complete = len(p["layers"]) == len(LAYERS)
        if not p["layers"]:
            lines.append(f"| {d.name} | none | – | – | {a['design_point_s'] * 1e3:.1f} | – | {a['layers_s'] * 1e3:.1f} | – |")
            continue
        # Only the layers SCALE-Sim has, for the per-layer ratio; the whole point only when complete.
        r_point = p["wall_s"] / a["design_point_s"] if complete else None
        sub = _layers_time(d.name, p["layers"], repeat)
        r_layers = p["wall_s"] / sub
        if r_point:
            ratios.append(r_point)
        lines.append(
            f"| {d.name} | {len(p['layers'])} of {len(LAYERS)}{'' if complete else ' (' + ', '.join(p['layers']) + ')'} | "
            f"{p['wall_s']:,.0f} | {p['peak_rss_bytes'] / gib:.2f} | {a['design_point_s'] * 1e3:.1f} | "
            f"{f'{r_point:,.0f}×' if r_point else '–'} | {sub * 1e3:.1f} | {r_layers:,.0f}× |")
    a_peak = max(v["traced_peak_bytes"] for v in accel.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    lines += [
        "",
        f"accelsim memory: at most {a_peak / 2**20:.1f} MiB allocated (tracemalloc) during one design point; this "
        f"whole process (Python, torch, the dense model, all four configs) peaked at {rss / gib:.2f} GiB RSS.",
        f"accelsim times are the median of {repeat} repeats after one warm-up run, measured in this run. SCALE-Sim's "
        "are the per-layer `/usr/bin/time -v` measurements of the cached runs (cache/PROVENANCE.md: "
        "dates " + ", ".join(sorted({x for v in peer.values() for x in v['dates']})) + "), one layer per process; "
        "a grouped layer (conv2, conv4, conv5) was simulated for one group, so SCALE-Sim's time for the whole "
        "layer is understated (the ratio is conservative).",
    ]
    if ratios:
        lines.append(f"Speed ratio per complete design point: {min(ratios):,.0f}× to {max(ratios):,.0f}× "
                     f"(target: at least 1000×).")
    loads = [r["load_average_at_end"] for r in _runs()]
    if loads:
        lines.append(f"The cached SCALE-Sim runs shared this 2-core machine with other jobs (1-minute load average "
                     f"at the end of each run: {min(loads):.1f} to {max(loads):.1f}, in run.json).")
    if live:
        factor = live["cached_wall_s"] / live["live_wall_s"]
        text = (f"Same-run check: SCALE-Sim rerun now on {live['design']} {live['layer']}: "
                f"{live['live_wall_s']:.1f} s and {live['live_peak_rss_bytes'] / gib:.2f} GiB "
                f"(cached: {live['cached_wall_s']:.1f} s, {live['cached_peak_rss_bytes'] / gib:.2f} GiB)")
        if factor > 1 and ratios:
            text += (f"; if all of SCALE-Sim's cached times were {factor:.1f}× too slow for the same reason, the "
                     f"ratio would still be {min(ratios) / factor:,.0f}× or more")
        lines.append(text + ".")
    table_end = lines.index("")
    notes = [l for l in lines[table_end + 1:] if l]
    return "\n".join(lines[:table_end]) + "\n\n" + "\n\n".join(notes) + "\n"


_SUB: dict = {}


def _layers_time(design: str, layers: list[str], repeat: int) -> float:
    """accelsim's time for just ``layers`` of ``design``, each alone (median of ``repeat``)."""
    from accelsim.sim.frame import simulate_frame

    key = (design, tuple(layers))
    if key not in _SUB:
        accel = compare.accelerator(DESIGN_BY_NAME[design])
        by_name = {l.name: l for l in compare.dense_workload()}
        for n in layers:
            simulate_frame([by_name[n]], accel, 1)
        _SUB[key] = _median_time(lambda: [simulate_frame([by_name[n]], accel, 1) for n in layers], repeat)
    return _SUB[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--live-peer", metavar="DESIGN:LAYER", help="also rerun this cached SCALE-Sim layer now")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    accel = time_accelsim(args.repeat)
    live = live_peer(args.live_peer) if args.live_peer else None
    text = table(accel, peer_runs(), live, args.repeat)
    print(text)
    if not args.no_write:
        doc = compare.DOC.read_text()
        compare.DOC.write_text(compare.replace_block(doc, "speed", text))
        print(f"wrote {compare.DOC.relative_to(compare.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
