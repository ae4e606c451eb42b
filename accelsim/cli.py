"""Command line: ``accelsim COMMAND --help`` explains each command.

User errors (bad plan, missing file, corrupt weights) print one line naming what was wrong and exit
with status 2; progress goes to stderr so that ``--json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import dataclasses
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
    embedded accelerator, from the compressed model's exact storage, next to the detection miss rate
    of exactly those weights in the hardware's number formats.

    \b
    Typical flow:
      accelsim models                      list the detector classifiers
      accelsim plans                       list the shipped compression plans
      accelsim hwconfigs                   list the shipped hardware configs
      accelsim compress --model deepped-alexnet --plan deep-compression-alexnet
      accelsim run --hw embedded-45nm      compress, evaluate the miss rate on generated scenes and
                                           simulate one design point: reports/run-<hw>-<plan>/
      accelsim eval --plan none            miss rate of the uncompressed detector
      accelsim train                       retrain the small detector on generated scenes
      accelsim sweep sweeps/embedded-default.yaml
                                           sweep SRAM size, clusters and pruning; recommend a design
      accelsim cache info                  where compressed models and accuracies are cached

    Outputs go to reports/ under the current folder unless --out says otherwise;
    docs/outputs.md describes every output field with its unit.
    """


@main.command()
def models() -> None:
    """List the models that --model accepts."""
    from accelsim.model import get_model, model_names

    for name in model_names():
        click.echo(f"{name:20s} {get_model(name).description}")


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


DEFAULT_MODEL = "deepped-small"
# `accelsim.detect.datasets.SPEC_HELP` (a test keeps them equal): importing that package for --help
# would cost a fifth of a second.
DATASET_SPEC = "synthetic[:SEED][:KEY=VALUE,...] | caltech:DIR | coco:FILE"


def _interval_options(fn):
    """--confidence and --resamples: how the miss rate's bootstrap interval is computed."""
    fn = click.option("--resamples", type=click.IntRange(min=100), default=1000, show_default=True,
                      help="Bootstrap resamples of the frames for the miss rate's interval.")(fn)
    return click.option("--confidence", type=click.FloatRange(0.5, 1.0, max_open=True), default=0.95,
                        show_default=True, help="Confidence level of the miss rate's interval (percentile bootstrap "
                        "over frames).")(fn)


def _intervals(confidence: float, resamples: int):
    from accelsim.detect.intervals import IntervalSpec

    return IntervalSpec(level=confidence, resamples=resamples)


def _plan_for(model_name: str, plan_arg: str | None) -> str:
    """--plan defaults to the model's shipped plan."""
    if plan_arg is not None:
        return plan_arg
    from accelsim.model import get_model

    entry = get_model(model_name)
    if entry.default_plan is None:
        raise click.UsageError(f"model '{model_name}' has no default plan; give --plan (see `accelsim plans`)")
    return entry.default_plan


def _dataset_for(model_name: str, dataset: str | None) -> str | None:
    """--dataset defaults to the generated scenes for a model with a detector; 'none' skips evaluation."""
    from accelsim.model import get_model

    if dataset == "none":
        return None
    if dataset is None:
        return "synthetic" if get_model(model_name).detector else None
    return dataset


def _writable(out: str | None, default: Path, *, folder: bool = True) -> Path:
    """``--out``, or ``default`` without it, refused before any work when it cannot be written (a folder,
    or a file when ``folder`` is false): its nearest existing folder must take a new file. A probe, not
    permissions: root may write anywhere but in /proc."""
    import tempfile

    path = Path(out) if out else default
    label = f"--out {path}" if out else f"output {'folder' if folder else 'file'} {path}"
    existing = next(p for p in (path, *path.parents) if p.exists())  # click.Path refuses a file for a folder
    if existing != path and not existing.is_dir():
        raise AccelsimError(f"{label}: {existing} is a file, not a folder")
    probed = existing if existing.is_dir() else existing.parent  # a file to replace: its folder
    try:
        tempfile.TemporaryFile(dir=probed).close()
    except OSError as exc:
        raise AccelsimError(f"{label}: cannot write in {probed} ({exc.strerror})") from None
    return path


