"""Functional execution in the hardware's number formats (accelsim.detect.functional).

Hand-computed cases use the fixed-point rule of the module: a value v is held as
clip(round_half_even(v * 2^F), -2^(B-1), 2^(B-1) - 1), and F is the most fractional bits for which the
largest magnitude M still rounds inside the range.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from functools import lru_cache

import pytest
import torch
from torch import nn

from accelsim.model.alexnet import AlexNetClassifier, init_gaussian_  # (model package first: import cycle)
from accelsim.compress import CompressionPlan, compress  # noqa: I001
from accelsim.config.hardware import load_hwconfig
from accelsim.detect import functional as fx
from accelsim.detect.functional import FunctionalClassifier, NumberFormats, frac_bits_for, quantize
from accelsim.errors import ModelError
from accelsim.model.toy import ToyBarsNet

SIDE = 67  # smallest-ish AlexNet layout input: conv1 15x15, pool1 7, pool2 3, pool5 1


@lru_cache(maxsize=None)
def _alexnet():
    """(uncompressed small AlexNetClassifier, its CompressedModel, calibration batch, test batch)."""
    torch.manual_seed(0)
    model = init_gaussian_(AlexNetClassifier(width=0.25, fc=64, input_size=SIDE), seed=0).eval()
    plan = CompressionPlan.model_validate({"name": "tiny", "defaults": {"sparsity": 0.5, "clusters": 16, "positions": 4}})
    cm = compress(copy.deepcopy(model), plan, model_name="alexnet-small")
    gen = torch.Generator().manual_seed(1)
    cal = torch.randn(32, 3, SIDE, SIDE, generator=gen)
    x = torch.randn(16, 3, SIDE, SIDE, generator=gen)
    return model, cm, cal, x


def _reference(model, cm, x):
    ref = cm.load_into(copy.deepcopy(model)).eval()
    with torch.no_grad():
        return ref(x)


# -- the float path -----------------------------------------------------------------------------------

def test_float_path_equals_torch_model_with_decoded_weights(one_thread):
    model, cm, _, x = _alexnet()
    ref = _reference(model, cm, x)
    out = FunctionalClassifier(model, NumberFormats.float32(), cm)(x)
    assert out.shape == (16, 2) and out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    # The decoded weights matter: the uncompressed model scores differently, so the check can fail.
    with torch.no_grad():
        assert not torch.allclose(model(x), ref, rtol=1e-3, atol=1e-3)
    # and the caller's model is left as it was (the classifier works on a copy)
    assert not torch.equal(model.conv1.weight, cm.load_into(copy.deepcopy(model)).conv1.weight)


def test_float_path_toy_model(one_thread):
    torch.manual_seed(3)
    model = ToyBarsNet().eval()
    plan = CompressionPlan.model_validate({"name": "t", "defaults": {"sparsity": 0.9, "clusters": 4, "positions": 3}})
    cm = compress(copy.deepcopy(model), plan, model_name="toy-bars")
    x = torch.randn(8, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(FunctionalClassifier(model, NumberFormats.float32(), cm)(x), _reference(model, cm, x),
                               rtol=1e-5, atol=1e-5)


def test_weights_already_in_the_format_pass_unchanged(one_thread):
    """A fixed16 codebook (automatic fractional bits) is on the grid that a 16-bit weight quantiser
    picks, so quantising weights to 16 bits changes nothing (same rule as ValueFormat.resolve)."""
    model, _, _, x = _alexnet()
    plan = CompressionPlan.model_validate({"name": "f16", "defaults": {"sparsity": 0.5, "clusters": 16, "positions": 4,
                                                                       "codebook_format": "fixed16"}})
    cm = compress(copy.deepcopy(model), plan, model_name="alexnet-small")
    floats = FunctionalClassifier(model, NumberFormats.float32(), cm)(x)
    assert torch.equal(FunctionalClassifier(model, NumberFormats(None, 16, None), cm)(x), floats)
    assert not torch.equal(FunctionalClassifier(model, NumberFormats(None, 8, None), cm)(x), floats)


# -- the quantiser --------------------------------------------------------------------------------------

def test_quantize_hand_values():
    # fixed8 with 4 fractional bits: step 1/16, range [-8, 127/16 = 7.9375]
    x = torch.tensor([1.03125, 7.99, -9.0, 0.03125, 0.09375, -0.03125, -0.09375, 1.1, -8.0, 7.9375])
    q, clipped = quantize(x, 8, 4)
    expected = [
        1.0,      # 16.5 -> 16 (tie to even)
        7.9375,   # 127.84 -> 128 -> saturates at 127
        -8.0,     # -144 -> saturates at -128
        0.0,      # 0.5 -> 0 (tie to even)
        0.125,    # 1.5 -> 2 (tie to even)
        0.0,      # -0.5 -> -0
        -0.125,   # -1.5 -> -2
        1.125,    # 17.6 -> 18
        -8.0,     # -128 exactly: in range
        7.9375,   # 127 exactly: in range
    ]
    assert q.tolist() == expected
    assert clipped == 2


def test_frac_bits_from_max_hand_values():
    assert frac_bits_for(5.3, 8) == 4  # ceil(log2 5.3) = 3 -> 4; 5.3*16 = 84.8 -> 85 <= 127, 5.3*32 -> 170 too big
    assert frac_bits_for(0.9, 8) == 7  # 0.9*128 = 115.2 -> 115; 0.9*256 -> 230 too big
    assert frac_bits_for(7.99, 8) == 3  # 7.99*16 = 127.84 rounds to 128: one bit fewer than log2 says
    assert frac_bits_for(1.0, 8) == 6  # 1.0*128 = 128 does not fit; 64 does
    assert frac_bits_for(0.75, 16) == 15  # 0.75*32768 = 24576
    assert frac_bits_for(0.0, 8) == 7
    assert frac_bits_for(300.0, 8) == -2  # 300/4 = 75: a negative F (a coarse grid) for big values


def test_activation_scale_chosen_from_calibration_max():
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.5]]))
    model = nn.Sequential(OrderedDict(fc=lin))
    cal = torch.tensor([[5.3, -1.0], [0.5, 2.0]])  # max |input| 5.3 -> 4 fractional bits
    q = FunctionalClassifier(model, NumberFormats(8, 8, None), calibration=cal)
    # outputs over the calibration batch: 5.3 -> 5.3125 on the input grid, 5.3125 - 0.5 = 4.8125;
    # 0.5 + 1.0 = 1.5. Max 4.8125 -> ceil(log2) = 3 -> F = 4 (77 <= 127; 154 at F = 5 is not).
    assert q.activation_frac_bits == {"input": 4, "fc": 4}
    # weights: max 1.0 -> F = 6 (as 1.0*128 does not fit)
    assert q.weight_frac_bits == {"fc": 6}
    # values beyond the calibrated ranges saturate at 127/16: the input 9.0 (1 of 4 inputs), and the
    # output 7 + 0.5 * 4 = 9 of the second row (1 of 2 outputs; the first row's is 7.9375, in range)
    r = q.run(torch.tensor([[9.0, 0.0], [7.0, 4.0]]))
    assert r.saturated == {"input": 0.25, "fc": 0.5}
    assert r.logits.tolist() == [[7.9375], [7.9375]]


def test_activation_bits_need_calibration():
    model, cm, _, _ = _alexnet()
    with pytest.raises(ValueError, match="calibration"):
        FunctionalClassifier(model, NumberFormats(8, 8, 24), cm)
    FunctionalClassifier(model, NumberFormats(None, 8, None), cm)  # weights alone need none


def test_format_validation():
    with pytest.raises(ValueError, match="accumulator"):
        NumberFormats(None, 8, 24)
    with pytest.raises(ValueError, match="2..32"):
        NumberFormats(1, 8, None)
    with pytest.raises(ModelError, match="sig"):
        FunctionalClassifier(nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), sig=nn.Sigmoid())), NumberFormats.float32())


def test_from_hardware():
    hw = load_hwconfig("embedded-45nm")
    f = NumberFormats.from_hardware(hw)
    assert (f.activation_bits, f.weight_bits, f.accumulator_bits, f.codebook_bits) == (8, 8, 24, 8)
    assert NumberFormats.float32() == NumberFormats(None, None, None)


def test_shared_layers_use_the_codebook_width(one_thread):
    model, cm, _, _ = _alexnet()
    assert all(layer.codebook is not None for layer in cm.layers.values())  # every layer of the plan is shared
    q = FunctionalClassifier(model, NumberFormats(None, 16, None, codebook_bits=4), cm)
    decoded = cm.decoded_state()
    for name, frac in q.weight_frac_bits.items():
        assert frac == frac_bits_for(float(decoded[f"{name}.weight"].abs().max()), 4)


# -- measured error of the fixed-point paths ----------------------------------------------------------

def test_error_grows_as_the_formats_narrow(one_thread):
    """Measured on this model (He-normal weights, 50% pruned, 16-entry codebooks, randn crops; the
    largest |logit| is 1.72): 16-bit activations and weights differ from float by 6.8e-4 (4.0e-4 of
    the largest logit); 8-bit by 0.195 (0.114); 4-bit activations with 8-bit weights by 3.06 (1.78).

    Each quantisation point adds an error of up to half a step, 2^-F, where F leaves the layer's
    largest value in range: about 2^-15 (16 bit) or 2^-7 (8 bit) of the largest value; over 8 layers
    and 14 activation points this compounds to ~1e-3 of the range at 16 bits and ~1e-1 at 8 (256 times
    coarser). The bounds leave a factor ~3-5 of margin over the measured values."""
    model, cm, cal, x = _alexnet()
    ref = _reference(model, cm, x)
    scale = float(ref.abs().max())

    def rel(formats):
        r = FunctionalClassifier(model, formats, cm, cal).run(x)
        return float((r.logits - ref).abs().max()) / scale

    e16 = rel(NumberFormats(16, 16, 48))
    e8 = rel(NumberFormats(8, 8, 24))
    e4 = rel(NumberFormats(4, 8, 24))
    assert 0 < e16 < 2e-3
    assert 30 * e16 < e8 < 0.4
    assert e4 > 3 * e8


# -- accumulator ---------------------------------------------------------------------------------------

def _acc_model() -> nn.Module:
    lin = nn.Linear(8, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0] * 8, [1.0] * 4 + [0.0] * 4]))
        lin.bias.copy_(torch.tensor([0.0, 0.3]))
    return nn.Sequential(OrderedDict(fc=lin))


def test_accumulator_saturates_in_crafted_case():
    """Inputs 0.75 -> F_in = 7, code 96; weights 1.0 -> F_w = 6, code 64; product scale 2^-13.
    Row 0: 8 * 64 * 96 = 49152 > 2^15 - 1 = 32767 of a 16-bit accumulator -> 32767 = 3.99988.
    Row 1: 4 * 64 * 96 = 24576 plus bias round(0.3 * 8192) = 2458 -> 27034 = 3.30005 (no overflow).
    Output point: max 3.99988 -> F = 4 (3.99988 * 32 rounds to 128); 3.99988 -> 64/16 = 4.0,
    3.30005 -> 52.8 -> 53/16 = 3.3125."""
    x = torch.full((1, 8), 0.75)
    q = FunctionalClassifier(_acc_model(), NumberFormats(8, 8, 16), calibration=x)
    r = q.run(x)
    assert q.activation_frac_bits == {"input": 7, "fc": 4}
    assert r.logits.tolist() == [[4.0, 3.3125]]
    assert r.saturated == {"input": 0.0, "fc/accumulator": 0.5, "fc": 0.0}
    # A 24-bit accumulator holds 49152: 6.0 (F = 4 for the output as 6*16 = 96 fits, 192 does not).
    wide = FunctionalClassifier(_acc_model(), NumberFormats(8, 8, 24), calibration=x).run(x)
    assert wide.logits.tolist() == [[6.0, 3.3125]]
    assert wide.saturated["fc/accumulator"] == 0.0
    unchecked = FunctionalClassifier(_acc_model(), NumberFormats(8, 8, None), calibration=x).run(x)
    assert unchecked.logits.tolist() == [[6.0, 3.3125]] and "fc/accumulator" not in unchecked.saturated


# -- zero activations ----------------------------------------------------------------------------------

def _density_model() -> nn.Module:
    conv = nn.Conv2d(1, 1, 1, bias=False)
    fc = nn.Linear(16, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        fc.weight.fill_(1.0)
    return nn.Sequential(OrderedDict(conv=conv, relu=nn.ReLU(inplace=True), flatten=nn.Flatten(), fc=fc))


def _density_input() -> torch.Tensor:
    x = torch.zeros(2, 1, 4, 4)
    x[0, 0, 0, 0], x[0, 0, 1, 2], x[1, 0, 3, 3] = 0.5, -0.25, 0.75
    x[1, 0, 0, 1], x[1, 0, 2, 2] = -1.0, 1e-4
    return x  # 32 elements: 5 non-zero, 3 of them positive


def test_input_density_counts_nonzeros():
    x = _density_input()
    before = x.clone()
    r = FunctionalClassifier(_density_model(), NumberFormats.float32()).run(x)
    assert r.input_density == {"conv": 5 / 32, "fc": 3 / 32}  # ReLU keeps 0.5, 0.75, 1e-4
    assert torch.equal(x, before)
    # 8-bit: input max 1.0 -> F = 6, so 1e-4 (0.0064 LSB) is stored as 0 and the hardware sees 4 then 2
    q = FunctionalClassifier(_density_model(), NumberFormats(8, 8, 24), calibration=x)
    r8 = q.run(x)
    assert r8.input_density == {"conv": 4 / 32, "fc": 2 / 32}
    # running totals over batches, as simulate_frame takes them
    q.run(torch.zeros(2, 1, 4, 4))
    assert q.density_by_layer() == {"conv": 4 / 64, "fc": 2 / 64}


def test_density_feeds_simulate_frame(one_thread):
    from engine_helpers import INPUT_SHAPE, accel, small_model

    from accelsim.sim.frame import simulate_frame
    from accelsim.workload import build_workload

    model = small_model(0).eval()
    x = torch.randn(4, *INPUT_SHAPE, generator=torch.Generator().manual_seed(0))
    q = FunctionalClassifier(model, NumberFormats(16, 16, 32), calibration=x)
    q.run(x)
    density = q.density_by_layer()
    layers = build_workload(model, INPUT_SHAPE)
    assert list(density) == [l.name for l in layers if l.kind in ("conv", "fc")]
    assert density["conv1"] == 1.0 and all(0 < d < 1 for n, d in density.items() if n != "conv1")
    hw = accel(skip_zero_activations=True, skip_pruned_weights=False)
    rows = simulate_frame(layers, hw, proposals=1, activation_density=density).layers.set_index("layer")
    for l in layers:
        if l.name in density:
            assert rows.loc[l.name, "macs_executed"] == pytest.approx(l.macs * density[l.name], rel=1e-12)


# -- determinism and exactness -------------------------------------------------------------------------

def test_deterministic(one_thread):
    model, cm, cal, x = _alexnet()
    a = FunctionalClassifier(model, NumberFormats(8, 8, 24), cm, cal)
    b = FunctionalClassifier(model, NumberFormats(8, 8, 24), cm, cal)
    r1, r2 = a.run(x), a.run(x)
    assert torch.equal(r1.logits, r2.logits) and torch.equal(r1.logits, b(x))
    assert r1.input_density == r2.input_density and r1.saturated == r2.saturated


def test_float32_and_float64_integer_arithmetic_agree(one_thread, monkeypatch):
    """Layers whose sums stay below 2^24 run in float32; forcing float64 gives the same bits."""
    model, cm, cal, x = _alexnet()
    q = FunctionalClassifier(model, NumberFormats(8, 8, 24), cm, cal)
    assert q._float32_layers  # the 8-bit layers of this model do run in float32
    monkeypatch.setattr(fx, "_FLOAT32_EXACT_LIMIT", 0)
    q64 = FunctionalClassifier(model, NumberFormats(8, 8, 24), cm, cal)
    assert not q64._float32_layers
    assert torch.equal(q(x), q64(x))
    # 16-bit operands exceed 2^24 at any fan-in, so those layers always take float64
    monkeypatch.undo()
    assert not FunctionalClassifier(model, NumberFormats(16, 16, 48), cm, cal)._float32_layers


def test_logits_on_activation_grid(one_thread):
    model, cm, cal, x = _alexnet()
    q = FunctionalClassifier(model, NumberFormats(8, 8, 24), cm, cal)
    codes = q(x).double() * 2.0 ** q.activation_frac_bits["fc8"]
    assert torch.equal(codes, codes.round()) and float(codes.abs().max()) <= 128
    assert math.isfinite(float(q(x).sum()))
