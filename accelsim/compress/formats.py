"""Number formats for stored values (codebook entries, unshared weights, biases).

Grammar: ``fp32``, ``fp16``, ``fixed<B>`` (B-bit two's complement, fractional bits chosen per layer as
the most that still hold the layer's largest magnitude) or ``fixed<B>.<F>`` (F fractional bits given).
A fixed format with explicit F that cannot hold a layer's range is refused before any work, naming the
layer; with automatic F the range always fits and precision adapts per layer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

_PATTERN = re.compile(r"^(?:(fp32|fp16)|fixed(\d+)(?:\.(-?\d+))?)$")


@dataclass(frozen=True)
class ValueFormat:
    kind: str  # "fp32" | "fp16" | "fixed"
    bits: int
    frac_bits: int | None = None  # fixed only; None = chosen per tensor

    @classmethod
    def parse(cls, text: str) -> ValueFormat:
        m = _PATTERN.match(str(text).strip())
        if not m:
            raise ValueError(f"'{text}' is not a value format (expected fp32, fp16, fixed<bits> or fixed<bits>.<frac_bits>)")
        if m.group(1):
            return cls(m.group(1), 32 if m.group(1) == "fp32" else 16)
        bits = int(m.group(2))
        if not 2 <= bits <= 32:
            raise ValueError(f"fixed-point width {bits} bits is outside 2..32")
        frac = int(m.group(3)) if m.group(3) is not None else None
        return cls("fixed", bits, frac)

    def __str__(self) -> str:
        if self.kind != "fixed":
            return self.kind
        return f"fixed{self.bits}" if self.frac_bits is None else f"fixed{self.bits}.{self.frac_bits}"

    # -- fixed point ---------------------------------------------------------------------------
    @property
    def max_code(self) -> int:
        return 2 ** (self.bits - 1) - 1

    def fits(self, max_abs: float, frac_bits: int) -> bool:
        """True when every value of magnitude <= max_abs rounds to a code inside the B-bit range."""
        return round(max_abs * 2.0**frac_bits) <= self.max_code

    def resolve(self, max_abs: float) -> ValueFormat:
        """This format with its fractional bits fixed for a tensor whose largest magnitude is max_abs.

        Raises ValueError when explicit fractional bits cannot hold max_abs."""
        if self.kind != "fixed":
            return self
        if self.frac_bits is not None:
            if not self.fits(max_abs, self.frac_bits):
                largest = self.max_code / 2.0**self.frac_bits
                raise ValueError(
                    f"{self} holds magnitudes up to {largest:.6g}, but values reach {max_abs:.6g}; "
                    f"use fewer fractional bits or '{self.kind}{self.bits}' to choose them automatically"
                )
            return self
        if max_abs == 0.0:
            return ValueFormat("fixed", self.bits, self.bits - 1)
        frac = self.bits - 1 - math.ceil(math.log2(max_abs))
        while not self.fits(max_abs, frac):  # rounding can push the top value one code too far
            frac -= 1
        while self.fits(max_abs, frac + 1):
            frac += 1
        return ValueFormat("fixed", self.bits, frac)

    # -- conversion ----------------------------------------------------------------------------
    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Nearest representable values, as float32 (the format must be resolved)."""
        return self.decode(self.encode(values))

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Raw codes as unsigned integers of ``bits`` bits (what the memory holds)."""
        values = np.asarray(values, dtype=np.float64)
        if self.kind == "fp32":
            return values.astype(np.float32).view(np.uint32).astype(np.uint64)
        if self.kind == "fp16":
            return values.astype(np.float16).view(np.uint16).astype(np.uint64)
        self._require_resolved()
        codes = np.clip(np.rint(values * 2.0**self.frac_bits), -(self.max_code + 1), self.max_code).astype(np.int64)
        return (codes & ((1 << self.bits) - 1)).astype(np.uint64)

    def decode(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.uint64)
        if self.kind == "fp32":
            return raw.astype(np.uint32).view(np.float32).copy()
        if self.kind == "fp16":
            return raw.astype(np.uint16).view(np.float16).astype(np.float32)
        self._require_resolved()
        signed = raw.astype(np.int64)
        signed = np.where(signed > self.max_code, signed - (1 << self.bits), signed)
        return (signed / 2.0**self.frac_bits).astype(np.float32)

    def _require_resolved(self) -> None:
        if self.frac_bits is None:
            raise ValueError(f"{self}: fractional bits must be resolved for a tensor first")
