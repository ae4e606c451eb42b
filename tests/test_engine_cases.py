"""Engine cases against hand computation: a decoder-bound layer, resident and streamed weights, the
tiling error, determinism, and the frame planner's residency choice.

Accelerator figures (engine_helpers.ACCEL): 800 MHz (1.25 ns a cycle); LPDDR4-3200-like DRAM with
tCK 0.625 ns, 2 channels x 16 bits, BL16 (32-byte bursts, 8 DRAM cycles each), 2 KiB rows, 8 banks,
tRCD = tRP = 29, CL = 28, tREFI = 6,246, tRFC = 448 (refresh stretches busy time by 6246/5798);
energies MAC 1.09 pJ, SRAM read 25.87 pJ / write 19.65 pJ per 8-byte bank access, lookup 1 pJ,
SRAM leakage 10 mW, DRAM 5.3 / 3.9 pJ/bit, 1.06 nJ per activate, 33 mW background.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import pandas as pd
import pytest
from torch import nn

from engine_helpers import (ACCEL, BURST_BYTES, PLANS, WEIGHT_LAYERS, accel, bursts, compressed, stored_bytes,
                            workload)
from accelsim.compress import CompressionPlan, compress
from accelsim.errors import ConfigError
from accelsim.model.alexnet import init_gaussian_
from accelsim.sim.frame import simulate_frame
from accelsim.sim.sram import SramGeometry
from accelsim.workload import build_workload

CYCLE_NS = 1.25
REFRESH = 6246 / (6246 - 448)
DRAM_TO_ACC = 0.625 / CYCLE_NS  # accelerator cycles per DRAM cycle


def rows_of(result) -> pd.DataFrame:
    return result.layers.set_index("layer")


def one_layer_fc(plan: dict, in_features: int = 256, out_features: int = 64):
    model = init_gaussian_(nn.Sequential(OrderedDict([("fc", nn.Linear(in_features, out_features))])), 0)
    cm = compress(model, CompressionPlan.model_validate(plan), model_name="fc-only")
    return build_workload(model, (in_features,), cm)


SHARED_FC = {"name": "shared", "defaults": {"clusters": 16, "positions": None, "codebook_format": "fixed16",
                                            "bias_format": "fixed32"}}


# ------------------------------------------------------------------------------------------------
# A layer bounded by decoder lookups per cycle


@pytest.fixture(scope="module")
def shared_fc():
    layers = one_layer_fc(SHARED_FC)
    profile = layers[0].profile
    assert profile.shared and profile.entries == 256 * 64  # every weight stored, looked up
    return layers


def decoder_acc(**changes):
    # A large array (64 x 64) and 32 banks (a 64-operand column of 2-byte inputs spans 16 banks: no conflicts).
    return accel(**{"rows": 64, "cols": 64, "decoders": 1, "decoder_lookups_per_cycle": 1, "sram": SramGeometry(32, 8, 1),
                  **changes})


def test_decoder_bound_fc_layer_by_hand(shared_fc):
    r = simulate_frame(shared_fc, decoder_acc(), 10)  # one pass of 10 proposals
    fc = rows_of(r).loc["fc"]
    assert fc["pinned"] and fc["weight_tiles"] == 1
    # 1 decoder x 1 lookup/cycle: every stored entry (256 x 64) is looked up once per weight-stationary pass.
    assert fc["decoder_lookups"] == 16_384
    assert fc["decoder_cycles"] == 16_384
    # WS array: ceil(256/64) = 4 row folds x 1 column fold; each loads 64 rows and streams 10 + 64 + 64 - 2.
    assert fc["mac_cycles"] == 4 * (64 + 10 + 64 + 64 - 2) == 800
    assert fc["conflict_cycles"] == 0
    # DRAM: the 10 x 256 x 2 B = 5,120 B input (160 bursts, 80 per channel, over two rows of each channel:
    # 2 misses on each, the channels in parallel), then the 1,280 B output (40 bursts, 20 per channel,
    # on the output stream's own row: 1 miss on each).
    read = 80 * 8 + 2 * (29 + 29) + 28
    write = 20 * 8 + 1 * (29 + 29) + 28
    assert fc["dram_read_bytes"] == 5_120 and fc["dram_write_bytes"] == 1_280
    assert fc["dram_cycles"] == pytest.approx((read + write) * REFRESH * DRAM_TO_ACC, rel=1e-12)
    # One tile: load, then decode-fed compute (the slower of decoder and array), then write back.
    assert fc["cycles"] == pytest.approx(fc["dram_cycles"] + 16_384, rel=1e-12)
    assert fc["cycles"] >= fc["decoder_cycles"]
    assert fc["bound"] == "decoder"
    assert fc["energy_decoder_pj"] == pytest.approx(16_384 * 1.0)


def test_decoder_bound_fc_layer_energy_by_hand(shared_fc):
    r = simulate_frame(shared_fc, decoder_acc(), 10)
    fc = rows_of(r).loc["fc"]
    weight_bytes = math.ceil(shared_fc[0].profile.total_bits / 8)  # 16,384 x 4-bit indices + 16 x 16-bit codebook + 64 x 32-bit biases
    assert weight_bytes == (16_384 * 4 + 16 * 16 + 64 * 32) // 8 == 8_480
    time_ns = fc["cycles"] * CYCLE_NS
    assert fc["energy_mac_pj"] == pytest.approx(10 * 256 * 64 * 1.09)
    # SRAM, per 8-byte access. Reads: inputs once per column fold (5,120 B), the partial sums of the
    # first 3 of the 4 row folds at the 32-bit accumulator width (10 x 64 x 3 x 4 B), the weights once
    # (8,480 B), the output for write-back (1,280 B). Writes: those partial sums (10 x 64 x 3 x 4 B), the
    # last row fold's finished outputs at 16 bits (10 x 64 x 2 B) and the input arriving from DRAM.
    reads = 5_120 + 10 * 64 * 3 * 4 + 8_480 + 1_280
    writes = 10 * 64 * 3 * 4 + 10 * 64 * 2 + 5_120
    assert fc["sram_read_bytes"] == reads and fc["sram_write_bytes"] == writes
    assert fc["energy_sram_pj"] == pytest.approx(math.ceil(reads / 8) * 25.87 + math.ceil(writes / 8) * 19.65)
    # 2 activates per channel for the input and 1 for the output (its own region), 33 mW over the layer's time
    assert fc["dram_row_misses"] == 6 and fc["dram_row_hits"] == 200 - 6
    dram = 160 * 256 * 5.3 + 40 * 256 * 3.9 + 6 * 1.06e3 + 33.0 * time_ns
    assert fc["energy_dram_pj"] == pytest.approx(dram, rel=1e-12)
    assert fc["energy_leakage_pj"] == pytest.approx(10.0 * time_ns, rel=1e-12)
    assert fc["energy_total_pj"] == pytest.approx(
        fc["energy_mac_pj"] + fc["energy_sram_pj"] + fc["energy_dram_pj"] + 16_384 + 10.0 * time_ns, rel=1e-12)


@pytest.mark.parametrize("decoders, per_cycle, cycles, bound", [
    (1, 1, 16_384, "decoder"), (4, 2, 2_048, "decoder"), (16, 2, 512, "compute"), (32, 4, 128, "compute")])
def test_decoder_throughput_sets_the_pace(shared_fc, decoders, per_cycle, cycles, bound):
    fc = rows_of(simulate_frame(shared_fc, decoder_acc(decoders=decoders, decoder_lookups_per_cycle=per_cycle), 10)).loc["fc"]
    assert fc["decoder_lookups"] == 16_384  # the work is the same; only its rate changes
    assert fc["decoder_cycles"] == cycles == math.ceil(16_384 / (decoders * per_cycle))
    assert fc["cycles"] == pytest.approx(fc["dram_cycles"] + max(cycles, 800), rel=1e-12)
    assert fc["bound"] == bound


def test_decoder_lookups_per_pass_and_per_output_stationary_fold(shared_fc):
    two_passes = rows_of(simulate_frame(shared_fc, decoder_acc(), 20)).loc["fc"]  # batch 10: 2 weight passes
    assert two_passes["decoder_lookups"] == two_passes["decoder_cycles"] == 2 * 16_384
    # Output-stationary, 4 rows: the 10 vectors make ceil(10/4) = 3 row folds, each streams all weights.
    os_ = rows_of(simulate_frame(shared_fc, decoder_acc(dataflow="os", rows=4), 10)).loc["fc"]
    assert os_["decoder_lookups"] == os_["decoder_cycles"] == 3 * 16_384
    # ... and the array: 3 row folds x 1 column fold, each streams 256 + r + 64 - 2 and drains r.
    assert os_["mac_cycles"] == 2 * (256 + 4 + 64 - 2 + 4) + (256 + 2 + 64 - 2 + 2) == 974
    assert os_["bound"] == "decoder"


def test_unshared_weights_need_no_decoder():
    layers = one_layer_fc({"name": "raw", "defaults": {"codebook_format": "fixed16", "bias_format": "fixed32"}})
    fc = rows_of(simulate_frame(layers, decoder_acc(), 10)).loc["fc"]
    assert fc["decoder_lookups"] == fc["decoder_cycles"] == fc["energy_decoder_pj"] == 0
    assert fc["bound"] != "decoder"


# ------------------------------------------------------------------------------------------------
# Resident and streamed weights


@pytest.mark.parametrize("plan, weight_bytes", [("dense", 464 + 1_216 + 33_024 + 264), ("deep-compression", None)])
def test_resident_weights_cold_frame_and_steady_state(plan, weight_bytes):
    layers = workload(plan)
    total = sum(stored_bytes(l) for l in layers if l.kind in ("conv", "fc"))
    if weight_bytes is not None:
        # dense, by hand: conv1 8 x (27 x 16 + 32) bits, conv2 16 x (36 x 16 + 32), fc1 64 x (256 x 16 + 32),
        # fc2 2 x (64 x 16 + 32), in bytes
        assert total == weight_bytes == 34_968
    r = simulate_frame(list(layers), ACCEL, 20)  # 256 KiB of weight SRAM holds them all
    s = r.figures
    assert s.weights_resident is True and s.pinned_layers == tuple(WEIGHT_LAYERS)
    assert s.compressed_weight_bytes == total
    # Cold frame: the compressed bytes once, rounded up to whole 32-byte bursts (34,968 B -> 1,093 bursts).
    assert s.cold_frame_extra_dram_read_bytes == bursts(total)
    assert s.cold_frame_dram_bytes == s.dram_bytes_per_frame + bursts(total)
    assert s.cold_frame_extra_latency_ms > 0 and s.cold_frame_extra_energy_uj > 0
    assert s.cold_frame_energy_uj == pytest.approx(s.energy_per_frame_uj + s.cold_frame_extra_energy_uj)
    # Steady state: no weight traffic. With 128 KiB activation shares every intermediate stays on chip:
    # only the crops (2 passes x 10 x 3x18x18 x 2 B) come in and the scores (2 x 10 x 2 x 2 B) go out.
    assert s.dram_weight_bytes_per_frame == 0
    payload = 2 * (10 * 3 * 18 * 18 * 2 + 10 * 2 * 2)
    assert payload <= s.dram_bytes_per_frame <= payload + 4 * BURST_BYTES
    t = rows_of(r)
    assert t.loc[["conv2", "fc1", "fc2"], "dram_read_bytes"].sum() == 0


def test_streamed_weights_are_read_once_per_batch_of_proposals():
    """16 KiB of weight SRAM: fc1 (33,024 B) cannot stay; the planner pins conv1, conv2 and fc2 (1,944 B)
    and streams fc1 through a 7,220 B buffer ((16,384 - 1,944) / 2), in tiles of at most that size."""
    layers = list(workload("dense"))
    base = dict(sram_weight_bytes=16_384, sram_input_bytes=64 * 1024, sram_output_bytes=64 * 1024)
    r = simulate_frame(layers, accel(**base), 20)  # 20 proposals, 10 a batch: 2 passes
    s, fc1 = r.figures, rows_of(r).loc["fc1"]
    assert s.weights_resident is False and s.pinned_layers == ("conv1", "conv2", "fc2")
    assert s.weight_passes_per_frame == 2
    assert not fc1["pinned"] and fc1["weight_tile_bytes"] <= 7_220
    assert fc1["weight_tiles"] == math.ceil(33_024 / fc1["weight_tile_bytes"])  # per pass
    assert s.dram_weight_bytes_per_frame == 2 * 33_024  # read twice per frame
    # fc1's input (10 x 256 x 2 B) stays on chip, so its DRAM reads are its weights, in whole bursts.
    assert 2 * 33_024 <= fc1["dram_read_bytes"] <= 2 * 33_024 + 2 * fc1["weight_tiles"] * 2 * BURST_BYTES
    # The tiles are pieces of the stream in the array's order (a tile boundary falls inside a 16-unit
    # column group's fan-in), so the columns stay full: per pass 4 column groups x 16 row folds, each
    # loading 16 rows and streaming 10 + 16 + 16 - 2 cycles, as if fc1 were one tile.
    assert fc1["mac_cycles"] == 2 * 4 * 16 * (16 + 10 + 16 + 16 - 2)
    assert s.cold_frame_extra_dram_read_bytes == bursts(464 + 1_216 + 264)

    def weight_bytes(proposals, batch):
        return simulate_frame(layers, accel(**base, proposals_batch=batch), proposals).figures.dram_weight_bytes_per_frame

    assert weight_bytes(10, 10) == 33_024
    assert weight_bytes(21, 10) == 3 * 33_024  # 10 + 10 + 1
    assert weight_bytes(20, 20) == 33_024  # one batch of 20: one pass
    assert weight_bytes(20, 1) == 20 * 33_024


def test_weights_outer_rereads_a_streamed_input_per_weight_tile():
    """With tiny activation shares nothing stays on chip: fc1's 5,120 B input is read from DRAM; the
    mapper either re-reads it per weight tile (weights outer; or streams it once per column fold of each
    tile) or re-reads the weights per input chunk (inputs outer), and reports each operand's reads apart."""
    layers = list(workload("dense"))
    r = simulate_frame(layers, accel(sram_weight_bytes=16_384, sram_input_bytes=1_024, sram_output_bytes=1_024), 10)
    fc1 = rows_of(r).loc["fc1"]
    assert not fc1["pinned"]
    weights, inputs = fc1["weights_dram_read_bytes"], fc1["inputs_dram_read_bytes"]
    assert weights == pytest.approx(33_024 * fc1["weight_reads"], rel=1e-12)
    if fc1["loop_order"] == "weights-outer":
        assert fc1["weight_reads"] == 1
    else:
        assert fc1["weight_reads"] == fc1["activation_chunks"] and inputs == pytest.approx(5_120)
    # a 1 KiB share cannot keep the 5,120 B input for every tile: the input or the weights come again
    assert inputs > 5_120 or fc1["weight_reads"] > 1
    payload = weights + inputs
    assert payload <= fc1["dram_read_bytes"] <= payload + 2 * BURST_BYTES * 64


