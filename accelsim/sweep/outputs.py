"""The files a reader gets from a sweep (results, layers, Pareto front, recommendation, plot) and
the lines the CLI prints when it ends."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from accelsim.results.records import sweep_columns
from accelsim.results.schema import arrow_schema
from accelsim.sweep.constraints import CONSTRAINT_LABELS, MissRateLimit
from accelsim.sweep.figures import (
    column_floats, fmt_change, fmt_level, fmt_number, fmt_percent, fmt_points, fmt_size, row_float,
)
from accelsim.sweep.pareto import pareto_front
from accelsim.sweep.recommendation import Recommendation, difference_text


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _constraint_text(name: str, limit: object, level: float) -> str:
    if name == "max_miss_rate":
        limit = MissRateLimit.model_validate(limit)
        return f"{limit.describe(level)} ≤ {fmt_percent(limit.value)}"
    return {
        "min_fps": lambda: f"≥ {fmt_number(limit)} frames/s",
        "max_power_mw": lambda: f"power ≤ {fmt_number(limit)} mW",
        "max_sram_bytes": lambda: f"SRAM ≤ {fmt_size(limit)}",
    }[name]()


def _rejected_label(name: str, rec: Recommendation) -> str:
    if name in rec.constraints:
        return _constraint_text(name, rec.constraints[name], rec.level)
    return {"objective": "objective has no value", "failed": "simulation failed"}.get(name, CONSTRAINT_LABELS.get(name, name))


def _miss_rate_text(row: pd.Series) -> str:
    """The miss rate with its interval: a miss rate never travels without it."""
    miss, low, high = (row_float(row, c) for c in ("miss_rate_lamr", "miss_rate_lamr_ci_low", "miss_rate_lamr_ci_high"))
    if math.isnan(miss):
        return "n/a (no dataset)"
    return fmt_percent(miss) if math.isnan(low) else f"{fmt_percent(miss)} ({fmt_percent(low)}–{fmt_percent(high)})"


def _headline(row: pd.Series) -> dict[str, str]:
    """The figures a reader compares, formatted with units."""
    return {
        "energy per frame": f"{fmt_number(row_float(row, 'energy_per_frame_uj'))} µJ",
        "frame rate": f"{fmt_number(row_float(row, 'frames_per_s'))} frames/s",
        "power": f"{fmt_number(row_float(row, 'power_mw'))} mW",
        "miss rate": _miss_rate_text(row),
        "SRAM": fmt_size(row_float(row, "sram_bytes")),
        "area": f"{fmt_number(row_float(row, 'area_mm2'))} mm²",
    }


def _evidence(row: pd.Series) -> dict[str, object]:
    """What the recommendation's miss rate rests on (recommendation.json's ``evidence``)."""
    counts = {c: row_float(row, c) for c in ("frames_evaluated", "positives", "bootstrap_resamples")}
    return {"dataset": _jsonable(row.get("dataset")),
            **{c: int(v) if math.isfinite(v) else None for c, v in counts.items()},
            **{c: _jsonable(row_float(row, c)) for c in (
                "miss_rate_lamr", "miss_rate_lamr_ci_low", "miss_rate_lamr_ci_high", "confidence_level")}}


def _evidence_text(row: pd.Series) -> str | None:
    e = _evidence(row)
    if e["miss_rate_lamr"] is None:
        return None
    return (f"evidence: {e['frames_evaluated']} frames of {e['dataset']}, {e['positives']} pedestrians counted "
            f"(Caltech 'reasonable'); miss rate {fmt_percent(e['miss_rate_lamr'])}, {fmt_level(e['confidence_level'])} "
            f"interval {fmt_percent(e['miss_rate_lamr_ci_low'])}–{fmt_percent(e['miss_rate_lamr_ci_high'])} "
            f"({e['bootstrap_resamples']} bootstrap resamples of the frames)")


def _comparison_cells(row: pd.Series) -> list[str]:
    delta = row_float(row, "miss_rate_delta")
    if math.isnan(delta):
        return ["n/a", "n/a", fmt_change(row["objective_change"])]
    interval = f"{fmt_points(delta)} [{fmt_points(row_float(row, 'miss_rate_delta_ci_low'))}, " \
               f"{fmt_points(row_float(row, 'miss_rate_delta_ci_high'))}]"
    return [interval, "tied" if row["miss_rate_tied"] else "distinguishable", fmt_change(row["objective_change"])]


def _cell(value: object) -> str:
    value = _jsonable(value)
    text = "" if value is None else (fmt_number(value) if isinstance(value, float) else str(value))
    return text.replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _markdown(rec: Recommendation, axes: list[str], title: str) -> str:
    failed = rec.rejected.get("failed", 0)
    lines = [f"# {title}", "",
             f"{rec.n_points} design points evaluated; {rec.n_feasible} meet every constraint; "
             f"{failed} failed to simulate.", "",
             f"Objective: the lowest {rec.objective} among the designs that meet every constraint.", ""]
    if rec.constraints:
        lines += ["Constraints: " + "; ".join(_constraint_text(n, v, rec.level) for n, v in rec.constraints.items())
                  + ".", ""]
    if rec.best is None:
        lines += ["## No design meets every constraint", ""]
    else:
        lines += [f"## Recommended design: {rec.best['point_id']}", ""]
        rows = [[axis, _cell(rec.best.get(axis))] for axis in axes]
        rows += [[name, text] for name, text in _headline(rec.best).items()]
        lines += _table(["", ""], rows) + [""]
        evidence = _evidence_text(rec.best)
        if evidence:
            lines += [evidence[0].upper() + evidence[1:] + ".", ""]
    if rec.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in rec.warnings] + [""]
    compared = [f"Δ miss rate vs recommended (points, paired {fmt_level(rec.level)} interval)", "miss rates",
                "objective vs recommended"]
    if len(rec.runners_up):
        lines += ["## Runners-up", "",
                  "The best design of each other compression variant by objective, and the design with the lowest "
                  "miss rate. Tied: the paired interval of the difference contains 0, so the objective decides.", ""]
        header = ["point", "role", *axes, *_headline(rec.runners_up.iloc[0]), *compared]
        rows = [[_cell(r["point_id"]), r["role"], *(_cell(r.get(a)) for a in axes), *_headline(r).values(),
                 *_comparison_cells(r)] for _, r in rec.runners_up.iterrows()]
        lines += _table(header, rows) + [""]
    if len(rec.near_misses):
        lines += ["## Rejected only on miss rate, at a lower objective", ""]
        header = ["point", *axes, "miss rate", "why rejected", *compared]
        rows = [[_cell(r["point_id"]), *(_cell(r.get(a)) for a in axes), _miss_rate_text(r), _cell(r["violations"]),
                 *_comparison_cells(r)] for _, r in rec.near_misses.iterrows()]
        lines += _table(header, rows) + [""]
    lines += ["## Designs rejected", ""]
    lines += _table(["constraint", "designs rejected"],
                    [[_rejected_label(n, rec), str(c)] for n, c in rec.rejected.items()])
    lines += ["", "A design that fails several constraints is counted under each.", "",
              "## Where the figures come from", "",
              "Energy per frame is the simulator's: every access, lookup and MAC counted in the simulated frame, "
              "priced by the energy table of that design's hardware config (each table entry names its source), "
              "plus leakage and DRAM background power over the frame's latency. Power is the average at the "
              "operating frame rate (the minimum frame rate if one is set, else the design's own): dynamic energy "
              "per frame times frame rate, plus leakage and DRAM background power, which are paid while idle too. "
              "Miss rate is the log-average miss rate measured on the sweep's dataset with each design's decoded "
              "weights, with its percentile bootstrap interval over the frames; differences between two designs "
              "are paired (both recomputed on the same resampled frames). Area is on-chip SRAM, codebook "
              "decoders and MAC array from the same tables (no interconnect or control).", ""]
    return "\n".join(lines)


def _plot(path: Path, evaluated: pd.DataFrame, rec: Recommendation, title: str) -> None:
    # Figure + Agg canvas directly, not pyplot: no global backend switched under a caller's feet.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator

    ok = evaluated[evaluated["status"] == "ok"]
    energy, miss, sram = (column_floats(ok, c) for c in ("energy_per_frame_uj", "miss_rate_lamr", "sram_bytes"))
    feasible = ok["feasible"].to_numpy(dtype=bool)
    on_front = ok.index.isin(pareto_front(ok).index)
    has_miss = not np.isnan(miss).all()
    x = miss * 100 if has_miss else sram

    fig = Figure(figsize=(8, 5.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    finite_sram = sram[np.isfinite(sram) & (sram > 0)]
    coloured = has_miss and len(np.unique(finite_sram)) > 1
    style = {"c": sram, "cmap": "viridis", "norm": LogNorm(finite_sram.min(), finite_sram.max())} if coloured else {
        "color": "tab:blue"}
    for mask, alpha, label in ((~feasible, 0.25, "fails a constraint"), (feasible, 0.9, "meets every constraint")):
        if not mask.any():
            continue
        kw = {k: (v[mask] if k == "c" else v) for k, v in style.items()}
        points = ax.scatter(x[mask], energy[mask], s=18, alpha=alpha, linewidths=0, label=label, **kw)
    if coloured:
        bar = fig.colorbar(points, ax=ax)
        bar.set_label("SRAM size")
        # Sweeps step SRAM in powers of two: label the sizes swept, not decades of bytes.
        sizes = np.unique(finite_sram)
        bar.ax.yaxis.set_major_locator(FixedLocator(sizes) if len(sizes) <= 12 else LogLocator(base=2))
        bar.ax.yaxis.set_minor_locator(NullLocator())
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_size(v) if v >= 1 else ""))
    ax.scatter(x[on_front], energy[on_front], s=60, facecolors="none", edgecolors="black", linewidths=1.0,
               label="Pareto front (energy, miss rate, SRAM)" if has_miss else "Pareto front (energy, SRAM)")
    handles = ax.get_legend_handles_labels()[0]
    if rec.best is not None:
        bx = row_float(rec.best, "miss_rate_lamr") * 100 if has_miss else row_float(rec.best, "sram_bytes")
        ax.scatter([bx], [row_float(rec.best, "energy_per_frame_uj")], marker="*", s=260, color="red",
                   edgecolors="black", zorder=5)
        handles.append(Line2D([], [], marker="*", color="red", markeredgecolor="black", linestyle="none",
                              markersize=14, label=f"recommended ({rec.best['point_id']})"))
    if has_miss:
        ax.set_xlabel("log-average miss rate (%)")
    else:
        if len(np.unique(finite_sram)) > 1:  # a log axis over one value has no range to scale
            ax.set_xscale("log", base=2)
            ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_size(v)))
        ax.set_xlabel("SRAM size (sweep has no dataset: no miss rate)")
    finite_energy = energy[np.isfinite(energy) & (energy > 0)]
    if len(finite_energy) and finite_energy.max() > 30 * finite_energy.min():
        ax.set_yscale("log")
    ax.set_ylabel("energy per frame (µJ)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` with the schema's types, units and descriptions on the known columns; axis
    columns get the type of their values."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    known = {c.name: c for c in sweep_columns()}
    out = frame.copy()
    fields = dict(zip(known, arrow_schema(list(known.values()))))
    for name in out.columns:
        if name in known:
            continue
        # An axis may mix types (64 and "64KiB" in one column); Parquet columns have one type.
        kinds = {type(v) for v in out[name] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if out[name].dtype == object and len(kinds) > 1 and not kinds <= {int, float}:
            out[name] = [v if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in out[name]]
        fields[name] = pa.Table.from_pandas(out[[name]], preserve_index=False).schema.field(name)
    schema = pa.schema([fields[name] for name in out.columns])
    pq.write_table(pa.Table.from_pandas(out, schema=schema, preserve_index=False), path)


def write_outputs(out_dir: Path, evaluated: pd.DataFrame, layers: pd.DataFrame, recommendation: Recommendation,
                  axes: list[str], title: str) -> list[Path]:
    """Write results.csv/.parquet, layers.csv (when there are layer rows), pareto.csv,
    recommendation.json/.md and pareto.png into ``out_dir``; return the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def path(name: str) -> Path:
        written.append(out_dir / name)
        return written[-1]

    evaluated.to_csv(path("results.csv"), index=False)
    _parquet(evaluated, path("results.parquet"))
    if layers is not None and len(layers):
        layers.to_csv(path("layers.csv"), index=False)
    pareto_front(evaluated).to_csv(path("pareto.csv"), index=False)
    rec = recommendation
    document = {
        "title": title, "n_points": rec.n_points, "n_feasible": rec.n_feasible, "objective": rec.objective,
        "constraints": rec.constraints, "axes": axes,
        "confidence_level": rec.level,
        "best": None if rec.best is None else rec.best.to_dict(),
        "evidence": None if rec.best is None else _evidence(rec.best),
        "warnings": list(rec.warnings),
        "runners_up": rec.runners_up.to_dict("records"),
        "near_misses": rec.near_misses.to_dict("records"),
        "rejected": rec.rejected,
    }
    path("recommendation.json").write_text(json.dumps(_jsonable(document), indent=2, allow_nan=False) + "\n")
    path("recommendation.md").write_text(_markdown(rec, axes, title))
    _plot(path("pareto.png"), evaluated, rec, title)
    return written


