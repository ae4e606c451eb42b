"""Training the small detector on generated scenes: ``accelsim train``.

Three stages, each on its own split of the synthetic scenes so that nothing is tuned on test frames:

1. the proposal scorer on ``train`` frames (`proposals.train_proposals`);
2. the CNN on warped crops of ``train`` frames: the ground-truth pedestrians (jittered, mirrored) and
   the proposals, labelled by their overlap with the ground truth as R-CNN does (IoU >= 0.5 pedestrian,
   < 0.3 background, in between unused);
3. the score combiner (a logistic regression on [proposal score, CNN margin]) on ``val`` frames.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from accelsim.detect.boxes import iou_matrix
from accelsim.detect.crops import CropSpec, crop, from_uint8, image_tensor, to_uint8
from accelsim.detect.detector import Combiner, Detector, DetectorConfig
from accelsim.detect.proposals import ProposalModel, train_proposals
from accelsim.detect.types import Frame

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainSettings:
    data_seed: int = 0  # seed of the synthetic scenes
    seed: int = 0  # initial weights, batch order, augmentation
    train_frames: int = 500
    val_frames: int = 150
    epochs: int = 8
    lr: float = 1e-3
    batch: int = 128
    jitter_copies: int = 2  # jittered copies of each ground-truth pedestrian
    background_per_frame: int = 24  # proposals used as background crops per frame


class CropBatches:
    """Shuffled float batches of a uint8 crop set, mirrored at random; deterministic by seed and epoch.
    It is what `compress.finetune.finetune` and `train_classifier` iterate over."""

    def __init__(self, crops: torch.Tensor, labels: torch.Tensor, batch: int, seed: int, shuffle: bool = True):
        self.crops, self.labels, self.batch, self.seed, self.shuffle = crops, labels, batch, seed, shuffle
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.labels), generator=gen) if self.shuffle else torch.arange(len(self.labels))
        flips = torch.rand(len(self.labels), generator=gen) < 0.5 if self.shuffle else torch.zeros(len(self.labels), dtype=torch.bool)
        for i in range(0, len(order), self.batch):
            idx = order[i:i + self.batch]
            x = from_uint8(self.crops[idx])
            f = flips[idx]
            x[f] = x[f].flip(-1)
            yield x, self.labels[idx]


def crop_set(frames: Sequence[Frame], proposals: ProposalModel, spec: CropSpec, settings: TrainSettings,
             progress: Progress | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 crops (n, 3, S, S) and labels (1 pedestrian, 0 background) from ``frames``."""
    rng = np.random.default_rng(settings.seed)
    xs, ys = [], []
    for i, frame in enumerate(frames):
        image = frame.image()
        t = image_tensor(image)
        people = np.array([o.box for o in frame.objects if o.label == "person" and o.visible >= 0.5], dtype=np.float64).reshape(-1, 4)
        others = np.array([o.box for o in frame.objects], dtype=np.float64).reshape(-1, 4)
        props = proposals.propose(image)
        pos_boxes = [people]
        for _ in range(settings.jitter_copies):
            if len(people):
                j = people.copy()
                scale = np.exp(rng.normal(0, 0.08, len(j)))
                cx = j[:, 0] + j[:, 2] / 2 + rng.normal(0, 0.06, len(j)) * j[:, 2]
                cy = j[:, 1] + j[:, 3] / 2 + rng.normal(0, 0.04, len(j)) * j[:, 3]
                j[:, 2] *= scale
                j[:, 3] *= scale
                j[:, 0], j[:, 1] = cx - j[:, 2] / 2, cy - j[:, 3] / 2
                pos_boxes.append(j)
        if len(props):
            best_person = iou_matrix(props, people).max(axis=1) if len(people) else np.zeros(len(props))
            best_any = iou_matrix(props, others).max(axis=1) if len(others) else np.zeros(len(props))
            pos_boxes.append(props[best_person >= 0.5, :4])
            bg = props[best_any < 0.3, :4][: settings.background_per_frame]
        else:
            bg = np.zeros((0, 4))
        pos = np.concatenate(pos_boxes)
        boxes = np.concatenate([pos, bg])
        if len(boxes):
            xs.append(to_uint8(crop(t, boxes, spec)))
            ys.append(torch.cat([torch.ones(len(pos), dtype=torch.long), torch.zeros(len(bg), dtype=torch.long)]))
        if progress and (i + 1) % 100 == 0:
            progress(f"crops: {i + 1}/{len(frames)} frames")
    return torch.cat(xs), torch.cat(ys)


def train_classifier(model: nn.Module, batches: CropBatches, epochs: int, lr: float, seed: int,
                     progress: Progress | None = None) -> nn.Module:
    torch.manual_seed(seed)
    # pedestrians are the minority class; weighting keeps the classifier from settling on "background"
    counts = torch.bincount(batches.labels, minlength=2).float()
    loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / (2 * counts.clamp(min=1)))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(batches))
    model.train()
    for epoch in range(epochs):
        total, n = 0.0, 0
        for x, y in batches:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            n += len(y)
        if progress:
            progress(f"classifier epoch {epoch + 1}/{epochs}: loss {total / n:.4f}")
    return model.eval()


def fit_combiner(detector: Detector, frames: Sequence[Frame]) -> Combiner:
    """Logistic regression of 'this proposal frames a pedestrian' on [proposal score, CNN margin]."""
    from sklearn.linear_model import LogisticRegression

    feats, labels = [], []
    for frame in frames:
        image = frame.image()
        props = detector.proposals.propose(image)
        if not len(props):
            continue
        margins = detector.margins(image, props)
        people = np.array([o.box for o in frame.objects if o.label == "person"], dtype=np.float64).reshape(-1, 4)
        hit = iou_matrix(props, people).max(axis=1) >= 0.5 if len(people) else np.zeros(len(props), dtype=bool)
        feats.append(np.column_stack([props[:, 4], margins]))
        labels.append(hit)
    x, y = np.concatenate(feats), np.concatenate(labels)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    return Combiner(float(clf.coef_[0, 0]), float(clf.coef_[0, 1]), float(clf.intercept_[0]))


