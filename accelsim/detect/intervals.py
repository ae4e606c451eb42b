"""How sure a log-average miss rate is: frame-level bootstrap intervals, alone and paired.

The frames of an evaluation are the sampling unit (detections and pedestrians of one frame are not
independent: one scene's lighting or crowd affects them all), so a resample draws frames with
replacement, as many as were evaluated, and recomputes the log-average miss rate of exactly those
frames (`accelsim.detect.roc`). The interval is the **percentile** bootstrap: the (1-level)/2 and
(1+level)/2 quantiles of the resampled values. Percentile rather than BCa because the log-average is
a step function of the frames (its jackknife, which BCa needs for the acceleration, is mostly zeros on
small sets) and because a percentile interval is what a reader can recompute from the resamples alone.

A paired comparison of two variants evaluated on the same frames resamples the frames once and
recomputes both, so the shared difficulty of the frames cancels; the difference is distinguishable at
the level when its interval excludes zero.

Resamples come from ``numpy.random.default_rng(seed)``: the same seed gives the same interval.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from accelsim.detect.metric import Matched, Protocol, REASONABLE
from accelsim.detect.roc import log_average_miss_rate

_CHUNK = 200  # resamples drawn at a time: bounds memory at 200 x frames counts


@dataclass(frozen=True)
class IntervalSpec:
    """How intervals are computed: confidence level, number of resamples, seed."""

    level: float = 0.95
    resamples: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.5 <= self.level < 1.0:
            raise ValueError(f"confidence level {self.level} must be in [0.5, 1), e.g. 0.95")
        if self.resamples < 100:
            raise ValueError(f"bootstrap resamples {self.resamples} must be at least 100 (1000 is usual)")
        if self.seed < 0:
            raise ValueError(f"bootstrap seed {self.seed} must be non-negative")


DEFAULT_SPEC = IntervalSpec()


@dataclass(frozen=True)
class Interval:
    estimate: float  # the log-average miss rate of the evaluation itself
    low: float
    high: float
    level: float
    resamples: int  # resamples that had a positive (a resample without one has no miss rate)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


@dataclass(frozen=True)
class Difference:
    """``a - b`` of two variants' log-average miss rates on the same frames, with its paired interval."""

    delta: float
    low: float
    high: float
    level: float

    @property
    def distinguishable(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


def _counts(frames: int, spec: IntervalSpec) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(spec.seed)
    uniform = np.full(frames, 1.0 / frames)
    for start in range(0, spec.resamples, _CHUNK):
        yield rng.multinomial(frames, uniform, size=min(_CHUNK, spec.resamples - start))


def _resampled(matched: Matched, counts: np.ndarray, protocol: Protocol) -> np.ndarray:
    return log_average_miss_rate(matched.frame, matched.score, matched.true_positive, matched.positives,
                                 protocol.fppi_points, counts)


def _quantiles(values: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.quantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(low), float(high)


def lamr_interval(matched: Matched, spec: IntervalSpec = DEFAULT_SPEC, protocol: Protocol = REASONABLE) -> Interval:
    """The percentile bootstrap interval of ``matched``'s log-average miss rate."""
    if matched.frames == 0:
        raise ValueError("no frames to resample")
    values = np.concatenate([_resampled(matched, c, protocol) for c in _counts(matched.frames, spec)])
    values = values[~np.isnan(values)]
    low, high = _quantiles(values, spec.level) if values.size else (np.nan, np.nan)
    return Interval(matched.lamr(protocol.fppi_points), low, high, spec.level, int(values.size))


def paired_difference(a: Matched, b: Matched, spec: IntervalSpec = DEFAULT_SPEC,
                      protocol: Protocol = REASONABLE) -> Difference:
    """``a - b`` with a paired percentile bootstrap interval; ``a`` and ``b`` must hold the same frames
    with the same ground truth (the same evaluation of two detectors)."""
    if a.frames != b.frames or not np.array_equal(a.positives, b.positives):
        raise ValueError(f"a paired comparison needs the same frames and ground truth: {a.frames} frames with "
                         f"{a.positive_count} positives against {b.frames} with {b.positive_count}")
    deltas = []
    for c in _counts(a.frames, spec):
        deltas.append(_resampled(a, c, protocol) - _resampled(b, c, protocol))
    d = np.concatenate(deltas)
    d = d[~np.isnan(d)]
    low, high = _quantiles(d, spec.level) if d.size else (np.nan, np.nan)
    return Difference(a.lamr(protocol.fppi_points) - b.lamr(protocol.fppi_points), low, high, spec.level)