def text_summary(recommendation: Recommendation, axes: list[str]) -> str:
    """The lines the CLI prints when a sweep ends."""
    rec = recommendation
    lines = [f"{rec.n_points} design points: {rec.n_feasible} meet every constraint, "
             f"{rec.rejected.get('failed', 0)} failed"]
    if rec.best is None:
        lines.append("no design meets every constraint")
    else:
        settings = ", ".join(f"{a}={_cell(rec.best.get(a))}" for a in axes)
        lines.append(f"recommended {rec.best['point_id']}: {settings}")
        lines.append("  " + ", ".join(f"{k} {v}" for k, v in _headline(rec.best).items()))
        evidence = _evidence_text(rec.best)
        if evidence:
            lines.append("  " + evidence)
        compared = pd.concat([rec.runners_up, rec.near_misses])
        if len(compared):
            lines.append("against the recommendation (miss rate: theirs minus the recommended one's, paired):")
        for _, r in compared.iterrows():
            settings = ", ".join(f"{a}={_cell(r.get(a))}" for a in axes)
            lines.append(f"  {r['role']} {r['point_id']} ({settings}): miss rate {_miss_rate_text(r)}, "
                         f"{difference_text(r, rec.level)}; objective {fmt_change(r['objective_change'])}")
    rejected = [f"{_rejected_label(n, rec)}: {c}" for n, c in rec.rejected.items() if n != "failed"]
    if rejected:
        lines.append("rejected by " + "; ".join(rejected))
    lines += [f"warning: {w}" for w in rec.warnings]
    return "\n".join(lines)