def _run_folder(hw: str, plan: str, dataset: str | None, default_dataset: str | None, frames: int | None) -> Path:
    """reports/run-<hw>-<plan>, followed by the dataset when it is not the run's default one and by the
    frames when --frames is given, so that runs on other data keep their own folders."""
    import re

    parts = [f"run-{hw}-{plan}"]
    if dataset != default_dataset:
        parts.append(re.sub(r"[^\w.=,+]+", "-", dataset).strip("-") if dataset else "no-dataset")
    if frames is not None:
        parts.append(f"{frames}frames")
    return Path("reports") / "-".join(parts)


def _cluster_counts(ctx, param, value: str) -> list[int]:
    """Comma-separated cluster counts, each checked by the plan schema, which knows their bounds."""
    from pydantic import ValidationError

    from accelsim.compress.plan import LayerSettings
    from accelsim.yamlio import format_validation_error

    try:
        counts = [int(k) for k in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of integers", ctx, param) from None
    for k in counts:
        try:
            LayerSettings(clusters=k)
        except ValidationError as exc:
            raise click.BadParameter(format_validation_error(str(k), exc), ctx, param) from None
    return counts


def _bounded_proposals(ctx, param, value: int) -> int:
    from accelsim.pipeline.simulation import bounded_proposals

    try:
        return bounded_proposals(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@main.command()
@click.option("--hw", default="embedded-45nm", show_default=True, help="Shipped hardware config name or a YAML path.")
@click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True, help="Model name (see `accelsim models`).")
@click.option("--plan", "plan_arg", help="Plan name or YAML path. Default: the model's shipped plan.")
@click.option("--weights", type=click.Path(dir_okay=False), help="State-dict file for the model.")
@click.option("--compressed", type=click.Path(dir_okay=False), help="Use this `accelsim compress` output instead of compressing.")
@click.option("--dataset", metavar="SPEC", help=f"{DATASET_SPEC} | none. Default: synthetic for "
              "a model with a detector, none otherwise.")
@click.option("--frames", type=click.IntRange(min=1), help="Frames to evaluate. Default: 1500 synthetic frames (the shipped plan's interval within +-3 points), or the whole dataset.")
@click.option("--proposals", type=int, default=10, show_default=True, callback=_bounded_proposals,
              help="Region proposals per frame (1 to 10,000) when no dataset is evaluated (with one, the measured "
              "mean is used).")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder. Default: reports/run-<hw>-<plan>/, "
              "followed by the dataset when it is not the default one and by the frames when --frames is given "
              "(run-<hw>-<plan>-<dataset>-<N>frames).")
@_interval_options
@click.option("--save-images", type=click.IntRange(min=0), default=0, metavar="N",
              help="Also draw the first N evaluated frames with their boxes at the 0.1 false positives per image "
              "operating point (frame-*.png).")
