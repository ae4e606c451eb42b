"""Stage 4, results: the stages' outputs as the typed records of `accelsim.results`, and the files of a
run folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from accelsim import __version__
from accelsim.errors import AccelsimError
from accelsim.pipeline.accuracy import Evaluated
from accelsim.pipeline.accuracy_files import write_accuracy_files
from accelsim.pipeline.compression import Compressed
from accelsim.pipeline.simulation import Simulated, Target
from accelsim.results.records import Design, DesignPointSummary, LayerRow, RunFacts
from accelsim.results.schema import cell, table


@dataclass(frozen=True)
class DesignPointResult:
    summary: DesignPointSummary
    layers: tuple[LayerRow, ...]
    target: Target
    evaluated: Evaluated | None = None  # the detector's evaluation, when a dataset was evaluated

    @property
    def layer_table(self) -> pd.DataFrame:
        return table(self.layers, LayerRow.columns())


def assemble(target: Target, compressed: Compressed, evaluated: Evaluated | None,
             simulated: Simulated) -> DesignPointResult:
    design = Design(hardware=target.config.name, model=compressed.storage.model, plan=compressed.storage.plan.name,
                    accelsim_version=__version__)
    run = RunFacts(compression_cached=compressed.cached, compression_wall_s=compressed.wall_s,
                   accuracy_cached=evaluated.cached if evaluated else None,
                   eval_wall_s=evaluated.wall_s if evaluated else None, simulation_wall_s=simulated.wall_s)
    summary = DesignPointSummary(design, evaluated.figures() if evaluated else None, simulated.frame.figures, run)
    return DesignPointResult(summary, simulated.frame.rows, target, evaluated)


def write_outputs(result: DesignPointResult, out: Path) -> list[Path]:
    """Write the run folder (`accelsim.results.records.RUN_FILES`); returns the files written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AccelsimError(f"--out {out}: cannot create the output folder ({exc.strerror})") from None
    written = [out / "layers.csv", out / "summary.json"]
    result.layer_table.to_csv(written[0], index=False)
    written[1].write_text(json.dumps(result.summary.flat(), indent=2, default=cell) + "\n")
    if result.evaluated is not None:
        written += write_accuracy_files(result.evaluated, out, f"{result.summary.design.plan} on {result.target.config.name}")
    written.append(out / "hwconfig.resolved.yaml")
    result.target.config.dump_yaml(written[-1])
    written.append(out / "table_entries.json")
    written[-1].write_text(json.dumps(list(result.target.entries), indent=2) + "\n")
    return written