# ------------------------------------------------------------------------------------------------
# The tiling error


def test_weight_share_that_cannot_hold_a_codebook_is_a_config_error():
    """A weight tile can be any piece of a layer's stream, but the first carries the layer's codebook:
    16 entries x 16 bits = 32 B with the shared-dense plan. Double buffered, a 64 B share leaves 32 B, no
    room for a weight (and no layer is small enough to pin: fc2 takes 104 B); 66 B works."""
    layers = list(workload("shared-dense"))
    with pytest.raises(ConfigError, match=r"^sram: .*conv1") as err:
        simulate_frame(layers, accel(sram_weight_bytes=64), 20)
    assert "(32.0 B)" in str(err.value)
    r = rows_of(simulate_frame(layers, accel(sram_weight_bytes=66), 20))
    # 33 B tiles, the first with 1 B of weights after the codebook. Payloads (indices + 32-bit biases):
    # conv1 (8 x 27 x 4 + 8 x 32) / 8 = 140 B, conv2 352 B, fc1 8,448 B, fc2 72 B: 1 + ceil((p - 1) / 33).
    assert [r.loc[n, "weight_tiles"] for n in ("conv1", "conv2", "fc1", "fc2")] == [6, 12, 257, 4]
    assert (r.loc[["conv1", "conv2", "fc1", "fc2"], "weight_tile_bytes"] == 33).all()