@_user_errors
def run(hw, model_name, plan_arg, weights, compressed, dataset, frames, proposals, out, confidence, resamples,
        save_images) -> None:
    """Simulate the compressed detector on one hardware design point, with its miss rate.

    \b
    1. compress the model with the plan (cached: see `accelsim cache --help`),
    2. run the detector on the dataset with the classifier in this hardware's number formats
       (decoded weights, mac_array activation/weight/accumulator bits): miss rate, proposals per frame,
       activation density per layer (cached),
    3. simulate the accelerator on the measured proposals and activation densities.

    Writes layers.csv (one row per layer), summary.json (design, accuracy with its interval, energy,
    latency, traffic, and which stages came from the cache), detections.parquet (every frame's boxes
    and how they matched), subsets.csv (miss rate per Caltech subset and frame condition),
    miss_rate_curve.csv/.png/.svg, the resolved hardware config and the energy table entries used (with
    sources) to the output folder, and prints the per-layer table. docs/outputs.md describes every
    field, with its unit.
    """
    from accelsim.config import load_hwconfig
    from accelsim.detect.functional import NumberFormats
    from accelsim.pipeline.accuracy import AccuracyRequest
    from accelsim.pipeline.compression import CompressionRequest
    from accelsim.pipeline.design_point import DesignPointRequest, run_design_point
    from accelsim.pipeline.accuracy_files import save_images as save_images_to
    from accelsim.pipeline.results import write_outputs
    from accelsim.report.terminal import run_text

    if compressed is None:
        plan_arg = _plan_for(model_name, plan_arg)
        default_dataset = _dataset_for(model_name, None)
        dataset = _dataset_for(model_name, dataset)
    else:  # a compressed file names its own model, plan and weights; evaluate only when asked to
        from click.core import ParameterSource

        source = click.get_current_context().get_parameter_source
        given = [option for option, name in (("--model", "model_name"), ("--plan", "plan_arg"), ("--weights", "weights"))
                 if source(name) is not ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"--compressed {compressed} names its own model, plan and weights; drop "
                                   f"{', '.join(given)}")
        default_dataset = None
        dataset = None if dataset == "none" else dataset
    if frames is not None and dataset is None:
        raise click.UsageError("--frames needs a dataset to evaluate (--dataset)")
    _writable(out, Path("reports"))  # the run's own folder is named once its plan is known
    cfg = load_hwconfig(hw)
    request = DesignPointRequest(
        hardware=cfg,
        compression=Path(compressed) if compressed else CompressionRequest.of(model_name, plan_arg, weights),
        accuracy=AccuracyRequest.of(NumberFormats.from_hardware(cfg), dataset, frames,
                                    _intervals(confidence, resamples)) if dataset else None,
        proposals=proposals)
    result = run_design_point(request, progress=_progress)
    folder = Path(out) if out else _run_folder(cfg.name, result.summary.design.plan, dataset, default_dataset, frames)
    written = write_outputs(result, folder)
    if save_images and result.evaluated is not None:
        written += save_images_to(result.evaluated, request.accuracy.dataset, save_images, folder)
    click.echo(run_text(result.summary, result.layers))
    _progress(f"wrote {folder}/ ({', '.join(p.name for p in written)})")


@main.command()
@click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True, help="Model name (see `accelsim models`).")
@click.option("--plan", "plan_arg", help="Plan name or YAML path; 'none' evaluates the uncompressed weights. "
              "Default: the model's shipped plan.")
@click.option("--weights", type=click.Path(dir_okay=False), help="State-dict file; default: the model's shipped weights.")
@click.option("--hw", help="Take the number formats from this hardware config (name or YAML). Default: float32.")
@click.option("--dataset", default="synthetic", show_default=True, metavar="SPEC", help=DATASET_SPEC)
@click.option("--frames", type=click.IntRange(min=1), help="Frames to evaluate. Default: 1500 synthetic frames (the shipped plan's interval within +-3 points), or the whole dataset.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Also write accuracy.json, detections.parquet, subsets.csv and the miss-rate curve (.csv, .png, "
              ".svg) here.")
@_interval_options
@click.option("--save-images", type=click.IntRange(min=0), default=0, metavar="N",
              help="Draw the first N frames with ground truth, ignore regions and true-positive, false-positive and "
              "missed boxes at the 0.1 false positives per image operating point (frame-*.png in --out, default "
              "reports/eval-<model>-<plan>/).")
