"""One design point, the stages composed: compress -> workload -> accuracy -> simulate -> results.

Every check that can fail on user input runs before the minutes of work that would precede it: the
dataset is opened (by the request); before compressing, the energy tables must cover the hardware, the
model must have a detector when a dataset is given, and the plan's clusters must fit the decoder
tables; and the compressed codebooks must fit them before the detector is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accelsim.cache import Cache
from accelsim.compress.layers import compressible_layers
from accelsim.config import HardwareConfig
from accelsim.model import get_model
from accelsim.pipeline.accuracy import AccuracyRequest, accuracy_stage, require_detector
from accelsim.pipeline.compression import CompressionRequest, compress_stage, load_compressed
from accelsim.pipeline.results import DesignPointResult, assemble
from accelsim.pipeline.simulation import build_target, check_plan, check_workload, simulate_stage, simulated_proposals
from accelsim.workload import build_workload

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DesignPointRequest:
    hardware: HardwareConfig
    compression: CompressionRequest | Path  # a plan to apply, or an `accelsim compress` output file
    accuracy: AccuracyRequest | None = None  # None: no dataset; proposals are given and activations dense
    proposals: int = 10  # proposals per frame when no dataset is evaluated


def run_design_point(request: DesignPointRequest, cache: Cache | None = None,
                     progress: Progress | None = None) -> DesignPointResult:
    target = build_target(request.hardware)
    if isinstance(request.compression, CompressionRequest):
        entry = get_model(request.compression.model)
        if request.accuracy is not None:
            require_detector(entry)
        check_plan(request.hardware, request.compression.plan, list(compressible_layers(entry.factory())))
        compressed = compress_stage(request.compression, cache, progress)
    else:
        compressed = load_compressed(request.compression)
    layers = build_workload(compressed.network, compressed.entry.input_shape, compressed.storage)
    check_workload(target, layers)
    evaluated = None
    proposals, density = request.proposals, None
    if request.accuracy is not None:
        evaluated = accuracy_stage(compressed.entry, compressed.network, compressed.storage, request.accuracy, cache,
                                   progress)
        proposals = simulated_proposals(evaluated.accuracy.proposals_per_frame)
        density = evaluated.accuracy.activation_density
    return assemble(target, compressed, evaluated, simulate_stage(target, layers, proposals, density))
