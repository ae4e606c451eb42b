"""The fixed-point path against a plain reference: the module docstring's semantics written out
directly, with float64 values between layers and every sum of products in float64 (exact for these
widths), one leaf at a time. The fast path holds codes in float32, fuses biases and rescales once per
point; its logits, densities and saturation counts must be the reference's, bit for bit."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from accelsim.model.alexnet import AlexNetClassifier, init_gaussian_  # (model package first: import cycle)
from accelsim.compress import CompressionPlan, compress  # noqa: I001
from accelsim.detect.functional import FunctionalClassifier, NumberFormats, frac_bits_for

SIDE = 67
_PRODUCERS = (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.LocalResponseNorm)


def _quantize(v: torch.Tensor, bits: int, frac: int) -> tuple[torch.Tensor, int]:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    q = torch.round(v.double() * 2.0 ** frac)
    clipped = int(((q < lo) | (q > hi)).sum())
    return q.clamp(lo, hi), clipped


def _max_abs(v: torch.Tensor) -> float:
    return float(v.abs().max())


def reference(model: nn.Module, formats: NumberFormats, calibration: torch.Tensor, x: torch.Tensor,
              shared: set[str] = frozenset()):
    """(logits, activation fractional bits, input density, saturation) of the documented semantics."""
    bits_a, acc_bits = formats.activation_bits, formats.accumulator_bits
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    weights = {}
    for name, m in leaves:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            bits = formats.weight_bits_for(name in shared)
            w = m.weight.detach().double()
            frac = frac_bits_for(_max_abs(w), bits)
            weights[name] = (torch.round(w * 2.0 ** frac), frac)
    act_frac: dict[str, int] = {}

    def run(batch, calibrate):
        nonzero, elements, clipped, values = {}, {}, {}, {}

        def point(name, v):
            if calibrate:
                act_frac[name] = frac_bits_for(_max_abs(v), bits_a)
            q, c = _quantize(v, bits_a, act_frac[name])
            clipped[name], values[name] = clipped.get(name, 0) + c, values.get(name, 0) + v.numel()
            return q * 2.0 ** -act_frac[name]

        v = point("input", batch.double())
        last = "input"  # the point the next layer reads
        pending = None  # a layer's point comes after the on-grid leaves (its ReLU) that follow it
        for name, m in leaves:
            if not isinstance(m, _PRODUCERS):  # ReLU, Flatten, Dropout (eval), Identity
                v = m(v)
                continue
            if pending is not None:
                v, last, pending = point(pending, v), pending, None
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nonzero[name], elements[name] = int((v != 0).sum()), v.numel()
                w_codes, w_frac = weights[name]
                in_frac = act_frac[last]
                prod_frac = w_frac + in_frac
                codes = torch.round(v * 2.0 ** in_frac)
                if isinstance(m, nn.Conv2d):
                    acc = F.conv2d(codes, w_codes, None, m.stride, m.padding, m.dilation, m.groups)
                else:
                    acc = F.linear(codes, w_codes)
                if m.bias is not None:
                    bias = torch.round(m.bias.detach().double() * 2.0 ** prod_frac)
                    bias = bias.clamp(-(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1)
                    acc = acc + bias.reshape((-1,) + (1,) * (acc.dim() - 2))
                acc, c = _quantize(acc, acc_bits, 0)
                key = f"{name}/accumulator"
                clipped[key], values[key] = clipped.get(key, 0) + c, values.get(key, 0) + acc.numel()
                v = acc * 2.0 ** -prod_frac
            else:  # pooling and LRN on the float64 values
                v = m(v)
            pending = name
        v = point(pending, v)
        return v.float(), nonzero, elements, clipped, values

    run(calibration, calibrate=True)
    logits, nonzero, elements, clipped, values = run(x, calibrate=False)
    density = {k: nonzero[k] / elements[k] for k in elements}
    saturated = {k: clipped[k] / values[k] for k in values}
    return logits, act_frac, density, saturated


def _model(pool: type[nn.Module] = nn.MaxPool2d) -> nn.Module:
    torch.manual_seed(0)
    model = init_gaussian_(AlexNetClassifier(width=0.25, fc=64, input_size=SIDE), seed=0).eval()
    if pool is nn.AvgPool2d:  # average pooling goes the float64 way that LRN goes
        model.pool2 = nn.AvgPool2d(kernel_size=3, stride=2)
    return model


@pytest.mark.parametrize("formats", [NumberFormats(8, 8, 24), NumberFormats(6, 8, 14), NumberFormats(4, 4, 10),
                                     NumberFormats(16, 16, 48), NumberFormats(8, 8, 24, codebook_bits=6)],
                         ids=str)
@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d], ids=lambda p: p.__name__)
def test_fixed_point_equals_the_reference_bit_for_bit(one_thread, formats, pool):
    model = _model(pool)
    plan = CompressionPlan.model_validate({"name": "tiny", "defaults": {"sparsity": 0.5, "clusters": 16, "positions": 4}})
    cm = compress(copy.deepcopy(model), plan, model_name="alexnet-small")
    decoded = cm.load_into(copy.deepcopy(model)).eval()
    gen = torch.Generator().manual_seed(1)
    calibration = torch.randn(24, 3, SIDE, SIDE, generator=gen) * 0.3
    x = torch.randn(12, 3, SIDE, SIDE, generator=gen)  # wider than calibrated: points saturate
    shared = {n for n, layer in cm.layers.items() if layer.codebook is not None}

    q = FunctionalClassifier(model, formats, cm, calibration=calibration)
    got = q.run(x)
    logits, act_frac, density, saturated = reference(decoded, formats, calibration, x, shared)

    assert q.activation_frac_bits == act_frac
    assert torch.equal(got.logits.view(torch.int32), logits.view(torch.int32))  # bits, the sign of zero too
    assert got.input_density == density
    assert got.saturated == saturated
    assert saturated["input"] > 0  # the comparison covers saturating points


def test_narrow_accumulators_saturate_as_the_reference_does(one_thread):
    model = _model()
    gen = torch.Generator().manual_seed(2)
    calibration, x = torch.randn(16, 3, SIDE, SIDE, generator=gen), torch.randn(8, 3, SIDE, SIDE, generator=gen)
    formats = NumberFormats(8, 8, 12)
    got = FunctionalClassifier(model, formats, calibration=calibration).run(x)
    logits, _, density, saturated = reference(model, formats, calibration, x)
    assert any(v > 0 for k, v in saturated.items() if k.endswith("/accumulator"))
    assert torch.equal(got.logits, logits) and got.saturated == saturated and got.input_density == density
