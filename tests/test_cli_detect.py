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


def test_a_run_on_other_frames_keeps_its_own_default_folder(run_out, tmp_path, monkeypatch):
    # the same run as run_out's (cached), without --out: the main job's folder stays untouched
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--hw", "embedded-45nm", "--frames", "6"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["run-embedded-45nm-deepped-small-6frames"]


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
    assert "dataset synthetic(seed=0, split=test)" in result.output and "6 frames, " in result.output


@pytest.mark.parametrize("args, message", [
    (["run", "--dataset", "caltech:/no/such/dir"], "/no/such/dir"),
    (["run", "--dataset", "imagenet"], "is not one of"),
    (["run", "--model", "deepped-alexnet", "--dataset", "synthetic"], "no detector"),
    (["eval", "--frames", "0"], "--frames"),
    (["run", "--dataset", "synthetic:x"], "seed must be an integer"),
    (["tradeoff", "--clusters", "1"], "Invalid value for '--clusters': 1: clusters: Input should be greater than or equal to 2"),
    (["tradeoff", "--clusters", "8,65536"], "'--clusters': 65536: clusters: 65536 clusters is more than 4096 (12-bit indices)"),
])
def test_bad_dataset_arguments_give_one_line(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_frames_without_a_dataset_is_a_usage_error():
    result = CliRunner().invoke(main, ["run", "--model", "toy-bars", "--frames", "3"])
    assert result.exit_code == 2 and "--frames needs a dataset" in result.output


def test_run_writes_the_evidence_and_the_interval(run_out):
    out, result = run_out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["miss_rate_lamr_ci_low"] <= summary["miss_rate_lamr"] <= summary["miss_rate_lamr_ci_high"]
    # of 1000 resamples of 6 frames, those that drew no pedestrian have no miss rate and are left out
    assert summary["confidence_level"] == 0.95 and 500 < summary["bootstrap_resamples"] <= 1000
    assert f"{summary['frames_evaluated']} frames, {summary['positives']} positives" in result.output
    evidence = pd.read_parquet(out / "detections.parquet")
    assert (evidence["kind"] == "frame").sum() == 6
    assert (evidence["status"] == "tp").sum() == (evidence["status"] == "matched").sum()
    subsets = pd.read_csv(out / "subsets.csv").set_index("subset")
    assert subsets.loc["reasonable", "miss_rate_lamr"] == pytest.approx(summary["miss_rate_lamr"], rel=1e-12)
    assert subsets.loc["reasonable", "positives"] == summary["positives"]
    assert (out / "miss_rate_curve.png").stat().st_size > 0 and (out / "miss_rate_curve.svg").stat().st_size > 0


def test_eval_saves_pictures_of_frames(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--frames", "3", "--save-images", "2", "--resamples", "200",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    from PIL import Image

    pictures = sorted(p.name for p in tmp_path.glob("frame-*.png"))
    assert pictures == ["frame-test-000000.png", "frame-test-000001.png"]
    assert Image.open(tmp_path / pictures[0]).size[0] == 960  # 640 px frames drawn at 1.5x
    assert 0 < json.loads((tmp_path / "accuracy.json").read_text())["bootstrap_resamples"] <= 200


def test_tradeoff_pairs_every_variant_with_dense_per_subset(tmp_path):
    result = CliRunner().invoke(main, ["tradeoff", "--clusters", "16", "--finetune-epochs", "0", "--frames", "6",
                                       "--resamples", "200", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(tmp_path / "tradeoff.csv")
    assert list(dict.fromkeys(rows["variant"])) == ["dense (fp32)", "pruned", "pruned + 16 clusters",
                                                    "plan deepped-small"]
    dense = rows[rows["variant"] == "dense (fp32)"].dropna(subset=["miss_rate_lamr"])
    assert (dense["delta_vs_reference"] == 0).all() and not dense["distinguishable"].any()
    reasonable = rows[rows["subset"] == "reasonable"].set_index("variant")
    plan = reasonable.loc["plan deepped-small"]
    assert plan["delta_vs_reference"] == pytest.approx(plan["miss_rate_lamr"] - reasonable.loc["dense (fp32)",
                                                                                                "miss_rate_lamr"])
    assert plan["delta_ci_low"] <= plan["delta_vs_reference"] <= plan["delta_ci_high"]
    assert {"all", "scale=near", "occ=heavy", "crowding=crowded"} <= set(rows["subset"])
    assert "Difference from dense (fp32) by subset" in result.output
    assert (tmp_path / "miss_rate_curves.png").exists()


def test_dataset_help_matches_the_parser():
    from accelsim.cli import DATASET_SPEC
    from accelsim.detect.datasets import SPEC_HELP

    assert DATASET_SPEC == SPEC_HELP
