"""`accelsim run` on the small trained model: outputs, and hardware that cannot run the plan."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from accelsim.cli import main
from accelsim.resources import hwconfigs_dir


def _config(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load((hwconfigs_dir() / "embedded-45nm.yaml").read_text())
    for dotted, value in changes.items():
        section, field = dotted.split("__")
        data[section][field] = value
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_run_writes_its_outputs(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "--hw", "embedded-45nm", "--model", "toy-bars", "--plan", "toy-aggressive",
                                       "--proposals", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    # 1.4 KiB of compressed toy weights fit the 384 KiB weight share: resident, no steady weight traffic.
    assert summary["weights_resident"] is True and summary["dram_weight_bytes_per_frame"] == 0
    assert summary["cold_frame_extra_dram_read_bytes"] >= summary["compressed_weight_bytes"]
    assert summary["proposals_per_frame"] == 3
    assert "conv1" in result.output and "steady-state frame" in result.output


def test_decoder_tables_smaller_than_a_codebook_are_refused(tmp_path):
    # toy-aggressive has 4 clusters per layer; 2-entry decoder tables cannot hold them.
    hw = _config(tmp_path, decoders__entries=2)
    result = CliRunner().invoke(main, ["run", "--hw", str(hw), "--model", "toy-bars", "--plan", "toy-aggressive",
                                       "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "decoders.entries" in result.stderr and "conv1" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_a_weight_share_smaller_than_one_tile_is_refused(tmp_path):
    # Every layer's first output unit travels with its codebook (4 x fp32 = 16 B) plus its entries and
    # bias, so no layer can be pinned or streamed through 16 B of weight SRAM.
    hw = _config(tmp_path, sram__split={"weights": "16B", "input_activations": "64KiB", "output_activations": "64KiB"})
    result = CliRunner().invoke(main, ["run", "--hw", str(hw), "--model", "toy-bars", "--plan", "toy-aggressive",
                                       "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "sram" in result.stderr and "hw" in result.stderr
