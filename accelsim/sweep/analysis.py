"""From a sweep's results table to a decision: constraints, the objective, the Pareto front, the
recommended design and the files a reader gets (results, Pareto front, recommendation, plot).

The recommendation is the design that meets every constraint at the lowest objective; each
rejected design says which constraints it failed and by how much, with units, so a reader can see
whether a target is the one that prunes the design space.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accelsim.results.records import design_point_columns, sweep_columns
from accelsim.results.schema import arrow_schema
from accelsim.units import format_quantity, parse_bytes, parse_quantity

# Columns a weighted objective may combine: the numeric figures of a design point.
METRIC_COLUMNS = tuple(c.name for c in design_point_columns() if c.type in (int, float))
PARETO_COLUMNS = ("energy_per_frame_uj", "miss_rate_lamr", "sram_bytes")

_FINITE = Field(allow_inf_nan=False)
_POSITIVE = Field(gt=0, allow_inf_nan=False)


class Constraints(BaseModel):
    """Targets a recommended design must meet; None means no target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_miss_rate: Annotated[float, _POSITIVE, Field(le=1)] | None = None  # fraction; "60%" accepted
    min_fps: Annotated[float, _POSITIVE] | None = None  # frames/s
    max_power_mw: Annotated[float, _POSITIVE] | None = None  # mW at the operating rate (see power_mw); "0.5W" accepted
    max_sram_bytes: Annotated[int, Field(gt=0)] | None = None  # total on-chip SRAM; "1MiB" accepted

    @field_validator("max_miss_rate", mode="before")
    @classmethod
    def _percent(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        number = text[:-1].strip() if text.endswith("%") else None
        try:
            return float(number) / 100
        except (TypeError, ValueError):
            raise ValueError(f"'{value}' is not a miss rate: give a fraction (0.6) or a percentage ('60%')") from None

    @field_validator("max_power_mw", mode="before")
    @classmethod
    def _power(cls, value: object) -> object:
        return parse_quantity(value, "power") * 1e3 if isinstance(value, str) else value

    @field_validator("max_sram_bytes", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        return parse_bytes(value) if isinstance(value, str) else value


class Objective(BaseModel):
    """What the recommendation minimises among the designs that meet every constraint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minimise: Literal["energy", "area", "weighted"] = "energy"
    # Only for "weighted": result column -> weight, e.g. {"energy_per_frame_uj": 1.0, "area_mm2": 50.0}.
    weights: dict[str, Annotated[float, _FINITE]] = {}

    @model_validator(mode="after")
    def _weights_fit(self) -> Objective:
        if self.minimise != "weighted":
            if self.weights:
                raise ValueError(f"weights apply only to minimise: weighted, not to minimise: {self.minimise}")
            return self
        if not self.weights:
            raise ValueError(
                "minimise: weighted needs weights, {column: weight}, e.g. {energy_per_frame_uj: 1.0, area_mm2: 50.0}")
        for column in self.weights:
            if column not in METRIC_COLUMNS:
                raise ValueError(f"weights: unknown column {column!r}; known: {', '.join(METRIC_COLUMNS)}")
        return self

    def describe(self) -> str:
        """What is minimised, in words with units."""
        if self.minimise == "energy":
            return "energy per frame (µJ)"
        if self.minimise == "area":
            return "area (mm²)"
        return "weighted cost " + " + ".join(f"{w:g} × {c}" for c, w in self.weights.items())


_OBJECTIVE_COLUMN = {"energy": "energy_per_frame_uj", "area": "area_mm2"}

# Constraint name -> what a reader calls it; the order is the order of checks and of every table.
_CONSTRAINT_LABELS = {
    "max_miss_rate": "miss rate", "min_fps": "frame rate", "max_power_mw": "power", "max_sram_bytes": "SRAM size",
}


def _column(results: pd.DataFrame, name: str, default: float = math.nan) -> np.ndarray:
    # Failed points and sweeps without a dataset leave None/NaN (object columns); compare as floats.
    if name not in results.columns:
        return np.full(len(results), default)
    return pd.to_numeric(results[name], errors="coerce").to_numpy(dtype=float, na_value=math.nan)


def _operating_rate(results: pd.DataFrame, constraints: Constraints) -> np.ndarray:
    fps = _column(results, "frames_per_s")
    if constraints.min_fps is None:
        return fps
    # A design slower than min_fps cannot run at it; it runs flat out (and fails min_fps).
    return np.where(fps >= constraints.min_fps, constraints.min_fps, fps)


def power_mw(results: pd.DataFrame, constraints: Constraints) -> pd.Series:
    """Average power (mW) of each design running at the operating rate R.

    R is ``constraints.min_fps`` when set and the design reaches it, else the design's own
    ``frames_per_s``. Leakage (``energy_leakage_pj``) and DRAM background + refresh
    (``dram_background_pj``, 0 where absent) are paid all the time; the rest of a frame's energy
    is paid once per frame. With S the static energy of one frame (pJ) and T its latency (ns):

        P_static  = S / T                              pJ/ns = mW
        P_dynamic = (E_frame - S) × R                  µJ × 1/s = µW, so × 1e-3 for mW
                    (E_frame in µJ, S × 1e-6 in µJ)
        P         = P_dynamic + P_static

    At R = 1/T this is E_frame / T, the power while running flat out; below it the chip idles
    between frames and pays only static power there (no power gating is modelled).
    """
    energy_uj = _column(results, "energy_per_frame_uj")
    latency_ns = _column(results, "latency_per_frame_ms") * 1e6
    static_pj = _column(results, "energy_leakage_pj") + np.nan_to_num(_column(results, "dram_background_pj", 0.0))
    dynamic_mw = (energy_uj - static_pj * 1e-6) * _operating_rate(results, constraints) * 1e-3
    return pd.Series(dynamic_mw + static_pj / latency_ns, index=results.index, name="power_mw")


def _objective(results: pd.DataFrame, objective: Objective) -> np.ndarray:
    if objective.minimise in _OBJECTIVE_COLUMN:
        return _column(results, _OBJECTIVE_COLUMN[objective.minimise])
    return sum(weight * _column(results, name) for name, weight in objective.weights.items())


def _fmt(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, without exponent or trailing zeros."""
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pair(value: float, limit: float, fmt) -> tuple[str, str]:
    # "30 frames/s < 30 frames/s" would read as a bug: add digits until the two differ.
    for digits in range(3, 16):
        a, b = fmt(value, digits), fmt(limit, digits)
        if a != b:
            return a, b
    return a, b


def _percent(value: float, digits: int = 3) -> str:
    return f"{value * 100:.{digits - 2}f}%"


def _size(n_bytes: float) -> str:
    if not math.isfinite(n_bytes):
        return "n/a"
    number, unit = re.match(r"([-\d.]+)(.*)", format_quantity(int(n_bytes), "size")).groups()
    return f"{number} {unit}"


def _violations(row: dict, constraints: Constraints) -> list[tuple[str, str]]:
    """(constraint name, message) for each constraint an "ok" point fails."""
    found = []
    miss, fps = row["miss_rate_lamr"], row["frames_per_s"]
    power, sram = row["power_mw"], row["sram_bytes"]
    if constraints.max_miss_rate is not None:
        if math.isnan(miss):
            found.append(("max_miss_rate", "no miss rate (sweep has no dataset)"))
        elif miss > constraints.max_miss_rate:
            a, b = _pair(miss, constraints.max_miss_rate, _percent)
            found.append(("max_miss_rate", f"miss rate {a} > {b}"))
    if constraints.min_fps is not None and not fps >= constraints.min_fps:
        a, b = _pair(fps, constraints.min_fps, _fmt)
        found.append(("min_fps", f"{a} frames/s < {b} frames/s"))
    if constraints.max_power_mw is not None and not power <= constraints.max_power_mw:
        a, b = _pair(power, constraints.max_power_mw, _fmt)
        found.append(("max_power_mw", f"power {a} mW > {b} mW"))
    if constraints.max_sram_bytes is not None and not sram <= constraints.max_sram_bytes:
        found.append(("max_sram_bytes", f"SRAM {_size(sram)} > {_size(constraints.max_sram_bytes)}"))
    return found


def evaluate(results: pd.DataFrame, constraints: Constraints, objective: Objective) -> pd.DataFrame:
    """A copy of ``results`` with ``power_mw``, ``objective``, ``feasible``, ``violations`` (messages
    with both values and units, "; "-joined, "" when feasible) and ``violated`` (the failed
    constraints' names, ","-joined: ``max_miss_rate``, ``min_fps``, ``max_power_mw``,
    ``max_sram_bytes``, ``objective`` where the objective has no value, or ``failed``)."""
    out = results.copy()
    ok = (out["status"] == "ok").to_numpy()
    out["power_mw"] = np.where(ok, power_mw(results, constraints), math.nan)
    out["objective"] = np.where(ok, _objective(results, objective), math.nan)
    checked = pd.DataFrame({
        "miss_rate_lamr": _column(results, "miss_rate_lamr"), "frames_per_s": _column(results, "frames_per_s"),
        "sram_bytes": _column(results, "sram_bytes"), "power_mw": out["power_mw"].to_numpy(),
        "objective": out["objective"].to_numpy(),
    })
    messages, names = [], []
    for is_ok, error, row in zip(ok, out["error"], checked.to_dict("records")):
        if not is_ok:
            found = [("failed", f"failed: {error}")]
        else:
            found = _violations(row, constraints)
            if math.isnan(row["objective"]):
                found.append(("objective", f"no value for the objective, {objective.describe()}"))
        names.append(",".join(name for name, _ in found))
        messages.append("; ".join(message for _, message in found))
    out["feasible"] = np.array([not n for n in names], dtype=bool)
    out["violations"] = messages
    out["violated"] = names
    return out


def _non_dominated(values: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``values`` (n × k, minimised) that no other row dominates.

    A column with one value for every row decides nothing and is dropped. Rows are then visited in
    lexicographic order: a dominating row is lexicographically smaller, so it has been visited, and
    by transitivity some row already on the front dominates too; each row is compared with the
    front only (O(n × front)); two columns need one pass (O(n log n))."""
    values = values[:, [j for j in range(values.shape[1]) if np.any(values[:, j] != values[0, j])]]
    n, k = values.shape
    if k == 0:
        return np.ones(n, dtype=bool)
    order = np.lexsort(values.T[::-1])
    if k == 1:
        return values[:, 0] == values[order[0], 0]
    if k == 2:
        return _non_dominated_2d(values, order)
    keep = np.zeros(n, dtype=bool)
    front = np.empty((n, k))
    size = 0
    for i in order:
        v = values[i]
        f = front[:size]
        if size and np.any(np.all(f <= v, axis=1) & np.any(f < v, axis=1)):
            continue
        front[size] = v
        size += 1
        keep[i] = True
    return keep


def _non_dominated_2d(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    # In (x, y) order a row is dominated by a row of smaller x with y no larger, or by a row of the
    # same x with smaller y (the first of its x group holds the group's least y).
    keep = np.zeros(len(values), dtype=bool)
    least_y_left = None  # least y over all rows of smaller x
    group_x = group_least_y = None
    for i in order:
        x, y = values[i]
        if x != group_x:
            if group_x is not None:
                least_y_left = group_least_y if least_y_left is None else min(least_y_left, group_least_y)
            group_x, group_least_y = x, y
        keep[i] = y == group_least_y and (least_y_left is None or y < least_y_left)
    return keep


def pareto_front(results: pd.DataFrame, columns: tuple[str, ...] = PARETO_COLUMNS) -> pd.DataFrame:
    """The "ok" points that no other ok point dominates in ``columns`` (all minimised), sorted by
    the first compared column, then index. Columns without any value (no dataset: no miss rate)
    are left out of the comparison; a missing value counts as worst. Points with identical values
    are all kept."""
    ok = results[results["status"] == "ok"]
    used = [c for c in columns if not np.isnan(_column(ok, c)).all()]
    if not used or ok.empty:
        return ok.sort_values("index", kind="stable")
    values = np.column_stack([np.nan_to_num(_column(ok, c), nan=math.inf) for c in used])
    front = ok[_non_dominated(values)]
    return front.sort_values([used[0], "index"], kind="stable", key=lambda s: pd.to_numeric(s, errors="coerce"))


@dataclass(frozen=True)
class Recommendation:
    """The best feasible design, the next ones, and why the others were rejected."""

    best: pd.Series | None
    runners_up: pd.DataFrame
    rejected: dict[str, int]  # constraint name (or "objective", "failed") -> designs failing it
    n_points: int
    n_feasible: int
    constraints: dict[str, float] = field(default_factory=dict)  # the targets that were set
    objective: str = Objective().describe()


def recommend(evaluated: pd.DataFrame, runners_up: int = 4, *, constraints: Constraints | None = None,
              objective: Objective | None = None) -> Recommendation:
    """The feasible design with the lowest objective (ties: lowest index), the next ``runners_up``,
    and per constraint the number of designs failing it (a design failing two counts under both).

    ``constraints`` and ``objective``, when given, are those ``evaluated`` was made with: the
    rejected counts then list every constraint set, 0 included, and the outputs state the targets."""
    feasible = evaluated[evaluated["feasible"].astype(bool)].sort_values(["objective", "index"], kind="stable")
    counts: dict[str, int] = {}
    for names in evaluated["violated"]:
        for name in filter(None, names.split(",")):
            counts[name] = counts.get(name, 0) + 1
    targets = {} if constraints is None else constraints.model_dump(exclude_none=True)
    order = [*_CONSTRAINT_LABELS, "objective"]
    rejected = {name: counts.get(name, 0) for name in order if name in targets or counts.get(name)}
    rejected["failed"] = counts.get("failed", 0)
    return Recommendation(
        best=feasible.iloc[0] if len(feasible) else None,
        runners_up=feasible.iloc[1:1 + runners_up],
        rejected=rejected, n_points=len(evaluated), n_feasible=len(feasible), constraints=targets,
        objective=(objective or Objective()).describe(),
    )


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


def _constraint_text(name: str, limit: float) -> str:
    return {
        "max_miss_rate": lambda: f"miss rate ≤ {_percent(limit)}",
        "min_fps": lambda: f"≥ {_fmt(limit)} frames/s",
        "max_power_mw": lambda: f"power ≤ {_fmt(limit)} mW",
        "max_sram_bytes": lambda: f"SRAM ≤ {_size(limit)}",
    }[name]()


def _rejected_label(name: str, constraints: dict[str, float]) -> str:
    if name in constraints:
        return _constraint_text(name, constraints[name])
    return {"objective": "objective has no value", "failed": "simulation failed"}.get(name, _CONSTRAINT_LABELS.get(name, name))


def _metric(row: pd.Series, name: str) -> float:
    value = row.get(name)
    try:
        return float(value)
    except (TypeError, ValueError):  # None, or absent from a sweep without that metric
        return math.nan


def _headline(row: pd.Series) -> dict[str, str]:
    """The figures a reader compares, formatted with units."""
    miss = _metric(row, "miss_rate_lamr")
    return {
        "energy per frame": f"{_fmt(_metric(row, 'energy_per_frame_uj'))} µJ",
        "frame rate": f"{_fmt(_metric(row, 'frames_per_s'))} frames/s",
        "power": f"{_fmt(_metric(row, 'power_mw'))} mW",
        "miss rate": "n/a (no dataset)" if math.isnan(miss) else _percent(miss),
        "SRAM": _size(_metric(row, "sram_bytes")),
        "area": f"{_fmt(_metric(row, 'area_mm2'))} mm²",
    }


def _cell(value: object) -> str:
    value = _jsonable(value)
    text = "" if value is None else (_fmt(value) if isinstance(value, float) else str(value))
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
        lines += ["Constraints: " + "; ".join(_constraint_text(n, v) for n, v in rec.constraints.items()) + ".", ""]
    if rec.best is None:
        lines += ["## No design meets every constraint", ""]
    else:
        lines += [f"## Recommended design: {rec.best['point_id']}", ""]
        rows = [[axis, _cell(rec.best.get(axis))] for axis in axes]
        rows += [[name, text] for name, text in _headline(rec.best).items()]
        lines += _table(["", ""], rows) + [""]
    if len(rec.runners_up):
        lines += ["## Runners-up", ""]
        header = ["point", *axes, *_headline(rec.runners_up.iloc[0])]
        rows = [[_cell(r["point_id"]), *(_cell(r.get(a)) for a in axes), *_headline(r).values()]
                for _, r in rec.runners_up.iterrows()]
        lines += _table(header, rows) + [""]
    lines += ["## Designs rejected", ""]
    lines += _table(["constraint", "designs rejected"],
                    [[_rejected_label(n, rec.constraints), str(c)] for n, c in rec.rejected.items()])
    lines += ["", "A design that fails several constraints is counted under each.", "",
              "## Where the figures come from", "",
              "Energy per frame is the simulator's: every access, lookup and MAC counted in the simulated frame, "
              "priced by the energy table of that design's hardware config (each table entry names its source), "
              "plus leakage and DRAM background power over the frame's latency. Power is the average at the "
              "operating frame rate (the minimum frame rate if one is set, else the design's own): dynamic energy "
              "per frame times frame rate, plus leakage and DRAM background power, which are paid while idle too. "
              "Miss rate is the log-average miss rate measured on the sweep's dataset with each design's decoded "
              "weights. Area is on-chip SRAM, codebook decoders and MAC array from the same tables (no interconnect or control).", ""]
    return "\n".join(lines)


def _plot(path: Path, evaluated: pd.DataFrame, rec: Recommendation, title: str) -> None:
    # Figure + Agg canvas directly, not pyplot: no global backend switched under a caller's feet.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator

    ok = evaluated[evaluated["status"] == "ok"]
    energy, miss, sram = (_column(ok, c) for c in ("energy_per_frame_uj", "miss_rate_lamr", "sram_bytes"))
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
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _size(v) if v >= 1 else ""))
    ax.scatter(x[on_front], energy[on_front], s=60, facecolors="none", edgecolors="black", linewidths=1.0,
               label="Pareto front (energy, miss rate, SRAM)" if has_miss else "Pareto front (energy, SRAM)")
    handles = ax.get_legend_handles_labels()[0]
    if rec.best is not None:
        bx = _metric(rec.best, "miss_rate_lamr") * 100 if has_miss else _metric(rec.best, "sram_bytes")
        ax.scatter([bx], [_metric(rec.best, "energy_per_frame_uj")], marker="*", s=260, color="red",
                   edgecolors="black", zorder=5)
        handles.append(Line2D([], [], marker="*", color="red", markeredgecolor="black", linestyle="none",
                              markersize=14, label=f"recommended ({rec.best['point_id']})"))
    if has_miss:
        ax.set_xlabel("log-average miss rate (%)")
    else:
        if len(np.unique(finite_sram)) > 1:  # a log axis over one value has no range to scale
            ax.set_xscale("log", base=2)
            ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _size(v)))
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
        "best": None if rec.best is None else rec.best.to_dict(),
        "runners_up": rec.runners_up.to_dict("records"), "rejected": rec.rejected,
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
    rejected = [f"{_rejected_label(n, rec.constraints)}: {c}" for n, c in rec.rejected.items() if n != "failed"]
    if rejected:
        lines.append("rejected by " + "; ".join(rejected))
    return "\n".join(lines)
