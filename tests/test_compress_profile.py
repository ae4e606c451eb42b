"""Stream profiles of small hand-built layers, every figure computed by hand, and of a workload."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np
import pytest
from torch import nn

from accelsim.compress import CompressionPlan, compress
from accelsim.compress.formats import ValueFormat
from accelsim.compress.profile import stream_profile
from accelsim.compress.storage import LayerStorage, Stream, encode_layer
from accelsim.errors import ModelError
from accelsim.model.alexnet import init_gaussian_
from accelsim.workload import build_workload

FP32 = ValueFormat.parse("fp32")
FP16 = ValueFormat.parse("fp16")
FIXED8 = ValueFormat("fixed", 8, 4)
FIXED16 = ValueFormat("fixed", 16, 8)


def layer(mask, *, labels=None, codebook=None, zero_code=-1, weight=None, value_format=FP32, position_width=None,
          huffman_indices=False, bias=None, bias_format=None) -> LayerStorage:
    mask = np.asarray(mask, dtype=bool)
    return encode_layer("L", mask, labels=labels, codebook=codebook, zero_code=zero_code,
                        weight=np.zeros(mask.shape, np.float32) if weight is None else weight,
                        value_format=value_format, position_width=position_width, huffman_indices=huffman_indices,
                        huffman_positions=False, bias=bias, bias_format=bias_format)


def figures(p) -> tuple:
    return p.unit_bits.tolist(), p.unit_entries.tolist(), p.unit_nonzeros.tolist(), p.fixed_bits, p.codebook_entries


def test_fixed_width_streams_with_a_filler():
    # 3 x 5 weights, 2-bit gaps (a gap skips at most 3 zeros):
    #   unit 0: [0 a 0 0 0]    a at position 1, gap 1
    #   unit 1: [0 0 0 0 b]    7 zeros before b (position 9): a filler with gap 3 stands on position 5,
    #                          in unit 1; then b with gap 3
    #   unit 2: [c d 0 0 0]    c, d at positions 10, 11, gap 0
    mask = np.zeros((3, 5), dtype=bool)
    mask[0, 1] = mask[1, 4] = mask[2, 0] = mask[2, 1] = True
    labels = np.full(mask.shape, 2)  # every kept weight is codebook entry 2 (-0.5)
    st = layer(mask, labels=labels, codebook=np.array([0.0, 0.5, -0.5, 1.0], np.float32), zero_code=0,
               position_width=2, bias=np.zeros(3, np.float32), bias_format=FP16)
    assert st.gaps.symbols.tolist() == [1, 3, 3, 0, 0] and st.fillers == 1
    p = stream_profile(st)
    # Each entry: 2-bit index + 2-bit gap; each unit a 16-bit bias. Unit 1 holds the filler and b.
    # Codebook: 4 entries x 32 bits, with the first tile.
    assert figures(p) == ([4 + 16, 2 * 4 + 16, 2 * 4 + 16], [1, 2, 2], [1, 1, 2], 128, 4)
    assert (p.units, p.entries, p.nonzeros, p.shared) == (3, 5, 4, True)
    assert p.total_bits == st.bits.total == 196  # 68 + 128: indices 8, positions 8, filler 4, bias 48, codebook 128


def test_huffman_coded_indices_in_dense_storage():
    # Dense storage (no positions): all 8 weights stored; pruned ones hold the zero code 1.
    #   unit 0 symbols 0 0 0 1, unit 1 symbols 0 1 1 2: counts 4, 3, 1 (and 0 for symbol 3).
    # Huffman: merge 1 + 3, then 4 + 4: symbol 0 gets 1 bit, symbols 1 and 2 get 2 bits.
    labels = np.array([[0, 0, 0, 1], [0, 1, 1, 2]])
    st = layer(labels != 1, labels=labels, codebook=np.array([-0.5, 0.0, 0.25], np.float32), zero_code=1,
               huffman_indices=True)
    assert st.symbols.symbols.tolist() == labels.ravel().tolist()
    assert st.symbols.huffman_lengths.tolist() == [1, 2, 2, 0]
    p = stream_profile(st)
    # bits: unit 0 = 1 + 1 + 1 + 2, unit 1 = 1 + 2 + 2 + 2; zero codes are looked up but not multiplied.
    # Fixed: 3 x 32 codebook bits + the table of the 4-symbol alphabet (6 bits a symbol).
    assert figures(p) == ([5, 7], [4, 4], [3, 2], 96 + 24, 3)
    assert p.total_bits == st.bits.total == 12 + 120


def test_dense_unshared_storage_stores_every_weight_as_a_value():
    weight = np.array([[1.0, 0.0, -2.0], [0.0, 0.0, 0.5]], np.float32)
    st = layer(weight != 0, weight=weight, value_format=FIXED8, bias=np.ones(2, np.float32), bias_format=FIXED16)
    p = stream_profile(st)
    # 3 entries of 8 bits and a 16-bit bias per unit; zero weights hold the code of 0.0; no decoder.
    assert figures(p) == ([3 * 8 + 16, 3 * 8 + 16], [3, 3], [2, 1], 0, 0)
    assert not p.shared and p.total_bits == st.bits.total == 80


def test_fully_pruned_layer_costs_its_biases_and_codebook():
    # Nothing kept: no entries at all (trailing zeros are free); the one-entry codebook (0.0) needs
    # 0 index bits but still travels with the first tile.
    st = layer(np.zeros((2, 6), bool), labels=np.zeros((2, 6), int), codebook=np.zeros(1, np.float32), zero_code=0,
               position_width=2, bias=np.zeros(2, np.float32), bias_format=FP16)
    assert st.entries == 0
    p = stream_profile(st)
    assert figures(p) == ([16, 16], [0, 0], [0, 0], 32, 1)
    assert p.total_bits == st.bits.total == 64


def test_a_codebook_without_a_zero_entry_has_no_zeros():
    labels = np.array([[0, 1], [1, 1]])
    st = layer(np.ones((2, 2), bool), labels=labels, codebook=np.array([0.5, 1.0], np.float32), zero_code=-1)
    assert figures(stream_profile(st)) == ([2, 2], [2, 2], [2, 2], 64, 2)


def test_a_stream_past_its_matrix_is_refused():
    st = LayerStorage(name="L", shape=(2, 3), symbols=Stream(np.array([1], np.uint32), 1),
                      gaps=Stream(np.array([9], np.uint32), 4), is_filler=np.zeros(1, bool), codebook=None,
                      value_format=FIXED8, zero_code=-1, kept=1, bias=None, bias_format=None)
    with pytest.raises(ValueError, match="runs past its 2x3 weight matrix"):
        stream_profile(st)


def test_profile_arrays_are_read_only():
    p = stream_profile(layer(np.ones((1, 2), bool), weight=np.ones((1, 2), np.float32), value_format=FIXED8))
    with pytest.raises(ValueError):
        p.unit_bits[0] = 0


def test_workload_carries_the_profiles_not_the_streams():
    model = init_gaussian_(nn.Sequential(OrderedDict([("fc", nn.Linear(512, 256))])), 0)
    plan = CompressionPlan.model_validate({"name": "p", "defaults": {"sparsity": 0.5, "clusters": 16, "positions": 4,
                                                                     "codebook_format": "fixed8", "bias_format": "fixed16"}})
    cm = compress(model, plan, model_name="fc-only")
    (fc,) = build_workload(model, (512,), cm)
    expected = stream_profile(cm.layers["fc"])
    assert figures(fc.profile) == figures(expected)
    # Three numbers per output unit travel to a sweep's workers, not one symbol and gap per stored entry.
    assert len(pickle.dumps(fc)) < cm.layers["fc"].symbols.symbols.nbytes


def test_a_compressed_layer_the_workload_lacks_is_refused():
    model = init_gaussian_(nn.Sequential(OrderedDict([("fc", nn.Linear(8, 4))])), 0)
    plan = CompressionPlan.model_validate({"name": "p", "defaults": {"codebook_format": "fixed8", "bias_format": "fixed16"}})
    cm = compress(model, plan, model_name="fc-only")
    other = nn.Sequential(OrderedDict([("fc2", nn.Linear(8, 4))]))
    with pytest.raises(ModelError, match=r"compressed layers \['fc'\] are not conv or fc layers of the model"):
        build_workload(other, (8,), cm)
    wrong = nn.Sequential(OrderedDict([("fc", nn.Linear(8, 5))]))
    with pytest.raises(ModelError, match=r"compressed layer 'fc' has shape \(4, 8\), the model's is \(5, 8\)"):
        build_workload(wrong, (8,), cm)
