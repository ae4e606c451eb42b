"""`CompressedModel`: every layer's storage plus what produced it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from accelsim.compress.plan import CompressionPlan
from accelsim.compress.storage import LayerBits, LayerStorage
from accelsim.errors import ModelError

FP32_BITS = 32


@dataclass
class CompressedModel:
    model: str  # registry name of the network the layers belong to
    plan: CompressionPlan
    layers: dict[str, LayerStorage]  # in execution order
    provenance: dict = field(default_factory=dict)  # weights file, fine-tuning, seed, version

    def decoded_state(self) -> dict[str, torch.Tensor]:
        """State-dict entries (``<layer>.weight``, ``<layer>.bias``) decoded from the streams."""
        state = {}
        for name, layer in self.layers.items():
            state[f"{name}.weight"] = torch.from_numpy(layer.decode())
            if layer.bias is not None:
                state[f"{name}.bias"] = torch.from_numpy(layer.bias.copy())
        return state

    def load_into(self, model: nn.Module) -> nn.Module:
        """Put the decoded weights into ``model`` (which must be the network they came from)."""
        state = self.decoded_state()
        own = model.state_dict()
        for key, tensor in state.items():
            if key not in own or tuple(own[key].shape) != tuple(tensor.shape):
                raise ModelError(f"compressed layer '{key}' does not fit model '{self.model}'")
        model.load_state_dict(state, strict=False)
        return model

    def table(self) -> pd.DataFrame:
        """One row per layer: the figures `accelsim compress` prints, units in the column names."""
        rows = []
        for name, layer in self.layers.items():
            dense_bytes = layer.weights * FP32_BITS / 8 + (0 if layer.bias is None else layer.bias.size * 4)
            rows.append(
                {
                    "layer": name,
                    "weights": layer.weights,
                    "kept_fraction": layer.kept / layer.weights,
                    "clusters": layer.clusters,
                    "index_bits": layer.index_bits,
                    "value_format": str(layer.value_format),
                    "position_bits": layer.position_bits,
                    "fillers": layer.fillers,
                    **layer.bits.as_dict(),
                    "compressed_bytes": layer.bits.total / 8,
                    "dense_fp32_bytes": dense_bytes,
                    "ratio": dense_bytes / (layer.bits.total / 8) if layer.bits.total else float("inf"),
                }
            )
        return pd.DataFrame(rows)

    def totals(self) -> dict:
        t = self.table()
        weights = int(t["weights"].sum())
        kept = float((t["kept_fraction"] * t["weights"]).sum())
        compressed = float(t["compressed_bytes"].sum())
        dense = float(t["dense_fp32_bytes"].sum())
        bit_cols = list(LayerBits().as_dict())
        return {
            "weights": weights,
            "kept_fraction": kept / weights,
            "fillers": int(t["fillers"].sum()),
            **{c: int(t[c].sum()) for c in bit_cols},
            "compressed_bytes": compressed,
            "dense_fp32_bytes": dense,
            "ratio": dense / compressed if compressed else float("inf"),
        }
