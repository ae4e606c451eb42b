"""The compressed-model file: missing, truncated, corrupt, wrong-version and foreign files are refused
with a `StorageError` that names the path; an intact file loads back bit for bit."""

from __future__ import annotations

import json
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.compress import compress, load, save
from accelsim.compress.io import FORMAT, VERSION
from accelsim.compress.plan import CompressionPlan
from accelsim.errors import StorageError


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(2, 4, 3), flat=nn.Flatten(), fc=nn.Linear(16, 3)))
    plan = CompressionPlan.model_validate({"name": "io", "defaults": {"sparsity": 0.5, "clusters": 4, "positions": 2,
                                                                     "huffman_indices": True, "huffman_positions": True},
                                           "layers": {"fc": {"huffman_positions": False, "huffman_indices": False}}})
    cm = compress(model, plan, model_name="tiny")
    path = save(cm, tmp_path_factory.mktemp("io") / "tiny.npz")
    return cm, path, path.read_bytes()


def same(a, b):
    return list(a.layers) == list(b.layers) and all(
        np.array_equal(a.layers[n].decode(), b.layers[n].decode()) and a.layers[n].bits == b.layers[n].bits
        and np.array_equal(a.layers[n].bias, b.layers[n].bias) for n in a.layers)


def refused(path, *words, one_line=True):
    with pytest.raises(StorageError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: "), msg
    if one_line:
        assert "\n" not in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def rewrite(src, dst, meta=None, **members):
    """A consistent zip (fresh CRCs) with some members or meta fields replaced: corruption the zip
    layer cannot see."""
    with np.load(src) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if meta is not None:
        m = json.loads(arrays["meta"].tobytes())
        meta(m)
        arrays["meta"] = np.frombuffer(json.dumps(m).encode(), dtype=np.uint8)
    arrays.update(members)
    np.savez(dst, **arrays)
    return dst


def test_intact_file_round_trips(saved, tmp_path):
    cm, path, _ = saved
    assert same(cm, load(path))
    with np.load(path) as npz:
        meta = json.loads(npz["meta"].tobytes())
    assert (meta["format"], meta["version"], meta["model"]) == (FORMAT, VERSION, "tiny")
    assert not list(path.parent.glob("*.partial"))  # written then renamed


def test_missing_file(tmp_path):
    refused(tmp_path / "nothing.npz", "compressed-model file not found")


@pytest.mark.parametrize("keep", [0, 1, 10, 100, "half", "no-eocd", "last-byte"])
def test_truncated_file(saved, tmp_path, keep):
    _, _, raw = saved
    n = {"half": len(raw) // 2, "no-eocd": len(raw) - 22, "last-byte": len(raw) - 1}.get(keep, keep)
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[:n])
    refused(path, "not a readable compressed-model file (truncated or corrupt")


def _member_data_ranges(raw, path):
    """(start, end) of every member's stored bytes in the file."""
    ranges = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            o = info.header_offset
            name_len = int.from_bytes(raw[o + 26:o + 28], "little")
            extra_len = int.from_bytes(raw[o + 28:o + 30], "little")
            start = o + 30 + name_len + extra_len
            ranges.append((start, start + info.compress_size))
    return ranges


def test_flipped_bytes_inside_any_member_are_refused(saved, tmp_path):
    _, path, raw = saved
    ranges = _member_data_ranges(raw, path)
    assert len(ranges) >= 10
    bad = tmp_path / "flip.npz"
    for start, end in ranges:
        for offset in sorted({start, (start + end) // 2, end - 1}):
            flipped = bytearray(raw)
            flipped[offset] ^= 0x01
            bad.write_bytes(flipped)
            refused(bad, "truncated or corrupt")


def test_any_flipped_byte_before_the_central_directory_is_refused_or_harmless(saved, tmp_path):
    """Every 7th byte of the local headers and member data: StorageError, or (zip metadata such as
    timestamps) a file that loads to exactly the same model. Never another exception, never a
    different model."""
    cm, _, raw = saved
    central = raw.find(b"PK\x01\x02")
    bad = tmp_path / "flip.npz"
    outcomes = {"refused": 0, "same": 0}
    for offset in range(0, central, 7):
        flipped = bytearray(raw)
        flipped[offset] ^= 0xFF
        bad.write_bytes(flipped)
        try:
            back = load(bad)
        except StorageError as exc:
            assert str(exc).startswith(f"{bad}: ")
            outcomes["refused"] += 1
        else:
            assert same(cm, back), f"byte {offset} flipped: loaded a different model"
            outcomes["same"] += 1
    # zipfile ignores most local-header fields (it trusts the central directory), so about one flip
    # in seven is harmless; the rest must be refused
    assert outcomes["refused"] > 0.75 * sum(outcomes.values())


def test_flipped_crc_in_the_central_directory_is_refused(saved, tmp_path):
    _, _, raw = saved
    cd = raw.find(b"PK\x01\x02")
    flipped = bytearray(raw)
    flipped[cd + 16] ^= 0x01  # CRC-32 of the first member
    bad = tmp_path / "crc.npz"
    bad.write_bytes(flipped)
    refused(bad, "truncated or corrupt")


@pytest.mark.parametrize("field, offset, value", [
    ("version needed to extract", 6, 0xFF),
    ("general purpose flags: encrypted", 8, 0x01),
    ("general purpose flags: patched data", 8, 0x20),
    ("compression method", 10, 0x63),
])
def test_flipped_central_directory_header_field_is_refused(saved, tmp_path, field, offset, value):
    _, _, raw = saved
    cd = raw.find(b"PK\x01\x02")
    flipped = bytearray(raw)
    flipped[cd + offset] ^= value
    bad = tmp_path / "cd.npz"
    bad.write_bytes(flipped)
    refused(bad)


def test_wrong_format_version(saved, tmp_path):
    _, path, _ = saved
    bad = rewrite(path, tmp_path / "v2.npz", meta=lambda m: m.update(version=VERSION + 1))
    refused(bad, f"format version {VERSION + 1} is not supported (this accelsim reads version {VERSION})")
    bad = rewrite(path, tmp_path / "nov.npz", meta=lambda m: m.pop("version"))
    refused(bad, "format version None is not supported")


def test_wrong_format_name(saved, tmp_path):
    _, path, _ = saved
    bad = rewrite(path, tmp_path / "other.npz", meta=lambda m: m.update(format="someone-else"))
    refused(bad, f"format 'someone-else' is not '{FORMAT}'")


def test_non_accelsim_npz(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.arange(6.0), b=np.zeros(2))
    refused(path, "no valid 'meta' record; not an accelsim compressed-model file")
    np.savez(path, meta=np.arange(5))  # a 'meta' that is not JSON text
    refused(path, "no valid 'meta' record")


def test_non_zip_files(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("hello, this is not a zip\n")
    refused(path, "not a readable compressed-model file")
    path.write_bytes(b"")
    refused(path, "not a readable compressed-model file")


def test_a_npy_file_is_refused(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.arange(4))
    refused(path, "not")


@pytest.mark.parametrize("meta", [b"[1, 2]", b'"x"', b"5", b"null"])
def test_npz_whose_meta_is_not_an_object_is_refused(tmp_path, meta):
    path = tmp_path / "foreign.npz"
    np.savez(path, meta=np.frombuffer(meta, dtype=np.uint8))
    refused(path)


def test_meta_bit_counts_that_disagree_with_the_streams(saved, tmp_path):
    _, path, _ = saved

    def lie(m):
        m["layers"][1]["bits"]["index_stream_bits"] += 1

    bad = rewrite(path, tmp_path / "bits.npz", meta=lie)
    refused(bad, "layer fc: stored bit counts do not match its streams; the file is corrupt")


def test_a_shortened_stream_member(saved, tmp_path):
    _, path, _ = saved
    with np.load(path) as npz:
        gaps = npz["1.gaps"]
    bad = rewrite(path, tmp_path / "short.npz", **{"1.gaps": gaps[:-1]})
    refused(bad, "corrupt compressed-model file")


def test_a_missing_stream_member(saved, tmp_path):
    _, path, _ = saved
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "0.symbols"}
    bad = tmp_path / "missing.npz"
    np.savez(bad, **arrays)
    refused(bad, "corrupt compressed-model file")


def test_an_unparseable_plan_in_meta(saved, tmp_path):
    _, path, _ = saved
    bad = rewrite(path, tmp_path / "plan.npz", meta=lambda m: m["plan"].update(defaults={"clusters": 1}))
    # (the message carries pydantic's multi-line text: not one line, but it names path and cause)
    refused(bad, "corrupt compressed-model file (ValidationError", one_line=False)


def test_streams_that_point_outside_the_layer_are_refused_at_load(saved, tmp_path):
    cm, path, _ = saved
    fc = cm.layers["fc"]  # fixed-width streams: same bit count whatever the gap values
    gaps = fc.gaps.symbols.copy()
    gaps[-1] = 3  # the largest 2-bit gap: pushes the last entry (and maybe others) past the 48 weights
    if int(np.cumsum(gaps.astype(np.int64) + 1)[-1]) - 1 < fc.weights:
        gaps[:] = 3
    from accelsim.compress.bitstream import pack_fixed

    bad = rewrite(path, tmp_path / "far.npz", **{"1.gaps": np.frombuffer(pack_fixed(gaps, 2), dtype=np.uint8)})
    try:
        loaded = load(bad)
    except StorageError:
        return
    loaded.layers["fc"].decode()  # IndexError today
    pytest.fail("a stream pointing past the layer loaded and decoded")
