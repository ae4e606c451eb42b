"""The proposal stage: a cheap, high-recall sliding-window detector.

DeepPed takes its proposals from LDCF with a loosened threshold; what matters for the system is that the
stage is cheap, finds nearly every pedestrian, and hands the CNN a number of windows per frame that the
accelerator then has to score. Here a linear model over aggregated channel features (`features`) scores
every window of a multi-scale pyramid; one FFT correlation per scale does the whole sliding window. It is
trained with scikit-learn's logistic regression, with one round of hard-negative mining, and its score
threshold is set on the training frames for a target recall.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.signal import oaconvolve

from accelsim.detect.boxes import iou_matrix, nms
from accelsim.detect.features import CHANNELS, ORIENTATIONS, SHRINK, channel_features, resize
from accelsim.detect.types import Frame
from accelsim.errors import ModelError

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Geometry:
    """The sliding window: a pedestrian ``person_height`` px tall (aspect 0.41, as Caltech boxes are
    standardised) centred in a ``window_w`` x ``window_h`` px window, at pyramid scale 1."""

    person_height: int = 48
    window_w: int = 32
    window_h: int = 64
    aspect: float = 0.41
    # px: smallest pedestrian searched for. The 'reasonable' subset starts at 50 px, and a 48 px window
    # frames a 50 px person at IoU 0.96; searching down to 40 px would upsample the frame and cost a third
    # more time for people who do not count.
    min_height: float = 48.0
    max_height: float = 240.0  # px
    scales_per_octave: int = 4

    @property
    def cells(self) -> tuple[int, int]:
        return self.window_h // SHRINK, self.window_w // SHRINK

    @property
    def offset(self) -> tuple[float, float]:
        """Top-left of the pedestrian box inside the window (px at scale 1)."""
        return (self.window_w - self.aspect * self.person_height) / 2, (self.window_h - self.person_height) / 2

    def scales(self) -> list[float]:
        top = self.person_height / self.min_height
        n = math.floor(self.scales_per_octave * math.log2(self.max_height / self.min_height)) + 1
        return [top * 2.0 ** (-k / self.scales_per_octave) for k in range(n)]


@dataclass(frozen=True)
class Level:
    """One pyramid level: features of the image resized by (sy, sx)."""

    sy: float
    sx: float
    features: torch.Tensor  # (CHANNELS, cells_h, cells_w)


def pyramid(image: np.ndarray, geometry: Geometry) -> list[Level]:
    h, w = image.shape[:2]
    levels = []
    for s in geometry.scales():
        rh, rw = max(geometry.window_h, round(h * s)), max(geometry.window_w, round(w * s))
        levels.append(Level(rh / h, rw / w, channel_features(resize(image, rh, rw))))
    return levels


def window_boxes(level: Level, rows: np.ndarray, cols: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Pedestrian boxes (x, y, w, h in original-image px) of the windows at feature-cell (rows, cols)."""
    ox, oy = geometry.offset
    x = (cols * SHRINK + ox) / level.sx
    y = (rows * SHRINK + oy) / level.sy
    bh = np.full(len(rows), geometry.person_height / level.sy)
    return np.stack([x, y, geometry.aspect * geometry.person_height / level.sx * np.ones(len(rows)), bh], axis=1)


