"""The toy-bars model: its procedural data set, its shipped weights and its training function."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from accelsim.compress.layers import compressible_layers
from accelsim.model import get_model
from accelsim.model import toy
from accelsim.resources import models_dir


pytestmark = pytest.mark.usefixtures("one_thread")


def test_registered_with_data_and_shipped_weights():
    entry = get_model("toy-bars")
    assert entry.data is not None
    assert (models_dir() / entry.weights).is_file()
    assert (models_dir() / entry.weights).stat().st_size < 200_000
    model = entry.build()
    assert list(compressible_layers(model)) == ["conv1", "conv2", "fc1", "fc2"]
    assert not model.training
    out = model(torch.zeros(5, *entry.input_shape))
    assert out.shape == (5, 2)


def test_dataset_is_deterministic_balanced_and_splits_are_disjoint():
    (xtr, ytr), (xte, yte) = toy.make_dataset()
    assert xtr.shape == (toy.N_TRAIN, 1, toy.SIZE, toy.SIZE) and xte.shape == (toy.N_TEST, 1, toy.SIZE, toy.SIZE)
    assert xtr.dtype == torch.float32 and ytr.dtype == torch.int64
    assert int(ytr.sum()) == toy.N_TRAIN // 2 and int(yte.sum()) == toy.N_TEST // 2
    # Same seed, same images (regenerated, not the cached tensors); another seed, other images.
    (xtr2, _), (xte2, _) = toy.make_dataset.__wrapped__(toy.DATA_SEED)
    assert torch.equal(xtr, xtr2) and torch.equal(xte, xte2)
    (xother, _), _ = toy.make_dataset.__wrapped__(toy.DATA_SEED + 1, 64, 16)
    assert not torch.equal(xother, xtr[:64])
    # No image is in both splits (nor twice in one).
    rows = {bytes(r) for r in xtr.flatten(1).numpy()}
    assert len(rows) == toy.N_TRAIN
    assert not rows & {bytes(r) for r in xte.flatten(1).numpy()}


def test_classes_differ_by_shape_not_by_brightness():
    """The task is not solvable from mean brightness alone (it needs the bar's shape)."""
    (x, y), _ = toy.make_dataset()
    mean = x.flatten(1).mean(1).numpy()
    labels = y.numpy()
    best = max(np.mean((mean > t) == labels) for t in np.quantile(mean, np.linspace(0.01, 0.99, 99)))
    assert best < 0.65  # measured 0.547


def test_loaders_order_batches_by_seed():
    train_a, test_a = toy.toy_data(3)
    train_b, test_b = toy.toy_data(3)
    train_c, _ = toy.toy_data(4)
    first_a, first_b, first_c = next(iter(train_a))[1], next(iter(train_b))[1], next(iter(train_c))[1]
    assert torch.equal(first_a, first_b)
    assert not torch.equal(first_a, first_c)
    assert torch.equal(next(iter(test_a))[0], next(iter(test_b))[0])  # test set: fixed order


def test_shipped_weights_reach_model_card_accuracy():
    model = get_model("toy-bars").build()
    accuracy = toy.accuracy(model, toy.toy_data(0)[1])
    card = (models_dir() / "toy-bars" / "MODEL_CARD.md").read_text()
    stated = float(re.search(r"test accuracy: \*\*([0-9.]+)%\*\*", card).group(1)) / 100
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(stated, abs=0.003)


def test_train_toy_is_deterministic_and_the_retrain_command_writes_its_result(tmp_path, capsys):
    state = toy.train_toy(seed=5, epochs=1)
    out = tmp_path / "w.pt"
    toy.main(["--seed", "5", "--epochs", "1", "--out", str(out)])
    assert "test accuracy" in capsys.readouterr().out
    again = torch.load(out, weights_only=True)
    assert state.keys() == again.keys() and all(torch.equal(state[k], again[k]) for k in state)
    model = get_model("toy-bars").build(out)  # the registry loads it
    assert toy.accuracy(model, toy.toy_data(0)[1]) > 0.8  # one epoch already learns most of the task