@_user_errors
def eval(model_name, plan_arg, weights, hw, dataset, frames, out, confidence, resamples,  # noqa: A001 - `accelsim eval`
         save_images) -> None:
    """Miss rate of a model and plan on a dataset, without simulating hardware.

    Log-average miss rate over 9 FPPI points in [1e-2, 1], Caltech 'reasonable' protocol, of the
    classifier with the plan's decoded weights in the given number formats, with its frame-level
    bootstrap interval and the miss rate on every Caltech subset and frame condition.
    """
    from accelsim.config import load_hwconfig
    from accelsim.detect.functional import NumberFormats
    from accelsim.model import get_model
    from accelsim.pipeline.accuracy import AccuracyRequest, accuracy_stage, require_detector
    from accelsim.pipeline.accuracy_files import save_images as save_images_to, write_accuracy_files
    from accelsim.pipeline.compression import CompressionRequest, compress_stage
    from accelsim.report.terminal import miss_rate_text, subset_lines

    plan_arg = _plan_for(model_name, plan_arg)
    folder = _writable(out, Path("reports") / f"eval-{model_name}-{plan_arg}") if out or save_images else None
    formats = NumberFormats.from_hardware(load_hwconfig(hw)) if hw else NumberFormats.float32()
    request = AccuracyRequest.of(formats, dataset, frames, _intervals(confidence, resamples))
    require_detector(get_model(model_name))  # before minutes of compression
    if plan_arg == "none":
        entry, cm = get_model(model_name), None
        network = entry.build(weights)
    else:
        compressed = compress_stage(CompressionRequest.of(model_name, plan_arg, weights), progress=_progress)
        entry, network, cm = compressed.entry, compressed.network, compressed.storage
    evaluated = accuracy_stage(entry, network, cm, request, progress=_progress)
    figures = evaluated.figures()
    click.echo(f"model {model_name}, plan {plan_arg}, {figures.number_formats}")
    click.echo(f"dataset {figures.dataset}")
    click.echo(f"log-average miss rate (reasonable): {miss_rate_text(figures)}")
    click.echo("\n".join(subset_lines(evaluated.subsets)))
    click.echo(f"proposals/frame {figures.proposals_per_frame_measured:.1f}, "
               f"detections/frame {figures.detections_per_frame:.1f}")
    if cm is not None:
        click.echo(f"compressed weights {cm.totals()['compressed_bytes'] / 2**10:,.1f} KiB")
    click.echo("accuracy from the cache" if evaluated.cached else f"evaluated in {evaluated.wall_s:.1f} s")
    if out or save_images:
        folder.mkdir(parents=True, exist_ok=True)
        document = {"model": model_name, "plan": plan_arg, **figures.flat(), "accuracy_cached": evaluated.cached,
                    "eval_wall_s": evaluated.wall_s, "activation_density": evaluated.accuracy.activation_density,
                    "saturation": evaluated.accuracy.saturation}
        (folder / "accuracy.json").write_text(json.dumps(document, indent=2) + "\n")
        written = [folder / "accuracy.json", *write_accuracy_files(evaluated, folder, f"{model_name} {plan_arg}")]
        if save_images:
            written += save_images_to(evaluated, request.dataset, save_images, folder)
        _progress(f"wrote {folder}/ ({', '.join(p.name for p in written)})")


@main.command()
@click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True, help="Model name (see `accelsim models`).")
@click.option("--plan", "plan_arg", help="Plan whose pruning and fine-tuning the variants start from. Default: the model's shipped plan.")
@click.option("--hw", default="embedded-45nm", show_default=True, help="Hardware config whose number formats the classifier runs in.")
@click.option("--dataset", default="synthetic", show_default=True, metavar="SPEC", help=DATASET_SPEC)
@click.option("--frames", type=click.IntRange(min=1), help="Frames to evaluate. Default: 1500 synthetic frames (the shipped plan's interval within +-3 points), or the whole dataset.")
@click.option("--clusters", default="4,8,16,32,64,256", show_default=True, callback=_cluster_counts,
              help="Cluster counts (every layer) to evaluate.")
@click.option("--finetune-epochs", type=click.IntRange(min=0), default=2, show_default=True,
              help="Also fine-tune the plan and the smallest cluster count for this many epochs (0: no such rows).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for tradeoff.csv and the curves. "
              "Default: reports/tradeoff-<model>/")
