"""Property tests: exact round trip for random sparse matrices and plans; bits never rise with sparsity.

Expectations are recomputed here from first principles: a naive loop for the filler count, the
"sum of merges" cost of an optimal Huffman code, nearest-codebook-entry assignment.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict

import numpy as np
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn

from accelsim.compress import compress, load, save
from accelsim.compress.cluster import fit_codebook
from accelsim.compress.formats import ValueFormat
from accelsim.compress.model import CompressedModel
from accelsim.compress.plan import CompressionPlan
from accelsim.compress.profile import stream_profile
from accelsim.compress.sparse import decode_positions, encode_positions
from accelsim.compress.storage import encode_layer

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


# -- references --------------------------------------------------------------------------------

def naive_positions(mask, width):
    """Walk the flat mask: (gaps, is_filler, stored positions). A run of z zeros before a kept
    weight at i: fillers stand on the last zero of each block of M = 2^width positions."""
    m = 2**width
    gaps, fill, at = [], [], []
    run = 0
    for i, keep in enumerate(np.asarray(mask).ravel()):
        if not keep:
            run += 1
            continue
        start = i - run
        for j in range(run // m):
            gaps.append(m - 1)
            fill.append(True)
            at.append(start + j * m + m - 1)
        gaps.append(run % m)
        fill.append(False)
        at.append(i)
        run = 0
    return gaps, fill, at


def huffman_cost(counts):
    """Bits of an optimal prefix code for these symbol counts: the sum of the merged weights
    (one symbol alone: 1 bit per occurrence, as the storage defines it)."""
    counts = [int(c) for c in counts if c > 0]
    if not counts:
        return 0
    if len(counts) == 1:
        return counts[0]
    heapq.heapify(counts)
    cost = 0
    while len(counts) > 1:
        a, b = heapq.heappop(counts), heapq.heappop(counts)
        cost += a + b
        heapq.heappush(counts, a + b)
    return cost


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), density=st.floats(0.0, 1.0), width=st.integers(1, 8))
@settings(max_examples=200, deadline=None)
def test_positions_match_a_naive_walk(seed, n, density, width):
    mask = np.random.default_rng(seed).random(n) < density
    gaps, is_filler = encode_positions(mask, width)
    ref_gaps, ref_fill, ref_at = naive_positions(mask, width)
    assert gaps.tolist() == ref_gaps
    assert is_filler.tolist() == ref_fill
    assert decode_positions(gaps).tolist() == ref_at
    assert int((~is_filler).sum()) == int(mask.sum())


# -- storage level: random layers through encode_layer, the file and back ------------------------

FORMATS = ["fp32", "fp16", "fixed8.4", "fixed12.9", "fixed16.-2"]


def span(fmt):
    """A range the format holds: the largest fixed-point code, or 1 for floats."""
    return 1.0 if fmt.kind != "fixed" else (2 ** (fmt.bits - 1) - 1) / 2.0**fmt.frac_bits


@st.composite
def random_layers(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows, cols = draw(st.integers(1, 8)), draw(st.integers(1, 40))
    density = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3, 0.7, 1.0]))
    mask = rng.random((rows, cols)) < density
    width = draw(st.one_of(st.none(), st.integers(1, 8)))
    shared = draw(st.booleans())
    fmt = ValueFormat.parse(draw(st.sampled_from(FORMATS)))
    scale = span(fmt)
    huff_idx = shared and draw(st.booleans())
    huff_pos = width is not None and draw(st.booleans())
    bias = bias_fmt = None
    if draw(st.booleans()):
        bias_fmt = ValueFormat.parse(draw(st.sampled_from(FORMATS)))
        bias = bias_fmt.quantize(rng.uniform(-span(bias_fmt), span(bias_fmt), rows))
    if shared:
        c = draw(st.integers(1, 40))
        codebook = np.unique(fmt.quantize(rng.uniform(-scale, scale, c)))
        codebook = np.union1d(codebook, [0.0]).astype(np.float32)  # 0 always available for zeros
        zero_code = int(np.flatnonzero(codebook == 0.0)[0])
        labels = rng.integers(0, codebook.size, mask.shape)
        expected = np.where(mask, codebook[labels], 0.0).astype(np.float32)
        weight = np.zeros(mask.shape, np.float32)
    else:
        codebook, labels, zero_code = None, None, -1
        weight = fmt.quantize(rng.uniform(-scale, scale, mask.shape)).reshape(mask.shape)
        expected = np.where(mask, weight, 0.0).astype(np.float32)
    return dict(mask=mask, labels=labels, codebook=codebook, zero_code=zero_code, weight=weight, fmt=fmt,
                width=width, huff_idx=huff_idx, huff_pos=huff_pos, bias=bias, bias_fmt=bias_fmt, expected=expected)


@given(case=random_layers())
@FAST
def test_random_layer_round_trip_and_bits(case, tmp_path):
    mask, width = case["mask"], case["width"]
    layer = encode_layer("L", mask, labels=case["labels"], codebook=case["codebook"], zero_code=case["zero_code"],
                         weight=case["weight"], value_format=case["fmt"], position_width=width,
                         huffman_indices=case["huff_idx"], huffman_positions=case["huff_pos"],
                         bias=case["bias"], bias_format=case["bias_fmt"])
    np.testing.assert_array_equal(layer.decode(), case["expected"])

    # bits, recomputed
    kept = int(mask.sum())
    if width is None:
        gaps, fill = [], [False] * mask.size
    else:
        gaps, fill, _ = naive_positions(mask, width)
    fill = np.array(fill, dtype=bool)
    n_fill = int(fill.sum())
    assert (layer.kept, layer.fillers, layer.entries) == (kept, n_fill, fill.size)
    if case["codebook"] is not None:
        c = case["codebook"].size
        sym_width = int(np.ceil(np.log2(c))) if c > 1 else 0
        codebook_bits = c * case["fmt"].bits
    else:
        sym_width, codebook_bits = case["fmt"].bits, 0
    pos_width = width or 0
    b = layer.bits
    assert b.codebook == codebook_bits
    assert b.bias == (0 if case["bias"] is None else case["bias"].size * case["bias_fmt"].bits)
    symbols = layer.symbols.symbols
    if case["huff_idx"]:
        assert b.indices + layer.symbols.bits_of(fill) == huffman_cost(np.bincount(symbols))
    else:  # dense storage: every weight is a real entry
        assert b.indices == (kept if width is not None else mask.size) * sym_width
    if case["huff_pos"]:
        assert b.positions + layer.gaps.bits_of(fill) == huffman_cost(np.bincount(np.array(gaps, dtype=np.int64)))
    else:
        assert b.positions == kept * pos_width
    if not case["huff_idx"] and not case["huff_pos"]:
        assert b.fillers == n_fill * (sym_width + pos_width)
    assert b.huffman_tables == 6 * ((2**sym_width if case["huff_idx"] else 0) + (2**pos_width if case["huff_pos"] else 0))
    assert b.total == b.codebook + b.indices + b.positions + b.fillers + b.huffman_tables + b.bias

    cm = CompressedModel("random", CompressionPlan(name="random"), {"L": layer})
    back = load(save(cm, tmp_path / "r.npz")).layers["L"]
    np.testing.assert_array_equal(back.decode(), case["expected"])
    assert back.bits == layer.bits
    assert back.symbols.symbols.tolist() == symbols.tolist()
    if case["bias"] is not None:
        np.testing.assert_array_equal(back.bias, case["bias"])



@given(case=random_layers())
@FAST
def test_stream_profile_counts_each_units_entries_and_totals_the_storage_bits(case):
    mask, width = case["mask"], case["width"]
    layer = encode_layer("L", mask, labels=case["labels"], codebook=case["codebook"], zero_code=case["zero_code"],
                         weight=case["weight"], value_format=case["fmt"], position_width=width,
                         huffman_indices=case["huff_idx"], huffman_positions=case["huff_pos"],
                         bias=case["bias"], bias_format=case["bias_fmt"])
    p = stream_profile(layer)
    b = layer.bits
    assert p.total_bits == b.total
    assert int(p.unit_bits.sum()) == b.indices + b.positions + b.fillers + b.bias
    assert p.fixed_bits == b.codebook + b.huffman_tables
    assert p.codebook_entries == (0 if case["codebook"] is None else case["codebook"].size)

    # Per unit, from where the naive walk stores each entry (dense storage: every weight).
    units, fan_in = mask.shape
    at = np.arange(mask.size) if width is None else np.array(naive_positions(mask, width)[2], dtype=np.int64)
    assert p.unit_entries.tolist() == np.bincount(at // fan_in, minlength=units).tolist()
    assert p.unit_nonzeros.tolist() == np.count_nonzero(case["expected"], axis=1).tolist()
    if not case["huff_idx"] and not case["huff_pos"]:
        entry_bits = layer.symbols.width + (width or 0)
        bias_bits = 0 if case["bias"] is None else case["bias_fmt"].bits
        assert p.unit_bits.tolist() == (p.unit_entries * entry_bits + bias_bits).tolist()

# -- pipeline level: random sparse matrices, random plans ---------------------------------------

def one_layer(w, bias=None):
    lin = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
        if bias is not None:
            lin.bias.copy_(torch.from_numpy(bias))
    return nn.Sequential(OrderedDict(fc=lin))


def expected_mask(w, sparsity, threshold):
    a = np.abs(w.astype(np.float32))
    if threshold is not None:
        return a >= threshold
    keep = np.ones(a.size, bool)
    keep[np.argsort(a.ravel(), kind="stable")[: int(round(sparsity * a.size))]] = False
    return keep.reshape(a.shape)


@st.composite
def random_plans(draw):
    s = {}
    if draw(st.booleans()):
        s["sparsity"] = draw(st.sampled_from([0.0, 0.1, 0.5, 0.75, 0.9, 0.99]))
    else:
        s["threshold"] = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0, 5.0]))
    s["clusters"] = draw(st.one_of(st.none(), st.integers(2, 8), st.sampled_from([16, 32, 64, 256])))
    s["positions"] = draw(st.one_of(st.none(), st.integers(1, 8)))
    s["codebook_format"] = draw(st.sampled_from(["fp32", "fp16", "fixed8", "fixed12"]))
    s["bias_format"] = draw(st.sampled_from(["fp32", "fp16", "fixed8"]))
    s["huffman_indices"] = s["clusters"] is not None and draw(st.booleans())
    s["huffman_positions"] = s["positions"] is not None and draw(st.booleans())
    s["kmeans_init"] = draw(st.sampled_from(["linear", "random", "density"]))
    return s


_DENSE_SHARED = {"positions": None, "codebook_format": "fp32", "bias_format": "fp32", "huffman_indices": False,
                 "huffman_positions": False, "kmeans_init": "linear"}


@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 12), cols=st.integers(1, 30),
       zeros=st.sampled_from([0.0, 0.3, 0.8]), ties=st.booleans(), settings_=random_plans())
# Survivors that are exactly 0 (pruning keeps some where it ties at 0), once in a cluster of their own
# and once among many: k-means puts a centroid at 0, which merges with the reserved entry.
@example(seed=214, rows=1, cols=6, zeros=0.3, ties=False, settings_={"sparsity": 0.1, "clusters": 5, **_DENSE_SHARED})
@example(seed=5, rows=4, cols=16, zeros=0.8, ties=False, settings_={"sparsity": 0.1, "clusters": 16, **_DENSE_SHARED})
@FAST
def test_random_matrix_and_plan_round_trip(seed, rows, cols, zeros, ties, settings_, tmp_path):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols)).astype(np.float32)
    if ties:  # few distinct values, with sign pairs and magnitude ties
        w = (np.round(w * 2) / 2).astype(np.float32)
    w[rng.random(w.shape) < zeros] = 0.0  # already sparse
    bias = rng.uniform(-1, 1, rows).astype(np.float32)
    model = one_layer(w, bias)
    cm = compress(model, CompressionPlan.model_validate({"name": "h", "defaults": settings_}), model_name="h")
    layer = cm.layers["fc"]
    dec = layer.decode()
    np.testing.assert_array_equal(model.fc.weight.detach().numpy(), dec)
    mask = expected_mask(w, settings_.get("sparsity", 0.0), settings_.get("threshold"))
    assert layer.kept == int(mask.sum())
    assert np.all(dec[~mask] == 0.0)
    fmt = ValueFormat.parse(settings_["codebook_format"]).resolve(float(np.abs(w).max()))
    assert str(layer.value_format) == str(fmt)
    if settings_["clusters"] is None:
        np.testing.assert_array_equal(dec[mask], fmt.quantize(w[mask]))
    else:
        cb = layer.codebook
        assert cb.size <= settings_["clusters"]
        np.testing.assert_array_equal(fmt.quantize(cb), cb)  # entries are representable
        assert np.all(np.isin(dec[mask], cb))
        # a pruned layer that stores anything reserves the 0 entry (plan.py)
        needs_zero = not mask.all() and (settings_["positions"] is None or mask.any())
        if needs_zero:
            assert 0.0 in cb
        kept_w = w[mask].astype(np.float64)
        # Survivors take their nearest centroid of the k (k - 1 beside a reserved 0) fitted to them; the
        # reserved 0 is a survivor's entry only when a fitted centroid is exactly 0 too (a cluster of
        # survivors that are 0, kept where pruning ties at 0, or of values whose mean is 0).
        centroids, _ = fit_codebook(kept_w, settings_["clusters"] - int(needs_zero), settings_["kmeans_init"],
                                    CompressionPlan.model_validate({"name": "h"}).seed)
        real = np.unique(fmt.quantize(centroids))
        assert np.all(np.isin(real, cb))
        if real.size == 0:
            assert np.all(dec[mask] == 0.0)
        elif kept_w.size:
            nearest = real[np.argmin(np.abs(kept_w[:, None] - real[None, :]), axis=1)]
            np.testing.assert_array_equal(dec[mask], nearest)
            survivors = np.unique(w[mask])
            if survivors.size < settings_["clusters"] - int(needs_zero) and settings_["codebook_format"] == "fp32":
                np.testing.assert_array_equal(dec[mask], w[mask])  # few distinct values: exact
    bfmt = ValueFormat.parse(settings_["bias_format"]).resolve(float(np.abs(bias).max()))
    np.testing.assert_array_equal(layer.bias, bfmt.quantize(bias))
    back = load(save(cm, tmp_path / "p.npz")).layers["fc"]
    np.testing.assert_array_equal(back.decode(), dec)
    assert back.bits == layer.bits
    np.testing.assert_array_equal(back.bias, layer.bias)


# -- bits never rise as sparsity rises ---------------------------------------------------------

def bits_at(w, sparsity, k, width, **extra):
    plan = CompressionPlan.model_validate({"name": "m", "defaults": {"sparsity": sparsity, "clusters": k,
                                                                     "positions": width, **extra}})
    return compress(one_layer(w), plan, model_name="m").layers["fc"]


@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 8), cols=st.integers(2, 60),
       k=st.one_of(st.integers(2, 16), st.sampled_from([32, 256])), width=st.integers(1, 8),
       s=st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]),
                  min_size=2, max_size=3, unique=True))
@FAST
def test_bits_never_rise_as_sparsity_rises(seed, rows, cols, k, width, s):
    """Fixed k and position width, fixed-width streams, fp32 codebook, continuous (all distinct)
    weights. Why it holds: removing a kept weight merges two gaps z1, z2 into z1 + z2 + 1, and
    floor((z1 + z2 + 1) / M) <= floor(z1 / M) + floor(z2 / M) + 1, so entries (kept + fillers) never
    grow; the codebook stays min(distinct survivors, k) entries, and the reserved 0 only replaces a
    fitted entry (k - 1 + 1) or, with fewer than k survivors, the survivor that was removed."""
    w = np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)
    assert np.unique(np.abs(w)).size == w.size
    layers = [bits_at(w, x, k, width) for x in sorted(s)]
    for lo, hi in zip(layers, layers[1:]):
        assert hi.kept <= lo.kept
        assert hi.entries <= lo.entries
        assert hi.bits.total <= lo.bits.total, (lo.bits, hi.bits)


def test_bits_never_rise_with_repeated_weight_values():
    # 1 x 6 weights, k = 4, 1-bit gaps (at most 1 zero per gap). A pruned layer reserves the 0 entry
    # whether or not a filler occurs, so the codebook cannot grow when more is pruned.
    # sparsity 0.17 -> round(1.02) = 1 pruned: 0.1 at pos 1. Kept 0.9 . 0.5 0.9 0.5 0.9, gaps 0 1 0 0 0,
    #   no filler; codebook {0, 0.5, 0.9}: 3 x 32 = 96, 2-bit indices 5 x 2 + positions 5 = 111 bits.
    # sparsity 0.34 -> round(2.04) = 2 pruned: also the first 0.5 (pos 2, stable order). Kept 0.9 . . 0.9 0.5 0.9:
    #   2 zeros need a filler; codebook {0, 0.5, 0.9}: 96, real 4 x 2 + positions 4 x 1 +
    #   filler (2 + 1) = 15 -> 111 bits: no more than before.
    w = np.float32([[0.9, 0.1, 0.5, 0.9, 0.5, 0.9]])
    lo, hi = bits_at(w, 0.17, 4, 1), bits_at(w, 0.34, 4, 1)
    assert (lo.bits.total, lo.clusters, lo.fillers) == (111, 3, 0)
    assert (hi.bits.total, hi.clusters, hi.fillers) == (111, 3, 1)
    assert hi.bits.total <= lo.bits.total


def test_huffman_streams_can_cost_more_after_more_pruning():
    """Not a bug, a limit of the claim: with Huffman-coded gaps, merging two gaps can create a new gap
    symbol and lengthen the code. The claim holds for fixed-width streams (tested above).

    14 weights, seed 2, k = 2, 2-bit gaps, both streams Huffman-coded.
    sparsity 0.25 (prune 4 -> 10 kept): gaps 1 0 0 0 0 1 1 0 1 0 -> counts {0: 6, 1: 4}: 1 bit each = 10.
    sparsity 0.375 (prune 5 -> 9 kept): gaps 1 0 0 0 0 1 1 0 2 -> {0: 5, 1: 3, 2: 1}: lengths 1, 2, 2 -> 13.
    indices: 2 symbols, 1 bit each: 10 -> 9. codebook 2 x 32 = 64; tables (2 + 4) x 6 = 36.
    totals 64 + 10 + 10 + 36 = 120 -> 64 + 9 + 13 + 36 = 122."""
    w = np.random.default_rng(2).standard_normal((1, 14)).astype(np.float32)
    extra = dict(huffman_indices=True, huffman_positions=True)
    lo, hi = bits_at(w, 0.25, 2, 2, **extra), bits_at(w, 0.375, 2, 2, **extra)
    assert lo.gaps.symbols.tolist() == [1, 0, 0, 0, 0, 1, 1, 0, 1, 0]
    assert hi.gaps.symbols.tolist() == [1, 0, 0, 0, 0, 1, 1, 0, 2]
    assert (lo.bits.codebook, lo.bits.indices, lo.bits.positions, lo.bits.huffman_tables, lo.bits.total) == (64, 10, 10, 36, 120)
    assert (hi.bits.codebook, hi.bits.indices, hi.bits.positions, hi.bits.huffman_tables, hi.bits.total) == (64, 9, 13, 36, 122)
    # the same layers with fixed-width streams do not rise: 64 + 10 x (1 + 2) = 94 -> 64 + 9 x 3 = 91
    assert bits_at(w, 0.25, 2, 2).bits.total == 94 and bits_at(w, 0.375, 2, 2).bits.total == 91
