"""Fine-tuning after pruning and weight sharing, on the small trained toy-bars model.

The issue's requirement: on a task the tests can run in well under a minute, accuracy after
prune + quantize + fine-tune is measurably closer to the dense model than after prune + quantize alone.
Plus the mechanics: pruned weights stay exactly zero, shared layers keep only codebook values (the
reserved 0 untouched), a centroid's gradient is the sum of its weights' gradients, iterative pruning
reaches its target exactly without reviving pruned weights, and the whole run is deterministic.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.utils.data import DataLoader, Subset

from accelsim.cli import main as cli
from accelsim.compress import compress, load, load_plan
from accelsim.compress import pipeline
from accelsim.compress.finetune import SharedWeights, finetune
from accelsim.compress.layers import compressible_layers
from accelsim.compress.plan import CompressionPlan
from accelsim.compress.prune import magnitude_mask, schedule
from accelsim.model import get_model
from accelsim.model.toy import accuracy, toy_data

PLAN = "toy-aggressive"  # models/plans: 90% one-shot pruning, k = 4, 3-bit positions, 2 epochs at lr 0.01


pytestmark = pytest.mark.usefixtures("one_thread")


def shipped():
    return get_model("toy-bars").build()


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def runs():
    """Dense, prune + quantize, and prune + quantize + fine-tune on the shipped weights and plan."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    plan = load_plan(PLAN)
    train, test = toy_data(plan.seed)
    dense = shipped()
    pq, ft = shipped(), shipped()
    cm_pq = compress(pq, plan, model_name="toy-bars", finetune_epochs=0)
    cm_ft = compress(ft, plan, model_name="toy-bars", loader=train)
    torch.set_num_threads(before)
    yield {
        "plan": plan, "dense": dense, "pq": pq, "ft": ft, "cm_pq": cm_pq, "cm_ft": cm_ft,
        "top1": {name: accuracy(m, test) for name, m in (("dense", dense), ("pq", pq), ("ft", ft))},
    }


def test_finetuning_brings_accuracy_back_towards_the_dense_model(runs):
    # Measured (shipped weights, plan seed 0): dense 0.980, prune + quantize 0.502 (chance),
    # + 2 epochs of fine-tuning 0.752. Plan seeds 1-3 give 0.734-0.767 after fine-tuning; weights
    # retrained from seeds 1 and 2 give 0.819 -> 0.897 and 0.741 -> 0.845 (dense 0.979, 0.975).
    # The margins below hold for all of them with room to spare.
    top1 = runs["top1"]
    assert runs["cm_ft"].provenance["finetune_epochs"] == runs["plan"].finetune.epochs == 2
    assert top1["dense"] >= 0.95
    assert top1["dense"] - top1["pq"] >= 0.10  # the aggressive plan clearly hurts ...
    gain = top1["ft"] - top1["pq"]
    assert gain >= 0.05  # ... and fine-tuning measurably recovers:
    assert gain >= 0.25 * (top1["dense"] - top1["pq"])  # at least a quarter of the lost accuracy
    assert top1["ft"] < top1["dense"]


def test_pruned_weights_stay_zero_and_shared_layers_hold_only_codebook_values(runs):
    dense, ft, cm_ft, cm_pq = runs["dense"], runs["ft"], runs["cm_ft"], runs["cm_pq"]
    for name, layer in compressible_layers(ft).items():
        w0 = compressible_layers(dense)[name].weight.detach().numpy()
        kept = magnitude_mask(w0, 0.9)  # one-shot pruning, before any fine-tuning
        w = layer.weight.detach().numpy()
        assert np.all(w[~kept] == 0.0), name
        assert np.count_nonzero(w) == np.count_nonzero(kept), name  # survivors never land on 0
        storage = cm_ft.layers[name]
        codebook = storage.codebook
        assert codebook.size <= 4
        assert storage.zero_code >= 0 and codebook[storage.zero_code] == 0.0
        assert set(np.unique(w)) <= set(codebook.tolist())
        assert np.array_equal(storage.decode(), w)
        # Fine-tuning moved the real centroids, not the reserved zero or the assignments.
        before = cm_pq.layers[name]
        assert before.zero_code == storage.zero_code
        assert not np.array_equal(before.codebook, codebook)
        assert np.array_equal(before.symbols.symbols, storage.symbols.symbols)