@_interval_options
@_user_errors
def tradeoff(model_name, plan_arg, hw, dataset, frames, clusters, finetune_epochs, out, confidence, resamples) -> None:
    """Miss rate against compressed size: dense, pruned, pruned + k clusters, and the plan before and
    after fine-tuning, all in the hardware's number formats on the same frames.

    Every variant is compared with the dense model on the same frames (a paired bootstrap interval of
    the difference), overall and on every Caltech subset and frame condition. Prints markdown tables and
    writes tradeoff.csv (one row per variant and subset) and miss_rate_curves.png/.svg (one curve per
    variant).
    """
    from accelsim.config import load_hwconfig
    from accelsim.detect.functional import NumberFormats
    from accelsim.pipeline.accuracy import AccuracyRequest
    from accelsim.pipeline.accuracy_files import write_curve_plot
    from accelsim.results.records import TradeoffRow
    from accelsim.results.schema import table
    from accelsim.tradeoff import markdown, tradeoff as run_tradeoff

    plan_arg = _plan_for(model_name, plan_arg)
    folder = _writable(out, Path("reports") / f"tradeoff-{model_name}")
    request = dataclasses.replace(AccuracyRequest.of(NumberFormats.from_hardware(load_hwconfig(hw)), dataset, frames,
                                                     _intervals(confidence, resamples)), keep_pixels=True)
    result = run_tradeoff(model_name, plan_arg, request, clusters, finetune_epochs, _progress)
    folder.mkdir(parents=True, exist_ok=True)
    table(result.rows, TradeoffRow.columns()).to_csv(folder / "tradeoff.csv", index=False)
    first = result.evaluations[0][1].accuracy
    plots = write_curve_plot(result.evaluations, folder / "miss_rate_curves",
                             f"{model_name}, {first.dataset}, {first.formats}")
    click.echo(f"model {model_name}, {first.dataset}, {first.frames_evaluated} frames, {first.positives} positives "
               f"(reasonable), {first.formats}")
    click.echo(markdown(result))
    _progress(f"wrote {folder}/ (tradeoff.csv, {', '.join(p.name for p in plots)})")


@main.command()
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the trained detector. Default: models/deepped-small (the shipped model).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of initial weights, batch order and augmentation.")
@click.option("--train-frames", type=click.IntRange(min=10), default=500, show_default=True, help="Generated training scenes.")
@click.option("--val-frames", type=click.IntRange(min=10), default=150, show_default=True,
              help="Generated validation scenes (score combiner).")
@click.option("--epochs", type=click.IntRange(min=1), default=8, show_default=True, help="Classifier training epochs.")
@click.option("--eval-frames", type=click.IntRange(min=10), default=200, show_default=True,
              help="Generated test scenes for the model card's miss rates.")
@_user_errors
def train(out, seed, train_frames, val_frames, epochs, eval_frames) -> None:
    """Train the small detector (deepped-small) on generated pedestrian scenes.

    Trains the proposal stage, the AlexNet-shaped classifier and the score combiner on disjoint
    splits of the synthetic scenes, then writes proposals.npz, weights.pt, detector.json and
    MODEL_CARD.md (data, seed, command, measured miss rates) into the output folder.
    """
    from accelsim.model import get_model
    from accelsim.train import TrainSettings, train_detector, write_model_card

    folder = Path(out) if out else get_model(DEFAULT_MODEL).detector_dir
    settings = TrainSettings(seed=seed, train_frames=train_frames, val_frames=val_frames, epochs=epochs)
    figures = train_detector(folder, settings, _progress)
    card = write_model_card(folder, settings, figures, eval_frames, sys.argv, _progress)
    _progress(f"wrote {folder}/ (proposals.npz, weights.pt, detector.json, {card.name})")


@main.command()
@click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True, help="Model name (see `accelsim models`).")
@click.option("--plan", "plan_arg", help="Shipped plan name (see `accelsim plans`) or a plan YAML file. "
              "Default: the model's shipped plan.")
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
    from accelsim.compress import save
    from accelsim.compress.report import compression_json, compression_text
    from accelsim.pipeline.compression import CompressionRequest, compress_stage

    request = CompressionRequest.of(model_name, _plan_for(model_name, plan_arg), weights, finetune_epochs)
    out_path = _writable(out, Path("reports") / f"{model_name}-{request.plan.name}.npz", folder=False)
    compressed = compress_stage(request, progress=_progress)
    cm = compressed.storage
    save(cm, out_path)
    _progress(f"wrote {out_path}" + (" (compressed model from the cache)" if compressed.cached else ""))
    if as_json:
        click.echo(json.dumps(compression_json(cm), indent=2))
    else:
        click.echo(compression_text(cm))


