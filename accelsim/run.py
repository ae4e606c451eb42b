"""One design point: (model, compression plan, hardware config, dataset) -> result files.

With a dataset, the detector first runs on its frames with the classifier in the hardware's number
formats on the decoded weights; the miss rate, the measured proposals per frame and the measured
activation densities then go with the simulation. Without one (models without a detector), the
proposals per frame are given and activations count as dense.

The compressed model and the accuracy are cached under ``reports/cache/`` by a hash of what each
depends on, so sweeping hardware never recompresses and never re-evaluates.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from accelsim import __version__
from accelsim.compress import CompressedModel, compress, load, load_plan, save
from accelsim.compress.plan import CompressionPlan
from accelsim.config import HardwareConfig, load_hwconfig
from accelsim.detect.datasets import first_frames, open_dataset
from accelsim.detect.evaluate import Accuracy, accuracy_for
from accelsim.detect.types import Dataset
from accelsim.detect.functional import NumberFormats
from accelsim.errors import ConfigError, ModelError
from accelsim.model import get_model
from accelsim.resources import project_root
from accelsim.sim.accelerator import Accelerator
from accelsim.sim.build import accelerator_from_config, check_decoders
from accelsim.sim.frame import FrameResult, simulate_frame
from accelsim.workload import Layer, build_workload

LAYER_COLUMNS = [
    "layer", "kind", "macs", "macs_executed", "compressed_weight_bytes", "pinned", "loop_order", "weight_tiles",
    "input_tiles", "cycles", "stall_cycles", "mac_cycles", "decoder_cycles", "conflict_cycles", "dram_cycles",
    "latency_us", "bound", "dram_read_bytes", "dram_write_bytes", "dram_row_hits", "dram_row_misses", "sram_read_bytes",
    "sram_write_bytes", "decoder_lookups", "events", "energy_dram_pj", "energy_sram_pj", "energy_decoder_pj",
    "energy_mac_pj", "energy_leakage_pj", "energy_total_pj",
]


@dataclass
class RunResult:
    layers: pd.DataFrame
    summary: dict
    config: HardwareConfig
    entries: list[dict]  # energy/area table entries used, with sources
    curve: pd.DataFrame | None = None  # miss rate vs FPPI of the evaluated detector


def _state_hash(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _compress_code_hash() -> str:
    """Hash of the compression code, so that a cached compressed model never outlives a change to
    the code that produced it."""
    h = hashlib.sha256()
    for path in sorted((Path(__file__).parent / "compress").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def compressed_for(model_name: str, plan_arg: str | CompressionPlan, weights: str | None = None,
                   finetune_epochs: int | None = None, progress=None) -> tuple[torch.nn.Module, CompressedModel]:
    """The model with decoded weights and its CompressedModel, from the cache when possible."""
    spec = get_model(model_name)
    plan = plan_arg if isinstance(plan_arg, CompressionPlan) else load_plan(plan_arg)
    model = spec.build(weights)
    epochs = plan.finetune.epochs if finetune_epochs is None else finetune_epochs
    key = hashlib.sha256(json.dumps([_state_hash(model), plan.to_dict(), epochs, _compress_code_hash()]).encode()).hexdigest()[:16]
    path = project_root() / "reports" / "cache" / f"{model_name}-{plan.name}-{key}.npz"
    if path.is_file():
        cm = load(path)
    else:
        loader = spec.data(plan.seed)[0] if spec.data is not None and epochs > 0 else None
        cm = compress(model, plan, model_name=model_name, loader=loader, finetune_epochs=epochs, progress=progress,
                      provenance={"weights": str(weights) if weights else spec.weights or f"seeded init {spec.init_seed}"})
        save(cm, path)
    cm.load_into(model)
    return model, cm


def run_design_point(hw: str | Path | HardwareConfig, model_name: str, plan_arg: str, *, weights: str | None = None,
                     proposals: int = 10, compressed: str | None = None, dataset: str | None = None,
                     frames: int | None = None, progress=None) -> RunResult:
    cfg = hw if isinstance(hw, HardwareConfig) else load_hwconfig(hw)
    data = None
    if dataset is not None:
        if not compressed:
            _check_detector(get_model(model_name))
        data = open_dataset(dataset)  # a bad dataset is refused before minutes of compression
    if compressed:
        cm = load(compressed)
        spec = get_model(cm.model)
        model = cm.load_into(spec.build())
        model_name = cm.model
    else:
        model, cm = compressed_for(model_name, plan_arg, weights, progress=progress)
        spec = get_model(model_name)
    layers = build_workload(model, spec.input_shape, cm)
    check_decoders(cfg, layers, f"hardware config '{cfg.name}'")  # before minutes of evaluation
    accuracy = None
    density = None
    if dataset is not None:
        accuracy = evaluate_design_accuracy(model, spec, cm, NumberFormats.from_hardware(cfg), data, frames, progress)
        # the accelerator runs the CNN once per proposal; a frame with a fraction of a proposal does not exist
        proposals = max(1, round(accuracy.proposals_per_frame))
        density = accuracy.activation_density
    t0 = time.perf_counter()
    frame, _, entries = simulate_design(cfg, layers, proposals, density)
    sim_s = time.perf_counter() - t0
    summary = {
        "hardware": cfg.name,
        "model": model_name,
        "plan": cm.plan.name,
        **(_accuracy_fields(accuracy) if accuracy else {"dataset": None, "frames_evaluated": 0, "miss_rate_lamr": None}),
        **frame.summary,
        "simulation_wall_s": sim_s,
        "accelsim_version": __version__,
    }
    table = frame.layers[LAYER_COLUMNS].copy()
    table.insert(4, "input_activation_density", [(density or {}).get(name, 1.0) for name in table["layer"]])
    return RunResult(table, summary, cfg, entries, accuracy.curve if accuracy else None)


def simulate_design(cfg: HardwareConfig, layers: list[Layer], proposals: int,
                    density: dict[str, float] | None = None) -> tuple[FrameResult, Accelerator, list[dict]]:
    """One frame of ``layers`` on ``cfg``, the accelerator it ran on, and the energy/area table entries
    behind its figures."""
    acc, entries = accelerator_from_config(cfg)
    check_decoders(cfg, layers, f"hardware config '{cfg.name}'")
    try:
        return simulate_frame(layers, acc, proposals, activation_density=density), acc, entries
    except ConfigError as exc:  # the tiling found a share too small for this workload
        raise ConfigError(f"hardware config '{cfg.name}': {exc}") from None


def evaluate_design_accuracy(model: torch.nn.Module, spec, cm: CompressedModel | None, formats: NumberFormats,
                             dataset: str | Dataset, frames: int | None, progress=None) -> Accuracy:
    """Miss rate of ``model`` (decoded weights) in ``formats`` on the first ``frames`` of ``dataset``
    (a spec such as ``synthetic`` or an opened dataset)."""
    _check_detector(spec)
    data = open_dataset(dataset) if isinstance(dataset, str) else dataset
    chosen = first_frames(data, frames if frames is not None else default_frames(data.name))
    return accuracy_for(model, spec.detector_dir, formats, data, chosen, cm, cache=project_root() / "reports" / "cache",
                        progress=progress)


def _accuracy_fields(accuracy: Accuracy) -> dict:
    fields = accuracy.summary()
    # the simulation's proposals_per_frame is this mean rounded to whole proposals
    fields["proposals_per_frame_measured"] = fields.pop("proposals_per_frame")
    return fields


def _check_detector(spec) -> None:
    if spec.detector_dir is None:
        raise ModelError(f"model '{spec.name}' has no detector to evaluate (no proposal stage); "
                         f"--dataset needs a detector model such as deepped-small")


def default_frames(dataset: str) -> int | None:
    """Synthetic scenes are unlimited, so an evaluation takes a fixed number; real datasets are used whole."""
    return DEFAULT_SYNTHETIC_FRAMES if dataset.startswith("synthetic") else None


DEFAULT_SYNTHETIC_FRAMES = 200


def write_outputs(result: RunResult, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    result.layers.to_csv(out / "layers.csv", index=False)
    if result.curve is not None:
        result.curve.to_csv(out / "miss_rate_curve.csv", index=False)
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2, default=float) + "\n")
    result.config.dump_yaml(out / "hwconfig.resolved.yaml")
    (out / "table_entries.json").write_text(json.dumps(result.entries, indent=2) + "\n")
    return out
