"""Functional execution of the CNN classifier in the hardware's number formats.

The miss rate reported next to a design point's energy is the miss rate of *that* hardware: the
weights decoded from the `CompressedModel`'s streams and codebooks, the MAC array's weight width, its
activation width and its accumulator width. `FunctionalClassifier` runs the classifier that way and
measures, on the real inputs, what the accelerator model needs from the run: the density of non-zero
input activations of every conv/fc layer (what zero-activation skipping sees).

Model shape
    Any network whose forward pass applies its leaf modules one after the other in registration order
    (`AlexNetClassifier`, `ToyBarsNet`, an ``nn.Sequential``): Conv2d, Linear, MaxPool2d, AvgPool2d,
    LocalResponseNorm, ReLU, Flatten, Dropout (identity: the copy is put in eval mode) and Identity.
    The leaves are walked exactly as `accelsim.workload.build_workload` walks them, so layer names
    here are the workload's layer names. Any other leaf is a `ModelError`.

Number formats (`NumberFormats`)
    Fixed point is B-bit two's complement with a per-tensor power-of-two scale (dynamic fixed point):
    a value v is held as the integer q = clip(round(v * 2^F), -2^(B-1), 2^(B-1) - 1), where F are the
    fractional bits, rounding is to nearest with ties to even (`torch.round`), and values outside the
    range saturate (and are counted). F is chosen from the largest magnitude M the tensor must hold as
    the most fractional bits whose code range still holds round(M * 2^F): the same rule as the
    compression formats' automatic ``fixed<B>`` (`ValueFormat.resolve`), so a layer that compression
    already stored as ``fixed<B>`` passes through a B-bit weight quantiser unchanged.

    * Weights: per layer, M = max |w| of the decoded layer (the weights never saturate).
      Codebook-shared layers are quantised to ``codebook_bits`` (the decoders' ``value_bits``: the
      decoder tables hold entries of that width, and the MAC array takes them, widened losslessly,
      at ``weight_bits``); unshared layers, whose stored values go to the array directly, to
      ``weight_bits``. `NumberFormats.from_hardware` sets both; the config guarantees
      ``value_bits <= weight_bits``, so the narrower decoder width is the one that limits a shared
      layer. The plan's own stored format is applied first (the decoded weights), then this one:
      an fp32 codebook on an 8-bit decoder is modelled as 8-bit.
    * Activations: one quantisation point per tensor the accelerator writes to memory, i.e. per
      workload layer: the crop (point ``"input"``), and the output of every conv/fc (after bias and
      its ReLU, which the workload fuses), pool and LRN layer, named by that layer. Flatten, Dropout,
      Identity and a ReLU keep values on their grid, so they need no point of their own. F of each
      point comes from M = max |value| at that point over the ``calibration`` batch, calibrated
      progressively in one pass (each point sees the earlier points already quantised, as the
      hardware would). The last layer's output (the logits) is a point too: the accelerator writes
      the scores out in the activation format, so with coarse activations scores can tie.
      Pool and LRN layers are separate points (as they are separate layers of the workload that read
      from and write to SRAM), not fused into the conv before them; max pooling commutes with
      rounding, so only the LRN's own rounding is extra. LRN and average pooling are computed in
      float64 on the quantised input and their output is quantised (an LRN unit with ample internal
      precision).
    * Accumulators: the output of a conv/fc layer (after bias, before ReLU) is the accumulator, an
      integer in units of the product scale 2^-(F_w + F_in). It is saturated to the
      ``accumulator_bits`` two's complement range [-2^(A-1), 2^(A-1) - 1]; values that overflow are
      counted under ``"<layer>/accumulator"``. Only the final sum is checked: a saturating accumulator
      could also clip a partial sum that later comes back in range, which depends on the MAC order
      and is not modelled. Biases are quantised to the product scale (round half to even; clipped to
      the accumulator range when one is set). An accumulator needs both operands in fixed point.

Exactness
    Fixed point is simulated with torch float ops on integer-valued tensors (the codes q), not a
    Python loop. A conv/fc layer's sum of products is exact when every partial sum is an integer
    representable in the float type: below 2^24 in float32, 2^53 in float64. Whatever order the
    kernel adds in, a partial sum of output o is at most sum_i |q_w[o, i]| * 2^(B_a - 1) + |q_bias[o]|;
    per layer the largest such bound over the outputs is checked: under 2^24 the layer runs in float32
    with the bias inside the conv/linear call (exact, and faster), otherwise in float64 with the bias
    added after the sum (exact up to 2^53, which covers every width up to 16-bit weights and
    activations at AlexNet's largest fan-in of 9216; wider operands could lose low bits on a layer
    that big). An accumulator that the bound keeps inside its range cannot saturate and is not
    compared. Between layers activations are held as their codes (float32 up to 24 bits, float64
    wider) with the point's F, and each quantisation point rescales its input once: round(t * 2^(F - F'))
    of codes or accumulators t in units of 2^-F', exact in float32 for integers below 2^24 (see
    `_requantize`), so it rounds the same real number that round((t * 2^-F') * 2^F) in float64 does.
    ReLU and max pooling commute with the positive scale 2^-F', so they run on the codes; LRN and
    average pooling run in float64 on the values t * 2^-F'. So a result does not depend on the
    summation order torch's kernels choose: it is deterministic and bit-identical across machines,
    and identical to holding float64 values q * 2^-F between layers (as this module once did).

Float path
    With `NumberFormats.float32()` nothing is quantised: the leaves run as torch modules in float32
    on the decoded weights, which is the plain torch model after ``compressed.load_into(model)``.

Zero activations
    `FunctionalResult.input_density` holds, per conv/fc layer, the fraction of the elements of its
    input tensor (after quantisation: what the accelerator holds in SRAM) that are non-zero; a conv's
    zero padding is not part of its input tensor and is not counted. It is in the form
    `accelsim.sim.frame.simulate_frame(..., activation_density=...)` takes: a mapping from workload
    layer name to that fraction (layers missing from it count as dense, 1.0; it only changes
    the cycles and MACs when the config's ``sparsity.skip_zero_activations`` is set). The classifier
    also keeps running totals over every batch it has run (not the calibration batch), so
    `FunctionalClassifier.density_by_layer` is the density over all proposals scored so far.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from accelsim.compress.formats import ValueFormat
from accelsim.compress.model import CompressedModel
from accelsim.errors import ModelError

if TYPE_CHECKING:  # the detector reads a config's widths; it does not depend on the config package at run time
    from accelsim.config.hardware import HardwareConfig

INPUT = "input"  # name of the crop's quantisation point
_FLOAT32_EXACT_LIMIT = 2**24  # integers up to this magnitude are exact in float32 (tests lower it)
_FLOAT64_EXACT_LIMIT = 2**53
_ONE_SCALING_MAX_EXP = 500  # see `_requantize`

_COMPUTE = (nn.Conv2d, nn.Linear)
_PRODUCERS = (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.LocalResponseNorm)
_ON_GRID = (nn.ReLU, nn.Flatten, nn.Dropout, nn.Identity)  # keep quantised values on their grid


# -- number formats ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class NumberFormats:
    """Widths of the classifier's number formats; None = float (no quantisation at that point)."""

    activation_bits: int | None  # None = float32 activations
    weight_bits: int | None  # None = weights as decoded (float)
    accumulator_bits: int | None  # None = no accumulator saturation check
    codebook_bits: int | None = None  # width of decoded codebook entries (shared layers); None = weight_bits

    def __post_init__(self):
        for name in ("activation_bits", "weight_bits", "codebook_bits"):
            bits = getattr(self, name)
            if bits is not None and not 2 <= bits <= 32:
                raise ValueError(f"{name} {bits} is outside 2..32 (two's complement fixed point)")
        if self.accumulator_bits is not None:
            if not 2 <= self.accumulator_bits <= 64:
                raise ValueError(f"accumulator_bits {self.accumulator_bits} is outside 2..64")
            if self.activation_bits is None or self.weight_bits is None:
                raise ValueError("an accumulator width needs fixed-point activations and weights "
                                 "(activation_bits and weight_bits)")

    @classmethod
    def from_hardware(cls, cfg: HardwareConfig) -> NumberFormats:
        """The MAC array's activation, weight and accumulator widths; codebook-shared layers at the
        decoders' ``value_bits`` (the width their tables hold)."""
        mac = cfg.mac_array
        return cls(activation_bits=mac.activation_bits, weight_bits=mac.weight_bits,
                   accumulator_bits=mac.accumulator_bits, codebook_bits=cfg.decoders.value_bits)

    @classmethod
    def float32(cls) -> NumberFormats:
        return cls(None, None, None)

    def weight_bits_for(self, shared: bool) -> int | None:
        if shared and self.codebook_bits is not None:
            return self.codebook_bits
        return self.weight_bits

    def __str__(self) -> str:
        def b(v):
            return "float" if v is None else f"{v}b"

        return (f"activations {b(self.activation_bits)}, weights {b(self.weight_bits)}"
                f" (codebook {b(self.codebook_bits if self.codebook_bits is not None else self.weight_bits)}),"
                f" accumulator {'unchecked' if self.accumulator_bits is None else f'{self.accumulator_bits}b'}")