class OneLinear(nn.Module):
    def __init__(self, weight, bias):
        super().__init__()
        self.fc = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor(weight, dtype=torch.float32))
            self.fc.bias.copy_(torch.tensor(bias, dtype=torch.float32))

    def forward(self, x):
        return self.fc(x)


def hand_case():
    """A 2x3 shared Linear layer: codebook [-0.5, 0 (reserved), 0.25, 0.75], one pruned weight whose
    label points at a real centroid (it must not contribute), a batch of two samples."""
    codebook = np.array([-0.5, 0.0, 0.25, 0.75])
    labels = np.array([[0, 2, 3], [2, 0, 2]])
    mask = np.array([[True, True, True], [True, False, True]])
    x = np.array([[1.0, -2.0, 0.5], [0.5, 1.0, -1.0]])
    y = np.array([0, 1])
    bias = np.array([0.1, -0.2])
    # Expected gradient by hand: L = mean_b CE(W x_b + bias, y_b), dL/dW = (softmax - onehot)^T x / B.
    w = codebook[labels] * mask
    z = x @ w.T + bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(2)[y]) / len(y)
    grad_w = delta.T @ x
    grad_c = np.array([grad_w[(labels == c) & mask].sum() for c in range(codebook.size)])
    shared = SharedWeights(torch.tensor(codebook, dtype=torch.float32), torch.tensor(labels),
                           frozen=torch.tensor([False, True, False, False]))
    model = OneLinear(w, bias)
    loader = [(torch.tensor(x, dtype=torch.float32), torch.tensor(y))]
    return codebook, labels, mask, shared, model, loader, grad_c, delta.sum(0)


def test_centroid_gradient_is_the_sum_of_its_weights_gradients(monkeypatch):
    codebook, labels, mask, shared, model, loader, grad_c, grad_b = hand_case()
    assert grad_c[0] != 0 and grad_c[2] != 0 and grad_c[3] != 0
    # One plain SGD step exposes the gradient itself: c <- c - lr * sum of its weights' gradients.
    monkeypatch.setattr(torch.optim, "Adam", lambda params, lr: torch.optim.SGD(params, lr=lr))
    lr = 0.1
    trained = finetune(model, loader, epochs=1, lr=lr, masks={"fc": torch.tensor(mask)}, shared={"fc": shared})
    expected = codebook - lr * grad_c
    expected[1] = 0.0  # the reserved zero is not trained
    np.testing.assert_allclose(trained["fc"].numpy(), expected, rtol=0, atol=1e-6)
    assert trained["fc"][1].item() == 0.0
    np.testing.assert_allclose(model.fc.bias.detach().numpy(), np.array([0.1, -0.2]) - lr * grad_b, atol=1e-6)
    # The layer ends as the decoded shared weights: trained codebook values, the pruned weight at 0.
    np.testing.assert_array_equal(model.fc.weight.detach().numpy(), trained["fc"].numpy()[labels] * mask)


def test_adam_moves_each_centroid_against_its_summed_gradient():
    """With the real optimizer (Adam), the first step is -lr * sign(summed gradient) per centroid.
    Centroid 2 gets +g from one weight and -g' from two: summing decides its direction."""
    codebook, labels, mask, shared, model, loader, grad_c, _ = hand_case()
    lr = 0.01
    trained = finetune(model, loader, epochs=1, lr=lr, masks={"fc": torch.tensor(mask)}, shared={"fc": shared})
    step = trained["fc"].numpy().astype(np.float64) - codebook
    for c in (0, 2, 3):
        assert step[c] == pytest.approx(-lr * np.sign(grad_c[c]), rel=1e-3)
    assert step[1] == 0.0


def test_finetune_keeps_masked_unshared_weights_at_zero_despite_momentum():
    """Adam's moments would revive pruned weights if only the gradient were masked once."""
    model = shipped()
    gen = torch.Generator().manual_seed(0)
    masks = {n: torch.rand(m.weight.shape, generator=gen) > 0.5 for n, m in compressible_layers(model).items()}
    train, _ = toy_data(0)
    few = DataLoader(Subset(train.dataset, range(512)), batch_size=64, shuffle=False)
    finetune(model, few, epochs=2, lr=0.01, masks=masks)
    for name, layer in compressible_layers(model).items():
        w = layer.weight.detach()
        assert torch.all(w[~masks[name]] == 0.0), name
        assert torch.count_nonzero(w[masks[name]]) == int(masks[name].sum()), name


