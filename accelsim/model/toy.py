"""toy-bars: a small trainable pedestrian/background classifier and its procedural data set.

A stand-in for the DeepPed classifier that trains on the CPU in seconds, so that the fine-tuning stage
of compression can be run end to end (``accelsim compress --model toy-bars --finetune-epochs N``) and
tested. Images are 1x16x16 grey crops:

- class 1 ("pedestrian"): a tall, narrow upright bar (6-11 px high, 1-2 px wide) with a small head
  blob above it, at a random position, brightness and height;
- class 0 ("background"): what a window without a pedestrian holds here: horizontal bars, wide
  blobs, short upright stubs (at most 4 px high) and small specks;

and both classes carry the same clutter (a few of the class-0 distractors) on a noisy background with
a random brightness gradient, so that neither brightness nor "is there something upright" separates
them: the classifier has to measure the height and aspect of upright structures.

The data set is a pure function of ``DATA_SEED``: one pool of images is generated and split into
disjoint training and held-out test sets (different images, by construction and checked by the tests).
The ``seed`` given to `toy_data` only orders the training batches. The shipped weights
(``models/toy-bars/weights.pt``) are trained by `train_toy` and regenerated with::

    python -m accelsim.model.toy --seed 0 --epochs 12 --out models/toy-bars/weights.pt
"""

from __future__ import annotations

import argparse
import functools
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SIZE = 16  # image side (px)
DATA_SEED = 20240611
N_TRAIN = 4096
N_TEST = 1024
BATCH = 64
TRAIN_SEED = 0
TRAIN_EPOCHS = 12
TRAIN_LR = 3e-3


class ToyBarsNet(nn.Module):
    """conv1 (8 3x3) - pool - conv2 (16 3x3) - pool - fc1 (32) - fc2 (2 classes); 9.5 k weights."""

    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)  # 16 -> 8
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)  # 8 -> 4
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            x = module(x)
        return x


# -- data ------------------------------------------------------------------------------------------

def _rect(img: np.ndarray, top: int, left: int, h: int, w: int, value: float) -> None:
    img[max(top, 0):max(top + h, 0), max(left, 0):max(left + w, 0)] += value


def _distractor(img: np.ndarray, rng: np.random.Generator) -> None:
    """One background structure: horizontal bar, wide blob, short upright stub or speck."""
    kind = rng.integers(4)
    v = rng.uniform(0.4, 1.0)
    if kind == 0:  # horizontal bar
        h, w = rng.integers(1, 3), rng.integers(4, 10)
    elif kind == 1:  # wide blob
        h, w = rng.integers(3, 5), rng.integers(4, 7)
    elif kind == 2:  # short upright stub
        h, w = rng.integers(2, 5), rng.integers(1, 3)
    else:  # speck
        h, w = rng.integers(1, 3), rng.integers(1, 3)
    _rect(img, rng.integers(0, SIZE - h + 1), rng.integers(0, SIZE - w + 1), h, w, v)


def _pedestrian(img: np.ndarray, rng: np.random.Generator) -> None:
    """Tall narrow body with a head blob on top."""
    h, w = rng.integers(6, 12), rng.integers(1, 3)
    top = rng.integers(2, SIZE - h + 1)
    left = rng.integers(1, SIZE - w - 1)
    v = rng.uniform(0.4, 1.0)
    _rect(img, top, left, h, w, v)
    _rect(img, top - 2, left - (w == 1), 2, 2 + (w == 2), v)  # head on top: 2x2 (1 px body) or 2x3 (2 px body)


def _image(label: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    gx, gy = rng.uniform(-0.3, 0.3, size=2)
    img = (gx * xx + gy * yy).astype(np.float64)
    img += rng.normal(0.0, rng.uniform(0.05, 0.2), size=(SIZE, SIZE))
    for _ in range(rng.integers(1, 4) if label == 0 else rng.integers(0, 3)):
        _distractor(img, rng)
    if label == 1:
        _pedestrian(img, rng)
    return img


@functools.lru_cache(maxsize=4)
def make_dataset(data_seed: int = DATA_SEED, n_train: int = N_TRAIN, n_test: int = N_TEST
                 ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """((train images, labels), (test images, labels)): float32 (n, 1, 16, 16) and int64 (n,).

    One pool of ``n_train + n_test`` images from ``data_seed``, classes alternating so each split is
    balanced, split into disjoint training and test sets. Images are standardised with the training
    set's mean and standard deviation."""
    rng = np.random.default_rng(data_seed)
    n = n_train + n_test
    labels = np.arange(n) % 2
    images = np.stack([_image(int(y), rng) for y in labels]).astype(np.float32)
    mean, std = images[:n_train].mean(), images[:n_train].std()
    images = (images - mean) / std
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def toy_data(seed: int = 0, batch_size: int = BATCH, data_seed: int = DATA_SEED) -> tuple[DataLoader, DataLoader]:
    """(training loader, shuffled in an order fixed by ``seed``; test loader, in order)."""
    (xtr, ytr), (xte, yte) = make_dataset(data_seed)
    gen = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(xtr, ytr), batch_size=batch_size, shuffle=True, generator=gen)
    test = DataLoader(TensorDataset(xte, yte), batch_size=256, shuffle=False)
    return train, test


# -- training --------------------------------------------------------------------------------------

def init_toy(seed: int) -> ToyBarsNet:
    """A fresh network with torch's default initialisation drawn from ``seed``."""
    torch.manual_seed(seed)
    return ToyBarsNet()


@torch.no_grad()
def accuracy(model: nn.Module, loader) -> float:
    """Fraction of samples whose highest-scoring class is the label."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x).argmax(dim=1) == y).sum())
        total += int(y.numel())
    return correct / max(total, 1)


def train_toy(seed: int = TRAIN_SEED, epochs: int = TRAIN_EPOCHS, lr: float = TRAIN_LR,
              progress=None) -> dict[str, torch.Tensor]:
    """Train a ToyBarsNet from ``seed`` for ``epochs`` on the toy-bars training set; its state dict.

    Adam with a cosine learning-rate decay; deterministic for a given seed on a given machine."""
    model = init_toy(seed)
    train, test = toy_data(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = max(epochs * len(train), 1)
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            sched.step()
            total += float(loss.detach())
        if progress:
            progress(epoch + 1, total / len(train), accuracy(model, test))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the toy-bars classifier and save its state dict.")
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    parser.add_argument("--epochs", type=int, default=TRAIN_EPOCHS)
    parser.add_argument("--lr", type=float, default=TRAIN_LR)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: faster than more for a network this small)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    def report(epoch: int, loss: float, accuracy: float) -> None:
        print(f"epoch {epoch}/{args.epochs}: loss {loss:.4f}, test accuracy {accuracy:.4f}")

    state = train_toy(args.seed, args.epochs, args.lr, progress=report)
    model = ToyBarsNet()
    model.load_state_dict(state)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(f"wrote {args.out}: test accuracy {accuracy(model, toy_data(args.seed)[1]):.4f}")


if __name__ == "__main__":
    main()