@main.command()
@click.argument("spec_file", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (holds the resumable store). "
              "Default: reports/sweep-<name>/")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: a pool of processes on this machine; dask: a Dask distributed cluster.")
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler address (tcp://host:8786); without it, "
              "--executor dask starts a local Dask cluster.")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes. Default: all cores.")
@click.option("--resume", is_flag=True, help="Continue the sweep stored in --out; finished points are not rerun.")
@click.option("--retry-failed", is_flag=True, help="With --resume, rerun the points that failed.")
@click.option("--layers", "per_layer", is_flag=True, help="Also store one row per design point and layer (layers.csv).")
@_user_errors
def sweep(spec_file, out, executor, scheduler, workers, resume, retry_failed, per_layer) -> None:
    """Sweep a design space declared in SPEC (YAML) and recommend a design.

    \b
    SPEC names a base hardware config, model and plan; axes over any hardware-config path
    (sram.size, sram.banks, mac_array.rows, dram.preset, decoders.count, ...) or plan path
    (plan.groups.conv.clusters, plan.sparsity, plan.defaults.codebook_format, plan.finetune.epochs,
    ...); grid or seeded random sampling; constraints (max_miss_rate, min_fps, max_power_mw,
    max_sram_bytes); the objective (energy, area or weighted); and the miss rate's bootstrap
    intervals (intervals: {level: 95%, resamples: 1000, seed: 0}). max_miss_rate: 60% constrains the
    estimate; '50% at 95%' the upper end of its interval; {value: 50%, margin: 3%} the estimate plus
    a margin. See sweeps/embedded-default.yaml.

    \b
    Each compression variant is compressed and evaluated for accuracy once (and cached); points
    that differ only in hardware just simulate. Every finished point is stored at once in
    OUT/sweep.sqlite: a killed sweep continues with --resume, a failing point records its error and
    the sweep goes on. Writes results.csv/.parquet (one row per design point), pareto.csv,
    recommendation.md/.json and pareto.png to OUT. The recommendation states its evidence (frames,
    pedestrians, interval), compares its runners-up and the cheaper designs rejected only on miss
    rate by paired intervals (tied: the interval of the difference contains 0), and warns when the
    evidence is thin.
    """
    from accelsim.sweep.runner import run_sweep
    from accelsim.sweep.spec import load_sweep

    if retry_failed and not resume:
        raise click.UsageError("--retry-failed continues a stored sweep; add --resume")
    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    loaded = load_sweep(spec_file)
    folder = _writable(out, Path("reports") / f"sweep-{loaded.spec.name}")
    bars = _Bars()
    try:
        result = run_sweep(loaded, folder, executor=executor, workers=workers, scheduler=scheduler, resume=resume,
                           retry_failed=retry_failed, per_layer=per_layer, progress=bars.progress(),
                           spec_text=Path(spec_file).read_text())
    except KeyboardInterrupt:
        bars.close()
        click.echo(f"interrupted: every finished point is stored in {folder}/; continue with "
                   f"`accelsim sweep {spec_file} --out {folder} --resume`", err=True)
        sys.exit(130)
    bars.close()
    click.echo(result["summary"])
    _progress(f"{result['ran']} of {result['points']} design points run in {result['wall_s']:.1f} s "
              f"({result['ok_run']} ok, {result['failed_run']} failed, {result['variants_run']} compression variants); "
              f"wrote {folder}/ ({', '.join(p.name for p in result['files'])})")
    if result["first_error"] is not None:  # written and stored, but nothing to recommend: not a success
        raise AccelsimError(f"all {result['points']} design points of {spec_file} failed; the first: "
                            f"{result['first_error']}")


_AGE_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}  # seconds per unit of an AGE


class _Age(click.ParamType):
    """A duration: a whole number and a unit, 30m, 12h, 7d or 2w."""

    name = "AGE"

    def convert(self, value, param, ctx):
        import re
        from datetime import timedelta

        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"(\d+)([mhdw])", str(value).strip())
        if match is None:
            self.fail(f"{value!r} is not an age; write a whole number and m (minutes), h (hours), d (days) or "
                      f"w (weeks), e.g. 30m, 12h, 7d, 2w", param, ctx)
        return timedelta(seconds=int(match[1]) * _AGE_UNIT_S[match[2]])


