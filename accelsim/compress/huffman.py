"""Canonical Huffman codes for index and position streams (Deep Compression, section 4).

The stored table is the code length of every symbol of the alphabet, `LENGTH_FIELD_BITS` bits each;
canonical codes are rebuilt from the lengths alone, so no codewords are stored. Six bits bound a code
at 63 bits, far beyond the longest code any stream here can produce (a Huffman code of N symbols is at
most about 1.44 log2 N bits long).
"""

from __future__ import annotations

import heapq

import numpy as np

LENGTH_FIELD_BITS = 6


def code_lengths(counts: np.ndarray) -> np.ndarray:
    """Huffman code length of each symbol (0 for symbols that never occur).

    A stream with a single distinct symbol gets a 1-bit code, so every stored entry still costs a bit
    and the stream length alone tells the decoder where the stream ends."""
    counts = np.asarray(counts, dtype=np.int64)
    lengths = np.zeros(counts.size, dtype=np.int64)
    used = np.flatnonzero(counts)
    if used.size == 0:
        return lengths
    if used.size == 1:
        lengths[used[0]] = 1
        return lengths
    # Heap items carry a tie-break counter so equal weights merge in a fixed order (determinism).
    heap = [(int(counts[s]), i, [int(s)]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tie = len(heap)
    while len(heap) > 1:
        w1, _, s1 = heapq.heappop(heap)
        w2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (w1 + w2, tie, s1 + s2))
        tie += 1
    if lengths.max() >= 2**LENGTH_FIELD_BITS:
        raise ValueError("Huffman code longer than the table's length field can store")
    return lengths


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Codewords of the canonical code with these lengths (symbols ordered by length, then value)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    codes = np.zeros(lengths.size, dtype=np.uint64)
    order = sorted((int(l), s) for s, l in enumerate(lengths) if l > 0)
    code, prev = 0, 0
    for length, symbol in order:
        code <<= length - prev
        codes[symbol] = code
        code += 1
        prev = length
    return codes


def canonical_tables(lengths: np.ndarray):
    """Decoder tables: first code and first sorted-symbol index per length, count per length, symbols
    sorted by (length, value)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    max_len = int(lengths.max()) if lengths.size else 0
    n_of_len = np.bincount(lengths[lengths > 0], minlength=max_len + 2).astype(np.int64)
    n_of_len[0] = 0
    sorted_symbols = np.array(sorted(np.flatnonzero(lengths), key=lambda s: (lengths[s], s)), dtype=np.int64)
    first_code = np.zeros(max_len + 2, dtype=np.int64)
    first_index = np.zeros(max_len + 2, dtype=np.int64)
    code, index = 0, 0
    for length in range(1, max_len + 2):
        code = (code + n_of_len[length - 1]) << 1  # n_of_len[0] is 0, so length 1 starts at code 0
        first_code[length] = code
        first_index[length] = index
        index += n_of_len[length]
    return first_code, first_index, n_of_len, sorted_symbols


def table_bits(alphabet_size: int) -> int:
    return alphabet_size * LENGTH_FIELD_BITS