def dataset_hash(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _frames(split: str, n: int, data_seed: int) -> list[Frame]:
    from accelsim.detect.datasets.synthetic import SyntheticScenes

    scenes = SyntheticScenes(seed=data_seed, split=split, frames=n)
    return [scenes[i] for i in range(n)]


def train_detector(out: Path, settings: TrainSettings = TrainSettings(), progress: Progress | None = None) -> dict:
    """Train the proposal stage, the classifier and the combiner; write ``proposals.npz``,
    ``weights.pt`` and ``detector.json`` into ``out``. Returns what the model card reports."""
    from accelsim.model.alexnet import init_gaussian_
    from accelsim.model.registry import small_classifier

    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    train = _frames("train", settings.train_frames, settings.data_seed)
    say(f"proposal stage: {len(train)} training frames")
    recall: list[float] = []
    proposals = train_proposals(train, seed=settings.seed, progress=say, recall=recall)
    proposals.save(out / "proposals.npz")
    spec = CropSpec()
    crops, labels = crop_set(train, proposals, spec, settings, say)
    say(f"classifier: {len(labels)} crops, {int(labels.sum())} pedestrians")
    model = init_gaussian_(small_classifier(), settings.seed)
    train_classifier(model, CropBatches(crops, labels, settings.batch, settings.seed), settings.epochs, settings.lr,
                     settings.seed, say)
    torch.save(model.state_dict(), out / "weights.pt")
    detector = Detector(proposals, DetectorConfig(crop=spec), model)
    val = _frames("val", settings.val_frames, settings.data_seed)
    detector.config = DetectorConfig(crop=spec, combiner=fit_combiner(detector, val))
    detector.config.save(out / "detector.json")
    return {"crops": len(labels), "pedestrian_crops": int(labels.sum()), "proposal_threshold": proposals.threshold,
            "proposal_recall": recall[0] if recall else None, "combiner": detector.config.combiner,
            "train_wall_s": time.perf_counter() - t0}


def crop_data(seed: int, settings: TrainSettings = TrainSettings()) -> tuple[CropBatches, CropBatches]:
    """Training and held-out crop batches of the shipped ``deepped-small`` detector, for fine-tuning
    during compression. Crops depend on the shipped proposal stage, so they are cached by its hash."""
    from accelsim.model.registry import get_model
    from accelsim.resources import project_root

    folder = get_model("deepped-small").detector_dir
    proposals_file = folder / "proposals.npz"
    key = dataset_hash(hashlib.sha256(proposals_file.read_bytes()).hexdigest(), settings, CropSpec(), _code_hash())
    path = project_root() / "reports" / "cache" / f"crops-{key}.pt"
    if path.is_file():
        data = torch.load(path, weights_only=True)
    else:
        proposals = ProposalModel.load(proposals_file)
        data = {}
        for split, n in (("train", settings.train_frames), ("val", settings.val_frames)):
            data[split] = crop_set(_frames(split, n, settings.data_seed), proposals, CropSpec(), settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(data, path)
    return (CropBatches(*data["train"], settings.batch, seed), CropBatches(*data["val"], 256, seed, shuffle=False))


def _code_hash() -> str:
    """Crops change when the scene generator (every module of its package), the crop warp or this
    module change."""
    from accelsim.detect import crops as crops_module
    from accelsim.detect.datasets import synthetic

    h = hashlib.sha256()
    for path in sorted(Path(synthetic.__file__).parent.glob("*.py")) + [Path(crops_module.__file__)]:
        h.update(path.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


def _threshold_text(figures: dict) -> str:
    recall = figures.get("proposal_recall")
    at = f" ({recall:.1%} of the 'reasonable' training pedestrians covered)" if recall is not None else ""
    if math.isinf(figures["proposal_threshold"]):
        return f"No score threshold: the 64-proposal cap alone stays below the 97% recall target{at}."
    return f"Score threshold {figures['proposal_threshold']:.4f}, set for 97% recall{at}."


def write_model_card(folder: Path, settings: TrainSettings, figures: dict, eval_frames: int, argv: Sequence[str],
                     progress: Progress | None = None) -> Path:
    """MODEL_CARD.md: what was trained on what, with which command, and the miss rates it measures."""
    from accelsim.config import load_hwconfig
    from accelsim.detect.evaluate import functional_detector, run_detector
    from accelsim.detect.functional import NumberFormats
    from accelsim.model.registry import small_classifier
    from accelsim.model.registry import load_state_dict

    model = small_classifier()
    model.load_state_dict(load_state_dict(folder / "weights.pt", model))
    model.eval()
    test = _frames("test", eval_frames, settings.data_seed)
    rows = []
    for label, formats in (("float32", NumberFormats.float32()),
                           ("embedded-45nm formats", NumberFormats.from_hardware(load_hwconfig("embedded-45nm")))):
        detector, classifier = functional_detector(model, folder, formats)
        acc = run_detector(detector, classifier, test, f"synthetic(seed={settings.data_seed}, split=test)", progress)
        rows.append((label, acc))
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
    for label, acc in rows:
        lines.append(f"| {label} ({acc.formats}) | {acc.miss_rate_lamr:.2%} | {acc.positives} | "
                     f"{acc.proposals_per_frame:.1f} | {acc.eval_wall_s:.0f} |")
    lines += ["", "The compression trade-off (miss rate and size per plan) is in the README, from `accelsim tradeoff`.", ""]
    path = folder / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path
