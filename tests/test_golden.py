"""Shipped design points reproduce their golden summary.json and layers.csv (tests/golden_values.py).

Every shipped hardware config x plan pair that runs is simulated without a dataset (10 proposals per
frame, dense activations); the README's main job, with its evaluation, is checked in test_readme.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from accelsim.cli import main
from golden_values import differences, pairs


@pytest.mark.slow
@pytest.mark.parametrize("hw, model, plan", pairs(), ids=["--".join(p) for p in pairs()])
def test_shipped_design_point_matches_its_golden_values(tmp_path, hw, model, plan):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "--hw", hw, "--model", model, "--plan", plan, "--dataset", "none",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert differences(f"{hw}--{model}--{plan}", out) == []


def test_the_golden_set_covers_every_runnable_shipped_pair():
    """Each shipped config with each plan of its model either has golden values or is refused by the
    hardware (the 16-entry decoders of eie-like cannot hold 32- or 256-entry codebooks)."""
    from accelsim.resources import hwconfigs_dir

    configs = sorted(p.stem for p in hwconfigs_dir().glob("*.yaml"))
    plans = {"deepped-small": ["deepped-small", "deepped-small-ft"], "toy-bars": ["toy-aggressive"],
             "deepped-alexnet": ["deep-compression-alexnet", "dense-fixed16", "eie-4bit"]}
    refused = {("eie-like", "deepped-small", "deepped-small"), ("eie-like", "deepped-small", "deepped-small-ft"),
               ("eie-like", "deepped-alexnet", "deep-compression-alexnet")}
    expected = {(hw, m, p) for hw in configs for m, ps in plans.items() for p in ps} - refused
    assert set(pairs()) == expected
