"""A design point as terminal text: the per-layer table (the `LayerRow` fields that declare how they
show) and a few summary lines."""

from __future__ import annotations

from accelsim.results.records import AccuracyFigures, DesignPointSummary, LayerRow, SubsetRow
from accelsim.results.schema import Column


def _cell(column: Column, value) -> str:
    show = column.show
    if isinstance(value, bool):
        value = "yes" if value else "-"
    elif isinstance(value, (int, float)):
        value *= show.scale
    return format(value, show.spec)


def _header(column: Column) -> str:
    """The header padded to its column's width, aligned as the column's values are."""
    spec = column.show.spec
    width = int("".join(ch for ch in spec.split(".")[0] if ch.isdigit()) or 0)
    return format(column.show.header, (">" if spec.startswith(">") else "<") + str(width))


def layer_table(rows: tuple[LayerRow, ...]) -> list[str]:
    shown = [c for c in LayerRow.columns() if c.show is not None]
    header = " ".join(_header(c) for c in shown)
    lines = [header, "-" * len(header)]
    for row in rows:
        values = row.flat()
        lines.append(" ".join(_cell(c, values[c.name]) for c in shown))
    lines.append("-" * len(header))
    return lines


def run_text(summary: DesignPointSummary, rows: tuple[LayerRow, ...]) -> str:
    s, f, a = summary.design, summary.frame, summary.accuracy
    energy = {"dram": f.energy_dram_pj, "sram": f.energy_sram_pj, "accumulators": f.energy_accumulator_pj,
              "decoder": f.energy_decoder_pj, "mac": f.energy_mac_pj, "leakage": f.energy_leakage_pj}
    if not f.energy_accumulator_pj:  # a design without accumulator buffers
        del energy["accumulators"]
    total = sum(energy.values()) or 1.0
    lines = [f"hardware {s.hardware}, model {s.model}, plan {s.plan}, "
             f"{f.proposals_per_frame} proposals/frame in {f.weight_passes_per_frame} weight pass(es)",
             *layer_table(rows),
             f"steady-state frame: {f.energy_per_frame_uj:,.1f} uJ, {f.latency_per_frame_ms:,.3f} ms "
             f"({f.frames_per_s:,.1f} frames/s; roofline bound {f.roofline_bound_ms:,.3f} ms), "
             f"DRAM {f.dram_bytes_per_frame / 2**20:,.2f} MiB/frame "
             f"(weights {f.dram_weight_bytes_per_frame / 2**20:,.2f} MiB)",
             "energy: " + ", ".join(f"{k} {v / total:.0%}" for k, v in energy.items()),
             f"compressed weights {f.compressed_weight_bytes / 2**10:,.0f} KiB vs weight SRAM "
             f"{f.sram_weight_bytes / 2**10:,.0f} KiB: "
             + ("all resident (loaded once)" if f.weights_resident else
                f"streamed every pass (resident: {', '.join(f.pinned_layers) or 'none'})"),
             f"cold first frame: {f.cold_frame_energy_uj:,.1f} uJ, {f.cold_frame_latency_ms:,.3f} ms, "
             f"DRAM {f.cold_frame_dram_bytes / 2**20:,.2f} MiB"]
    if a is not None:
        lines.append(f"miss rate (log-average, Caltech reasonable) {miss_rate_text(a)} on {a.dataset}, "
                     f"{a.number_formats}; {a.proposals_per_frame_measured:.1f} proposals/frame measured")
    run = summary.run
    if run is not None:
        lines.append("this run: " + ", ".join(
            part for part in (_stage("compression", run.compression_cached, run.compression_wall_s),
                              None if run.accuracy_cached is None else
                              _stage("accuracy", run.accuracy_cached, run.eval_wall_s),
                              f"simulation {run.simulation_wall_s:.2f} s") if part))
    return "\n".join(lines)


def _stage(name: str, cached: bool, wall_s: float) -> str:
    return f"{name} from the cache" if cached else f"{name} {wall_s:.1f} s"


def interval_text(estimate: float | None, low: float | None, high: float | None) -> str:
    """``55.79% [52.10-59.60%]``; ``n/a`` without an estimate."""
    if estimate is None:
        return "n/a"
    return f"{estimate:.2%} [{low:.2%}-{high:.2%}]"


def miss_rate_text(a: AccuracyFigures) -> str:
    """The miss rate with its interval and the evidence behind it, as every command prints it."""
    return (f"{interval_text(a.miss_rate_lamr, a.miss_rate_lamr_ci_low, a.miss_rate_lamr_ci_high)} "
            f"({a.confidence_level:.0%} interval, {a.bootstrap_resamples} resamples; "
            f"{a.frames_evaluated} frames, {a.positives} positives)")


def subset_lines(rows: list[SubsetRow]) -> list[str]:
    """The miss rate per subset, one line each."""
    lines = [f"{'subset':22s} {'frames':>6s} {'positives':>9s}  miss rate [interval]"]
    for r in rows:
        lines.append(f"{r.subset:22s} {r.frames:6d} {r.positives:9d}  "
                     f"{interval_text(r.miss_rate_lamr, r.miss_rate_lamr_ci_low, r.miss_rate_lamr_ci_high)}")
    return lines
