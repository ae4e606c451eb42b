"""compress() on a small seeded CNN: exact round trip through the streams and through the file.

For every plan: the decoded layers equal the weights compress() leaves in the model, and equal the
quantized weights computed here independently (pruning mask, nearest codebook entry, fixed-point
rounding); save -> load gives identical decodes, bits and biases. Plus the edge cases the issue names:
k = 2, k = 256, fully pruned layers (sparse and dense), fewer distinct survivors than k.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.compress import compress, load, save
from accelsim.compress.cluster import fit_codebook
from accelsim.compress.plan import CompressionPlan


def small_cnn(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(2, 4, 3),  # 72 weights
        relu1=nn.ReLU(),
        conv2=nn.Conv2d(4, 6, 3, groups=2, bias=False),  # 108 weights, no bias
        flat=nn.Flatten(),
        fc1=nn.Linear(96, 20),  # 1920 weights
        relu2=nn.ReLU(),
        fc2=nn.Linear(20, 3),  # 60 weights
    ))
    with torch.no_grad():
        for m in model.modules():
            if getattr(m, "bias", None) is not None:
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


LAYERS = ["conv1", "conv2", "fc1", "fc2"]


def weights_of(model):
    return {n: getattr(model, n).weight.detach().numpy().copy() for n in LAYERS}


def biases_of(model):
    return {n: (None if getattr(model, n).bias is None else getattr(model, n).bias.detach().numpy().copy()) for n in LAYERS}


def plan_of(defaults, layers=None, groups=None):
    return CompressionPlan.model_validate({"name": "t", "defaults": defaults, "layers": layers or {}, "groups": groups or {}})


# -- independent expectations ------------------------------------------------------------------

def expected_mask(w, sparsity=0.0, threshold=None):
    a = np.abs(w).ravel()
    if threshold is not None:
        return (np.abs(w) >= threshold)
    n_prune = int(round(sparsity * a.size))
    keep = np.ones(a.size, bool)
    keep[np.argsort(a, kind="stable")[:n_prune]] = False  # continuous weights: no ties at the cut
    return keep.reshape(w.shape)


def fixed_quantize(values, bits, frac):
    top = 2 ** (bits - 1) - 1
    return (np.clip(np.rint(np.asarray(values, np.float64) * 2.0**frac), -top - 1, top) / 2.0**frac).astype(np.float32)


def auto_frac(max_abs, bits):
    frac = 40
    while round(max_abs * 2.0**frac) > 2 ** (bits - 1) - 1:
        frac -= 1
    return frac


def check_layer(name, layer, w_before, mask, lp):
    """Decode of one layer against what it must be."""
    dec = layer.decode()
    assert dec.shape == w_before.shape and dec.dtype == np.float32
    assert layer.kept == int(mask.sum())
    assert np.all(dec[~mask] == 0.0), f"{name}: a pruned weight decodes to non-zero"
    fmt = lp["format"]
    if lp.get("clusters") is None:
        if fmt == "fp32":
            expected = w_before
        elif fmt == "fp16":
            expected = w_before.astype(np.float16).astype(np.float32)
        else:  # fixed<B>
            bits = int(fmt[5:])
            expected = fixed_quantize(w_before, bits, auto_frac(float(np.abs(w_before).max()), bits))
        np.testing.assert_array_equal(dec[mask], expected[mask])
        return
    cb = layer.codebook
    assert cb.size <= lp["clusters"]
    assert np.all(np.diff(cb) > 0), "codebook sorted and distinct"
    assert layer.index_bits == (int(np.ceil(np.log2(cb.size))) if cb.size > 1 else 0)
    # the reserved zero entry exists exactly when the layer is pruned and stores something
    # (plan.py: fillers and pruned dense weights must decode to 0; a fully pruned sparse layer stores nothing)
    needs_zero = not mask.all() and (lp.get("positions") is None or mask.any())
    assert (0.0 in cb) == needs_zero or (not needs_zero and 0.0 in w_before[mask])
    # each kept weight takes the nearest codebook entry (other than the reserved zero)
    real = cb[cb != 0.0] if needs_zero else cb
    kept = w_before[mask].astype(np.float64)
    nearest = real[np.argmin(np.abs(kept[:, None] - real[None, :].astype(np.float64)), axis=1)]
    np.testing.assert_array_equal(dec[mask], nearest)


def check_same(cm, back):
    assert list(back.layers) == list(cm.layers)
    for name, layer in cm.layers.items():
        other = back.layers[name]
        np.testing.assert_array_equal(other.decode(), layer.decode())
        assert other.bits == layer.bits
        assert other.symbols.symbols.tolist() == layer.symbols.symbols.tolist()
        assert (other.gaps is None) == (layer.gaps is None)
        if layer.gaps is not None:
            assert other.gaps.symbols.tolist() == layer.gaps.symbols.tolist()
        assert other.is_filler.tolist() == layer.is_filler.tolist()
        assert str(other.value_format) == str(layer.value_format)
        if layer.bias is None:
            assert other.bias is None
        else:
            np.testing.assert_array_equal(other.bias, layer.bias)
    assert back.plan.to_dict() == cm.plan.to_dict()
    assert back.provenance == cm.provenance
    assert back.model == cm.model
    assert back.totals() == cm.totals()


PLANS = {
    "table4-like": (dict(sparsity=0.6, clusters=16, positions=3), {}),
    "huffman-both": (dict(sparsity=0.6, clusters=16, positions=3, huffman_indices=True, huffman_positions=True), {}),
    "dense-fixed16": (dict(codebook_format="fixed16", bias_format="fixed16"), {}),
    "unshared-sparse-fp16": (dict(sparsity=0.8, positions=2, codebook_format="fp16", huffman_positions=True), {}),
    "mixed": (
        dict(sparsity=0.5, clusters=8, positions=4),
        dict(conv1=dict(clusters=2, positions=1, huffman_indices=True),
             conv2=dict(threshold=0.15, sparsity=None, clusters=None, codebook_format="fp16"),
             fc1=dict(clusters=256, sparsity=0.3, positions=8, codebook_format="fp16"),
             fc2=dict(positions=None, clusters=4, sparsity=0.9)),
    ),
}


def layer_settings(defaults, overrides, name):
    s = dict(defaults)
    s.update({k: v for k, v in overrides.get(name, {}).items()})
    s.setdefault("codebook_format", "fp32")
    s["format"] = s["codebook_format"]
    return s


@pytest.mark.parametrize("plan_name", list(PLANS))
def test_compress_round_trip(plan_name, tmp_path):
    defaults, overrides = PLANS[plan_name]
    layers = {n: {k: v for k, v in o.items() if v is not None or k != "sparsity"} for n, o in overrides.items()}
    plan = plan_of(defaults, layers)
    model = small_cnn()
    w0, b0 = weights_of(model), biases_of(model)
    cm = compress(model, plan, model_name="small")
    after = weights_of(model)
    for name in LAYERS:
        s = layer_settings(defaults, layers, name)
        mask = expected_mask(w0[name], s.get("sparsity", 0.0) if "threshold" not in s else 0.0, s.get("threshold"))
        layer = cm.layers[name]
        # compress leaves the decoded weights in the model
        np.testing.assert_array_equal(after[name], layer.decode())
        check_layer(name, layer, w0[name], mask, s)
        if b0[name] is None:
            assert layer.bias is None and layer.bits.bias == 0
        else:
            assert layer.bits.bias == b0[name].size * (16 if s.get("bias_format") == "fixed16" else 32)
            np.testing.assert_array_equal(getattr(model, name).bias.detach().numpy(), layer.bias)
    # decoded_state / load_into put back exactly the same tensors
    fresh = cm.load_into(small_cnn(seed=1))
    for name in LAYERS:
        np.testing.assert_array_equal(getattr(fresh, name).weight.detach().numpy(), after[name])
    back = load(save(cm, tmp_path / "m.npz"))
    check_same(cm, back)


def test_huffman_changes_bits_not_values():
    plain = compress(small_cnn(), plan_of(dict(sparsity=0.7, clusters=16, positions=2)), model_name="s")
    huff = compress(small_cnn(), plan_of(dict(sparsity=0.7, clusters=16, positions=2, huffman_indices=True,
                                              huffman_positions=True)), model_name="s")
    for name in LAYERS:
        a, b = plain.layers[name], huff.layers[name]
        np.testing.assert_array_equal(a.decode(), b.decode())
        np.testing.assert_array_equal(a.codebook, b.codebook)
        assert a.symbols.symbols.tolist() == b.symbols.symbols.tolist()
        assert a.bits.codebook == b.bits.codebook and a.bits.bias == b.bits.bias
        # a Huffman code is never longer in total than the fixed-width code over the same alphabet
        assert b.bits.indices + b.bits.positions + b.bits.fillers <= a.bits.indices + a.bits.positions + a.bits.fillers
        # tables: (2^index_bits + 2^position_bits) x 6 bits
        assert b.bits.huffman_tables == (2 ** a.index_bits + 2 ** 2) * 6


def test_compress_is_deterministic(tmp_path):
    plan = plan_of(dict(sparsity=0.6, clusters=16, positions=3, kmeans_init="random"))
    one = save(compress(small_cnn(), plan, model_name="s"), tmp_path / "a.npz")
    two = save(compress(small_cnn(), plan, model_name="s"), tmp_path / "b.npz")
    with np.load(one) as a, np.load(two) as b:
        assert a.files == b.files
        for key in a.files:
            assert a[key].tobytes() == b[key].tobytes(), key


# -- k = 2, k = 256 ----------------------------------------------------------------------------

def single(weight, bias=None):
    weight = torch.tensor(weight, dtype=torch.float32)
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return nn.Sequential(OrderedDict(fc=lin))


def test_k2_dense_by_hand():
    # linear init at [min, max] = [-1, 1.2]; -1 and -0.9 go to the first centroid, 0.8 and 1.2 to the
    # second; means -0.95 and 1.0; the next assignment is the same: converged.
    model = single([[-1.0, -0.9], [0.8, 1.2]])
    layer = compress(model, plan_of(dict(clusters=2)), model_name="m").layers["fc"]
    np.testing.assert_allclose(layer.codebook, [-0.95, 1.0], rtol=1e-6)
    assert layer.decode()[0, 0] == layer.decode()[0, 1] == layer.codebook[0]
    assert layer.decode()[1, 0] == layer.decode()[1, 1] == layer.codebook[1]
    # codebook 2 x 32 = 64; 1-bit indices x 4 = 4
    assert (layer.clusters, layer.index_bits, layer.bits.codebook, layer.bits.indices, layer.bits.total) == (2, 1, 64, 4, 68)


def test_k2_sparse_with_a_filler_reserves_zero_and_fits_one_centroid():
    # threshold 0.1 keeps 0.6 and 0.8 (positions 0 and 4); 1-bit gaps hold at most 1 zero, so the
    # 3 zeros between need floor(3 / 2) = 1 filler (on position 2), the real gap is 3 mod 2 = 1.
    # k = 2 with a filler: one entry is the reserved 0, k-means fits 1 centroid = mean(0.6, 0.8) = 0.7.
    model = single([[0.6, 0.01, -0.02, 0.03, 0.8]])
    layer = compress(model, plan_of(dict(threshold=0.1, clusters=2, positions=1)), model_name="m").layers["fc"]
    np.testing.assert_allclose(layer.codebook, [0.0, 0.7], rtol=1e-6)
    assert layer.zero_code == 0
    assert layer.gaps.symbols.tolist() == [0, 1, 1] and layer.is_filler.tolist() == [False, True, False]
    assert layer.symbols.symbols.tolist() == [1, 0, 1]
    c = layer.codebook[1]  # float32 of the float64 mean of float32(0.6) and float32(0.8)
    assert c == np.float32((np.float64(np.float32(0.6)) + np.float64(np.float32(0.8))) / 2)
    np.testing.assert_array_equal(layer.decode(), np.float32([[c, 0, 0, 0, c]]))
    # codebook 64; indices 2 x 1; positions 2 x 1; filler 1 + 1 = 2; total 70
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.total) == (64, 2, 2, 2, 70)


def test_k256():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((32, 64)).astype(np.float32)  # 2048 distinct weights
    model = single(w)
    layer = compress(model, plan_of(dict(clusters=256)), model_name="m").layers["fc"]
    assert (layer.clusters, layer.index_bits) == (256, 8)
    # codebook 256 x 32 = 8192; indices 2048 x 8 = 16384
    assert (layer.bits.codebook, layer.bits.indices, layer.bits.total) == (8192, 16384, 24576)
    dec = layer.decode()
    assert np.unique(dec).size == 256  # every centroid is used (k-means keeps no empty cluster)
    nearest = layer.codebook[np.argmin(np.abs(w.ravel()[:, None] - layer.codebook[None, :]), axis=1)]
    np.testing.assert_array_equal(dec.ravel(), nearest)
    # quantization error of 256 levels over ~N(0, 1): small
    assert np.abs(dec - w).max() < 0.1


def test_k256_sparse_with_fillers_fits_255_plus_zero():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    layer = compress(single(w), plan_of(dict(sparsity=0.9, clusters=256, positions=2)), model_name="m").layers["fc"]
    kept = expected_mask(w, 0.9)
    assert layer.kept == kept.sum() == 4096 - 3686
    assert layer.fillers > 0 and layer.clusters == 256 and 0.0 in layer.codebook
    check_layer("fc", layer, w, kept, dict(clusters=256, positions=2, format="fp32"))


# -- fully pruned layers -----------------------------------------------------------------------

def fully_pruned(positions, clusters, tmp_path):
    model = single([[0.5, -0.25, 0.125], [0.75, -1.0, 0.0625]], bias=[1.0, -1.0])
    cm = compress(model, plan_of(dict(threshold=10.0, clusters=clusters, positions=positions)), model_name="m")
    layer = cm.layers["fc"]
    np.testing.assert_array_equal(layer.decode(), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(model.fc.weight.detach().numpy(), np.zeros((2, 3)))
    assert layer.kept == 0
    back = load(save(cm, tmp_path / "z.npz"))
    check_same(cm, back)
    return layer


def test_fully_pruned_sparse_shared_layer_costs_only_its_bias(tmp_path):
    layer = fully_pruned(positions=4, clusters=4, tmp_path=tmp_path)
    # no stored entries, no fillers (trailing zeros are free), an empty codebook
    assert (layer.entries, layer.fillers, layer.clusters) == (0, 0, 0)
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.bias, b.total) == (0, 0, 0, 0, 64, 64)


def test_fully_pruned_dense_shared_layer_is_one_zero_entry(tmp_path):
    layer = fully_pruned(positions=None, clusters=4, tmp_path=tmp_path)
    # dense: 6 entries, all the reserved 0; a 1-entry codebook needs 0 index bits
    assert (layer.entries, layer.clusters, layer.index_bits) == (6, 1, 0)
    assert layer.codebook.tolist() == [0.0]
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.bias, b.total) == (32, 0, 0, 64, 96)


def test_fully_pruned_unshared_layers(tmp_path):
    sparse = fully_pruned(positions=3, clusters=None, tmp_path=tmp_path)
    assert (sparse.entries, sparse.bits.total) == (0, 64)
    dense = fully_pruned(positions=None, clusters=None, tmp_path=tmp_path)
    assert (dense.entries, dense.bits.indices, dense.bits.total) == (6, 6 * 32, 6 * 32 + 64)


# -- fewer distinct survivors than k ------------------------------------------------------------

def test_fewer_distinct_values_than_k_gives_an_exact_codebook():
    vals = np.float32([-0.5, 0.25, 0.75])
    w = vals[np.arange(24) % 3].reshape(4, 6)
    layer = compress(single(w), plan_of(dict(clusters=16)), model_name="m").layers["fc"]
    assert layer.codebook.tolist() == vals.tolist()  # exactly the values, not 16 entries
    assert (layer.clusters, layer.index_bits) == (3, 2)
    np.testing.assert_array_equal(layer.decode(), w)
    # codebook 3 x 32 = 96; indices 24 x 2 = 48
    assert (layer.bits.codebook, layer.bits.indices, layer.bits.total) == (96, 48, 144)


def test_fewer_distinct_values_than_k_with_fillers_adds_the_zero():
    # 8 weights, pattern v . . . . v v . ; values 0.75, -0.5, 0.75 kept by threshold 0.3; 1-bit gaps:
    # 4 zeros before pos 5 -> 2 fillers (pos 2, 4), real gap 0; then gap 0.
    w = np.float32([[0.75, 0.1, 0.1, 0.1, 0.1, -0.5, 0.75, 0.1]])
    layer = compress(single(w), plan_of(dict(threshold=0.3, clusters=8, positions=1)), model_name="m").layers["fc"]
    assert layer.codebook.tolist() == [-0.5, 0.0, 0.75]
    assert layer.gaps.symbols.tolist() == [0, 1, 1, 0, 0]
    assert layer.is_filler.tolist() == [False, True, True, False, False]
    np.testing.assert_array_equal(layer.decode(), np.float32([[0.75, 0, 0, 0, 0, -0.5, 0.75, 0]]))
    # codebook 3 x 32 = 96; 2-bit indices: real 3 x 2 = 6; positions 3 x 1 = 3; fillers 2 x (2 + 1) = 6
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.total) == (96, 6, 3, 6, 111)


def test_k_larger_than_surviving_weights_is_a_maximum():
    # plan.py: "k is a maximum: a layer with fewer distinct surviving values than k gets one exact
    # entry per value, and its index width shrinks to match". 100 weights, 90% pruned -> 10 survivors,
    # k = 64: the codebook is the 10 surviving values plus the reserved 0 of a pruned layer.
    rng = np.random.default_rng(5)
    w = rng.standard_normal((10, 10)).astype(np.float32)
    for positions, zero in ((8, True), (1, True)):
        layer = compress(single(w), plan_of(dict(sparsity=0.9, clusters=64, positions=positions)), model_name="m").layers["fc"]
        mask = expected_mask(w, 0.9)
        survivors = np.sort(w[mask])
        assert layer.kept == 10
        assert layer.codebook.tolist() == sorted(survivors.tolist() + ([0.0] if zero else []))
        assert layer.index_bits == 4  # ceil(log2 10) = ceil(log2 11) = 4, not log2 64 = 6
        np.testing.assert_array_equal(layer.decode()[mask], w[mask])


def test_fit_codebook_contract():
    v = np.array([3.0, 1.0, 3.0, 2.0])
    c, labels = fit_codebook(v, 8)  # 3 distinct <= 8: exact
    assert c.tolist() == [1.0, 2.0, 3.0] and labels.tolist() == [2, 0, 2, 1]
    c, labels = fit_codebook(np.zeros(0), 4)
    assert c.size == 0 and labels.size == 0
    c, labels = fit_codebook(np.array([0.0, 0.1, 0.9, 1.0]), 2)  # linear init at 0 and 1; means 0.05, 0.95
    np.testing.assert_allclose(c, [0.05, 0.95])
    assert labels.tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="unknown k-means init"):
        fit_codebook(np.arange(10.0), 2, init="spectral")


@pytest.mark.parametrize("init", ["linear", "random", "density"])
def test_every_init_round_trips(init, tmp_path):
    plan = plan_of(dict(sparsity=0.5, clusters=8, positions=2, kmeans_init=init))
    model = small_cnn()
    w0 = weights_of(model)
    cm = compress(model, plan, model_name="s")
    for name in LAYERS:
        check_layer(name, cm.layers[name], w0[name], expected_mask(w0[name], 0.5), dict(clusters=8, positions=2, format="fp32"))
    check_same(cm, load(save(cm, tmp_path / "i.npz")))
