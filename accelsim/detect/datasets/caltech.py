"""Caltech Pedestrian, read from its own files: Norpix ``.seq`` videos and MATLAB ``.vbb`` annotations.

Layout of a ``.seq`` file (Norpix StreamPix, little-endian, as the Caltech videos are written):

- a 1024-byte header: uint32 magic ``0xFEED`` at byte 0, the name "Norpix seq" in UTF-16 at byte 4,
  int32 version at 28, uint32 header size (1024) at 32, a 512-byte UTF-16 description at 36, nine
  uint32 at 548 (width, height, bit depth, real bit depth, image size in bytes, image format, frame
  count, 0, true image size) and the frame rate as float64 at 584;
- compressed frames (image format 102/201 JPEG, 1/2 PNG) from byte 1024, each stored as a uint32
  length that counts its own 4 bytes, the encoded image, an 8-byte timestamp (uint32 seconds, uint16
  milliseconds, uint16 microseconds) and, in files written by some tools, 8 bytes of zero padding.
  A frame's length is never 0, so a zero word where the next frame should start is that padding;
  the offsets of all frames are found by one walk over the length words and then cached;
- raw frames (image format 100 grey, 200 BGR) at byte ``1024 + i * true_image_size``.

A ``.vbb`` file is a MATLAB file holding struct ``A``: ``nFrame``; ``objLists``, one struct array per
frame with ``id`` (1-based index into ``objLbl``), ``pos`` and ``posv`` as ``[left top width height]``,
``occl`` and ``lock``; ``objLbl``, the label of each object id; ``objStr``/``objEnd`` (1-based first and
last frame of each object) and more; and a ``vers`` variable next to ``A``.
"""

from __future__ import annotations

import functools
import io
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.detect.types import LABELS, Annotation, Frame
from accelsim.errors import DatasetError

SEQ_MAGIC = 0xFEED
HEADER_BYTES = 1024
_INFO_OFFSET = 548  # nine uint32
_FPS_OFFSET = 584  # float64
_TIMESTAMP_BYTES = 8
_PAD_BYTES = 8

# Norpix image formats: code -> (kind, description)
_FORMATS = {
    100: ("raw", "grey raw"),
    200: ("raw", "BGR raw"),
    102: ("jpeg", "grey JPEG"),
    201: ("jpeg", "colour JPEG"),
    1: ("png", "grey PNG"),
    2: ("png", "colour PNG"),
}
_UNSUPPORTED = {101: "Bayer-pattern raw", 103: "Bayer-pattern JPEG"}
_SUPPORTED_TEXT = "100/200 (raw), 102/201 (JPEG) or 1/2 (PNG)"

# Standard Caltech split: train = set00-set05, test = set06-set10.
SPLITS = {"train": range(0, 6), "test": range(6, 11)}


@dataclass(frozen=True)
class SeqHeader:
    """The fields of a Norpix ``.seq`` header."""

    width: int  # px
    height: int  # px
    bit_depth: int  # bits per pixel (8 grey, 24 colour)
    bit_depth_real: int  # bits per channel actually used
    image_size_bytes: int  # bytes of one raw image
    image_format: int  # Norpix code: 100/200 raw, 102/201 JPEG, 1/2 PNG
    frame_count: int  # allocated frames
    true_image_size: int  # bytes from one raw frame to the next (image + timestamp + padding)
    fps: float
    version: int
    description: str