def frac_bits_for(max_abs: float, bits: int) -> int:
    """Most fractional bits of a ``bits``-bit two's complement code that still hold ``max_abs``
    after rounding (the automatic ``fixed<B>`` rule of `ValueFormat.resolve`)."""
    if not math.isfinite(max_abs):
        raise ValueError(f"cannot choose a fixed-point scale for a tensor whose largest magnitude is {max_abs}")
    return ValueFormat("fixed", bits).resolve(float(max_abs)).frac_bits


def quantize_codes(x: torch.Tensor, bits: int, frac_bits: int) -> tuple[torch.Tensor, int]:
    """(integer codes of ``x`` in ``bits``-bit two's complement with ``frac_bits`` fractional bits,
    number of values that saturated). Round to nearest, ties to even.

    The codes are float32 when ``x`` is float32 and they fit 24 bits (scaling a float32 by a power of
    two that float32 holds is exact, and so is rounding it), float64 otherwise."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    small = x.dtype == torch.float32 and bits <= 24 and abs(frac_bits) <= 100
    q = torch.round(x.to(torch.float32 if small else torch.float64) * (2.0 ** frac_bits))
    if not q.numel():
        return q, 0
    qmin, qmax = torch.aminmax(q)
    if lo <= float(qmin) and float(qmax) <= hi:  # the common case: nothing to count
        return q, 0
    clipped = int(((q < lo) | (q > hi)).sum())
    return q.clamp_(lo, hi), clipped


def quantize(x: torch.Tensor, bits: int, frac_bits: int) -> tuple[torch.Tensor, int]:
    """(``x`` rounded to the fixed-point grid, as float64 values; number of values that saturated)."""
    q, clipped = quantize_codes(x, bits, frac_bits)
    return q.to(torch.float64) * (2.0 ** -frac_bits), clipped


# -- results ----------------------------------------------------------------------------------------

@dataclass
class FunctionalResult:
    logits: torch.Tensor  # [batch, classes], float32
    input_density: dict[str, float]  # per conv/fc layer: fraction of non-zero input activations
    saturated: dict[str, float]  # per quantisation point ("input", "<layer>", "<layer>/accumulator")


@dataclass
class _Stage:
    """A workload layer: the leaf that writes a tensor (None before the first one) and the on-grid
    leaves after it."""

    name: str
    producer: nn.Module | None
    followers: list[nn.Module] = field(default_factory=list)


@dataclass
class _LayerWeights:
    frac: int  # fractional bits of the weight codes
    codes: torch.Tensor  # integer codes: float32 up to 24 bits (exact), float64 wider; then the layer's compute type
    max_code: int
    values: torch.Tensor | None = None  # codes * 2^-frac in float32, for float activations


class _Stats:
    def __init__(self):
        self.nonzero: dict[str, int] = {}
        self.elements: dict[str, int] = {}
        self.clipped: dict[str, int] = {}
        self.values: dict[str, int] = {}

    def density(self, name: str, x: torch.Tensor) -> None:
        self.nonzero[name] = self.nonzero.get(name, 0) + int(torch.count_nonzero(x))
        self.elements[name] = self.elements.get(name, 0) + x.numel()

    def clip(self, name: str, clipped: int, total: int) -> None:
        self.clipped[name] = self.clipped.get(name, 0) + clipped
        self.values[name] = self.values.get(name, 0) + total

    def merge(self, other: _Stats) -> None:
        for mine, theirs in ((self.nonzero, other.nonzero), (self.elements, other.elements),
                             (self.clipped, other.clipped), (self.values, other.values)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v

    def input_density(self) -> dict[str, float]:
        return {k: self.nonzero[k] / n if n else 1.0 for k, n in self.elements.items()}

    def saturated(self) -> dict[str, float]:
        return {k: self.clipped[k] / n if n else 0.0 for k, n in self.values.items()}


# -- the classifier ---------------------------------------------------------------------------------

class FunctionalClassifier:
    """The classifier with the decoded weights, run in ``formats``. See the module docstring."""

    def __init__(self, model: nn.Module, formats: NumberFormats, compressed: CompressedModel | None = None,
                 calibration: torch.Tensor | None = None):
        self.formats = formats
        self.model = copy.deepcopy(model).eval()
        if compressed is not None:
            compressed.load_into(self.model)
        self.model.float()
        self._stages = _stages(self.model)
        shared = {n for n, layer in (compressed.layers.items() if compressed else ()) if layer.codebook is not None}

        self._weights: dict[str, _LayerWeights] = {}
        self._integer: dict[str, _IntegerLayer] = {}
        self._act_frac: dict[str, int] = {}
        # codes between layers: float32 holds every integer of up to 24 bits exactly
        bits_a = formats.activation_bits
        self._codes_dtype = torch.float32 if bits_a is not None and bits_a <= 24 else torch.float64
        self._float32_layers: set[str] = set()
        for s in self._stages:
            if isinstance(s.producer, _COMPUTE):
                bits = formats.weight_bits_for(s.name in shared)
                if bits is not None:
                    w = s.producer.weight.detach()
                    frac = frac_bits_for(_max_abs(w), bits)
                    codes, _ = quantize_codes(w, bits, frac)  # the rule never saturates the layer's max
                    lw = _LayerWeights(frac, codes, int(_max_abs(codes)))
                    if formats.activation_bits is None:  # exact: codes * 2^-F, then one rounding to float32
                        lw.values = (codes * 2.0 ** -frac).to(torch.float32)
                    self._weights[s.name] = lw

        if formats.activation_bits is not None:
            if calibration is None:
                raise ValueError(f"activation_bits {formats.activation_bits} needs a calibration batch to choose "
                                 "each layer's activation scale")
            with torch.no_grad():
                self._forward(calibration, _Stats(), calibrate=True)
        self._totals = _Stats()

    # -- public ---------------------------------------------------------------------------------------

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x).logits

    def run(self, x: torch.Tensor) -> FunctionalResult:
        stats = _Stats()
        with torch.no_grad():
            logits = self._forward(x, stats, calibrate=False)
        self._totals.merge(stats)
        return FunctionalResult(logits, stats.input_density(), stats.saturated())

    def density_by_layer(self) -> dict[str, float]:
        """Fraction of non-zero input activations per conv/fc layer over every batch run since
        construction, in the form `simulate_frame(activation_density=...)` takes."""
        return self._totals.input_density()

    def saturation(self) -> dict[str, float]:
        """Fraction of values saturated per quantisation point over every batch run so far."""
        return self._totals.saturated()

    @property
    def activation_frac_bits(self) -> dict[str, int]:
        """Calibrated fractional bits per activation quantisation point."""
        return dict(self._act_frac)

    @property
    def weight_frac_bits(self) -> dict[str, int]:
        return {n: w.frac for n, w in self._weights.items()}

    # -- execution ------------------------------------------------------------------------------------

    def _forward(self, x: torch.Tensor, stats: _Stats, calibrate: bool) -> torch.Tensor:
        x = x.to(torch.float32)
        if self.formats.activation_bits is None:
            return self._forward_float(x, stats)
        return self._forward_fixed(x, stats, calibrate)

    def _forward_float(self, x: torch.Tensor, stats: _Stats) -> torch.Tensor:
        if self._stages[0].followers:
            x = x.clone()  # an in-place ReLU straight on the input must not change the caller's tensor
        for s in self._stages:
            m = s.producer
            if isinstance(m, _COMPUTE):
                stats.density(s.name, x)
                w = self._weights.get(s.name)
                x = m(x) if w is None else _apply(m, x, w.values, m.bias)
            elif m is not None:
                x = m(x)
            for f in s.followers:
                x = f(x)
        return x

    def _forward_fixed(self, x: torch.Tensor, stats: _Stats, calibrate: bool) -> torch.Tensor:
        """Activations travel as a pair (t, e) standing for the values t * 2^e: after a quantisation
        point t holds the codes and e = -F, after an integer layer t is the accumulator and
        e = -(F_w + F_in). Scaling by a power of two commutes with ReLU and max pooling, so those run
        on t directly, and each point rescales once (see `_requantize`)."""
        t, e = self._point(INPUT, x, 0, stats, calibrate)  # x is a fresh tensor: in-place followers are safe
        for s in self._stages:
            m = s.producer
            if isinstance(m, _COMPUTE):
                stats.density(s.name, t)
                t, e = self._compute(s, t, e, stats, calibrate)
            elif isinstance(m, nn.MaxPool2d):
                t = m(t)
            elif m is not None:  # LRN and average pooling, in float64 on the values
                t, e = m(_values(t, e)), 0
            for f in s.followers:
                t = f(t)
            if m is not None:
                t, e = self._point(s.name, t, e, stats, calibrate)
        return _values(t, e).to(torch.float32)

    def _point(self, name: str, t: torch.Tensor, e: int, stats: _Stats, calibrate: bool) -> tuple[torch.Tensor, int]:
        """Quantise the values t * 2^e written at point ``name``: (codes in the codes' type, -F)."""
        bits = self.formats.activation_bits
        if calibrate:
            self._act_frac[name] = frac_bits_for(_max_abs(_values(t, e)), bits)
        frac = self._act_frac[name]
        codes, clipped = _requantize(t, e, bits, frac)
        stats.clip(name, clipped, t.numel())
        return codes.to(self._codes_dtype), -frac

    def _compute(self, s: _Stage, t: torch.Tensor, e: int, stats: _Stats, calibrate: bool) -> tuple[torch.Tensor, int]:
        m = s.producer
        w = self._weights.get(s.name)
        if w is None:  # float weights: float arithmetic on the grid values
            return _apply(m, _values(t, e).to(torch.float32), m.weight, m.bias), 0

        # Integer arithmetic: codes times codes, in units of the product scale 2^-(F_w + F_in). The
        # bias codes and the float type depend on F_in, so they are fixed when it is calibrated.
        prod_frac = w.frac - e  # t holds the input point's codes, e = -F_in
        if calibrate:
            self._prepare_integer_layer(s.name, m, w, prod_frac)
        layer = self._integer[s.name]
        if layer.fused_bias:  # exact: the bound that chose float32 includes the bias
            accumulated = _apply(m, t.to(layer.dtype), w.codes, layer.bias)
        else:
            accumulated = _apply(m, t.to(layer.dtype), w.codes, None)
            if layer.bias is not None:
                accumulated = accumulated + layer.bias.reshape((-1,) + (1,) * (accumulated.dim() - 2))
        if layer.may_saturate:
            lo, hi = _accumulator_range(self.formats.accumulator_bits)
            clipped = int(((accumulated < lo) | (accumulated > hi)).sum())
            stats.clip(f"{s.name}/accumulator", clipped, accumulated.numel())
            accumulated = accumulated.clamp(lo, hi)
        elif self.formats.accumulator_bits is not None:  # the bound stays in range: nothing can clip
            stats.clip(f"{s.name}/accumulator", 0, accumulated.numel())
        return accumulated, -prod_frac

    def _prepare_integer_layer(self, name: str, m: nn.Module, w: _LayerWeights, prod_frac: int) -> None:
        acc_bits = self.formats.accumulator_bits
        bias = None
        if m.bias is not None:
            bias = torch.round(m.bias.detach().to(torch.float64) * 2.0 ** prod_frac)
            if acc_bits is not None:
                bias = bias.clamp(*_accumulator_range(acc_bits))
        # Every partial sum of output o is at most sum_i |q_w[o, i]| * max|q_in| + |q_bias[o]|, in
        # whatever order the kernel adds; zero padding adds nothing.
        max_code_in = 2 ** (self.formats.activation_bits - 1)
        bound_o = w.codes.to(torch.float64).reshape(w.codes.shape[0], -1).abs().sum(1) * max_code_in
        if bias is not None:
            bound_o = bound_o + bias.abs()
        bound = float(bound_o.max()) if bound_o.numel() else 0.0
        float32 = bound < _FLOAT32_EXACT_LIMIT
        if float32:
            self._float32_layers.add(name)
        else:
            self._float32_layers.discard(name)
        dtype = torch.float32 if float32 else torch.float64
        w.codes = w.codes.to(dtype)
        exact = bound < (_FLOAT32_EXACT_LIMIT if float32 else _FLOAT64_EXACT_LIMIT)
        may_saturate = acc_bits is not None and not (exact and bound <= _accumulator_range(acc_bits)[1])
        # float64 layers add the bias after the sum, as the accumulator does: beyond 2^53 the order matters
        fused = float32 and bias is not None
        self._integer[name] = _IntegerLayer(dtype, None if bias is None else bias.to(dtype), fused, may_saturate)


@dataclass(frozen=True)
class _IntegerLayer:
    """A conv/fc layer with both operands in fixed point, fixed once F_in is calibrated."""

    dtype: torch.dtype  # of the sum of products: float32 when its bound is below 2^24
    bias: torch.Tensor | None  # codes on the product grid, in ``dtype``
    fused_bias: bool  # the bias goes into the conv/linear call itself
    may_saturate: bool  # the accumulator can leave its range, so values are compared and clamped


def _accumulator_range(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _values(t: torch.Tensor, e: int) -> torch.Tensor:
    """The values t * 2^e in float64 (exact: widening float32 is, and so is a power-of-two scale in range)."""
    return t.to(torch.float64) * 2.0 ** e


def _requantize(t: torch.Tensor, e: int, bits: int, frac: int) -> tuple[torch.Tensor, int]:
    """`quantize_codes` of the values t * 2^e (t integer-valued when e != 0), in one scaling.

    round(t * 2^(e + F)) equals round((t * 2^e) * 2^F) whenever both scalings of the second form are
    exact, which holds in float64 for integers |t| < 2^53 while |e| and |F| stay below 500; in
    float32, which `quantize_codes` takes for float32 t and |e + F| <= 100, t * 2^(e + F) is exact
    for integers |t| < 2^24 (the float32 codes and accumulators). Beyond that, the two scalings."""
    if e == 0 or (abs(e) < _ONE_SCALING_MAX_EXP and abs(frac) < _ONE_SCALING_MAX_EXP):
        return quantize_codes(t, bits, frac + e)
    return quantize_codes(_values(t, e), bits, frac)


def _max_abs(t: torch.Tensor) -> float:
    if not t.numel():
        return 0.0
    lo, hi = torch.aminmax(t)
    return max(-float(lo), float(hi))


def _apply(m: nn.Module, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    if bias is not None:
        bias = bias.to(x.dtype)
    if isinstance(m, nn.Conv2d):
        if m.padding_mode != "zeros":
            raise ModelError(f"conv padding mode '{m.padding_mode}' is not modelled (zeros only)")
        return F.conv2d(x, weight, bias, m.stride, m.padding, m.dilation, m.groups)
    return F.linear(x, weight, bias)


def _stages(model: nn.Module) -> list[_Stage]:
    """The leaves grouped into workload layers, in execution order."""
    stages = [_Stage(INPUT, None)]
    for name, module in model.named_modules():
        if len(list(module.children())):
            continue
        if isinstance(module, _PRODUCERS):
            stages.append(_Stage(name, module))
        elif isinstance(module, _ON_GRID):
            stages[-1].followers.append(module)
        else:
            raise ModelError(f"layer '{name}' ({type(module).__name__}) has no functional model")
    return stages
