"""Stage 3, simulation: a workload on a hardware config, one frame of the classifier over its proposals.

`prepare_target` turns a validated config into the engine's accelerator (with the table entries behind
its figures) and refuses, before any simulation or evaluation, a workload the hardware cannot run (a
codebook larger than the decoders' tables); `simulate_stage` then runs the frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

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


def prepare_target(config: HardwareConfig, layers: list[Layer]) -> Target:
    accelerator, entries = accelerator_from_config(config)
    check_decoders(config, layers, f"hardware config '{config.name}'")
    return Target(config, accelerator, tuple(entries))


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