def read_seq_header(path: str | os.PathLike) -> SeqHeader:
    """Parse and check the 1024-byte header of a Norpix ``.seq`` file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(HEADER_BYTES)
    except FileNotFoundError:
        raise DatasetError(f"{path}: .seq file does not exist") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read .seq file ({exc.strerror or exc})") from None
    if len(raw) >= 4:
        (magic,) = struct.unpack_from("<I", raw, 0)
        if magic != SEQ_MAGIC:
            raise DatasetError(
                f"{path} is not a Norpix .seq file: magic 0x{magic:X} at byte 0, expected 0xFEED"
            )
    if len(raw) < HEADER_BYTES:
        raise DatasetError(
            f"{path} is not a Norpix .seq file: header truncated at {len(raw)} bytes, expected {HEADER_BYTES}"
        )
    version, header_size = struct.unpack_from("<iI", raw, 28)
    if header_size != HEADER_BYTES:
        raise DatasetError(
            f"{path}: header size field (byte 32) is {header_size}, expected {HEADER_BYTES} "
            "(only the Norpix .seq layout of the Caltech videos is supported)"
        )
    description = raw[36:548].decode("utf-16-le", errors="replace").split("\x00", 1)[0]
    info = struct.unpack_from("<9I", raw, _INFO_OFFSET)
    (fps,) = struct.unpack_from("<d", raw, _FPS_OFFSET)
    header = SeqHeader(
        width=info[0],
        height=info[1],
        bit_depth=info[2],
        bit_depth_real=info[3],
        image_size_bytes=info[4],
        image_format=info[5],
        frame_count=info[6],
        true_image_size=info[8],
        fps=fps,
        version=version,
        description=description,
    )
    _check_header(path, header)
    return header


def _check_header(path: Path, h: SeqHeader) -> None:
    fmt = h.image_format
    if fmt not in _FORMATS:
        what = f" ({_UNSUPPORTED[fmt]})" if fmt in _UNSUPPORTED else ""
        raise DatasetError(
            f"{path}: image format {fmt}{what} (header byte 568) is not supported; expected {_SUPPORTED_TEXT}"
        )
    if h.width == 0 or h.height == 0:
        raise DatasetError(f"{path}: header gives an image size of {h.width}x{h.height} px; expected both > 0")
    if _FORMATS[fmt][0] == "raw":
        channels = 1 if fmt == 100 else 3
        if h.bit_depth_real != 8 or h.bit_depth != 8 * channels:
            raise DatasetError(
                f"{path}: raw image format {fmt} with bit depth {h.bit_depth} (real {h.bit_depth_real}) "
                f"is not supported; expected bit depth {8 * channels} with 8 real bits"
            )
        need = h.width * h.height * channels
        if h.image_size_bytes != need:
            raise DatasetError(
                f"{path}: header image size is {h.image_size_bytes} bytes, expected {need} "
                f"for {h.width}x{h.height} px at {h.bit_depth} bits"
            )
        if h.true_image_size < h.image_size_bytes:
            raise DatasetError(
                f"{path}: header true image size (frame stride) is {h.true_image_size} bytes, "
                f"expected at least the image size {h.image_size_bytes}"
            )
        if h.frame_count == 0:
            raise DatasetError(f"{path}: header frame count is 0; a raw .seq file needs its frame count")


class SeqReader:
    """Random access to the frames of one ``.seq`` file.

    Holds no open file (each read opens and closes it), so a reader can be pickled and shared by the
    lazy ``Frame.load`` closures of a dataset. Frame offsets of compressed formats are found on the
    first read and cached.
    """

    def __init__(self, path: str | os.PathLike, header: SeqHeader | None = None):
        self.path = Path(path)
        self.header = header if header is not None else read_seq_header(self.path)
        self._kind = _FORMATS[self.header.image_format][0]
        self._offsets: tuple[int, ...] | None = None

    def __len__(self) -> int:
        if self._kind == "raw" or self.header.frame_count == 0:
            return len(self.offsets())
        return self.header.frame_count

    def offsets(self) -> tuple[int, ...]:
        """Byte offset of each frame (of its length word, for compressed formats)."""
        if self._offsets is None:
            if self._kind == "raw":
                self._offsets = self._raw_offsets()
            else:
                self._offsets = self._walk_offsets()
        return self._offsets

    def _raw_offsets(self) -> tuple[int, ...]:
        h = self.header
        size = self.path.stat().st_size
        offsets = tuple(HEADER_BYTES + i * h.true_image_size for i in range(h.frame_count))
        for i, off in enumerate(offsets):
            if off + h.image_size_bytes > size:
                raise DatasetError(
                    f"{self.path}: frame {i} of {h.frame_count} (bytes {off}-{off + h.image_size_bytes}) runs "
                    f"past the end of the file ({size} bytes); the file is truncated"
                )
        return offsets

    def _walk_offsets(self) -> tuple[int, ...]:
        expected = self.header.frame_count  # 0: unknown, walk to the end of the file
        offsets: list[int] = []
        try:
            f = open(self.path, "rb", buffering=0)
        except OSError as exc:
            raise DatasetError(f"{self.path}: cannot read .seq file ({exc.strerror or exc})") from None
        with f:
            size = os.fstat(f.fileno()).st_size
            pos = HEADER_BYTES

            def word(at: int) -> int | None:
                if at + 4 > size:
                    return None
                f.seek(at)
                return struct.unpack("<I", f.read(4))[0]

            while expected == 0 or len(offsets) < expected:
                i = len(offsets)
                length = word(pos)
                if length is None or (expected == 0 and length == 0):
                    if expected == 0:
                        break
                    raise DatasetError(
                        f"{self.path}: file ends at byte {size} before frame {i}; the header says "
                        f"{expected} frames, so the file is truncated"
                    )
                if length <= 4:
                    raise DatasetError(
                        f"{self.path}: frame {i} at byte {pos} has length {length}; expected a length word "
                        "counting itself plus the image bytes (the file is corrupt)"
                    )
                if pos + length > size:
                    raise DatasetError(
                        f"{self.path}: frame {i} at byte {pos} claims {length} bytes, running past the end of "
                        f"the file ({size} bytes); the file is truncated"
                    )
                offsets.append(pos)
                nxt = pos + length + _TIMESTAMP_BYTES
                if word(nxt) == 0:  # zero padding after the timestamp
                    nxt += _PAD_BYTES
                pos = nxt
        return tuple(offsets)

    def read_bytes(self, index: int) -> bytes:
        """The stored bytes of frame ``index`` (encoded image, or raw pixels)."""
        offsets = self.offsets()
        if not 0 <= index < len(offsets):
            raise IndexError(f"{self.path}: frame {index} out of range 0..{len(offsets) - 1}")
        off = offsets[index]
        with open(self.path, "rb") as f:
            f.seek(off)
            if self._kind == "raw":
                data = f.read(self.header.image_size_bytes)
            else:
                (length,) = struct.unpack("<I", f.read(4))
                data = f.read(length - 4)
        return data

    def read_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as RGB uint8 pixels, shape (height, width, 3)."""
        h = self.header
        data = self.read_bytes(index)
        if self._kind == "raw":
            if h.image_format == 100:
                grey = np.frombuffer(data, dtype=np.uint8).reshape(h.height, h.width)
                return np.repeat(grey[:, :, None], 3, axis=2)
            bgr = np.frombuffer(data, dtype=np.uint8).reshape(h.height, h.width, 3)
            return np.ascontiguousarray(bgr[:, :, ::-1])
        where = f"{self.path}: frame {index} (byte {self.offsets()[index]})"
        if self._kind == "jpeg" and not data.startswith(b"\xff\xd8"):
            raise DatasetError(f"{where} does not start with a JPEG marker (found {data[:2].hex()}, expected ffd8)")
        if self._kind == "png" and not data.startswith(b"\x89PNG"):
            raise DatasetError(f"{where} does not start with a PNG signature (found {data[:4].hex()})")
        rgb = decode_image(data, where)
        if rgb.shape[:2] != (h.height, h.width):
            raise DatasetError(
                f"{where} is {rgb.shape[1]}x{rgb.shape[0]} px; the header says {h.width}x{h.height}"
            )
        return rgb