# ------------------------------------------------------------------------------------------------
# Determinism


@pytest.mark.parametrize("plan", [None, "deep-compression", "huffman"])
def test_same_inputs_give_identical_results(plan):
    a = accel(sram_weight_bytes=4_096, sram_input_bytes=2_048, sram_output_bytes=2_048, proposals_batch=4)
    first = simulate_frame(list(workload(plan)), a, 11)
    second = simulate_frame(list(workload(plan)), a, 11)
    pd.testing.assert_frame_equal(first.layers, second.layers, check_exact=True)
    assert first.figures == second.figures
    if plan is not None:  # the whole chain again: a fresh model, compression and workload from the same seed
        model, cm = compressed(plan, 0)
        from engine_helpers import INPUT_SHAPE
        third = simulate_frame(build_workload(model, INPUT_SHAPE, cm), a, 11)
        pd.testing.assert_frame_equal(first.layers, third.layers, check_exact=True)
        assert first.figures == third.figures


# ------------------------------------------------------------------------------------------------
# The planner's residency choice when one output unit is large


def big_unit_workload():
    """conv1 (464 B) and an fc layer with ONE output unit of 2,048 x 16 bits + 32 = 4,100 B: 4,564 B in all."""
    model = init_gaussian_(nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 8, 3)), ("relu1", nn.ReLU()), ("flatten", nn.Flatten()),
        ("fc", nn.Linear(8 * 16 * 16, 1))])), 0)
    cm = compress(model, CompressionPlan.model_validate(PLANS["dense"]), model_name="big-unit")
    layers = build_workload(model, (3, 18, 18), cm)
    assert sum(stored_bytes(l) for l in layers if l.kind in ("conv", "fc")) == 4_564
    return layers


