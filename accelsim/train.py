"""Training the small detector on generated scenes: ``accelsim train``.

Three stages, each on its own split of the synthetic scenes so that nothing is tuned on test frames:

1. the proposal scorer on ``train`` frames (`detect.proposals.train_proposals`);
2. the CNN (``deepped-small``'s network, from the model catalogue) on warped crops of ``train`` frames
   (`detect.training_data.crop_set`, `detect.training.train_classifier`);
3. the score combiner on ``val`` frames (`detect.training.fit_combiner`).

Then the model card measures the trained detector on ``test`` frames. This job stands above the model
catalogue and the detector: the catalogue takes only the training data (`detect.training_data`) for
fine-tuning, so nothing that the job imports imports it back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from accelsim.config import load_hwconfig
from accelsim.detect.crops import CropSpec
from accelsim.detect.detector import Detector, DetectorConfig
from accelsim.detect.evaluate import functional_detector, run_detector
from accelsim.detect.functional import NumberFormats
from accelsim.detect.proposals import train_proposals
from accelsim.detect.training import fit_combiner, train_classifier
from accelsim.detect.training_data import CropBatches, Progress, TrainSettings, crop_set, synthetic_frames
from accelsim.model import get_model
from accelsim.model.alexnet import init_gaussian_

MODEL = "deepped-small"  # the catalogue's model whose detector this job trains


def train_detector(out: Path, settings: TrainSettings = TrainSettings(), progress: Progress | None = None) -> dict:
    """Train the proposal stage, the classifier and the combiner; write ``proposals.npz``,
    ``weights.pt`` and ``detector.json`` into ``out``. Returns what the model card reports."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    train = synthetic_frames("train", settings.train_frames, settings.data_seed)
    say(f"proposal stage: {len(train)} training frames")
    recall: list[float] = []
    proposals = train_proposals(train, seed=settings.seed, progress=say, recall=recall)
    proposals.save(out / "proposals.npz")
    spec = CropSpec()
    crops, labels = crop_set(train, proposals, spec, settings, say)
    say(f"classifier: {len(labels)} crops, {int(labels.sum())} pedestrians")
    model = init_gaussian_(get_model(MODEL).factory(), settings.seed)
    train_classifier(model, CropBatches(crops, labels, settings.batch, settings.seed), settings.epochs, settings.lr,
                     settings.seed, say)
    torch.save(model.state_dict(), out / "weights.pt")
    detector = Detector(proposals, DetectorConfig(crop=spec), model)
    val = synthetic_frames("val", settings.val_frames, settings.data_seed)
    detector.config = DetectorConfig(crop=spec, combiner=fit_combiner(detector, val))
    detector.config.save(out / "detector.json")
    return {"crops": len(labels), "pedestrian_crops": int(labels.sum()), "proposal_threshold": proposals.threshold,
            "proposal_recall": recall[0] if recall else None, "combiner": detector.config.combiner,
            "train_wall_s": time.perf_counter() - t0}


def _threshold_text(figures: dict) -> str:
    recall = figures.get("proposal_recall")
    at = f" ({recall:.1%} of the 'reasonable' training pedestrians covered)" if recall is not None else ""
    if math.isinf(figures["proposal_threshold"]):
        return f"No score threshold: the 64-proposal cap alone stays below the 97% recall target{at}."
    return f"Score threshold {figures['proposal_threshold']:.4f}, set for 97% recall{at}."


def write_model_card(folder: Path, settings: TrainSettings, figures: dict, eval_frames: int, argv: Sequence[str],
                     progress: Progress | None = None) -> Path:
    """MODEL_CARD.md: what was trained on what, with which command, and the miss rates it measures."""
    model = get_model(MODEL).build(folder / "weights.pt")
    test = synthetic_frames("test", eval_frames, settings.data_seed)
    rows = []
    for label, formats in (("float32", NumberFormats.float32()),
                           ("embedded-45nm formats", NumberFormats.from_hardware(load_hwconfig("embedded-45nm")))):
        detector, classifier = functional_detector(model, folder, formats)
        started = time.perf_counter()
        accuracy = run_detector(detector, classifier, test, f"synthetic(seed={settings.data_seed}, split=test)",
                                progress)
        rows.append((label, accuracy, time.perf_counter() - started))
    weights = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    params = sum(p.numel() for p in model.parameters())
    command = "accelsim " + " ".join(argv[1:]) if argv and argv[0].endswith("accelsim") else "accelsim train"
    c = figures["combiner"]
    lines = [
        "# deepped-small: the small trained DeepPed-style detector",
        "",
        "Generated by `accelsim train`; every figure below was measured by the run that wrote this file.",
        "",
        "## What it is",
        "",
        "- **Proposal stage** (`proposals.npz`): a two-stage cascade over a multi-scale sliding window (48 px",
        "  pedestrian in a 32x64 px window, 4 scales per octave, 48-228 px): a linear scorer on aggregated channel",
        "  features (3 colour, gradient magnitude, 6 orientations; 4x4 px cells; logistic regression with one round",
        "  of hard-negative mining), then a one-hidden-layer perceptron (64 units) re-ranking its best 3,000 windows;",
        "  NMS at IoU 0.5 and at most 64 proposals per frame. " + _threshold_text(figures),
        "- **Classifier** (`weights.pt`): AlexNet-shaped (conv1-5 with groups=2 on conv2/4/5, LRN, fc6-8), half the",
        "  channels of AlexNet, 512-wide fc6/fc7, 2 classes, 67x67 px warped crops with R-CNN context;",
        f"  {weights:,} weights ({params:,} parameters, {params * 4 / 2**20:.2f} MiB in fp32).",
        f"- **Score combiner** (`detector.json`): {c.w_proposal:.4f} x proposal score + {c.w_cnn:.4f} x CNN logit",
        f"  margin + {c.bias:.4f} (logistic regression on validation scenes), then NMS at IoU 0.3.",
        "",
        "## Data and training",
        "",
        "- Data: the built-in synthetic pedestrian scenes (`accelsim.detect.datasets.synthetic`), data seed",
        f"  {settings.data_seed}: {settings.train_frames} `train` frames (proposal scorer and classifier),"
        f" {settings.val_frames} `val` frames",
        f"  (score combiner), evaluated on the first {eval_frames} `test` frames. The splits are disjoint by construction.",
        f"- Classifier: {figures['crops']:,} crops ({figures['pedestrian_crops']:,} pedestrians: ground truth with",
        f"  {settings.jitter_copies} jittered copies each, plus proposals at IoU >= 0.5; background: proposals at IoU < 0.3),",
        f"  random mirroring; Adam, lr {settings.lr}, cosine schedule, {settings.epochs} epochs, batch {settings.batch},"
        f" seed {settings.seed}.",
        f"- Command: `{command}`" + (f"; training took {figures['train_wall_s'] / 60:.0f} min"
                                      if figures.get("train_wall_s") else ""),
        "",
        "## Measured (synthetic test frames; these are not Caltech numbers)",
        "",
        "| classifier number formats | log-average miss rate | reasonable pedestrians | proposals/frame | eval s |",
        "|---|---|---|---|---|",
    ]
    for label, accuracy, wall_s in rows:
        lines.append(f"| {label} ({accuracy.formats}) | {accuracy.miss_rate_lamr:.2%} | {accuracy.positives} | "
                     f"{accuracy.proposals_per_frame:.1f} | {wall_s:.0f} |")
    lines += ["", "The compression trade-off (miss rate and size per plan) is in the README, from `accelsim tradeoff`.", ""]
    path = folder / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path