def decode_image(data: bytes, where: str) -> np.ndarray:
    """Decode an encoded image (JPEG, PNG) into RGB uint8; a corrupt image is a DatasetError."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            rgb = img.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:  # PIL: UnidentifiedImageError, truncated, bad data
        raise DatasetError(f"{where} is a corrupt image: {exc}") from None
    return np.asarray(rgb, dtype=np.uint8)


# --------------------------------------------------------------------------------------------------------
# .vbb annotations


class VbbFile:
    """The annotations of one video: ``n_frames`` and per-frame ``objects(frame)``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        a = _load_struct_a(self.path)
        self.n_frames = _scalar_int(self.path, a, "nFrame")
        obj_lists = _field(self.path, a, "objLists")
        cells = np.asarray(obj_lists, dtype=object).ravel()
        if cells.size != self.n_frames:
            raise DatasetError(
                f"{self.path}: A.objLists has {cells.size} entries, expected one per frame (A.nFrame = {self.n_frames})"
            )
        self._cells = cells
        self.labels = tuple(_label_text(x) for x in np.asarray(_field(self.path, a, "objLbl"), dtype=object).ravel())
        self._cache: dict[int, tuple[Annotation, ...]] = {}

    def objects(self, frame: int) -> tuple[Annotation, ...]:
        """The annotations of ``frame`` (0-based)."""
        if not 0 <= frame < self.n_frames:
            raise IndexError(f"{self.path}: frame {frame} out of range 0..{self.n_frames - 1}")
        if frame not in self._cache:
            self._cache[frame] = self._parse_frame(frame)
        return self._cache[frame]

    def _parse_frame(self, frame: int) -> tuple[Annotation, ...]:
        cell = self._cells[frame]
        if not isinstance(cell, np.ndarray) or cell.size == 0:
            return ()
        names = cell.dtype.names
        where = f"{self.path}: A.objLists frame {frame}"
        if names is None:
            raise DatasetError(f"{where} is not a struct array; expected fields id, pos, posv, occl, lock")
        for need in ("id", "pos", "posv", "occl"):
            if need not in names:
                raise DatasetError(f"{where} has no field '{need}'; expected fields id, pos, posv, occl, lock")
        out = []
        for j, obj in enumerate(cell.ravel()):
            at = f"{where} object {j}"
            oid = _number(at, "id", obj["id"])
            if oid != int(oid) or not 1 <= oid <= len(self.labels):
                raise DatasetError(f"{at}: id {oid} is not a 1-based index into A.objLbl (1..{len(self.labels)})")
            pos = _box(at, "pos", obj["pos"])
            posv = _box(at, "posv", obj["posv"], allow_empty=True)
            occl = _number(at, "occl", obj["occl"])
            if pos[2] <= 0 or pos[3] <= 0:
                raise DatasetError(f"{at}: pos {list(pos)} has a non-positive width or height")
            label = self.labels[int(oid) - 1]
            out.append(Annotation(box=pos, label=label if label in LABELS else "ignore",
                                  visible=visible_fraction(pos, posv, occl),
                                  occluded=bool(occl) and posv is not None and any(v != 0 for v in posv)))
        return tuple(out)


