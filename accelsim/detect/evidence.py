"""The per-frame evidence of one evaluation: each frame's detections (box, score), its ground truth
(box, label, visibility) and its conditions, with how they matched under the 'reasonable' protocol.

Every accuracy statistic is recomputed from it without running the detector again: the log-average
miss rate and its bootstrap interval, paired differences between variants on the same frames, and the
miss rate on any Caltech subset (which re-matches the boxes under that subset's protocol) or on the
frames of one condition. As a table (`Evidence.table`, written as ``detections.parquet``) it has one
row per frame (kind ``frame``), per ground-truth box (``ground_truth``) and per detection
(``detection``); `columns` documents each column and `Evidence.from_table` reads it back.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from accelsim.detect.metric import (
    DET_FALSE, DET_IGNORED, DET_TRUE, GT_IGNORED, GT_MATCHED, REASONABLE, FrameMatch, Matched, Protocol,
    match_frames,
)
from accelsim.detect.types import Annotation, as_detections

CONDITION_PREFIX = "condition_"

# column -> (unit, meaning); condition columns (``condition_<name>``) follow these
COLUMNS: dict[str, tuple[str, str]] = {
    "frame": ("", "position of the frame in the evaluation (0-based)"),
    "frame_id": ("", "the frame's id in its dataset, e.g. test/000017 or set06/V000/29"),
    "kind": ("", "frame (one per frame), ground_truth or detection"),
    "index": ("", "position of the box among the frame's boxes of its kind (-1 on a frame row)"),
    "x_px": ("px", "left edge of the box as annotated or detected"),
    "y_px": ("px", "top edge"),
    "w_px": ("px", "width"),
    "h_px": ("px", "height"),
    "score": ("", "detection score (NaN for ground truth)"),
    "label": ("", "ground-truth label: person, person?, people or ignore ('' for a detection)"),
    "visible": ("1", "visible fraction of a ground-truth box (NaN for a detection)"),
    "occluded": ("", "the ground-truth box is marked occluded"),
    "status": ("", "under Caltech 'reasonable': tp, fp or ignored for a detection; matched, missed or "
                   "ignore for ground truth"),
    "match": ("", "index of the box of the other kind it matched (-1: none)"),
}

_DET_STATUS = {DET_TRUE: "tp", DET_FALSE: "fp", DET_IGNORED: "ignored"}
_GT_STATUS = {GT_MATCHED: "matched", 0: "missed", GT_IGNORED: "ignore"}


@dataclass(frozen=True, eq=False)
class Evidence:
    frame_ids: tuple[str, ...]
    ground_truth: tuple[tuple[Annotation, ...], ...]
    detections: tuple[np.ndarray, ...]  # (n, 5) x, y, w, h, score per frame
    conditions: tuple[Mapping[str, str], ...] = ()  # per frame; empty when the dataset has none
    _frame_matches: dict = field(default_factory=dict, repr=False, compare=False)
    _matched: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.frame_ids)
        if len(self.ground_truth) != n or len(self.detections) != n or len(self.conditions) not in (0, n):
            raise ValueError(f"evidence of {n} frames has {len(self.ground_truth)} ground truths, "
                             f"{len(self.detections)} detection lists and {len(self.conditions)} condition sets")

    @property
    def frames(self) -> int:
        return len(self.frame_ids)

    def frame_matches(self, protocol: Protocol = REASONABLE) -> list[FrameMatch]:
        """Each frame's boxes matched under ``protocol`` (computed once per protocol)."""
        if protocol not in self._frame_matches:
            self._frame_matches[protocol] = match_frames(self.ground_truth, self.detections, protocol)
        return self._frame_matches[protocol]

    def matched(self, protocol: Protocol = REASONABLE) -> Matched:
        """The evaluation matched under ``protocol`` (computed once per protocol)."""
        if protocol not in self._matched:
            self._matched[protocol] = Matched.of(list(zip(self.frame_matches(protocol), self.detections,
                                                          strict=True)))
        return self._matched[protocol]

    def condition_values(self) -> dict[str, list[str]]:
        """Each condition and the values it takes on these frames, in order of first appearance."""
        out: dict[str, list[str]] = {}
        for c in self.conditions:
            for k, v in c.items():
                out.setdefault(k, [])
                if v not in out[k]:
                    out[k].append(v)
        return out

    def frames_where(self, name: str, value: str) -> np.ndarray:
        """Bool per frame: the frame's condition ``name`` is ``value``."""
        return np.array([c.get(name) == value for c in self.conditions], dtype=bool)

    def table(self) -> pd.DataFrame:
        rows: list[dict] = []
        names = list(self.condition_values())
        for i, (fid, gt, dets, m) in enumerate(zip(self.frame_ids, self.ground_truth, self.detections,
                                                   self.frame_matches(REASONABLE), strict=True)):
            cond = {CONDITION_PREFIX + k: (self.conditions[i].get(k, "") if self.conditions else "") for k in names}
            det_of_gt = {int(g): j for j, g in enumerate(m.det_match) if g >= 0}
            base = {"frame": i, "frame_id": fid, **cond}
            rows.append({**base, "kind": "frame", "index": -1, "match": -1})
            for j, a in enumerate(gt):
                rows.append({**base, "kind": "ground_truth", "index": j, **_box(a.box), "label": a.label,
                             "visible": a.visible, "occluded": a.visibility_ratio != np.inf,
                             "status": _GT_STATUS[int(m.gt_flags[j])], "match": det_of_gt.get(j, -1)})
            for j, d in enumerate(as_detections(dets)):
                rows.append({**base, "kind": "detection", "index": j, **_box(d[:4]), "score": float(d[4]),
                             "status": _DET_STATUS[int(m.det_flags[j])], "match": int(m.det_match[j])})
        out = pd.DataFrame(rows, columns=[*COLUMNS, *(CONDITION_PREFIX + k for k in names)])
        out["label"] = out["label"].fillna("")
        out["status"] = out["status"].fillna("")
        out["occluded"] = out["occluded"].astype("boolean").fillna(False).astype(bool)
        for c in ("frame", "index", "match"):
            out[c] = out[c].astype("int64")
        for c in ("x_px", "y_px", "w_px", "h_px", "score", "visible"):
            out[c] = out[c].astype("float64")
        return out

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> Evidence:
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"evidence table lacks columns {missing}")
        names = [c[len(CONDITION_PREFIX):] for c in table.columns if c.startswith(CONDITION_PREFIX)]
        frames = table[table["kind"] == "frame"].sort_values("frame")
        n = len(frames)
        ids = tuple(str(v) for v in frames["frame_id"])
        conds = tuple({k: str(v) for k, v in zip(names, values, strict=True) if v}
                      for values in frames[[CONDITION_PREFIX + k for k in names]].itertuples(index=False))
        gts: list[list[Annotation]] = [[] for _ in range(n)]
        g = table[table["kind"] == "ground_truth"].sort_values(["frame", "index"])
        for r in g[["frame", "x_px", "y_px", "w_px", "h_px", "label", "visible", "occluded"]].itertuples(index=False):
            gts[r.frame].append(Annotation(box=(float(r.x_px), float(r.y_px), float(r.w_px), float(r.h_px)),
                                           label=str(r.label), visible=float(r.visible), occluded=bool(r.occluded)))
        d = table[table["kind"] == "detection"].sort_values(["frame", "index"])
        boxes = d[["x_px", "y_px", "w_px", "h_px", "score"]].to_numpy(dtype=np.float64)
        bounds = np.searchsorted(d["frame"].to_numpy(), np.arange(n + 1))
        dets = tuple(as_detections(boxes[bounds[i]:bounds[i + 1]]) for i in range(n))
        return cls(ids, tuple(tuple(a) for a in gts), dets, conds if names else ())


def _box(b) -> dict[str, float]:
    return dict(zip(("x_px", "y_px", "w_px", "h_px"), (float(v) for v in b), strict=True))


@functools.cache
def columns_doc() -> str:
    """The table's columns as Markdown rows (for docs/outputs.md)."""
    lines = ["| column | unit | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {unit or ''} | {meaning} |" for name, (unit, meaning) in COLUMNS.items()]
    lines.append(f"| `{CONDITION_PREFIX}<name>` | | the frame's value of a dataset condition (generated scenes) |")
    return "\n".join(lines)
