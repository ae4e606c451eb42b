"""Deep Compression Table 4 (Han, Mao, Dally, ICLR 2016), reproduced with accelsim.compress.

    python validation/deep_compression/table4.py            # compress (cached), print, update the doc
    python validation/deep_compression/table4.py --no-doc   # print only

Compresses the shipped ``deepped-alexnet`` (seeded weights) with the plan ``deep-compression-alexnet``
(Table 4's kept fractions, 8-bit conv / 5-bit fc indices, 4-bit relative positions, fp32 codebooks,
no Huffman), through the pipeline's compression stage, which caches the result (`accelsim cache info`)
(the first run takes 25-40 s). Writes ``table4.json`` next to this file and the table between the
``table4`` markers of docs/validation.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "energy"))

from docblock import replace_block  # noqa: E402

MODEL, PLAN = "deepped-alexnet", "deep-compression-alexnet"

# Table 4 of Deep Compression (as in shared/REFERENCES.md): kept fraction after pruning, index bits
# (P+Q), compressed size in % of the fp32 original (P+Q).
PAPER = {
    "conv1": (0.84, 8, 32.6), "conv2": (0.38, 8, 14.5), "conv3": (0.35, 8, 13.1), "conv4": (0.37, 8, 14.1),
    "conv5": (0.37, 8, 14.0), "fc6": (0.09, 5, 3.0), "fc7": (0.09, 5, 3.0), "fc8": (0.25, 5, 7.3),
}
PAPER_TOTAL = {"kept_fraction": 0.11, "percent": 3.7, "ratio": 27.0}


def rows_from_table(table: list[dict]) -> list[dict]:
    """Per layer: accelsim's figures next to the paper's, from `CompressedModel.table()` records.

    ``percent`` is compressed bits over fp32 bits of weights and biases; ``percent_no_fillers`` leaves
    the filler entries out (what the size would be if no zero run exceeded the 4-bit position)."""
    out = []
    for r in table:
        dense_bits = r["dense_fp32_bytes"] * 8
        kept = round(r["kept_fraction"] * r["weights"])
        paper_kept, paper_bits, paper_percent = PAPER[r["layer"]]
        percent = 100 * r["total_bits"] / dense_bits
        out.append({
            "layer": r["layer"],
            "weights": int(r["weights"]),
            "kept_fraction": r["kept_fraction"],
            "paper_kept_fraction": paper_kept,
            "index_bits": int(r["index_bits"]),
            "paper_index_bits": paper_bits,
            "fillers": int(r["fillers"]),
            "fillers_per_kept": r["fillers"] / kept if kept else 0.0,
            "total_bits": int(r["total_bits"]),
            "dense_fp32_bits": int(dense_bits),
            "percent": percent,
            "percent_no_fillers": 100 * (r["total_bits"] - r["filler_bits"]) / dense_bits,
            "paper_percent": paper_percent,
            "diff_points": percent - paper_percent,
        })
    return out


def total_row(rows: list[dict]) -> dict:
    bits = sum(r["total_bits"] for r in rows)
    dense = sum(r["dense_fp32_bits"] for r in rows)
    weights = sum(r["weights"] for r in rows)
    kept = sum(r["kept_fraction"] * r["weights"] for r in rows)
    return {"weights": weights, "kept_fraction": kept / weights, "fillers": sum(r["fillers"] for r in rows),
            "total_bits": bits, "dense_fp32_bits": dense, "percent": 100 * bits / dense, "ratio": dense / bits,
            "compressed_mib": bits / 8 / 2**20, "dense_mib": dense / 8 / 2**20}


def markdown(rows: list[dict], total: dict) -> str:
    lines = [
        "| layer | weights | kept (accelsim / paper) | index bits | fillers (per kept weight) | "
        "accelsim size | without fillers | Table 4 size | difference |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer']} | {r['weights']:,} | {r['kept_fraction']:.1%} / {r['paper_kept_fraction']:.0%} | "
            f"{r['index_bits']} / {r['paper_index_bits']} | {r['fillers']:,} ({r['fillers_per_kept']:.2%}) | "
            f"{r['percent']:.2f}% | {r['percent_no_fillers']:.2f}% | {r['paper_percent']:.1f}% | "
            f"{r['diff_points']:+.2f} pt |")
    lines.append(
        f"| total | {total['weights']:,} | {total['kept_fraction']:.1%} / {PAPER_TOTAL['kept_fraction']:.0%} | | "
        f"{total['fillers']:,} | {total['percent']:.2f}% ({total['ratio']:.1f}×) | | "
        f"{PAPER_TOTAL['percent']:.1f}% ({PAPER_TOTAL['ratio']:.0f}×) | "
        f"{total['ratio'] / PAPER_TOTAL['ratio'] - 1:+.1%} in ratio |")
    lines.append("")
    lines.append(f"Sizes are compressed bits over fp32 bits of weights and biases (P+Q, no Huffman); "
                 f"{total['dense_mib']:.1f} MiB → {total['compressed_mib']:.2f} MiB. "
                 f"Model `{MODEL}` (seeded weights), plan `{PLAN}`.")
    return "\n".join(lines)


def compute() -> dict:
    from accelsim.pipeline.compression import CompressionRequest, compress_stage

    cm = compress_stage(CompressionRequest.of(MODEL, PLAN)).storage
    table = cm.table().to_dict("records")
    rows = rows_from_table(table)
    return {"model": MODEL, "plan": PLAN, "provenance": {k: str(v) for k, v in cm.provenance.items()},
            "rows": rows, "total": total_row(rows)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-doc", action="store_true", help="print the table; do not touch docs/validation.md")
    args = ap.parse_args(argv)
    result = compute()
    (HERE / "table4.json").write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result["rows"], result["total"])
    print(text)
    if not args.no_doc and not replace_block("table4", text):
        print("docs/validation.md has no <!-- table4:begin --> / <!-- table4:end --> markers; doc not updated",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
