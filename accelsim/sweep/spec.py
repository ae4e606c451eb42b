"""The sweep spec: a base design, axes over any hardware-config or compression-plan path, sampling,
constraints and an objective; and the design points it expands to.

A spec file (YAML)::

    name: sram-vs-clusters
    hardware: embedded-45nm            # shipped name, or a path (relative to the spec's folder)
    hardware_overrides:                # fixed changes to the base, applied before the axes
      sram.split.weights: 75%
    model: deepped-small
    plan: deepped-small                # default: the model's shipped plan
    dataset: synthetic                 # or caltech:DIR, coco:FILE, none (no miss rate)
    frames: 200                        # frames evaluated per compression variant
    axes:
      sram.size: [64KiB, 512KiB, 8MiB]            # any hardware-config path
      plan.groups.conv.clusters: [8, 32, 256]     # any plan path: defaults.*, groups.G.*, layers.L.*, finetune.*
      plan.sparsity: [0, 0.5, 0.9]                # shorthand: every layer's pruned fraction
    sampling: {method: grid}           # or {method: random, points: 500, seed: 0}
    constraints: {max_miss_rate: 60%, min_fps: 30, max_power_mw: 500, max_sram_bytes: 2MiB}
    objective: {minimise: energy}      # energy | area | weighted (with weights: {column: weight})
    intervals: {level: 95%, resamples: 1000, seed: 0}   # the miss rate's bootstrap intervals (these are the defaults)

``max_miss_rate`` constrains the point estimate (``60%``), the upper end of the interval
(``50% at 95%``, or ``{value: 50%, at: upper_bound}`` at ``intervals.level``), or the estimate plus a
margin (``{value: 50%, margin: 3%}``); `accelsim.sweep.recommendation` says how ties and thin evidence
are reported. ``50% at 90%`` sets the intervals' level to 90% when the spec has no ``intervals``, and must
agree with ``intervals.level`` when it has.

Axis paths that start with ``plan.`` change the compression plan; every other path names a field of
the hardware config. Points that differ only in hardware axes share one compression *variant*: it is
compressed and evaluated for accuracy once, and only the simulation runs per point.

Each axis value is checked on its own against the base design when the spec is loaded, so a typo
(``64KB``, ``clusters: 1``) is refused at once, naming the axis and the value. A combination of values
that is invalid together (a weight share larger than the SRAM) fails only that design point, which
the sweep records with its error.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from accelsim.compress.layers import compressible_layers
from accelsim.compress.plan import CompressionPlan, FinetuneSettings, LayerSettings, PruningSchedule, load_plan
from accelsim.config.hardware import HardwareConfig, parse_hwconfig
from accelsim.detect.intervals import DEFAULT_SPEC, IntervalSpec
from accelsim.errors import AccelsimError, SweepError
from accelsim.detect.datasets import open_dataset
from accelsim.model import ModelEntry, get_model
from accelsim.pipeline.simulation import bounded_proposals, build_target
from accelsim.resources import hwconfigs_dir, resolve_named_file
from accelsim.sweep.constraints import Constraints, Objective, parse_fraction
from accelsim.yamlio import format_validation_error, load_yaml

_Strict = ConfigDict(extra="forbid", frozen=True)

PLAN_PREFIX = "plan."
# ``plan.sparsity`` sets every layer's pruned fraction; 0 also stores every layer densely, because a
# relative-position index with nothing to skip only adds bits (an unpruned design has no index).
SPARSITY_SHORTHAND = "plan.sparsity"


class Sampling(BaseModel):
    model_config = _Strict

    method: Literal["grid", "random"] = "grid"
    points: int | None = Field(None, ge=1, description="design points drawn without replacement (random only)")
    seed: int = 0

    @model_validator(mode="after")
    def _points_for_random(self):
        if self.method == "random" and self.points is None:
            raise ValueError("random sampling needs points: how many design points to draw")
        if self.method == "grid" and self.points is not None:
            raise ValueError("grid sampling runs every combination; points is for method: random")
        return self


class Intervals(BaseModel):
    """How the miss rate's bootstrap intervals, and the paired ones between variants, are computed."""

    model_config = _Strict

    level: float = DEFAULT_SPEC.level  # "95%" accepted
    resamples: int = DEFAULT_SPEC.resamples
    seed: int = DEFAULT_SPEC.seed

    @field_validator("level", mode="before")
    @classmethod
    def _percent(cls, value: object) -> object:
        return parse_fraction(value, "confidence level")

    @model_validator(mode="after")
    def _valid(self) -> Intervals:
        self.spec()  # IntervalSpec's own checks, reported against this field
        return self

    def spec(self) -> IntervalSpec:
        return IntervalSpec(self.level, self.resamples, self.seed)