def mirror(windows: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Feature windows (n, C*ch*cw) of the horizontally mirrored image: cells flip left-right and an
    orientation theta becomes pi - theta (bin k <-> bin (n - k) mod n with bins centred on k*pi/n)."""
    ch, cw = geometry.cells
    w = windows.reshape(-1, CHANNELS, ch, cw)[..., ::-1]
    perm = list(range(4)) + [4 + (-k) % ORIENTATIONS for k in range(ORIENTATIONS)]
    return np.ascontiguousarray(w[:, perm]).reshape(len(windows), -1)


@dataclass(frozen=True)
class Rescorer:
    """Second stage of the cascade: a one-hidden-layer perceptron on the feature windows that the linear
    scorer ranks highest. A linear model on unnormalised channel features cannot separate pedestrians
    from upright clutter (LDCF uses boosted trees for that); the perceptron re-ranks its top windows."""

    mean: np.ndarray  # (D,) feature standardisation
    scale: np.ndarray  # (D,)
    w1: np.ndarray  # (D, H)
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H,)
    b2: float

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        h = np.maximum(((windows - self.mean) / self.scale) @ self.w1 + self.b1, 0.0)
        return h @ self.w2 + self.b2


@dataclass
class ProposalModel:
    weights: np.ndarray  # (CHANNELS, cells_h, cells_w) float32
    bias: float
    threshold: float  # windows whose final score is above it are proposals
    max_proposals: int = 64  # per frame, after NMS
    nms_overlap: float = 0.5  # IoU
    geometry: Geometry = field(default_factory=Geometry)
    rescorer: Rescorer | None = None
    prefilter: int = 3000  # windows per frame, best by the linear score, that the rescorer sees

    def score_maps(self, levels: Sequence[Level]) -> list[np.ndarray]:
        # correlation = convolution with the flipped kernel; by FFT it is 5x faster than torch's conv2d
        # for a single output channel
        kernel = np.ascontiguousarray(self.weights[:, ::-1, ::-1], dtype=np.float32)
        ch, cw = self.geometry.cells
        maps = []
        for lvl in levels:
            if lvl.features.shape[1] < ch or lvl.features.shape[2] < cw:
                maps.append(np.zeros((0, 0), dtype=np.float32))
                continue
            maps.append(oaconvolve(lvl.features.numpy(), kernel, mode="valid", axes=(1, 2)).sum(axis=0) + self.bias)
        return maps

    def candidates(self, levels: Sequence[Level], threshold: float) -> np.ndarray:
        """Every window scoring above ``threshold``, as (n, 5) boxes with scores."""
        out = []
        for lvl, smap in zip(levels, self.score_maps(levels)):
            rows, cols = np.nonzero(smap > threshold)
            if len(rows):
                boxes = window_boxes(lvl, rows, cols, self.geometry)
                out.append(np.column_stack([boxes, smap[rows, cols]]))
        return np.concatenate(out) if out else np.zeros((0, 5))

    def top_windows(self, levels: Sequence[Level], n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best windows by linear score: (n, 5) boxes with linear scores, (n, D) features."""
        found = []
        for li, smap in enumerate(self.score_maps(levels)):
            if smap.size:
                rows, cols = np.unravel_index(np.arange(smap.size), smap.shape)
                found.append(np.column_stack([smap.ravel(), np.full(smap.size, li), rows, cols]))
        if not found:
            return np.zeros((0, 5)), np.zeros((0, CHANNELS * np.prod(self.geometry.cells)), dtype=np.float32)
        allw = np.concatenate(found)
        best = allw[np.argsort(-allw[:, 0], kind="stable")[:n]]
        boxes, feats = [], []
        for li in np.unique(best[:, 1]).astype(int):
            sel = best[best[:, 1] == li]
            lvl = levels[li]
            rows, cols = sel[:, 2].astype(int), sel[:, 3].astype(int)
            boxes.append(np.column_stack([window_boxes(lvl, rows, cols, self.geometry), sel[:, 0]]))
            views = np.lib.stride_tricks.sliding_window_view(lvl.features.numpy(), self.geometry.cells, axis=(1, 2))
            feats.append(views[:, rows, cols].transpose(1, 0, 2, 3).reshape(len(sel), -1))
        return np.concatenate(boxes), np.concatenate(feats)

    def scored_windows(self, levels: Sequence[Level]) -> np.ndarray:
        """Candidate windows with their final score (rescored when the model has a second stage)."""
        if self.rescorer is None:
            return self.candidates(levels, -math.inf)
        boxes, feats = self.top_windows(levels, self.prefilter)
        if len(boxes):
            boxes[:, 4] = self.rescorer(feats)
        return boxes

    def propose(self, image: np.ndarray) -> np.ndarray:
        """Proposals of one RGB image: (n, 5) x, y, w, h, score, by descending score."""
        cands = self.scored_windows(pyramid(image, self.geometry))
        return self.select(cands[cands[:, 4] > self.threshold])

    def select(self, candidates: np.ndarray) -> np.ndarray:
        # NMS on the best few thousand only: its cost is quadratic and lower-scored windows never survive
        top = candidates[np.argsort(-candidates[:, 4], kind="stable")[: 20 * self.max_proposals]]
        return nms(top, self.nms_overlap, self.max_proposals)

    def save(self, path: Path) -> None:
        g = self.geometry
        # through a file object, so that numpy does not append ".npz" to a path that lacks it
        with open(path, "wb") as fh:
            self._save(fh, g)

    def _save(self, fh, g: Geometry) -> None:
        np.savez(fh, version=FORMAT_VERSION, weights=self.weights, bias=self.bias, threshold=self.threshold,
                 max_proposals=self.max_proposals, nms_overlap=self.nms_overlap,
                 geometry=np.array([g.person_height, g.window_w, g.window_h, g.aspect, g.min_height, g.max_height,
                                    g.scales_per_octave], dtype=np.float64),
                 prefilter=self.prefilter,
                 **({f"rescorer_{k}": v for k, v in vars(self.rescorer).items()} if self.rescorer else {}))

    @classmethod
    def load(cls, path: Path) -> ProposalModel:
        try:
            with np.load(path) as z:
                if int(z["version"]) != FORMAT_VERSION:
                    raise ModelError(f"proposal model {path} has format version {int(z['version'])}, expected {FORMAT_VERSION}")
                g = z["geometry"]
                geometry = Geometry(int(g[0]), int(g[1]), int(g[2]), float(g[3]), float(g[4]), float(g[5]), int(g[6]))
                rescorer = None
                if "rescorer_w1" in z:
                    rescorer = Rescorer(z["rescorer_mean"], z["rescorer_scale"], z["rescorer_w1"], z["rescorer_b1"],
                                        z["rescorer_w2"], float(z["rescorer_b2"]))
                model = cls(z["weights"].astype(np.float32), float(z["bias"]), float(z["threshold"]),
                            int(z["max_proposals"]), float(z["nms_overlap"]), geometry, rescorer, int(z["prefilter"]))
        except ModelError:
            raise
        except FileNotFoundError:
            raise ModelError(f"proposal model {path} does not exist") from None
        except Exception as exc:
            raise ModelError(f"proposal model {path} cannot be read: {exc}") from None
        if model.weights.shape != (CHANNELS, *geometry.cells):
            raise ModelError(f"proposal model {path}: weights of shape {model.weights.shape}, expected {(CHANNELS, *geometry.cells)}")
        return model


# -- training ---------------------------------------------------------------------------------------

def _window(level: Level, row: int, col: int, geometry: Geometry) -> np.ndarray | None:
    ch, cw = geometry.cells
    f = level.features
    if row < 0 or col < 0 or row + ch > f.shape[1] or col + cw > f.shape[2]:
        return None
    return f[:, row:row + ch, col:col + cw].reshape(-1).numpy()


def positive_windows(levels: Sequence[Level], frame: Frame, geometry: Geometry) -> list[np.ndarray]:
    """The feature window that best frames each trainable pedestrian (a 'person' at least min_height
    tall and mostly visible): the pyramid level whose window height is closest, the nearest cell."""
    out = []
    ox, oy = geometry.offset
    for obj in frame.objects:
        x, y, w, h = obj.box
        if obj.label != "person" or h < 0.9 * geometry.min_height or h > geometry.max_height or obj.visible < 0.5:
            continue
        lvl = min(levels, key=lambda l: abs(math.log(geometry.person_height / l.sy / h)))
        cx = x + w / 2  # centre: annotated widths vary, the standardised width is aspect * height
        col = round(((cx - geometry.aspect * h / 2) * lvl.sx - ox) / SHRINK)
        row = round((y * lvl.sy - oy) / SHRINK)
        # the best cell and its neighbours that still frame the person well: more positives, and a
        # scorer that tolerates the pyramid's 4 px position steps
        for dr, dc in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
            box = window_boxes(lvl, np.array([row + dr]), np.array([col + dc]), geometry)
            if (dr, dc) != (0, 0) and iou_matrix(box, np.array([[cx - geometry.aspect * h / 2, y, geometry.aspect * h, h]]))[0, 0] < 0.6:
                continue
            win = _window(lvl, row + dr, col + dc, geometry)
            if win is not None:
                out.append(win)
    return out


def _is_background(boxes: np.ndarray, frame: Frame, max_iou: float = 0.3) -> np.ndarray:
    if not frame.objects:
        return np.ones(len(boxes), dtype=bool)
    gt = np.array([o.box for o in frame.objects])
    return iou_matrix(boxes, gt).max(axis=1) < max_iou


def random_negatives(levels: Sequence[Level], frame: Frame, geometry: Geometry, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    ch, cw = geometry.cells
    for _ in range(4 * n):
        if len(out) == n:
            break
        lvl = levels[rng.integers(len(levels))]
        rmax, cmax = lvl.features.shape[1] - ch, lvl.features.shape[2] - cw
        if rmax < 0 or cmax < 0:
            continue
        row, col = int(rng.integers(rmax + 1)), int(rng.integers(cmax + 1))
        box = window_boxes(lvl, np.array([row]), np.array([col]), geometry)
        if _is_background(box, frame)[0]:
            out.append(_window(lvl, row, col, geometry))
    return out


def hard_negatives(model: ProposalModel, levels: Sequence[Level], frame: Frame, n: int) -> list[np.ndarray]:
    """The ``n`` highest-scoring windows that frame no pedestrian (after NMS, so they differ)."""
    out = []
    g = model.geometry
    ch, cw = g.cells
    for lvl, smap in zip(levels, model.score_maps(levels)):
        if smap.size == 0:
            continue
        flat = np.argsort(-smap, axis=None, kind="stable")[: 4 * n]
        rows, cols = np.unravel_index(flat, smap.shape)
        boxes = window_boxes(lvl, rows, cols, g)
        dets = np.column_stack([boxes, smap[rows, cols], rows, cols])
        for d in dets[_is_background(boxes, frame)][:n]:
            out.append((float(d[4]), _window(lvl, int(d[5]), int(d[6]), g)))
    out.sort(key=lambda t: -t[0])
    return [w for _, w in out[:n]]


def _fit(pos: list[np.ndarray], neg: list[np.ndarray], geometry: Geometry, c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([np.stack(pos), mirror(np.stack(pos), geometry), np.stack(neg), mirror(np.stack(neg), geometry)])
    y = np.concatenate([np.ones(2 * len(pos)), np.zeros(2 * len(neg))])
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    clf.fit(x, y)
    return clf.coef_[0].reshape(CHANNELS, *geometry.cells).astype(np.float32), float(clf.intercept_[0])


def train_proposals(frames: Sequence[Frame], *, geometry: Geometry = Geometry(), seed: int = 0,
                    negatives_per_frame: int = 40, hard_per_frame: int = 20, target_recall: float = 0.97,
                    max_proposals: int = 64, nms_overlap: float = 0.5, c: float = 0.05,
                    progress: Callable[[str], None] | None = None, recall: list | None = None) -> ProposalModel:
    """Fit the window scorer on ``frames`` and set its threshold so that ``target_recall`` of the
    trainable pedestrians have a proposal with IoU >= 0.5 among the frame's ``max_proposals``."""
    say = progress or (lambda _m: None)
    rng = np.random.default_rng(seed)
    pos, neg, cache = [], [], []
    for i, frame in enumerate(frames):
        levels = pyramid(frame.image(), geometry)
        cache.append(levels)
        pos += positive_windows(levels, frame, geometry)
        neg += random_negatives(levels, frame, geometry, negatives_per_frame, rng)
        if (i + 1) % 50 == 0:
            say(f"proposal features: {i + 1}/{len(frames)} frames")
    if not pos:
        raise ValueError("no trainable pedestrians in the training frames")
    weights, bias = _fit(pos, neg, geometry, c)
    model = ProposalModel(weights, bias, threshold=-math.inf, max_proposals=max_proposals, nms_overlap=nms_overlap,
                          geometry=geometry)
    for levels, frame in zip(cache, frames):
        neg += hard_negatives(model, levels, frame, hard_per_frame)
    say(f"proposal scorer: {len(pos)} positives, {len(neg)} negatives (with hard negatives)")
    model.weights, model.bias = _fit(pos, neg, geometry, c)
    model.rescorer = _fit_rescorer(model, cache, frames, pos, seed, say)
    model.threshold, reached = _recall_threshold(model, cache, frames, target_recall)
    say(f"proposal threshold {model.threshold:.4f}: training recall {reached:.1%} at <= {max_proposals} proposals/frame")
    if recall is not None:  # reported in the model card
        recall.append(reached)
    return model


def _fit_rescorer(model: ProposalModel, cache, frames: Sequence[Frame], pos: list[np.ndarray], seed: int,
                  say: Callable[[str], None], per_frame: int = 60, hidden: int = 64) -> Rescorer:
    """Train the second stage on what it will see: each training frame's top windows by linear score,
    labelled by overlap (IoU >= 0.5 with a pedestrian: positive; < 0.3 with every object: negative)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(seed)
    xs, ys = [np.stack(pos)], [np.ones(len(pos))]
    for levels, frame in zip(cache, frames):
        boxes, feats = model.top_windows(levels, model.prefilter)
        if not len(boxes):
            continue
        people = np.array([o.box for o in frame.objects if o.label == "person"], dtype=np.float64).reshape(-1, 4)
        hit = iou_matrix(boxes, people).max(axis=1) >= 0.5 if len(people) else np.zeros(len(boxes), dtype=bool)
        bg = np.nonzero(_is_background(boxes, frame))[0]
        # the hardest negatives (top of the linear ranking) and a random sample of the rest
        chosen = np.concatenate([bg[: per_frame // 2], rng.choice(bg[per_frame // 2:], min(per_frame // 2, max(len(bg) - per_frame // 2, 0)), replace=False)])
        # many top windows are near-duplicates of one pedestrian: a sample of them is enough
        hits = np.nonzero(hit)[0]
        hits = rng.choice(hits, min(len(hits), per_frame // 3), replace=False) if len(hits) else hits
        xs += [feats[hits], feats[chosen.astype(int)]]
        ys += [np.ones(len(hits)), np.zeros(len(chosen))]
    x, y = np.concatenate(xs), np.concatenate(ys)
    x = np.concatenate([x, mirror(x, model.geometry)])
    y = np.concatenate([y, y])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    say(f"proposal rescorer: {int(y.sum())} positive and {int((1 - y).sum())} negative windows")
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1e-3, max_iter=30, random_state=seed, early_stopping=True)
    with warnings.catch_warnings():  # 30 epochs is a time budget; early stopping usually ends sooner
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit((x - mean) / scale, y)
    return Rescorer(mean.astype(np.float32), scale.astype(np.float32), clf.coefs_[0].astype(np.float32),
                    clf.intercepts_[0].astype(np.float32), clf.coefs_[1][:, 0].astype(np.float32),
                    float(clf.intercepts_[1][0]))


def _recall_threshold(model: ProposalModel, cache, frames: Sequence[Frame], target: float) -> tuple[float, float]:
    """The highest threshold at which ``target`` of the 'reasonable' training pedestrians still have a
    proposal (IoU >= 0.5) among their frame's ``max_proposals``; -inf when the cap alone keeps fewer.
    Returns (threshold, recall at it)."""
    best = []  # per pedestrian: the best score of a covering proposal, -inf if none survives the cap
    for levels, frame in zip(cache, frames):
        people = [o.box for o in frame.objects if o.label == "person" and o.box[3] >= 50 and o.visible >= 0.65]
        if not people:
            continue
        props = model.select(model.scored_windows(levels))
        iou = iou_matrix(np.array(people), props)
        for row in iou:
            covered = props[row >= 0.5, 4]
            best.append(covered.max() if len(covered) else -math.inf)
    if not best:
        return -math.inf, 0.0
    scores = np.sort(np.array(best))[::-1]
    k = int(math.ceil(target * len(scores))) - 1
    if not np.isfinite(scores[k]):
        return -math.inf, float(np.isfinite(scores).mean())
    return float(scores[k]) - 1e-6, float((scores > scores[k] - 1e-6).mean())
