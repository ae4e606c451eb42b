"""Stage 3, simulation: a workload on a hardware config, one frame of the classifier over its proposals.

`build_target` turns a validated config into the engine's accelerator (with the table entries behind
its figures), refusing a tech node or component the energy tables do not cover; it takes milliseconds,
so it runs before any compression. `check_plan` refuses, before compressing, a plan whose codebooks
the decoders' tables cannot hold, and `check_workload` the compressed codebooks themselves, before any
simulation or evaluation; `simulate_stage` then runs the frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from accelsim.compress.plan import CompressionPlan
from accelsim.config import HardwareConfig
from accelsim.errors import ConfigError
from accelsim.sim.accelerator import Accelerator
from accelsim.pipeline.accelerator import accelerator_from_config, check_decoders
from accelsim.sim.frame import FrameResult, simulate_frame
from accelsim.workload import Layer


@dataclass(frozen=True)
class Target:
    """A hardware config made ready for one workload."""

    config: HardwareConfig
    accelerator: Accelerator
    entries: tuple[dict, ...]  # energy/area table entries behind the accelerator's figures, with sources


@dataclass(frozen=True)
class Simulated:
    frame: FrameResult
    wall_s: float


def build_target(config: HardwareConfig) -> Target:
    accelerator, entries = accelerator_from_config(config)
    return Target(config, accelerator, tuple(entries))


def check_plan(config: HardwareConfig, plan: CompressionPlan, layer_names: list[str]) -> None:
    """Refuse a plan with more clusters in a layer than the decoders' tables hold. A layer's codebook has
    at most ``clusters`` entries (fewer only when the layer has fewer distinct weights), so a plan that
    asks for more does not fit this hardware, whatever compression then finds."""
    for name, layer in plan.resolve(layer_names, f"plan '{plan.name}'").items():
        if layer.clusters is not None and layer.clusters > config.decoders.entries:
            raise ConfigError(
                f"hardware config '{config.name}': decoders.entries: {config.decoders.entries} table entries cannot "
                f"hold plan '{plan.name}' layer {name}'s {layer.clusters} clusters; raise decoders.entries or use "
                "fewer clusters")


def check_workload(target: Target, layers: list[Layer]) -> None:
    check_decoders(target.config, layers, f"hardware config '{target.config.name}'")


# A frame runs the classifier once per proposal. Selective search gives about 2,000 proposals per image
# and EdgeBoxes up to 5,000; beyond 10,000 a count is a typo (10^9 hung the frame planner).
MAX_PROPOSALS = 10_000


def bounded_proposals(proposals: int) -> int:
    """``proposals`` per frame, refused (ValueError) outside 1..MAX_PROPOSALS."""
    if not 1 <= proposals <= MAX_PROPOSALS:
        raise ValueError(f"{proposals} proposals per frame is outside 1 to {MAX_PROPOSALS:,} (selective search gives "
                         "about 2,000 per image, EdgeBoxes up to 5,000)")
    return proposals


def simulated_proposals(measured_per_frame: float) -> int:
    """Proposals per simulated frame from a measured mean: the accelerator runs the CNN once per proposal,
    and a frame with a fraction of a proposal, or none, does not exist."""
    return max(1, round(measured_per_frame))


def simulate_stage(target: Target, layers: list[Layer], proposals: int,
                   activation_density: dict[str, float] | None = None) -> Simulated:
    t0 = time.perf_counter()
    try:
        frame = simulate_frame(layers, target.accelerator, proposals, activation_density=activation_density)
    except ConfigError as exc:  # the tiling found a share too small for this workload
        raise ConfigError(f"hardware config '{target.config.name}': {exc}") from None
    return Simulated(frame, time.perf_counter() - t0)
