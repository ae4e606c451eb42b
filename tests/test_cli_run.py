"""`accelsim run` on the small trained model: outputs, and hardware that cannot run the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from accelsim.cli import _run_folder, main
from accelsim.pipeline import design_point
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


@pytest.fixture
def no_work(monkeypatch):
    """Fail loudly if a run gets as far as compressing."""
    def boom(*_a, **_k):
        raise AssertionError("the run compressed before refusing its input")

    monkeypatch.setattr(design_point, "compress_stage", boom)


def _refused_in_one_line(args: list[str], *words: str) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_decoder_tables_smaller_than_the_plans_clusters_are_refused_before_compressing(tmp_path, no_work):
    # toy-aggressive has 4 clusters per layer; 2-entry decoder tables cannot hold them.
    hw = _config(tmp_path, decoders__entries=2)
    _refused_in_one_line(["run", "--hw", str(hw), "--model", "toy-bars", "--plan", "toy-aggressive",
                          "--out", str(tmp_path / "run")],
                         "decoders.entries: 2 table entries cannot hold plan 'toy-aggressive' layer conv1's 4 clusters")
    assert not (tmp_path / "run").exists()


def test_a_tech_node_the_energy_tables_do_not_cover_is_refused_before_compressing(tmp_path, no_work):
    hw = tmp_path / "hw28.yaml"
    hw.write_text((hwconfigs_dir() / "embedded-45nm.yaml").read_text().replace("tech_node: 45nm", "tech_node: 28nm"))
    _refused_in_one_line(["run", "--hw", str(hw), "--model", "toy-bars", "--out", str(tmp_path / "run")],
                         "hardware config 'hw28': energy table", "no figure for tech_node_nm=28")


@pytest.mark.parametrize("out, words", [
    ("{tmp}/file/out", ["--out {tmp}/file/out: {tmp}/file is a file, not a folder"]),
    pytest.param("/proc/nope/out", ["--out /proc/nope/out: cannot write in /proc"],
                 marks=pytest.mark.skipif(not Path("/proc").is_dir(), reason="no /proc")),
])
def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, no_work, out, words):
    (tmp_path / "file").write_text("not a folder")
    out = out.format(tmp=tmp_path)
    _refused_in_one_line(["run", "--model", "toy-bars", "--out", out], *(w.format(tmp=tmp_path) for w in words))


@pytest.mark.parametrize("extra, named", [
    (["--model", "toy-bars"], "drop --model"),
    (["--plan", "toy-aggressive"], "drop --plan"),
    (["--weights", "w.pt", "--model", "deepped-small"], "drop --model, --weights"),
])
def test_compressed_with_a_model_plan_or_weights_is_refused(tmp_path, no_work, extra, named):
    result = CliRunner().invoke(main, ["run", "--compressed", str(tmp_path / "m.npz"), *extra])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (f"Error: --compressed {tmp_path / 'm.npz'} names its own model, "
                                                      f"plan and weights; {named}")


@pytest.mark.parametrize("proposals", ["0", "10001", "1000000000"])
def test_proposals_outside_what_a_proposal_stage_gives_are_refused(no_work, proposals):
    result = CliRunner().invoke(main, ["run", "--model", "toy-bars", "--proposals", proposals])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Invalid value for '--proposals': {proposals} proposals per frame is outside 1 to 10,000 "
        "(selective search gives about 2,000 per image, EdgeBoxes up to 5,000)")


@pytest.mark.parametrize("dataset, default, frames, name", [
    ("synthetic", "synthetic", None, "run-hw-plan"),  # the README's main job
    (None, None, None, "run-hw-plan"),  # a model without a detector
    ("synthetic", "synthetic", 200, "run-hw-plan-200frames"),
    ("synthetic:3:occlusion=none", "synthetic", None, "run-hw-plan-synthetic-3-occlusion=none"),
    ("caltech:/data/caltech/", "synthetic", 500, "run-hw-plan-caltech-data-caltech-500frames"),
    (None, "synthetic", None, "run-hw-plan-no-dataset"),
])
def test_the_default_run_folder_names_a_dataset_or_frames_other_than_the_default(dataset, default, frames, name):
    assert _run_folder("hw", "plan", dataset, default, frames) == Path("reports") / name


def test_a_weight_share_smaller_than_one_tile_is_refused(tmp_path):
    # Every layer's first output unit travels with its codebook (4 x fp32 = 16 B) plus its entries and
    # bias, so no layer can be pinned or streamed through 16 B of weight SRAM.
    hw = _config(tmp_path, sram__split={"weights": "16B", "input_activations": "64KiB", "output_activations": "64KiB"})
    result = CliRunner().invoke(main, ["run", "--hw", str(hw), "--model", "toy-bars", "--plan", "toy-aggressive",
                                       "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "sram" in result.stderr and "hw" in result.stderr
