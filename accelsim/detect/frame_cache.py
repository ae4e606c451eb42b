"""What the detector needs of a frame before its classifier runs, computed once per frame: its pixels
and its proposals.

Neither depends on the compression variant or the number formats, so every variant evaluated on the
same frames (`accelsim tradeoff`, a sweep, each in a process of its own) shares them through the
project's cache, keyed by content:

- ``proposals``: one entry per (proposal model, frame), a few KiB (at most ``max_proposals`` rows).
  The key holds the proposal model's content (`proposal_model_key`), the frame's content identity
  (below) and the source of the code that proposes. Entries are per frame, not per evaluation, so an
  evaluation of 200 frames reuses the 100 of an earlier one; a hit costs about a tenth of a
  millisecond, against 150-250 ms to propose.
- ``pixels``: generated frames only, and only when the caller will evaluate more variants on the same
  frames (``keep_pixels``: `accelsim tradeoff` and sweeps; not a single `run` or `eval`, whose 1,500
  frames would leave 1.3 GiB behind for nothing), 0.9 MiB per 640x480 frame. Rendering a scene takes
  about 20 ms, reading its entry about 1 ms, and without it rendering would be the larger half of a new
  variant's time. Frames read from files are read from them again: their files are on disk already. Crops are
  not cached: at 64 proposals of 67x67 (227x227 for deepped-alexnet) they are 4x (45x) the frame's
  bytes, and cropping takes about 2 ms a frame.

A frame's content identity is what its pixels are a function of: for a generated frame, the
generator's seed entropy and the generator's source; for a frame read from files, the dataset name,
the frame id, the sha256 of each file it comes from and the source of the dataset readers. A frame
with neither (built in memory, as tests and stand-ins do) cannot be vouched for across processes: its
pixels and proposals stay in this process, under its dataset name and frame id.

In this process both are also kept in memory, least recently used first out, within
``PIXEL_MEMORY_BYTES`` and ``PROPOSAL_MEMORY_BYTES``.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from accelsim.cache import Cache, default_cache, file_digest, key_of, source_digest
from accelsim.detect.datasets.synthetic.dataset import _load_pixels
from accelsim.detect.proposals import ProposalModel
from accelsim.detect.types import Frame

PROPOSALS_KIND = "proposals"
PIXELS_KIND = "pixels"
PIXEL_MEMORY_BYTES = 512 * 2**20
PROPOSAL_MEMORY_BYTES = 64 * 2**20
_PROPOSAL_CODE = ("accelsim.detect.proposals", "accelsim.detect.features", "accelsim.detect.boxes")
_GENERATOR_CODE = "accelsim.detect.datasets.synthetic"
_READER_CODE = "accelsim.detect.datasets"


class _NpyCodec:
    """One numpy array as ``.npy`` bytes (dtype and shape included; no pickles)."""

    name = "npy"

    def encode(self, value: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        return np.load(io.BytesIO(data), allow_pickle=False)


class _Memory:
    """Arrays by key, least recently used evicted first once their bytes exceed ``budget_bytes``."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._arrays: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable) -> np.ndarray | None:
        found = self._arrays.get(key)
        if found is not None:
            self._arrays.move_to_end(key)
        return found

    def put(self, key: Hashable, value: np.ndarray) -> None:
        if key in self._arrays:
            self._bytes -= self._arrays.pop(key).nbytes
        self._arrays[key] = value
        self._bytes += value.nbytes
        while self._bytes > self.budget_bytes and len(self._arrays) > 1:
            self._bytes -= self._arrays.popitem(last=False)[1].nbytes

    def clear(self) -> None:
        self._arrays.clear()
        self._bytes = 0


# Shared by every FrameInputs of this process: variants evaluated one after the other (`tradeoff`)
# find the frames of the first.
_PIXELS = _Memory(PIXEL_MEMORY_BYTES)
_PROPOSALS = _Memory(PROPOSAL_MEMORY_BYTES)


def clear_memory() -> None:
    """Forget what this process holds in memory (the disk cache stays), as a fresh process would."""
    _PIXELS.clear()
    _PROPOSALS.clear()


def proposal_model_key(proposals: ProposalModel) -> str:
    """A digest of everything ``proposals.propose`` depends on besides the image and the code."""
    h = hashlib.sha256(np.ascontiguousarray(proposals.weights).tobytes())
    h.update(repr((proposals.bias, proposals.threshold, proposals.max_proposals, proposals.nms_overlap,
                   proposals.geometry, proposals.prefilter)).encode())
    if proposals.rescorer is not None:
        for v in vars(proposals.rescorer).values():
            h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


class FrameInputs:
    """``(pixels, proposals)`` of frames of one dataset for one proposal stage. The proposals are
    None when the stage is not a `ProposalModel` (a stand-in, which the detector runs itself)."""

    def __init__(self, proposals, dataset: str, cache: Cache | None = None, keep_pixels: bool = False):
        self.proposals = proposals
        self.dataset = dataset
        self.cache = cache or default_cache()
        self.keep_pixels = keep_pixels
        self._model_key = proposal_model_key(proposals) if isinstance(proposals, ProposalModel) else None
        self._file_digests: dict = {}  # frames share files (a Caltech video holds hundreds): digest each once

    def __call__(self, frame: Frame) -> tuple[np.ndarray, np.ndarray | None]:
        identity = self._identity(frame)
        pixels = self._pixels(frame, identity)
        if self._model_key is None:
            return pixels, None
        return pixels, self._proposals(pixels, identity)

    def _identity(self, frame: Frame) -> str | tuple[str, str, str]:
        """A key string for a frame whose content is known without loading it; otherwise a tuple
        that only this process can use."""
        if _generated(frame):
            _, entropy = frame.load.args
            return key_of("generated", [int(e) for e in entropy], source_digest(_GENERATOR_CODE))
        if frame.sources:
            digests = [self._digest(source) for source in frame.sources]
            return key_of("files", self.dataset, frame.frame_id, digests, source_digest(_READER_CODE))
        return ("memory", self.dataset, frame.frame_id)

    def _digest(self, source) -> str:
        if source not in self._file_digests:
            self._file_digests[source] = file_digest(source)
        return self._file_digests[source]

    def _pixels(self, frame: Frame, identity) -> np.ndarray:
        found = _PIXELS.get(identity)
        if found is not None:
            return found
        if self.keep_pixels and _generated(frame):
            pixels = self.cache.get_or_compute(PIXELS_KIND, identity, frame.image, _NpyCodec()).value
        else:
            pixels = frame.image()
        _PIXELS.put(identity, pixels)
        return pixels

    def _proposals(self, pixels: np.ndarray, identity) -> np.ndarray:
        memo_key = (self._model_key, identity)
        found = _PROPOSALS.get(memo_key)
        if found is not None:
            return found
        if isinstance(identity, str):
            key = key_of(self._model_key, identity, source_digest(*_PROPOSAL_CODE))
            boxes = self.cache.get_or_compute(PROPOSALS_KIND, key, lambda: self.proposals.propose(pixels),
                                              _NpyCodec()).value
        else:
            boxes = self.proposals.propose(pixels)
        _PROPOSALS.put(memo_key, boxes)
        return boxes


def _generated(frame: Frame) -> bool:
    """Whether the synthetic generator makes the frame's pixels (from the seed entropy it holds)."""
    return isinstance(frame.load, functools.partial) and frame.load.func is _load_pixels