def visible_fraction(pos, posv, occl) -> float:
    """Fraction of ``pos`` that is visible, as the Caltech evaluation code (bbGt bbLoad) computes it:
    1 when not occluded or when ``posv`` is all zero; 0 when ``posv`` equals ``pos`` (the annotator
    marked the object occluded without a visible part); else area(posv) / area(pos), clipped to [0, 1]."""
    if not occl or posv is None or all(v == 0 for v in posv):
        return 1.0
    if tuple(posv) == tuple(pos):
        return 0.0
    area = pos[2] * pos[3]
    vis = max(posv[2], 0.0) * max(posv[3], 0.0) / area
    return float(min(max(vis, 0.0), 1.0))


def read_vbb(path: str | os.PathLike) -> list[tuple[Annotation, ...]]:
    """The annotations of every frame (index 0 = the video's first frame) of a ``.vbb`` file."""
    vbb = VbbFile(path)
    return [vbb.objects(i) for i in range(vbb.n_frames)]


def _load_struct_a(path: Path):
    from scipy.io import loadmat

    if not path.is_file():
        raise DatasetError(f"{path}: .vbb annotation file does not exist")
    try:
        mat = loadmat(str(path), squeeze_me=False, struct_as_record=True)
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5)
        raise DatasetError(f"{path} is not a readable .vbb file: {exc}") from None
    except Exception as exc:  # scipy raises ValueError, MatReadError, TypeError, ... on non-MATLAB data
        raise DatasetError(f"{path} is not a readable .vbb (MATLAB) file: {exc}") from None
    if "A" not in mat:
        found = ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "none"
        raise DatasetError(f"{path}: no struct A (the vbb annotation struct); variables found: {found}")
    a = mat["A"]
    if not isinstance(a, np.ndarray) or a.dtype.names is None or a.size != 1:
        raise DatasetError(f"{path}: A is not a 1x1 struct; expected the vbb annotation struct")
    return a.ravel()[0]


def _field(path: Path, a, name: str):
    if name not in a.dtype.names:
        raise DatasetError(f"{path}: struct A has no field '{name}' (fields: {', '.join(a.dtype.names)})")
    return a[name]


def _scalar_int(path: Path, a, name: str) -> int:
    value = np.asarray(_field(path, a, name)).ravel()
    if value.size != 1 or not np.issubdtype(value.dtype, np.number) or value[0] != int(value[0]) or value[0] < 0:
        raise DatasetError(f"{path}: A.{name} is {value.tolist()}; expected one non-negative integer")
    return int(value[0])


def _label_text(x) -> str:
    arr = np.asarray(x).ravel()
    if arr.size == 0:
        return ""
    return str(arr[0]) if arr.dtype.kind in "UO" else str(arr)