@main.group("cache")
def cache_group() -> None:
    """Show or clear the cache of compressed models and accuracies.

    \b
    accelsim computes each compressed model and each accuracy once and reuses it from its cache:
      $ACCELSIM_CACHE_DIR if set, otherwise the user cache directory
      (~/.cache/accelsim on Linux, ~/Library/Caches/accelsim on macOS).
    Numba's compiled kernels are kept there too (numba/) unless NUMBA_CACHE_DIR is set.
    `accelsim cache info` shows where it is and what it holds. To move it, set ACCELSIM_CACHE_DIR,
    e.g. `export ACCELSIM_CACHE_DIR=/scratch/accelsim-cache`; the old folder can simply be deleted.
    Every entry is checked when read: a damaged one is reported, removed and recomputed, never used.
    """


@cache_group.command("info")
def cache_info() -> None:
    """Where the cache is, its size, and its entries per kind."""
    from accelsim.cache import default_cache
    from accelsim.units import human_size

    info = default_cache().info()
    click.echo(f"cache: {info.root}  (set ACCELSIM_CACHE_DIR to move it)")
    click.echo(f"total: {human_size(info.total_bytes)}")
    if info.kinds:
        click.echo(f"{'kind':<16}{'entries':>8}{'size':>12}  {'oldest use (UTC)':<18}{'newest use (UTC)'}")
        for kind, k in info.kinds.items():
            click.echo(f"{kind:<16}{k.entries:>8}{human_size(k.size_bytes):>12}  "
                       f"{k.oldest_use_utc:%Y-%m-%d %H:%M}  {k.newest_use_utc:%Y-%m-%d %H:%M}")
    else:
        click.echo("no entries")
    if info.other_bytes:
        click.echo(f"other files (Numba kernels, file digest memo): {human_size(info.other_bytes)}")
    if info.stray_files:
        click.echo(f"stray temporaries and lock files: {len(info.stray_files)} ({human_size(info.stray_bytes)}); "
                   f"`accelsim cache clear` removes those that killed processes left")


@cache_group.command("clear")
@click.option("--older-than", type=_Age(), help="Only entries not used for AGE: 30m, 12h, 7d, 2w.")
@click.option("--kind", help="Only entries of this kind (see `accelsim cache info`).")
def cache_clear(older_than, kind) -> None:
    """Remove cache entries (all, or those of a kind or not used for a while) and the temporaries and
    lock files of killed processes. Removed entries are recomputed when next needed."""
    from accelsim.cache import default_cache
    from accelsim.units import human_size

    cache = default_cache()
    if kind is not None and kind not in cache.kinds():
        raise click.BadParameter(f"no cache entries of kind {kind!r} in {cache.root} "
                                 f"(kinds: {', '.join(cache.kinds()) or 'none'})", param_hint="'--kind'")
    entries, freed_bytes = cache.clear(older_than=older_than, kind=kind)
    click.echo(f"removed {entries} {'entry' if entries == 1 else 'entries'} ({human_size(freed_bytes)}) "
               f"from {cache.root}")


class _Bars:
    """tqdm progress bars with ETA on stderr, one per sweep phase."""

    def __init__(self):
        self._bars = {}

    def progress(self):
        from accelsim.sweep.runner import SweepProgress

        return SweepProgress(start=self._start, advance=self._advance, message=_progress)

    def _start(self, phase: str, total: int) -> None:
        from tqdm import tqdm

        if phase in self._bars:
            self._bars[phase].close()
        self._bars[phase] = tqdm(total=total, desc=phase, unit="pt" if phase == "points" else "variant",
                                 file=sys.stderr, dynamic_ncols=True, smoothing=0.05)

    def _advance(self, phase: str, n: int) -> None:
        self._bars[phase].update(n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


if __name__ == "__main__":
    main()
