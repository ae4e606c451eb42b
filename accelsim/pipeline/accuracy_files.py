"""The files an evaluation leaves in its output folder: the per-frame evidence (detections.parquet),
the miss rate per subset (subsets.csv), the curve as a table and as the standard plot, and optionally
pictures of frames with their boxes. `accelsim run`, `eval` and `tradeoff` write them alike."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from accelsim.detect.datasets import first_frames
from accelsim.detect.types import Dataset
from accelsim.pipeline.accuracy import Evaluated
from accelsim.results.records import CurvePoint, SubsetRow
from accelsim.results.schema import table


def curve_tables(labelled: Sequence[tuple[str, Evaluated]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, summary) as `accelsim.report.plots.miss_rate_curves` takes them, one variant per label."""
    curves, summary = [], []
    for label, evaluated in labelled:
        c = evaluated.accuracy.curve
        curves.append(pd.DataFrame({"variant": label, "fppi": c["fppi"], "miss_rate": c["miss_rate"]}))
        iv, a = evaluated.interval, evaluated.accuracy
        summary.append({"variant": label, "miss_rate_lamr": iv.estimate, "miss_rate_lamr_ci_low": iv.low,
                        "miss_rate_lamr_ci_high": iv.high, "frames": a.frames_evaluated, "positives": a.positives})
    return pd.concat(curves, ignore_index=True), pd.DataFrame(summary)


def write_curve_plot(labelled: Sequence[tuple[str, Evaluated]], out_stem: Path, title: str) -> list[Path]:
    from accelsim.report.plots import miss_rate_curves

    curves, summary = curve_tables(labelled)
    return miss_rate_curves(curves, summary, out_stem, title=title)


def write_accuracy_files(evaluated: Evaluated, folder: Path, label: str) -> list[Path]:
    """detections.parquet, subsets.csv, miss_rate_curve.csv and its plot (.png, .svg) in ``folder``."""
    written = [folder / "detections.parquet", folder / "subsets.csv", folder / "miss_rate_curve.csv"]
    evaluated.accuracy.evidence.table().to_parquet(written[0], index=False)
    table(evaluated.subsets, SubsetRow.columns()).to_csv(written[1], index=False)
    evaluated.accuracy.curve[CurvePoint.names()].to_csv(written[2], index=False)
    a = evaluated.accuracy
    written += write_curve_plot([(label, evaluated)], folder / "miss_rate_curve",
                                f"{a.dataset}, {a.formats}")
    return written


# The operating point pictures show: the detector's threshold at this many false positives per image.
PICTURE_FPPI = 0.1


def at_operating_point(boxes: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The evidence rows as the detector would output them with scores of at least ``threshold``:
    detections below it are dropped, and a pedestrian only they matched becomes missed. Matching is
    greedy by descending score, so the detections kept match exactly as they did."""
    det = boxes["kind"] == "detection"
    kept = boxes[~det | (boxes["score"] >= threshold)].copy()
    for frame, rows in kept.groupby("frame"):
        found = set(rows.loc[(rows["kind"] == "detection") & (rows["status"] == "tp"), "match"])
        lost = (kept["frame"] == frame) & (kept["kind"] == "ground_truth") & (kept["status"] == "matched") \
            & ~kept["index"].isin(found)
        kept.loc[lost, ["status", "match"]] = ["missed", -1]
    return kept


def operating_threshold(evaluated: Evaluated, fppi: float = PICTURE_FPPI) -> float:
    """The lowest score threshold whose false positives per image do not exceed ``fppi``."""
    curve = evaluated.accuracy.curve
    within = curve[curve["fppi"] <= fppi]
    return float(within["score_threshold"].iloc[-1]) if len(within) else float("inf")


def save_images(evaluated: Evaluated, dataset: Dataset, count: int, folder: Path) -> list[Path]:
    """Pictures of the first ``count`` evaluated frames (``frame-<id>.png``): ground truth, ignore
    regions and the detections at the operating point of `PICTURE_FPPI` false positives per image,
    as this evaluation matched them (all detections are in detections.parquet)."""
    from accelsim.report.pictures import draw_detections

    evidence = evaluated.accuracy.evidence
    threshold = operating_threshold(evaluated)
    boxes = at_operating_point(evidence.table(), threshold)
    frames = first_frames(dataset, min(count, evidence.frames))
    written = []
    for i, frame in enumerate(frames):
        if frame.frame_id != evidence.frame_ids[i]:
            raise ValueError(f"frame {i} of {dataset.name} is {frame.frame_id}, but the evaluation's is "
                             f"{evidence.frame_ids[i]}")
        path = folder / f"frame-{frame.frame_id.replace('/', '-')}.png"
        title = (f"{dataset.name} {frame.frame_id}, {evaluated.accuracy.formats}; detections scoring at least "
                 f"{threshold:.2f} ({PICTURE_FPPI:g} false positives per image over the evaluation)")
        written.append(draw_detections(frame.image(), boxes[boxes["frame"] == i], path, title=title))
    return written
