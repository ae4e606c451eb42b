"""Storage bits of small layers, every figure computed by hand.

Deep Compression's sparse format (accelsim.compress.sparse): each stored entry carries the number of
zeros skipped since the previous one in ``width`` bits, so one gap holds at most M - 1 = 2^width - 1
zeros; a run of z zeros costs floor(z / M) filler entries (gap M - 1, value 0) and the real entry
keeps z mod M. With width 2 (M = 4): 3 zeros fit in one gap, 4 zeros need one filler, 7 need one,
8 need two.
"""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.compress.bitstream import pack_codes, pack_fixed, unpack_canonical, unpack_fixed
from accelsim.compress.formats import ValueFormat
from accelsim.compress.huffman import canonical_codes, code_lengths, table_bits
from accelsim.compress.model import CompressedModel
from accelsim.compress.plan import CompressionPlan
from accelsim.compress.sparse import decode_positions, encode_positions
from accelsim.compress.storage import encode_layer, index_width

FP32 = ValueFormat.parse("fp32")
FP16 = ValueFormat.parse("fp16")

# ---------------------------------------------------------------------------------------------
# The hand layer: 2 x 15 weights, flattened row-major to 30 positions, 6 kept.
#
#   pos  0      kept             zeros before 0 -> gap 0
#   pos  1..3   3 zeros
#   pos  4      kept             3 zeros = M - 1: fits the gap exactly, gap 3, no filler
#   pos  5..8   4 zeros
#   pos  9      kept             4 zeros: filler (gap 3) stands on pos 8, then gap 0
#   pos 10..17  8 zeros
#   pos 18      kept             8 zeros: fillers on pos 13 and 17 (gap 3 each), then gap 0
#   pos 19      kept             gap 0
#   pos 20..26  7 zeros
#   pos 27      kept             7 zeros: filler on pos 23 (gap 3), then gap 7 - 4 = 3
#   pos 28..29  trailing zeros:  free (the decoder knows the shape)
# ---------------------------------------------------------------------------------------------
KEPT = [0, 4, 9, 18, 19, 27]
MASK = np.zeros((2, 15), dtype=bool)
MASK.ravel()[KEPT] = True
GAPS = [0, 3, 3, 0, 3, 3, 0, 0, 3, 3]
FILLER = [False, False, True, False, True, True, False, False, True, False]
STORED_AT = [0, 4, 8, 9, 13, 17, 18, 19, 23, 27]

CODEBOOK = np.array([-0.5, 0.0, 0.25, 0.75], dtype=np.float32)  # 0.0 at index 1 is the reserved zero
ZERO_CODE = 1
KEPT_LABELS = [0, 2, 3, 0, 2, 3]  # -> -0.5, 0.25, 0.75, -0.5, 0.25, 0.75
BIAS = np.array([0.5, -1.25], dtype=np.float32)  # exact in fp16


def labels_array(kept_labels=KEPT_LABELS):
    labels = np.full(MASK.shape, 99, dtype=np.int64)  # pruned weights: any label, must be ignored
    labels.ravel()[KEPT] = kept_labels
    return labels


def expected_dense(kept_labels=KEPT_LABELS):
    w = np.zeros(30, dtype=np.float32)
    w[KEPT] = CODEBOOK[kept_labels]
    return w.reshape(2, 15)


def hand_layer(huffman_indices=False, huffman_positions=False, kept_labels=KEPT_LABELS):
    return encode_layer("fc", MASK, labels=labels_array(kept_labels), codebook=CODEBOOK, zero_code=ZERO_CODE,
                        weight=np.zeros(MASK.shape, np.float32), value_format=FP32, position_width=2,
                        huffman_indices=huffman_indices, huffman_positions=huffman_positions,
                        bias=BIAS, bias_format=FP16)


# -- positions ---------------------------------------------------------------------------------

def test_positions_of_the_hand_layer_with_fillers_at_the_gap_limit():
    gaps, is_filler = encode_positions(MASK, 2)
    assert gaps.tolist() == GAPS
    assert is_filler.tolist() == FILLER
    assert decode_positions(gaps).tolist() == STORED_AT


