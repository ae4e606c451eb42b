"""Regenerate the two pictures the README shows (docs/miss_rate_curves.png, docs/detections.png).

    python tools/docs_figures.py

The curves are the trade-off's (`accelsim tradeoff` with its defaults: dense, the plan and its
fine-tuned version); the picture is test frame 182 of the main job's evaluation, the first of its frames
with a true positive, a false positive, a missed pedestrian and an ignore region at the picture's
operating point. Both come from the cache when the README's commands ran before.
"""

from __future__ import annotations

from pathlib import Path

from accelsim.config import load_hwconfig
from accelsim.detect.datasets import open_dataset
from accelsim.detect.functional import NumberFormats
from accelsim.model import get_model
from accelsim.pipeline.accuracy import AccuracyRequest, accuracy_stage
from accelsim.pipeline.accuracy_files import PICTURE_FPPI, at_operating_point, operating_threshold, write_curve_plot
from accelsim.pipeline.compression import CompressionRequest, compress_stage
from accelsim.report.pictures import draw_detections

DOCS = Path(__file__).resolve().parent.parent / "docs"
FRAME = 182


def _evaluated(plan: str | None, request: AccuracyRequest):
    if plan is None:
        entry = get_model("deepped-small")
        return accuracy_stage(entry, entry.build(), None, request, progress=print)
    c = compress_stage(CompressionRequest.of("deepped-small", plan), progress=print)
    return accuracy_stage(c.entry, c.network, c.storage, request, progress=print)


def main() -> None:
    request = AccuracyRequest.of(NumberFormats.from_hardware(load_hwconfig("embedded-45nm")), "synthetic")
    variants = [("dense (fp32 storage)", None), ("plan deepped-small", "deepped-small"),
                ("plan deepped-small-ft", "deepped-small-ft")]
    evaluated = [(label, _evaluated(plan, request)) for label, plan in variants]
    a = evaluated[0][1].accuracy
    write_curve_plot(evaluated, DOCS / "miss_rate_curves", f"deepped-small, {a.dataset}, {a.formats}")
    (DOCS / "miss_rate_curves.svg").unlink()  # the README shows the PNG

    plan = evaluated[1][1]
    threshold = operating_threshold(plan)
    table = plan.accuracy.evidence.table()
    frame = request.dataset[FRAME]
    draw_detections(frame.image(), at_operating_point(table[table["frame"] == FRAME], threshold),
                    DOCS / "detections.png",
                    title=f"{a.dataset} {frame.frame_id}, plan deepped-small in {a.formats}; detections scoring at "
                          f"least {threshold:.2f} ({PICTURE_FPPI:g} false positives per image)")


if __name__ == "__main__":
    main()