class SweepSpec(BaseModel):
    model_config = _Strict

    name: str
    description: str = ""
    hardware: str
    hardware_overrides: dict[str, Any] = {}
    model: str = "deepped-small"
    plan: str | None = None
    dataset: str | None = "synthetic"
    frames: int | None = Field(None, ge=1)
    proposals: int = Field(10, description="proposals per frame when there is no dataset to measure them")
    axes: dict[str, list[Any]]
    sampling: Sampling = Sampling()
    constraints: Constraints = Constraints()
    objective: Objective = Objective()
    intervals: Intervals | None = None  # None: 95%, or the level of a "max_miss_rate: X at LEVEL"

    _proposals = field_validator("proposals")(bounded_proposals)


@dataclass(frozen=True)
class DesignPoint:
    index: int  # position in the full grid, so random samples keep the grid's order
    values: tuple[tuple[str, Any], ...]  # (axis path, value), in the spec's axis order

    @cached_property
    def point_id(self) -> str:
        return _digest([list(v) for v in self.values])

    @property
    def hardware_values(self) -> dict[str, Any]:
        return {k: v for k, v in self.values if not k.startswith(PLAN_PREFIX)}

    @property
    def plan_values(self) -> dict[str, Any]:
        return {k: v for k, v in self.values if k.startswith(PLAN_PREFIX)}

    @cached_property
    def variant(self) -> str:
        """Key of this point's compression variant: equal for points that differ only in hardware."""
        return _digest(sorted(self.plan_values.items()))


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Sweep:
    """A loaded, validated spec with its base hardware and plan; expands to design points."""

    def __init__(self, spec: SweepSpec, source: str, folder: Path):
        self.spec, self.source = spec, source
        if not spec.axes:
            raise SweepError(f"{source}: axes: no axes; give at least one path with its values")
        try:
            self.model = get_model(spec.model)
        except AccelsimError as exc:
            raise SweepError(f"{source}: model: {exc}") from None
        hw_path = _resolve(spec.hardware, folder, hwconfigs_dir(), "hardware config", source, "hardware")
        raw = load_yaml(hw_path)
        if not isinstance(raw, dict):
            raise SweepError(f"{source}: hardware: {hw_path} is not a mapping of hardware config fields")
        raw.setdefault("name", hw_path.stem)
        self.hardware_name = raw["name"]
        for path in spec.hardware_overrides:
            _check_hardware_path(path, source, "hardware_overrides")
        self._hw_base = _with_values(raw, spec.hardware_overrides)
        self.base_hardware = self._parse_hardware(self._hw_base, f"{source}: hardware_overrides (on {hw_path})")

        plan_arg = spec.plan or self.model.default_plan
        if plan_arg is None:
            raise SweepError(f"{source}: plan: model '{spec.model}' has no shipped plan; name one")
        try:
            self.base_plan = load_plan(_local(plan_arg, folder))
        except AccelsimError as exc:
            raise SweepError(f"{source}: plan: {exc}") from None
        self.layer_names = _layer_names(self.model)

        self.dataset = None if spec.dataset in (None, "none") else spec.dataset
        if self.dataset is not None and self.model.detector_dir is None:
            raise SweepError(f"{source}: dataset: model '{spec.model}' has no detector to evaluate; "
                             "use a detector model such as deepped-small, or dataset: none")
        if self.dataset is not None:
            try:  # every variant evaluates on it: a bad one would fail every point after compressing
                open_dataset(self.dataset)
            except AccelsimError as exc:
                raise SweepError(f"{source}: dataset: {exc}") from None
        if self.dataset is None and spec.constraints.max_miss_rate is not None:
            raise SweepError(f"{source}: constraints.max_miss_rate: the sweep has no dataset, so no miss rate "
                             "to constrain; set dataset or drop the constraint")
        self.intervals = self._interval_spec()
        self._check_axes()

    # --- validation ---------------------------------------------------------------------------

    def _interval_spec(self) -> IntervalSpec:
        limit, given = self.spec.constraints.max_miss_rate, self.spec.intervals
        level = None if limit is None else limit.level
        if given is None:
            return DEFAULT_SPEC if level is None else IntervalSpec(level=level)
        if level is not None and level != given.level:
            raise SweepError(f"{self.source}: constraints.max_miss_rate: asks for the upper end of a {level * 100:g}% "
                             f"interval, but intervals.level is {given.level * 100:g}%; make them agree")
        return given.spec()

    def _check_axes(self) -> None:
        src = self.source
        for path, values in self.spec.axes.items():
            where = f"{src}: axes.{path}"
            if not isinstance(values, list) or not values:
                raise SweepError(f"{where}: empty axis; give at least one value")
            seen = set()
            for v in values:
                key = json.dumps(v, sort_keys=True, default=str)
                if key in seen:
                    raise SweepError(f"{where}: value {v!r} is listed twice")
                seen.add(key)
            if path.startswith(PLAN_PREFIX):
                _check_plan_path(path, self.base_plan, self.layer_names, where)
                for v in values:
                    self.plan_for({path: v}, where=f"{where}: value {v!r}")
            else:
                _check_hardware_path(path, src, "axes")
                for v in values:
                    self._parse_hardware(_with_values(self._hw_base, {path: v}), f"{where}: value {v!r}")

    @staticmethod
    def _parse_hardware(raw: dict, where: str) -> HardwareConfig:
        """The config, with its energy table figures built: a tech node or component the tables do not
        cover is refused here, not in every point after compressing."""
        try:
            config = parse_hwconfig(raw, where)
            build_target(config)
        except AccelsimError as exc:
            raise SweepError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
        return config

    # --- points -------------------------------------------------------------------------------

    @property
    def axis_sizes(self) -> list[int]:
        return [len(v) for v in self.spec.axes.values()]

    @property
    def grid_size(self) -> int:
        return math.prod(self.axis_sizes)

    def points(self) -> list[DesignPoint]:
        axes = list(self.spec.axes.items())
        s = self.spec.sampling
        if s.method == "grid":
            combos = enumerate(itertools.product(*(values for _, values in axes)))
            return [DesignPoint(i, tuple((p, v) for (p, _), v in zip(axes, combo))) for i, combo in combos]
        total = self.grid_size
        n = min(s.points, total)
        chosen = np.sort(np.random.default_rng(s.seed).choice(total, size=n, replace=False))
        return [DesignPoint(int(i), tuple(zip([p for p, _ in axes], self._decode(int(i), axes)))) for i in chosen]

    @staticmethod
    def _decode(index: int, axes: list[tuple[str, list]]) -> list[Any]:
        """Grid index -> one value per axis (the last axis varies fastest, as in itertools.product)."""
        picked = []
        for _, values in reversed(axes):
            index, r = divmod(index, len(values))
            picked.append(values[r])
        return picked[::-1]

    def hardware_for(self, point: DesignPoint) -> HardwareConfig:
        raw = _with_values(self._hw_base, point.hardware_values)
        raw["name"] = f"{self.hardware_name}-p{point.index}"
        try:
            return parse_hwconfig(raw, f"design point {point.index} ({_describe(point.hardware_values)})")
        except AccelsimError as exc:
            raise SweepError(str(exc)) from None

    def plan_for(self, plan_values: dict[str, Any], where: str | None = None) -> CompressionPlan:
        """The base plan with ``plan_values`` applied, named after the variant so caches keep variants apart."""
        raw = self.base_plan.to_dict()
        for path, value in plan_values.items():
            raw = _set_plan(raw, path, value)
        if plan_values:
            raw["name"] = f"{self.base_plan.name}-v{_digest(sorted(plan_values.items()))[:8]}"
            raw["description"] = f"{self.base_plan.name} with {_describe(plan_values)}"
        where = where or f"plan variant ({_describe(plan_values)})"
        try:
            plan = CompressionPlan.model_validate(raw)
            plan.resolve(self.layer_names, where)
        except ValidationError as exc:
            raise SweepError(format_validation_error(where, exc)) from None
        except AccelsimError as exc:
            raise SweepError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
        return plan

    @cached_property
    def spec_hash(self) -> str:
        """What the results depend on: the spec and the contents of its base design (a changed config file
        or plan under the same name is a different sweep)."""
        return _digest([self.spec.model_dump(mode="json"), self.base_hardware.resolved(), self.base_plan.to_dict()])