def test_weights_that_fit_are_resident_even_with_a_large_output_unit():
    """Regression: the nothing-pinned candidate streams fc only in fan-in slices (half of 4,564..8,199 B <
    4,100 B); pinning every layer fits and is chosen."""
    for share in (4_564, 6_000, 8_199):
        s = simulate_frame(big_unit_workload(), accel(sram_weight_bytes=share), 20).figures
        assert s.weights_resident is True and s.dram_weight_bytes_per_frame == 0
        assert s.cold_frame_extra_dram_read_bytes == bursts(4_564)
    # One byte short of holding them: conv1 pinned, fc's single unit streamed through the other 4,099 B in
    # tiles of at most 2,049.5 B, slices of its fan-in (per pass; 2 batches of 10).
    r = simulate_frame(big_unit_workload(), accel(sram_weight_bytes=4_563), 20)
    assert r.figures.pinned_layers == ("conv1",) and r.figures.dram_weight_bytes_per_frame == 2 * 4_100
    assert rows_of(r).loc["fc", "weight_tile_bytes"] <= 2_049.5


def test_planner_tries_pinning_every_layer_when_they_fit():
    """Regression: pinning conv1 leaves 7,736 B < 2 x 4,100 B to stream fc, and the planner used to stop
    there, never trying to pin both (8,200 B holds all 4,564 B)."""
    s = simulate_frame(big_unit_workload(), accel(sram_weight_bytes=8_200), 20).figures
    assert s.weights_resident is True and s.dram_weight_bytes_per_frame == 0


def test_pinning_a_large_unit_and_streaming_the_rest():
    """1,500 B could stream fca's single 1,028 B unit only in fan-in slices; pinning fca leaves 472 B to
    stream fcb's 6 B units (fcb: 600 x (16 + 32) bits = 3,600 B) and saves fca's reads."""
    model = init_gaussian_(nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()), ("fca", nn.Linear(512, 1)), ("fcb", nn.Linear(1, 600))])), 0)
    cm = compress(model, CompressionPlan.model_validate(PLANS["dense"]), model_name="two-fc")
    layers = build_workload(model, (2, 16, 16), cm)
    r = simulate_frame(layers, accel(sram_weight_bytes=1_500), 10)
    s = r.figures
    assert s.pinned_layers == ("fca",) and s.weights_resident is False
    assert s.dram_weight_bytes_per_frame == pytest.approx(3_600, rel=1e-12)
    # (1,500 - 1,028) / 2 = 236 B per tile at most
    assert rows_of(r).loc["fcb", "weight_tile_bytes"] <= 236