def _number(at: str, name: str, value) -> float:
    arr = np.asarray(value).ravel()
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        raise DatasetError(f"{at}: {name} is {arr.tolist()}; expected one number")
    return float(arr[0])


def _box(at: str, name: str, value, allow_empty: bool = False):
    arr = np.asarray(value).ravel()
    if allow_empty and arr.size == 0:
        return None
    if arr.size != 4 or not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise DatasetError(f"{at}: {name} is {arr.tolist()}; expected [left top width height]")
    return tuple(float(v) for v in arr)


# --------------------------------------------------------------------------------------------------------
# the dataset

_SET_RE = re.compile(r"^set(\d\d)$")
_VIDEO_RE = re.compile(r"^V(\d\d\d)\.seq$")


def _find_vbb(root: Path, set_name: str, video: str) -> Path:
    candidates = [root / "annotations" / set_name / f"{video}.vbb", root / set_name / f"{video}.vbb"]
    for c in candidates:
        if c.is_file():
            return c
    raise DatasetError(
        f"no annotation file for {set_name}/{video}.seq: looked for {candidates[0]} and {candidates[1]}"
    )


class CaltechDataset:
    """Caltech Pedestrian frames read from ``root/setNN/VNNN.seq`` with annotations from
    ``root/annotations/setNN/VNNN.vbb`` (or ``root/setNN/VNNN.vbb``).

    ``split``: "train" (set00-set05) or "test" (set06-set10); only the sets present under ``root`` are
    used. Frames ``first, first + every, ...`` of each video are taken (the standard protocol: every
    30th frame from frame 29, 0-based). Annotations are read when the dataset is built; pixels when a
    frame's ``image()`` is called.
    """

    def __init__(self, root: str | os.PathLike, split: str = "test", every: int = 30, first: int = 29):
        root_path = Path(root)
        if split not in SPLITS:
            raise DatasetError(f"Caltech split '{split}' is unknown; expected one of {', '.join(SPLITS)}")
        if not isinstance(every, int) or every < 1 or not isinstance(first, int) or first < 0:
            raise DatasetError(f"Caltech sampling every={every}, first={first}; expected every >= 1 and first >= 0")
        if not root_path.is_dir():
            what = "is not a folder" if root_path.exists() else "does not exist"
            raise DatasetError(f"Caltech root {root_path} {what}; expected a folder holding setNN/VNNN.seq")
        self.root = root_path
        self.split = split
        self.every = every
        self.first = first
        self.name = f"caltech:{root} ({split})"

        sets = sorted(
            p.name for p in root_path.iterdir()
            if p.is_dir() and (m := _SET_RE.match(p.name)) and int(m.group(1)) in SPLITS[split]
        )
        if not sets:
            r = SPLITS[split]
            raise DatasetError(
                f"Caltech root {root_path} has no sets of the {split} split: expected folders "
                f"set{r.start:02d}..set{r.stop - 1:02d} holding VNNN.seq, with annotations in "
                f"{root_path / 'annotations'}/setNN/VNNN.vbb"
            )
        self.readers: dict[str, SeqReader] = {}
        frames: list[Frame] = []
        for set_name in sets:
            videos = sorted(p.name for p in (root_path / set_name).iterdir() if _VIDEO_RE.match(p.name))
            if not videos:
                raise DatasetError(f"Caltech set folder {root_path / set_name} holds no VNNN.seq files")
            for seq_name in videos:
                video = seq_name[:-4]
                seq_path = root_path / set_name / seq_name
                header = read_seq_header(seq_path)
                vbb_path = _find_vbb(root_path, set_name, video)
                vbb = VbbFile(vbb_path)
                reader = SeqReader(seq_path, header)
                n = len(reader)
                if vbb.n_frames != n:
                    raise DatasetError(
                        f"{vbb_path}: A.nFrame is {vbb.n_frames} but {seq_path} has {n} frames; "
                        "expected the annotations of that video"
                    )
                key = f"{set_name}/{video}"
                self.readers[key] = reader
                for index in range(first, n, every):
                    frames.append(Frame(
                        frame_id=f"{key}/{index}",
                        width=header.width,
                        height=header.height,
                        objects=vbb.objects(index),
                        load=functools.partial(reader.read_frame, index),
                        sources=(seq_path, vbb_path),
                    ))
        self._frames = frames

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: int) -> Frame:
        return self._frames[index]

    def __repr__(self) -> str:
        return f"CaltechDataset({self.name!r}, {len(self)} frames)"