@pytest.mark.parametrize(
    "width, zeros, fillers, last_gap",
    [
        # M = 2^width. floor(z / M) fillers; the real entry's gap is z mod M.
        (1, 0, 0, 0),
        (1, 1, 0, 1),  # M - 1 = 1 zero fits
        (1, 2, 1, 0),  # M zeros: one filler
        (1, 5, 2, 1),
        (2, 3, 0, 3),  # the brief's limit case: 3 zeros fit a 2-bit gap
        (2, 4, 1, 0),  # 4 zeros need one filler
        (2, 8, 2, 0),  # 8 zeros need two
        (3, 7, 0, 7),
        (3, 8, 1, 0),
        (4, 15, 0, 15),
        (4, 16, 1, 0),
        (4, 47, 2, 15),
        (4, 48, 3, 0),
        (8, 255, 0, 255),
        (8, 256, 1, 0),
    ],
)
def test_a_run_of_zeros_before_the_first_entry(width, zeros, fillers, last_gap):
    mask = np.zeros(zeros + 1, dtype=bool)
    mask[-1] = True
    gaps, is_filler = encode_positions(mask, width)
    assert gaps.tolist() == [2**width - 1] * fillers + [last_gap]
    assert is_filler.tolist() == [True] * fillers + [False]
    assert decode_positions(gaps).tolist()[-1] == zeros  # the real entry lands where it was


def test_empty_and_full_masks():
    gaps, is_filler = encode_positions(np.zeros(50, bool), 3)
    assert gaps.size == 0 and is_filler.size == 0  # trailing zeros cost nothing, even 50 of them
    gaps, is_filler = encode_positions(np.ones(5, bool), 1)
    assert gaps.tolist() == [0] * 5 and not is_filler.any()


def test_position_width_zero_is_refused():
    with pytest.raises(ValueError, match="at least 1 bit"):
        encode_positions(MASK, 0)


# -- a whole layer, fixed-width streams --------------------------------------------------------

def test_bits_of_the_hand_layer():
    layer = hand_layer()
    # entries: 6 real + 4 fillers = 10; index width ceil(log2 4) = 2; gap width 2.
    # codebook      4 entries x 32 bits (fp32)                 = 128
    # indices       6 real entries x 2 bits                    =  12
    # positions     6 real entries x 2 bits                    =  12
    # fillers       4 fillers x (2 index + 2 gap bits)         =  16
    # huffman       none                                       =   0
    # bias          2 x 16 bits (fp16)                         =  32
    # weights = 128 + 12 + 12 + 16 = 168; total = 200
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.huffman_tables, b.bias) == (128, 12, 12, 16, 0, 32)
    assert (b.weights, b.total) == (168, 200)
    assert b.as_dict() == {"codebook_bits": 128, "index_stream_bits": 12, "position_stream_bits": 12,
                           "filler_bits": 16, "huffman_table_bits": 0, "bias_bits": 32, "total_bits": 200}
    assert (layer.entries, layer.fillers, layer.kept, layer.weights) == (10, 4, 6, 30)
    assert (layer.clusters, layer.index_bits, layer.position_bits) == (4, 2, 2)


def test_hand_layer_streams_and_decode():
    layer = hand_layer()
    # symbols in storage order: e0 0, e1 2, F 1, e2 3, F 1, F 1, e3 0, e4 2, F 1, e5 3 (fillers: zero code 1)
    assert layer.symbols.symbols.tolist() == [0, 2, 1, 3, 1, 1, 0, 2, 1, 3]
    assert layer.gaps.symbols.tolist() == GAPS
    assert layer.is_filler.tolist() == FILLER
    assert layer.positions().tolist() == STORED_AT
    np.testing.assert_array_equal(layer.decode(), expected_dense())
    assert layer.decode().dtype == np.float32
    np.testing.assert_array_equal(layer.bias, BIAS)


def test_hand_layer_packed_bytes_are_what_the_hardware_reads():
    layer = hand_layer()
    # symbols 00 10 01 11 01 01 00 10 01 11 -> 00100111 01010010 0111.... = 0x27 0x52 0x70
    assert pack_fixed(layer.symbols.symbols, 2) == bytes([0x27, 0x52, 0x70])
    # gaps 00 11 11 00 11 11 00 00 11 11 -> 00111100 11110000 1111.... = 0x3C 0xF0 0xF0
    assert pack_fixed(layer.gaps.symbols, 2) == bytes([0x3C, 0xF0, 0xF0])
    assert unpack_fixed(bytes([0x27, 0x52, 0x70]), 2, 10).tolist() == layer.symbols.symbols.tolist()


