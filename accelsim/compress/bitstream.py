"""Bit-exact packing of the streams a compressed layer stores.

Streams are MSB-first bit sequences, packed into bytes with zero padding at the end, exactly as an
accelerator's fetch unit would read them from memory. Fixed-width streams hold ``width`` bits per
symbol; Huffman streams hold canonical prefix codes (see `huffman`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from accelsim.compress.huffman import canonical_tables


def pack_fixed(symbols: np.ndarray, width: int) -> bytes:
    """Pack unsigned symbols, ``width`` bits each."""
    symbols = np.asarray(symbols, dtype=np.uint64)
    if width == 0 or symbols.size == 0:
        return b""
    if int(symbols.max()) >> width:
        raise ValueError(f"a symbol does not fit in {width} bits")
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    bits = ((symbols[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bits.ravel()).tobytes()


def unpack_fixed(data: bytes, width: int, count: int) -> np.ndarray:
    if width == 0 or count == 0:
        return np.zeros(count, dtype=np.uint64)
    needed = (width * count + 7) // 8
    if len(data) < needed:
        raise ValueError(f"stream holds {len(data)} bytes, {needed} needed for {count} symbols of {width} bits")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=width * count).reshape(count, width)
    weights = np.uint64(1) << np.arange(width - 1, -1, -1, dtype=np.uint64)
    return (bits.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def pack_codes(symbols: np.ndarray, codes: np.ndarray, lengths: np.ndarray) -> tuple[bytes, int]:
    """Pack variable-length codes: symbol s is written as the low lengths[s] bits of codes[s].

    Returns the bytes and the exact number of bits."""
    symbols = np.asarray(symbols, dtype=np.int64)
    if symbols.size == 0:
        return b"", 0
    lens = lengths[symbols].astype(np.int64)
    width = int(lens.max())
    left_aligned = codes[symbols].astype(np.uint64) << (width - lens).astype(np.uint64)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    bits = ((left_aligned[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    keep = np.arange(width)[None, :] < lens[:, None]
    stream = bits[keep]
    return np.packbits(stream).tobytes(), int(stream.size)


@njit(cache=True)
def _decode_canonical(bits, count, first_code, first_index, n_of_len, sorted_symbols):
    out = np.empty(count, dtype=np.int64)
    pos = 0
    for i in range(count):
        code = 0
        length = 0
        while True:
            if pos >= bits.size:
                return out, -1
            code = (code << 1) | bits[pos]
            pos += 1
            length += 1
            if length >= first_code.size:
                return out, -1
            offset = code - first_code[length]
            if n_of_len[length] > 0 and 0 <= offset < n_of_len[length]:
                out[i] = sorted_symbols[first_index[length] + offset]
                break
    return out, pos


def unpack_canonical(data: bytes, nbits: int, count: int, lengths: np.ndarray) -> np.ndarray:
    """Decode ``count`` symbols of a canonical prefix code given by its code ``lengths``."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=nbits).astype(np.int64)
    first_code, first_index, n_of_len, sorted_symbols = canonical_tables(lengths)
    out, used = _decode_canonical(bits, count, first_code, first_index, n_of_len, sorted_symbols)
    if used != nbits:
        raise ValueError(f"Huffman stream of {nbits} bits does not decode to exactly {count} symbols")
    return out
