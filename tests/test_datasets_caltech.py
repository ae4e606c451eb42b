"""Caltech Pedestrian reader: .seq files written here byte by byte in the Norpix layout, .vbb files
written with scipy.io.savemat in the struct layout of the Caltech annotation files."""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import pytest
import scipy.io
from PIL import Image

from accelsim.detect.datasets.caltech import (
    CaltechDataset,
    SeqReader,
    VbbFile,
    read_seq_header,
    read_vbb,
    visible_fraction,
)
from accelsim.detect.types import Annotation
from accelsim.errors import DatasetError

W, H = 16, 8


# ------------------------------------------------------------------------------------------------ writers


def frame_pixels(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A smooth image whose brightness identifies frame ``i`` (JPEG keeps smooth images close)."""
    base = (i * 7) % 200
    x = np.linspace(0, 40, w)[None, :].repeat(h, axis=0)
    img = np.stack([base + x, np.full((h, w), base + 20.0), base + x[:, ::-1]], axis=2)
    return img.astype(np.uint8)


def encode(img: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        Image.fromarray(img).save(buf, format="JPEG", quality=95)
    else:
        Image.fromarray(img).save(buf, format=fmt)
    return buf.getvalue()


def seq_header(width, height, image_format, frame_count, *, bit_depth=24, image_size=None, true_size=0,
               fps=30.0, magic=0xFEED, header_size=1024) -> bytes:
    h = bytearray(1024)
    struct.pack_into("<I", h, 0, magic)
    h[4:24] = "Norpix seq".encode("utf-16-le")
    struct.pack_into("<iI", h, 28, 3, header_size)
    descr = "accelsim test".encode("utf-16-le")
    h[36:36 + len(descr)] = descr
    if image_size is None:
        image_size = width * height * bit_depth // 8
    struct.pack_into("<9I", h, 548, width, height, bit_depth, 8, image_size, image_format, frame_count, 0, true_size)
    struct.pack_into("<d", h, 584, fps)
    return bytes(h)


def write_seq(path, images, *, image_format=201, pad=False, frame_count=None, encoded=None, fps=30.0):
    """Compressed .seq: per frame uint32 length (incl. itself), data, 8-byte timestamp, [8 zero bytes]."""
    encoded = encoded if encoded is not None else [encode(img) for img in images]
    h, w = images[0].shape[:2] if images else (H, W)
    n = len(encoded) if frame_count is None else frame_count
    out = bytearray(seq_header(w, h, image_format, n, fps=fps))
    for i, data in enumerate(encoded):
        out += struct.pack("<I", len(data) + 4) + data
        t = i / fps
        out += struct.pack("<IHH", int(t), int(round((t % 1) * 1000)), 0)
        if pad:
            out += bytes(8)
    path.write_bytes(bytes(out))
    return encoded


OBJ_DTYPE = [("id", "O"), ("pos", "O"), ("occl", "O"), ("lock", "O"), ("posv", "O")]
A_FIELDS = ["nFrame", "objLists", "maxObj", "objInit", "objLbl", "objStr", "objEnd", "objHide", "altered",
            "log", "logLen"]


def write_vbb(path, n_frames, labels, objects, *, n_frame_field=None, omit_a=False):
    """``objects``: {frame: [(id, pos, occl, posv), ...]}; ``labels``: objLbl, indexed by id - 1."""
    obj_lists = np.empty((1, n_frames), dtype=object)
    for f in range(n_frames):
        objs = objects.get(f, [])
        if not objs:
            obj_lists[0, f] = np.zeros((0, 0))
            continue
        s = np.zeros((1, len(objs)), dtype=OBJ_DTYPE)
        for j, (oid, pos, occl, posv) in enumerate(objs):
            s[0, j] = (np.array([[float(oid)]]), np.array([pos], dtype=float), np.array([[float(occl)]]),
                       np.array([[0.0]]), np.array([posv], dtype=float))
        obj_lists[0, f] = s
    lbl = np.empty((1, len(labels)), dtype=object)
    for i, name in enumerate(labels):
        lbl[0, i] = name
    m = len(labels)
    first = {oid: min(f for f, objs in objects.items() for o in objs if o[0] == oid) for oid in range(1, m + 1)
             if any(o[0] == oid for objs in objects.values() for o in objs)}
    last = {oid: max(f for f, objs in objects.items() for o in objs if o[0] == oid) for oid in first}
    a = np.zeros((1, 1), dtype=[(name, "O") for name in A_FIELDS])
    a[0, 0] = (
        np.array([[float(n_frames if n_frame_field is None else n_frame_field)]]),
        obj_lists,
        np.array([[float(m)]]),
        np.ones((1, m)),
        lbl,
        np.array([[first.get(i, 0) + 1.0 for i in range(1, m + 1)]]),
        np.array([[last.get(i, 0) + 1.0 for i in range(1, m + 1)]]),
        np.zeros((1, m)),
        np.array([[0.0]]),
        np.zeros((0, 0)),
        np.array([[0.0]]),
    )
    content = {"vers": np.array([[1.03]])}
    content["B" if omit_a else "A"] = a
    with open(path, "wb") as f:  # .vbb suffix: savemat would append .mat to a path string
        scipy.io.savemat(f, content, format="5")


def make_video(root, set_name, video, n_frames, objects=None, labels=("person",), vbb_next_to_seq=False, **kw):
    (root / set_name).mkdir(parents=True, exist_ok=True)
    images = [frame_pixels(i) for i in range(n_frames)]
    write_seq(root / set_name / f"{video}.seq", images, **kw)
    vdir = root / set_name if vbb_next_to_seq else root / "annotations" / set_name
    vdir.mkdir(parents=True, exist_ok=True)
    write_vbb(vdir / f"{video}.vbb", n_frames, list(labels), objects or {})
    return images


# ------------------------------------------------------------------------------------------------ .seq


def test_header_fields(tmp_path):
    p = tmp_path / "V000.seq"
    write_seq(p, [frame_pixels(i) for i in range(3)], fps=29.97)
    h = read_seq_header(p)
    assert (h.width, h.height, h.bit_depth, h.bit_depth_real) == (16, 8, 24, 8)
    assert (h.image_size_bytes, h.image_format, h.frame_count, h.true_image_size) == (384, 201, 3, 0)
    assert h.fps == 29.97
    assert h.version == 3
    assert h.description == "accelsim test"


@pytest.mark.parametrize("pad", [False, True])
def test_jpeg_frames_decode_and_offsets(tmp_path, pad):
    p = tmp_path / "V000.seq"
    images = [frame_pixels(i) for i in range(5)]
    enc = write_seq(p, images, pad=pad)
    r = SeqReader(p)
    assert len(r) == 5
    extra = 16 if pad else 8
    expected, pos = [], 1024
    for data in enc:
        expected.append(pos)
        pos += 4 + len(data) + extra
    assert r.offsets() == tuple(expected)
    for i in (4, 0, 2):  # random order
        assert r.read_bytes(i) == enc[i]
        img = r.read_frame(i)
        assert img.shape == (8, 16, 3) and img.dtype == np.uint8
        assert np.abs(img.astype(int) - images[i].astype(int)).max() <= 6


def test_grey_jpeg_is_replicated_to_rgb(tmp_path):
    p = tmp_path / "V000.seq"
    grey = np.tile(np.arange(0, 160, 10, dtype=np.uint8), (8, 1))
    data = encode(grey)
    out = bytearray(seq_header(16, 8, 102, 1, bit_depth=8))
    out += struct.pack("<I", len(data) + 4) + data + bytes(8)
    p.write_bytes(bytes(out))
    img = SeqReader(p).read_frame(0)
    assert img.shape == (8, 16, 3)
    assert np.array_equal(img[:, :, 0], img[:, :, 2])
    assert np.abs(img[:, :, 1].astype(int) - grey.astype(int)).max() <= 6


def test_png_frames(tmp_path):
    p = tmp_path / "V000.seq"
    images = [frame_pixels(i) for i in range(2)]
    write_seq(p, images, image_format=2, encoded=[encode(im, "PNG") for im in images])
    r = SeqReader(p)
    assert np.array_equal(r.read_frame(1), images[1])


def test_raw_bgr_frames_exact(tmp_path):
    p = tmp_path / "V000.seq"
    images = [frame_pixels(i) for i in range(3)]
    stride = 16 * 8 * 3 + 6 + 512 - (16 * 8 * 3 + 6) % 512  # the toolbox's raw stride: 512
    out = bytearray(seq_header(16, 8, 200, 3, true_size=stride))
    for img in images:
        frame = img[:, :, ::-1].tobytes()  # stored as BGR, row-major
        out += frame + bytes(stride - len(frame))
    p.write_bytes(bytes(out))
    r = SeqReader(p)
    assert stride == 512
    assert r.offsets() == (1024, 1024 + 512, 1024 + 1024)
    for i in range(3):
        assert np.array_equal(r.read_frame(i), images[i])


def test_raw_grey_frames_exact(tmp_path):
    p = tmp_path / "V000.seq"
    grey = np.arange(128, dtype=np.uint8).reshape(8, 16)
    out = bytearray(seq_header(16, 8, 100, 1, bit_depth=8, true_size=200))
    out += grey.tobytes() + bytes(72)
    p.write_bytes(bytes(out))
    img = SeqReader(p).read_frame(0)
    assert np.array_equal(img, np.repeat(grey[:, :, None], 3, axis=2))


def test_bad_magic(tmp_path):
    p = tmp_path / "V000.seq"
    p.write_bytes(b"\x00\x00\x00\x01" + bytes(2000))
    with pytest.raises(DatasetError) as e:
        read_seq_header(p)
    assert str(e.value) == f"{p} is not a Norpix .seq file: magic 0x1000000 at byte 0, expected 0xFEED"


def test_truncated_header(tmp_path):
    p = tmp_path / "V000.seq"
    p.write_bytes(seq_header(16, 8, 201, 1)[:600])
    with pytest.raises(DatasetError, match="header truncated at 600 bytes, expected 1024") as e:
        read_seq_header(p)
    assert str(p) in str(e.value)


def test_unsupported_format(tmp_path):
    p = tmp_path / "V000.seq"
    p.write_bytes(seq_header(16, 8, 101, 1))
    with pytest.raises(DatasetError, match=r"image format 101 \(Bayer-pattern raw\).*not supported") as e:
        read_seq_header(p)
    assert str(p) in str(e.value)


def test_missing_seq(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_seq_header(tmp_path / "nope.seq")


def test_truncated_frame(tmp_path):
    p = tmp_path / "V000.seq"
    enc = write_seq(p, [frame_pixels(i) for i in range(3)])
    full = p.read_bytes()
    p.write_bytes(full[: len(full) - 8 - len(enc[2]) // 2])  # cut inside the last image
    r = SeqReader(p)
    assert len(r) == 3  # from the header, no walk yet
    with pytest.raises(DatasetError) as e:
        r.read_frame(0)
    offset = 1024 + 2 * 4 + len(enc[0]) + len(enc[1]) + 16
    assert str(e.value) == (
        f"{p}: frame 2 at byte {offset} claims {len(enc[2]) + 4} bytes, running past the end of the file "
        f"({len(full) - 8 - len(enc[2]) // 2} bytes); the file is truncated"
    )


def test_header_claims_more_frames_than_stored(tmp_path):
    p = tmp_path / "V000.seq"
    write_seq(p, [frame_pixels(i) for i in range(2)], frame_count=4)
    with pytest.raises(DatasetError, match=r"file ends at byte \d+ before frame 2; the header says 4 frames") as e:
        SeqReader(p).offsets()
    assert str(p) in str(e.value)


def test_unknown_frame_count_walks_to_end(tmp_path):
    p = tmp_path / "V000.seq"
    write_seq(p, [frame_pixels(i) for i in range(3)], frame_count=0, pad=True)
    assert len(SeqReader(p)) == 3


def test_corrupt_jpeg(tmp_path):
    p = tmp_path / "V000.seq"
    good = encode(frame_pixels(0))
    bad = good[:2] + bytes(len(good) - 2)  # JPEG start marker, then zeros
    write_seq(p, [frame_pixels(0), frame_pixels(1)], encoded=[good, bad])
    r = SeqReader(p)
    r.read_frame(0)
    with pytest.raises(DatasetError, match=r"frame 1 \(byte \d+\) is a corrupt image") as e:
        r.read_frame(1)
    assert str(p) in str(e.value)


def test_frame_without_jpeg_marker(tmp_path):
    p = tmp_path / "V000.seq"
    write_seq(p, [frame_pixels(0)], encoded=[b"garbage-bytes"])
    with pytest.raises(DatasetError, match=r"frame 0 \(byte 1024\) does not start with a JPEG marker") as e:
        SeqReader(p).read_frame(0)
    assert str(p) in str(e.value)


# ------------------------------------------------------------------------------------------------ .vbb

LABELS5 = ["person", "person?", "people", "ignore", "cyclist"]


def test_read_vbb_objects_exact(tmp_path):
    p = tmp_path / "V000.vbb"
    objects = {
        1: [
            (1, [10, 20, 30, 60], 0, [0, 0, 0, 0]),  # not occluded
            (2, [100.5, 50, 20, 40], 1, [100.5, 50, 20, 10]),  # occluded, a quarter visible
            (3, [200, 10, 80, 50], 1, [0, 0, 0, 0]),  # occluded without visible box -> 1
        ],
        2: [
            (1, [12, 20, 30, 60], 1, [12, 20, 30, 60]),  # posv == pos -> 0 (Caltech convention)
            (4, [300, 100, 50, 50], 0, [0, 0, 0, 0]),
            (5, [0, 0, 10, 20], 1, [0, 0, 10, 30]),  # posv larger than pos -> clipped to 1
        ],
    }
    write_vbb(p, 4, LABELS5, objects)
    frames = read_vbb(p)
    assert len(frames) == 4
    assert frames[0] == () and frames[3] == ()
    # occluded: the object is flagged and has a visible box (dbEval's visibility ratio is then finite;
    # without one it is infinite, as for an unoccluded object)
    assert frames[1] == (
        Annotation((10.0, 20.0, 30.0, 60.0), "person", 1.0, occluded=False),
        Annotation((100.5, 50.0, 20.0, 40.0), "person?", 0.25, occluded=True),
        Annotation((200.0, 10.0, 80.0, 50.0), "people", 1.0, occluded=False),
    )
    assert frames[2] == (
        Annotation((12.0, 20.0, 30.0, 60.0), "person", 0.0, occluded=True),
        Annotation((300.0, 100.0, 50.0, 50.0), "ignore", 1.0, occluded=False),
        Annotation((0.0, 0.0, 10.0, 20.0), "ignore", 1.0, occluded=True),  # unknown label 'cyclist' -> ignore
    )
    assert [a.visibility_ratio for a in frames[1]] == [float("inf"), 0.25, float("inf")]


def test_visible_fraction_rule():
    assert visible_fraction((0, 0, 10, 20), (0, 0, 5, 20), 1) == 0.5
    assert visible_fraction((0, 0, 10, 20), (0, 0, 5, 20), 0) == 1.0
    assert visible_fraction((0, 0, 10, 20), (0, 0, 0, 0), 1) == 1.0
    assert visible_fraction((0, 0, 10, 20), (0, 0, 10, 20), 1) == 0.0
    assert visible_fraction((0, 0, 10, 20), (2, 4, 8, 5), 1) == 0.2


def test_vbb_without_struct_a(tmp_path):
    p = tmp_path / "V000.vbb"
    write_vbb(p, 2, ["person"], {}, omit_a=True)
    with pytest.raises(DatasetError) as e:
        VbbFile(p)
    assert str(e.value) == f"{p}: no struct A (the vbb annotation struct); variables found: B, vers"


def test_vbb_not_matlab(tmp_path):
    p = tmp_path / "V000.vbb"
    p.write_bytes(b"this is not a MATLAB file at all" * 10)
    with pytest.raises(DatasetError, match="is not a readable .vbb") as e:
        VbbFile(p)
    assert str(p) in str(e.value)


def test_vbb_bad_object_id(tmp_path):
    p = tmp_path / "V000.vbb"
    write_vbb(p, 1, ["person"], {0: [(3, [0, 0, 10, 20], 0, [0, 0, 0, 0])]})
    with pytest.raises(DatasetError, match=r"frame 0 object 0: id 3.0 is not a 1-based index into A.objLbl \(1..1\)"):
        read_vbb(p)


# ------------------------------------------------------------------------------------------------ dataset


def test_dataset_split_sampling_and_annotations(tmp_path):
    objs = {4: [(1, [1, 2, 3, 6], 0, [0, 0, 0, 0])], 7: [(2, [5, 1, 4, 8], 1, [5, 1, 4, 2])]}
    make_video(tmp_path, "set00", "V000", 9)  # train: not used by the test split
    make_video(tmp_path, "set06", "V000", 9, objs, labels=("person", "people"))
    make_video(tmp_path, "set06", "V001", 5, pad=True)
    make_video(tmp_path, "set10", "V000", 3, vbb_next_to_seq=True)
    (tmp_path / "set06" / "notes.txt").write_text("not a video")

    ds = CaltechDataset(tmp_path, split="test", every=3, first=1)
    assert ds.name == f"caltech:{tmp_path} (test)"
    assert [f.frame_id for f in ds] == [
        "set06/V000/1", "set06/V000/4", "set06/V000/7", "set06/V001/1", "set06/V001/4", "set10/V000/1",
    ]
    assert len(ds) == 6
    assert ds[0].objects == ()
    assert ds[1].objects == (Annotation((1.0, 2.0, 3.0, 6.0), "person", 1.0, occluded=False),)
    assert ds[2].objects == (Annotation((5.0, 1.0, 4.0, 8.0), "people", 0.25, occluded=True),)
    assert (ds[4].width, ds[4].height) == (16, 8)
    img = ds[4].image()
    assert img.shape == (8, 16, 3)
    assert np.abs(img.astype(int) - frame_pixels(4).astype(int)).max() <= 6

    train = CaltechDataset(tmp_path, split="train", every=4, first=0)
    assert [f.frame_id for f in train] == ["set00/V000/0", "set00/V000/4", "set00/V000/8"]
    assert train.name == f"caltech:{tmp_path} (train)"


def test_dataset_default_sampling_29_59(tmp_path):
    make_video(tmp_path, "set07", "V003", 60, {59: [(1, [4, 0, 6, 8], 0, [0, 0, 0, 0])]})
    ds = CaltechDataset(tmp_path)
    assert [f.frame_id for f in ds] == ["set07/V003/29", "set07/V003/59"]
    assert ds[1].objects == (Annotation((4.0, 0.0, 6.0, 8.0), "person", 1.0, occluded=False),)
    for f, i in zip(ds, (29, 59)):
        assert np.abs(f.image().astype(int) - frame_pixels(i).astype(int)).max() <= 6


def test_dataset_frames_pickle(tmp_path):
    make_video(tmp_path, "set06", "V000", 4)
    ds = CaltechDataset(tmp_path, every=2, first=1)
    frame = pickle.loads(pickle.dumps(ds[1]))
    assert frame.frame_id == "set06/V000/3"
    assert np.array_equal(frame.image(), ds[1].image())


def test_missing_annotation_file(tmp_path):
    make_video(tmp_path, "set06", "V000", 3)
    (tmp_path / "set06" / "V001.seq").write_bytes((tmp_path / "set06" / "V000.seq").read_bytes())
    with pytest.raises(DatasetError) as e:
        CaltechDataset(tmp_path)
    assert str(e.value) == (
        f"no annotation file for set06/V001.seq: looked for {tmp_path}/annotations/set06/V001.vbb "
        f"and {tmp_path}/set06/V001.vbb"
    )


def test_nframe_disagrees_with_seq(tmp_path):
    make_video(tmp_path, "set06", "V000", 3)
    vbb = tmp_path / "annotations" / "set06" / "V000.vbb"
    write_vbb(vbb, 4, ["person"], {})
    with pytest.raises(DatasetError) as e:
        CaltechDataset(tmp_path)
    assert str(e.value) == (
        f"{vbb}: A.nFrame is 4 but {tmp_path}/set06/V000.seq has 3 frames; expected the annotations of that video"
    )


def test_no_sets_for_split(tmp_path):
    make_video(tmp_path, "set02", "V000", 3)
    with pytest.raises(DatasetError, match="has no sets of the test split: expected folders set06..set10") as e:
        CaltechDataset(tmp_path, split="test")
    assert str(tmp_path) in str(e.value)


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError) as e:
        CaltechDataset(tmp_path / "caltech")
    assert str(e.value) == (
        f"Caltech root {tmp_path / 'caltech'} does not exist; expected a folder holding setNN/VNNN.seq"
    )


def test_truncated_frame_in_dataset_named_on_load(tmp_path):
    make_video(tmp_path, "set06", "V000", 4)
    seq = tmp_path / "set06" / "V000.seq"
    seq.write_bytes(seq.read_bytes()[:-30])
    ds = CaltechDataset(tmp_path, every=2, first=0)
    with pytest.raises(DatasetError, match=r"frame 3 at byte \d+ claims \d+ bytes, running past the end") as e:
        ds[0].image()
    assert str(seq) in str(e.value)


def test_bad_split_name(tmp_path):
    with pytest.raises(DatasetError, match="Caltech split 'val' is unknown; expected one of train, test"):
        CaltechDataset(tmp_path, split="val")
