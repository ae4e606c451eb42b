"""Where an evaluation's miss rate comes from: the Caltech subsets and the conditions of its frames,
each with its interval, and per subset the paired difference of two variants on the same frames.

All of it is recomputed from the per-frame evidence (`accelsim.detect.evidence`), never by running the
detector again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from accelsim.detect.evidence import Evidence
from accelsim.detect.intervals import Difference, Interval, IntervalSpec, lamr_interval, paired_difference
from accelsim.detect.metric import REASONABLE, SUBSETS, Matched
from accelsim.results.records import SubsetRow

# The subsets every evaluation reports (dbEval's others stay available in `SUBSETS`).
REPORTED = ("reasonable", "all", "scale=near", "scale=medium", "scale=far", "occ=none", "occ=partial", "occ=heavy")


@dataclass(frozen=True)
class Subset:
    name: str
    kind: str  # caltech | condition
    matched: Matched


def subsets(evidence: Evidence) -> Iterator[Subset]:
    """The reported Caltech subsets, then every value of every condition of the frames."""
    for name in REPORTED:
        yield Subset(name, "caltech", evidence.matched(SUBSETS[name]))
    reasonable = evidence.matched(REASONABLE)
    for key, values in evidence.condition_values().items():
        for value in values:
            yield Subset(f"{key}={value}", "condition", reasonable.subset(evidence.frames_where(key, value)))


def interval(matched: Matched, spec: IntervalSpec) -> Interval | None:
    """The miss rate's interval, or None where the subset has no positive (no miss rate)."""
    return lamr_interval(matched, spec) if matched.positive_count and matched.frames else None


def subset_row(subset: Subset, iv: Interval | None) -> SubsetRow:
    """The row of ``subset`` with its interval (None: no positive, no miss rate)."""
    return SubsetRow(subset=subset.name, subset_kind=subset.kind, frames=subset.matched.frames,
                     positives=subset.matched.positive_count, miss_rate_lamr=iv.estimate if iv else None,
                     miss_rate_lamr_ci_low=iv.low if iv else None, miss_rate_lamr_ci_high=iv.high if iv else None)


def subset_rows(evidence: Evidence, spec: IntervalSpec) -> list[SubsetRow]:
    return [subset_row(s, interval(s.matched, spec)) for s in subsets(evidence)]


def paired(evidence: Evidence, reference: Evidence, spec: IntervalSpec) -> Iterator[tuple[Subset, Interval | None,
                                                                                              Difference | None]]:
    """Per subset: the variant's interval and its paired difference against ``reference`` (None where
    the subset has no positive)."""
    if evidence.frame_ids != reference.frame_ids:
        raise ValueError("a paired comparison needs both variants evaluated on the same frames")
    for s, r in zip(subsets(evidence), subsets(reference), strict=True):
        if not s.matched.positive_count:
            yield s, None, None
            continue
        yield s, lamr_interval(s.matched, spec), paired_difference(s.matched, r.matched, spec)

