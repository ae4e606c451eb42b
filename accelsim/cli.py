"""Command line: ``accelsim COMMAND --help`` explains each command.

User errors (bad plan, missing file, corrupt weights) print one line naming what was wrong and exit
with status 2; progress goes to stderr so that ``--json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from accelsim.errors import AccelsimError


def _user_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AccelsimError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="accelsim")
def main() -> None:
    """accelsim: energy, latency and memory traffic of a compressed pedestrian detector on an
    embedded accelerator, from the compressed model's exact storage.

    \b
    Typical flow:
      accelsim models                      list the detector classifiers
      accelsim plans                       list the shipped compression plans
      accelsim hwconfigs                   list the shipped hardware configs
      accelsim compress --model deepped-alexnet --plan deep-compression-alexnet
      accelsim run --hw embedded-45nm      simulate one design point, write reports/run-<hw>-<plan>/
    """


@main.command()
def models() -> None:
    """List the models that --model accepts."""
    from accelsim.model import get_model, model_names

    for name in model_names():
        spec = get_model(name)
        click.echo(f"{name:20s} {spec.description}")


@main.command()
def plans() -> None:
    """List the shipped compression plans (models/plans/); --plan also takes a path."""
    from accelsim.compress.plan import load_plan
    from accelsim.resources import plans_dir

    for path in sorted(plans_dir().glob("*.yaml")):
        plan = load_plan(path)
        click.echo(f"{path.stem:28s} {plan.description}")


@main.command()
def hwconfigs() -> None:
    """List the shipped hardware configs (hwconfigs/); --hw also takes a path."""
    from accelsim.config import load_hwconfig
    from accelsim.resources import hwconfigs_dir

    for path in sorted(hwconfigs_dir().glob("*.yaml")):
        cfg = load_hwconfig(path)
        click.echo(f"{path.stem:24s} {cfg.description}")


@main.command()
@click.option("--hw", default="embedded-45nm", show_default=True, help="Shipped hardware config name or a YAML path.")
@click.option("--model", "model_name", default="deepped-alexnet", show_default=True, help="Model name (see `accelsim models`).")
@click.option("--plan", "plan_arg", default="deep-compression-alexnet", show_default=True, help="Plan name or YAML path.")
@click.option("--weights", type=click.Path(dir_okay=False), help="State-dict file for the model.")
@click.option("--compressed", type=click.Path(dir_okay=False), help="Use this `accelsim compress` output instead of compressing.")
@click.option("--proposals", type=click.IntRange(min=1), default=10, show_default=True, help="Region proposals per frame.")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder. Default: reports/run-<hw>-<plan>/")
@_user_errors
def run(hw, model_name, plan_arg, weights, compressed, proposals, out) -> None:
    """Simulate the compressed detector on one hardware design point.

    Writes layers.csv (one row per layer), summary.json, the resolved hardware config and the energy
    table entries used (with sources) to the output folder, and prints the per-layer table.
    """
    from accelsim.report.terminal import run_text
    from accelsim.resources import project_root
    from accelsim.run import run_design_point, write_outputs

    result = run_design_point(hw, model_name, plan_arg, weights=weights, proposals=proposals, compressed=compressed,
                              progress=_progress)
    folder = Path(out) if out else project_root() / "reports" / f"run-{result.config.name}-{result.summary['plan']}"
    write_outputs(result, folder)
    click.echo(run_text(result.layers, result.summary))
    _progress(f"wrote {folder}/ (layers.csv, summary.json, hwconfig.resolved.yaml, table_entries.json)")


@main.command()
@click.option("--model", "model_name", default="deepped-alexnet", show_default=True, help="Model name (see `accelsim models`).")
@click.option("--plan", "plan_arg", default="deep-compression-alexnet", show_default=True,
              help="Shipped plan name (see `accelsim plans`) or a plan YAML file.")
@click.option("--weights", type=click.Path(dir_okay=False), help="State-dict file; default: the model's shipped or seeded weights.")
@click.option("--finetune-epochs", type=click.IntRange(min=0), help="Fine-tuning epochs (default: the plan's). Needs a model with training data.")
@click.option("--out", type=click.Path(dir_okay=False), help="Output .npz file. Default: reports/<model>-<plan>.npz")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON (units in field names) instead of text.")
@_user_errors
def compress(model_name, plan_arg, weights, finetune_epochs, out, as_json) -> None:
    """Prune, share weights by k-means, fine-tune, and store a model bit-exactly.

    Prints per layer: weights, kept fraction, clusters, index bits, position bits, fillers, compressed
    bytes and the ratio to dense fp32 (biases included in both), then totals.
    """
    from accelsim.compress import compress as run_compress
    from accelsim.compress import load_plan, save
    from accelsim.compress.report import compression_json, compression_text
    from accelsim.model import get_model
    from accelsim.resources import project_root

    spec = get_model(model_name)
    plan = load_plan(plan_arg)
    model = spec.build(weights)
    epochs = plan.finetune.epochs if finetune_epochs is None else finetune_epochs
    loader = spec.data(plan.seed)[0] if spec.data is not None and epochs > 0 else None
    cm = run_compress(model, plan, model_name=model_name, loader=loader, finetune_epochs=epochs, progress=_progress,
                      provenance={"weights": str(weights) if weights else spec.weights or f"seeded init {spec.init_seed}"})
    out_path = Path(out) if out else project_root() / "reports" / f"{model_name}-{plan.name}.npz"
    save(cm, out_path)
    _progress(f"wrote {out_path}")
    if as_json:
        click.echo(json.dumps(compression_json(cm), indent=2))
    else:
        click.echo(compression_text(cm))


if __name__ == "__main__":
    main()
