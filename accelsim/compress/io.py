"""One file per compressed model: an uncompressed ``.npz`` holding the packed bit streams.

The streams are stored exactly as packed for the accelerator (`bitstream`), so the file's stream
members are the layer's storage to the byte. A JSON member ``meta`` carries the format name and
version, the plan, provenance, per-layer shapes, formats, counts and bit totals. Loading unpacks every
stream and recounts its bits; any disagreement with ``meta`` means the file is corrupt. Zip CRCs catch
flipped bytes, and a truncated file is not a readable zip.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from accelsim.compress.bitstream import pack_codes, pack_fixed, unpack_canonical, unpack_fixed
from accelsim.compress.formats import ValueFormat
from accelsim.compress.model import CompressedModel
from accelsim.compress.plan import CompressionPlan
from accelsim.compress.storage import LayerStorage, Stream
from accelsim.errors import StorageError

FORMAT = "accelsim.compressed-model"
VERSION = 1


def _pack_stream(stream: Stream) -> tuple[bytes, int]:
    if stream.huffman_lengths is None:
        return pack_fixed(stream.symbols, stream.width), stream.symbols.size * stream.width
    return pack_codes(stream.symbols, stream.codes(), stream.huffman_lengths)


def _unpack_stream(data: bytes, nbits: int, count: int, width: int, lengths: np.ndarray | None) -> Stream:
    if lengths is None:
        symbols = unpack_fixed(data, width, count)
    else:
        symbols = unpack_canonical(data, nbits, count, lengths)
    return Stream(symbols.astype(np.uint32), width, lengths)


def dumps(cm: CompressedModel) -> bytes:
    """The file's bytes: what `save` writes and the cache stores."""
    arrays: dict[str, np.ndarray] = {}
    layers_meta = []
    for i, (name, layer) in enumerate(cm.layers.items()):
        entry = {
            "name": name,
            "shape": list(layer.shape),
            "entries": layer.entries,
            "kept": layer.kept,
            "value_format": str(layer.value_format),
            "bias_format": None if layer.bias_format is None else str(layer.bias_format),
            "zero_code": layer.zero_code,
            "bits": layer.bits.as_dict(),
        }
        streams = {"symbols": layer.symbols, "gaps": layer.gaps}
        for key, stream in streams.items():
            if stream is None:
                continue
            data, nbits = _pack_stream(stream)
            arrays[f"{i}.{key}"] = np.frombuffer(data, dtype=np.uint8)
            entry[f"{key}_width"] = stream.width
            entry[f"{key}_stream_bits"] = nbits
            if stream.huffman_lengths is not None:
                arrays[f"{i}.{key}.huffman_lengths"] = stream.huffman_lengths.astype(np.uint8)
        arrays[f"{i}.fillers"] = np.packbits(layer.is_filler)  # bookkeeping, not part of the storage bits
        if layer.codebook is not None:
            arrays[f"{i}.codebook"] = layer.value_format.encode(layer.codebook).astype(np.uint32)
        if layer.bias is not None:
            arrays[f"{i}.bias"] = layer.bias_format.encode(layer.bias).astype(np.uint32)
        layers_meta.append(entry)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "model": cm.model,
        "plan": cm.plan.to_dict(),
        "provenance": cm.provenance,
        "layers": layers_meta,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def save(cm: CompressedModel, path: str | Path) -> Path:
    """Write ``cm`` to ``path`` through a uniquely named temporary file and a rename, so that an
    interrupted save, or two processes saving at once, never leave a half-written file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the compressed model there ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(dumps(cm))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | Path) -> CompressedModel:
    path = Path(path)
    if not path.is_file():
        raise StorageError(f"{path}: compressed-model file not found")
    return loads(path.read_bytes(), str(path))


def loads(data: bytes, path: str) -> CompressedModel:
    """The compressed model in ``data`` (a file's bytes; ``path`` names it in errors), checked stream
    by stream as the module docstring says."""
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise StorageError(f"{path}: a single numpy array, not an accelsim compressed-model (.npz) file")
        with loaded as npz:
            arrays = {key: npz[key] for key in npz.files}
    except StorageError:
        raise
    except Exception:  # zip and npy readers fail in many ways on a damaged file; all mean the same here
        raise StorageError(f"{path}: not a readable compressed-model file (truncated or corrupt)") from None
    try:
        meta = json.loads(arrays["meta"].tobytes().decode())
    except (KeyError, ValueError, UnicodeDecodeError):
        meta = None
    if not isinstance(meta, dict):
        raise StorageError(f"{path}: no valid 'meta' record; not an accelsim compressed-model file")
    if meta.get("format") != FORMAT:
        raise StorageError(f"{path}: format '{meta.get('format')}' is not '{FORMAT}'")
    if meta.get("version") != VERSION:
        raise StorageError(f"{path}: format version {meta.get('version')} is not supported (this accelsim reads version {VERSION})")
    try:
        layers = {}
        for i, entry in enumerate(meta["layers"]):
            layers[entry["name"]] = _load_layer(arrays, i, entry)
        plan = CompressionPlan.model_validate(meta["plan"])
    except StorageError:
        raise
    except Exception as exc:  # a damaged member shows up as many kinds of error; all mean "corrupt"
        raise StorageError(f"{path}: corrupt compressed-model file ({type(exc).__name__}: {exc})") from None
    for name, layer in layers.items():
        expected = next(e for e in meta["layers"] if e["name"] == name)["bits"]
        if layer.bits.as_dict() != expected:
            raise StorageError(f"{path}: layer {name}: stored bit counts do not match its streams; the file is corrupt")
        positions = layer.positions()
        if positions.size and positions[-1] >= layer.weights:
            raise StorageError(f"{path}: layer {name}: its position stream runs past its {layer.weights:,} weights; the file is corrupt")
        if layer.codebook is not None and layer.entries and int(layer.symbols.symbols.max()) >= layer.codebook.size:
            raise StorageError(f"{path}: layer {name}: an index points past its {layer.codebook.size}-entry codebook; the file is corrupt")
    return CompressedModel(model=meta["model"], plan=plan, layers=layers, provenance=meta.get("provenance", {}))


def _load_layer(arrays: dict[str, np.ndarray], i: int, entry: dict) -> LayerStorage:
    count = entry["entries"]

    def stream(key: str) -> Stream | None:
        if f"{key}_width" not in entry:
            return None
        lengths = arrays.get(f"{i}.{key}.huffman_lengths")
        return _unpack_stream(arrays[f"{i}.{key}"].tobytes(), entry[f"{key}_stream_bits"], count,
                              entry[f"{key}_width"], None if lengths is None else lengths.astype(np.int64))

    value_fmt = ValueFormat.parse(entry["value_format"])
    bias_fmt = ValueFormat.parse(entry["bias_format"]) if entry["bias_format"] else None
    is_filler = np.unpackbits(arrays[f"{i}.fillers"], count=count).astype(bool)
    codebook = arrays.get(f"{i}.codebook")
    bias = arrays.get(f"{i}.bias")
    return LayerStorage(
        name=entry["name"],
        shape=tuple(entry["shape"]),
        symbols=stream("symbols"),
        gaps=stream("gaps"),
        is_filler=is_filler,
        codebook=None if codebook is None else value_fmt.decode(codebook),
        value_format=value_fmt,
        zero_code=entry["zero_code"],
        kept=entry["kept"],
        bias=None if bias is None else bias_fmt.decode(bias),
        bias_format=bias_fmt,
    )