def test_saved_file_holds_exactly_the_packed_streams(tmp_path):
    from accelsim.compress.io import load, save

    cm = CompressedModel("hand", CompressionPlan(name="hand"), {"fc": hand_layer()})
    path = save(cm, tmp_path / "hand.npz")
    with np.load(path) as npz:
        assert npz["0.symbols"].tobytes() == bytes([0x27, 0x52, 0x70])
        assert npz["0.gaps"].tobytes() == bytes([0x3C, 0xF0, 0xF0])
    back = load(path).layers["fc"]
    assert back.bits == hand_layer().bits
    np.testing.assert_array_equal(back.decode(), expected_dense())


def test_bits_of_the_same_layer_in_dense_storage():
    # Dense: all 30 weights stored, no positions, no fillers; pruned weights hold the zero code.
    layer = encode_layer("fc", MASK, labels=labels_array(), codebook=CODEBOOK, zero_code=ZERO_CODE,
                         weight=np.zeros(MASK.shape, np.float32), value_format=FP32, position_width=None,
                         huffman_indices=False, huffman_positions=False, bias=None, bias_format=None)
    # codebook 128 + indices: the 30 stored entries are all "real" (not fillers) -> 30 x 2 = 60
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.huffman_tables, b.bias, b.total) == (128, 60, 0, 0, 0, 0, 188)
    assert (layer.entries, layer.fillers, layer.position_bits) == (30, 0, None)
    np.testing.assert_array_equal(layer.decode(), expected_dense())


def test_unshared_layer_stores_each_weight_in_its_format():
    # No codebook: each stored entry holds the weight itself, 16 bits (fp16), same positions.
    weight = np.zeros((2, 15), dtype=np.float32)
    weight.ravel()[KEPT] = [1.0, -2.0, 0.5, 0.1, 3.0, -0.25]
    layer = encode_layer("fc", MASK, labels=None, codebook=None, zero_code=-1, weight=weight, value_format=FP16,
                         position_width=2, huffman_indices=False, huffman_positions=False, bias=None, bias_format=None)
    # codebook 0; symbols 6 x 16 = 96; positions 6 x 2 = 12; fillers 4 x (16 + 2) = 72; total 180
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.total) == (0, 96, 12, 72, 180)
    assert layer.clusters is None and layer.index_bits is None
    expected = np.zeros(30, np.float32)
    expected[KEPT] = np.float16([1.0, -2.0, 0.5, 0.1, 3.0, -0.25]).astype(np.float32)  # 0.1 -> 0.0999755859375
    np.testing.assert_array_equal(layer.decode().ravel(), expected)
    assert layer.decode().ravel()[18] == np.float32(0.0999755859375)


@pytest.mark.parametrize("entries, width", [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (32, 5), (33, 6),
                                            (255, 8), (256, 8), (257, 9)])
def test_index_width_is_ceil_log2(entries, width):
    assert index_width(entries) == width


# -- Huffman -----------------------------------------------------------------------------------

def test_huffman_code_lengths_by_hand():
    # counts 5, 2, 1, 1. Merges: (1 + 1) = 2; (2 + 2) = 4; (5 + 4) = 9.
    # depths: symbol 0 -> 1, symbol 1 -> 2, symbols 2 and 3 -> 3 (unique optimum: 15 bits; all-2 gives 18)
    assert code_lengths(np.array([5, 2, 1, 1])).tolist() == [1, 2, 3, 3]
    # canonical codes by (length, symbol): 0 -> '0', 1 -> '10', 2 -> '110', 3 -> '111'
    assert canonical_codes(np.array([1, 2, 3, 3])).tolist() == [0b0, 0b10, 0b110, 0b111]
    # unused symbols get no code; a single used symbol gets 1 bit
    assert code_lengths(np.array([0, 7, 0, 0])).tolist() == [0, 1, 0, 0]
    assert code_lengths(np.array([0, 3, 0, 1])).tolist() == [0, 1, 0, 1]
    assert code_lengths(np.zeros(4, dtype=int)).tolist() == [0, 0, 0, 0]
    assert table_bits(4) == 24 and table_bits(256) == 1536  # 6 bits per alphabet symbol


