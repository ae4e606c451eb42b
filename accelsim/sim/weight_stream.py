"""A layer's weight stream as the array consumes it, and its cuts into weight tiles.

A compressed layer's weights are one bit string in DRAM (codebook and Huffman tables first, then the
index and position streams), laid out in the order the array consumes them: group by group, column
group by column group, a group's fan-in in turn. So a *weight tile* is any contiguous piece of it:
several whole column groups, a slice of one group's fan-in, or the end of one and the start of the
next. An uncompressed layer is every weight at the array's weight precision (`dense_profile`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from accelsim.compress.profile import StreamProfile
from accelsim.errors import ConfigError
from accelsim.workload import Layer


@dataclass(frozen=True, eq=False)
class WeightStream:
    """A layer's weight stream as the array consumes it: output unit by output unit, with the
    cumulative stored bits that say where each unit ends, and its cuts into tiles.

    Compressed layers bring the stream profile of their storage; an uncompressed one is every weight
    at the array's weight precision (`dense_profile`)."""

    layer_name: str
    profile: StreamProfile
    cum_bits: np.ndarray  # per output unit, the stored bits up to its end (the payload: no fixed bits)
    groups: int = 1  # the layer's convolution groups: a column group never spans two of them
    # The mapper's work on this stream that does not depend on the buffers (cuts, the array's cycles),
    # kept for the frame planner's many candidates.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def for_layer(cls, layer: Layer, weight_bits: int) -> WeightStream:
        profile = layer.profile if layer.profile is not None else dense_profile(layer, weight_bits)
        return cls(layer.name, profile, np.cumsum(profile.unit_bits), max(1, layer.groups))

    @property
    def fixed_bits(self) -> int:
        """Codebook and Huffman tables: they travel with the first tile."""
        return self.profile.fixed_bits

    @property
    def total_bytes(self) -> int:
        """Everything the layer stores, in whole bytes: what a pinned layer occupies and loads."""
        return -(-self.profile.total_bits // 8)

    def weight_tiles(self, buffer_bytes: float, cols: int) -> WeightTiles:
        """The stream cut into tiles of ``buffer_bytes`` (the last one shorter), the first also carrying
        the codebook and Huffman tables, for an array of ``cols`` columns. The cut does not depend on the
        array's shape, so a bigger array only shortens each tile's compute; a bigger buffer never makes
        more tiles."""
        budget = buffer_bytes * 8
        if budget <= self.fixed_bits:
            raise ConfigError(
                f"sram: the weight buffer ({buffer_bytes:,.1f} B, half the unpinned weight share) cannot hold "
                f"layer {self.layer_name}'s codebook and Huffman tables ({self.fixed_bits / 8:,.1f} B) and a weight; "
                f"give weights more SRAM"
            )
        payload = float(self.cum_bits[-1])
        ends = np.minimum(budget - self.fixed_bits + budget * np.arange(
            1 + max(0, math.ceil((payload - budget + self.fixed_bits) / budget))), payload)
        return WeightTiles.cut(self, ends, cols)

    def whole(self, cols: int) -> WeightTiles:
        """The layer as one tile (pinned weights)."""
        return WeightTiles.cut(self, np.array([float(self.cum_bits[-1])]), cols)


def dense_profile(layer: Layer, weight_bits: int) -> StreamProfile:
    """An uncompressed layer's stream: every weight stored at ``weight_bits``, and each output unit's
    bias at double width (accumulator-aligned); no codebook, no fillers."""
    entries = np.full(layer.out_units, layer.fan_in, dtype=np.int64)
    return StreamProfile(unit_bits=entries * weight_bits + 2 * weight_bits, unit_entries=entries,
                         unit_nonzeros=entries.copy(), fixed_bits=0, codebook_entries=0)


@dataclass(frozen=True)
class WeightTiles:
    """A layer's weight stream cut into tiles. The stream is laid out in DRAM in the order the array
    consumes it (column group by column group, a group's row folds in turn), so a tile is any
    contiguous piece of it: several whole column groups, or a slice of one group's fan-in, or the end
    of one group and the start of the next. Either way the array's columns stay full and its cycles
    over the tiles add up to those of the whole layer: each tile takes its share of them, the share of
    the layer's stored bits it carries."""

    tile_bits: np.ndarray  # per tile, stored bits (the first one with the codebook and Huffman tables)
    ends: np.ndarray  # per tile, where it ends in the layer's payload (stored bits without the tables)
    group_ends: np.ndarray  # per column group of the array, where it ends in the payload
    group_units: np.ndarray  # output units of each column group (the array's columns, but fewer at a group's end)

    @classmethod
    def cut(cls, stream: WeightStream, ends: np.ndarray, cols: int) -> WeightTiles:
        ends = np.asarray(ends, dtype=np.float64)
        bits = np.diff(np.concatenate([[0.0], ends]))
        bits[0] += stream.fixed_bits
        units_per_group = stream.cum_bits.size // stream.groups
        within = np.minimum(np.arange(cols, units_per_group + cols, cols), units_per_group)
        # each column group's last unit + 1; column groups never span two convolution groups
        last = (np.arange(stream.groups)[:, None] * units_per_group + within[None, :]).ravel()
        return cls(bits, ends, stream.cum_bits[last - 1].astype(np.float64), np.diff(last, prepend=0))

    @property
    def count(self) -> int:
        return int(self.tile_bits.size)

    @property
    def cum_share(self) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) of each tile as a fraction of the layer's payload: 0 for the first start, 1 for
        the last end."""
        payload = self.ends[-1]
        end = self.ends / payload if payload else np.ones_like(self.ends)
        end[-1] = 1.0
        return np.concatenate([[0.0], end[:-1]]), end

    @property
    def groups(self) -> int:
        return int(self.group_units.size)

    @property
    def split_departures(self) -> np.ndarray:
        """Per column group, how many tile boundaries cut its fan-in: each makes the group's outputs
        leave an output-stationary array as partial sums before the next tile resumes them."""
        inside = self.ends[:-1][~np.isin(self.ends[:-1], self.group_ends)]
        return np.bincount(np.searchsorted(self.group_ends, inside, side="right"), minlength=self.groups)


