"""Training steps of the small detector's CNN and score combiner, run in order by `accelsim.train`
(the proposal stage trains in `detect.proposals.train_proposals`).

- the CNN on labelled crops (`detect.training_data`), its classes weighted against their imbalance;
- the score combiner, a logistic regression of "this proposal frames a pedestrian" on [proposal
  score, CNN margin], on frames the CNN was not trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from accelsim.detect.boxes import iou_matrix
from accelsim.detect.detector import Combiner, Detector
from accelsim.detect.training_data import CropBatches, Progress
from accelsim.detect.types import Frame


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