def test_iterative_pruning_reaches_the_target_and_never_revives_weights(monkeypatch, runs):
    plan = CompressionPlan.model_validate({
        "name": "toy-iterative", "seed": 0,
        "defaults": {"sparsity": 0.9, "clusters": 4, "positions": 3},
        "layers": {"conv1": {"sparsity": 0.5}},
        "pruning": {"mode": "iterative", "steps": 3},
        "finetune": {"epochs": 1, "lr": 0.01},
    })
    calls = []
    real = pipeline.finetune

    def spy(model, loader, epochs, lr, masks, shared=None, **kw):
        out = real(model, loader, epochs, lr, masks, shared, **kw)
        weights = {n: m.weight.detach().clone() for n, m in compressible_layers(model).items()}
        calls.append(({n: m.clone() for n, m in masks.items()}, weights, bool(shared)))
        return out

    monkeypatch.setattr(pipeline, "finetune", spy)
    model = shipped()
    train, test = toy_data(plan.seed)
    cm = compress(model, plan, model_name="toy-bars", loader=train)

    assert [shared for _, _, shared in calls] == [False, False, False, True]  # 3 prune steps, then centroids
    targets = {"conv1": 0.5, "conv2": 0.9, "fc1": 0.9, "fc2": 0.9}
    for name, target in targets.items():
        n = model.get_parameter(f"{name}.weight").numel()
        previous = torch.ones(model.get_parameter(f"{name}.weight").shape, dtype=torch.bool)
        for step, (masks, weights, _) in enumerate(calls[:3]):
            mask = masks[name]
            assert int((~mask).sum()) == round(schedule(target, 3)[step] * n), (name, step)
            assert not torch.any(mask & ~previous), (name, step)  # once pruned, always pruned
            assert torch.all(weights[name][~mask] == 0.0), (name, step)  # zero after fine-tuning too
            previous = mask
        assert torch.equal(calls[3][0][name], previous)  # weight sharing uses the final mask
        final = model.get_parameter(f"{name}.weight").detach()
        assert int((~previous).sum()) == round(target * n)  # exactly the target
        assert torch.all(final[~previous] == 0.0) and torch.count_nonzero(final) == int(previous.sum())
        assert cm.layers[name].entries >= int(previous.sum())
    # Fine-tuning every surviving weight between steps recovers far more than centroids alone
    # (measured 0.93 against 0.75 for one-shot pruning + centroid fine-tuning).
    assert accuracy(model, test) > runs["top1"]["ft"]


def test_finetuning_is_deterministic():
    plan = load_plan(PLAN)
    results = []
    for seed in (0, 0, 1):
        model = shipped()
        p = plan.model_copy(update={"seed": seed})
        cm = compress(model, p, model_name="toy-bars", loader=toy_data(seed)[0], finetune_epochs=1)
        results.append((state(model), {n: s.codebook.copy() for n, s in cm.layers.items()}))
    (a, ca), (b, cb), (c, cc) = results
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(np.array_equal(ca[n], cb[n]) for n in ca)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # another seed orders the batches differently


def write_plan(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("name: tiny\ndefaults: {sparsity: 0.8, clusters: 8, positions: 3}\nfinetune: {epochs: 0, lr: 0.01}\n")
    return path


def test_cli_finetunes_the_toy_model(tmp_path):
    out = tmp_path / "x.npz"
    result = CliRunner().invoke(cli, ["compress", "--model", "toy-bars", "--plan", str(write_plan(tmp_path)),
                                      "--finetune-epochs", "1", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "toy-bars" and data["plan"] == "tiny"
    assert [row["layer"] for row in data["layers"]] == ["conv1", "conv2", "fc1", "fc2"]
    assert all(row["clusters"] <= 8 for row in data["layers"])
    assert data["total"]["weights"] == 9480
    cm = load(out)
    assert cm.provenance["finetune_epochs"] == 1
    model = cm.load_into(get_model("toy-bars").factory())
    assert accuracy(model, toy_data(0)[1]) > 0.85


def test_cli_refuses_finetuning_a_model_without_training_data(tmp_path):
    out = tmp_path / "y.npz"
    result = CliRunner().invoke(cli, ["compress", "--model", "deepped-alexnet", "--finetune-epochs", "1",
                                      "--out", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "training data" in lines[0] and "deepped-alexnet" in lines[0]
    assert result.stdout == ""
    assert not out.exists()
