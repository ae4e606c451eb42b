"""`accelsim run --dataset`, `accelsim eval` and their errors, with the shipped small detector."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from accelsim.cli import main


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(main, ["run", "--hw", "embedded-45nm", "--frames", "6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result


def test_run_reports_the_miss_rate_of_the_hardware_formats(run_out):
    out, result = run_out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "deepped-small" and summary["plan"] == "deepped-small"
    assert summary["dataset"] == "synthetic(seed=0, split=test)"
    assert summary["frames_evaluated"] == 6
    assert 0.0 < summary["miss_rate_lamr"] <= 1.0
    assert summary["number_formats"].startswith("activations 8b, weights 8b")
    # the accelerator simulates the measured proposals per frame, rounded to whole proposals
    assert summary["proposals_per_frame"] == max(1, round(summary["proposals_per_frame_measured"]))
    assert "miss rate" in result.output


def test_run_feeds_measured_activation_density_to_the_simulation(run_out):
    out, _ = run_out
    layers = pd.read_csv(out / "layers.csv")
    dens = layers.set_index("layer")["input_activation_density"]
    # conv1 reads the crop (mostly non-zero); layers after a ReLU read many zeros
    assert dens["conv1"] > 0.9
    assert dens["fc7"] < 0.9
    assert ((dens > 0) & (dens <= 1)).all()
    curve = pd.read_csv(out / "miss_rate_curve.csv")
    assert list(curve.columns) == ["score_threshold", "fppi", "miss_rate"]
    assert curve["fppi"].is_monotonic_increasing


def test_eval_uncompressed_model():
    result = CliRunner().invoke(main, ["eval", "--plan", "none", "--frames", "6"])
    assert result.exit_code == 0, result.output
    assert "log-average miss rate (reasonable)" in result.output
    assert "synthetic(seed=0, split=test): 6 frames" in result.output


@pytest.mark.parametrize("args, message", [
    (["run", "--dataset", "caltech:/no/such/dir"], "/no/such/dir"),
    (["run", "--dataset", "imagenet"], "is not one of"),
    (["run", "--model", "deepped-alexnet", "--dataset", "synthetic"], "no detector"),
    (["eval", "--frames", "0"], "--frames"),
    (["run", "--dataset", "synthetic:x"], "seed must be an integer"),
])
def test_bad_dataset_arguments_give_one_line(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_frames_without_a_dataset_is_a_usage_error():
    result = CliRunner().invoke(main, ["run", "--model", "toy-bars", "--frames", "3"])
    assert result.exit_code == 2 and "--frames needs a dataset" in result.output
