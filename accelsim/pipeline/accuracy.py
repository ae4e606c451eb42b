"""Stage 2, accuracy: the miss rate of the decoded weights in the hardware's number formats on a
dataset, with what the simulator needs from that run (proposals per frame, activation densities).

The result is cached under a key of everything it depends on: the network's weights, the detector's
other parts (proposal model, score combiner), the number formats, the *content* of every image and
annotation file the frames come from (a file replaced at the same path is a new key), the frames
chosen, and the code that evaluates. Hardware-only changes therefore never re-evaluate.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass, fields

import pandas as pd

from accelsim.cache import Cache, JsonCodec, default_cache, file_digest, key_of, source_digest
from accelsim.compress import CompressedModel
from accelsim.detect.datasets import first_frames, open_dataset
from accelsim.detect.evaluate import Accuracy, functional_detector, run_detector
from accelsim.detect.evidence import Evidence
from accelsim.detect.functional import NumberFormats
from accelsim.detect.intervals import DEFAULT_SPEC, Interval, IntervalSpec, lamr_interval
from accelsim.detect.types import Dataset
from accelsim.errors import ModelError
from accelsim.model import ModelEntry
from accelsim.pipeline.compression import weights_digest
from accelsim.pipeline.subsets import subset_rows
from accelsim.results.records import AccuracyFigures, SubsetRow

Progress = Callable[[str], None]

# Synthetic scenes are unlimited, so an evaluation takes a fixed number; real datasets are used whole.
# 1,500 frames (about 1,380 'reasonable' pedestrians) put the shipped plan's 95% interval at +-2.6
# points; 1,200 are the fewest that keep it within +-3 (README, "How many frames").
DEFAULT_SYNTHETIC_FRAMES = 1500


@dataclass(frozen=True)
class AccuracyRequest:
    formats: NumberFormats
    dataset: Dataset  # opened (see `open_dataset`), so that a bad one is refused before any work
    frames: int | None = None  # first frames of the dataset; None: DEFAULT_SYNTHETIC_FRAMES synthetic frames, or all
    intervals: IntervalSpec = DEFAULT_SPEC  # how the miss rate's interval is computed (not part of the cache key)
    # Cache the generated frames' pixels too, for the next variant evaluated on the same frames (see
    # `accelsim.detect.frame_cache`); a single evaluation leaves them out.
    keep_pixels: bool = False

    @classmethod
    def of(cls, formats: NumberFormats, dataset: str | Dataset, frames: int | None = None,
           intervals: IntervalSpec = DEFAULT_SPEC) -> AccuracyRequest:
        return cls(formats, open_dataset(dataset) if isinstance(dataset, str) else dataset, frames, intervals)

    @property
    def frame_count(self) -> int | None:
        if self.frames is not None:
            return self.frames
        return DEFAULT_SYNTHETIC_FRAMES if self.dataset.name.startswith("synthetic") else None


@dataclass
class Evaluated:
    accuracy: Accuracy
    cached: bool
    wall_s: float  # spent evaluating in this run (0 when cached)
    intervals: IntervalSpec = DEFAULT_SPEC

    @functools.cached_property
    def interval(self) -> Interval:
        """The 'reasonable' log-average miss rate with its bootstrap interval."""
        return lamr_interval(self.accuracy.evidence.matched(), self.intervals)

    @functools.cached_property
    def subsets(self) -> list[SubsetRow]:
        """The miss rate with its interval on every Caltech subset and frame condition (`eval` prints
        them and writes subsets.csv: bootstrapped once)."""
        return subset_rows(self.accuracy.evidence, self.intervals)

    def figures(self) -> AccuracyFigures:
        a, iv = self.accuracy, self.interval
        return AccuracyFigures(
            dataset=a.dataset, frames_evaluated=a.frames_evaluated, positives=a.positives,
            miss_rate_lamr=iv.estimate, miss_rate_lamr_ci_low=iv.low, miss_rate_lamr_ci_high=iv.high,
            confidence_level=iv.level, bootstrap_resamples=iv.resamples,
            proposals_per_frame_measured=a.proposals_per_frame,
            detections_per_frame=a.detections_per_frame, number_formats=a.formats)


def require_detector(entry: ModelEntry) -> None:
    if entry.detector_dir is None:
        raise ModelError(f"model '{entry.name}' has no detector to evaluate (no proposal stage); "
                         f"--dataset needs a detector model such as deepped-small")


class _AccuracyCodec:
    """An `Accuracy`: its figures as JSON, then its evidence table as Parquet."""

    name = "accuracy-json+parquet"

    def encode(self, value: Accuracy) -> bytes:
        raw = {f.name: getattr(value, f.name) for f in fields(value) if f.name != "evidence"}
        head = JsonCodec().encode(raw)
        sink = io.BytesIO()
        value.evidence.table().to_parquet(sink, index=False)
        return len(head).to_bytes(8, "little") + head + sink.getvalue()

    def decode(self, data: bytes) -> Accuracy:
        n = int.from_bytes(data[:8], "little")
        raw = JsonCodec().decode(data[8:8 + n])
        return Accuracy(**raw, evidence=Evidence.from_table(pd.read_parquet(io.BytesIO(data[8 + n:]))))


def accuracy_stage(entry: ModelEntry, network, compressed: CompressedModel | None, request: AccuracyRequest,
                   cache: Cache | None = None, progress: Progress | None = None) -> Evaluated:
    """The accuracy of ``network`` (holding the decoded weights of ``compressed``, or dense weights when
    it is None), from the cache when the same evaluation was done before."""
    require_detector(entry)
    frames = first_frames(request.dataset, request.frame_count)
    detector_files = [file_digest(entry.detector_dir / name) for name in ("proposals.npz", "detector.json")]
    # Frames share their files (a Caltech video's .seq and .vbb hold hundreds): digest each file once.
    digests = {source: file_digest(source) for source in dict.fromkeys(s for f in frames for s in f.sources)}
    content = [[digests[source] for source in frame.sources] for frame in frames]
    key = key_of(weights_digest(network), detector_files, str(request.formats), repr(request.formats),
                 compressed.plan.to_dict() if compressed is not None else None, request.dataset.name,
                 [f.frame_id for f in frames], content,
                 source_digest("accelsim.detect", "accelsim.compress", "accelsim.model"))

    def run() -> Accuracy:
        detector, classifier = functional_detector(network, entry.detector_dir, request.formats, compressed)
        return run_detector(detector, classifier, frames, request.dataset.name, progress, cache, request.keep_pixels)

    found = (cache or default_cache()).get_or_compute("accuracy", key, run, _AccuracyCodec())
    return Evaluated(found.value, found.hit, found.compute_s, request.intervals)