def test_huffman_pack_and_unpack_by_hand():
    lengths = np.array([1, 2, 3, 3])
    codes = canonical_codes(lengths)
    data, nbits = pack_codes(np.array([0, 1, 2, 3]), codes, lengths)
    # '0' '10' '110' '111' = 010110111 -> 01011011 1....... = 0x5B 0x80
    assert (data, nbits) == (bytes([0x5B, 0x80]), 9)
    assert unpack_canonical(data, nbits, 4, lengths).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        unpack_canonical(data, nbits, 5, lengths)  # a fifth symbol is not there


def test_dense_layer_with_huffman_indices():
    # 9 weights, unpruned, dense; labels with counts 5, 2, 1, 1 over a 4-entry codebook.
    labels = np.array([[0, 1, 0], [2, 0, 3], [1, 0, 0]])  # counts 5, 2, 1, 1
    codebook = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    layer = encode_layer("d", np.ones((3, 3), bool), labels=labels, codebook=codebook, zero_code=-1,
                         weight=np.zeros((3, 3), np.float32), value_format=FP32, position_width=None,
                         huffman_indices=True, huffman_positions=False, bias=None, bias_format=None)
    # codebook 4 x 32 = 128; indices 5x1 + 2x2 + 1x3 + 1x3 = 15 (fixed width would be 18);
    # table: alphabet 2^2 = 4 symbols x 6 bits = 24; total 167
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.huffman_tables, b.total) == (128, 15, 0, 0, 24, 167)
    assert layer.symbols.huffman_lengths.tolist() == [1, 2, 3, 3]
    np.testing.assert_array_equal(layer.decode(), codebook[labels])


def test_sparse_hand_layer_with_both_streams_huffman_coded():
    # Real labels 0,0,0,0,0,2 and 4 fillers (zero code 1): symbol counts 5, 4, 1, 0.
    # Huffman over 3 used symbols: 2 (1) merges with 1 (4) -> 5; then 0 (5) with that node.
    # lengths 0 -> 1, 1 -> 2, 2 -> 2 (symbol 0 is a leaf at depth 1 whichever way the 5-5 tie goes).
    # gaps 0,3,3,0,3,3,0,0,3,3: counts 4 of gap 0, 6 of gap 3 -> 1 bit each.
    layer = hand_layer(huffman_indices=True, huffman_positions=True, kept_labels=[0, 0, 0, 0, 0, 2])
    assert layer.symbols.huffman_lengths.tolist() == [1, 2, 2, 0]
    assert layer.gaps.huffman_lengths.tolist() == [1, 0, 0, 1]
    # codebook 128; indices (real) 5x1 + 1x2 = 7; positions (real) 6 x 1 = 6;
    # fillers: 4 symbols x 2 + 4 gaps x 1 = 12; tables: index alphabet 4 x 6 + gap alphabet 4 x 6 = 48;
    # bias 32. total 128 + 7 + 6 + 12 + 48 + 32 = 233
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.huffman_tables, b.bias, b.total) == (128, 7, 6, 12, 48, 32, 233)
    np.testing.assert_array_equal(layer.decode(), expected_dense([0, 0, 0, 0, 0, 2]))


def test_huffman_tables_scale_with_the_alphabet_not_the_stream():
    # 8-bit gaps: the table holds 256 lengths x 6 bits = 1536 bits even for 6 stored entries.
    layer = encode_layer("fc", MASK, labels=labels_array(), codebook=CODEBOOK, zero_code=ZERO_CODE,
                         weight=np.zeros(MASK.shape, np.float32), value_format=FP32, position_width=8,
                         huffman_indices=False, huffman_positions=True, bias=None, bias_format=None)
    # 8-bit gaps: no fillers. gaps 0, 3, 4, 8, 0, 7 -> 5 distinct symbols, counts 2,1,1,1,1.
    assert layer.gaps.symbols.tolist() == [0, 3, 4, 8, 0, 7] and layer.fillers == 0
    # Huffman over counts (2, 1, 1, 1, 1): merges 1+1 = 2, 1+1 = 2, 2+2 = 4, 2+4 = 6. Whatever the
    # tie-breaking, the code costs the sum of its merges: 2 + 2 + 4 + 6 = 14 bits.
    assert layer.bits.positions == 14
    assert layer.bits.huffman_tables == 256 * 6
    assert layer.bits.indices == 6 * 2 and layer.bits.codebook == 128
