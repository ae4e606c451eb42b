"""The per-layer result table and summary of a run, as terminal text."""

from __future__ import annotations

import pandas as pd


def run_text(layers: pd.DataFrame, summary: dict) -> str:
    header = (f"{'layer':7s} {'kind':5s} {'MACs':>13s} {'weights B':>11s} {'res':>3s} {'order':>13s} {'latency us':>11s} "
              f"{'stall %':>7s} {'bound':>7s} {'DRAM rd B':>12s} {'DRAM wr B':>11s} {'lookups':>11s} {'energy uJ':>10s}")
    lines = [f"hardware {summary['hardware']}, model {summary['model']}, plan {summary['plan']}, "
             f"{summary['proposals_per_frame']} proposals/frame in {summary['weight_passes_per_frame']} weight pass(es)",
             header, "-" * len(header)]
    for _, r in layers.iterrows():
        stall = 100 * r.stall_cycles / r.cycles if r.cycles else 0.0
        lines.append(
            f"{r.layer:7s} {r.kind:5s} {r.macs:>13,.0f} {r.compressed_weight_bytes:>11,.0f} {'yes' if r.pinned else '-':>3s} "
            f"{r.loop_order:>13s} {r.latency_us:>11,.1f} {stall:>7.1f} {r.bound:>7s} {r.dram_read_bytes:>12,.0f} "
            f"{r.dram_write_bytes:>11,.0f} {r.decoder_lookups:>11,.0f} {r.energy_total_pj / 1e6:>10,.2f}")
    lines.append("-" * len(header))
    s = summary
    br = s["energy_breakdown_pj"]
    total = sum(br.values()) or 1.0
    lines += [
        f"steady-state frame: {s['energy_per_frame_uj']:,.1f} uJ, {s['latency_per_frame_ms']:,.3f} ms "
        f"({s['frames_per_s']:,.1f} frames/s; roofline bound {s['roofline_bound_ms']:,.3f} ms), "
        f"DRAM {s['dram_bytes_per_frame'] / 2**20:,.2f} MiB/frame (weights {s['dram_weight_bytes_per_frame'] / 2**20:,.2f} MiB)",
        "energy: " + ", ".join(f"{k} {v / total:.0%}" for k, v in br.items()),
        f"compressed weights {s['compressed_weight_bytes'] / 2**10:,.0f} KiB vs weight SRAM {s['sram_weight_bytes'] / 2**10:,.0f} KiB: "
        + ("all resident (loaded once)" if s["weights_resident"] else
           f"streamed every pass (resident: {', '.join(s['pinned_layers']) or 'none'})"),
        f"cold first frame: {s['cold_frame']['energy_uj']:,.1f} uJ, {s['cold_frame']['latency_ms']:,.3f} ms, "
        f"DRAM {s['cold_frame']['dram_bytes'] / 2**20:,.2f} MiB",
    ]
    if s.get("dataset"):
        lines.append(
            f"miss rate (log-average, Caltech reasonable) {s['miss_rate_lamr']:.2%} on {s['dataset']}, "
            f"{s['frames_evaluated']} frames, {s['number_formats']}; "
            f"{s['proposals_per_frame_measured']:.1f} proposals/frame measured")
    return "\n".join(lines)