def load_sweep(path: str | Path) -> Sweep:
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep spec {path} does not exist")
    try:
        data = load_yaml(path)
    except AccelsimError as exc:
        raise SweepError(str(exc)) from None
    if not isinstance(data, dict):
        raise SweepError(f"{path}: expected a mapping of sweep fields, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    for key in ("axes", "hardware_overrides"):
        if isinstance(data.get(key), dict):
            for axis, values in data[key].items():
                if key == "axes" and not isinstance(values, list):
                    raise SweepError(f"{path}: axes.{axis}: expected a list of values, got {values!r}")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SweepError(format_validation_error(str(path), exc)) from None
    return Sweep(spec, str(path), path.parent)


# --- paths ---------------------------------------------------------------------------------------

def _check_hardware_path(path: str, source: str, section: str) -> None:
    """Refuse a path that names no field of the hardware config, suggesting the closest one."""
    model: Any = HardwareConfig
    parts = path.split(".")
    for depth, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = ".".join(parts[:depth]) or "the top level"
            close = difflib.get_close_matches(part, list(fields), n=1)
            hint = f"; did you mean '{'.'.join(parts[:depth] + [close[0]])}'?" if close else ""
            raise SweepError(f"{source}: {section}: unknown hardware config path '{path}'{hint} "
                             f"(fields at {where}: {', '.join(fields)})")
        sub = _model_of(fields[part].annotation)
        if depth < len(parts) - 1 and sub is None:
            raise SweepError(f"{source}: {section}: '{path}': {'.'.join(parts[:depth + 1])} is a value, not a section")
        model = sub
    if model is not None:
        raise SweepError(f"{source}: {section}: '{path}' is a section ({', '.join(model.model_fields)}); "
                         "name one of its fields")


def _model_of(annotation) -> type[BaseModel] | None:
    for a in (getattr(annotation, "__args__", None) or (annotation,)):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


_PLAN_SECTIONS = {"finetune": FinetuneSettings, "pruning": PruningSchedule}


def _check_plan_path(path: str, plan: CompressionPlan, layer_names: list[str], where: str) -> None:
    parts = path[len(PLAN_PREFIX):].split(".")
    if path == SPARSITY_SHORTHAND or parts == ["seed"]:
        return
    head = parts[0]
    layer_fields = list(LayerSettings.model_fields)
    if head == "defaults" and len(parts) == 2:
        fields = layer_fields
    elif head == "groups" and len(parts) == 3:
        if parts[1] not in plan.groups:
            raise SweepError(f"{where}: plan '{plan.name}' has no group '{parts[1]}' "
                             f"(groups: {', '.join(plan.groups) or 'none'})")
        fields = layer_fields
    elif head == "layers" and len(parts) == 3:
        if parts[1] not in layer_names:
            raise SweepError(f"{where}: the model has no layer '{parts[1]}' (layers: {', '.join(layer_names)})")
        fields = layer_fields
    elif head in _PLAN_SECTIONS and len(parts) == 2:
        fields = list(_PLAN_SECTIONS[head].model_fields)
    else:
        raise SweepError(f"{where}: unknown plan path; use {SPARSITY_SHORTHAND}, plan.seed, plan.defaults.FIELD, "
                         "plan.groups.GROUP.FIELD, plan.layers.LAYER.FIELD, plan.finetune.(epochs|lr) or "
                         "plan.pruning.(mode|steps)")
    if parts[-1] not in fields:
        close = difflib.get_close_matches(parts[-1], fields, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise SweepError(f"{where}: unknown plan field '{parts[-1]}'{hint} (fields: {', '.join(fields)})")


def _set_plan(raw: dict, path: str, value: Any) -> dict:
    raw = copy.deepcopy(raw)
    if path == SPARSITY_SHORTHAND:
        levels = [raw.setdefault("defaults", {}), *raw.get("groups", {}).values(), *raw.get("layers", {}).values()]
        for level in levels:
            for key in ("sparsity", "threshold", "huffman_positions"):
                level.pop(key, None)
            if value == 0:
                level.pop("positions", None)
        raw["defaults"]["sparsity"] = value
        if value == 0:
            raw["defaults"]["positions"] = None
        return raw
    return _with_values(raw, {path[len(PLAN_PREFIX):]: value})


def _with_values(raw: dict, values: dict[str, Any]) -> dict:
    """A deep copy of ``raw`` with each dotted path set to its value."""
    out = copy.deepcopy(raw)
    for path, value in values.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return out


def _describe(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "base"


def _layer_names(spec: ModelEntry) -> list[str]:
    return list(compressible_layers(spec.factory()))


def _local(arg: str, folder: Path) -> str | Path:
    """A relative path is looked up next to the spec first, so a spec and its files travel together."""
    candidate = folder / arg
    return candidate if candidate.is_file() else arg


def _resolve(arg: str, folder: Path, shipped: Path, kind: str, source: str, field: str) -> Path:
    try:
        return resolve_named_file(_local(arg, folder), shipped, kind)
    except AccelsimError as exc:
        raise SweepError(f"{source}: {field}: {exc}") from None
