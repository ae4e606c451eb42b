"""Compression plans: what to do to each layer, validated before any work starts.

A plan file (YAML) has ``defaults`` for every layer, optional named ``groups`` of layers that override
them, and per-``layers`` overrides on top (defaults < group < layer). Fields:

- ``sparsity``: fraction of the layer's weights pruned by magnitude, in [0, 1); or ``threshold``: prune
  weights whose magnitude is below it. Not both.
- ``clusters``: codebook entries 2 <= k <= 4096 for k-means weight sharing (index width ceil(log2 k) bits);
  ``null`` stores every weight directly in ``codebook_format`` (no sharing).
  k is a maximum: a layer with fewer distinct surviving values than k gets one exact entry per value,
  and its index width shrinks to match. A pruned layer reserves one entry for exactly 0 (position
  fillers, and pruned weights in dense storage, must decode to 0) and k-means fits the other k - 1.
- ``codebook_format``: fp32, fp16, fixed<B> or fixed<B>.<F> (see `formats`).
- ``positions``: width in bits of the relative position index (the number of zeros skipped before each
  stored weight, Deep Compression's sparse format); a gap it cannot express costs filler zero entries.
  ``null`` = dense storage, every weight stored.
- ``huffman_indices`` / ``huffman_positions``: Huffman-code the index / gap stream.
- ``bias_format``: format of the biases.
- ``kmeans_init``: linear (default; evenly spaced over [min, max], best in Deep Compression), random,
  or density (evenly spaced quantiles).

``pruning`` chooses one-shot or iterative pruning (prune, fine-tune, prune further, ``steps`` times,
on a cubic sparsity ramp; without fine-tuning epochs there is nothing between the steps, so
iterative pruning is then one-shot, and the progress output says so);
``finetune`` sets the default epochs and learning rate of fine-tuning, which the CLI can override.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator, model_validator

from accelsim.compress.formats import ValueFormat
from accelsim.errors import AccelsimError, PlanError
from accelsim.resources import plans_dir, resolve_named_file
from accelsim.yamlio import format_validation_error, load_yaml

_Strict = ConfigDict(extra="forbid", frozen=True)


def _check_format(value):
    if value is None or isinstance(value, ValueFormat):
        return value
    return ValueFormat.parse(value)


# Weight sharing pays only while an index is much narrower than the weight it replaces: Deep Compression
# shares with 8-bit (conv) and 5-bit (fc) indices, EIE with 4-bit ones. 4,096 entries (12-bit indices)
# leave room to explore; k-means time grows with k, and 65,536 clusters ran for minutes per layer.
MAX_CLUSTERS = 4096


class LayerSettings(BaseModel):
    """Overrides for a layer or group; unset fields fall through to the level below."""

    model_config = _Strict

    sparsity: float | None = Field(None, ge=0.0, lt=1.0)
    # An infinite threshold would prune every weight of a layer, which sparsity < 1 refuses.
    threshold: float | None = Field(None, ge=0.0, allow_inf_nan=False)
    clusters: int | None = Field(None, ge=2)
    codebook_format: ValueFormat | None = None
    positions: int | None = Field(None, ge=1, le=16)  # 16 bits skip 65,535 zeros; wider buys nothing
    huffman_indices: bool | None = None
    huffman_positions: bool | None = None
    bias_format: ValueFormat | None = None
    kmeans_init: Literal["linear", "random", "density"] | None = None

    _fmt = field_validator("codebook_format", "bias_format", mode="before")(_check_format)

    @field_validator("clusters")
    @classmethod
    def _clusters_bounded(cls, k: int | None) -> int | None:
        if k is not None and k > MAX_CLUSTERS:
            raise ValueError(f"{k} clusters is more than {MAX_CLUSTERS} (12-bit indices); weight sharing saves "
                             "bits only with indices much narrower than the weights (Deep Compression: 5 to 8 bits)")
        return k

    @field_serializer("codebook_format", "bias_format")
    def _fmt_text(self, value: ValueFormat | None) -> str | None:
        return None if value is None else str(value)

    @model_validator(mode="after")
    def _one_pruning_target(self):
        if self.sparsity is not None and self.threshold is not None:
            raise ValueError("give either sparsity or threshold, not both")
        return self


class GroupSettings(LayerSettings):
    layers: list[str] = Field(min_length=1)


class PruningSchedule(BaseModel):
    model_config = _Strict

    mode: Literal["one-shot", "iterative"] = "one-shot"
    steps: int = Field(3, ge=1, le=100)


class FinetuneSettings(BaseModel):
    model_config = _Strict

    epochs: int = Field(0, ge=0)
    lr: float = Field(1e-3, gt=0.0, allow_inf_nan=False)


class LayerPlan(BaseModel):
    """Fully resolved settings of one layer."""

    model_config = ConfigDict(frozen=True)

    name: str
    sparsity: float
    threshold: float | None
    clusters: int | None
    codebook_format: ValueFormat
    positions: int | None
    huffman_indices: bool
    huffman_positions: bool
    bias_format: ValueFormat
    kmeans_init: str

    @field_serializer("codebook_format", "bias_format")
    def _fmt_text(self, value: ValueFormat) -> str:
        return str(value)

    @property
    def pruned(self) -> bool:
        return self.sparsity > 0.0 or self.threshold is not None


_DEFAULTS = dict(
    sparsity=0.0,
    threshold=None,
    clusters=None,
    codebook_format=ValueFormat.parse("fp32"),
    positions=None,
    huffman_indices=False,
    huffman_positions=False,
    bias_format=ValueFormat.parse("fp32"),
    kmeans_init="linear",
)


class CompressionPlan(BaseModel):
    """A whole plan. Serialise with ``to_dict()``: resolution depends on which fields each level
    sets, so unset fields must stay unset."""

    model_config = _Strict

    name: str
    description: str = ""
    source: str = ""
    seed: int = 0
    defaults: LayerSettings = LayerSettings()
    groups: dict[str, GroupSettings] = {}
    layers: dict[str, LayerSettings] = {}
    pruning: PruningSchedule = PruningSchedule()
    finetune: FinetuneSettings = FinetuneSettings()

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_unset=True)

    def resolve(self, layer_names: list[str], where: str = "plan") -> dict[str, LayerPlan]:
        """Settings for each of ``layer_names``; refuses names the model does not have."""
        known = set(layer_names)
        group_of: dict[str, str] = {}
        for gname, group in self.groups.items():
            for lname in group.layers:
                if lname not in known:
                    raise PlanError(f"{where}: groups.{gname}.layers: unknown layer '{lname}' (model has {', '.join(layer_names)})")
                if lname in group_of:
                    raise PlanError(f"{where}: groups.{gname}.layers: layer '{lname}' is already in group '{group_of[lname]}'")
                group_of[lname] = gname
        for lname in self.layers:
            if lname not in known:
                raise PlanError(f"{where}: layers.{lname}: unknown layer (model has {', '.join(layer_names)})")

        resolved = {}
        for lname in layer_names:
            values = dict(_DEFAULTS)
            levels = [self.defaults]
            if lname in group_of:
                levels.append(self.groups[group_of[lname]])
            if lname in self.layers:
                levels.append(self.layers[lname])
            for level in levels:
                for key in _DEFAULTS:
                    if key in level.model_fields_set:
                        values[key] = getattr(level, key)
                # A pruning target set at a higher level replaces the other kind set below it.
                if "sparsity" in level.model_fields_set and "threshold" not in level.model_fields_set:
                    values["threshold"] = None
                if "threshold" in level.model_fields_set and "sparsity" not in level.model_fields_set:
                    values["sparsity"] = 0.0
            plan = LayerPlan(name=lname, **values)
            if plan.huffman_indices and plan.clusters is None:
                raise PlanError(f"{where}: layer {lname}: huffman_indices needs clusters (there are no indices without weight sharing)")
            if plan.huffman_positions and plan.positions is None:
                raise PlanError(f"{where}: layer {lname}: huffman_positions needs positions (dense storage has no gaps)")
            resolved[lname] = plan
        return resolved


def load_plan(arg: str | Path) -> CompressionPlan:
    """A shipped plan by name, or a plan file by path."""
    try:
        path = resolve_named_file(arg, plans_dir(), "plan")
        data = load_yaml(path)
    except PlanError:
        raise
    except AccelsimError as exc:  # missing file, bad YAML, repeated key: still a plan error to the caller
        raise PlanError(str(exc)) from None
    if not isinstance(data, dict):
        raise PlanError(f"{path}: expected a mapping of plan fields, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    try:
        return CompressionPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(format_validation_error(str(path), exc)) from None
