"""Energy and area reference tables: data files, every figure with a unit and a source.

Two file kinds live in ``hwconfigs/tech/`` (YAML):

- ``kind: entries`` -- hand-entered published figures. Each entry names ``component``, ``action``,
  optional ``params``, ``value``, ``unit`` and its own ``source``; an entry without a source is
  refused, since a figure nobody can trace is worse than none.
- ``kind: grid`` -- a generated sweep (``tools/cacti/generate_table.py``): ``columns`` and ``rows``,
  one table-level ``source`` (tool versions, date, command), ``units`` per column. Each value column
  is an action (``read``, ``write``, ``leakage``, ``area`` ...).

Lookup (`Table.lookup`): parameters not in ``interp_axes`` must match a row exactly (tech node,
ports, part ...). Parameters in ``interp_axes`` (bank size, width, entries ...) are interpolated
between the neighbouring table points, **linearly in log(parameter) and log(value)** -- energy and
area of memories and arithmetic follow power laws in size and width (Horowitz's SRAM points follow
size^0.48), so log-log is exact for a power law and lies between its two neighbours otherwise. At
table points the row is returned unchanged. A request outside the table's range is an error
(`TableRangeError`) naming the range: extrapolating CACTI beyond what was run would be a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accelsim.errors import AccelsimError
from accelsim.resources import tech_dir
from accelsim.units import convert, format_quantity, unit_kind
from accelsim.yamlio import format_validation_error, load_yaml

Param = str | int | float


class TableError(AccelsimError):
    """A table file that does not validate, or a lookup the table cannot answer."""


class TableRangeError(TableError):
    """A lookup outside the parameter range a table covers."""


@dataclass(frozen=True)
class Entry:
    """One figure as used: ``value`` in ``unit``, where it came from, and a key naming the lookup."""

    value: float
    unit: str
    source: str
    key: str
    note: str = ""

    def to(self, unit: str) -> float:
        """The value in another unit of the same kind (``entry.to("pJ")``)."""
        return convert(self.value, self.unit, unit)

    def converted(self, unit: str) -> "Entry":
        return replace(self, value=self.to(unit), unit=unit) if unit != self.unit else self

    def scaled(self, factor: float, why: str) -> "Entry":
        """This figure times ``factor`` (e.g. per bank x 16 banks), saying why in the key."""
        return replace(self, value=self.value * factor, key=f"{self.key} x {why}")

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "unit": self.unit, "source": self.source, "note": self.note}


@dataclass(frozen=True)
class _Record:
    component: str
    action: str
    params: dict[str, Param]
    value: float
    unit: str
    source: str
    note: str = ""


# --- file schemas --------------------------------------------------------------------------------

_Strict = ConfigDict(extra="forbid", frozen=True)


def _check_unit(unit: str) -> str:
    if unit_kind(unit) is None:
        raise ValueError(f"unknown unit '{unit}' (expected e.g. pJ, nJ, pJ/bit, mW, mm2, um2, ns)")
    return unit


class _EntrySpec(BaseModel):
    model_config = _Strict

    component: str
    action: str
    params: dict[str, Param] = {}
    value: float
    unit: str
    source: str = Field(description="where the figure comes from; required")
    note: str = ""

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, v: str) -> str:
        return _check_unit(v)

    @field_validator("source")
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty source; every figure needs one")
        return v


class _EntriesFile(BaseModel):
    model_config = _Strict

    name: str
    kind: Literal["entries"]
    description: str = ""
    interp_axes: dict[str, list[str]] = {}
    entries: list[_EntrySpec] = Field(min_length=1)


class _GridFile(BaseModel):
    model_config = _Strict

    name: str
    kind: Literal["grid"]
    component: str | None = None
    description: str = ""
    source: str
    notes: str = ""
    generated: str = ""
    command: str = ""
    tools: dict[str, str] = {}
    exact_axes: list[str]
    interp_axes: list[str]
    units: dict[str, str]
    columns: list[str]
    rows: list[list[Param | None]] = Field(min_length=1)

    @field_validator("source")
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty source; a generated table must say what produced it")
        return v


# --- the table -----------------------------------------------------------------------------------

@dataclass
class Table:
    name: str
    path: Path
    description: str
    records: list[_Record]
    interp_axes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _by_action: dict[tuple[str, str], list[_Record]] = field(default_factory=dict, init=False, repr=False)
    _memo: dict[tuple, Entry] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Index once: a run looks up a few figures, but sweeps and tests look up thousands.
        for r in self.records:
            self._by_action.setdefault((r.component, r.action), []).append(r)

    def components(self) -> list[str]:
        return sorted({r.component for r in self.records})

    def param_names(self, component: str, action: str) -> set[str]:
        """Every parameter name some figure of ``component.action`` depends on."""
        return {k for r in self._by_action.get((component, action), []) for k in r.params}

    def has(self, component: str, action: str) -> bool:
        return (component, action) in self._by_action

    def lookup(self, component: str, action: str, **params: Param) -> Entry:
        """The figure of ``component.action`` at ``params`` (see the module doc for interpolation)."""
        # Memoised: a sweep asks the same few questions for thousands of design points.
        memo_key = (component, action, tuple(sorted((k, str(v)) for k, v in params.items())))
        if memo_key not in self._memo:
            self._memo[memo_key] = self._lookup(component, action, params)
        return self._memo[memo_key]

    def _lookup(self, component: str, action: str, params: dict[str, Param]) -> Entry:
        where = f"energy table {self.name}: {component}.{action}"
        recs = self._by_action.get((component, action), [])
        if not recs:
            have = sorted({f"{r.component}.{r.action}" for r in self.records})
            raise TableError(f"{where}: no such figure; the table has {', '.join(have)}")
        wanted = set(params)
        recs = [r for r in recs if set(r.params) == wanted]
        if not recs:
            shapes = sorted({", ".join(sorted(r.params)) or "(no parameters)"
                             for r in self._by_action[(component, action)]})
            raise TableError(f"{where}: takes parameters [{'; '.join(shapes)}], got [{', '.join(sorted(wanted)) or 'none'}]")
        axes = tuple(a for a in self.interp_axes.get(component, ()) if a in wanted)
        for name in sorted(wanted - set(axes)):
            value = params[name]
            match = [r for r in recs if _same(r.params[name], value)]
            if not match:
                have = sorted({r.params[name] for r in recs}, key=str)
                raise TableRangeError(f"{where}: no figure for {name}={value}; the table has {name} in {have}")
            recs = match
        key = f"{self.name}:{component}.{action}[{', '.join(f'{k}={_fmt(k, v)}' for k, v in sorted(params.items()))}]"
        if not axes:
            rec = recs[0]
            return Entry(rec.value, rec.unit, rec.source, key, rec.note)
        return self._interpolate(where, key, recs, axes, params)

    def _interpolate(self, where: str, key: str, recs: list[_Record], axes: tuple[str, ...], params: dict) -> Entry:
        brackets: list[tuple[float, float]] = []
        for axis in axes:
            x = float(params[axis])
            grid = sorted({float(r.params[axis]) for r in recs})
            if x <= 0:
                raise TableRangeError(f"{where}: {axis}={x} must be positive")
            if x in grid:
                brackets.append((x, x))
                continue
            if x < grid[0] or x > grid[-1]:
                raise TableRangeError(
                    f"{where}: {axis}={_fmt(axis, x)} is outside the table ({_fmt(axis, grid[0])} .. {_fmt(axis, grid[-1])}); "
                    "regenerate the table over a wider range (tools/cacti) or choose another geometry"
                )
            hi = next(g for g in grid if g > x)
            lo = max(g for g in grid if g < x)
            brackets.append((lo, hi))
        index = {tuple(float(r.params[a]) for a in axes): r for r in recs}
        corners = []  # (weight, record)
        for choice in product((0, 1), repeat=len(axes)):
            point, weight = [], 1.0
            for axis, (lo, hi), side in zip(axes, brackets, choice):
                if lo == hi:
                    if side:
                        weight = 0.0
                    point.append(lo)
                    continue
                t = (math.log(float(params[axis])) - math.log(lo)) / (math.log(hi) - math.log(lo))
                weight *= t if side else 1 - t
                point.append(hi if side else lo)
            if weight == 0.0:
                continue
            rec = index.get(tuple(point))
            if rec is None:
                raise TableRangeError(f"{where}: the table has no point at {dict(zip(axes, point))} to interpolate from")
            corners.append((weight, rec))
        if len(corners) == 1:
            rec = corners[0][1]
            return Entry(rec.value, rec.unit, rec.source, key, rec.note)
        values = [r.value for _, r in corners]
        if all(v > 0 for v in values):
            value = math.exp(sum(w * math.log(r.value) for w, r in corners))
            how = "log-log"
        else:  # a zero figure (e.g. no leakage) cannot be logged; interpolate the value linearly
            value = sum(w * r.value for w, r in corners)
            how = "log-linear"
        sources = list(dict.fromkeys(r.source for _, r in corners))
        span = ", ".join(f"{a} {_fmt(a, lo)}..{_fmt(a, hi)}" for a, (lo, hi) in zip(axes, brackets) if lo != hi)
        return Entry(value, corners[0][1].unit, "; ".join(sources), key, f"{how} interpolation over {span}")


def _same(a: Param, b: Param) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return math.isclose(float(a), float(b), rel_tol=1e-12)


def _fmt(name: str, value: Param) -> str:
    if name.endswith("_bytes") and isinstance(value, (int, float)) and float(value).is_integer():
        return format_quantity(float(value), "size")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- loading -------------------------------------------------------------------------------------

def _from_entries(parsed: _EntriesFile, path: Path) -> Table:
    records = [_Record(e.component, e.action, dict(e.params), e.value, e.unit, e.source, e.note) for e in parsed.entries]
    return Table(parsed.name, path, parsed.description, records, {k: tuple(v) for k, v in parsed.interp_axes.items()})


def _from_grid(parsed: _GridFile, path: Path) -> Table:
    where = str(path)
    axes = [*parsed.exact_axes, *parsed.interp_axes]
    meta = {"method", "component"}
    for col in axes:
        if col not in parsed.columns:
            raise TableError(f"{where}: axis '{col}' is not one of the columns {parsed.columns}")
    if parsed.component is None and "component" not in parsed.columns:
        raise TableError(f"{where}: give a table-level component or a 'component' column")
    value_cols = [c for c in parsed.columns if c not in axes and c not in meta]
    for col in value_cols:
        if col not in parsed.units:
            raise TableError(f"{where}: units: no unit for value column '{col}'")
        try:
            _check_unit(parsed.units[col])
        except ValueError as exc:
            raise TableError(f"{where}: units.{col}: {exc}") from None
    records = []
    for i, row in enumerate(parsed.rows):
        if len(row) != len(parsed.columns):
            raise TableError(f"{where}: rows.{i}: {len(row)} values for {len(parsed.columns)} columns")
        cells = dict(zip(parsed.columns, row))
        component = str(cells.get("component") or parsed.component)
        # A null axis cell means the figure does not depend on that parameter (e.g. an adder has
        # no multiplier width), not that the parameter is unknown.
        params = {a: cells[a] for a in axes if cells[a] is not None}
        note = f"method={cells['method']}" if cells.get("method") else ""
        for col in value_cols:
            value = cells[col]
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TableError(f"{where}: rows.{i}.{col}: {value!r} is not a number")
            records.append(_Record(component, col, params, float(value), parsed.units[col], parsed.source, note))
    interp = tuple(parsed.interp_axes)
    components = {r.component for r in records}
    return Table(parsed.name, path, parsed.description, records, {c: interp for c in components})


def load_table(arg: str | Path) -> Table:
    """A shipped table by name (``cacti-sram``) or a table file by path."""
    path = Path(arg)
    if not path.is_file():
        path = tech_dir() / f"{arg}.yaml"
        if not path.is_file():
            shipped = sorted(p.stem for p in tech_dir().glob("*.yaml"))
            raise TableError(f"energy table '{arg}' is neither a file nor a shipped table; shipped: {', '.join(shipped) or 'none'}")
    return _load_path(path.resolve(), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_path(path: Path, _mtime: int) -> Table:
    # Keyed by modification time so a regenerated table is re-read; tables are parsed once per run.
    try:
        data = load_yaml(path)
    except AccelsimError as exc:
        raise TableError(str(exc)) from None
    if not isinstance(data, dict) or data.get("kind") not in ("entries", "grid"):
        raise TableError(f"{path}: kind: expected 'entries' or 'grid'")
    model = _EntriesFile if data["kind"] == "entries" else _GridFile
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            if err["type"] == "missing" and err["loc"][-1] == "source":
                lines.append(f"{path}: {loc}: no source; every figure needs one (where the number comes from)")
        raise TableError("\n".join(lines) or format_validation_error(str(path), exc)) from None
    return _from_entries(parsed, path) if isinstance(parsed, _EntriesFile) else _from_grid(parsed, path)
