"""The SimPy engine: one layer's tiles through DMA-in, compute and write-back, overlapped.

Time is in accelerator clock cycles. Three processes share the layer's tiles:

* **DMA in** waits for a free input buffer (two: double buffering), then for the DRAM bus, then
  moves the tile's weights and activations (time from the `dram` burst model).
* **Compute** takes a loaded tile and a free output buffer (two), and runs the decoder-fed MAC
  array for the tile's compute cycles; it frees the input buffer when done.
* **Write-back** waits for the DRAM bus and stores the tile's spilled outputs, freeing the output
  buffer.

DMA in and write-back contend for one DRAM bus. The MAC array is *stalled* whenever it is not
computing: ``stall_cycles = cycles - mac_cycles`` counts waits for data, decoder-bound and
bank-conflict cycles alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import simpy

from accelsim.sim.accelerator import Accelerator
from accelsim.sim.dram import DramStreamResult, dram_sequential, new_open_rows
from accelsim.sim.mapping import LayerMapping


@dataclass
class DramTotals:
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    row_hits: int = 0
    row_misses: int = 0
    energy_rw_pj: float = 0.0
    energy_act_pre_pj: float = 0.0

    def add(self, r: DramStreamResult) -> None:
        self.read_bytes += r.read_bytes
        self.write_bytes += r.write_bytes
        self.row_hits += r.row_hits
        self.row_misses += r.row_misses
        self.energy_rw_pj += r.energy_rw_pj
        self.energy_act_pre_pj += r.energy_act_pre_pj


# DRAM address streams: each kind of traffic walks its own region sequentially (partial sums spilled by the
# mapper are written to one region and read back from another copy of it, both sequential).
STREAMS = ("weights", "activations-in", "activations-out", "psums-out", "psums-in")


@dataclass
class DramPort:
    """The DRAM as the run sees it: open rows carried from transfer to transfer, and one sequential
    address stream per kind of traffic (weights read, activations read, activations written), so that
    each stream hits open rows. Transfers are byte-exact: consecutive transfers of a stream coalesce
    the burst they share, as the DMA engine would, so a contiguous stream costs the same bursts
    however it is cut into tiles."""

    accel: Accelerator
    open_rows: np.ndarray = field(init=False)
    # Byte offset reached in each stream; the streams start 16 GiB apart in the address space.
    base: dict = field(default_factory=lambda: {s: i << 34 for i, s in enumerate(STREAMS)})
    position: dict = field(default_factory=lambda: dict.fromkeys(STREAMS, 0.0))
    fetched_burst: dict = field(default_factory=dict)  # last burst each stream has moved

    def __post_init__(self):
        self.open_rows = new_open_rows(self.accel.dram_timing)

    def transfer(self, n_bytes: float, is_write: bool, stream: str) -> DramStreamResult:
        burst = self.accel.dram_timing.burst_bytes
        start = self.position[stream]
        # Tiles carry fractional bytes (a chunk's share of a tensor) whose sums are whole at tensor
        # boundaries; snapping a near-whole offset keeps float error from crossing a burst boundary.
        end = start + n_bytes
        if abs(end - round(end)) < 1e-6:
            end = float(round(end))
        self.position[stream] = end
        first = int(start // burst)
        last = int(-(-end // burst))  # one past the last burst touched
        if self.fetched_burst.get(stream) == first:
            first += 1
        if last > first:
            self.fetched_burst[stream] = last - 1
        result = dram_sequential(self.base[stream] + first * burst, max(0, last - first) * burst, is_write,
                                 self.accel.dram_timing, self.accel.dram_energy, self.open_rows)
        return result


@dataclass(frozen=True)
class LayerTiming:
    cycles: float
    mac_cycles: float
    decoder_cycles: float
    conflict_cycles: float
    dram_cycles: float  # DRAM bus busy, in accelerator cycles
    peak_dram_bytes_per_cycle: float  # the busiest tile's DRAM bytes over its duration
    events: int
    dram: DramTotals

    @property
    def stall_cycles(self) -> float:
        return self.cycles - self.mac_cycles


def simulate_layer(mapping: LayerMapping, accel: Accelerator, port: DramPort) -> LayerTiming:
    cycle_ns = accel.cycle_ns
    dram = DramTotals()
    loads, stores = [], []
    for tile in mapping.tiles:
        load_ns = 0.0
        for n_bytes, stream in ((tile.weight_read_bytes, "weights"), (tile.input_read_bytes, "activations-in"),
                                (tile.psum_read_bytes, "psums-in")):
            if n_bytes > 0:
                r = port.transfer(n_bytes, False, stream)
                dram.add(r)
                load_ns += r.time_ns
        store_ns = 0.0
        for n_bytes, stream in ((tile.output_write_bytes, "activations-out"), (tile.psum_write_bytes, "psums-out")):
            if n_bytes > 0:
                w = port.transfer(n_bytes, True, stream)
                dram.add(w)
                store_ns += w.time_ns
        loads.append(load_ns / cycle_ns)
        stores.append(store_ns / cycle_ns)

    cycles, events = _pipeline(tuple(loads), tuple(stores), tuple(t.compute_cycles for t in mapping.tiles))
    tiles = mapping.tiles
    return LayerTiming(
        cycles=cycles,
        mac_cycles=sum(t.mac_cycles for t in tiles),
        decoder_cycles=sum(t.decoder_cycles for t in tiles),
        conflict_cycles=sum(t.conflict_cycles for t in tiles),
        dram_cycles=(sum(loads) + sum(stores)),
        # a tile's transfers take at least the longest of its load, compute and write-back
        peak_dram_bytes_per_cycle=max(((t.dram_read_bytes + t.dram_write_bytes) / max(t.compute_cycles, ld, st, 1e-9)
                                       for t, ld, st in zip(tiles, loads, stores)), default=0.0),
        events=events,
        dram=dram,
    )


@lru_cache(maxsize=4096)
def _pipeline(loads: tuple[float, ...], stores: tuple[float, ...], computes: tuple[float, ...]) -> tuple[float, int]:
    """Cycles and events of the three overlapped processes over the tiles' load, compute and store
    times. A pure function of those times, so it is cached: the passes of a frame, and design points
    of a sweep that differ only where this layer does not look, repeat the same times."""
    env = simpy.Environment()
    bus = simpy.Resource(env, capacity=1)
    in_free = simpy.Container(env, capacity=2, init=2)
    out_free = simpy.Container(env, capacity=2, init=2)
    loaded = simpy.Store(env)
    computed = simpy.Store(env)
    events = [0]
    n = len(computes)

    def dma_in():
        for i in range(n):
            yield in_free.get(1)
            if loads[i]:
                with bus.request() as req:
                    yield req
                    yield env.timeout(loads[i])
            yield loaded.put(i)
            events[0] += 1

    def compute():
        for _ in range(n):
            i = yield loaded.get()
            yield out_free.get(1)
            yield env.timeout(computes[i])
            yield in_free.put(1)
            yield computed.put(i)
            events[0] += 1

    def write_back():
        for _ in range(n):
            i = yield computed.get()
            if stores[i]:
                with bus.request() as req:
                    yield req
                    yield env.timeout(stores[i])
            yield out_free.put(1)
            events[0] += 1

    env.process(dma_in())
    env.process(compute())
    done = env.process(write_back())
    env.run(until=done)
    return float(env.now), events[0]
