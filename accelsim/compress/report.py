"""The compression table as text and as JSON."""

from __future__ import annotations

import math

from accelsim.compress.model import CompressedModel

_JSON_FIELDS = ["layer", "weights", "kept_fraction", "clusters", "index_bits", "value_format", "position_bits", "fillers",
                "codebook_bits", "index_stream_bits", "position_stream_bits", "filler_bits", "huffman_table_bits",
                "bias_bits", "total_bits", "compressed_bytes", "dense_fp32_bytes", "ratio"]


def _clean(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):  # NaN: not applicable; inf: nothing stored
        return None
    return value


def compression_json(cm: CompressedModel) -> dict:
    table = cm.table()
    layers = [{f: _clean(row[f]) for f in _JSON_FIELDS} for _, row in table.iterrows()]
    for layer in layers:  # NaN from pandas for "not applicable" becomes null; counts stay ints
        for key in ("clusters", "index_bits", "position_bits"):
            if layer[key] is not None:
                layer[key] = int(layer[key])
    return {"model": cm.model, "plan": cm.plan.name, "layers": layers, "total": {k: _clean(v) for k, v in cm.totals().items()}}


def compression_text(cm: CompressedModel) -> str:
    t = cm.table()

    def opt(v):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{int(v)}"

    header = f"{'layer':8s} {'weights':>11s} {'kept':>7s} {'clusters':>8s} {'idx b':>5s} {'format':>10s} {'pos b':>5s} {'fillers':>9s} {'compressed B':>13s} {'ratio':>7s}"
    lines = [f"model {cm.model}, plan {cm.plan.name}", header, "-" * len(header)]
    for _, r in t.iterrows():
        lines.append(
            f"{r.layer:8s} {r.weights:>11,d} {r.kept_fraction:>7.1%} {opt(r.clusters):>8s} {opt(r.index_bits):>5s} "
            f"{r.value_format:>10s} {opt(r.position_bits):>5s} {r.fillers:>9,d} {r.compressed_bytes:>13,.0f} {r.ratio:>6.1f}x"
        )
    tot = cm.totals()
    lines.append("-" * len(header))
    lines.append(
        f"{'total':8s} {tot['weights']:>11,d} {tot['kept_fraction']:>7.1%} {'':>8s} {'':>5s} {'':>10s} {'':>5s} "
        f"{tot['fillers']:>9,d} {tot['compressed_bytes']:>13,.0f} {tot['ratio']:>6.1f}x"
    )
    lines.append(f"dense fp32 {_size(tot['dense_fp32_bytes'])} -> compressed {_size(tot['compressed_bytes'])} "
                 f"(codebooks {tot['codebook_bits'] / 8:,.0f} B, fillers {tot['filler_bits'] / 8:,.0f} B, biases {tot['bias_bits'] / 8:,.0f} B)")
    return "\n".join(lines)


def _size(n_bytes: float) -> str:
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.2f} {unit}"
    return f"{n_bytes:,.0f} B"
